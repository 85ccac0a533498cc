//! The detail of the selected row: for a person, the one sentence that
//! answers "where's my invite?", then codes, mail and the timeline.

use super::block;
use crate::console::state::{CodeLine, Pane, State, View};
use crate::console::theme::Theme;
use crate::domain::timefmt::relative;
use crate::service::{CodeGroup, CodeTotals, Lookup, TimelineEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(f: &mut Frame, area: Rect, s: &State, theme: &Theme) {
    let focused = s.pane == Pane::Detail;
    // A person's whole address is always in the title, however narrow the list.
    let title = match (s.view, s.selected_entry()) {
        (View::Waitlist | View::Chains, Some(e)) => format!(" {} ", e.email),
        _ => " Detail ".into(),
    };
    let mut frame = block(title, focused, theme);
    let lines = match s.view {
        View::Waitlist | View::Chains => match loaded(s) {
            Some(l) => {
                let header = person_header(s, l, theme);
                let [top, bottom] = split(frame.inner(area), &header);
                let (first, shown, n) = window(s, l, bottom.height as usize);
                if n > 0 && !shown.is_empty() {
                    let order = if s.timeline_oldest_first { "time order" } else { "newest first" };
                    let at = format!(" timeline {}–{} of {n} · {order} ", first + 1, first + shown.len());
                    frame = frame.title_top(Line::styled(at, theme.muted()).right_aligned());
                }
                f.render_widget(frame, area);
                f.render_widget(Paragraph::new(header).wrap(Wrap { trim: false }), top);
                let timeline: Vec<Line> = shown.into_iter().map(|ev| timeline_line(s, ev)).collect();
                f.render_widget(Paragraph::new(timeline), bottom);
                return;
            }
            None => person(s, theme),
        },
        View::Codes => code(s, theme),
        View::Events => event(s, theme),
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(frame), area);
}

/// Where the timeline goes in a detail pane at `area` (below the
/// person's summary), when a person's detail is loaded.
pub fn timeline_area(area: Rect, s: &State) -> Option<Rect> {
    let l = loaded(s)?;
    let header = person_header(s, l, &Theme::plain());
    Some(split(block(String::new(), false, &Theme::plain()).inner(area), &header)[1])
}

/// The selected person's detail, once it has arrived.
fn loaded(s: &State) -> Option<&Lookup> {
    let e = s.selected_entry()?;
    s.detail.as_ref().filter(|l| *l.email == *e.email)
}

/// The summary on top (as tall as its wrapped lines), the timeline below.
fn split(inner: Rect, header: &[Line]) -> [Rect; 2] {
    let height = header.iter().map(|l| wrapped_height(l, inner.width)).sum::<u16>();
    Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(inner)
}

/// Lines a greedy word wrap takes for `line` at `width` (at least 1).
pub(super) fn wrapped_height(line: &Line, width: u16) -> u16 {
    let width = width.max(1) as usize;
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let (mut lines, mut used) = (1usize, 0usize);
    for word in text.split(' ') {
        let w = word.chars().count();
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= width {
            used = need;
        } else if w <= width {
            lines += 1;
            used = w;
        } else {
            // A word longer than the line is broken across lines.
            lines += (used > 0) as usize + (w - 1) / width;
            used = (w - 1) % width + 1;
        }
    }
    lines.min(u16::MAX as usize) as u16
}

/// The timeline events shown in `rows` lines, in the order chosen: the
/// first shown's position, the events, and how many there are in all.
fn window<'a>(s: &State, l: &'a Lookup, rows: usize) -> (usize, Vec<&'a TimelineEvent>, usize) {
    let n = l.events.len();
    let first = s.timeline_scroll.min(n.saturating_sub(rows));
    let shown = (first..n.min(first + rows))
        .map(|p| if s.timeline_oldest_first { &l.events[p] } else { &l.events[n - 1 - p] })
        .collect();
    (first, shown, n)
}

fn timeline_line<'a>(s: &State, ev: &TimelineEvent) -> Line<'a> {
    let extra = [ev.outcome.as_deref(), ev.reason.as_deref(), ev.rule.as_deref(), ev.detail.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    Line::raw(format!("{:>10}  {:<13} {:<10} {extra}", relative(s.now, ev.at), ev.kind, ev.actor))
}

/// The detail before it has arrived, or with nobody selected.
fn person<'a>(s: &'a State, theme: &Theme) -> Vec<Line<'a>> {
    let Some(e) = s.selected_entry() else {
        return vec![Line::styled("Nobody selected.", theme.muted())];
    };
    vec![Line::from(vec![
        Span::styled(e.email.to_string(), theme.important()),
        Span::styled("  loading…", theme.muted()),
    ])]
}

