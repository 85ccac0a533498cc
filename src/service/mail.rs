//! Delivering the outbox. Secrets are minted here, at delivery: the row
//! says "send entry 7 its invite", and only now is a code generated, its
//! hash stored and its plaintext put in the message. Nothing secret rests
//! in the outbox.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::code::{CodeState, CodeStatus};
use crate::domain::token::ConfirmToken;
use crate::domain::{EntryStatus, EventKind, InviteCode, Permission};
use crate::domain::{MailKind, MailStatus};
use crate::store::{INTERRUPTED, NewEvent, OutboxRow, Tx};
use chrono::{DateTime, Duration, Utc};

const CONFIRM_TEMPLATE: &str = include_str!("../../assets/mail/confirm.txt");
const INVITE_TEMPLATE: &str = include_str!("../../assets/mail/invite.txt");
const REFERRAL_TEMPLATE: &str = include_str!("../../assets/mail/referral.txt");
const ALREADY_JOINED_TEMPLATE: &str = include_str!("../../assets/mail/already_joined.txt");
const REMINDER_TEMPLATE: &str = include_str!("../../assets/mail/invite_reminder.txt");

/// The payload of an `invite` outbox row that is the reminder before the
/// code expires (not the invite itself): it carries no code, mints nothing.
pub(crate) const REMINDER: &str = "reminder";

/// Attempts before a mail is marked failed (about an hour of backoff).
pub const MAX_ATTEMPTS: i64 = 8;
/// Attempts before a webhook is marked failed: the product's endpoint may
/// be down for a while, so it is tried for more than a day (the backoff
/// reaches its 1 h cap after 7 tries; 31 waits add up to about 25 h).
pub const WEBHOOK_MAX_ATTEMPTS: i64 = 32;
/// The kinds of message in the outbox.
pub const MAIL_KINDS: [MailKind; 6] = MailKind::ALL;
/// The most failed messages one listing or `retry --all` handles.
pub const MAX_FAILED_LISTED: i64 = 10_000;

/// Attempts a message of `kind` gets before it is marked failed.
pub fn max_attempts(kind: MailKind) -> i64 {
    if kind == MailKind::Webhook { WEBHOOK_MAX_ATTEMPTS } else { MAX_ATTEMPTS }
}

/// A message that gave up, as `velvet mail failed` shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FailedMail {
    pub id: i64,
    pub kind: MailKind,
    pub entry_id: Option<i64>,
    /// The address (as every operator view shows it), or `webhook`.
    pub recipient: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub failed_at: DateTime<Utc>,
}

impl FailedMail {
    fn from_row(r: &OutboxRow) -> FailedMail {
        FailedMail {
            id: r.id,
            kind: r.kind,
            entry_id: r.entry_id,
            recipient: r.recipient.clone(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            failed_at: r.next_attempt_at,
        }
    }
}

/// Which failed messages to send again.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailRetry {
    One(i64),
    All { kind: Option<String> },
}

/// What `retry_mail` did with one failed message.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RetriedMail {
    pub id: i64,
    pub kind: MailKind,
    pub recipient: String,
    /// Queued again; otherwise `skipped` says why not.
    pub retried: bool,
    pub skipped: Option<String>,
}
/// How long a claimed message is reserved for one dispatcher.
pub const LEASE: Duration = Duration::minutes(5);

/// A rendered message ready for a transport. Holds a secret: never log it.
pub struct OutgoingMail {
    pub outbox_id: i64,
    pub entry_id: Option<i64>,
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutgoingMail(#{} {} attempt {})", self.outbox_id, self.kind, self.attempts)
    }
}

