//! Waitlist entries: one row per normalized email.

use super::{Result, StoreError, Tx, exec, on};
use crate::domain::EntryStatus;
use chrono::{DateTime, Utc};

/// The columns of `EntryRow`, spliced into SQL at compile time.
macro_rules! entry_columns {
    () => {
        "id, email, email_display, status, blocked_from, note, source, referrer_id, joined_code_id, \
         ip_prefix, device_hash, first_seen, last_attempt_at, attempts, confirmed_at, approved_at, invited_at, \
         joined_at, blocked_at, block_reason"
    };
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct EntryRow {
    pub id: i64,
    pub email: String,
    pub email_display: String,
    pub status: String,
    pub blocked_from: Option<String>,
    pub note: Option<String>,
    pub source: Option<String>,
    pub referrer_id: Option<i64>,
    pub joined_code_id: Option<i64>,
    pub ip_prefix: Option<String>,
    pub device_hash: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_attempt_at: DateTime<Utc>,
    pub attempts: i64,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub joined_at: Option<DateTime<Utc>>,
    pub blocked_at: Option<DateTime<Utc>>,
    pub block_reason: Option<String>,
}

impl EntryRow {
    pub fn status(&self) -> Result<EntryStatus> {
        EntryStatus::from_columns(&self.status, self.blocked_from.as_deref())
            .ok_or_else(|| StoreError::Corrupt(format!("entry {} has status '{}'", self.id, self.status)))
    }
}

/// An entry as the console lists it: the row's few fields plus what
/// support searches it by (the campaign it joined through, the hints of
/// the codes it holds, gives out or joined with).
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct ListedEntry {
    pub id: i64,
    pub email: String,
    pub status: String,
    pub first_seen: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub referrer_id: Option<i64>,
    pub campaign: Option<String>,
    /// Code hints, space-separated.
    pub hints: Option<String>,
}

/// Each listed entry's codes are read through their own indexes
/// (`invite_codes_bound`, `invite_codes_inviter`, the primary key), so a
/// page costs the same at any size, and only for entries that can have
/// them: access codes come with an invite, referral codes with joining.
macro_rules! listed_entries {
    ($agg:literal, $tail:literal) => {
        concat!(
            "SELECT e.id, e.email, e.status, e.first_seen, e.confirmed_at, e.source, e.referrer_id, \
             CASE WHEN e.joined_code_id IS NOT NULL THEN \
                 (SELECT j.campaign FROM invite_codes j WHERE j.id = e.joined_code_id) END AS campaign, \
             NULLIF(TRIM( \
                 COALESCE(CASE WHEN e.invited_at IS NOT NULL OR e.joined_at IS NOT NULL THEN \
                     (SELECT ",
            $agg,
            " FROM invite_codes b WHERE b.bound_entry_id = e.id) END, '') || ' ' || \
                 COALESCE(CASE WHEN e.joined_at IS NOT NULL THEN \
                     (SELECT ",
            $agg,
            " FROM invite_codes g WHERE g.inviter_entry_id = e.id) END, '') || ' ' || \
                 COALESCE(CASE WHEN e.joined_code_id IS NOT NULL THEN \
                     (SELECT j.hint FROM invite_codes j WHERE j.id = e.joined_code_id) END, '')), '') AS hints \
             FROM entries e ",
            $tail
        )
    };
}

pub struct NewEntry<'a> {
    pub email: &'a str,
    pub email_display: &'a str,
    pub status: EntryStatus,
    pub note: Option<&'a str>,
    pub source: Option<&'a str>,
    pub ip_prefix: Option<&'a str>,
    pub device_hash: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Timestamps a status change sets; `None` leaves the column as it was.
#[derive(Default)]
pub struct StatusStamps {
    pub confirmed_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub joined_at: Option<DateTime<Utc>>,
    pub joined_code_id: Option<i64>,
    pub referrer_id: Option<i64>,
    /// Set on block, cleared otherwise.
    pub blocked: Option<(DateTime<Utc>, Option<String>)>,
}

/// See `Tx::count_confirmed_upto` (public for the query-plan tests).
pub const COUNT_CONFIRMED_UPTO: &str =
    "SELECT COUNT(*) FROM (SELECT 1 FROM entries WHERE confirmed_at IS NOT NULL LIMIT $1) AS c";

macro_rules! select_entries {
    ($tail:literal) => {
        concat!("SELECT ", entry_columns!(), " FROM entries ", $tail)
    };
}

/// The console's page query per backend: (SQLite, PostgreSQL).
pub const LISTED_NEWEST: (&str, &str) = (
    listed_entries!("group_concat(hint, ' ')", "WHERE e.id < $1 ORDER BY e.id DESC LIMIT $2"),
    listed_entries!("string_agg(hint, ' ')", "WHERE e.id < $1 ORDER BY e.id DESC LIMIT $2"),
);

impl Tx {
    pub async fn entry_by_email(&mut self, email: &str) -> Result<Option<EntryRow>> {
        let sql = select_entries!("WHERE email = $1");
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql).bind(email).fetch_optional(c))?)
    }

    /// An entry by email, locked on PostgreSQL for the rest of the transaction.
    pub async fn entry_by_email_locked(&mut self, email: &str) -> Result<Option<EntryRow>> {
        let sqlite = select_entries!("WHERE email = $1");
        let postgres = select_entries!("WHERE email = $1 FOR UPDATE");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, EntryRow>(sql)
            .bind(email)
            .fetch_optional(c))?)
    }

    pub async fn entry_by_id(&mut self, id: i64) -> Result<Option<EntryRow>> {
        let sql = select_entries!("WHERE id = $1");
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql).bind(id).fetch_optional(c))?)
    }

    /// Reads an entry and, on PostgreSQL, locks it for the rest of the
    /// transaction, so a racing writer is waited for and then seen.
    pub async fn entry_by_id_locked(&mut self, id: i64) -> Result<Option<EntryRow>> {
        let sqlite = select_entries!("WHERE id = $1");
        let postgres = select_entries!("WHERE id = $1 FOR UPDATE");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, EntryRow>(sql)
            .bind(id)
            .fetch_optional(c))?)
    }

    /// Inserts a new entry, or returns `None` when the email is already on
    /// the list (a concurrent signup may have just added it).
    pub async fn insert_entry(&mut self, e: NewEntry<'_>) -> Result<Option<EntryRow>> {
        let sql = concat!(
            "INSERT INTO entries (email, email_display, status, note, source, ip_prefix, device_hash, \
             first_seen, last_attempt_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1) ON CONFLICT (email) DO NOTHING RETURNING ",
            entry_columns!()
        );
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql)
            .bind(e.email).bind(e.email_display).bind(e.status.as_str()).bind(e.note).bind(e.source)
            .bind(e.ip_prefix).bind(e.device_hash).bind(e.now)
            .fetch_optional(c))?)
    }

    /// Records a repeated signup: the row and its place stay, the count grows.
    pub async fn touch_entry(&mut self, id: i64, now: DateTime<Utc>) -> Result<i64> {
        let sql = "UPDATE entries SET attempts = attempts + 1, last_attempt_at = $2 WHERE id = $1 RETURNING attempts";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(id).bind(now).fetch_one(c))?)
    }

    /// Moves an entry from `from` to `to`, only if it is still in `from`.
    /// Returns false when someone else changed it first.
    pub async fn set_entry_status(
        &mut self,
        id: i64,
        from: EntryStatus,
        to: EntryStatus,
        s: StatusStamps,
    ) -> Result<bool> {
        let sql = "UPDATE entries SET status = $2, blocked_from = $3, \
             confirmed_at = COALESCE($4, confirmed_at), approved_at = COALESCE($5, approved_at), \
             invited_at = COALESCE($6, invited_at), joined_at = COALESCE($7, joined_at), \
             joined_code_id = COALESCE($8, joined_code_id), referrer_id = COALESCE($9, referrer_id), \
             blocked_at = $10, block_reason = $11, \
             block_batch_id = CASE WHEN $2 = 'blocked' THEN block_batch_id ELSE NULL END \
             WHERE id = $1 AND status = $12";
        let (blocked_at, block_reason) = s.blocked.map(|(a, r)| (Some(a), r)).unwrap_or((None, None));
        let done = exec!(self, c => sqlx::query(sql)
            .bind(id).bind(to.as_str()).bind(to.blocked_from())
            .bind(s.confirmed_at).bind(s.approved_at).bind(s.invited_at).bind(s.joined_at)
            .bind(s.joined_code_id).bind(s.referrer_id).bind(blocked_at).bind(block_reason)
            .bind(from.as_str())
            .execute(c))?;
        Ok(done == 1)
    }

    /// Oldest confirmations first: who `approve_oldest` would take next
    /// (a preview; it locks nothing).
    pub async fn confirmed_queue(&mut self, limit: i64) -> Result<Vec<EntryRow>> {
        let sql = select_entries!("WHERE status = 'confirmed' ORDER BY confirmed_at, id LIMIT $1");
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql).bind(limit).fetch_all(c))?)
    }

    /// Moves the `n` oldest entries in `from` (by confirmation) to `to` in
    /// one statement, stamping `approved_at`; on PostgreSQL rows another
    /// approver holds are skipped. Returns (id, email, confirmed_at).
    pub async fn approve_oldest(
        &mut self,
        n: i64,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, String, Option<DateTime<Utc>>)>> {
        let sqlite = "UPDATE entries SET status = $3, approved_at = $4 WHERE id IN (\
                      SELECT id FROM entries WHERE status = $2 ORDER BY confirmed_at, id LIMIT $1) \
                      RETURNING id, email, confirmed_at";
        let postgres = "UPDATE entries SET status = $3, approved_at = $4 WHERE id IN (\
                        SELECT id FROM entries WHERE status = $2 ORDER BY confirmed_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                        RETURNING id, email, confirmed_at";
        type Row = (i64, String, Option<DateTime<Utc>>);
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, Row>(sql)
            .bind(n)
            .bind(from)
            .bind(to)
            .bind(now)
            .fetch_all(c))?)
    }

    /// Moves each of `ids` (in this order: callers sort them, one lock
    /// order for everyone) from `from` to `to` if it is still in `from`,
    /// stamping `approved_at`. Returns (id, email, confirmed_at) of those moved.
    pub async fn approve_ids(
        &mut self,
        ids: &[i64],
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, String, Option<DateTime<Utc>>)>> {
        let sql = "UPDATE entries SET status = $3, approved_at = $4 WHERE id = $1 AND status = $2 \
                   RETURNING id, email, confirmed_at";
        type Row = (i64, String, Option<DateTime<Utc>>);
        let mut moved = Vec::with_capacity(ids.len());
        for id in ids {
            let row =
                on!(self, c => sqlx::query_as::<_, Row>(sql).bind(id).bind(from).bind(to).bind(now).fetch_optional(c))?;
            moved.extend(row);
        }
        Ok(moved)
    }

    /// Approved entries waiting for an invite, oldest approval first; on
    /// PostgreSQL rows another sender holds are skipped.
    pub async fn approved_queue(&mut self, limit: i64) -> Result<Vec<EntryRow>> {
        let sqlite = select_entries!("WHERE status = 'approved' ORDER BY approved_at, id LIMIT $1");
        let postgres =
            select_entries!("WHERE status = 'approved' ORDER BY approved_at, id LIMIT $1 FOR UPDATE SKIP LOCKED");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, EntryRow>(sql)
            .bind(limit)
            .fetch_all(c))?)
    }

    /// 1-based place of an approved entry in the invite queue.
    pub async fn approved_position(&mut self, approved_at: DateTime<Utc>, id: i64) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM entries WHERE status = 'approved' \
                   AND (approved_at < $1 OR (approved_at = $1 AND id <= $2))";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(approved_at).bind(id).fetch_one(c))?)
    }

    /// 1-based place of a confirmed entry among the confirmed, oldest
    /// confirmation first (the order approvals take them in).
    pub async fn confirmed_position(&mut self, confirmed_at: DateTime<Utc>, id: i64) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM entries WHERE status = 'confirmed' \
                   AND (confirmed_at < $1 OR (confirmed_at = $1 AND id <= $2))";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(confirmed_at).bind(id).fetch_one(c))?)
    }

    /// Entries ever confirmed, counted up to `limit` at most: the partial
    /// index `entries_confirmed_at` makes it cost `limit`, not the list.
    pub async fn count_confirmed_upto(&mut self, limit: i64) -> Result<i64> {
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(COUNT_CONFIRMED_UPTO).bind(limit).fetch_one(c))?)
    }

    /// People who joined through one inviter's codes.
    pub async fn entries_referred_by(&mut self, referrer_id: i64) -> Result<Vec<EntryRow>> {
        let sql = select_entries!("WHERE referrer_id = $1 ORDER BY joined_at, id");
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql).bind(referrer_id).fetch_all(c))?)
    }

    /// A page of entries, newest first, before `before_id` (console loading).
    pub async fn entries_newest(&mut self, before_id: i64, limit: i64) -> Result<Vec<EntryRow>> {
        let sql = select_entries!("WHERE id < $1 ORDER BY id DESC LIMIT $2");
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql).bind(before_id).bind(limit).fetch_all(c))?)
    }

    /// A page of entries as the console lists them, newest first.
    pub async fn listed_newest(&mut self, before_id: i64, limit: i64) -> Result<Vec<ListedEntry>> {
        let (sqlite, postgres) = LISTED_NEWEST;
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, ListedEntry>(sql)
            .bind(before_id)
            .bind(limit)
            .fetch_all(c))?)
    }

    /// One entry as the console lists it (a row that changed).
    pub async fn listed_by_id(&mut self, id: i64) -> Result<Option<ListedEntry>> {
        let sqlite = listed_entries!("group_concat(hint, ' ')", "WHERE e.id = $1");
        let postgres = listed_entries!("string_agg(hint, ' ')", "WHERE e.id = $1");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, ListedEntry>(sql)
            .bind(id)
            .fetch_optional(c))?)
    }

    /// How far the people who signed up since `since` got:
    /// (signed up, confirmed, approved, invited, joined).
    pub async fn funnel_since(&mut self, since: DateTime<Utc>) -> Result<(i64, i64, i64, i64, i64)> {
        let sql = "SELECT COUNT(*), COUNT(confirmed_at), COUNT(approved_at), COUNT(invited_at), COUNT(joined_at) FROM entries WHERE first_seen >= $1";
        Ok(on!(self, c => sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(sql).bind(since).fetch_one(c))?)
    }

    pub async fn count_entries(&mut self) -> Result<i64> {
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM entries").fetch_one(c))?)
    }

    /// A page of entries in signup order, for export (keyset on id).
    pub async fn entries_page(&mut self, status: Option<&str>, after_id: i64, limit: i64) -> Result<Vec<EntryRow>> {
        let sql = select_entries!("WHERE id > $1 AND ($2 IS NULL OR status = $2) ORDER BY id LIMIT $3");
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql).bind(after_id).bind(status).bind(limit).fetch_all(c))?)
    }
}

