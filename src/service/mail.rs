//! Delivering the outbox. Secrets are minted here, at delivery: the row
//! says "send entry 7 its invite", and only now is a code generated, its
//! hash stored and its plaintext put in the message. Nothing secret rests
//! in the outbox.

use super::{Actor, Result, Velvet, event};
use crate::domain::token::ConfirmToken;
use crate::domain::{EventKind, InviteCode};
use crate::store::{INTERRUPTED, NewEvent, OutboxRow, Tx};
use chrono::Duration;

const CONFIRM_TEMPLATE: &str = include_str!("../../assets/mail/confirm.txt");
const INVITE_TEMPLATE: &str = include_str!("../../assets/mail/invite.txt");
const REFERRAL_TEMPLATE: &str = include_str!("../../assets/mail/referral.txt");
const ALREADY_JOINED_TEMPLATE: &str = include_str!("../../assets/mail/already_joined.txt");

/// Attempts before a message is marked failed for good.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed message is reserved for one dispatcher.
pub const LEASE: Duration = Duration::minutes(5);

/// A rendered message ready for a transport. Holds a secret: never log it.
pub struct OutgoingMail {
    pub outbox_id: i64,
    pub entry_id: Option<i64>,
    pub kind: String,
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
        let (subject, body) = match row.kind.as_str() {
            "confirm" => {
                let Some(entry_id) = row.entry_id else { return Ok(Rendered::Failed(NO_TARGET)) };
                let token = ConfirmToken::generate();
                tx.insert_token(entry_id, &token.hash(), now, now + settings.confirm_token_ttl()).await?;
                let link = format!("{}/v1/confirm/{}", public_url.trim_end_matches('/'), token.as_str());
                render(CONFIRM_TEMPLATE, &[("link", &link), ("hours", &settings.confirm_token_hours.to_string())])
            }
            "invite" | "referral" => {
                let Some(code_id) = row.code_id else { return Ok(Rendered::Failed(NO_TARGET)) };
                let Some(stored) = tx.code_by_id(code_id).await? else { return Ok(Rendered::Failed(NO_TARGET)) };
                let code = InviteCode::generate(stored.prefix.as_deref())?;
                let ttl = if row.kind == "invite" { settings.access_code_ttl() } else { settings.referral_code_ttl() };
                let expires = now + ttl;
                if !tx.mint_code(code_id, &code.hash().0, &code.hint(), expires).await? {
                    let used = tx.code_by_id(code_id).await?.is_some_and(|c| c.uses > 0);
                    return Ok(if used { Rendered::Delivered } else { Rendered::Failed(REVOKED) });
                }
                let template = if row.kind == "invite" { INVITE_TEMPLATE } else { REFERRAL_TEMPLATE };
                render(template, &[("code", &code.to_string()), ("expires", &crate::domain::timefmt::utc_minute(expires))])
            }
            // A joined person redeemed a code again (the redeem answer was
            // the unconfirmed one, so it could not tell a prober anything).
            "already_joined" => render(ALREADY_JOINED_TEMPLATE, &[]),
            _ => (String::new(), row.payload.clone().unwrap_or_default()),
        };
        Ok(Rendered::Mail(OutgoingMail { outbox_id: row.id, entry_id: row.entry_id, kind: row.kind.clone(), to: row.recipient.clone(), subject, body, attempts: row.attempts }))
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

    /// Records a failed delivery: retried with backoff, or failed for good
    /// after `MAX_ATTEMPTS` (then an event tells support why).
    pub async fn mail_failed(&self, mail: &OutgoingMail, error: &str) -> Result<()> {
        let entry_id = mail.entry_id;
        let now = self.now();
        let error: String = error.chars().take(300).collect();
        let give_up = mail.attempts >= MAX_ATTEMPTS;
        let retry_at = (!give_up).then(|| now + backoff(mail.attempts));
        let mut tx = self.store.write().await?;
        tx.mark_mail_failed(mail.outbox_id, &error, retry_at, now).await?;
        if give_up {
            let e = NewEvent { entry_id, reason: Some(error), detail: Some(mail.kind.clone()), ..event(EventKind::MailFailed, &Actor::System("mailer")) };
            self.record(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }
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
}
