//! Redeeming a code: the one place where people get in. Atomic: a use is
//! taken by a conditional update, never more than `max_uses`. Every
//! unusable code gets the same public answer; the reason is logged.

use super::{Actor, Error, RequestMeta, Result, Velvet, event};
use crate::domain::MailKind;
use crate::domain::code::{CodeKind, CodeStatus, RedemptionStatus};
use crate::domain::settings::day_start;
use crate::domain::{Email, EntryStatus, EventKind, InviteCode, Outcome, Switch, Transition};
use crate::store::{CodeRow, EntryRow, NewCode, NewEntry, NewEvent, NewMail, RedemptionRow, StatusStamps, Tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedeemOutcome {
    Joined {
        entry_id: i64,
    },
    /// The email is not confirmed yet: a use is held and a link mailed.
    /// Also the answer for a joined or blocked email (nothing held), so the
    /// two cannot be told apart.
    CheckEmail {
        entry_id: i64,
    },
}

/// How long after joining the same code for the same email still answers
/// "joined" (a double click, a retry after a lost answer). After that a
/// joined email gets the unconfirmed answer like any other.
const REPEAT_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

/// Why a code could not be used: private, for the event log only.
enum Refusal {
    Unknown,
    Revoked,
    Expired,
    UsedUp,
    CampaignPaused,
    InviterDisabled,
    WrongEmail,
    Blocked,
    AlreadyJoined,
    OwnCode,
}

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown code",
            Refusal::Revoked => "code revoked",
            Refusal::Expired => "code expired",
            Refusal::UsedUp => "code used up or over its daily cap",
            Refusal::CampaignPaused => "campaign paused",
            Refusal::InviterDisabled => "inviter disabled",
            Refusal::WrongEmail => "access code bound to another email",
            Refusal::Blocked => "email blocked",
            Refusal::AlreadyJoined => "email already joined",
            Refusal::OwnCode => "inviter redeeming own code",
        }
    }
}

