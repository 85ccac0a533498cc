//! `velvet report`'s page (the numbers are `service::report`'s): one self-contained HTML page for the founders' weekly
//! look — the cohort funnel and the per-day numbers as charts (drawn by
//! plotters into inline SVG) and as a table.

use crate::api::page::escape;
use crate::service::Report;
use plotters::prelude::*;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Registering our own font keeps charts identical on every machine.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// A line of the daily chart: label, colour, the number it plots.
type Series = (&'static str, RGBColor, fn(&crate::service::Day) -> i64);

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("cannot draw the chart: {e}")
}

/// Signups, confirmations, approvals, joins and failures per day.
pub fn daily_chart(r: &Report) -> Result<String, String> {
    font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = r.days.len().max(1) as i32;
        let top = r
            .days
            .iter()
            .map(|d| d.signups.max(d.confirms).max(d.approvals).max(d.joins).max(d.failures))
            .max()
            .unwrap_or(0)
            .max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption("Per day", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(52)
            .build_cartesian_2d(0..n - 1 + i32::from(n == 1), 0..top + top / 10 + 1)
            .map_err(err)?;
        let days: Vec<String> = r.days.iter().map(|d| d.day.format("%b %d").to_string()).collect();
        chart
            .configure_mesh()
            .x_labels(days.len().min(10))
            .x_label_formatter(&|i| days.get(*i as usize).cloned().unwrap_or_default())
            .y_desc("events")
            .draw()
            .map_err(err)?;
        let series: [Series; 5] = [
            ("signups", RGBColor(123, 45, 67), |d| d.signups),
            ("confirmations", RGBColor(214, 140, 40), |d| d.confirms),
            ("approvals", RGBColor(40, 100, 180), |d| d.approvals),
            ("joins", RGBColor(30, 140, 70), |d| d.joins),
            ("bad codes", RGBColor(200, 30, 30), |d| d.failures),
        ];
        for (label, color, get) in series {
            chart
                .draw_series(LineSeries::new(
                    r.days.iter().enumerate().map(|(i, d)| (i as i32, get(d))),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.9)).draw().map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// How far the cohort got, as bars.
pub fn funnel_chart(r: &Report) -> Result<String, String> {
    font();
    let f = &r.funnel;
    let steps = [
        ("signed up", f.signed_up),
        ("confirmed", f.confirmed),
        ("approved", f.approved),
        ("invited", f.invited),
        ("joined", f.joined),
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let top = f.signed_up.max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption("Funnel of this period's signups", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(52)
            .build_cartesian_2d((0..steps.len() as i32 - 1).into_segmented(), 0..top + top / 10 + 1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    steps.get(*i as usize).map(|s| s.0.to_string()).unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .y_desc("people")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(steps.iter().enumerate().map(|(i, (_, n))| {
                let x0 = SegmentValue::Exact(i as i32);
                let x1 = SegmentValue::Exact(i as i32 + 1);
                let mut bar = Rectangle::new([(x0, 0), (x1, *n)], RGBColor(123, 45, 67).mix(0.8).filled());
                bar.set_margin(0, 0, 12, 12);
                bar
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn pct(n: i64, of: i64) -> String {
    if of == 0 { "-".into() } else { format!("{:.0} %", 100.0 * n as f64 / of as f64) }
}

pub fn html(r: &Report) -> Result<String, String> {
    let f = &r.funnel;
    let mut rows = String::new();
    for d in &r.days {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            d.day, d.signups, d.confirms, d.approvals, d.joins, d.failures, d.refused, d.expired_invites
        ));
    }
    let mut weeks = String::new();
    for w in &r.weeks {
        weeks.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            w.starts, w.invites_sent, w.expired_invites
        ));
    }
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>velvet report {from} – {to}</title>\n<style>\n{css}\ntable {{ border-collapse: collapse; }} td, th {{ padding: .2rem .8rem; text-align: right; border-bottom: 1px solid #ddd; }} main {{ max-width: 60rem; }} svg {{ max-width: 100%; height: auto; }}\n</style>\n</head>\n<body>\n<main>\n\
         <h1>The beta, {from} to {to}</h1>\n<p class=\"lead\">{signed} people signed up; {confirmed} confirmed ({cp}), {approved} were approved, {invited} invited and {joined} joined ({jp} of signups).</p>\n\
         {funnel}\n{daily}\n<h2>Per day (UTC)</h2>\n<table>\n<tr><th>day</th><th>signups</th><th>confirmed</th><th>approved</th><th>joined</th><th>bad codes</th><th>rate-limit events</th><th>invites expired unused</th></tr>\n{rows}</table>\n\
         <h2>Per week (UTC, from Monday)</h2>\n<table>\n<tr><th>week of</th><th>invites sent</th><th>invites expired unused</th></tr>\n{weeks}</table>\n\
         <p class=\"muted\">Made by <code>velvet report</code> at {now}.</p>\n</main>\n</body>\n</html>\n",
        from = r.since.format("%Y-%m-%d"),
        to = r.until.format("%Y-%m-%d"),
        css = crate::api::page::STYLE_CSS,
        signed = f.signed_up,
        confirmed = f.confirmed,
        cp = pct(f.confirmed, f.signed_up),
        approved = f.approved,
        invited = f.invited,
        joined = f.joined,
        jp = pct(f.joined, f.signed_up),
        funnel = funnel_chart(r)?,
        daily = daily_chart(r)?,
        now = escape(&crate::domain::timefmt::utc_minute(r.until)),
    ))
}
