//! The detail of the selected row: for a person, the one sentence that
//! answers "where's my invite?", then codes, mail and the timeline.

use super::block;
use crate::console::state::{Pane, State, View};
use crate::console::theme::Theme;
use crate::domain::timefmt::relative;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(f: &mut Frame, area: Rect, s: &State, theme: &Theme) {
    let focused = s.pane == Pane::Detail;
    let lines = match s.view {
        View::Waitlist | View::Chains => person(s, theme),
        View::Codes => code(s, theme),
        View::Events => event(s, theme),
    };
    // A person's whole address is always in the title, however narrow the list.
    let title = match (s.view, s.selected_entry()) {
        (View::Waitlist | View::Chains, Some(e)) => format!(" {} ", e.email),
        _ => " Detail ".into(),
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block(title, focused, theme)), area);
}

fn person<'a>(s: &'a State, theme: &Theme) -> Vec<Line<'a>> {
    let Some(e) = s.selected_entry() else {
        return vec![Line::styled("Nobody selected.", theme.muted())];
    };
    let Some(l) = s.detail.as_ref().filter(|l| *l.email == *e.email) else {
        return vec![Line::from(vec![
            Span::styled(e.email.to_string(), theme.important()),
            Span::styled("  loading…", theme.muted()),
        ])];
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(l.email.clone(), theme.important()),
            Span::raw("  "),
            Span::styled(l.status.clone(), theme.status(e.status)),
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
    for ev in l.events.iter().rev() {
        let extra = [ev.outcome.as_deref(), ev.reason.as_deref(), ev.rule.as_deref(), ev.detail.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        lines.push(Line::raw(format!("{:>9}  {:<13} {:<10} {extra}", relative(s.now, ev.at), ev.kind, ev.actor)));
    }
    lines
}

fn code<'a>(s: &'a State, theme: &Theme) -> Vec<Line<'a>> {
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
