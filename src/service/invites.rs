//! Sending invites under the daily cap (the pacing valve), and reissuing.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::MailKind;
use crate::domain::code::CodeKind;
use crate::domain::settings::{day_start, remaining_today};
use crate::domain::{CodeSet, EntryStatus, EventKind, Permission, Standing, Switch, Transition};
use crate::store::{EntryRow, LOCK_PACER, NewCode, NewEvent, NewMail, Tx};

/// The most invites one run sends (a count past it is refused, not cast).
pub const MAX_INVITES_AT_ONCE: u64 = 100_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InviteRun {
    pub batch_id: Option<i64>,
    pub sent: Vec<String>,
    /// Invites still allowed today after this run.
    pub cap_remaining: u64,
}

impl Velvet {
    /// Revokes the access code(s) bound to `entry` (an event each, with
    /// `reason` and `rule`) and queues a fresh one to its address, with a
    /// `reissue` event whose detail starts with `what`; returns how many
    /// were revoked. Reissue and an email change both go through here.
    pub(crate) async fn reissue_access_code(
        &self,
        tx: &mut Tx,
        entry: &EntryRow,
        actor: &Actor,
        reason: &str,
        rule: &str,
        what: &str,
    ) -> Result<usize> {
        let revoked = tx.revoke_codes(&CodeSet::BoundTo(entry.id), self.now(), actor.name(), Some(reason)).await?;
        for code in &revoked {
            let e = NewEvent {
                entry_id: Some(entry.id),
                code_id: Some(code.id),
                rule: Some(rule.into()),
                ..event(EventKind::Revoke, actor)
            };
            self.record(tx, e).await?;
        }
        let code_id = self.issue_access_code(tx, entry, actor).await?;
        let detail = format!("{what}; revoked {} old", revoked.len());
        let e = NewEvent {
            entry_id: Some(entry.id),
            code_id: Some(code_id),
            detail: Some(detail),
            ..event(EventKind::Reissue, actor)
        };
        self.record(tx, e).await?;
        Ok(revoked.len())
    }

    /// Sends invites to approved entries, oldest approval first, until
    /// today's cap (or `limit`) is reached. `past_cap` (admins only) sends
    /// `limit` invites regardless of the cap, audited as such.
    /// Invites sent since the start of today (UTC): what the daily cap counts.
    pub(crate) async fn sent_today(tx: &mut Tx, now: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        Ok(tx.count_events_since(EventKind::InviteSent.as_str(), day_start(now)).await? as u64)
    }

    pub async fn send_invites(&self, actor: &Actor, limit: Option<u64>, past_cap: bool) -> Result<InviteRun> {
        actor.require(if past_cap { Permission::SendPastCap } else { Permission::Approve })?;
        if past_cap && limit.is_none() {
            return Err(Error::InvalidInput("sending past the cap needs a number of invites".into()));
        }
        if limit.is_some_and(|n| n > MAX_INVITES_AT_ONCE) {
            return Err(Error::InvalidInput(format!("--limit must be between 1 and {MAX_INVITES_AT_ONCE}")));
        }
        let now = self.now();
        let mut tx = self.store.write().await?;
        tx.lock(LOCK_PACER).await?;
        let settings = Self::load_settings(&mut tx).await?;
        let remaining = remaining_today(settings.daily_invite_cap, Self::sent_today(&mut tx, now).await?);
        let n = if past_cap { limit.unwrap_or(0) } else { limit.map_or(remaining, |l| l.min(remaining)) };
        if n == 0 {
            return Ok(InviteRun { batch_id: None, sent: vec![], cap_remaining: remaining });
        }
        let take = i64::try_from(n)
            .map_err(|_| Error::InvalidInput(format!("--limit must be between 1 and {MAX_INVITES_AT_ONCE}")))?;
        let queue = tx.approved_queue(take).await?;
        if queue.is_empty() {
            return Ok(InviteRun { batch_id: None, sent: vec![], cap_remaining: remaining });
        }
        // One batch, a handful of statements, whatever the size.
        let to = EntryStatus::APPROVED
            .apply(Transition::SendInvite)
            .map_err(|source| Error::Illegal { email: "approved entries".into(), source })?;
        let batch = tx.insert_batch(CodeKind::Access, None, now, actor.name()).await?;
        let ids: Vec<i64> = queue.iter().map(|e| e.id).collect();
        let ttl = settings.access_code_ttl();
        let codes = tx.bulk_access_codes(batch, &ids, now + ttl, now, actor.name()).await?;
        let moved = tx.bulk_move(&ids, EntryStatus::APPROVED.as_str(), to.as_str(), now).await?;
        if moved != ids.len() as u64 {
            return Err(Error::Conflict(
                "some approved entries changed while their invites were being sent; try again".into(),
            ));
        }
        let code_of: std::collections::HashMap<i64, i64> =
            codes.into_iter().map(|(code, entry)| (entry, code)).collect();
        let mail: Vec<(i64, Option<i64>, String)> =
            queue.iter().map(|e| (e.id, code_of.get(&e.id).copied(), e.email.clone())).collect();
        tx.bulk_enqueue("invite", &mail, now).await?;
        let events: Vec<(chrono::DateTime<chrono::Utc>, NewEvent)> = queue
            .iter()
            .map(|e| {
                let ev = NewEvent {
                    entry_id: Some(e.id),
                    code_id: code_of.get(&e.id).copied(),
                    batch_id: Some(batch),
                    rule: past_cap.then(|| "past cap".to_string()),
                    ..event(EventKind::InviteSent, actor)
                };
                (now, ev)
            })
            .collect();
        tx.bulk_events(&events).await?;
        let sent: Vec<String> = queue.iter().map(|e| e.email.clone()).collect();
        tx.set_batch_size(batch, sent.len() as i64).await?;
        tx.commit().await?;
        let cap_remaining = remaining.saturating_sub(sent.len() as u64);
        Ok(InviteRun { batch_id: Some(batch), sent, cap_remaining })
    }

