//! A feed of the event trail that delivers every committed event exactly
//! once, on both backends: what the console's live tail follows (and an
//! admin API long-poll can).
//!
//! SQLite has one writer at a time, so ids become visible in order and a
//! plain cursor (`id > last`) is exact. PostgreSQL hands ids out at INSERT
//! and shows them at COMMIT: an event of a long transaction can appear
//! after a higher id was read, and a plain cursor would skip it for good.
//! So on PostgreSQL the feed remembers the ids it has not seen below the
//! highest one it delivered (`gaps`: not committed yet, or rolled back)
//! and asks for them again on every poll. A gap is given up only once
//! every transaction that was open when it was first noticed has ended,
//! read from `pg_stat_activity` (the same role's sessions are visible to
//! it), and only after one more read made anything those transactions
//! committed visible. Ids come from one identity sequence without a cache
//! (PostgreSQL's default), so an id below a visible one was handed out
//! before it, by a transaction that had started by then.

use super::events::{EventRow, event_columns};
use super::{Result, Store};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, VecDeque};

/// The newest event's id (0 with none).
const NEWEST: &str = "SELECT COALESCE(MAX(id), 0) FROM events";
/// How far below the tail a starting feed looks for events still in flight.
const LOOKBACK: i64 = 10_000;
/// Gaps asked for in one query, at most (a gap is rare: a transaction in
/// flight, or one rolled back).
const GAP_QUERY: usize = 10_000;
/// The most ids one jump of the sequence leaves as gaps.
const MAX_JUMP: i64 = 1_000_000;

/// A feed's position as data, so a client far away can hold it and hand it
/// back on its next poll (the admin API's feed is stateless: any server
/// process on the database answers it). Gaps are kept as id ranges: a bulk
/// transaction in flight leaves one range, not thousands of ids.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedState {
    pub low_water: i64,
    pub high: i64,
    /// Inclusive ranges of ids in `(low_water, high]` not delivered yet.
    pub gaps: Vec<(i64, i64)>,
    pub horizons: Vec<(DateTime<Utc>, i64)>,
}

/// The most horizons a feed keeps (one per poll that saw something new
/// while a transaction stayed open and a gap waited), and the most a state
/// read back from a client may carry.
const MAX_KEPT_HORIZONS: usize = 64;
const MAX_HORIZONS: usize = 1_000;

impl FeedState {
    /// Whether the event `id` was delivered by the feed this is the
    /// position of (or came before it started).
    pub fn has_delivered(&self, id: i64) -> bool {
        id <= self.high && !self.gaps.iter().any(|(a, b)| (*a..=*b).contains(&id))
    }

    /// A state read back from a client: its gaps must lie inside the range
    /// it claims and be few enough to ask for, so a forged one costs the
    /// server no more than an honest one.
    fn check(&self) -> std::result::Result<(), String> {
        if self.low_water < 0 || self.high < self.low_water {
            return Err("the feed position is not valid: start the feed again".into());
        }
        let mut total: i64 = 0;
        let mut last = self.low_water;
        for (a, b) in &self.gaps {
            if *a <= last || b < a || *b > self.high {
                return Err("the feed position's gaps are not in order: start the feed again".into());
            }
            total += b - a + 1;
            last = *b;
        }
        if total > MAX_JUMP || self.horizons.len() > MAX_HORIZONS {
            return Err("the feed position is too large: start the feed again".into());
        }
        Ok(())
    }
}

pub struct EventFeed {
    store: Store,
    /// Every id at or below this was delivered, or was never committed.
    low_water: i64,
    /// The highest id delivered.
    high: i64,
    /// Ids in `(low_water, high]` not delivered yet.
    gaps: BTreeSet<i64>,
    /// (database time just after a read, the highest id it had seen): once
    /// no transaction open at that time is left, the ids up to it are settled.
    horizons: VecDeque<(DateTime<Utc>, i64)>,
}

