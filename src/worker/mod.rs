//! The background work inside `velvet serve`: the mail/webhook dispatcher,
//! the invite pacer, the hold sweeper and the rate-limit sync. Each loop
//! survives database hiccups (it logs and tries again) and stops on
//! shutdown.

pub mod transport;

use crate::api::limits::{Limiter, SYNC_EVERY};
use crate::service::Velvet;
use lettre::message::Mailbox;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use transport::{AlertWebhook, MailTransport, Webhook};

/// Mail at most this many messages per claim. Small on purpose: a server
/// killed mid-batch leaves its unsent claims leased (5 minutes) and then
/// re-sent with a `mail_interrupted` record, so the batch bounds both the
/// delay and the number of people who may get a second mail. Five SMTP
/// sends at their 20 s timeout still fit well inside the lease.
const CLAIM_BATCH: i64 = 5;

/// How often the evaluator renews its lease and applies the rules (well
/// inside `EVALUATOR_TTL`, so a live holder never loses the lease).
pub const EVALUATE_EVERY: Duration = Duration::from_secs(3);

pub struct Dispatcher {
    pub velvet: Velvet,
    pub mail: MailTransport,
    pub from: Mailbox,
    pub webhook: Option<Webhook>,
    /// `[alerts] webhook_url`: alert pages go here, each in its own task,
    /// so a slow or failing pager never holds up mail.
    pub alerts: Option<Arc<AlertWebhook>>,
    pub public_url: String,
    pub wake: Arc<Notify>,
}

impl Dispatcher {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            let sent = match self.round().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "mail dispatcher: database error, retrying");
                    0
                }
            };
            if sent > 0 {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Claims and delivers one batch; returns how many were claimed. Stops
    /// short and gives the rest back if half the lease is gone (slow SMTP),
    /// so no other dispatcher re-sends a message this one is still holding.
    /// A failure to record one outcome does not abandon the others.
    async fn round(&self) -> Result<usize, crate::service::Error> {
        let claimed_at = std::time::Instant::now();
        let budget = crate::service::LEASE.to_std().expect("the lease is a positive constant") / 2;
        let claimed = self.velvet.claim_mail(&self.public_url, CLAIM_BATCH).await?;
        let total = claimed.len();
        // Alert pages go their own way: a slow or failing pager never holds up mail.
        let (pages, batch): (Vec<_>, Vec<_>) = claimed.into_iter().partition(|m| m.kind == "alert");
        self.page(pages);
        for (i, mail) in batch.iter().enumerate() {
            if claimed_at.elapsed() > budget {
                let rest: Vec<i64> = batch[i..].iter().map(|m| m.outbox_id).collect();
                tracing::warn!(
                    left = rest.len(),
                    "mail dispatcher: half the lease is gone; giving the rest of the batch back"
                );
                if let Err(e) = self.velvet.release_mail(&rest).await {
                    tracing::warn!(error = %e, "could not give claims back; they return when the lease lapses");
                }
                break;
            }
            let result = if mail.kind == "webhook" {
                match &self.webhook {
                    Some(w) => w.send(&mail.body, self.velvet.now()).await,
                    None => Err("no webhook_url is configured in [serve]".to_string()),
                }
            } else {
                self.mail.send(&self.from, mail).await
            };
            let recorded = match result {
                Ok(()) => self.velvet.mail_sent(mail.outbox_id).await,
                Err(e) => {
                    tracing::warn!(outbox = mail.outbox_id, kind = %mail.kind, attempt = mail.attempts, error = %e, "delivery failed");
                    self.velvet.mail_failed(mail, &e).await
                }
            };
            if let Err(e) = recorded {
                // The message stays leased; when the lease lapses it is
                // sent again with a mail_interrupted record.
                tracing::warn!(outbox = mail.outbox_id, error = %e, "could not record a delivery outcome");
            }
        }
        Ok(total)
    }

    /// Delivers a batch's alert pages in a task of their own, in the
    /// order they were queued (a firing before its resolution), and
    /// records each outcome.
    fn page(&self, pages: Vec<crate::service::OutgoingMail>) {
        if pages.is_empty() {
            return;
        }
        let (velvet, hook) = (self.velvet.clone(), self.alerts.clone());
        tokio::spawn(async move {
            for mail in pages {
                let result = match &hook {
                    Some(h) => h.send(&mail.body, velvet.now()).await,
                    None => Err("no webhook_url is configured in [alerts]".to_string()),
                };
                let recorded = match result {
                    Ok(()) => velvet.mail_sent(mail.outbox_id).await,
                    Err(e) => {
                        tracing::warn!(outbox = mail.outbox_id, attempt = mail.attempts, error = %e, "alert page failed");
                        velvet.mail_failed(&mail, &e).await
                    }
                };
                if let Err(e) = recorded {
                    tracing::warn!(outbox = mail.outbox_id, error = %e, "could not record an alert page's outcome");
                }
            }
        });
    }
}

