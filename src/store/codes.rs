//! Invite codes, their batches and redemptions. A use is taken by one
//! conditional UPDATE, so `uses` can never pass `max_uses` whatever the
//! concurrency: PostgreSQL re-checks the WHERE clause after waiting for the
//! row lock, SQLite has a single writer.

use super::{Result, Tx, exec, on};
use crate::domain::CodeSet;
use crate::domain::code::{CodeKind, CodeState, CodeStatus, RedemptionStatus};
use chrono::{DateTime, Utc};

macro_rules! code_columns {
    () => {
        "id, code_hash, hint, prefix, kind, campaign, batch_id, inviter_entry_id, bound_entry_id, max_uses, uses, \
         daily_cap, day_uses, uses_day, status, expires_at, created_at, created_by, revoked_at, revoked_by, revoke_reason"
    };
}
pub(super) use code_columns;
macro_rules! select_codes {
    ($tail:literal) => {
        concat!("SELECT ", code_columns!(), " FROM invite_codes ", $tail)
    };
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CodeRow {
    pub id: i64,
    pub code_hash: Option<String>,
    pub hint: Option<String>,
    pub prefix: Option<String>,
    #[sqlx(try_from = "String")]
    pub kind: CodeKind,
    pub campaign: Option<String>,
    pub batch_id: Option<i64>,
    pub inviter_entry_id: Option<i64>,
    pub bound_entry_id: Option<i64>,
    pub max_uses: i64,
    pub uses: i64,
    pub daily_cap: Option<i64>,
    pub day_uses: i64,
    pub uses_day: Option<DateTime<Utc>>,
    #[sqlx(try_from = "String")]
    pub status: CodeStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

/// The `revoke_reason` of an access code the sweeper ended because it
/// expired unused (revoked, so a late delivery can never mint it again).
pub const EXPIRED_UNUSED: &str = "expired unused";

impl CodeRow {
    /// Where the code stands at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> CodeState {
        if self.status == CodeStatus::Revoked && self.revoke_reason.as_deref() == Some(EXPIRED_UNUSED) {
            CodeState::Expired
        } else if self.status == CodeStatus::Revoked {
            CodeState::Revoked
        } else if self.expires_at <= now {
            CodeState::Expired
        } else if self.uses >= self.max_uses {
            CodeState::Used
        } else if self.code_hash.is_none() {
            CodeState::Unsent
        } else {
            CodeState::Active
        }
    }
}

/// A code row to create. `hash`/`hint` are `None` for codes minted later,
/// at mail delivery, so their plaintext never rests in the database.
pub struct NewCode<'a> {
    pub hash: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub prefix: Option<&'a str>,
    pub kind: CodeKind,
    pub campaign: Option<&'a str>,
    pub batch_id: Option<i64>,
    pub inviter_entry_id: Option<i64>,
    pub bound_entry_id: Option<i64>,
    pub max_uses: i64,
    pub daily_cap: Option<i64>,
    pub expires_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub created_by: &'a str,
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct RedemptionRow {
    pub id: i64,
    pub code_id: i64,
    pub entry_id: i64,
    #[sqlx(try_from = "String")]
    pub status: RedemptionStatus,
    pub created_at: DateTime<Utc>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Tx {
    pub async fn insert_batch(
        &mut self,
        kind: CodeKind,
        campaign: Option<&str>,
        now: DateTime<Utc>,
        by: &str,
    ) -> Result<i64> {
        let sql = "INSERT INTO batches (kind, campaign, created_at, created_by) VALUES ($1, $2, $3, $4) RETURNING id";
        Ok(
            on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(kind.as_str()).bind(campaign).bind(now).bind(by).fetch_one(c))?,
        )
    }

    pub async fn set_batch_size(&mut self, id: i64, size: i64) -> Result<()> {
        let sql = "UPDATE batches SET size = $2 WHERE id = $1";
        exec!(self, c => sqlx::query(sql).bind(id).bind(size).execute(c))?;
        Ok(())
    }

    pub async fn insert_code(&mut self, n: NewCode<'_>) -> Result<i64> {
        let sql = "INSERT INTO invite_codes (code_hash, hint, prefix, kind, campaign, batch_id, inviter_entry_id, \
                   bound_entry_id, max_uses, daily_cap, expires_at, created_at, created_by) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql)
            .bind(n.hash).bind(n.hint).bind(n.prefix).bind(n.kind.as_str()).bind(n.campaign).bind(n.batch_id)
            .bind(n.inviter_entry_id).bind(n.bound_entry_id).bind(n.max_uses).bind(n.daily_cap)
            .bind(n.expires_at).bind(n.now).bind(n.created_by)
            .fetch_one(c))?)
    }

    /// Gives a code its hash at delivery, starting its validity then.
    /// Refuses revoked codes and codes used already. A re-delivery replaces
    /// the hash, so a code minted by a dispatcher that crashed before
    /// sending never works.
    pub async fn mint_code(&mut self, id: i64, hash: &str, hint: &str, expires_at: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE invite_codes SET code_hash = $2, hint = $3, expires_at = $4 WHERE id = $1 AND status = 'active' AND uses = 0";
        let done = exec!(self, c => sqlx::query(sql).bind(id).bind(hash).bind(hint).bind(expires_at).execute(c))?;
        Ok(done == 1)
    }

    pub async fn code_by_hash(&mut self, hash: &str) -> Result<Option<CodeRow>> {
        let sql = select_codes!("WHERE code_hash = $1");
        Ok(on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(hash).fetch_optional(c))?)
    }

    /// The code with `hash`, its row locked until the transaction ends (on
    /// PostgreSQL; SQLite's write transactions are serial already), so two
    /// redemptions of one code are decided one after the other from the
    /// first read on, not only at the use count.
    pub async fn code_by_hash_locked(&mut self, hash: &str) -> Result<Option<CodeRow>> {
        let sqlite = select_codes!("WHERE code_hash = $1");
        let postgres = select_codes!("WHERE code_hash = $1 FOR UPDATE");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, CodeRow>(sql)
            .bind(hash)
            .fetch_optional(c))?)
    }

    /// A code by id, locked on PostgreSQL for the rest of the transaction.
    pub async fn code_by_id_locked(&mut self, id: i64) -> Result<Option<CodeRow>> {
        let sqlite = select_codes!("WHERE id = $1");
        let postgres = select_codes!("WHERE id = $1 FOR UPDATE");
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, CodeRow>(sql)
            .bind(id)
            .fetch_optional(c))?)
    }

    pub async fn code_by_id(&mut self, id: i64) -> Result<Option<CodeRow>> {
        let sql = select_codes!("WHERE id = $1");
        Ok(on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(id).fetch_optional(c))?)
    }

    /// Codes an entry holds: access codes bound to it and referral codes it gives.
    pub async fn codes_of_entry(&mut self, entry_id: i64) -> Result<Vec<CodeRow>> {
        let sql = select_codes!("WHERE bound_entry_id = $1 OR inviter_entry_id = $1 ORDER BY id");
        Ok(on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(entry_id).fetch_all(c))?)
    }

    /// The codes of a set (all statuses), newest first.
    pub async fn codes_in(&mut self, codes: &CodeSet<i64, i64>) -> Result<Vec<CodeRow>> {
        let (sql, _) = code_set_sql(codes);
        Ok(match code_set_value(codes) {
            SetValue::Id(v) => on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(v).fetch_all(c))?,
            SetValue::Text(v) => on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(v).fetch_all(c))?,
        })
    }

    /// Codes for `codes list`: optional campaign/batch/kind filters, newest first.
    pub async fn list_codes(
        &mut self,
        campaign: Option<&str>,
        batch: Option<i64>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CodeRow>> {
        let sql = select_codes!(
            "WHERE ($1 IS NULL OR campaign = $1) AND ($2 IS NULL OR batch_id = $2) AND ($3 IS NULL OR kind = $3) \
             ORDER BY id DESC LIMIT $4"
        );
        Ok(
            on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(campaign).bind(batch).bind(kind).bind(limit).fetch_all(c))?,
        )
    }

    /// Revokes every still-active code in `codes` and returns exactly the
    /// rows this statement revoked (as they are now), by id, so the caller
    /// records one event per code that changed, in the same transaction,
    /// including a code created after any earlier read of the set.
    pub async fn revoke_codes(
        &mut self,
        codes: &CodeSet<i64, i64>,
        now: DateTime<Utc>,
        by: &str,
        reason: Option<&str>,
    ) -> Result<Vec<CodeRow>> {
        let (_, sql) = code_set_sql(codes);
        let mut rows = match code_set_value(codes) {
            SetValue::Id(v) => {
                on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(v).bind(now).bind(by).bind(reason).fetch_all(c))?
            }
            SetValue::Text(v) => {
                on!(self, c => sqlx::query_as::<_, CodeRow>(sql).bind(v).bind(now).bind(by).bind(reason).fetch_all(c))?
            }
        };
        rows.sort_unstable_by_key(|r| r.id);
        Ok(rows)
    }

    /// Takes one use of a code if it is active, unexpired, below `max_uses`
    /// and below its daily cap. Returns false when no use was available.
    pub async fn take_use(&mut self, id: i64, now: DateTime<Utc>, day: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE invite_codes SET uses = uses + 1, \
                   day_uses = CASE WHEN uses_day = $3 THEN day_uses + 1 ELSE 1 END, uses_day = $3 \
                   WHERE id = $1 AND status = 'active' AND expires_at > $2 AND uses < max_uses \
                   AND (daily_cap IS NULL OR uses_day IS NULL OR uses_day <> $3 OR day_uses < daily_cap)";
        let done = exec!(self, c => sqlx::query(sql).bind(id).bind(now).bind(day).execute(c))?;
        Ok(done == 1)
    }

    /// Whether `take_use` would succeed now, without taking the use.
    pub async fn has_free_use(&mut self, id: i64, now: DateTime<Utc>, day: DateTime<Utc>) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM invite_codes \
                   WHERE id = $1 AND status = 'active' AND expires_at > $2 AND uses < max_uses \
                   AND (daily_cap IS NULL OR uses_day IS NULL OR uses_day <> $3 OR day_uses < daily_cap)";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(id).bind(now).bind(day).fetch_one(c))? == 1)
    }

    /// Gives back a use taken on `taken_day` (a hold that lapsed).
    pub async fn give_back_use(&mut self, id: i64, taken_day: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE invite_codes SET uses = uses - 1, \
                   day_uses = CASE WHEN uses_day = $2 AND day_uses > 0 THEN day_uses - 1 ELSE day_uses END \
                   WHERE id = $1 AND uses > 0";
        exec!(self, c => sqlx::query(sql).bind(id).bind(taken_day).execute(c))?;
        Ok(())
    }

    pub async fn insert_redemption(
        &mut self,
        code_id: i64,
        entry_id: i64,
        status: &str,
        now: DateTime<Utc>,
        hold_until: Option<DateTime<Utc>>,
    ) -> Result<i64> {
        let completed = (status == "completed").then_some(now);
        let sql = "INSERT INTO redemptions (code_id, entry_id, status, created_at, hold_expires_at, completed_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql)
            .bind(code_id).bind(entry_id).bind(status).bind(now).bind(hold_until).bind(completed)
            .fetch_one(c))?)
    }

    /// The newest pending redemption of an entry, if any.
    pub async fn pending_redemption(&mut self, entry_id: i64) -> Result<Option<RedemptionRow>> {
        let sql = "SELECT id, code_id, entry_id, status, created_at, hold_expires_at, completed_at FROM redemptions \
                   WHERE entry_id = $1 AND status = 'pending' ORDER BY id DESC LIMIT 1";
        Ok(on!(self, c => sqlx::query_as::<_, RedemptionRow>(sql).bind(entry_id).fetch_optional(c))?)
    }

    /// One redemption, its row locked until the transaction ends (on
    /// PostgreSQL; SQLite's write transactions are serial already), so a
    /// sweeper releasing it and a confirmation completing it are decided
    /// one after the other, on the row as it is.
    pub async fn redemption_locked(&mut self, id: i64) -> Result<Option<RedemptionRow>> {
        let sqlite = "SELECT id, code_id, entry_id, status, created_at, hold_expires_at, completed_at FROM redemptions WHERE id = $1";
        let postgres = "SELECT id, code_id, entry_id, status, created_at, hold_expires_at, completed_at FROM redemptions WHERE id = $1 FOR UPDATE";
        Ok(on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, RedemptionRow>(sql)
            .bind(id)
            .fetch_optional(c))?)
    }

    pub async fn redemptions_of_entry(&mut self, entry_id: i64) -> Result<Vec<RedemptionRow>> {
        let sql = "SELECT id, code_id, entry_id, status, created_at, hold_expires_at, completed_at FROM redemptions \
                   WHERE entry_id = $1 ORDER BY id";
        Ok(on!(self, c => sqlx::query_as::<_, RedemptionRow>(sql).bind(entry_id).fetch_all(c))?)
    }

    pub async fn complete_redemption(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE redemptions SET status = 'completed', completed_at = $2 WHERE id = $1 AND status = 'pending'";
        let done = exec!(self, c => sqlx::query(sql).bind(id).bind(now).execute(c))?;
        Ok(done == 1)
    }

    /// Ends one pending redemption without completing it; false if it was
    /// not pending any more.
    pub async fn expire_redemption(&mut self, id: i64) -> Result<bool> {
        let sql = "UPDATE redemptions SET status = 'expired' WHERE id = $1 AND status = 'pending'";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).execute(c))? == 1)
    }

    /// Marks lapsed holds expired (optionally only for one code) and returns
    /// them, so the caller can give their uses back and record events.
    pub async fn expire_holds(
        &mut self,
        code_id: Option<i64>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<RedemptionRow>> {
        let sql = "UPDATE redemptions SET status = 'expired' WHERE id IN (\
                   SELECT id FROM redemptions WHERE status = 'pending' AND hold_expires_at <= $1 \
                   AND ($2 IS NULL OR code_id = $2) ORDER BY id LIMIT $3) AND status = 'pending' \
                   RETURNING id, code_id, entry_id, status, created_at, hold_expires_at, completed_at";
        Ok(on!(self, c => sqlx::query_as::<_, RedemptionRow>(sql).bind(now).bind(code_id).bind(limit).fetch_all(c))?)
    }
}

