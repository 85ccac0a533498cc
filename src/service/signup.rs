//! Joining the waitlist and confirming the email (double opt-in).

use super::{Actor, Error, RequestMeta, Result, Velvet, event};
use crate::domain::MailKind;
use crate::domain::settings::day_start;
use crate::domain::token::token_hash;
use crate::domain::{Email, EntryStatus, EventKind, Outcome, Standing, Switch, Transition};
use crate::store::{EntryRow, NewEntry, NewEvent, NewMail, StatusStamps, Tx};

pub const MAX_NOTE_LEN: usize = 500;
pub const MAX_SOURCE_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A new entry; a confirmation mail is queued.
    New { entry_id: i64 },
    /// The email was already on the list; its place is kept. `mailed` says
    /// whether a fresh confirmation mail was queued (outside the resend window).
    Repeat { entry_id: i64, mailed: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Confirmed {
        entry_id: i64,
        auto_approved: bool,
    },
    /// Confirming completed a held redemption.
    Joined {
        entry_id: i64,
    },
    /// The link was already used and the email is confirmed: fine.
    /// `joined` when the person is in (a repeat gets the first answer).
    AlreadyConfirmed {
        entry_id: i64,
        joined: bool,
    },
    /// Nothing changed (e.g. the entry is blocked); answered like success.
    Ignored {
        entry_id: i64,
    },
}

/// Format characters (Unicode category Cf: bidi overrides, zero-width and
/// soft hyphens, invisible tags) and line/paragraph separators (Zl, Zp):
/// in a console or a spreadsheet they make a note read differently from
/// what it holds, or hide text in it.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}' | '\u{0890}'..='\u{0891}' | '\u{08E2}'
        | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

pub(crate) fn bounded<'a>(what: &str, value: Option<&'a str>, max: usize) -> Result<Option<&'a str>> {
    let v = value.map(str::trim).filter(|v| !v.is_empty());
    match v {
        Some(v) if v.chars().count() > max => {
            Err(Error::InvalidInput(format!("{what} is longer than {max} characters")))
        }
        Some(v) if v.chars().any(|c| c.is_control() && c != '\n') => {
            Err(Error::InvalidInput(format!("{what} contains control characters")))
        }
        Some(v) if v.chars().any(invisible) => {
            Err(Error::InvalidInput(format!("{what} contains invisible formatting characters")))
        }
        other => Ok(other),
    }
}

