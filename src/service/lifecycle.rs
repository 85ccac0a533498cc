//! The person's lifecycle as support and the sweeper see it: an email
//! corrected once, and access codes that remind before they expire and,
//! expired unused, send the entry back to the approved queue.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::MailKind;
use crate::domain::code::{CodeKind, CodeStatus};
use crate::domain::timefmt::utc_minute;
use crate::domain::{CodeSet, Email, EntryStatus, EventKind, Permission, Standing, Transition};
use crate::store::{EXPIRED_UNUSED, LOCK_INVITE_SWEEP, NewEvent, NewMail, StatusStamps, StoreError};

/// The most reminders, and separately expiries, one sweep handles.
pub const SWEEP_BATCH: i64 = 500;

/// What `change_email` did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailChange {
    pub old: String,
    pub new: String,
    /// The status after the change.
    pub status: String,
    /// What went to the new address, in words.
    pub mailed: String,
}

/// What one sweep of the invites did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InviteSweep {
    /// Reminder mails queued.
    pub reminded: usize,
    /// Entries whose access code expired unused: approved again.
    pub expired: Vec<String>,
}

impl Velvet {
    /// Support corrects a person's address, once (a typo at signup). The
    /// entry keeps its place, status and history; the old address is free
    /// again. Pending or confirmed: pending again, with a confirmation link
    /// to the new address (links mailed to the old one stop working).
    /// Approved: stays approved; the invite will go to the new address.
    /// Invited: the access code is revoked and a fresh one mailed to the new
    /// address. Joined (the product owns the account) and blocked entries
    /// are refused, and so is a second change.
    pub async fn change_email(&self, actor: &Actor, old: &str, new: &str) -> Result<EmailChange> {
        actor.require(Permission::ChangeEmail)?;
        let new_email = Email::parse(new)?;
        let display = new.trim();
        let now = self.now();
        let mut tx = self.store.write().await?;
        let entry = self.entry_for(&mut tx, old).await?;
        if entry.email == new_email.as_str() {
            return Err(Error::InvalidInput(format!("{new_email} is already this entry's address: nothing to change")));
        }
        let from = entry.status()?;
        match from {
            EntryStatus::Joined => {
                return Err(Error::Conflict(format!(
                    "{} has joined: the product owns the account now, so the address is changed there, not here",
                    entry.email
                )));
            }
            EntryStatus::Blocked { .. } => {
                return Err(Error::Conflict(format!(
                    "{} is blocked: unblock it first if the change is wanted, or ask them to sign up again",
                    entry.email
                )));
            }
            EntryStatus::Waiting(_) => {}
        }
        if let Some(earlier) = tx.last_entry_event(entry.id, EventKind::EmailChanged.as_str()).await? {
            return Err(Error::Conflict(format!(
                "{}: this address was already changed once on {}; block and ask them to sign up again if it is wrong again",
                entry.email,
                crate::domain::timefmt::utc_day(earlier.at)
            )));
        }
        // Operators may hear that the address is taken; nothing here says by whom.
        let taken = || {
            Error::Conflict(format!(
                "{new_email} is already on the waitlist as another entry; look it up before changing {} to it",
                entry.email
            ))
        };
        if tx.entry_by_email(new_email.as_str()).await?.is_some() {
            return Err(taken());
        }
        match tx.change_entry_email(entry.id, &entry.email, new_email.as_str(), display).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::Conflict(format!("{} changed meanwhile; look it up and try again", entry.email)));
            }
            Err(StoreError::Conflict(_)) => return Err(taken()),
            Err(e) => return Err(e.into()),
        }
        tx.supersede_queued_mail(entry.id, "the address was changed before it was sent", now).await?;
        let e = NewEvent {
            detail: Some(format!("{} → {}", entry.email, new_email)),
            rule: Some(format!("was {from}")),
            ..event(EventKind::EmailChanged, actor)
        };
        let to = self.transition(&mut tx, &entry, Transition::ChangeEmail, StatusStamps::default(), e).await?;
        let mut moved = entry.clone();
        moved.email = new_email.as_str().to_string();
        moved.email_display = display.to_string();
        let mailed = match to {
            EntryStatus::Waiting(Standing::Pending) => {
                tx.expire_tokens_of(entry.id, now).await?;
                self.queue_confirmation(&mut tx, &moved).await?;
                format!("a confirmation link to {new_email}")
            }
            EntryStatus::Waiting(Standing::Invited) => {
                let what = "new access code to the changed address";
                self.reissue_access_code(&mut tx, &moved, actor, "email changed", "email change", what).await?;
                format!("a fresh access code to {new_email} (the old code is revoked)")
            }
            _ => format!("nothing yet: the invite will go to {new_email}"),
        };
        tx.commit().await?;
        let old_masked = Email::parse(&entry.email).map(|e| e.masked()).unwrap_or_default();
        tracing::info!(entry = entry.id, from = %old_masked, to = %new_email.masked(), by = actor.name(), "email changed");
        Ok(EmailChange { old: entry.email, new: new_email.to_string(), status: to.to_string(), mailed })
    }

    /// What the sweeper inside `serve` runs: queues one reminder per
    /// delivered access code that expires within `invite_reminder_days`,
    /// and returns entries whose access code expired unused to `approved`
    /// (an `invite_expired` event; the code is ended for good, so a late
    /// delivery cannot bring it back). The pacer then invites them again
    /// in the usual order, oldest approval first.
    ///
    /// The daily cap counts today's `invite_sent` events. An expired invite
    /// was sent on an earlier day (access codes live at least one day from
    /// the moment they are sent), so its re-invite is the only one counted
    /// today: nothing is counted twice.
    pub async fn sweep_invites(&self) -> Result<InviteSweep> {
        let now = self.now();
        let actor = Actor::System("sweeper");
        let mut tx = self.store.write().await?;
        tx.lock(LOCK_INVITE_SWEEP).await?;
        let settings = Self::load_settings(&mut tx).await?;
        let mut out = InviteSweep::default();
        if let Some(lead) = settings.invite_reminder_lead() {
            for (code_id, entry_id, email, expires_at, _) in tx.codes_due_reminder(now, now + lead, SWEEP_BATCH).await?
            {
                let mail = NewMail {
                    kind: MailKind::Invite,
                    entry_id: Some(entry_id),
                    code_id: Some(code_id),
                    recipient: &email,
                    payload: Some(super::mail::REMINDER),
                };
                tx.enqueue(mail, now).await?;
                let e = NewEvent {
                    entry_id: Some(entry_id),
                    code_id: Some(code_id),
                    detail: Some(format!("the access code expires {}", utc_minute(expires_at))),
                    ..event(EventKind::InviteReminder, &actor)
                };
                self.record(&mut tx, e).await?;
                out.reminded += 1;
            }
        }
        for (code_id, entry_id, _, expires_at, hint) in tx.expired_unused_access(now, SWEEP_BATCH).await? {
            let Some(entry) = tx.entry_by_id_locked(entry_id).await? else { continue };
            tx.revoke_codes(&CodeSet::Code(code_id), now, actor.name(), Some(EXPIRED_UNUSED)).await?;
            // A reissued code that still works keeps the entry invited.
            let usable = tx.codes_of_entry(entry.id).await?.into_iter().any(|c| {
                c.id != code_id
                    && c.kind == CodeKind::Access
                    && c.status == CodeStatus::Active
                    && (c.expires_at > now || c.uses > 0)
            });
            if usable || entry.status()? != EntryStatus::INVITED {
                continue;
            }
            let e = NewEvent {
                code_id: Some(code_id),
                detail: Some(format!(
                    "access code …{} expired unused on {}",
                    hint.as_deref().unwrap_or("----"),
                    crate::domain::timefmt::utc_day(expires_at)
                )),
                ..event(EventKind::InviteExpired, &actor)
            };
            self.transition(&mut tx, &entry, Transition::InviteExpired, StatusStamps::default(), e).await?;
            out.expired.push(entry.email);
        }
        tx.commit().await?;
        Ok(out)
    }
}