/// A set's read and its revoke, each on the one column that names the
/// set, so each uses that column's index (a query of optional filters,
/// `$1 IS NULL OR …`, is planned as a scan of the whole table).
macro_rules! by_column {
    ($column:literal) => {
        (
            concat!("SELECT ", code_columns!(), " FROM invite_codes WHERE ", $column, " = $1 ORDER BY id DESC"),
            concat!(
                "UPDATE invite_codes SET status = 'revoked', revoked_at = $2, revoked_by = $3, revoke_reason = $4 WHERE ",
                $column,
                " = $1 AND status = 'active' RETURNING ",
                code_columns!()
            ),
        )
    };
}

/// (read, revoke) for a set of codes; public for the query-plan tests.
pub fn code_set_sql(codes: &CodeSet<i64, i64>) -> (&'static str, &'static str) {
    match codes {
        CodeSet::Code(_) => by_column!("id"),
        CodeSet::Batch(_) => by_column!("batch_id"),
        CodeSet::Campaign(_) => by_column!("campaign"),
        CodeSet::Inviter(_) => by_column!("inviter_entry_id"),
        CodeSet::BoundTo(_) => by_column!("bound_entry_id"),
    }
}

enum SetValue<'a> {
    Id(i64),
    Text(&'a str),
}

fn code_set_value(codes: &CodeSet<i64, i64>) -> SetValue<'_> {
    match codes {
        CodeSet::Code(v) | CodeSet::Batch(v) | CodeSet::Inviter(v) | CodeSet::BoundTo(v) => SetValue::Id(*v),
        CodeSet::Campaign(c) => SetValue::Text(c),
    }
}

