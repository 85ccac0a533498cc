//! Every key binding, once: the event loop looks keys up here, and the
//! `?` help and the footer hints are generated from the same table, so they
//! can never disagree with what the keys do. Whether a key is offered is
//! decided by the service's permission for the action it asks for
//! (`action_of` → `Action::permission`), not by a table of our own.

use super::state::{Pane, State, View};
use crate::domain::{CodeRef, CodeSet, Switch};
use crate::service::{Action, CodeGroup, TreeBatch};
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
    Quit,
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
    ChangeEmail,
    TimelineOrder,
    /// Codes view: open the campaign or batch (its batches or codes listed under it).
    Expand,
    /// Codes view: close it.
    Collapse,
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    /// As shown in help and footer.
    pub shown: &'static str,
    /// One word for the footer.
    pub short: &'static str,
    pub command: Command,
    pub help: &'static str,
    /// Batch or destructive: asks for a second key.
    pub confirms: bool,
    /// Listed in the footer (the rest only in help).
    pub footer: bool,
    /// Offered only while the detail pane has focus.
    pub in_detail: bool,
    /// Offered only in this view (in the footer; the help lists it always).
    pub view: Option<View>,
}

const fn b(keys: &'static [KeyCode], shown: &'static str, command: Command, help: &'static str) -> Binding {
    Binding { keys, shown, short: "", command, help, confirms: false, footer: false, in_detail: false, view: None }
}

const fn act(
    keys: &'static [KeyCode],
    shown: &'static str,
    short: &'static str,
    command: Command,
    help: &'static str,
    confirms: bool,
) -> Binding {
    Binding { keys, shown, short, command, help, confirms, footer: true, in_detail: false, view: None }
}

/// A Codes-view key, in the footer there.
const fn codes(mut x: Binding, short: &'static str) -> Binding {
    x.footer = true;
    x.short = short;
    x.view = Some(View::Codes);
    x
}

const fn foot(mut x: Binding, short: &'static str) -> Binding {
    x.footer = true;
    x.short = short;
    x
}

pub const BINDINGS: &[Binding] = &[
    b(&[KeyCode::Char('j'), KeyCode::Down], "j/↓", Command::Down, "move down (in the detail: scroll the timeline)"),
    b(&[KeyCode::Char('k'), KeyCode::Up], "k/↑", Command::Up, "move up (in the detail: scroll the timeline)"),
    b(&[KeyCode::Char('g'), KeyCode::Home], "g", Command::Top, "first row (in the detail: top of the timeline)"),
    b(&[KeyCode::Char('G'), KeyCode::End], "G", Command::Bottom, "last row (in the detail: end of the timeline)"),
    b(&[KeyCode::PageUp], "PgUp", Command::PageUp, "page up (list or timeline)"),
    b(&[KeyCode::PageDown], "PgDn", Command::PageDown, "page down (list or timeline)"),
    foot(
        b(
            &[KeyCode::Char('1')],
            "1-4",
            Command::View(View::Waitlist),
            "views: 1 Waitlist, 2 Codes, 3 Chains, 4 Events",
        ),
        "views",
    ),
    b(&[KeyCode::Char('2')], "2", Command::View(View::Codes), "Codes (by campaign and batch)"),
    b(&[KeyCode::Char('3')], "3", Command::View(View::Chains), "Chains view (invite tree)"),
    b(&[KeyCode::Char('4')], "4", Command::View(View::Events), "Events view (live tail)"),
    codes(
        b(
            &[KeyCode::Char('l'), KeyCode::Right],
            "l/→",
            Command::Expand,
            "Codes: open a campaign or batch (codes come a page at a time)",
        ),
        "open",
    ),
    codes(
        b(&[KeyCode::Char('h'), KeyCode::Left], "h/←", Command::Collapse, "Codes: close the campaign or batch"),
        "close",
    ),
    b(&[KeyCode::Tab], "Tab", Command::NextPane, "next pane (list, detail, live)"),
    Binding {
        keys: &[KeyCode::Char('o')],
        shown: "o",
        short: "order",
        command: Command::TimelineOrder,
        help: "in the detail: the timeline newest first or in time order",
        confirms: false,
        footer: true,
        in_detail: true,
        view: None,
    },
    b(&[KeyCode::Enter], "Enter", Command::Detail, "detail of the selected row; in Codes, open or close it"),
    foot(b(&[KeyCode::Char('/')], "/", Command::Filter, FILTER_HELP), "filter"),
    b(
        &[KeyCode::Char(':')],
        ":",
        Command::CommandLine,
        "command line (:approve 50, :revoke batch 12, :pause campaign hn, :cap 80, :email NEW, :block domain D, :export FILE, :q)",
    ),
    foot(b(&[KeyCode::Char('?')], "?", Command::Help, "this help"), "help"),
    b(&[KeyCode::Char('L')], "L", Command::ToggleLive, "show or hide the Live pane"),
    act(&[KeyCode::Char(' ')], "space", "mark", Command::Mark, "mark or unmark the row (for approve)", false),
    act(
        &[KeyCode::Char('a')],
        "a",
        "approve",
        Command::Approve,
        "approve the selected entry, or the marked ones (a batch asks first)",
        false,
    ),
    act(
        &[KeyCode::Char('A')],
        "A",
        "next N",
        Command::ApproveNext,
        "approve the next N confirmed entries (oldest first)",
        true,
    ),
    act(&[KeyCode::Char('S')], "S", "send", Command::SendNow, "send N invites now, past today's cap", true),
    act(
        &[KeyCode::Char('r')],
        "r",
        "revoke",
        Command::Revoke,
        "revoke the selected code, batch or campaign (Codes), or every code of the selected person",
        true,
    ),
    act(
        &[KeyCode::Char('s')],
        "s",
        "reissue",
        Command::Reissue,
        "reissue: revoke the person's code and mail a fresh one",
        true,
    ),
    act(&[KeyCode::Char('b')], "b", "block", Command::Block, "block the selected person (asks why)", true),
    act(&[KeyCode::Char('u')], "u", "unblock", Command::Unblock, "unblock the selected person", false),
    Binding {
        keys: &[KeyCode::Char('e')],
        shown: "e",
        short: "email",
        command: Command::ChangeEmail,
        help: "change the person's email, once (asks for the new address)",
        confirms: true,
        footer: false,
        in_detail: false,
        view: None,
    },
    act(
        &[KeyCode::Char('p')],
        "p",
        "pause",
        Command::PauseRedemption,
        "pause or resume all redemption (on a campaign's row in Codes: that campaign's)",
        true,
    ),
    foot(
        b(&[KeyCode::Esc], "Esc", Command::Back, "back: close, clear the filter, leave the detail (never quits)"),
        "back",
    ),
    foot(
        b(
            &[KeyCode::Char('q')],
            "q",
            Command::Quit,
            "quit (from the list, filtered or not; from the detail back to the list); Ctrl-C quits anywhere",
        ),
        "quit",
    ),
];

