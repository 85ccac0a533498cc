//! The background work inside `velvet serve`: the mail/webhook dispatcher,
//! the invite pacer, the hold sweeper and the rate-limit sync. Each loop
//! survives database hiccups (it logs and tries again) and stops on
//! shutdown.

pub mod transport;

use crate::domain::MailKind;
use crate::limiter::{Limiter, SYNC_EVERY};
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

/// What a round of a loop asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for the period (or a wake-up).
    Wait,
    /// Go again at once: there is more to do.
    Now,
}

/// The one shape of every background loop: run `round` (given its number,
/// from 0), then wait `period` — cut short by `wake` — until `stop`. A
/// round logs its own errors and is tried again next time.
pub async fn every<F, Fut>(period: Duration, mut stop: watch::Receiver<bool>, wake: Option<&Notify>, mut round: F)
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Next>,
{
    let mut n = 0;
    loop {
        let next = round(n).await;
        n += 1;
        if *stop.borrow() {
            return;
        }
        if next == Next::Now {
            continue;
        }
        let woken = async {
            match wake {
                Some(w) => w.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
    }
}

impl Dispatcher {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let this = &self;
        every(Duration::from_millis(500), stop, Some(&self.wake), |_| async move {
            match this.round().await {
                Ok(n) if n > 0 => Next::Now,
                Ok(_) => Next::Wait,
                Err(e) => {
                    tracing::warn!(error = %e, "mail dispatcher: database error, retrying");
                    Next::Wait
                }
            }
        })
        .await
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
        let (pages, batch): (Vec<_>, Vec<_>) = claimed.into_iter().partition(|m| m.kind == MailKind::Alert);
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
            let result = if mail.kind == MailKind::Webhook {
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
    period: Duration,
    stop: watch::Receiver<bool>,
) {
    let memo = tokio::sync::Mutex::new(crate::service::AlertMemo::default());
    let (velvet, holder, rules, wake, memo) = (&velvet, &holder, &rules, &wake, &memo);
    every(period, stop, None, |_| async move {
        match velvet.evaluate_alerts(rules, holder, page, &mut *memo.lock().await).await {
            Ok(done) if done.changed() => {
                tracing::warn!(raised = ?done.raised, reminded = ?done.reminded, resolved = ?done.resolved, "alerts");
                if page {
                    wake.notify_one();
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "alert evaluator: database error, retrying"),
        }
        Next::Wait
    })
    .await;
    if let Err(e) = velvet.release_alert_lease(holder).await {
        tracing::debug!(error = %e, "could not give the evaluator lease up; it lapses");
    }
}

/// This process's name on the lease: its pid and a random part.
pub fn holder_id() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    format!("pid{}-{}", std::process::id(), crate::domain::hex::hex(&b))
}

/// Sends invites under the daily cap as approvals arrive (checked every
/// second), and wakes the dispatcher when it queued any.
pub async fn pacer(velvet: Velvet, wake: Arc<Notify>, stop: watch::Receiver<bool>) {
    let (velvet, wake) = (&velvet, &wake);
    every(Duration::from_secs(1), stop, None, |_| async move {
        match velvet.pace().await {
            Ok(run) if !run.sent.is_empty() => {
                tracing::info!(sent = run.sent.len(), cap_left = run.cap_remaining, "invites queued");
                wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pacer: could not send invites, retrying"),
        }
        Next::Wait
    })
    .await
}

/// Frees lapsed redemption holds, reminds and expires unused invites, and
/// prunes old rate-limit state.
pub async fn sweeper(velvet: Velvet, limiter: Arc<Limiter>, stop: watch::Receiver<bool>) {
    let (velvet, limiter) = (&velvet, &limiter);
    every(Duration::from_secs(30), stop, None, |round| async move {
        if let Err(e) = velvet.sweep_holds().await {
            tracing::warn!(error = %e, "sweeper: could not release holds");
        }
        match velvet.sweep_invites().await {
            Ok(s) if s.reminded > 0 || !s.expired.is_empty() => {
                tracing::info!(reminded = s.reminded, expired = s.expired.len(), "invites swept")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeper: could not remind or expire invites"),
        }
        if round.is_multiple_of(20)
            && let Err(e) = limiter.prune().await
        {
            tracing::warn!(error = %e, "sweeper: could not prune rate-limit state");
        }
        Next::Wait
    })
    .await
}

/// Shares this process's rate-limit counts with the others, and records
/// a summary of refusals (once a second at most) for the console; a last
/// share on the way out.
pub async fn limiter_sync(velvet: Velvet, limiter: Arc<Limiter>, stop: watch::Receiver<bool>) {
    let (velvet, shared) = (&velvet, &limiter);
    every(SYNC_EVERY, stop, None, |round| async move {
        if let Err(e) = shared.sync().await {
            tracing::warn!(error = %e, "rate-limit sync failed, retrying");
        }
        if (round + 1).is_multiple_of(4) {
            for (rule, prefix, n) in shared.take_denials() {
                if let Err(e) = velvet.note_rate_limit_summary(&rule, prefix.as_deref(), n).await {
                    tracing::warn!(error = %e, "could not record a refusal summary");
                }
            }
        }
        Next::Wait
    })
    .await;
    let _ = limiter.sync().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_loop_goes_again_at_once_when_asked_waits_to_be_woken_and_stops() {
        let (stop_tx, stop) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let waker = wake.clone();
        let task = tokio::spawn(async move {
            every(Duration::from_secs(3600), stop, Some(&waker), |round| {
                let seen_tx = seen_tx.clone();
                async move {
                    seen_tx.send(round).unwrap();
                    if round < 2 { Next::Now } else { Next::Wait }
                }
            })
            .await
        });
        // Rounds 0 and 1 ask for more: three rounds without any wait.
        for expected in 0..3 {
            assert_eq!(seen.recv().await, Some(expected));
        }
        // Round 2 waits an hour, unless woken.
        wake.notify_one();
        assert_eq!(seen.recv().await, Some(3));
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(seen.recv().await, None, "no round after the stop");
    }
}