    /// What the pacer inside `serve` runs every second: send invites under
    /// today's cap, unless redemption is paused (a code nobody can use yet
    /// would only start its expiry clock).
    pub async fn pace(&self) -> Result<InviteRun> {
        let paused = self.store.read().await?.is_paused(&Switch::Redemption).await?;
        if paused {
            return Ok(InviteRun::default());
        }
        self.send_invites(&Actor::System("pacer"), None, false).await
    }

    /// Creates an access code bound to `entry` and queues the mail that
    /// will carry it (the code is minted at delivery).
    pub(crate) async fn issue_access_code(&self, tx: &mut Tx, entry: &EntryRow, actor: &Actor) -> Result<i64> {
        let now = self.now();
        let ttl = Self::load_settings(tx).await?.access_code_ttl();
        let code_id = tx
            .insert_code(NewCode {
                hash: None,
                hint: None,
                prefix: None,
                kind: CodeKind::Access,
                campaign: None,
                batch_id: None,
                inviter_entry_id: None,
                bound_entry_id: Some(entry.id),
                max_uses: 1,
                daily_cap: None,
                expires_at: now + ttl,
                now,
                created_by: actor.name(),
            })
            .await?;
        let mail = NewMail {
            kind: MailKind::Invite,
            entry_id: Some(entry.id),
            code_id: Some(code_id),
            recipient: &entry.email,
            payload: None,
        };
        tx.enqueue(mail, now).await?;
        Ok(code_id)
    }

    /// "Resend": for an invited entry, revokes its access code and sends a
    /// fresh one; for a pending entry, sends a new confirmation link.
    pub async fn reissue(&self, actor: &Actor, email: &str) -> Result<String> {
        actor.require(Permission::Reissue)?;
        let mut tx = self.store.write().await?;
        let entry = self.entry_for(&mut tx, email).await?;
        let summary = match entry.status()? {
            EntryStatus::Waiting(Standing::Invited) => {
                let revoked =
                    self.reissue_access_code(&mut tx, &entry, actor, "reissued", "reissue", "new access code").await?;
                format!("new access code; revoked {revoked} old")
            }
            EntryStatus::Waiting(Standing::Pending) => {
                self.queue_confirmation(&mut tx, &entry).await?;
                let detail = "new confirmation link".to_string();
                let e = NewEvent {
                    entry_id: Some(entry.id),
                    detail: Some(detail.clone()),
                    ..event(EventKind::Reissue, actor)
                };
                self.record(&mut tx, e).await?;
                detail
            }
            EntryStatus::Joined => {
                // A joined person whose referral mail gave up: send it again,
                // with a fresh code (minted at delivery; the one an earlier
                // attempt carried stops working).
                let n = self.resend_failed_referrals(&mut tx, entry.id, actor).await?;
                if n == 0 {
                    return Err(Error::Conflict(format!(
                        "{} has joined and no referral mail of theirs failed: there is nothing to reissue",
                        entry.email
                    )));
                }
                let detail = format!("referral mail sent again with a fresh code ({n})");
                let e = NewEvent {
                    entry_id: Some(entry.id),
                    detail: Some(detail.clone()),
                    ..event(EventKind::Reissue, actor)
                };
                self.record(&mut tx, e).await?;
                detail
            }
            other => {
                return Err(Error::Conflict(format!(
                    "{} is {other}: there is no invite or confirmation to reissue",
                    entry.email
                )));
            }
        };
        tx.commit().await?;
        Ok(summary)
    }
}
