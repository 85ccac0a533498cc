//! Alerts, evaluated by the server once per deployment: whoever holds the
//! `alert_evaluator` lease counts the figures, applies the rules of
//! `domain::alerts`, records `alert` / `alert_resolved` events and queues
//! the pages (firing, reminders while active, resolution) in the outbox.
//! The lease is taken in the same transaction as the records, so two
//! evaluators can never both record one firing.

use super::{Actor, Result, Velvet, event};
use crate::domain::MailKind;
use crate::domain::alerts::{AlertRules, Counted, Signals, first_command};
use crate::domain::{EventKind, Permission};
use crate::store::{NewEvent, NewMail, Tx};
use chrono::{DateTime, Duration, Utc};

/// The lease that makes one evaluator per deployment.
pub const EVALUATOR_LEASE: &str = "alert_evaluator";
/// How long a holder keeps the lease without renewing it.
pub const EVALUATOR_TTL: Duration = Duration::seconds(15);
/// The outbox recipient of alert pages (the URL is the server's config).
pub const ALERT_RECIPIENT: &str = "alert webhook";

/// An alert raised by the server and not yet resolved.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActiveAlert {
    pub rule: String,
    /// The figures, as of the newest record (raise or reminder).
    pub text: String,
    pub since: DateTime<Utc>,
}

/// What one evaluation did (empty when another process holds the lease).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub held: bool,
    pub raised: Vec<String>,
    pub reminded: Vec<String>,
    pub resolved: Vec<String>,
}

impl Evaluation {
    pub fn changed(&self) -> bool {
        !(self.raised.is_empty() && self.reminded.is_empty() && self.resolved.is_empty())
    }
}

/// A page as queued: velvet's JSON (signed at delivery); `summary` is the
/// text a Slack-format delivery posts.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AlertPage {
    /// `alert`, `alert_reminder` or `alert_resolved`.
    pub event: String,
    pub rule: String,
    pub text: String,
    pub since: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub command: String,
    pub summary: String,
}

fn hhmm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

fn lasted(d: Duration) -> String {
    match d.num_minutes() {
        m if m >= 120 => format!("{}h{:02}m", m / 60, m % 60),
        m if m >= 1 => format!("{m}m"),
        _ => format!("{}s", d.num_seconds().max(0)),
    }
}

impl AlertPage {
    fn new(event: &str, rule: &str, text: &str, since: DateTime<Utc>, at: DateTime<Utc>) -> AlertPage {
        let command = first_command(rule);
        let summary = match event {
            "alert" => format!("velvet ALERT {rule}: {text}. Since {}. First: {command}", hhmm(since)),
            "alert_reminder" => format!(
                "velvet ALERT {rule} still active after {} (since {}): {text}. First: {command}",
                lasted(at - since),
                hhmm(since)
            ),
            _ => format!("velvet RESOLVED {rule} after {} (raised {}): {text}", lasted(at - since), hhmm(since)),
        };
        AlertPage {
            event: event.into(),
            rule: rule.into(),
            text: text.into(),
            since,
            at,
            command: command.into(),
            summary,
        }
    }
}

/// What an evaluator remembers between rounds: the counts of the
/// complete minutes before the last one, which only change as the clock
/// moves on, so each round reads two minutes of events instead of an hour.
#[derive(Clone, Debug, Default)]
pub struct AlertMemo {
    minute: i64,
    older: Vec<crate::store::MinuteCount>,
}

impl Velvet {
    /// The alerts raised by the server and not resolved, by rule.
    pub async fn active_alerts(&self, actor: &Actor) -> Result<Vec<ActiveAlert>> {
        actor.require(Permission::Read)?;
        let rows = self.store.read().await?.active_alerts().await?;
        Ok(rows
            .into_iter()
            .map(|r| ActiveAlert {
                rule: r.rule,
                text: r.detail.unwrap_or_default(),
                since: r.since.unwrap_or(r.last_at),
            })
            .collect())
    }

    /// The figures the rules read, now (also what `/metrics` exposes).
    pub async fn alert_signals(&self) -> Result<Signals> {
        let mut tx = self.store.read().await?;
        Self::signals(&mut tx, self.now(), &mut AlertMemo::default()).await
    }

