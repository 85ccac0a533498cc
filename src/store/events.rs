//! The append-only event trail.

use super::{Result, Tx, on};
use chrono::{DateTime, Utc};

/// One event to append. Fields left `None` stay NULL.
#[derive(Clone, Debug, Default)]
pub struct NewEvent {
    pub kind: &'static str,
    pub entry_id: Option<i64>,
    pub code_id: Option<i64>,
    pub referrer_id: Option<i64>,
    pub batch_id: Option<i64>,
    pub campaign: Option<String>,
    pub ip_prefix: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub device_hash: Option<String>,
    pub outcome: Option<&'static str>,
    /// Private: never in a public response.
    pub reason: Option<String>,
    pub rule: Option<String>,
    pub actor: String,
    pub detail: Option<String>,
}

macro_rules! event_columns {
    () => {
        "id, at, kind, entry_id, code_id, referrer_id, batch_id, campaign, ip_prefix, country, user_agent, \
         device_hash, outcome, reason, rule, actor, detail"
    };
}
pub(super) use event_columns;

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub entry_id: Option<i64>,
    pub code_id: Option<i64>,
    pub referrer_id: Option<i64>,
    pub batch_id: Option<i64>,
    pub campaign: Option<String>,
    pub ip_prefix: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub device_hash: Option<String>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub rule: Option<String>,
    pub actor: String,
    pub detail: Option<String>,
}

/// See `Tx::entry_timeline` (public for the query-plan tests).
pub const ENTRY_TIMELINE: &str =
    concat!("SELECT ", event_columns!(), " FROM events WHERE entry_id = $1 ORDER BY entry_id DESC, id DESC LIMIT $2");

/// What `velvet events` asks of the trail: since a time, after an id,
/// optionally of one kind or one person.
#[derive(Clone, Debug)]
pub struct TrailQuery {
    pub since: DateTime<Utc>,
    pub after_id: i64,
    pub kind: Option<String>,
    pub entry_id: Option<i64>,
    pub limit: i64,
}

/// Which events to read: after a cursor, optionally of one kind or entry.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub after_id: i64,
    pub kind: Option<String>,
    pub entry_id: Option<i64>,
    pub limit: i64,
}

/// Ids an older page of the Events view looks through at most: the scan
/// walks the primary key down from the cursor, so a filter that matches
/// nothing costs this many rows, never the whole trail.
pub const HISTORY_SCAN: i64 = 50_000;
/// Words of an Events filter the database matches (the rest are ignored).
pub const HISTORY_WORDS: usize = 4;

/// An older page of the trail, newest first, and how far down it looked.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EventPage {
    pub rows: Vec<EventRow>,
    /// The next page starts below this id.
    pub scanned_to: i64,
    /// Nothing older is left to look through.
    pub done: bool,
}

/// See `Tx::events_before`: each word is a kind, an outcome or an actor
/// (exactly), or the start of an address prefix; all words must match.
pub const EVENTS_BEFORE: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE id < $1 AND id >= $2",
    " AND ($3 IS NULL OR kind = $3 OR outcome = $3 OR actor = $3 OR substr(ip_prefix, 1, length($3)) = $3)",
    " AND ($4 IS NULL OR kind = $4 OR outcome = $4 OR actor = $4 OR substr(ip_prefix, 1, length($4)) = $4)",
    " AND ($5 IS NULL OR kind = $5 OR outcome = $5 OR actor = $5 OR substr(ip_prefix, 1, length($5)) = $5)",
    " AND ($6 IS NULL OR kind = $6 OR outcome = $6 OR actor = $6 OR substr(ip_prefix, 1, length($6)) = $6)",
    " ORDER BY id DESC LIMIT $7"
);

impl Tx {
    /// Up to `limit` events older than `before_id` matching `words` (see
    /// `EVENTS_BEFORE`), newest first. Reads a range of the primary key at
    /// most `HISTORY_SCAN` ids long, whatever the filter.
    pub async fn events_before(&mut self, before_id: i64, words: &[String], limit: i64) -> Result<EventPage> {
        let floor = before_id.saturating_sub(HISTORY_SCAN).max(0);
        let w = |i: usize| words.get(i).map(String::as_str);
        let rows = on!(self, c => sqlx::query_as::<_, EventRow>(EVENTS_BEFORE)
            .bind(before_id).bind(floor).bind(w(0)).bind(w(1)).bind(w(2)).bind(w(3)).bind(limit)
            .fetch_all(c))?;
        let full = rows.len() as i64 >= limit;
        let scanned_to = if full { rows.last().map_or(floor, |r| r.id) } else { floor };
        Ok(EventPage { rows, scanned_to, done: !full && floor <= 1 })
    }

