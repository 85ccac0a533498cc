//! The Live pane: per-minute sparklines over the last hour, the current
//! minute against the usual, top offenders, the redeem funnel, the cap.

use super::block;
use crate::console::live::Series;
use crate::console::state::State;
use crate::console::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

pub fn draw(f: &mut Frame, area: Rect, s: &State, theme: &Theme, focused: bool) {
    let outer = block(" Live · last hour ".into(), focused, theme);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let rows_per_series = if inner.height >= 30 { 3 } else { 2 };
    let mut constraints: Vec<Constraint> = Series::ALL.iter().map(|_| Constraint::Length(rows_per_series)).collect();
    constraints.push(Constraint::Min(0));
    let areas = Layout::vertical(constraints).split(inner);
    for (i, series) in Series::ALL.iter().enumerate() {
        let a = areas[i];
        let (last, base) = s.live.rate(*series);
        let style =
            if *series == Series::RedeemFailed || *series == Series::Limited { theme.bad() } else { theme.good() };
        let trend = if base < 0.05 && last == 0 {
            String::new()
        } else if last as f64 > base * 2.0 + 1.0 {
            " ▲".into()
        } else {
            String::new()
        };
        let head = Line::from(vec![
            Span::styled(format!("{:<9}", series.label()), theme.important()),
            Span::raw(format!("{last:>5}/min")),
            Span::styled(format!("  usual {base:.1}{trend}"), theme.muted()),
        ]);
        let [label, spark] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(a);
        f.render_widget(Paragraph::new(head), label);
        let data = s.live.series(*series);
        let width = spark.width as usize;
        let data = &data[data.len().saturating_sub(width)..];
        f.render_widget(Sparkline::default().data(data).style(style), spark);
    }
    let mut lines = Vec::new();
    let (attempts, joined) = s.live.funnel(60);
    let share =
        if attempts == 0 { "-".to_string() } else { format!("{:.0}%", 100.0 * joined as f64 / attempts as f64) };
    lines.push(Line::from(vec![
        Span::styled("funnel   ", theme.important()),
        Span::raw(format!("{attempts} code attempts → {joined} joined ({share})")),
    ]));
    if let (Some(sent), Some(settings)) = (s.cap_sent_today, &s.settings) {
        lines.push(Line::from(vec![
            Span::styled("invites  ", theme.important()),
            Span::raw(format!("{sent}/{} sent today", settings.daily_invite_cap)),
        ]));
    }
    if s.failed_mail > 0 {
        lines.push(Line::from(vec![
            Span::styled("failed   ", theme.important()),
            Span::styled(format!("{} deliveries gave up", s.failed_mail), theme.bad()),
        ]));
        lines.push(Line::styled("         velvet mail retry --all", theme.muted()));
    }
    let prefixes = s.live.top_prefixes(3);
    if !prefixes.is_empty() {
        lines.push(Line::styled("top offenders (10 min)", theme.important()));
        for (p, n) in prefixes {
            lines.push(Line::from(vec![Span::styled(format!("{n:>6} "), theme.bad()), Span::raw(p)]));
        }
    }
    for (d, n) in s.live.top_devices(2) {
        lines.push(Line::from(vec![Span::styled(format!("{n:>6} "), theme.bad()), Span::raw(format!("device {d}"))]));
    }
    if s.alerts.is_empty() {
        lines.push(Line::styled("no alerts", theme.muted()));
    } else {
        for a in &s.alerts {
            lines.push(Line::styled(format!("! {}", a.text), theme.alert()));
        }
    }
    if let Some(rest) = areas.last() {
        f.render_widget(Paragraph::new(lines), *rest);
    }
}