impl Tx {
    /// Gives an entry a new address (support's one correction), only if it
    /// still has `from`. A new address already on the list is a
    /// `StoreError::Conflict` (the unique index decides, whatever the race).
    pub async fn change_entry_email(&mut self, id: i64, from: &str, to: &str, display: &str) -> Result<bool> {
        let sql = "UPDATE entries SET email = $3, email_display = $4 WHERE id = $1 AND email = $2";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).bind(from).bind(to).bind(display).execute(c))? == 1)
    }
}

/// Which entries a bulk block takes (see `Tx::entries_matching`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOn {
    /// `email LIKE pattern` (the pattern escapes `\`, `%` and `_` with `\`).
    EmailLike,
    Source,
}

/// A bulk block's candidates: the entries that can be blocked (not joined,
/// not blocked already), optionally in one status, in signup order.
macro_rules! matching {
    ($on:literal) => {
        concat!(
            "SELECT ",
            entry_columns!(),
            " FROM entries WHERE ",
            $on,
            " AND status IN ('pending', 'confirmed', 'approved', 'invited') AND ($2 IS NULL OR status = $2) \
             ORDER BY id LIMIT $3"
        )
    };
}

impl Tx {
    pub async fn entries_matching(
        &mut self,
        on: MatchOn,
        value: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EntryRow>> {
        let sql = match on {
            MatchOn::EmailLike => matching!("email LIKE $1 ESCAPE '\\'"),
            MatchOn::Source => matching!("source = $1"),
        };
        Ok(on!(self, c => sqlx::query_as::<_, EntryRow>(sql).bind(value).bind(status).bind(limit).fetch_all(c))?)
    }

    /// Blocks these entries as one batch: each remembers the status it had,
    /// the time, the reason and the batch. Only entries that can be blocked
    /// move; returns how many did (fewer: someone changed some meanwhile).
    pub async fn block_batch(
        &mut self,
        ids: &[i64],
        batch: i64,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut moved = 0;
        for chunk in ids.chunks(1_000) {
            moved += super::bulk::build_and_run!(self, qb => {
                qb.push("UPDATE entries SET blocked_from = status, status = 'blocked', blocked_at = ");
                qb.push_bind(now);
                qb.push(", block_reason = ");
                qb.push_bind(reason);
                qb.push(", block_batch_id = ");
                qb.push_bind(batch);
                qb.push(" WHERE status IN ('pending', 'confirmed', 'approved', 'invited') AND id IN ");
                super::bulk::push_ids(&mut qb, chunk);
            })?;
        }
        Ok(moved)
    }

    /// Returns every entry still blocked by `batch` to the status it had;
    /// (id, email, status now) of each, in signup order.
    pub async fn unblock_batch(&mut self, batch: i64) -> Result<Vec<(i64, String, String)>> {
        let sql = "UPDATE entries SET status = blocked_from, blocked_from = NULL, blocked_at = NULL, \
                   block_reason = NULL, block_batch_id = NULL \
                   WHERE block_batch_id = $1 AND status = 'blocked' RETURNING id, email, status";
        let mut rows = on!(self, c => sqlx::query_as::<_, (i64, String, String)>(sql).bind(batch).fetch_all(c))?;
        rows.sort_unstable_by_key(|r| r.0);
        Ok(rows)
    }
}
