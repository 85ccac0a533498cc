//! Every key binding, once: the event loop looks keys up here, and the
//! `?` help and the footer hints are generated from the same table, so they
//! can never disagree with what the keys do.

use super::state::View;
use crate::domain::{Permission, Role};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    View(View),
    NextPane,
    Detail,
    Back,
    Mark,
    Filter,
    CommandLine,
    Help,
    ToggleLive,
    Approve,
    ApproveNext,
    SendNow,
    Revoke,
    Reissue,
    Block,
    Unblock,
    PauseRedemption,
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    /// As shown in help and footer.
    pub shown: &'static str,
    /// One word for the footer.
    pub short: &'static str,
    pub command: Command,
    pub help: &'static str,
    /// `None`: anyone; otherwise the permission the action needs.
    pub needs: Option<Permission>,
    /// Batch or destructive: asks for a second key.
    pub confirms: bool,
    /// Listed in the footer (the rest only in help).
    pub footer: bool,
}

const fn b(keys: &'static [KeyCode], shown: &'static str, command: Command, help: &'static str) -> Binding {
    Binding { keys, shown, short: "", command, help, needs: None, confirms: false, footer: false }
}

const fn act(keys: &'static [KeyCode], shown: &'static str, short: &'static str, command: Command, help: &'static str, needs: Permission, confirms: bool) -> Binding {
    Binding { keys, shown, short, command, help, needs: Some(needs), confirms, footer: true }
}

const fn foot(mut x: Binding, short: &'static str) -> Binding {
    x.footer = true;
    x.short = short;
    x
}

pub const BINDINGS: &[Binding] = &[
    b(&[KeyCode::Char('j'), KeyCode::Down], "j/↓", Command::Down, "move down"),
    b(&[KeyCode::Char('k'), KeyCode::Up], "k/↑", Command::Up, "move up"),
    b(&[KeyCode::Char('g'), KeyCode::Home], "g", Command::Top, "first row"),
    b(&[KeyCode::Char('G'), KeyCode::End], "G", Command::Bottom, "last row"),
    b(&[KeyCode::PageUp], "PgUp", Command::PageUp, "page up"),
    b(&[KeyCode::PageDown], "PgDn", Command::PageDown, "page down"),
    foot(b(&[KeyCode::Char('1')], "1-4", Command::View(View::Waitlist), "views: 1 Waitlist, 2 Codes, 3 Chains, 4 Events"), "views"),
    b(&[KeyCode::Char('2')], "2", Command::View(View::Codes), "Codes (by campaign and batch)"),
    b(&[KeyCode::Char('3')], "3", Command::View(View::Chains), "Chains view (invite tree)"),
    b(&[KeyCode::Char('4')], "4", Command::View(View::Events), "Events view (live tail)"),
    b(&[KeyCode::Tab], "Tab", Command::NextPane, "next pane (list, detail, live)"),
    b(&[KeyCode::Enter], "Enter", Command::Detail, "detail of the selected row"),
    foot(b(&[KeyCode::Char('/')], "/", Command::Filter, "fuzzy filter: email, code hint, campaign, source"), "filter"),
    b(&[KeyCode::Char(':')], ":", Command::CommandLine, "command line (:approve 50, :revoke batch 12, :pause campaign hn, :cap 80, :q)"),
    foot(b(&[KeyCode::Char('?')], "?", Command::Help, "this help"), "help"),
    b(&[KeyCode::Char('L')], "L", Command::ToggleLive, "show or hide the Live pane"),
    act(&[KeyCode::Char(' ')], "space", "mark", Command::Mark, "mark or unmark the row (for approve)", Permission::Approve, false),
    act(&[KeyCode::Char('a')], "a", "approve", Command::Approve, "approve the selected entry, or the marked ones (a batch asks first)", Permission::Approve, false),
    act(&[KeyCode::Char('A')], "A", "next N", Command::ApproveNext, "approve the next N confirmed entries (oldest first)", Permission::Approve, true),
    act(&[KeyCode::Char('S')], "S", "send", Command::SendNow, "send N invites now, past today's cap", Permission::SendPastCap, true),
    act(&[KeyCode::Char('r')], "r", "revoke", Command::Revoke, "revoke the selected code, or every code of the selected person", Permission::RevokeOne, true),
    act(&[KeyCode::Char('s')], "s", "reissue", Command::Reissue, "reissue: revoke the person's code and mail a fresh one", Permission::Reissue, true),
    act(&[KeyCode::Char('b')], "b", "block", Command::Block, "block the selected person", Permission::Block, true),
    act(&[KeyCode::Char('u')], "u", "unblock", Command::Unblock, "unblock the selected person", Permission::Block, false),
    act(&[KeyCode::Char('p')], "p", "pause", Command::PauseRedemption, "pause or resume all redemption", Permission::Pause, true),
    foot(b(&[KeyCode::Char('q'), KeyCode::Esc], "q", Command::Back, "back, or quit"), "quit"),
];

/// The binding for a key press, if the operator's role allows it.
pub fn lookup(key: KeyEvent, role: Option<Role>) -> Option<&'static Binding> {
    if key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) {
        return None;
    }
    BINDINGS.iter().find(|b| b.keys.contains(&key.code) && allowed(b, role))
}

pub fn allowed(b: &Binding, role: Option<Role>) -> bool {
    match (b.needs, role) {
        (None, _) => true,
        (Some(p), Some(r)) => r.allows(p),
        (Some(_), None) => false,
    }
}

/// Footer hints for `role`: only keys it may use.
pub fn footer(role: Option<Role>) -> Vec<(&'static str, &'static str)> {
    BINDINGS.iter().filter(|b| b.footer && allowed(b, role)).map(|b| (b.shown, b.short)).collect()
}

/// Help lines for `role`: what each key does, and why some are missing.
pub fn help(role: Option<Role>) -> Vec<String> {
    let mut lines = Vec::new();
    let hidden: Vec<&str> = BINDINGS.iter().filter(|b| !allowed(b, role)).map(|b| b.shown).collect();
    if !hidden.is_empty() {
        let who = role.map(|r| r.as_str()).unwrap_or("unknown");
        lines.push(format!("Your role is {who}: {} are hidden (your role may not use them; an admin can change it).", hidden.join(" ")));
        lines.push(String::new());
    }
    lines.extend(
        BINDINGS
            .iter()
            .filter(|b| allowed(b, role))
            .map(|b| format!("{:<6} {}{}", b.shown, b.help, if b.confirms { " (asks first)" } else { "" })),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn roles_see_only_their_keys() {
        assert_eq!(lookup(key('a'), Some(Role::Admin)).map(|b| b.command), Some(Command::Approve));
        assert!(lookup(key('a'), Some(Role::Support)).is_none());
        assert!(lookup(key('b'), Some(Role::Viewer)).is_none());
        assert_eq!(lookup(key('b'), Some(Role::Support)).map(|b| b.command), Some(Command::Block));
        assert_eq!(lookup(key('j'), Some(Role::Viewer)).map(|b| b.command), Some(Command::Down));
        let viewer_help = help(Some(Role::Viewer)).join("\n");
        assert!(viewer_help.contains("Your role is viewer") && !viewer_help.contains("approve the marked"));
        assert!(footer(Some(Role::Viewer)).iter().all(|(k, _)| !["a", "A", "r", "b", "p"].contains(k)));
        assert!(footer(Some(Role::Admin)).iter().any(|(k, _)| *k == "a"));
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = std::collections::HashSet::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(seen.insert(format!("{k:?}")), "{k:?} bound twice");
            }
        }
    }
}
