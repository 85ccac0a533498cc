//! The Live pane's hour, counted by the database: per-minute counts of the
//! events the pane draws, and the hostile ones by address prefix and
//! device. One aggregate each, on the `at` index, so the console starts
//! with the whole last hour whatever the event rate.

use super::{Result, Tx, on};
use chrono::{DateTime, Utc};

/// Events of one kind and outcome in one minute (rate-limit summaries
/// count what they summarise).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct MinuteCount {
    /// Minutes since the Unix epoch.
    pub minute: i64,
    pub kind: String,
    pub outcome: Option<String>,
    pub n: i64,
}

/// Failed or refused attempts from one prefix or device in one minute.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct OffenderCount {
    pub minute: i64,
    pub ip_prefix: Option<String>,
    pub device_hash: Option<String>,
    pub n: i64,
}

/// One aggregate over the hour, written per backend: SQLite keeps text
/// times and PostgreSQL timestamps, each taken to whole minutes; a rate
/// limit summary counts what it summarises ("count=N").
macro_rules! hour {
    (sqlite, $filter:expr, $group:literal) => {
        concat!(
            "SELECT (CAST(strftime('%s', at) AS INTEGER) / 60) AS minute, ",
            $group,
            ", \
             SUM(CASE WHEN kind = 'rate_limited' AND outcome = 'summary' AND detail GLOB 'count=[0-9]*' \
             THEN CAST(substr(detail, 7) AS INTEGER) ELSE 1 END) AS n \
             FROM events WHERE at >= $1 AND id <= $2 AND ",
            $filter,
            " GROUP BY 1, ",
            $group
        )
    };
    (postgres, $filter:expr, $group:literal) => {
        concat!(
            "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM at) / 60) AS BIGINT) AS minute, ",
            $group,
            ", \
             CAST(SUM(CASE WHEN kind = 'rate_limited' AND outcome = 'summary' AND detail ~ '^count=[0-9]{1,18}$' \
             THEN CAST(substr(detail, 7) AS BIGINT) ELSE 1 END) AS BIGINT) AS n \
             FROM events WHERE at >= $1 AND id <= $2 AND ",
            $filter,
            " GROUP BY 1, ",
            $group
        )
    };
}

/// The kinds the pane counts (`console::live::Series` and the funnel).
macro_rules! counted {
    () => {
        "kind IN ('signup', 'confirm', 'joined', 'redeem', 'redeem_held', 'rate_limited')"
    };
}

/// Failed codes and refusals: what the offenders list ranks.
macro_rules! hostile {
    () => {
        "((kind = 'redeem' AND outcome = 'failed') OR (kind = 'rate_limited' AND outcome = 'summary'))"
    };
}

/// The Live pane's hour as the database counts it: per-minute counts over
/// the last 60 minutes, offenders over the last 10.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveHour {
    pub minutes: Vec<MinuteCount>,
    pub offenders: Vec<OffenderCount>,
}

impl Tx {
    /// The Live pane's hour at `now`, up to event `up_to` (the feed brings
    /// what comes after it).
    pub async fn live_hour(&mut self, now: DateTime<Utc>, up_to: i64) -> Result<LiveHour> {
        let minutes = self.minute_counts(now - chrono::Duration::minutes(60), up_to).await?;
        let offenders = self.offender_counts(now - chrono::Duration::minutes(10), up_to).await?;
        Ok(LiveHour { minutes, offenders })
    }

    /// Per-minute counts of the pane's events since `since`, up to event `up_to`.
    pub async fn minute_counts(&mut self, since: DateTime<Utc>, up_to: i64) -> Result<Vec<MinuteCount>> {
        let sqlite = hour!(sqlite, counted!(), "kind, outcome");
        let postgres = hour!(postgres, counted!(), "kind, outcome");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, MinuteCount>(sql)
            .bind(since)
            .bind(up_to)
            .fetch_all(c))?)
    }

    /// Failed or refused attempts per minute, prefix and device since `since`.
    pub async fn offender_counts(&mut self, since: DateTime<Utc>, up_to: i64) -> Result<Vec<OffenderCount>> {
        let sqlite = hour!(sqlite, hostile!(), "ip_prefix, device_hash");
        let postgres = hour!(postgres, hostile!(), "ip_prefix, device_hash");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, OffenderCount>(sql)
            .bind(since)
            .bind(up_to)
            .fetch_all(c))?)
    }
}