/// Access codes the sweeper looks at: active, unused, bound to an entry
/// still `invited`. Driven from the codes, so the plan reads the partial
/// index `invite_codes_unused_expiry` in expiry order (joining entries
/// first would read every invited entry on each sweep).
macro_rules! unused_access {
    ($tail:literal) => {
        concat!(
            "SELECT c.id, c.bound_entry_id, (SELECT e.email FROM entries e WHERE e.id = c.bound_entry_id), \
             c.expires_at, c.hint FROM invite_codes c \
             WHERE c.kind = 'access' AND c.status = 'active' AND c.uses = 0 \
             AND EXISTS (SELECT 1 FROM entries e WHERE e.id = c.bound_entry_id AND e.status = 'invited') ",
            $tail
        )
    };
}

/// (code id, entry id, email, expires at, hint).
pub type UnusedAccess = (i64, i64, String, DateTime<Utc>, Option<String>);

impl Tx {
    /// Delivered access codes expiring in (`now`, `until`] that have had
    /// no reminder yet (at most one per code: the `invite_reminder` event
    /// of the code is the record).
    pub async fn codes_due_reminder(
        &mut self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<UnusedAccess>> {
        let sql = unused_access!(
            "AND c.code_hash IS NOT NULL AND c.expires_at > $1 AND c.expires_at <= $2 \
             AND EXISTS (SELECT 1 FROM outbox o WHERE o.entry_id = c.bound_entry_id AND o.code_id = c.id AND o.kind = 'invite' \
                         AND o.status = 'sent' AND o.payload IS NULL) \
             AND NOT EXISTS (SELECT 1 FROM events v WHERE v.code_id = c.id AND v.kind = 'invite_reminder') \
             ORDER BY c.expires_at, c.id LIMIT $3"
        );
        Ok(on!(self, c => sqlx::query_as::<_, UnusedAccess>(sql).bind(now).bind(until).bind(limit).fetch_all(c))?)
    }

    /// Access codes that expired unused while their entry is `invited`.
    pub async fn expired_unused_access(&mut self, now: DateTime<Utc>, limit: i64) -> Result<Vec<UnusedAccess>> {
        let sql = unused_access!("AND c.expires_at <= $1 ORDER BY c.expires_at, c.id LIMIT $2");
        Ok(on!(self, c => sqlx::query_as::<_, UnusedAccess>(sql).bind(now).bind(limit).fetch_all(c))?)
    }
}
