//! What the alert evaluator reads and holds: the lease that makes it one
//! per deployment, the active alerts (the last `alert` of a rule with no
//! `alert_resolved` after it), and the age of the outbox's oldest message.

use super::{Result, Tx, exec, on};
use chrono::{DateTime, Utc};

/// An alert raised and not resolved, as the trail holds it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveAlertRow {
    pub rule: String,
    /// The figures of the newest `alert` event of the rule (raise or reminder).
    pub detail: Option<String>,
    /// When the newest `alert` event of the rule was recorded.
    pub last_at: DateTime<Utc>,
    /// When it was raised.
    pub since: Option<DateTime<Utc>>,
}

/// See `Tx::active_alerts`: on the partial indexes `events_alerts` and
/// `events_alerts_resolved` (public for the query-plan test). Only the
/// lease holder writes alert events, so ids follow commit order here.
pub const ACTIVE_ALERTS: &str = "SELECT a.rule, a.detail, a.at AS last_at, \
     (SELECT MAX(s.at) FROM events s WHERE s.kind = 'alert' AND s.rule = a.rule AND s.outcome = 'raised') AS since \
     FROM events a WHERE a.kind = 'alert' AND a.rule IS NOT NULL \
     AND a.id = (SELECT MAX(l.id) FROM events l WHERE l.kind = 'alert' AND l.rule = a.rule) \
     AND NOT EXISTS (SELECT 1 FROM events r WHERE r.kind = 'alert_resolved' AND r.rule = a.rule AND r.id > a.id) \
     ORDER BY a.rule";

impl Tx {
    /// Takes or renews lease `name` for `holder` until `until`: granted when
    /// nobody holds it, `holder` does, or the holder's lease lapsed before
    /// `now`. One conditional upsert, so two takers cannot both win; inside
    /// a writing transaction the lease row stays locked until commit.
    pub async fn take_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                   WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 RETURNING holder";
        let got = on!(self, c => sqlx::query_scalar::<_, String>(sql)
            .bind(name).bind(holder).bind(until).bind(now).fetch_optional(c))?;
        Ok(got.is_some())
    }

    /// Gives a lease up (a server shutting down), so another takes over at once.
    pub async fn release_lease(&mut self, name: &str, holder: &str) -> Result<()> {
        let sql = "DELETE FROM leases WHERE name = $1 AND holder = $2";
        exec!(self, c => sqlx::query(sql).bind(name).bind(holder).execute(c))?;
        Ok(())
    }

    /// The active alerts, one per rule, by rule name.
    pub async fn active_alerts(&mut self) -> Result<Vec<ActiveAlertRow>> {
        Ok(on!(self, c => sqlx::query_as::<_, ActiveAlertRow>(ACTIVE_ALERTS).fetch_all(c))?)
    }

    /// When the oldest message still queued (or being sent) was queued.
    pub async fn outbox_oldest_queued(&mut self) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT MIN(created_at) FROM outbox WHERE status IN ('queued', 'sending')";
        Ok(on!(self, c => sqlx::query_scalar::<_, Option<DateTime<Utc>>>(sql).fetch_one(c))?)
    }
}
