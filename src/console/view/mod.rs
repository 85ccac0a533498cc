//! Drawing. One small function per screen region; they only read `State`.
//!
//! ```text
//! ┌ header: views · operator · backend · clock · spinner ─────────────────┐
//! │ banner: alerts, pauses (only when there are any)                      │
//! │ list (Waitlist|Codes|Chains|Events)        │ Live (≥ 100 columns)     │
//! │────────────────────────────────────────────│ sparklines, offenders,   │
//! │ detail of the selected row                 │ funnel, cap, alerts      │
//! │ footer: key hints | filter | toast                                    │
//! └───────────────────────────────────────────────────────────────────────┘
//! ```

pub mod detail;
mod lists;
mod live;
mod modal;

use super::keymap;
use super::state::{Pane, State, ToastKind, View};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Width of the Live column on wide screens.
const LIVE_WIDTH: u16 = 42;

pub fn draw(f: &mut Frame, s: &State, theme: &Theme) {
    let area = f.area();
    let banner = banner_lines(s, theme);
    let [header, banner_area, body, footer] = screen_regions(area, banner.len());
    draw_header(f, header, s, theme);
    if !banner.is_empty() {
        f.render_widget(Paragraph::new(banner), banner_area);
    }
    let (main, side) = body_regions(body, s);
    if let Some(main) = main {
        let [list, detail] = main_regions(main);
        lists::draw(f, list, s, theme);
        detail::draw(f, detail, s, theme);
    }
    if let Some(side) = side {
        live::draw(f, side, s, theme, s.live_fullscreen() || s.pane == Pane::Live);
    }
    draw_footer(f, footer, s, theme);
    if let Some(m) = &s.modal {
        modal::draw(f, area, s, m, theme);
    }
}

/// How many timeline lines the person's detail shows on a screen of
/// `s.width` x `s.height`: what a page key in the detail scrolls by. The
/// same layout functions as `draw`, so the two cannot disagree.
pub fn timeline_rows(s: &State) -> usize {
    let area = Rect::new(0, 0, s.width, s.height);
    let [_, _, body, _] = screen_regions(area, banner_lines(s, &Theme::plain()).len());
    match body_regions(body, s).0 {
        Some(main) => detail::timeline_area(main_regions(main)[1], s).map_or(0, |a| a.height as usize),
        None => 0,
    }
}

fn screen_regions(area: Rect, banner: usize) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner as u16),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The list-and-detail column and the Live pane, each where shown.
fn body_regions(body: Rect, s: &State) -> (Option<Rect>, Option<Rect>) {
    if s.live_fullscreen() {
        (None, Some(body))
    } else if s.live_beside() {
        let [main, side] = Layout::horizontal([Constraint::Min(40), Constraint::Length(LIVE_WIDTH)]).areas(body);
        (Some(main), Some(side))
    } else {
        (Some(body), None)
    }
}

fn main_regions(area: Rect) -> [Rect; 2] {
    let detail_height = if area.height >= 30 { area.height * 2 / 5 } else { area.height / 2 };
    Layout::vertical([Constraint::Min(3), Constraint::Length(detail_height)]).areas(area)
}

fn draw_header(f: &mut Frame, area: Rect, s: &State, theme: &Theme) {
    let mut spans = vec![Span::styled(" velvet ", theme.title())];
    for (i, v) in View::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, v.title());
        spans.push(if *v == s.view {
            Span::styled(label, theme.selected())
        } else {
            Span::styled(label, theme.muted())
        });
    }
    let spinner = if s.busy > 0 || !s.entries_done {
        ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"][(s.now.timestamp_subsec_millis() / 100) as usize % 10]
    } else {
        " "
    };
    let role = s.role.map(|r| r.as_str()).unwrap_or("?");
    let right = format!(
        "{} ({role}) · {} · {} {spinner} ",
        s.operator,
        s.backend,
        s.now.with_timezone(&s.tz).format("%H:%M:%S")
    );
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let pad = (area.width as usize).saturating_sub(used + right.chars().count());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(right, theme.muted()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn banner_lines<'a>(s: &'a State, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines: Vec<Line> = s
        .alerts
        .iter()
        .map(|a| {
            let since = a.since.with_timezone(&s.tz).format("%H:%M");
            Line::styled(format!(" ALERT {}: {} (since {since})", a.rule, a.text), theme.alert())
        })
        .collect();
    let paused: Vec<String> = s.switches.iter().map(|sw| sw.switch.key()).collect();
    if !paused.is_empty() {
        lines.push(Line::styled(
            format!(" PAUSED: {}", paused.join(", ")),
            theme.warn().add_modifier(ratatui::style::Modifier::BOLD),
        ));
    }
    lines.truncate(3);
    lines
}

fn draw_footer(f: &mut Frame, area: Rect, s: &State, theme: &Theme) {
    let toast = s.toasts.last().filter(|_| !s.filter.editing);
    let line = if let Some(t) = toast {
        let style = if t.kind == ToastKind::Error { theme.bad() } else { theme.good() };
        Line::styled(format!(" {}", t.text), style)
    } else if s.filter.editing || !s.filter.query.is_empty() {
        let shown = s.listing().rows.len();
        Line::from(vec![
            Span::styled(" / ", theme.key()),
            Span::raw(s.filter.query.clone()),
            Span::styled(if s.filter.editing { "█" } else { "" }, theme.muted()),
            Span::styled(
                format!("   {shown} match{}  (Enter keeps, Esc clears)", if shown == 1 { "" } else { "es" }),
                theme.muted(),
            ),
        ])
    } else {
        let mut spans = Vec::new();
        for (k, what) in keymap::footer(s) {
            spans.push(Span::styled(format!(" {k}"), theme.key()));
            spans.push(Span::styled(format!(" {what} "), theme.muted()));
        }
        if !s.marks.is_empty() {
            spans.push(Span::styled(format!(" {} marked", s.marks.len()), theme.important()));
        }
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A bordered block whose title shows focus.
pub(super) fn block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    let style = if focused { theme.important() } else { theme.muted() };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, if focused { theme.title() } else { theme.muted() }))
}
