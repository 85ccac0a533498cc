//! The list of the current view; rows are built only for the visible window.

use super::block;
use crate::console::state::{CodeLine, EntryItem, Pane, State, View};
use crate::console::theme::Theme;
use crate::domain::timefmt::relative;
use crate::service::{CodeBranch, CodeTotals, TreeBatch};
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
            let shown = code_columns(area.width.saturating_sub(2));
            let rows = window.map(|(pos, &i)| {
                let row = Row::new(pick(code_row(s, s.codes.lines[i as usize], theme), &shown));
                if pos == l.selected { row.style(theme.selected()) } else { row }
            });
            let widths: Vec<Constraint> = shown
                .iter()
                .map(|&i| if i == 0 { Constraint::Fill(1) } else { Constraint::Length(CODE_WIDTHS[i]) })
                .collect();
            let header = Row::new(pick(
                ["CAMPAIGN / BATCH / CODE", "ISSUED", "USES", "ACTIVE", "EXPIRED", "REVOKED", "JOINED"]
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| Cell::from(if i == 0 { Line::raw(h) } else { Line::raw(h).right_aligned() }))
                    .collect(),
                &shown,
            ))
            .style(theme.muted());
            if s.codes.lines.is_empty() {
                let text = if s.codes.loaded {
                    "No codes yet: `velvet codes issue --campaign NAME` makes partner codes."
                } else {
                    "Counting the codes…"
                };
                f.render_widget(
                    Paragraph::new(Line::styled(text, theme.muted())).block(block(title, focused, theme)),
                    area,
                );
            } else {
                f.render_widget(Table::new(rows, widths).header(header).block(block(title, focused, theme)), area);
            }
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

/// One row of the Codes view: a campaign (or the access or referral
/// codes), a batch, a code, or the end of an open batch's codes.
///
/// ```text
/// ▾ hn  paused                 5      3/8       3       0       1      3
///   ▾ batch 12 · 3 d ago       2      0/2       1       0       1      0
///       …K7QX active                  0/1           in 9 d
///       … 1,998 more below
/// ▸ access codes              40    22/40      18       0       0     22
/// ```
/// The widths of the Codes columns after the name.
const CODE_WIDTHS: [u16; 7] = [0, 7, 13, 7, 7, 7, 6];
/// The name column never gets narrower than this (a campaign's tag is up to 32).
const CODE_NAME_MIN: u16 = 20;

/// The Codes columns that fit `width` (inside the borders): the name first,
/// then the totals; on a narrow pane (100 columns with the Live pane open)
/// ACTIVE gives way first, then EXPIRED, then REVOKED, so a campaign's name
/// is never cut to a letter.
fn code_columns(width: u16) -> Vec<usize> {
    let mut shown: Vec<usize> = (0..CODE_WIDTHS.len()).collect();
    for gives_way in [3, 4, 5] {
        let totals: u16 = shown.iter().skip(1).map(|&i| CODE_WIDTHS[i] + 1).sum();
        if width.saturating_sub(totals) >= CODE_NAME_MIN {
            break;
        }
        shown.retain(|&i| i != gives_way);
    }
    shown
}

/// The cells of the columns shown.
fn pick<'a>(cells: Vec<Cell<'a>>, shown: &[usize]) -> Vec<Cell<'a>> {
    cells.into_iter().enumerate().filter(|(i, _)| shown.contains(i)).map(|(_, c)| c).collect()
}

fn code_row<'a>(s: &'a State, line: CodeLine, theme: &Theme) -> Vec<Cell<'a>> {
    let t = &s.codes;
    let arrow = |open: bool| if open { "▾ " } else { "▸ " };
    let num = |text: String, style: ratatui::style::Style| Cell::from(Line::styled(text, style).right_aligned());
    let plain = ratatui::style::Style::default();
    let totals = |name: Line<'a>, x: &CodeTotals| {
        vec![
            Cell::from(name),
            num(count(x.issued), plain),
            num(format!("{}/{}", count(x.uses), count(x.max_uses)), plain),
            num(count(x.active), theme.good()),
            num(count(x.expired), plain),
            num(count(x.revoked), if x.revoked > 0 { theme.bad() } else { theme.muted() }),
            num(count(x.joined), plain),
        ]
    };
    match line {
        CodeLine::Group(g) => {
            let g = &t.groups[g];
            let all = CodeBranch { group: g.group.clone(), batch: TreeBatch::All };
            let mut name =
                vec![Span::raw(arrow(t.open.contains(&all))), Span::styled(g.group.label(), theme.important())];
            if g.paused {
                name.push(Span::styled("  paused", theme.warn()));
            }
            totals(Line::from(name), &g.totals)
        }
        CodeLine::Batch(g, b) => {
            let (g, b) = (&t.groups[g], &t.groups[g].batches[b]);
            let open = t.open.contains(&CodeBranch { group: g.group.clone(), batch: b.batch });
            let mut name = vec![Span::raw("  "), Span::raw(arrow(open)), Span::raw(b.label())];
            if let Some(at) = b.created_at {
                name.push(Span::styled(format!(" · {}", relative(s.now, at)), theme.muted()));
            }
            totals(Line::from(name), &b.totals)
        }
        CodeLine::Code(l, i) => {
            let leaf = &t.leaves[l];
            let c = &leaf.codes[i];
            let indent = if leaf.branch.batch == TreeBatch::All { "    " } else { "      " };
            let state = match c.state.as_str() {
                "active" => theme.good(),
                "revoked" | "expired" => theme.bad(),
                _ => theme.muted(),
            };
            vec![
                Cell::from(Line::from(vec![
                    Span::raw(format!("{indent}…{} ", c.hint.as_deref().unwrap_or("----"))),
                    Span::styled(c.state.as_str(), state),
                ])),
                Cell::from(""),
                num(format!("{}/{}", c.uses, c.max_uses), plain),
                Cell::from(""),
                // A code's own expiry, under the count of expired ones.
                num(relative(s.now, c.expires_at), theme.muted()),
                Cell::from(""),
                Cell::from(""),
            ]
        }
        CodeLine::More(l) => {
            let leaf = &t.leaves[l];
            let indent = if leaf.branch.batch == TreeBatch::All { "    " } else { "      " };
            let left = t.totals_of(&leaf.branch).map_or(0, |x| x.issued - leaf.codes.len() as i64);
            let text = if leaf.loading {
                format!("{indent}… reading codes")
            } else if left > 0 {
                format!("{indent}… {} more below", thousands(left))
            } else {
                format!("{indent}… more below")
            };
            vec![Cell::from(Span::styled(text, theme.muted()))]
        }
    }
}

/// A count in a 7-column cell: exact up to 9,999,999.
fn count(n: i64) -> String {
    if n < 10_000_000 { n.to_string() } else { format!("{:.1}M", n as f64 / 1e6) }
}

/// 1234567 → "1,234,567".
fn thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
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
        View::Codes => {
            let counting = if s.codes.counting { " · counting…" } else { "" };
            format!(" Codes {pos}/{} · campaign → batch → code{counting} ", l.rows.len())
        }
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