/// What the `/` help line says the filter searches: exactly the fields of
/// `EntryItem::searched` (`SEARCHED`; a test holds them together).
const FILTER_HELP: &str = "fuzzy filter (people: email, status, source, campaign, code hint; events: kind, outcome, actor, prefix, \
     older ones from the database; Enter keeps, Esc clears)";

/// The change a key asks the service for, here and now: the selected
/// person or code, or the marked set. Keys that change nothing: `None`.
pub fn action_of(c: Command, s: &State) -> Option<Action> {
    let person = || s.selected_entry().map(|e| e.email.to_string()).unwrap_or_default();
    Some(match c {
        Command::Mark => Action::Approve(Vec::new()),
        Command::Approve => Action::Approve(s.approvees()),
        Command::ApproveNext => Action::ApproveNext(0),
        Command::SendNow => Action::SendPastCap(0),
        // The row's set of codes: a campaign, a batch, one code. Rows that
        // name no set (the access or referral group, codes of no batch) ask as for
        // one code, which `update` then explains.
        Command::Revoke if s.view == View::Codes => Action::Revoke(if let Some(c) = s.selected_code() {
            CodeSet::Code(CodeRef::Id(c.id))
        } else if let Some(CodeGroup::Campaign(c)) = s.selected_campaign().map(|g| &g.group) {
            CodeSet::Campaign(c.clone())
        } else if let Some(TreeBatch::Batch(b)) = s.selected_batch().map(|(_, b)| b.batch) {
            CodeSet::Batch(b)
        } else {
            CodeSet::Code(CodeRef::Id(0))
        }),
        Command::Revoke => Action::Revoke(CodeSet::Inviter(person())),
        Command::Reissue => Action::Reissue(person()),
        Command::Block => Action::Block(person(), None),
        Command::Unblock => Action::Unblock(person()),
        Command::ChangeEmail => Action::ChangeEmail { old: person(), new: String::new() },
        Command::PauseRedemption if let Some(g) = s.selected_campaign() => {
            let scope = Switch::Campaign(g.group.label().to_string());
            if g.paused { Action::Resume(scope) } else { Action::Pause(scope) }
        }
        Command::PauseRedemption if s.redemption_paused() => Action::Resume(Switch::Redemption),
        Command::PauseRedemption => Action::Pause(Switch::Redemption),
        _ => return None,
    })
}

