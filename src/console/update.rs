//! `update(state, input) -> effects`: every change to the console state,
//! synchronous and free of I/O, so each action is testable on its own.

use super::action::{Effect, Input, Msg};
use super::commandline::run_command;
use super::keymap::{Command, action_of};
pub use super::rows::{add_changed, add_page, build_chains, relist};
use super::state::{EVENT_TAIL, EntryItem, Modal, NumberFor, Pane, State, TEXT_MAX, TextFor, ToastKind, View};
use crate::service::{Action, BlockSelector, BulkBlock, PauseScope, RevokeTarget};

/// Rows a page key moves.
const PAGE: usize = 20;
/// Emails listed in a confirmation before "and N more".
const SHOWN: usize = 8;

pub fn update(s: &mut State, input: Input) -> Vec<Effect> {
    match input {
        Input::Command(c) => command(s, c),
        Input::Char(c) => typed(s, Some(c)),
        Input::Backspace => typed(s, None),
        Input::Submit => submit(s),
        Input::Cancel => cancel(s),
        Input::Tick(now) => tick(s, now),
        Input::Resize(w, _) => {
            s.width = w;
            vec![]
        }
        Input::Msg(m) => message(s, m),
    }
}

/// Whether keys should go to a text field (filter, command line, number)
/// or a confirmation rather than to the keymap.
pub fn wants_text(s: &State) -> bool {
    s.filter.editing
        || matches!(
            s.modal,
            Some(Modal::Command(_) | Modal::Number { .. } | Modal::Text { .. } | Modal::Confirm { .. })
        )
}

fn command(s: &mut State, c: Command) -> Vec<Effect> {
    if matches!(s.modal, Some(Modal::Help)) {
        if matches!(c, Command::Back | Command::Quit | Command::Help) {
            s.modal = None;
        }
        return vec![];
    }
    // The role is checked against the service's permission for what the
    // key asks for, the same check that hides the key.
    if let Some(action) = action_of(c, s)
        && !s.can(action.permission())
    {
        s.toast(format!("your role may not {}", action.permission().describe()), ToastKind::Error);
        return vec![];
    }
    match c {
        Command::Up => move_by(s, -1),
        Command::Down => move_by(s, 1),
        Command::PageUp => move_by(s, -(PAGE as i64)),
        Command::PageDown => move_by(s, PAGE as i64),
        Command::Top => move_by(s, i64::MIN / 2),
        Command::Bottom => move_by(s, i64::MAX / 2),
        Command::View(v) => switch_view(s, v),
        Command::NextPane => {
            s.pane = match s.pane {
                Pane::List => Pane::Detail,
                Pane::Detail if s.live_beside() => Pane::Live,
                _ => Pane::List,
            };
            vec![]
        }
        Command::Detail => {
            s.pane = Pane::Detail;
            lookup_selected(s)
        }
        Command::Back => match back(s) {
            Some(effects) => effects,
            None => {
                s.toast("nothing to go back from; q quits", ToastKind::Info);
                vec![]
            }
        },
        // q quits from the list (filtered or not); from the detail or the
        // Live pane it goes back to the list first.
        Command::Quit => {
            if s.pane != Pane::List {
                s.pane = Pane::List;
            } else if s.live_toggled {
                s.live_toggled = false;
            } else {
                s.quit = true;
            }
            vec![]
        }
        Command::Mark => {
            if let Some(e) = s.selected_entry() {
                let id = e.id;
                if !s.marks.remove(&id) {
                    s.marks.insert(id);
                }
                move_by(s, 1);
            }
            vec![]
        }
        Command::Filter => {
            s.filter.editing = true;
            vec![]
        }
        Command::CommandLine => {
            s.modal = Some(Modal::Command(String::new()));
            vec![]
        }
        Command::Help => {
            s.modal = Some(Modal::Help);
            vec![]
        }
        Command::ToggleLive => {
            s.live_toggled = !s.live_toggled;
            vec![]
        }
        Command::Approve => approve(s),
        Command::ApproveNext => ask_number(s, NumberFor::ApproveNext),
        Command::SendNow => ask_number(s, NumberFor::SendNow),
        Command::Revoke => revoke_selected(s),
        Command::Reissue => with_person(s, |e| {
            confirm(
                format!("Reissue for {}?", e.email),
                vec![
                    "Invited: the current access code is revoked and a fresh one is mailed.".into(),
                    "Pending: a new confirmation link is mailed.".into(),
                ],
                Action::Reissue(e.email.to_string()),
            )
        }),
        Command::Block => with_person(s, |e| Modal::Text {
            prompt: format!("Why block {}? (kept in the event log)", e.email),
            value: String::new(),
            then: TextFor::Reason {
                title: format!("Block {}?", e.email),
                lines: vec![
                    format!("Now {}; blocked, they cannot redeem or be invited.", e.status),
                    "Unblock (u) returns them to where they were.".into(),
                ],
                action: Action::Block(e.email.to_string(), None),
            },
        }),
        Command::ChangeEmail => with_person(s, |e| Modal::Text {
            prompt: format!("New address for {} (an address can be changed once):", e.email),
            value: String::new(),
            then: TextFor::NewEmail { old: e.email.to_string(), status: e.status.to_string() },
        }),
        Command::Unblock => match s.selected_entry().map(|e| e.email.to_string()) {
            Some(email) => {
                s.busy += 1;
                vec![Effect::Act(Action::Unblock(email))]
            }
            None => vec![],
        },
        Command::PauseRedemption => {
            s.modal = Some(if s.redemption_paused() {
                confirm(
                    "Resume redemption?".into(),
                    vec!["Codes work again at once, on every server.".into()],
                    Action::Resume(PauseScope::Redemption),
                )
            } else {
                confirm(
                    "Pause all redemption?".into(),
                    vec![
                        "Every code stops working at once, on every server (503 paused).".into(),
                        "The pacer stops sending invites until you resume (p).".into(),
                    ],
                    Action::Pause(PauseScope::Redemption),
                )
            });
            vec![]
        }
    }
}