impl Velvet {
    /// Puts an email on the waitlist. Repeats keep one row and the place in
    /// line; a confirmation mail goes out unless one did within the resend
    /// window.
    pub async fn signup(
        &self,
        email: &str,
        note: Option<&str>,
        source: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<SignupOutcome> {
        self.signup_may_resend(email, note, source, meta, true).await
    }

    /// `signup`, where the caller's resend limit may forbid re-sending the
    /// confirmation mail (`allow_resend = false`); the answer is the same.
    pub async fn signup_may_resend(
        &self,
        email: &str,
        note: Option<&str>,
        source: Option<&str>,
        meta: &RequestMeta,
        allow_resend: bool,
    ) -> Result<SignupOutcome> {
        let display = email.trim();
        let parsed = Email::parse(email)?;
        let note = bounded("the note", note, MAX_NOTE_LEN)?;
        let source = bounded("the source", source, MAX_SOURCE_LEN)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        if tx.is_paused(&Switch::Signups).await? {
            let e = meta.stamp(event(EventKind::Signup, &Actor::Public));
            self.record(
                &mut tx,
                NewEvent { outcome: Some(Outcome::Failed.as_str()), reason: Some("signups paused".into()), ..e },
            )
            .await?;
            tx.commit().await?;
            return Err(Error::Paused("signing up".into()));
        }
        let new = NewEntry {
            email: parsed.as_str(),
            email_display: display,
            status: EntryStatus::PENDING,
            note,
            source,
            ip_prefix: meta.ip_prefix.as_deref(),
            device_hash: meta.device_hash.as_deref(),
            now,
        };
        let outcome = match tx.insert_entry(new).await? {
            Some(entry) => {
                let e = meta.stamp(event(EventKind::Signup, &Actor::Public));
                self.record(
                    &mut tx,
                    NewEvent { entry_id: Some(entry.id), outcome: Some("ok"), detail: source.map(String::from), ..e },
                )
                .await?;
                self.queue_confirmation(&mut tx, &entry).await?;
                SignupOutcome::New { entry_id: entry.id }
            }
            None => {
                let entry = tx
                    .entry_by_email(parsed.as_str())
                    .await?
                    .ok_or_else(|| Error::Conflict("signup raced a delete".into()))?;
                let attempts = tx.touch_entry(entry.id, now).await?;
                let mailed = allow_resend
                    && entry.status()? == EntryStatus::PENDING
                    && self.confirmation_due(&mut tx, &entry).await?;
                if mailed {
                    self.queue_confirmation(&mut tx, &entry).await?;
                }
                let e = meta.stamp(event(EventKind::SignupRepeat, &Actor::Public));
                let detail = format!("attempt {attempts}{}", if mailed { ", confirmation re-sent" } else { "" });
                self.record(
                    &mut tx,
                    NewEvent { entry_id: Some(entry.id), outcome: Some("ok"), detail: Some(detail), ..e },
                )
                .await?;
                SignupOutcome::Repeat { entry_id: entry.id, mailed }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records a request refused by a rate limit (the API samples these:
    /// the first refusal per rule window, so a flood costs no writes).
    pub async fn note_rate_limited(&self, action: &str, rule: &str, meta: &RequestMeta) -> Result<()> {
        let e = meta.stamp(event(EventKind::RateLimited, &Actor::Public));
        let e =
            NewEvent { outcome: Some("denied"), rule: Some(rule.to_string()), detail: Some(action.to_string()), ..e };
        let mut tx = self.store.write().await?;
        self.record(&mut tx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// True when no confirmation mail went to `entry` within the resend window.
    async fn confirmation_due(&self, tx: &mut Tx, entry: &EntryRow) -> Result<bool> {
        let window = Self::load_settings(tx).await?.resend_window();
        Ok(match tx.last_mail(entry.id, MailKind::Confirm).await? {
            Some(m) => m.created_at + window <= self.now(),
            None => true,
        })
    }

    pub(crate) async fn queue_confirmation(&self, tx: &mut Tx, entry: &EntryRow) -> Result<()> {
        let mail = NewMail {
            kind: MailKind::Confirm,
            entry_id: Some(entry.id),
            code_id: None,
            recipient: &entry.email,
            payload: None,
        };
        tx.enqueue(mail, self.now()).await?;
        Ok(())
    }

    /// Checks a confirmation link without using it (the GET a link scanner
    /// makes): `Ok` when following it would confirm or has confirmed;
    /// unknown and expired links get the one generic error. Writes nothing.
    pub async fn check_confirm_link(&self, token: &str) -> Result<()> {
        let Some(hash) = token_hash(token) else {
            return Err(Error::BadToken);
        };
        let mut tx = self.store.read().await?;
        let tok = tx.token_by_hash(&hash).await?.ok_or(Error::BadToken)?;
        let entry = tx.entry_by_id(tok.entry_id).await?.ok_or(Error::BadToken)?;
        let pending = entry.status()? == EntryStatus::PENDING;
        match (tok.used_at.is_some() || !pending, pending) {
            // Used, and the entry moved on: a repeat click is answered kindly.
            (true, false) => Ok(()),
            (true, true) => Err(Error::BadToken),
            _ if tok.expires_at <= self.now() => Err(Error::BadToken),
            _ => Ok(()),
        }
    }

    /// Follows a confirmation link (a POST: never on a plain GET). Unknown
    /// and expired links get one generic error; the reason goes to the
    /// event log. A repeat, even racing the first, gets the first's answer.
    pub async fn confirm(&self, token: &str, meta: &RequestMeta) -> Result<ConfirmOutcome> {
        let Some(hash) = token_hash(token) else {
            return Err(Error::BadToken);
        };
        let now = self.now();
        let mut tx = self.store.write().await?;
        let Some(tok) = tx.token_by_hash(&hash).await? else {
            return Err(Error::BadToken);
        };
        let entry = tx.entry_by_id(tok.entry_id).await?.ok_or(Error::BadToken)?;
        if tok.used_at.is_some() || entry.status()? != EntryStatus::PENDING {
            return self.confirm_repeat(tx, &entry, meta).await;
        }
        if tok.expires_at <= now {
            let e = meta.stamp(event(EventKind::Confirm, &Actor::Public));
            let e = NewEvent {
                entry_id: Some(entry.id),
                outcome: Some(Outcome::Failed.as_str()),
                reason: Some("link expired".into()),
                ..e
            };
            self.record(&mut tx, e).await?;
            tx.commit().await?;
            return Err(Error::BadToken);
        }
        if !tx.use_token(tok.id, now).await? {
            // A concurrent click used it first (PostgreSQL lets both read
            // it unused): start over and answer as that click did.
            drop(tx);
            let mut tx = self.store.write().await?;
            let entry = tx.entry_by_id(tok.entry_id).await?.ok_or(Error::BadToken)?;
            return self.confirm_repeat(tx, &entry, meta).await;
        }
        // A held redemption's code is locked before the entry, the order a
        // redemption takes them in, so the two cannot deadlock.
        if let Some(held) = tx.pending_redemption(entry.id).await? {
            tx.code_by_id_locked(held.code_id).await?;
        }
        let e = meta.stamp(event(EventKind::Confirm, &Actor::Public));
        self.transition(
            &mut tx,
            &entry,
            Transition::Confirm,
            StatusStamps::default(),
            NewEvent { outcome: Some("ok"), ..e },
        )
        .await?;
        let entry = tx.entry_by_id(entry.id).await?.ok_or(Error::BadToken)?;

        let outcome = if let Some(held) = tx.pending_redemption(entry.id).await? {
            if self.complete_held(&mut tx, &entry, &held, meta).await? {
                ConfirmOutcome::Joined { entry_id: entry.id }
            } else {
                ConfirmOutcome::Confirmed { entry_id: entry.id, auto_approved: false }
            }
        } else {
            let auto = self.auto_approve(&mut tx, &entry).await?;
            ConfirmOutcome::Confirmed { entry_id: entry.id, auto_approved: auto }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// A used link, or an entry no longer pending: the same answer as the
    /// first time (blocked entries are answered like success, and noted).
    async fn confirm_repeat(&self, mut tx: Tx, entry: &EntryRow, meta: &RequestMeta) -> Result<ConfirmOutcome> {
        match entry.status()? {
            EntryStatus::Waiting(Standing::Pending) => Err(Error::BadToken),
            EntryStatus::Blocked { .. } => {
                let e = meta.stamp(event(EventKind::Confirm, &Actor::Public));
                let e = NewEvent {
                    entry_id: Some(entry.id),
                    outcome: Some(Outcome::Failed.as_str()),
                    reason: Some("entry is blocked".into()),
                    ..e
                };
                self.record(&mut tx, e).await?;
                tx.commit().await?;
                Ok(ConfirmOutcome::Ignored { entry_id: entry.id })
            }
            status => {
                Ok(ConfirmOutcome::AlreadyConfirmed { entry_id: entry.id, joined: status == EntryStatus::Joined })
            }
        }
    }

    /// The 1-based place of a confirmed entry among the confirmed (oldest
    /// confirmation first); `None` once it is past confirmed.
    pub async fn place_among_confirmed(&self, entry_id: i64) -> Result<Option<i64>> {
        let mut tx = self.store.read().await?;
        let Some(entry) = tx.entry_by_id(entry_id).await? else { return Ok(None) };
        match (entry.status()?, entry.confirmed_at) {
            (EntryStatus::Waiting(Standing::Confirmed), Some(at)) => {
                Ok(Some(tx.confirmed_position(at, entry.id).await?))
            }
            _ => Ok(None),
        }
    }

    /// Applies the auto-approve rules to a just-confirmed entry. Each rule's
    /// count is read only when that rule is on, and the "first N" count stops
    /// at N + 1: a confirmation costs the same on a list of any length.
    async fn auto_approve(&self, tx: &mut Tx, entry: &EntryRow) -> Result<bool> {
        let settings = Self::load_settings(tx).await?;
        let first = i64::from(settings.auto_approve_first);
        // This entry is confirmed already in this transaction: not "before".
        let confirmed_before = if first > 0 { tx.count_confirmed_upto(first + 1).await? - 1 } else { 0 };
        let today = if settings.auto_approve_per_day > 0 {
            tx.count_rule_since(EventKind::Approve.as_str(), "auto:", day_start(self.now())).await?
        } else {
            0
        };
        let Some(rule) = settings.auto_approves(
            crate::domain::email::domain_of(&entry.email),
            confirmed_before.max(0) as u64,
            today as u64,
        ) else {
            return Ok(false);
        };
        let actor = Actor::System("auto-approve");
        let e = NewEvent { rule: Some(format!("auto:{rule}")), ..event(EventKind::Approve, &actor) };
        self.transition(tx, entry, Transition::Approve, StatusStamps::default(), e).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_refuse_control_and_invisible_characters() {
        assert_eq!(
            bounded("the note", Some("  see you at launch\nA. ✨ "), 500).unwrap(),
            Some("see you at launch\nA. ✨")
        );
        for hidden in [
            "a\u{1b}[2Jb",
            "soft\u{ad}hyphen",
            "tag\u{e0041}\u{e007f}",
            "line\u{2028}break",
            "rtl\u{202e}cba",
            "zw\u{200b}sp",
            "bom\u{feff}",
        ] {
            assert!(
                matches!(bounded("the note", Some(hidden), 500), Err(Error::InvalidInput(_))),
                "{hidden:?} was let through"
            );
        }
        assert!(matches!(bounded("the note", Some(&"x".repeat(501)), 500), Err(Error::InvalidInput(_))));
    }
}
