//! Overlays: help, the `:` command line, number prompts and confirmations.

use crate::console::keymap;
use crate::console::state::{Modal, State};
use crate::console::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn draw(f: &mut Frame, area: Rect, s: &State, m: &Modal, theme: &Theme) {
    let (title, lines, height): (String, Vec<Line>, u16) = match m {
        Modal::Help => {
            let lines: Vec<Line> = keymap::help(s).into_iter().map(Line::raw).collect();
            let h = lines.len() as u16 + 4;
            (" Keys (q closes) ".into(), lines, h)
        }
        Modal::Command(text) => (
            " Command ".into(),
            vec![
                Line::from(vec![
                    Span::styled(":", theme.key()),
                    Span::raw(text.clone()),
                    Span::styled("█", theme.muted()),
                ]),
                Line::styled(
                    "approve N · send N · revoke batch N|campaign C|inviter E · pause/resume [signups|campaign C] · cap N · invites N · email [OLD] NEW · block domain D|prefix P|source S [STATUS] · unblock batch N · erase [EMAIL] · q",
                    theme.muted(),
                ),
            ],
            5,
        ),
        Modal::Number { prompt, value, .. } => (
            " How many? ".into(),
            vec![
                Line::raw(prompt.clone()),
                Line::from(vec![Span::raw(value.clone()), Span::styled("█", theme.muted())]),
                Line::styled("Enter continues, Esc cancels", theme.muted()),
            ],
            5,
        ),
        Modal::Text { prompt, value, .. } => (
            " Type ".into(),
            vec![
                Line::raw(prompt.clone()),
                Line::from(vec![Span::raw(value.clone()), Span::styled("█", theme.muted())]),
                Line::styled("Enter continues, Esc cancels", theme.muted()),
            ],
            // Long prompts (an erasure's) wrap at the modal's width.
            5 + prompt.chars().count() as u16 / area.width.saturating_sub(6).clamp(20, 94),
        ),
        Modal::Confirm { title, lines, .. } => {
            let mut body: Vec<Line> = lines.iter().map(|l| Line::raw(l.clone())).collect();
            body.push(Line::raw(""));
            body.push(Line::from(vec![
                Span::styled(" y ", theme.key()),
                Span::raw("do it   "),
                Span::styled(" n ", theme.key()),
                Span::raw("cancel"),
            ]));
            // Tall enough for lines that wrap, so "y do it" always shows.
            let inner = modal_width(area).saturating_sub(2);
            let h = body.iter().map(|l| super::detail::wrapped_height(l, inner)).sum::<u16>() + 2;
            (format!(" {title} "), body, h)
        }
    };
    let width = modal_width(area);
    let height = height.min(area.height.saturating_sub(2));
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [rect] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.important())
        .title(Span::styled(title, theme.title()));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), rect);
}

fn modal_width(area: Rect) -> u16 {
    area.width.saturating_sub(4).min(96)
}