    pub async fn append_event(&mut self, at: DateTime<Utc>, e: &NewEvent) -> Result<i64> {
        let sql = "INSERT INTO events (at, kind, entry_id, code_id, referrer_id, batch_id, campaign, ip_prefix, country, \
                   user_agent, device_hash, outcome, reason, rule, actor, detail) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql)
            .bind(at).bind(e.kind).bind(e.entry_id).bind(e.code_id).bind(e.referrer_id).bind(e.batch_id)
            .bind(e.campaign.as_deref()).bind(e.ip_prefix.as_deref()).bind(e.country.as_deref())
            .bind(e.user_agent.as_deref()).bind(e.device_hash.as_deref()).bind(e.outcome)
            .bind(e.reason.as_deref()).bind(e.rule.as_deref()).bind(e.actor.as_str()).bind(e.detail.as_deref())
            .fetch_one(c))?)
    }

    pub async fn events(&mut self, f: &EventFilter) -> Result<Vec<EventRow>> {
        let sql = concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE id > $1 AND ($2 IS NULL OR kind = $2) \
             AND ($3 IS NULL OR entry_id = $3) ORDER BY id LIMIT $4"
        );
        Ok(on!(self, c => sqlx::query_as::<_, EventRow>(sql)
            .bind(f.after_id).bind(f.kind.as_deref()).bind(f.entry_id).bind(f.limit)
            .fetch_all(c))?)
    }

    /// The newest `limit` events, oldest first.
    pub async fn latest_events(&mut self, limit: i64) -> Result<Vec<EventRow>> {
        let sql = concat!("SELECT ", event_columns!(), " FROM events ORDER BY id DESC LIMIT $1");
        let mut rows = on!(self, c => sqlx::query_as::<_, EventRow>(sql).bind(limit).fetch_all(c))?;
        rows.reverse();
        Ok(rows)
    }

    /// One person's newest `limit` events, oldest first. Written for the
    /// `events_entry (entry_id, id)` index: its cost follows the person's
    /// own history, not the table's.
    pub async fn entry_timeline(&mut self, entry_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        let mut rows =
            on!(self, c => sqlx::query_as::<_, EventRow>(ENTRY_TIMELINE).bind(entry_id).bind(limit).fetch_all(c))?;
        rows.reverse();
        Ok(rows)
    }

    /// Events per (kind, outcome) in [from, to).
    pub async fn count_kinds_between(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, Option<String>, i64)>> {
        let sql = "SELECT kind, outcome, COUNT(*) FROM events WHERE at >= $1 AND at < $2 GROUP BY kind, outcome";
        Ok(on!(self, c => sqlx::query_as::<_, (String, Option<String>, i64)>(sql).bind(from).bind(to).fetch_all(c))?)
    }

    /// Events of one kind since `since` (the daily cap counts `invite_sent`).
    pub async fn count_events_since(&mut self, kind: &str, since: DateTime<Utc>) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM events WHERE kind = $1 AND at >= $2";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(kind).bind(since).fetch_one(c))?)
    }

    /// Events of one kind and rule since `since` (auto-approvals today).
    pub async fn count_rule_since(&mut self, kind: &str, rule_prefix: &str, since: DateTime<Utc>) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM events WHERE kind = $1 AND at >= $2 AND rule LIKE $3";
        let pattern = format!("{rule_prefix}%");
        Ok(
            on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(kind).bind(since).bind(pattern.as_str()).fetch_one(c))?,
        )
    }
}

impl Tx {
    /// The newest event of `kind` about one entry (through `events_entry`).
    pub async fn last_entry_event(&mut self, entry_id: i64, kind: &str) -> Result<Option<EventRow>> {
        let sql = concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE entry_id = $1 AND kind = $2 ORDER BY entry_id DESC, id DESC LIMIT 1"
        );
        Ok(on!(self, c => sqlx::query_as::<_, EventRow>(sql).bind(entry_id).bind(kind).fetch_optional(c))?)
    }
}

impl Tx {
    pub async fn event_by_id(&mut self, id: i64) -> Result<Option<EventRow>> {
        let sql = concat!("SELECT ", event_columns!(), " FROM events WHERE id = $1");
        Ok(on!(self, c => sqlx::query_as::<_, EventRow>(sql).bind(id).fetch_optional(c))?)
    }

    /// Events for `velvet events`, oldest first: each filter combination
    /// is its own statement, on its own index (`events_entry`,
    /// `events_kind_at`, `events_at`), never a scan of the whole trail.
    pub async fn trail(&mut self, q: &TrailQuery) -> Result<Vec<EventRow>> {
        macro_rules! trail_sql {
            ($where:literal) => {
                concat!("SELECT ", event_columns!(), " FROM events WHERE ", $where, " ORDER BY id LIMIT $4")
            };
        }
        Ok(match (q.entry_id, q.kind.as_deref()) {
            (Some(entry), Some(kind)) => {
                let sql = trail_sql!("entry_id = $1 AND at >= $2 AND id > $3 AND kind = $5");
                on!(self, c => sqlx::query_as::<_, EventRow>(sql).bind(entry).bind(q.since).bind(q.after_id).bind(q.limit).bind(kind).fetch_all(c))?
            }
            (Some(entry), None) => {
                let sql = trail_sql!("entry_id = $1 AND at >= $2 AND id > $3");
                on!(self, c => sqlx::query_as::<_, EventRow>(sql).bind(entry).bind(q.since).bind(q.after_id).bind(q.limit).fetch_all(c))?
            }
            (None, Some(kind)) => {
                let sql = trail_sql!("kind = $1 AND at >= $2 AND id > $3");
                on!(self, c => sqlx::query_as::<_, EventRow>(sql).bind(kind).bind(q.since).bind(q.after_id).bind(q.limit).fetch_all(c))?
            }
            (None, None) => {
                let sql = concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE at >= $1 AND id > $2 ORDER BY id LIMIT $3"
                );
                on!(self, c => sqlx::query_as::<_, EventRow>(sql).bind(q.since).bind(q.after_id).bind(q.limit).fetch_all(c))?
            }
        })
    }
}