/// What a claimed message turned into.
enum Rendered {
    Mail(OutgoingMail),
    /// Its code was used already: an earlier, interrupted delivery arrived.
    Delivered,
    /// It cannot be sent: why.
    Failed(&'static str),
}

const REVOKED: &str = "the code was revoked before it could be sent";
const NO_TARGET: &str = "the person or code it was for no longer exists";

fn render(template: &str, vars: &[(&str, &str)]) -> (String, String) {
    let mut text = template.to_string();
    for (k, v) in vars {
        text = text.replace(&format!("{{{k}}}"), v);
    }
    let (subject, body) = text.split_once("\n\n").unwrap_or(("", &text));
    (subject.trim_start_matches("Subject:").trim().to_string(), body.to_string())
}

/// Backoff before retry `attempt` (1-based): 30 s, 1 min, 2 min … capped at 1 h.
pub fn backoff(attempt: i64) -> Duration {
    let secs = 30i64.saturating_mul(1 << attempt.clamp(1, 8).saturating_sub(1));
    Duration::seconds(secs.min(3600))
}

impl Velvet {
    /// Claims up to `limit` due messages and renders them, minting their
    /// codes and tokens. `public_url` prefixes confirmation links. A
    /// message whose earlier delivery was cut off and whose code has been
    /// used since is marked sent without a second mail.
    pub async fn claim_mail(&self, public_url: &str, limit: i64) -> Result<Vec<OutgoingMail>> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        let rows = tx.claim_mail(now, now + LEASE, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let interrupted = row.last_error.as_deref() == Some(INTERRUPTED);
            let why = match self.render_row(&mut tx, &row, public_url).await? {
                Rendered::Mail(mail) => {
                    out.push(mail);
                    // It may or may not have reached the recipient: it goes
                    // out again with a fresh code (the earlier one stops
                    // working) or link, and the trail says why there may be two.
                    "an earlier delivery was cut off before it was recorded; sent again with a fresh code or link"
                }
                Rendered::Delivered => {
                    tx.mark_mail_sent(row.id, now).await?;
                    "an earlier delivery was cut off before it was recorded, but its code has been used since: it arrived, not sent again"
                }
                Rendered::Failed(reason) => {
                    tx.mark_mail_failed(row.id, reason, None, now).await?;
                    reason
                }
            };
            if interrupted {
                let e = NewEvent {
                    entry_id: row.entry_id,
                    code_id: row.code_id,
                    reason: Some(why.to_string()),
                    detail: Some(format!("{} #{}", row.kind, row.id)),
                    ..event(EventKind::MailInterrupted, &Actor::System("mailer"))
                };
                self.record(&mut tx, e).await?;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn render_row(&self, tx: &mut Tx, row: &OutboxRow, public_url: &str) -> Result<Rendered> {
        let now = self.now();
        let settings = Self::load_settings(tx).await?;
        let (subject, body) = match row.kind {
            MailKind::Confirm => {
                let Some(entry_id) = row.entry_id else { return Ok(Rendered::Failed(NO_TARGET)) };
                let token = ConfirmToken::generate();
                tx.insert_token(entry_id, &token.hash(), now, now + settings.confirm_token_ttl()).await?;
                let link = format!("{}/v1/confirm/{}", public_url.trim_end_matches('/'), token.as_str());
                render(CONFIRM_TEMPLATE, &[("link", &link), ("hours", &settings.confirm_token_hours.to_string())])
            }
            MailKind::Invite if row.payload.as_deref() == Some(REMINDER) => {
                let Some(code_id) = row.code_id else { return Ok(Rendered::Failed(NO_TARGET)) };
                let Some(stored) = tx.code_by_id(code_id).await? else { return Ok(Rendered::Failed(NO_TARGET)) };
                if stored.state(now) != CodeState::Active {
                    // Used, revoked or expired meanwhile: nothing to remind of.
                    return Ok(Rendered::Delivered);
                }
                render(REMINDER_TEMPLATE, &[("expires", &crate::domain::timefmt::utc_minute(stored.expires_at))])
            }
            MailKind::Invite | MailKind::Referral => {
                let Some(code_id) = row.code_id else { return Ok(Rendered::Failed(NO_TARGET)) };
                let Some(stored) = tx.code_by_id(code_id).await? else { return Ok(Rendered::Failed(NO_TARGET)) };
                let code = InviteCode::generate(stored.prefix.as_deref())?;
                let ttl = if row.kind == MailKind::Invite {
                    settings.access_code_ttl()
                } else {
                    settings.referral_code_ttl()
                };
                let expires = now + ttl;
                if !tx.mint_code(code_id, &code.hash().0, &code.hint(), expires).await? {
                    let used = tx.code_by_id(code_id).await?.is_some_and(|c| c.uses > 0);
                    return Ok(if used { Rendered::Delivered } else { Rendered::Failed(REVOKED) });
                }
                let template = if row.kind == MailKind::Invite { INVITE_TEMPLATE } else { REFERRAL_TEMPLATE };
                render(
                    template,
                    &[("code", &code.to_string()), ("expires", &crate::domain::timefmt::utc_minute(expires))],
                )
            }
            // A joined person redeemed a code again (the redeem answer was
            // the unconfirmed one, so it could not tell a prober anything).
            MailKind::AlreadyJoined => render(ALREADY_JOINED_TEMPLATE, &[]),
            MailKind::Webhook | MailKind::Alert => (String::new(), row.payload.clone().unwrap_or_default()),
        };
        Ok(Rendered::Mail(OutgoingMail {
            outbox_id: row.id,
            entry_id: row.entry_id,
            kind: row.kind,
            to: row.recipient.clone(),
            subject,
            body,
            attempts: row.attempts,
        }))
    }

    /// Returns claimed messages that were not attempted (their dispatcher
    /// ran short of lease time) to the queue, without an interruption record.
    pub async fn release_mail(&self, outbox_ids: &[i64]) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        for id in outbox_ids {
            tx.release_claim(*id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Messages queued or being sent.
    pub async fn outbox_depth(&self) -> Result<i64> {
        let mut tx = self.store.read().await?;
        Ok(tx.outbox_depth().await?)
    }

    pub async fn mail_sent(&self, outbox_id: i64) -> Result<()> {
        let mut tx = self.store.write().await?;
        tx.mark_mail_sent(outbox_id, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed delivery: retried with backoff, or marked failed
    /// after [`max_attempts`] for its kind (then an event tells support why,
    /// and `velvet mail retry` can send it again).
    pub async fn mail_failed(&self, mail: &OutgoingMail, error: &str) -> Result<()> {
        let entry_id = mail.entry_id;
        let now = self.now();
        let error: String = error.chars().take(300).collect();
        let give_up = mail.attempts >= max_attempts(mail.kind);
        let retry_at = (!give_up).then(|| now + backoff(mail.attempts));
        let mut tx = self.store.write().await?;
        tx.mark_mail_failed(mail.outbox_id, &error, retry_at, now).await?;
        if give_up {
            let e = NewEvent {
                entry_id,
                reason: Some(error),
                detail: Some(mail.kind.to_string()),
                ..event(EventKind::MailFailed, &Actor::System("mailer"))
            };
            self.record(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Velvet {
    /// Messages that gave up (and were not replaced by a newer one), oldest
    /// first, optionally of one kind.
    pub async fn failed_mail(&self, actor: &Actor, kind: Option<&str>) -> Result<Vec<FailedMail>> {
        actor.require(Permission::Read)?;
        let kind = kind.map(check_kind).transpose()?;
        let mut tx = self.store.read().await?;
        Ok(tx.failed_mail(None, kind, MAX_FAILED_LISTED).await?.iter().map(FailedMail::from_row).collect())
    }

    /// How many messages `failed_mail` lists: the Live pane's count.
    pub async fn failed_mail_count(&self, actor: &Actor) -> Result<i64> {
        actor.require(Permission::Read)?;
        Ok(self.store.read().await?.count_failed_mail().await?)
    }

    /// Queues failed messages again with a fresh count of attempts, each
    /// audited (`mail_retried`, naming the operator). An invite or referral
    /// goes out with a fresh code, minted at delivery, and the code any
    /// earlier attempt carried stops working; one whose code was revoked or
    /// used since is skipped, and so is a confirmation link for someone
    /// confirmed since. Retrying one message that cannot be sent is an error
    /// saying why.
    pub async fn retry_mail(&self, actor: &Actor, which: &MailRetry) -> Result<Vec<RetriedMail>> {
        actor.require(Permission::RetryMail)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let rows = match which {
            MailRetry::One(id) => {
                let rows = tx.failed_mail(Some(*id), None, 1).await?;
                if rows.is_empty() {
                    return Err(match tx.outbox_row(*id).await? {
                        None => {
                            Error::NotFound(format!("no message #{id}; `velvet mail failed` lists the failed ones"))
                        }
                        Some(r) if r.status != MailStatus::Failed => {
                            Error::Conflict(format!("message #{id} is {}, not failed: nothing to retry", r.status))
                        }
                        Some(r) => Error::Conflict(format!(
                            "message #{id} was replaced by a newer {} message (a reissue or a fresh link): nothing to retry",
                            r.kind
                        )),
                    });
                }
                rows
            }
            MailRetry::All { kind } => {
                let kind = kind.as_deref().map(check_kind).transpose()?;
                tx.failed_mail(None, kind, MAX_FAILED_LISTED).await?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let skipped = self.why_not_retry(&mut tx, row).await?;
            if let (MailRetry::One(_), Some(why)) = (which, &skipped) {
                return Err(Error::Conflict(format!("message #{} cannot be sent again: {why}", row.id)));
            }
            let retried = skipped.is_none() && self.requeue_audited(&mut tx, row, actor, now).await?;
            out.push(RetriedMail { id: row.id, kind: row.kind, recipient: row.recipient.clone(), retried, skipped });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Why a failed message would fail again at once, if it would.
    async fn why_not_retry(&self, tx: &mut Tx, row: &OutboxRow) -> Result<Option<String>> {
        match row.kind {
            MailKind::Invite | MailKind::Referral => {
                let Some(code) = (match row.code_id {
                    Some(id) => tx.code_by_id(id).await?,
                    None => None,
                }) else {
                    return Ok(Some(NO_TARGET.into()));
                };
                Ok(if code.status == CodeStatus::Revoked {
                    Some("its code was revoked; `velvet reissue EMAIL` sends a fresh invite".into())
                } else if code.uses > 0 {
                    Some("its code has been used since".into())
                } else {
                    None
                })
            }
            MailKind::Confirm => {
                let entry = match row.entry_id {
                    Some(id) => tx.entry_by_id(id).await?,
                    None => None,
                };
                Ok(match entry {
                    None => Some(NO_TARGET.into()),
                    Some(e) if e.status()? != EntryStatus::PENDING => {
                        Some(format!("{} is {} already", e.email, e.status()?))
                    }
                    Some(_) => None,
                })
            }
            _ => Ok(None),
        }
    }

    /// Queues again the failed referral mail of a joined person (each goes
    /// out with a fresh code); returns how many. For `reissue`.
    pub(crate) async fn resend_failed_referrals(&self, tx: &mut Tx, entry_id: i64, actor: &Actor) -> Result<usize> {
        let now = self.now();
        let mut n = 0;
        for row in tx.mail_of_entry(entry_id).await? {
            if row.kind != MailKind::Referral
                || row.status != MailStatus::Failed
                || self.why_not_retry(tx, &row).await?.is_some()
            {
                continue;
            }
            if self.requeue_audited(tx, &row, actor, now).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Queues a failed message again and records who did, in `tx`; false
    /// when it was no longer failed.
    async fn requeue_audited(&self, tx: &mut Tx, row: &OutboxRow, actor: &Actor, now: DateTime<Utc>) -> Result<bool> {
        if !tx.requeue_failed(row.id, now).await? {
            return Ok(false);
        }
        let e = NewEvent {
            entry_id: row.entry_id,
            code_id: row.code_id,
            reason: row.last_error.clone(),
            detail: Some(format!("{} #{} after {} attempts", row.kind, row.id, row.attempts)),
            ..event(EventKind::MailRetried, actor)
        };
        self.record(tx, e).await?;
        Ok(true)
    }
}

fn check_kind(kind: &str) -> Result<MailKind> {
    MailKind::parse(kind).ok_or_else(|| {
        let known: Vec<&str> = MailKind::ALL.iter().map(|k| k.as_str()).collect();
        Error::InvalidInput(format!("--kind must be one of {}, not '{kind}'", known.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_subject_and_code_line() {
        let (subject, body) = render(INVITE_TEMPLATE, &[("code", "HN-AAAA-BBBB-CCCC-DDDD-E"), ("expires", "soon")]);
        assert_eq!(subject, "Your invite is here");
        assert!(body.lines().any(|l| l == "Invite code: HN-AAAA-BBBB-CCCC-DDDD-E"));
        assert!(!body.contains('{'));
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(3), Duration::seconds(120));
        assert_eq!(backoff(20), Duration::seconds(3600));
    }

    #[test]
    fn webhooks_keep_trying_for_a_day_and_mail_for_an_hour() {
        let waited = |kind: MailKind| (1..max_attempts(kind)).map(backoff).fold(Duration::zero(), |a, b| a + b);
        assert!(waited(MailKind::Webhook) >= Duration::hours(24), "{:?}", waited(MailKind::Webhook));
        assert!(waited(MailKind::Webhook) <= Duration::hours(26));
        assert_eq!(waited(MailKind::Invite), Duration::seconds(30 + 60 + 120 + 240 + 480 + 960 + 1920));
    }
}