impl Velvet {
    pub async fn redeem(&self, code: &str, email: &str, meta: &RequestMeta) -> Result<RedeemOutcome> {
        let code = InviteCode::parse(code)?;
        let display = email.trim();
        let email = Email::parse(email)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        if tx.is_paused(&Switch::Redemption).await? {
            return Err(Error::Paused("redemption".into()));
        }
        let found = tx.code_by_hash_locked(&code.hash().0).await?;
        // Locked (code first, then the person): a confirmation committing
        // meanwhile is waited for and seen, instead of holding a use for
        // someone who is confirmed already and would never complete it.
        let entry = tx.entry_by_email_locked(email.as_str()).await?;
        if let (Some(code_row), Some(entry)) = (&found, &entry)
            && let Some(repeat) = Self::repeat_of(&mut tx, code_row, entry, now).await?
        {
            return Ok(repeat);
        }
        let checked = match &found {
            None => Err(Refusal::Unknown),
            Some(c) => self.check_usable(&mut tx, c, entry.as_ref()).await?,
        };
        let quiet = matches!(checked, Err(Refusal::Blocked | Refusal::AlreadyJoined));
        if let Err(refusal) = checked
            && !quiet
        {
            return self.refuse(tx, refusal, found.as_ref(), entry.as_ref(), meta).await;
        }
        let code_row = found.expect("checked above");
        self.release_lapsed_holds(&mut tx, Some(code_row.id)).await?;
        if let (true, Some(entry)) = (quiet, &entry) {
            return self.answer_like_unconfirmed(tx, &code_row, entry, meta).await;
        }
        if !tx.take_use(code_row.id, now, day_start(now)).await? {
            return self.refuse(tx, Refusal::UsedUp, Some(&code_row), entry.as_ref(), meta).await;
        }
        let confirmed = entry.as_ref().map(|e| e.confirmed_at.is_some()).unwrap_or(false);
        let outcome = match entry {
            Some(entry) if confirmed => {
                tx.insert_redemption(code_row.id, entry.id, "completed", now, None).await?;
                self.join(&mut tx, &entry, &code_row, meta).await?;
                RedeemOutcome::Joined { entry_id: entry.id }
            }
            existing => {
                let entry = match existing {
                    Some(e) => e,
                    None => {
                        let source =
                            format!("redeem:{}", code_row.campaign.as_deref().unwrap_or(code_row.kind.as_str()));
                        let new = NewEntry {
                            email: email.as_str(),
                            email_display: display,
                            status: EntryStatus::PENDING,
                            note: None,
                            source: Some(&source),
                            ip_prefix: meta.ip_prefix.as_deref(),
                            device_hash: meta.device_hash.as_deref(),
                            now,
                        };
                        let entry = tx.insert_entry(new).await?.ok_or_else(|| {
                            Error::Conflict("the same email redeemed twice at once; try again".into())
                        })?;
                        let e = meta.stamp(event(EventKind::Signup, &Actor::Public));
                        self.record(
                            &mut tx,
                            NewEvent { entry_id: Some(entry.id), outcome: Some("ok"), detail: Some(source), ..e },
                        )
                        .await?;
                        entry
                    }
                };
                let hold = Self::load_settings(&mut tx).await?.redemption_hold();
                tx.insert_redemption(code_row.id, entry.id, "pending", now, Some(now + hold)).await?;
                self.queue_confirmation(&mut tx, &entry).await?;
                let e = meta.stamp(event(EventKind::RedeemHeld, &Actor::Public));
                let e = NewEvent {
                    entry_id: Some(entry.id),
                    code_id: Some(code_row.id),
                    campaign: code_row.campaign.clone(),
                    outcome: Some(Outcome::Held.as_str()),
                    ..e
                };
                self.record(&mut tx, e).await?;
                RedeemOutcome::CheckEmail { entry_id: entry.id }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The same person sending the same code again (a double click, or a
    /// retry after an answer that got lost) gets the same answer, and no
    /// second use is taken.
    async fn repeat_of(
        tx: &mut Tx,
        code: &CodeRow,
        entry: &EntryRow,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<RedeemOutcome>> {
        let status = entry.status()?;
        if matches!(status, EntryStatus::Blocked { .. }) {
            return Ok(None);
        }
        let earlier = tx.redemptions_of_entry(entry.id).await?;
        let mine = earlier.iter().filter(|r| r.code_id == code.id);
        for r in mine {
            match r.status {
                // "Joined" again for a double click or a retry after a lost
                // answer; later, a shared code's holder could use it to probe
                // who got in, so only an access code's one holder hears it.
                RedemptionStatus::Completed
                    if status == EntryStatus::Joined
                        && entry.joined_code_id == Some(code.id)
                        && (code.kind == CodeKind::Access
                            || r.completed_at.is_some_and(|t| t + REPEAT_WINDOW > now)) =>
                {
                    return Ok(Some(RedeemOutcome::Joined { entry_id: entry.id }));
                }
                RedemptionStatus::Pending if r.hold_expires_at.is_some_and(|t| t > now) => {
                    return Ok(Some(RedeemOutcome::CheckEmail { entry_id: entry.id }));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Everything but the use count: status, expiry, pauses, binding.
    async fn check_usable(&self, tx: &mut Tx, code: &CodeRow, entry: Option<&EntryRow>) -> Result<Result<(), Refusal>> {
        let now = self.now();
        if code.status == CodeStatus::Revoked {
            return Ok(Err(Refusal::Revoked));
        }
        if code.expires_at <= now {
            return Ok(Err(Refusal::Expired));
        }
        if let Some(campaign) = &code.campaign
            && tx.is_paused(&Switch::Campaign(campaign.clone())).await?
        {
            return Ok(Err(Refusal::CampaignPaused));
        }
        if let Some(inviter) = code.inviter_entry_id
            && tx.is_paused(&Switch::Inviter(inviter)).await?
        {
            return Ok(Err(Refusal::InviterDisabled));
        }
        if code.kind == CodeKind::Access {
            let bound_ok = code.bound_entry_id.is_some() && code.bound_entry_id == entry.map(|e| e.id);
            if !bound_ok {
                return Ok(Err(Refusal::WrongEmail));
            }
        }
        // Only now the email's own state: what came before depends on the
        // code alone, so the answer so far says nothing about the person.
        let status = match entry {
            Some(e) => Some(e.status()?),
            None => None,
        };
        match status {
            Some(EntryStatus::Blocked { .. }) => return Ok(Err(Refusal::Blocked)),
            Some(EntryStatus::Joined) => return Ok(Err(Refusal::AlreadyJoined)),
            _ => {}
        }
        // Inviters are joined, so they were answered above; a guard only.
        if code.inviter_entry_id.is_some() && code.inviter_entry_id == entry.map(|e| e.id) {
            return Ok(Err(Refusal::OwnCode));
        }
        Ok(Ok(()))
    }

    /// A usable code for an email that is joined or blocked: the answer an
    /// unconfirmed email gets (check your inbox), no use taken, so a code
    /// holder cannot probe who is on the list. A joined person is told by
    /// mail that they already have access (once per resend window); a
    /// blocked one hears nothing. The private reason goes to the event.
    /// A code with no use left is refused as for anyone.
    async fn answer_like_unconfirmed(
        &self,
        mut tx: Tx,
        code: &CodeRow,
        entry: &EntryRow,
        meta: &RequestMeta,
    ) -> Result<RedeemOutcome> {
        let now = self.now();
        if !tx.has_free_use(code.id, now, day_start(now)).await? {
            return self.refuse(tx, Refusal::UsedUp, Some(code), Some(entry), meta).await;
        }
        let joined = entry.status()? == EntryStatus::Joined;
        let mailed = joined && self.already_joined_due(&mut tx, entry).await?;
        if mailed {
            let mail = NewMail {
                kind: MailKind::AlreadyJoined,
                entry_id: Some(entry.id),
                code_id: None,
                recipient: &entry.email,
                payload: None,
            };
            tx.enqueue(mail, now).await?;
        }
        let reason = match (joined, mailed) {
            (true, true) => "email already joined; told so by mail",
            (true, false) => "email already joined; told so by mail earlier in the resend window",
            _ => "email blocked",
        };
        let e = meta.stamp(event(EventKind::RedeemAttempt, &Actor::Public));
        let e = NewEvent {
            entry_id: Some(entry.id),
            code_id: Some(code.id),
            campaign: code.campaign.clone(),
            batch_id: code.batch_id,
            referrer_id: code.inviter_entry_id,
            outcome: Some(Outcome::Failed.as_str()),
            reason: Some(reason.into()),
            ..e
        };
        self.record(&mut tx, e).await?;
        tx.commit().await?;
        Ok(RedeemOutcome::CheckEmail { entry_id: entry.id })
    }

    /// True when no "you already have access" mail went to `entry` within
    /// the resend window.
    async fn already_joined_due(&self, tx: &mut Tx, entry: &EntryRow) -> Result<bool> {
        let window = Self::load_settings(tx).await?.resend_window();
        Ok(match tx.last_mail(entry.id, MailKind::AlreadyJoined).await? {
            Some(m) => m.created_at + window <= self.now(),
            None => true,
        })
    }

    /// Records a refused redemption and answers with the generic error.
    async fn refuse(
        &self,
        mut tx: Tx,
        refusal: Refusal,
        code: Option<&CodeRow>,
        entry: Option<&EntryRow>,
        meta: &RequestMeta,
    ) -> Result<RedeemOutcome> {
        let e = meta.stamp(event(EventKind::RedeemAttempt, &Actor::Public));
        let e = NewEvent {
            entry_id: entry.map(|e| e.id),
            code_id: code.map(|c| c.id),
            campaign: code.and_then(|c| c.campaign.clone()),
            batch_id: code.and_then(|c| c.batch_id),
            referrer_id: code.and_then(|c| c.inviter_entry_id),
            outcome: Some(Outcome::Failed.as_str()),
            reason: Some(refusal.reason().to_string()),
            ..e
        };
        self.record(&mut tx, e).await?;
        tx.commit().await?;
        Err(Error::CodeUnusable)
    }

    /// Moves a confirmed entry to joined through `code` and hands out its
    /// referral codes.
    async fn join(&self, tx: &mut Tx, entry: &EntryRow, code: &CodeRow, meta: &RequestMeta) -> Result<()> {
        let transition =
            if code.kind == CodeKind::Access { Transition::RedeemAccess } else { Transition::RedeemShared };
        let stamps =
            StatusStamps { joined_code_id: Some(code.id), referrer_id: code.inviter_entry_id, ..Default::default() };
        let e = meta.stamp(event(EventKind::Joined, &Actor::Public));
        let e = NewEvent {
            code_id: Some(code.id),
            campaign: code.campaign.clone(),
            batch_id: code.batch_id,
            referrer_id: code.inviter_entry_id,
            outcome: Some(Outcome::Ok.as_str()),
            detail: Some(format!("{} code …{}", code.kind, code.hint.as_deref().unwrap_or("?"))),
            ..e
        };
        self.transition(tx, entry, transition, stamps, e).await?;
        self.notify_webhook(tx, EventKind::Joined, entry, code).await?;
        self.give_referral_codes(tx, entry).await
    }

    /// Queues the signed webhook that tells the product to create the
    /// account. The body holds no secret; it is signed at delivery.
    async fn notify_webhook(&self, tx: &mut Tx, kind: EventKind, entry: &EntryRow, code: &CodeRow) -> Result<()> {
        if !Self::load_settings(tx).await?.webhook_wants(kind) {
            return Ok(());
        }
        let referrer = match code.inviter_entry_id {
            Some(id) => tx.entry_by_id(id).await?.map(|e| e.email),
            None => None,
        };
        let body = serde_json::json!({
            "event": kind.as_str(),
            "email": entry.email,
            "entry_id": entry.id,
            "at": self.now(),
            "code_kind": code.kind,
            "campaign": code.campaign,
            "referrer": referrer,
        })
        .to_string();
        let mail = NewMail {
            kind: MailKind::Webhook,
            entry_id: Some(entry.id),
            code_id: Some(code.id),
            recipient: "webhook",
            payload: Some(&body),
        };
        tx.enqueue(mail, self.now()).await?;
        Ok(())
    }

    async fn give_referral_codes(&self, tx: &mut Tx, entry: &EntryRow) -> Result<()> {
        let settings = Self::load_settings(tx).await?;
        if settings.invites_per_user == 0 {
            return Ok(());
        }
        let now = self.now();
        let actor = Actor::System("velvet");
        let batch = tx.insert_batch(CodeKind::Referral, None, now, actor.name()).await?;
        for _ in 0..settings.invites_per_user {
            let code_id = tx
                .insert_code(NewCode {
                    hash: None,
                    hint: None,
                    prefix: None,
                    kind: CodeKind::Referral,
                    campaign: None,
                    batch_id: Some(batch),
                    inviter_entry_id: Some(entry.id),
                    bound_entry_id: None,
                    max_uses: 1,
                    daily_cap: None,
                    expires_at: now + settings.referral_code_ttl(),
                    now,
                    created_by: actor.name(),
                })
                .await?;
            let mail = NewMail {
                kind: MailKind::Referral,
                entry_id: Some(entry.id),
                code_id: Some(code_id),
                recipient: &entry.email,
                payload: None,
            };
            tx.enqueue(mail, now).await?;
            let e = NewEvent {
                entry_id: Some(entry.id),
                code_id: Some(code_id),
                batch_id: Some(batch),
                detail: Some("referral".into()),
                ..event(EventKind::CodeIssued, &actor)
            };
            self.record(tx, e).await?;
        }
        tx.set_batch_size(batch, i64::from(settings.invites_per_user)).await?;
        Ok(())
    }

    /// Finishes a redemption that was waiting for this (now confirmed) email.
    /// If the hold lapsed, the use is taken again when one is free. If the
    /// hold is gone (a sweeper released it meanwhile and gave its use back,
    /// which someone else may have taken), the person is confirmed but does
    /// not join on that code, and the event says why. The held row is
    /// locked first, so this is decided on the row as it is, not as an
    /// earlier read saw it.
    pub(crate) async fn complete_held(
        &self,
        tx: &mut Tx,
        entry: &EntryRow,
        held: &RedemptionRow,
        meta: &RequestMeta,
    ) -> Result<bool> {
        let now = self.now();
        // The code first, then its hold: the order a redemption of the same
        // code takes them in, so the two cannot deadlock on PostgreSQL.
        let code =
            tx.code_by_id_locked(held.code_id).await?.ok_or_else(|| Error::NotFound("held code vanished".into()))?;
        let current = tx.redemption_locked(held.id).await?;
        if current.as_ref().is_none_or(|r| r.status != RedemptionStatus::Pending) {
            self.record_hold_gone(tx, entry, &code, meta).await?;
            return Ok(false);
        }
        let usable = self.check_usable(tx, &code, Some(entry)).await?;
        let lapsed = held.hold_expires_at.is_some_and(|t| t <= now);
        let refusal = match usable {
            Err(r) => Some(r),
            Ok(()) if lapsed => {
                // The hold ran out: free it (and any other lapsed ones), then
                // take a use afresh if the code still has one.
                self.release_lapsed_holds(tx, Some(code.id)).await?;
                if tx.take_use(code.id, now, day_start(now)).await? { None } else { Some(Refusal::UsedUp) }
            }
            Ok(()) => None,
        };
        if let Some(r) = refusal {
            if !lapsed && tx.expire_redemption(held.id).await? {
                tx.give_back_use(code.id, day_start(held.created_at)).await?;
            }
            let e = meta.stamp(event(EventKind::RedeemAttempt, &Actor::Public));
            let e = NewEvent {
                entry_id: Some(entry.id),
                code_id: Some(code.id),
                outcome: Some(Outcome::Failed.as_str()),
                reason: Some(format!("on confirmation: {}", r.reason())),
                ..e
            };
            self.record(tx, e).await?;
            return Ok(false);
        }
        if lapsed {
            tx.insert_redemption(code.id, entry.id, "completed", now, None).await?;
        } else if !tx.complete_redemption(held.id, now).await? {
            // Locked above and seen pending: cannot happen; if it does, the
            // use is not this person's, so no join.
            self.record_hold_gone(tx, entry, &code, meta).await?;
            return Ok(false);
        }
        self.join(tx, entry, &code, meta).await?;
        Ok(true)
    }

    /// Records a confirmation that found its held use released.
    async fn record_hold_gone(&self, tx: &mut Tx, entry: &EntryRow, code: &CodeRow, meta: &RequestMeta) -> Result<()> {
        let e = meta.stamp(event(EventKind::RedeemAttempt, &Actor::Public));
        let reason = "on confirmation: the held use was released (hold lapsed) before the link was clicked; confirmed without joining";
        let e = NewEvent {
            entry_id: Some(entry.id),
            code_id: Some(code.id),
            campaign: code.campaign.clone(),
            outcome: Some(Outcome::Failed.as_str()),
            reason: Some(reason.into()),
            ..e
        };
        self.record(tx, e).await?;
        Ok(())
    }

    /// Frees the uses held by pending redemptions past their hold time.
    pub(crate) async fn release_lapsed_holds(&self, tx: &mut Tx, code_id: Option<i64>) -> Result<usize> {
        let now = self.now();
        let lapsed = tx.expire_holds(code_id, now, 1_000).await?;
        for r in &lapsed {
            tx.give_back_use(r.code_id, day_start(r.created_at)).await?;
            let e = NewEvent {
                entry_id: Some(r.entry_id),
                code_id: Some(r.code_id),
                reason: Some("email not confirmed in time".into()),
                ..event(EventKind::HoldReleased, &Actor::System("velvet"))
            };
            self.record(tx, e).await?;
        }
        Ok(lapsed.len())
    }

    /// Sweeps every lapsed hold (the server runs this periodically).
    pub async fn sweep_holds(&self) -> Result<usize> {
        let mut tx = self.store.write().await?;
        let n = self.release_lapsed_holds(&mut tx, None).await?;
        tx.commit().await?;
        Ok(n)
    }
}