/// The binding for a key press, if it is offered here.
pub fn lookup(key: KeyEvent, s: &State) -> Option<&'static Binding> {
    if key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) {
        return None;
    }
    BINDINGS.iter().find(|b| b.keys.contains(&key.code) && offered(b, s) && here(b, s))
}

/// Whether the operator's role may do what the key asks for, here.
pub fn offered(b: &Binding, s: &State) -> bool {
    action_of(b.command, s).is_none_or(|a| s.can(a.permission()))
}

/// Whether the key means something where the focus is now (the footer
/// lists only those; the help lists them all).
fn here(b: &Binding, s: &State) -> bool {
    (!b.in_detail || (s.pane == Pane::Detail && matches!(s.view, View::Waitlist | View::Chains)))
        && b.view.is_none_or(|v| v == s.view)
}

/// Footer hints: only keys offered here. The Codes view lists no person,
/// so its footer leaves out the keys about the selected person (pressed
/// there, they say to select one), making room for its own.
pub fn footer(s: &State) -> Vec<(&'static str, &'static str)> {
    let about_a_person = |c: Command| {
        matches!(
            c,
            Command::Mark
                | Command::Approve
                | Command::Reissue
                | Command::Block
                | Command::Unblock
                | Command::ChangeEmail
        )
    };
    BINDINGS
        .iter()
        .filter(|b| b.footer && offered(b, s) && here(b, s))
        .filter(|b| !(s.view == View::Codes && about_a_person(b.command)))
        .map(|b| (b.shown, b.short))
        .collect()
}

/// Help lines: what each key does, and why some are missing.
pub fn help(s: &State) -> Vec<String> {
    let mut lines = Vec::new();
    let hidden: Vec<&str> = BINDINGS.iter().filter(|b| !offered(b, s)).map(|b| b.shown).collect();
    if !hidden.is_empty() {
        let who = s.role.map(|r| r.as_str()).unwrap_or("unknown");
        lines.push(format!(
            "Your role is {who}: {} are hidden here (your role may not use them; an admin can change it).",
            hidden.join(" ")
        ));
        lines.push(String::new());
    }
    lines.extend(
        BINDINGS
            .iter()
            .filter(|b| offered(b, s))
            .map(|b| format!("{:<6} {}{}", b.shown, b.help, if b.confirms { " (asks first)" } else { "" })),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::state::SEARCHED;
    use crate::domain::Role;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn world(role: Role) -> State {
        let mut s = State::new(chrono::Utc::now(), "ada".into(), Some(role), "sqlite");
        let row = crate::console::state::EntryItem {
            id: 1,
            email: "dennis@example.com".into(),
            status: "confirmed",
            first_seen: s.now,
            confirmed_at: Some(s.now),
            source: None,
            referrer_id: None,
            campaign: None,
            hints: "".into(),
        };
        crate::console::rows::add_page(&mut s, vec![row]);
        s
    }

    #[test]
    fn roles_see_only_their_keys() {
        let admin = world(Role::Admin);
        let support = world(Role::Support);
        let viewer = world(Role::Viewer);
        assert_eq!(lookup(key('a'), &admin).map(|b| b.command), Some(Command::Approve));
        assert!(lookup(key('a'), &support).is_none());
        assert!(lookup(key('b'), &viewer).is_none());
        assert_eq!(lookup(key('b'), &support).map(|b| b.command), Some(Command::Block));
        assert_eq!(lookup(key('j'), &viewer).map(|b| b.command), Some(Command::Down));
        let viewer_help = help(&viewer).join("\n");
        assert!(viewer_help.contains("Your role is viewer") && !viewer_help.contains("approve the marked"));
        assert!(footer(&viewer).iter().all(|(k, _)| !["a", "A", "r", "b", "p"].contains(k)));
        assert!(footer(&admin).iter().any(|(k, _)| *k == "a"));
    }

    #[test]
    fn revoking_a_person_is_an_admins_and_one_code_supports() {
        let mut support = world(Role::Support);
        assert!(lookup(key('r'), &support).is_none(), "every code a person gives out is a bulk revoke");
        support.view = View::Codes;
        assert_eq!(lookup(key('r'), &support).map(|b| b.command), Some(Command::Revoke));
        assert!(lookup(key('r'), &world(Role::Admin)).is_some());
    }

    #[test]
    fn esc_never_quits_and_the_help_says_what_the_filter_searches() {
        let s = world(Role::Viewer);
        assert_eq!(lookup(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), &s).map(|b| b.command), Some(Command::Back));
        assert_eq!(lookup(key('q'), &s).map(|b| b.command), Some(Command::Quit));
        let help = help(&s).join("\n");
        assert!(help.contains(SEARCHED), "the help must name exactly what is searched: {SEARCHED}");
        assert!(help.contains("never quits"));
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
