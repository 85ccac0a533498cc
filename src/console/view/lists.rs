//! The list of the current view; rows are built only for the visible window.

use super::block;
use crate::console::state::{EntryItem, Pane, State, View};
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
            let shown: Vec<(usize, usize)> = window.map(|(pos, &i)| (pos, i as usize)).collect();
            let longest =
                |f: &dyn Fn(&EntryItem) -> usize| shown.iter().map(|&(_, i)| f(&s.entries[i])).max().unwrap_or(0);
            let columns = waitlist_columns(
                area.width.saturating_sub(2),
                longest(&|e| e.email.chars().count()),
                longest(&|e| e.source.as_deref().map_or(0, |x| x.chars().count())),
                longest(&|e| inviter_of(s, e).chars().count()),
            );
            let n = columns.len();
            let rows = shown.iter().map(|&(pos, i)| {
                let e = &s.entries[i];
                let mark = if s.marks.contains(&e.id) { "●" } else { " " };
                let mut cells = vec![
                    Cell::from(mark),
                    Cell::from(Span::styled(e.status, theme.status(e.status))),
                    Cell::from(&*e.email),
                ];
                if n > 3 {
                    cells.push(Cell::from(relative(s.now, e.first_seen)));
                }
                if n > 4 {
                    cells.push(Cell::from(e.source.as_deref().unwrap_or("")));
                }
                if n > 5 {
                    cells.push(Cell::from(inviter_of(s, e)));
                }
                let row = Row::new(cells);
                if pos == l.selected { row.style(theme.selected()) } else { row }
            });
            let header = Row::new(["", "STATUS", "EMAIL", "SIGNED UP", "SOURCE", "INVITED BY"].into_iter().take(n))
                .style(theme.muted());
            f.render_widget(Table::new(rows, columns).header(header).block(block(title, focused, theme)), area);
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
            let widths = [
                Constraint::Length(8),
                Constraint::Fill(1),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(11),
            ];
            let header =
                Row::new(["KIND", "CAMPAIGN", "BATCH", "HINT", "STATE", "USES", "EXPIRES"]).style(theme.muted());
            f.render_widget(Table::new(rows, widths).header(header).block(block(title, focused, theme)), area);
        }
        View::Chains => {
            let lines: Vec<Line> = window
                .map(|(pos, &i)| {
                    let c = &s.chains[i as usize];
                    let e = &s.entries[c.entry];
                    let indent =
                        if c.depth == 0 { String::new() } else { format!("{}└─ ", "   ".repeat(c.depth - 1)) };
                    let mut spans = vec![
                        Span::raw(indent),
                        Span::raw(e.email.to_string()),
                        Span::raw(" "),
                        Span::styled(e.status, theme.status(e.status)),
                    ];
                    if c.invitees > 0 {
                        spans.push(Span::styled(
                            format!("  invited {} ({} in all below)", c.invitees, c.descendants),
                            theme.muted(),
                        ));
                    }
                    let line = Line::from(spans);
                    if pos == l.selected { line.style(theme.selected()) } else { line }
                })
                .collect();
            let body = if lines.is_empty() {
                vec![Line::styled("No invite chains yet: nobody has joined through a referral code.", theme.muted())]
            } else {
                lines
            };
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
                let what = [e.rule.as_deref(), e.reason.as_deref(), e.detail.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ");
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
            let widths = [
                Constraint::Length(8),
                Constraint::Length(13),
                Constraint::Length(7),
                Constraint::Length(10),
                Constraint::Length(16),
                Constraint::Fill(1),
            ];
            let header = Row::new(["TIME", "KIND", "OUTCOME", "ACTOR", "PREFIX", "DETAIL"]).style(theme.muted());
            f.render_widget(Table::new(rows, widths).header(header).block(block(title, focused, theme)), area);
        }
    }
}

/// The Waitlist's columns for `width`: the email gets the width its
/// longest shown address needs first; then the signup age, the source and
/// the inviter, each only when it still fits (the inviter takes the rest).
fn waitlist_columns(width: u16, email: usize, source: usize, inviter: usize) -> Vec<Constraint> {
    const MARK: u16 = 1;
    const STATUS: u16 = 9;
    const AGE: u16 = 11;
    let fit = |n: usize, least: u16, most: u16| (n.min(most as usize) as u16).max(least);
    let (email, source, inviter) = (fit(email, 5, u16::MAX), fit(source, 6, 16), fit(inviter, 10, u16::MAX));
    // Columns are one space apart.
    let mut left = width.saturating_sub(MARK + 1 + STATUS + 1);
    let email = email.min(left);
    left = left.saturating_sub(email);
    let mut columns = vec![Constraint::Length(MARK), Constraint::Length(STATUS), Constraint::Length(email)];
    for (want, min) in [(AGE, AGE), (source, 6), (inviter, 10)] {
        if left < min + 1 {
            break;
        }
        let w = want.min(left - 1);
        columns.push(Constraint::Length(w));
        left -= w + 1;
    }
    columns
}

fn inviter_of<'a>(s: &'a State, e: &EntryItem) -> &'a str {
    e.referrer_id.and_then(|r| s.entry_index.get(r)).map(|k| &*s.entries[k].email).unwrap_or("")
}

fn title(s: &State) -> String {
    let l = s.listing();
    let pos = if l.rows.is_empty() { 0 } else { l.selected + 1 };
    match s.view {
        View::Waitlist => {
            let total = s.entries_total.unwrap_or(s.entries.len() as u64);
            let loading =
                if s.entries_done { String::new() } else { format!(" · loading {}/{}", s.entries.len(), total) };
            format!(" Waitlist {pos}/{}{loading} ", l.rows.len())
        }
        View::Codes => format!(" Codes {pos}/{} (newest first) ", l.rows.len()),
        View::Chains => format!(" Chains {pos}/{} ", l.rows.len()),
        View::Events => {
            let h = &s.event_history;
            let older = if h.loading {
                format!(" · reading older, below #{}…", h.before)
            } else if h.done {
                " · all history".to_string()
            } else if h.before < h.tail_floor {
                format!(" · back to #{}", h.before)
            } else {
                String::new()
            };
            format!(" Events {pos}/{} (newest first, live{older}) ", l.rows.len())
        }
    }
}