    async fn signals(tx: &mut Tx, now: DateTime<Utc>, memo: &mut AlertMemo) -> Result<Signals> {
        let now_minute = now.timestamp().div_euclid(60);
        let last_minute_start = DateTime::from_timestamp((now_minute - 1) * 60, 0).unwrap_or(now);
        if memo.minute != now_minute {
            let hour = tx.minute_counts(now - Duration::minutes(60), i64::MAX).await?;
            memo.older = hour.into_iter().filter(|c| c.minute < now_minute - 1).collect();
            memo.minute = now_minute;
        }
        let recent = tx.minute_counts(last_minute_start, i64::MAX).await?;
        let counts = memo.older.iter().chain(recent.iter());
        let offenders = tx.offender_counts(now - Duration::minutes(2), i64::MAX).await?;
        let mut s = Signals::from_counts(
            now_minute,
            counts.map(|c| Counted {
                minute: c.minute,
                kind: &c.kind,
                outcome: c.outcome.as_deref(),
                n: c.n.max(0) as u64,
            }),
            offenders.iter().filter_map(|o| Some((o.minute, o.ip_prefix.as_deref()?, o.n.max(0) as u64))),
        );
        s.failed_deliveries = tx.count_failed_mail().await?.max(0) as u64;
        s.failed_last_hour = tx.count_failed_mail_since(now - Duration::hours(1)).await?.max(0) as u64;
        s.outbox_depth = tx.outbox_depth().await?.max(0) as u64;
        s.outbox_oldest = tx.outbox_oldest_queued().await?.map(|t| (now - t).max(Duration::zero()));
        Ok(s)
    }

    /// One evaluation by `holder`: takes or renews the lease, and if it
    /// holds it, records what fired, what is still firing past
    /// `repeat_every` (a reminder) and what cleared; with `page`, queues
    /// a page for each. Without the lease it does nothing.
    pub async fn evaluate_alerts(
        &self,
        rules: &AlertRules,
        holder: &str,
        page: bool,
        memo: &mut AlertMemo,
    ) -> Result<Evaluation> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        if !tx.take_lease(EVALUATOR_LEASE, holder, now, now + EVALUATOR_TTL).await? {
            return Ok(Evaluation::default());
        }
        let signals = Self::signals(&mut tx, now, memo).await?;
        let firing = rules.evaluate(&signals);
        let active = tx.active_alerts().await?;
        let mut done = Evaluation { held: true, ..Default::default() };
        let actor = Actor::System("alerts");
        for f in &firing {
            let (outcome, since) = match active.iter().find(|a| a.rule == f.rule) {
                None => ("raised", now),
                Some(a) if a.last_at + rules.repeat_every <= now => ("reminder", a.since.unwrap_or(a.last_at)),
                Some(_) => continue,
            };
            let e = NewEvent {
                rule: Some(f.rule.to_string()),
                detail: Some(f.text.clone()),
                outcome: Some(outcome),
                ..event(EventKind::Alert, &actor)
            };
            self.record(&mut tx, e).await?;
            let kind = if outcome == "raised" { "alert" } else { "alert_reminder" };
            if page {
                Self::queue_page(&mut tx, &AlertPage::new(kind, f.rule, &f.text, since, now), now).await?;
            }
            if outcome == "raised" { &mut done.raised } else { &mut done.reminded }.push(f.rule.to_string());
        }
        let cleared = |a: &&crate::store::ActiveAlertRow| {
            !firing.iter().any(|f| f.rule == a.rule) && now - a.last_at >= rules.resolve_after
        };
        for a in active.iter().filter(cleared) {
            let since = a.since.unwrap_or(a.last_at);
            let text = format!("now {}; was {}", signals.figure(&a.rule), a.detail.as_deref().unwrap_or("?"));
            let e = NewEvent {
                rule: Some(a.rule.clone()),
                detail: Some(text.clone()),
                outcome: Some("resolved"),
                ..event(EventKind::AlertResolved, &actor)
            };
            self.record(&mut tx, e).await?;
            if page {
                Self::queue_page(&mut tx, &AlertPage::new("alert_resolved", &a.rule, &text, since, now), now).await?;
            }
            done.resolved.push(a.rule.clone());
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn queue_page(tx: &mut Tx, page: &AlertPage, now: DateTime<Utc>) -> Result<()> {
        let payload = serde_json::to_string(page).map_err(|e| super::Error::InvalidInput(e.to_string()))?;
        let mail = NewMail {
            kind: MailKind::Alert,
            entry_id: None,
            code_id: None,
            recipient: ALERT_RECIPIENT,
            payload: Some(&payload),
        };
        tx.enqueue(mail, now).await?;
        Ok(())
    }

    /// Gives the evaluator lease up (a server shutting down), so another
    /// server takes over at its next round instead of after the expiry.
    pub async fn release_alert_lease(&self, holder: &str) -> Result<()> {
        let mut tx = self.store.write().await?;
        tx.release_lease(EVALUATOR_LEASE, holder).await?;
        tx.commit().await?;
        Ok(())
    }
}