impl EventFeed {
    /// A feed that starts after the newest `n` events, and those events
    /// (oldest first): the tail, then everything after it, each once.
    pub async fn tail(store: &Store, n: i64) -> Result<(EventFeed, Vec<EventRow>)> {
        let (feed, rows, _) = Self::tail_and_hour(store, n, None).await?;
        Ok((feed, rows))
    }

    /// The tail and, with `hour` (the time now), the Live pane's hour up to
    /// the feed's cursor, read in the tail's own
    /// snapshot on PostgreSQL: an event still in flight is neither counted
    /// nor taken as delivered, so the feed brings it once, when it commits.
    pub async fn tail_and_hour(
        store: &Store,
        n: i64,
        hour: Option<DateTime<Utc>>,
    ) -> Result<(EventFeed, Vec<EventRow>, Option<super::LiveHour>)> {
        let tail_sql = concat!("SELECT ", event_columns!(), " FROM events ORDER BY id DESC LIMIT $1");
        match store {
            Store::Sqlite(pool) => {
                // One writer at a time: what the tail did not see has a
                // higher id than its cursor, which the counts stop at.
                let mut rows = sqlx::query_as::<_, EventRow>(tail_sql).bind(n).fetch_all(pool).await?;
                rows.reverse();
                // No tail asked for (n = 0): the feed starts at the newest, not at the first.
                let high = match rows.last() {
                    Some(e) => e.id,
                    None => sqlx::query_scalar::<_, i64>(NEWEST).fetch_one(pool).await?,
                };
                let counts = match hour {
                    Some(now) => Some(store.read().await?.live_hour(now, high).await?),
                    None => None,
                };
                Ok((EventFeed::new(store, high), rows, counts))
            }
            Store::Postgres(pool) => {
                // One snapshot for the tail, the ids below it and the
                // counts, so nothing committing in between is taken as seen.
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
                let mut rows = sqlx::query_as::<_, EventRow>(tail_sql).bind(n).fetch_all(&mut *tx).await?;
                rows.reverse();
                let high = match rows.last() {
                    Some(e) => e.id,
                    None => sqlx::query_scalar::<_, i64>(NEWEST).fetch_one(&mut *tx).await?,
                };
                let low_water = (high - LOOKBACK).max(0);
                let seen: Vec<i64> = sqlx::query_scalar("SELECT id FROM events WHERE id > $1 AND id <= $2")
                    .bind(low_water)
                    .bind(high)
                    .fetch_all(&mut *tx)
                    .await?;
                let at: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(&mut *tx).await?;
                let mut tx = super::Tx::Postgres(tx);
                let counts = match hour {
                    Some(now) => Some(tx.live_hour(now, high).await?),
                    None => None,
                };
                tx.commit().await?;
                let seen: BTreeSet<i64> = seen.into_iter().collect();
                let mut feed = EventFeed::new(store, high);
                feed.low_water = low_water;
                feed.gaps = (low_water + 1..=high).filter(|id| !seen.contains(id)).collect();
                feed.horizons.push_back((at, high));
                Ok((feed, rows, counts))
            }
        }
    }

    fn new(store: &Store, high: i64) -> EventFeed {
        EventFeed { store: store.clone(), low_water: high, high, gaps: BTreeSet::new(), horizons: VecDeque::new() }
    }

    /// Where this feed is, as data (see [`FeedState`]).
    pub fn state(&self) -> FeedState {
        let mut gaps: Vec<(i64, i64)> = Vec::new();
        for id in &self.gaps {
            match gaps.last_mut() {
                Some((_, b)) if *b + 1 == *id => *b = *id,
                _ => gaps.push((*id, *id)),
            }
        }
        FeedState {
            low_water: self.low_water,
            high: self.high,
            gaps,
            horizons: self.horizons.iter().copied().collect(),
        }
    }

    /// The feed a state describes, on `store`; a state that does not hold
    /// together is refused with a sentence saying to start again.
    pub fn resume(store: &Store, state: FeedState) -> std::result::Result<EventFeed, String> {
        state.check()?;
        Ok(EventFeed {
            store: store.clone(),
            low_water: state.low_water,
            high: state.high,
            gaps: state.gaps.iter().flat_map(|(a, b)| *a..=*b).collect(),
            horizons: state.horizons.into_iter().collect(),
        })
    }