/// One step back: clears the filter, leaves the detail or the Live pane.
/// `None` at the top level, where there is nowhere to go back to.
fn back(s: &mut State) -> Option<Vec<Effect>> {
    if !s.filter.query.is_empty() {
        return Some(clear_filter(s));
    }
    if s.pane != Pane::List {
        s.pane = Pane::List;
    } else if s.live_toggled {
        s.live_toggled = false;
    } else {
        return None;
    }
    Some(vec![])
}

pub(super) fn confirm(title: String, lines: Vec<String>, action: Action) -> Modal {
    Modal::Confirm { title, lines, action }
}

fn with_person(s: &mut State, f: impl FnOnce(&EntryItem) -> Modal) -> Vec<Effect> {
    match s.selected_entry() {
        Some(e) => s.modal = Some(f(e)),
        None => s.toast("select a person first (Waitlist or Chains view)", ToastKind::Error),
    }
    vec![]
}

fn move_by(s: &mut State, delta: i64) -> Vec<Effect> {
    let l = s.listing_mut();
    if l.rows.is_empty() {
        return vec![];
    }
    let max = l.rows.len() as i64 - 1;
    l.selected = (l.selected as i64).saturating_add(delta).clamp(0, max) as usize;
    lookup_selected(s)
}

fn switch_view(s: &mut State, v: View) -> Vec<Effect> {
    // Waitlist and Chains share the people filter; other views start clean.
    let shares = matches!((s.view, v), (View::Waitlist | View::Chains, View::Waitlist | View::Chains));
    let mut effects = if !shares && !s.filter.query.is_empty() {
        s.filter.editing = false;
        clear_filter(s)
    } else {
        vec![]
    };
    s.view = v;
    s.pane = Pane::List;
    effects.extend(view_effects(s, v));
    effects
}

fn view_effects(s: &mut State, v: View) -> Vec<Effect> {
    match v {
        View::Codes => vec![Effect::LoadCodes],
        View::Chains => {
            build_chains(s);
            lookup_selected(s)
        }
        View::Waitlist => lookup_selected(s),
        View::Events => vec![],
    }
}

fn lookup_selected(s: &mut State) -> Vec<Effect> {
    let Some(e) = s.selected_entry() else { return vec![] };
    if s.detail_for == Some(e.id) {
        return vec![];
    }
    let (id, email) = (e.id, e.email.to_string());
    s.detail_for = Some(id);
    request_lookup(s, email)
}

/// Asks for a person's detail. One lookup at a time: while one runs, the
/// newest request waits and replaces older waiting ones, so holding `j`
/// through a thousand rows runs a handful of lookups, and the row the
/// cursor stops on is read as soon as the database is free.
fn request_lookup(s: &mut State, email: String) -> Vec<Effect> {
    s.detail_generation += 1;
    let effect = Effect::Lookup { generation: s.detail_generation, email };
    if s.lookup_running {
        s.lookup_waiting = Some(effect);
        return vec![];
    }
    s.lookup_running = true;
    vec![effect]
}

