//! The `:` command line: `:approve 50`, `:revoke batch 12`, `:pause
//! campaign hn`, `:cap 80`, `:export FILE`, `:q`. Destructive commands still ask first.

use super::action::Effect;
use super::export::view_table;
use super::state::{State, ToastKind};
use super::update::{approve_next_modal, change_email_modal, confirm, erase_modal, revoke_scope_modal};
use crate::domain::{CodeSet, Permission, Switch};
use crate::service::{Action, BlockSelector, TreeBatch};

/// `:` commands. Destructive ones still ask first.
pub fn run_command(s: &mut State, text: &str) -> Vec<Effect> {
    let words: Vec<&str> = text.split_whitespace().collect();
    // The role is checked once, before any command is read further, with
    // the service's permission for the action the command asks for (the
    // service checks again; this only spares a confirmation that would fail).
    if let Some(p) = action_for(&words).map(|a| a.permission())
        && !s.may(p)
    {
        return vec![];
    }
    let number = |w: Option<&&str>| w.and_then(|n| n.parse::<i64>().ok()).filter(|n| *n > 0);
    match words.as_slice() {
        ["q"] | ["quit"] => s.quit = true,
        ["approve", n] => match number(Some(n)) {
            Some(n) => s.modal = Some(approve_next_modal(s, n)),
            None => s.toast(":approve needs a number, e.g. :approve 50", ToastKind::Error),
        },
        ["send", n] => match number(Some(n)) {
            Some(n) => {
                s.modal = Some(confirm(
                    format!("Send {n} invites now?"),
                    vec!["Past today's cap, oldest approval first; audited.".into()],
                    Action::SendPastCap(n as u64),
                ))
            }
            None => s.toast(":send needs a number", ToastKind::Error),
        },
        ["revoke", "batch", n] => match number(Some(n)) {
            Some(b) => {
                let title = format!("Revoke batch {b}?");
                let action = Action::Revoke(CodeSet::Batch(b));
                let counted = s.codes.groups.iter().flat_map(|g| &g.batches).find(|x| x.batch == TreeBatch::Batch(b));
                revoke_counted(s, title, counted.map(|x| x.totals), action);
            }
            None => s.toast(":revoke batch needs a batch number", ToastKind::Error),
        },
        ["revoke", "campaign", c] => {
            let title = format!("Revoke every code of campaign {c}?");
            let action = Action::Revoke(CodeSet::Campaign(c.to_string()));
            let counted = s.codes.campaign(&c.to_ascii_lowercase()).map(|g| g.totals);
            revoke_counted(s, title, counted, action);
        }
        ["revoke", "inviter", e] => {
            s.modal = Some(confirm(
                format!("Revoke every code {e} gives out?"),
                vec![],
                Action::Revoke(CodeSet::Inviter(e.to_string())),
            ));
        }
        [verb @ ("pause" | "resume"), rest @ ..] => {
            let scope = match rest {
                [] | ["redemption"] => Some(Switch::Redemption),
                ["signups"] => Some(Switch::Signups),
                ["campaign", c] => Some(Switch::Campaign(c.to_string())),
                ["inviter", e] => Some(Switch::Inviter(e.to_string())),
                _ => None,
            };
            match scope {
                Some(scope) => {
                    let pausing = *verb == "pause";
                    let title = format!("{} {}?", if pausing { "Pause" } else { "Resume" }, scope.describe());
                    let action = if pausing { Action::Pause(scope) } else { Action::Resume(scope) };
                    s.modal =
                        Some(confirm(title, vec!["Takes effect on every server within a second.".into()], action));
                }
                None => s.toast("try :pause redemption | signups | campaign NAME | inviter EMAIL", ToastKind::Error),
            }
        }
        ["email", rest @ ..] => {
            let selected = s.selected_entry().map(|e| (e.email.to_string(), e.status.to_string()));
            let (old, status, new) = match (rest, selected) {
                ([new], Some((old, status))) => (old, status, *new),
                ([old, new], _) => {
                    let status = s
                        .entries
                        .iter()
                        .find(|e| &*e.email == *old)
                        .map(|e| e.status.to_string())
                        .unwrap_or_else(|| "?".into());
                    (old.to_string(), status, *new)
                }
                _ => {
                    s.toast(":email NEW (for the selected person) or :email OLD NEW", ToastKind::Error);
                    return vec![];
                }
            };
            match crate::domain::Email::parse(new) {
                Ok(new) => s.modal = Some(change_email_modal(&old, &status, new.as_str())),
                Err(e) => s.toast(format!("{e}; :email NEW takes the corrected address"), ToastKind::Error),
            }
        }
        ["block", by @ ("domain" | "prefix" | "source"), value, rest @ ..] if rest.len() <= 1 => {
            let selector = match *by {
                "domain" => BlockSelector::Domain(value.to_string()),
                "prefix" => BlockSelector::Prefix(value.to_string()),
                _ => BlockSelector::Source(value.to_string()),
            };
            s.busy += 1;
            return vec![Effect::PreviewBlock { selector, status: rest.first().map(|st| st.to_string()) }];
        }
        ["block", ..] => s.toast("try :block domain D | prefix P | source S [STATUS]", ToastKind::Error),
        ["unblock", "batch", n] => match number(Some(n)) {
            Some(b) => {
                s.modal = Some(confirm(
                    format!("Undo bulk block {b}?"),
                    vec!["Everyone it blocked who is still blocked by it goes back to where they were.".into()],
                    Action::UnblockBatch(b),
                ))
            }
            None => s.toast(":unblock batch needs the batch number the block showed", ToastKind::Error),
        },
        ["erase", rest @ ..] => {
            let email = match rest {
                [e] => Some(e.to_string()),
                [] => s.selected_entry().map(|e| e.email.to_string()),
                _ => None,
            };
            match email {
                Some(email) => s.modal = Some(erase_modal(&email)),
                None => s.toast(":erase (the selected person) or :erase EMAIL", ToastKind::Error),
            }
        }
        ["export", ..] => return export(s, text["export".len()..].trim()),
        ["cap", n] => setting(s, "daily_invite_cap", n),
        ["invites", n] => setting(s, "invites_per_user", n),
        [] => {}
        _ => s.toast(format!("unknown command ':{text}'; see ? for the list"), ToastKind::Error),
    }
    vec![]
}

