//! Text typed into the filter, the command line, a number or text
//! prompt, and the answers to a confirmation.

use super::*;

pub(in crate::console) fn typed(s: &mut State, c: Option<char>) -> Vec<Effect> {
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

pub(in crate::console) fn submit(s: &mut State) -> Vec<Effect> {
    if s.filter.editing {
        s.filter.editing = false;
        // The Events filter is also asked of the database, below the tail.
        if s.view == View::Events && !s.filter.query.trim().is_empty() {
            return older_events(s);
        }
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
pub(in crate::console) fn text_answered(s: &mut State, prompt: String, value: String, then: TextFor) -> Vec<Effect> {
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
pub(in crate::console) fn erase_modal(email: &str) -> Modal {
    Modal::Text {
        prompt: format!(
            "Erase {email} for good? Address, note, user agents and device hashes go everywhere; counts stay. Type the address to go on:"
        ),
        value: String::new(),
        then: TextFor::EraseTypedBack { email: email.to_string() },
    }
}

/// A bulk block's preview arrived: exactly who, then why (a reason), then y.
pub(in crate::console) fn block_preview(
    s: &mut State,
    selector: BlockSelector,
    status: Option<String>,
    preview: BulkBlock,
) -> Vec<Effect> {
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
pub(in crate::console) fn change_email_modal(old: &str, status: &str, new: &str) -> Modal {
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

pub(in crate::console) fn cancel(s: &mut State) -> Vec<Effect> {
    if s.filter.editing {
        s.filter.editing = false;
        return clear_filter(s);
    }
    s.modal = None;
    vec![]
}