/// A lookup answered (or failed): the waiting one, if any, goes next.
fn lookup_done(s: &mut State) -> Vec<Effect> {
    s.lookup_running = false;
    match s.lookup_waiting.take() {
        Some(next) => {
            s.lookup_running = true;
            vec![next]
        }
        None => vec![],
    }
}

fn approve(s: &mut State) -> Vec<Effect> {
    let ids: Vec<i64> = if s.marks.is_empty() {
        s.selected_entry().map(|e| vec![e.id]).unwrap_or_default()
    } else {
        s.marks.iter().copied().collect()
    };
    if ids.is_empty() {
        return vec![];
    }
    if ids.len() == 1 {
        s.busy += 1;
        return vec![Effect::Act(Action::Approve(ids))];
    }
    let emails: Vec<String> =
        ids.iter().filter_map(|id| s.entry_index.get(*id).map(|i| s.entries[i].email.to_string())).collect();
    let confirmed =
        ids.iter().filter(|id| s.entry_index.get(**id).is_some_and(|i| s.entries[i].status == "confirmed")).count();
    let mut lines = listed(&emails);
    if confirmed < ids.len() {
        lines.push(format!("{} of them are not confirmed and will be skipped.", ids.len() - confirmed));
    }
    s.modal = Some(confirm(format!("Approve {} marked entries?", ids.len()), lines, Action::Approve(ids)));
    vec![]
}

fn listed(emails: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = emails.iter().take(SHOWN).map(|e| format!("  {e}")).collect();
    if emails.len() > SHOWN {
        lines.push(format!("  … and {} more", emails.len() - SHOWN));
    }
    lines
}

fn ask_number(s: &mut State, then: NumberFor) -> Vec<Effect> {
    let prompt = match then {
        NumberFor::ApproveNext => "Approve how many confirmed entries, oldest first?",
        NumberFor::SendNow => "Send how many invites now, past today's cap?",
    };
    s.modal = Some(Modal::Number { prompt: prompt.into(), value: String::new(), then });
    vec![]
}

/// The confirmation for "approve next N": exactly who, from what is loaded.
pub(super) fn approve_next_modal(s: &State, n: i64) -> Modal {
    let mut waiting: Vec<&EntryItem> = s.entries.iter().filter(|e| e.status == "confirmed").collect();
    waiting.sort_by_key(|e| (e.confirmed_at, e.id));
    let take: Vec<String> = waiting.iter().take(n.max(0) as usize).map(|e| e.email.to_string()).collect();
    let mut lines = vec![format!("{} confirmed entries are waiting; these {} go first:", waiting.len(), take.len())];
    lines.extend(listed(&take));
    if !s.entries_done {
        lines.push("(still loading the list: the database decides the exact set)".into());
    }
    confirm(format!("Approve the next {n}?"), lines, Action::ApproveNext(n))
}

fn revoke_selected(s: &mut State) -> Vec<Effect> {
    if let Some(c) = s.selected_code() {
        let hint = c.hint.clone().unwrap_or_else(|| "----".into());
        let mut lines = vec![format!("{} code …{hint}, {} of {} uses taken, {}.", c.kind, c.uses, c.max_uses, c.state)];
        if let Some(camp) = &c.campaign {
            lines.push(format!(
                "Campaign {camp}, batch {}. (:revoke batch N revokes the whole batch.)",
                c.batch_id.unwrap_or(0)
            ));
        }
        s.modal = Some(confirm(format!("Revoke code …{hint}?"), lines, Action::Revoke(RevokeTarget::CodeId(c.id))));
        return vec![];
    }
    with_person(s, |e| {
        confirm(
            format!("Revoke every code {} gives out?", e.email),
            vec!["Their referral codes stop working; people who already joined stay in.".into()],
            Action::Revoke(RevokeTarget::Inviter(e.email.to_string())),
        )
    })
}