/// The kind of change a command asks for (its arguments aside), for the
/// role check; none for `:q` and typos.
fn action_for(words: &[&str]) -> Option<Action> {
    match words {
        ["approve", _] => Some(Action::ApproveNext(0)),
        ["send", _] => Some(Action::SendPastCap(0)),
        ["revoke", "batch", _] => Some(Action::Revoke(CodeSet::Batch(0))),
        ["revoke", "campaign", c] => Some(Action::Revoke(CodeSet::Campaign(c.to_string()))),
        ["revoke", "inviter", e] => Some(Action::Revoke(CodeSet::Inviter(e.to_string()))),
        ["pause", ..] => Some(Action::Pause(Switch::Redemption)),
        ["resume", ..] => Some(Action::Resume(Switch::Redemption)),
        ["cap" | "invites", _] => Some(Action::Set(String::new(), String::new())),
        ["email", ..] => Some(Action::ChangeEmail { old: String::new(), new: String::new() }),
        ["block", ..] => {
            Some(Action::BlockMany { selector: BlockSelector::Domain(String::new()), status: None, reason: None })
        }
        ["unblock", "batch", _] => Some(Action::UnblockBatch(0)),
        ["erase", ..] => Some(Action::Erase(String::new())),
        _ => None,
    }
}

/// A batch or campaign revoke from the command line: exactly how many codes
/// when the Codes view has counted them, else what the service will decide.
fn revoke_counted(s: &mut State, title: String, counted: Option<crate::service::CodeTotals>, action: Action) {
    let modal = match counted {
        Some(t) => match revoke_scope_modal(title, &t, action) {
            Ok(m) => m,
            Err(why) => return s.toast(why, ToastKind::Info),
        },
        None if s.codes.loaded => {
            confirm(title, vec!["Not among the codes counted: the service says what it revokes.".into()], action)
        }
        None => confirm(title, vec!["Codes not counted yet: open Codes (2) to see how many.".into()], action),
    };
    s.modal = Some(modal);
}

/// `:export FILE`: the rows the view lists, written in the background.
fn export(s: &mut State, path: &str) -> Vec<Effect> {
    if !s.may(Permission::Read) {
        return vec![];
    }
    if path.is_empty() {
        s.toast(":export FILE writes what the view lists (CSV; JSON if FILE ends in .json)", ToastKind::Error);
        return vec![];
    }
    s.busy += 1;
    vec![Effect::Export { path: path.to_string(), table: view_table(s) }]
}

fn setting(s: &mut State, key: &str, value: &str) {
    let old = s.settings.as_ref().and_then(|x| x.get(key)).unwrap_or_else(|| "?".into());
    s.modal = Some(confirm(
        format!("Set {key} to {value}?"),
        vec![format!("Now {old}.")],
        Action::Set(key.into(), value.into()),
    ));
}