/// Who, where they are and why, codes and mail: what stays on top while
/// the timeline scrolls.
fn person_header<'a>(s: &State, l: &'a Lookup, theme: &Theme) -> Vec<Line<'a>> {
    let status = s.selected_entry().map_or("pending", |e| e.status);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(l.email.clone(), theme.important()),
            Span::raw("  "),
            Span::styled(l.status.clone(), theme.status(status)),
        ]),
        Line::styled(l.explanation.clone(), theme.important()),
    ];
    if !l.inviter_chain.is_empty() {
        lines.push(Line::raw(format!("invited by {}", l.inviter_chain.join(" ← "))));
    }
    for c in &l.codes {
        lines.push(Line::styled(
            format!(
                "code {} …{} {} {}/{} expires {}",
                c.kind,
                c.hint.as_deref().unwrap_or("----"),
                c.state,
                c.uses,
                c.max_uses,
                relative(s.now, c.expires_at)
            ),
            theme.muted(),
        ));
    }
    for m in l.mail.iter().rev().take(2) {
        let err = m.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        lines.push(Line::styled(
            format!("mail {} {} {}{err}", m.kind, m.status, relative(s.now, m.created_at)),
            theme.muted(),
        ));
    }
    lines
}

fn count_of(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// The totals of a campaign (or group) or batch row, in words.
fn totals_lines<'a>(t: &CodeTotals, theme: &Theme) -> Vec<Line<'a>> {
    vec![
        Line::raw(format!("{} codes · {}/{} uses taken", t.issued, t.uses, t.max_uses)),
        Line::from(vec![
            Span::styled(format!("{} active", t.active), theme.good()),
            Span::raw(format!(" · {} used up · {} expired · ", t.used, t.expired)),
            Span::styled(format!("{} revoked", t.revoked), if t.revoked > 0 { theme.bad() } else { theme.muted() }),
        ]),
        Line::raw(format!("{} joined through it", t.joined)),
    ]
}

fn code<'a>(s: &'a State, theme: &Theme) -> Vec<Line<'a>> {
    if let Some(g) = s.selected_code_line().and_then(|l| match l {
        CodeLine::Group(g) => s.codes.groups.get(g),
        _ => None,
    }) {
        let what = match &g.group {
            CodeGroup::Campaign(c) => format!("campaign {c} · {}", count_of(g.batches.len(), "batch", "batches")),
            CodeGroup::Access => {
                format!(
                    "access codes: one per invited person · {}",
                    count_of(g.batches.len(), "invite run", "invite runs")
                )
            }
            CodeGroup::Referral => "referral codes: given to people who joined".to_string(),
        };
        let mut lines = vec![Line::styled(what, theme.important())];
        if g.paused {
            lines.push(Line::styled("redemption paused for this campaign (p resumes it)", theme.warn()));
        }
        lines.extend(totals_lines(&g.totals, theme));
        return lines;
    }
    if let Some((g, b)) = s.selected_batch() {
        let made = match (b.created_at, &b.created_by) {
            (Some(at), Some(by)) => format!(" · made {} by {by}", relative(s.now, at)),
            _ => " · seeded or imported".to_string(),
        };
        let mut lines = vec![Line::styled(format!("{} of {}{made}", b.label(), g.group.label()), theme.important())];
        lines.extend(totals_lines(&b.totals, theme));
        return lines;
    }
    let Some(c) = s.selected_code() else {
        return vec![Line::styled("No code selected.", theme.muted())];
    };
    vec![
        Line::styled(format!("{} code …{}  #{}", c.kind, c.hint.as_deref().unwrap_or("----"), c.id), theme.important()),
        Line::raw(format!(
            "{} · {}/{} uses{}",
            c.state,
            c.uses,
            c.max_uses,
            c.daily_cap.map(|d| format!(" · at most {d} a day")).unwrap_or_default()
        )),
        Line::raw(format!(
            "campaign {} · batch {}",
            c.campaign.as_deref().unwrap_or("-"),
            c.batch_id.map(|b| b.to_string()).unwrap_or_else(|| "-".into())
        )),
        Line::raw(format!(
            "created {} by {} · expires {}",
            relative(s.now, c.created_at),
            c.created_by,
            relative(s.now, c.expires_at)
        )),
        Line::styled(c.revoked_by.as_ref().map(|r| format!("revoked by {r}")).unwrap_or_default(), theme.bad()),
    ]
}

fn event<'a>(s: &'a State, theme: &Theme) -> Vec<Line<'a>> {
    let Some(e) = s.events_list.current().and_then(|i| s.events.get(i)) else {
        return vec![Line::styled("No event selected.", theme.muted())];
    };
    let field = |k: &str, v: Option<String>| v.map(|v| Line::raw(format!("{k:<10} {v}")));
    let mut lines =
        vec![Line::styled(format!("#{} {} by {} {}", e.id, e.kind, e.actor, relative(s.now, e.at)), theme.important())];
    let entry = e.entry_id.and_then(|id| s.entry_index.get(id)).map(|i| s.entries[i].email.to_string());
    lines.extend(
        [
            field("person", entry),
            field("outcome", e.outcome.clone()),
            field("reason", e.reason.clone()),
            field("rule", e.rule.clone()),
            field("detail", e.detail.clone()),
            field("campaign", e.campaign.clone()),
            field("prefix", e.ip_prefix.clone()),
            field("country", e.country.clone()),
            field("device", e.device_hash.clone()),
            field("agent", e.user_agent.clone()),
        ]
        .into_iter()
        .flatten(),
    );
    lines
}