fn typed(s: &mut State, c: Option<char>) -> Vec<Effect> {
    if s.filter.editing {
        match c {
            Some(c) => s.filter.query.push(c),
            None => {
                s.filter.query.pop();
            }
        }
        return refilter(s);
    }
    match &mut s.modal {
        Some(Modal::Command(text)) => {
            match c {
                Some(c) => text.push(c),
                None => {
                    text.pop();
                }
            }
            vec![]
        }
        Some(Modal::Number { value, .. }) => {
            match c {
                Some(c) if c.is_ascii_digit() && value.len() < 7 => value.push(c),
                None => {
                    value.pop();
                }
                _ => {}
            }
            vec![]
        }
        Some(Modal::Text { value, .. }) => {
            match c {
                Some(c) if !c.is_control() && value.chars().count() < TEXT_MAX => value.push(c),
                None => {
                    value.pop();
                }
                _ => {}
            }
            vec![]
        }
        Some(Modal::Confirm { .. }) => match c {
            Some('y') | Some('Y') => submit(s),
            Some('n') | Some('N') => cancel(s),
            _ => vec![],
        },
        _ => vec![],
    }
}

fn submit(s: &mut State) -> Vec<Effect> {
    if s.filter.editing {
        s.filter.editing = false;
        return vec![];
    }
    match s.modal.take() {
        Some(Modal::Confirm { action, .. }) => {
            s.busy += 1;
            s.marks.clear();
            vec![Effect::Act(action)]
        }
        Some(Modal::Number { value, then, .. }) => match value.parse::<i64>() {
            Ok(n) if n > 0 => {
                s.modal = Some(match then {
                    NumberFor::ApproveNext => approve_next_modal(s, n),
                    NumberFor::SendNow => confirm(
                        format!("Send {n} invites now?"),
                        vec![format!(
                            "{n} approved entries, oldest approval first, get their invite now, past today's cap (audited as 'past cap')."
                        )],
                        Action::SendPastCap(n as u64),
                    ),
                });
                vec![]
            }
            _ => {
                s.toast("type a number above 0", ToastKind::Error);
                vec![]
            }
        },
        Some(Modal::Command(text)) => run_command(s, text.trim()),
        Some(Modal::Text { prompt, value, then }) => text_answered(s, prompt, value, then),
        other => {
            s.modal = other;
            vec![]
        }
    }
}

/// A text prompt was answered: check the text, then ask for confirmation
/// (the prompt stays open on a mistake, with a toast saying what is wrong).
fn text_answered(s: &mut State, prompt: String, value: String, then: TextFor) -> Vec<Effect> {
    match then {
        TextFor::NewEmail { old, status } => match crate::domain::Email::parse(&value) {
            Ok(new) => s.modal = Some(change_email_modal(&old, &status, new.as_str())),
            Err(e) => {
                s.toast(format!("{e}; type the corrected address"), ToastKind::Error);
                s.modal = Some(Modal::Text { prompt, value, then: TextFor::NewEmail { old, status } });
            }
        },
        TextFor::Reason { title, mut lines, action } => {
            let reason = value.trim().to_string();
            if reason.is_empty() {
                s.toast("type a reason: it is kept in the event log", ToastKind::Error);
                s.modal = Some(Modal::Text { prompt, value, then: TextFor::Reason { title, lines, action } });
                return vec![];
            }
            let action = match action {
                Action::Block(email, _) => Action::Block(email, Some(reason.clone())),
                Action::BlockMany { selector, status, .. } => {
                    Action::BlockMany { selector, status, reason: Some(reason.clone()) }
                }
                other => other,
            };
            lines.push(format!("Reason: {reason}"));
            s.modal = Some(confirm(title, lines, action));
        }
        TextFor::EraseTypedBack { email } => {
            if value.trim() != email {
                s.toast(format!("the address typed back does not match {email}: nothing erased"), ToastKind::Error);
                return vec![];
            }
            s.busy += 1;
            return vec![Effect::Act(Action::Erase(email))];
        }
    }
    vec![]
}

/// Erasing asks for the address, typed back whole: it cannot be undone.
pub(super) fn erase_modal(email: &str) -> Modal {
    Modal::Text {
        prompt: format!(
            "Erase {email} for good? Address, note, user agents and device hashes go everywhere; counts stay. Type the address to go on:"
        ),
        value: String::new(),
        then: TextFor::EraseTypedBack { email: email.to_string() },
    }
}