/// Evaluates the alert rules every few seconds while this process holds
/// the evaluator lease (one per deployment; another process takes over
/// within `EVALUATOR_TTL` when this one stops renewing), and gives the
/// lease up on shutdown.
pub async fn alert_evaluator(
    velvet: Velvet,
    holder: String,
    rules: crate::domain::alerts::AlertRules,
    page: bool,
    wake: Arc<Notify>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut memo = crate::service::AlertMemo::default();
    loop {
        match velvet.evaluate_alerts(&rules, &holder, page, &mut memo).await {
            Ok(done) if done.changed() => {
                tracing::warn!(raised = ?done.raised, reminded = ?done.reminded, resolved = ?done.resolved, "alerts");
                if page {
                    wake.notify_one();
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "alert evaluator: database error, retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {
                if let Err(e) = velvet.release_alert_lease(&holder).await {
                    tracing::debug!(error = %e, "could not give the evaluator lease up; it lapses");
                }
                return;
            }
        }
    }
}

/// This process's name on the lease: its pid and a random part.
pub fn holder_id() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    format!("pid{}-{}", std::process::id(), b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// Sends invites under the daily cap as approvals arrive (checked every
/// second), and wakes the dispatcher when it queued any.
pub async fn pacer(velvet: Velvet, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        match velvet.pace().await {
            Ok(run) if !run.sent.is_empty() => {
                tracing::info!(sent = run.sent.len(), cap_left = run.cap_remaining, "invites queued");
                wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pacer: could not send invites, retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Frees lapsed redemption holds and prunes old rate-limit state.
pub async fn sweeper(velvet: Velvet, limiter: Arc<Limiter>, mut stop: watch::Receiver<bool>) {
    let mut ticks: u64 = 0;
    loop {
        if let Err(e) = velvet.sweep_holds().await {
            tracing::warn!(error = %e, "sweeper: could not release holds");
        }
        if ticks.is_multiple_of(20)
            && let Err(e) = limiter.prune().await
        {
            tracing::warn!(error = %e, "sweeper: could not prune rate-limit state");
        }
        ticks += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Shares this process's rate-limit counts with the others, and records
/// a summary of refusals (once a second at most) for the console.
pub async fn limiter_sync(velvet: Velvet, limiter: Arc<Limiter>, mut stop: watch::Receiver<bool>) {
    let mut rounds: u64 = 0;
    loop {
        if let Err(e) = limiter.sync().await {
            tracing::warn!(error = %e, "rate-limit sync failed, retrying");
        }
        rounds += 1;
        if rounds.is_multiple_of(4) {
            for (rule, prefix, n) in limiter.take_denials() {
                if let Err(e) = velvet.note_rate_limit_summary(&rule, prefix.as_deref(), n).await {
                    tracing::warn!(error = %e, "could not record a refusal summary");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(SYNC_EVERY) => {}
            _ = stop.changed() => {
                let _ = limiter.sync().await;
                return;
            }
        }
    }
}
