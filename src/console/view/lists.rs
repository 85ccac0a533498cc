//! The list of the current view; rows are built only for the visible window.

use super::block;
use crate::console::state::{Pane, State, View};
use crate::console::theme::Theme;
use crate::domain::timefmt::relative;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

pub fn draw(f: &mut Frame, area: Rect, s: &State, theme: &Theme) {
    let focused = s.pane == Pane::List;
    let l = s.listing();
    let visible = area.height.saturating_sub(3) as usize;
    let offset = if visible == 0 { 0 } else { l.selected.saturating_sub(visible - 1) };
    let window = l.rows.iter().enumerate().skip(offset).take(visible);
    let title = title(s);
    match s.view {
        View::Waitlist => {
            let rows = window.map(|(pos, &i)| {
                let e = &s.entries[i as usize];
                let inviter = e.referrer_id.and_then(|r| s.entry_index.get(r)).map(|k| &*s.entries[k].email).unwrap_or("");
                let mark = if s.marks.contains(&e.id) { "●" } else { " " };
                let row = Row::new(vec![
                    Cell::from(mark),
                    Cell::from(Span::styled(e.status, theme.status(e.status))),
                    Cell::from(&*e.email),
                    Cell::from(relative(s.now, e.first_seen)),
                    Cell::from(e.source.as_deref().unwrap_or("")),
                    Cell::from(inviter),
                ]);
                if pos == l.selected { row.style(theme.selected()) } else { row }
            });
            let widths = [Constraint::Length(1), Constraint::Length(9), Constraint::Fill(3), Constraint::Length(11), Constraint::Fill(1), Constraint::Fill(2)];
            let header = Row::new(["", "STATUS", "EMAIL", "SIGNED UP", "SOURCE", "INVITED BY"]).style(theme.muted());
            f.render_widget(Table::new(rows, widths).header(header).block(block(title, focused, theme)), area);
        }
        View::Codes => {
            let rows = window.map(|(pos, &i)| {
                let c = &s.codes[i as usize];
                let state_style = match c.state.as_str() {
                    "active" => theme.good(),
                    "revoked" | "expired" => theme.bad(),
                    _ => theme.muted(),
                };
                let row = Row::new(vec![
                    Cell::from(c.kind.as_str()),
                    Cell::from(c.campaign.as_deref().unwrap_or("-")),
                    Cell::from(c.batch_id.map(|b| b.to_string()).unwrap_or_else(|| "-".into())),
                    Cell::from(format!("…{}", c.hint.as_deref().unwrap_or("----"))),
                    Cell::from(Span::styled(c.state.as_str(), state_style)),
                    Cell::from(format!("{}/{}", c.uses, c.max_uses)),
                    Cell::from(relative(s.now, c.expires_at)),
                ]);
                if pos == l.selected { row.style(theme.selected()) } else { row }
            });
            let widths = [Constraint::Length(8), Constraint::Fill(1), Constraint::Length(6), Constraint::Length(7), Constraint::Length(8), Constraint::Length(9), Constraint::Length(11)];
            let header = Row::new(["KIND", "CAMPAIGN", "BATCH", "HINT", "STATE", "USES", "EXPIRES"]).style(theme.muted());
            f.render_widget(Table::new(rows, widths).header(header).block(block(title, focused, theme)), area);
        }
        View::Chains => {
            let lines: Vec<Line> = window
                .map(|(pos, &i)| {
                    let c = &s.chains[i as usize];
                    let e = &s.entries[c.entry];
                    let indent = if c.depth == 0 { String::new() } else { format!("{}└─ ", "   ".repeat(c.depth - 1)) };
                    let mut spans = vec![
                        Span::raw(indent),
                        Span::raw(e.email.to_string()),
                        Span::raw(" "),
                        Span::styled(e.status, theme.status(e.status)),
                    ];
                    if c.invitees > 0 {
                        spans.push(Span::styled(format!("  invited {} ({} in all below)", c.invitees, c.descendants), theme.muted()));
                    }
                    let line = Line::from(spans);
                    if pos == l.selected { line.style(theme.selected()) } else { line }
                })
                .collect();
            let body = if lines.is_empty() { vec![Line::styled("No invite chains yet: nobody has joined through a referral code.", theme.muted())] } else { lines };
            f.render_widget(Paragraph::new(body).block(block(title, focused, theme)), area);
        }
        View::Events => {
            let rows = window.map(|(pos, &i)| {
                let e = &s.events[i as usize];
                let outcome_style = match e.outcome.as_deref() {
                    Some("failed") | Some("denied") => theme.bad(),
                    Some("ok") => theme.good(),
                    _ => theme.muted(),
                };
                let what = [e.rule.as_deref(), e.reason.as_deref(), e.detail.as_deref()].into_iter().flatten().collect::<Vec<_>>().join("; ");
                let row = Row::new(vec![
                    Cell::from(e.at.with_timezone(&s.tz).format("%H:%M:%S").to_string()),
                    Cell::from(e.kind.as_str()),
                    Cell::from(Span::styled(e.outcome.clone().unwrap_or_default(), outcome_style)),
                    Cell::from(e.actor.as_str()),
                    Cell::from(e.ip_prefix.clone().unwrap_or_default()),
                    Cell::from(what),
                ]);
                if pos == l.selected { row.style(theme.selected()) } else { row }
            });
            let widths = [Constraint::Length(8), Constraint::Length(13), Constraint::Length(7), Constraint::Length(10), Constraint::Length(16), Constraint::Fill(1)];
            let header = Row::new(["TIME", "KIND", "OUTCOME", "ACTOR", "PREFIX", "DETAIL"]).style(theme.muted());
            f.render_widget(Table::new(rows, widths).header(header).block(block(title, focused, theme)), area);
        }
    }
}

fn title(s: &State) -> String {
    let l = s.listing();
    let pos = if l.rows.is_empty() { 0 } else { l.selected + 1 };
    match s.view {
        View::Waitlist => {
            let total = s.entries_total.unwrap_or(s.entries.len() as u64);
            let loading = if s.entries_done { String::new() } else { format!(" · loading {}/{}", s.entries.len(), total) };
            format!(" Waitlist {pos}/{}{loading} ", l.rows.len())
        }
        View::Codes => format!(" Codes {pos}/{} (newest first) ", l.rows.len()),
        View::Chains => format!(" Chains {pos}/{} ", l.rows.len()),
        View::Events => format!(" Events {pos}/{} (newest first, live) ", l.rows.len()),
    }
}