/// A bulk block's preview arrived: exactly who, then why (a reason), then y.
fn block_preview(s: &mut State, selector: BlockSelector, status: Option<String>, preview: BulkBlock) -> Vec<Effect> {
    let what = selector.describe();
    let only = status.as_deref().map(|st| format!(", only {st}")).unwrap_or_default();
    if preview.count == 0 {
        s.toast(format!("nobody to block: {what}{only} takes no one"), ToastKind::Info);
        return vec![];
    }
    let mut lines = vec![format!("{} people ({what}{only}), in signup order:", preview.count)];
    let mut shown: Vec<String> = preview.first.iter().take(SHOWN).map(|e| format!("  {e}")).collect();
    if preview.count > shown.len() {
        shown.push(format!("  … and {} more", preview.count - shown.len()));
    }
    lines.extend(shown);
    lines.push("One batch: :unblock batch ID returns exactly them to where each was.".into());
    s.modal = Some(Modal::Text {
        prompt: format!("Why block these {} people? (kept in the event log)", preview.count),
        value: String::new(),
        then: TextFor::Reason {
            title: format!("Block {} people ({what}{only})?", preview.count),
            lines,
            action: Action::BlockMany { selector, status, reason: None },
        },
    });
    vec![]
}

/// The confirmation of an email change: exactly what it will do, by status.
pub(super) fn change_email_modal(old: &str, status: &str, new: &str) -> Modal {
    let what = match status {
        "pending" | "confirmed" => {
            "Pending again until the new address is confirmed: a fresh link goes to it; links to the old one stop working."
        }
        "approved" => "Stays approved, same place in line; the invite will go to the new address.",
        "invited" => "The current access code is revoked and a fresh one is mailed to the new address.",
        _ => "The service will refuse this: joined and blocked entries keep their address.",
    };
    confirm(
        format!("Change {old} to {new}?"),
        vec![
            what.into(),
            "Place, status and history are kept; the old address is free again.".into(),
            "This can be done once: a second change is refused.".into(),
        ],
        Action::ChangeEmail { old: old.into(), new: new.into() },
    )
}

fn cancel(s: &mut State) -> Vec<Effect> {
    if s.filter.editing {
        s.filter.editing = false;
        return clear_filter(s);
    }
    s.modal = None;
    vec![]
}

fn clear_filter(s: &mut State) -> Vec<Effect> {
    s.filter.query.clear();
    refilter(s)
}

/// Re-runs the filter for the current view after the query changed.
fn refilter(s: &mut State) -> Vec<Effect> {
    s.filter.generation += 1;
    let query = s.filter.query.clone();
    match s.view {
        View::Waitlist | View::Chains => {
            let narrowing = !s.filter.answered.is_empty() && query.starts_with(&s.filter.answered);
            let within = narrowing.then(|| s.waitlist.rows.clone());
            s.filter.searching = true;
            s.filter.dirty.clear();
            vec![Effect::Filter { generation: s.filter.generation, query, within }]
        }
        View::Codes => {
            filter_codes(s);
            vec![]
        }
        View::Events => {
            events_rows(s);
            vec![]
        }
    }
}

/// `query` (lowercase, spaces ignored) in `hay` (lowercase), by the one matcher.
fn matches_text(query: &str, hay: &str) -> bool {
    let q: Vec<u8> = query.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    q.is_empty() || super::filter::subsequence(&q, hay.as_bytes())
}

/// The Codes view's filter: hint, campaign, kind and state.
fn filter_codes(s: &mut State) {
    let q = s.filter.query.to_ascii_lowercase();
    s.codes_list.rows = (0..s.codes.len() as u32)
        .filter(|&i| {
            let c = &s.codes[i as usize];
            let hay = format!(
                "{} {} {} {}",
                c.hint.as_deref().unwrap_or(""),
                c.campaign.as_deref().unwrap_or(""),
                c.kind,
                c.state
            )
            .to_ascii_lowercase();
            matches_text(&q, &hay)
        })
        .collect();
    s.codes_list.clamp();
}

fn events_rows(s: &mut State) {
    let q = s.filter.query.to_ascii_lowercase();
    let n = s.events.len();
    s.events_list.rows = (0..n as u32)
        .rev()
        .filter(|&i| {
            if q.is_empty() {
                return true;
            }
            let e = &s.events[i as usize];
            let hay = format!(
                "{} {} {} {}",
                e.kind,
                e.outcome.as_deref().unwrap_or(""),
                e.actor,
                e.ip_prefix.as_deref().unwrap_or("")
            )
            .to_ascii_lowercase();
            matches_text(&q, &hay)
        })
        .collect();
    s.events_list.clamp();
}

fn tick(s: &mut State, now: chrono::DateTime<chrono::Utc>) -> Vec<Effect> {
    s.now = now;
    s.live.roll(now);
    s.toasts.retain(|t| t.until > now);
    vec![]
}