    /// The highest id delivered so far.
    pub fn cursor(&self) -> i64 {
        self.high
    }

    /// Ids below the cursor still watched for a late commit.
    pub fn unsettled(&self) -> usize {
        self.gaps.len()
    }

    /// Events committed since the last poll and not delivered yet, oldest
    /// id first: at most `limit` new ones, plus any late commit below them.
    pub async fn poll(&mut self, limit: i64) -> Result<Vec<EventRow>> {
        let after_sql = concat!("SELECT ", event_columns!(), " FROM events WHERE id > $1 ORDER BY id LIMIT $2");
        let pool = match &self.store {
            Store::Sqlite(pool) => {
                let rows = sqlx::query_as::<_, EventRow>(after_sql).bind(self.high).bind(limit).fetch_all(pool).await?;
                self.high = rows.last().map_or(self.high, |e| e.id);
                self.low_water = self.high;
                // One writer at a time: nothing below the cursor can still come.
                self.gaps.clear();
                self.horizons.clear();
                return Ok(rows);
            }
            Store::Postgres(pool) => pool.clone(),
        };
        // 1. Which horizons are settled: no transaction open then is left.
        //    Checked before the read, so what they committed is read below.
        let settled = match self.horizons.front() {
            None => None,
            Some(_) => {
                let oldest: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "SELECT MIN(xact_start) FROM pg_stat_activity WHERE datname = current_database() \
                     AND pid <> pg_backend_pid() AND xact_start IS NOT NULL",
                )
                .fetch_one(&pool)
                .await?;
                self.horizons.iter().take_while(|(at, _)| oldest.is_none_or(|o| o > *at)).map(|(_, id)| *id).last()
            }
        };
        // 2. Late commits below the cursor, then what is new.
        let mut rows = Vec::new();
        // Every gap is asked for, in chunks: a gap given up below must have
        // been looked for after its transaction ended (a bulk approve leaves
        // tens of thousands of them while it runs).
        let late = concat!("SELECT ", event_columns!(), " FROM events WHERE id = ANY($1) ORDER BY id");
        let wanted: Vec<i64> = self.gaps.iter().copied().collect();
        for chunk in wanted.chunks(GAP_QUERY) {
            let found = sqlx::query_as::<_, EventRow>(late).bind(chunk).fetch_all(&pool).await?;
            for e in &found {
                self.gaps.remove(&e.id);
            }
            rows.extend(found);
        }
        let new = sqlx::query_as::<_, EventRow>(after_sql).bind(self.high).bind(limit).fetch_all(&pool).await?;
        if let Some(last) = new.last() {
            // Taken after the read: every id it skipped was handed out before.
            let at: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(&pool).await?;
            let mut expected = self.high + 1;
            for e in &new {
                // A jump past MAX_JUMP ids (a sequence moved by hand) keeps
                // only the nearest ones: memory stays bounded.
                self.gaps.extend(expected.max(e.id - MAX_JUMP)..e.id);
                expected = e.id + 1;
            }
            self.high = last.id;
            self.horizons.push_back((at, last.id));
            // A transaction left open for hours must not grow the position
            // without end: dropping the oldest horizon only delays settling
            // (a later one covers its ids, once its own transactions end).
            while self.horizons.len() > MAX_KEPT_HORIZONS {
                self.horizons.pop_front();
            }
        }
        rows.extend(new);
        // 3. Give up the gaps the settled horizons cover: never committed.
        if let Some(id) = settled {
            while self.horizons.front().is_some_and(|(_, h)| *h <= id) {
                self.horizons.pop_front();
            }
            self.low_water = self.low_water.max(id);
            self.gaps = self.gaps.split_off(&(self.low_water + 1));
        }
        // Nothing below the cursor is missing: nothing is left to settle.
        if self.gaps.is_empty() {
            self.horizons.clear();
            self.low_water = self.high;
        }
        Ok(rows)
    }
}