fn message(s: &mut State, m: Msg) -> Vec<Effect> {
    match m {
        Msg::Entries { rows, total, done } => {
            let first = s.entries.is_empty();
            add_page(s, rows);
            s.entries_total = Some(total.max(s.entries.len() as u64));
            s.entries_done = done;
            let mut effects = Vec::new();
            if done && !s.filter.query.is_empty() {
                s.filter.answered.clear();
                effects.extend(refilter(s));
            }
            if s.view == View::Chains && done {
                build_chains(s);
            }
            if first {
                effects.extend(lookup_selected(s));
            }
            effects
        }
        Msg::Changed(rows) => {
            add_changed(s, rows);
            if s.view == View::Chains {
                build_chains(s);
            }
            vec![]
        }
        Msg::Filtered { generation, query, rows } => {
            if generation != s.filter.generation {
                return vec![];
            }
            // The same query answered again (the list finished loading):
            // the cursor stays on its person; a new query starts at the top.
            let stay = (query == s.filter.shown).then(|| s.waitlist.current()).flatten();
            s.filter.shown = query.clone();
            s.filter.answered = query;
            s.waitlist.rows = rows;
            s.waitlist.selected =
                stay.and_then(|row| s.waitlist.rows.iter().position(|&r| r as usize == row)).unwrap_or(0);
            // Rows that arrived or changed while the search ran on its copy.
            s.filter.searching = false;
            let dirty: Vec<usize> = std::mem::take(&mut s.filter.dirty).into_iter().map(|i| i as usize).collect();
            relist(s, &dirty);
            if s.view == View::Chains {
                build_chains(s);
            }
            lookup_selected(s)
        }
        Msg::Lookup { generation, lookup } => {
            if generation == s.detail_generation {
                s.detail = Some(*lookup);
            }
            lookup_done(s)
        }
        Msg::LookupFailed { generation, error } => {
            if generation == s.detail_generation {
                s.toast(format!("could not read the detail: {error}"), ToastKind::Error);
                // So that moving back to the row, or Enter, asks again.
                s.detail_for = None;
            }
            lookup_done(s)
        }
        Msg::Codes(codes) => {
            // The cursor stays on its code, and an active filter stays applied.
            let selected = s.selected_code().map(|c| c.id);
            s.codes = codes;
            if s.view == View::Codes && !s.filter.query.is_empty() {
                filter_codes(s);
            } else {
                s.codes_list.rows = (0..s.codes.len() as u32).collect();
            }
            if let Some(id) = selected
                && let Some(pos) = s.codes_list.rows.iter().position(|&i| s.codes[i as usize].id == id)
            {
                s.codes_list.selected = pos;
            }
            s.codes_list.clamp();
            vec![]
        }
        Msg::Events { rows, ticks } => {
            let mut changed: Vec<i64> = Vec::new();
            for e in rows {
                s.event_cursor = s.event_cursor.max(e.id);
                if let Some(id) = e.entry_id {
                    changed.push(id);
                }
                s.events.push_back(e);
            }
            while s.events.len() > EVENT_TAIL {
                s.events.pop_front();
            }
            events_rows(s);
            for t in &ticks {
                s.live.ingest(t);
            }
            // The person on screen changed: read their detail again.
            match s.detail_for {
                Some(id) if changed.contains(&id) => {
                    match s.entry_index.get(id).map(|i| s.entries[i].email.to_string()) {
                        Some(email) => request_lookup(s, email),
                        None => vec![],
                    }
                }
                _ => vec![],
            }
        }
        Msg::LiveHour { minutes, offenders } => {
            s.live.roll(s.now);
            s.live.seed(&minutes, &offenders);
            vec![]
        }
        Msg::Switches { switches, settings, sent_today, failed_mail } => {
            s.failed_mail = failed_mail;
            s.switches = switches;
            s.settings = Some(*settings);
            s.cap_sent_today = Some(sent_today);
            vec![]
        }
        Msg::BlockPreview { selector, status, preview } => {
            s.busy = s.busy.saturating_sub(1);
            block_preview(s, selector, status, preview)
        }
        Msg::Alerts(alerts) => {
            s.alerts = alerts;
            vec![]
        }
        Msg::Done(text) => {
            s.busy = s.busy.saturating_sub(1);
            s.toast(text, ToastKind::Info);
            vec![Effect::Refresh]
        }
        Msg::Quit => {
            s.quit = true;
            vec![]
        }
        Msg::Failed(text) => {
            s.busy = s.busy.saturating_sub(1);
            s.toast(text, ToastKind::Error);
            vec![]
        }
    }
}
