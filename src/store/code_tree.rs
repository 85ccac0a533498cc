//! The Codes view's tree: codes grouped by campaign (partner codes) or kind
//! (access, referral codes), then by batch, each level with totals counted
//! by the database; and one branch's codes a page at a time.
//!
//! The totals are one pass over `invite_codes_tree` (an index on kind,
//! campaign, batch and id that carries what the totals read): batches are
//! counted in the index's order and campaigns summed from their batches, so
//! no level reads the table again. Pages walk the same index (or, for
//! referral codes, `invite_codes_referral`) down the primary key.

use super::codes::{CodeRow, EXPIRED_UNUSED, code_columns};
use super::{Result, Tx, on};
use chrono::{DateTime, Utc};

/// A top-level row of the tree. Partner codes always carry a campaign and
/// access codes never do (the service makes them so), so every code is in
/// exactly one group: a campaign's (partner codes), the access codes (no
/// campaign) or the referral codes (all of them).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeGroup {
    /// Partner codes of one campaign, by batch (each `codes issue`).
    Campaign(String),
    /// Access codes (one per invited person), by batch (each invite run).
    Access,
    /// Referral codes (given to people who joined). Each person's are a
    /// batch of their own, so this group lists its codes directly.
    Referral,
}

impl CodeGroup {
    /// How operators read it: the campaign's name, or what the codes are.
    pub fn label(&self) -> &str {
        match self {
            CodeGroup::Campaign(c) => c,
            CodeGroup::Access => "access codes",
            CodeGroup::Referral => "referral codes",
        }
    }
}

/// Which codes of a group: one batch, the ones without a batch (seeded or
/// imported), or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeBatch {
    All,
    Batch(i64),
    Unbatched,
}

/// One branch of the tree: a group, or one batch of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct CodeBranch {
    pub group: CodeGroup,
    pub batch: TreeBatch,
}

/// Totals of one (kind, campaign, batch), as the database counts them at
/// `now`. `batch_id` is `None` for codes without a batch, and for the
/// referral group, which is counted whole.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TreeTotalsRow {
    pub kind: String,
    pub campaign: Option<String>,
    pub batch_id: Option<i64>,
    pub issued: i64,
    pub uses: i64,
    pub max_uses: i64,
    /// Not revoked or expired, every use taken.
    pub used: i64,
    /// Past their expiry, or ended unused by the invite sweeper.
    pub expired: i64,
    /// Revoked by an operator (or by an erasure).
    pub revoked: i64,
    /// Not revoked yet: exactly what a revoke of this set of codes changes.
    pub revocable: i64,
    /// The newest code's id (groups are listed newest first).
    pub newest: i64,
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
}

/// How many people joined with a code of one (kind, campaign, batch).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TreeJoinedRow {
    pub kind: String,
    pub campaign: Option<String>,
    pub batch_id: Option<i64>,
    pub joined: i64,
}

macro_rules! tree_totals {
    () => {
        "COUNT(*) AS issued, CAST(SUM(uses) AS BIGINT) AS uses, CAST(SUM(max_uses) AS BIGINT) AS max_uses, \
         SUM(CASE WHEN status = 'active' AND expires_at > $1 AND uses >= max_uses THEN 1 ELSE 0 END) AS used, \
         SUM(CASE WHEN status = 'active' AND expires_at <= $1 THEN 1 \
                  WHEN status = 'revoked' AND revoke_reason = $2 THEN 1 ELSE 0 END) AS expired, \
         SUM(CASE WHEN status = 'revoked' AND (revoke_reason IS NULL OR revoke_reason <> $2) THEN 1 ELSE 0 END) AS revoked, \
         SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS revocable, MAX(id) AS newest"
    };
}

/// The tree's totals at `$1` (`$2` is `EXPIRED_UNUSED`): one statement, each
/// part a range of `invite_codes_tree` grouped in the index's order. Public
/// for the query-plan tests.
pub const CODE_TREE_TOTALS: &str = concat!(
    "SELECT t.kind, t.campaign, t.batch_id, t.issued, t.uses, t.max_uses, t.used, t.expired, t.revoked, t.revocable, \
     t.newest, b.created_at, b.created_by FROM (",
    "SELECT kind, campaign, batch_id, ",
    tree_totals!(),
    " FROM invite_codes WHERE kind = 'partner' AND campaign IS NOT NULL GROUP BY kind, campaign, batch_id",
    " UNION ALL SELECT kind, campaign, batch_id, ",
    tree_totals!(),
    " FROM invite_codes WHERE kind = 'access' AND campaign IS NULL GROUP BY kind, campaign, batch_id",
    " UNION ALL SELECT kind, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), ",
    tree_totals!(),
    " FROM invite_codes WHERE kind = 'referral' GROUP BY kind",
    ") t LEFT JOIN batches b ON b.id = t.batch_id"
);

/// Who joined through each (kind, campaign, batch): driven from the people
/// who joined with a code (`entries_joined_code`), each code read by its key.
pub const CODE_TREE_JOINED: &str = "SELECT c.kind, c.campaign, \
     CASE WHEN c.kind = 'referral' THEN NULL ELSE c.batch_id END AS batch_id, COUNT(*) AS joined \
     FROM entries e JOIN invite_codes c ON c.id = e.joined_code_id \
     WHERE e.joined_code_id IS NOT NULL GROUP BY 1, 2, 3";

macro_rules! branch_page {
    ($where:literal, $limit:literal) => {
        concat!("SELECT ", code_columns!(), " FROM invite_codes WHERE ", $where, " ORDER BY id DESC LIMIT ", $limit)
    };
}

/// A page of `branch`'s codes below an id, newest first. The binds are, in
/// order: the campaign (for a campaign), the batch id (for one batch), the
/// id to read below, the limit. Public for the query-plan tests.
pub fn branch_page_sql(branch: &CodeBranch) -> &'static str {
    match (&branch.group, branch.batch) {
        (CodeGroup::Campaign(_), TreeBatch::Batch(_)) => {
            branch_page!("kind = 'partner' AND campaign = $1 AND batch_id = $2 AND id < $3", "$4")
        }
        (CodeGroup::Campaign(_), TreeBatch::Unbatched) => {
            branch_page!("kind = 'partner' AND campaign = $1 AND batch_id IS NULL AND id < $2", "$3")
        }
        (CodeGroup::Campaign(_), TreeBatch::All) => {
            branch_page!("kind = 'partner' AND campaign = $1 AND id < $2", "$3")
        }
        (CodeGroup::Access, TreeBatch::Batch(_)) => {
            branch_page!("kind = 'access' AND campaign IS NULL AND batch_id = $1 AND id < $2", "$3")
        }
        (CodeGroup::Access, TreeBatch::Unbatched) => {
            branch_page!("kind = 'access' AND campaign IS NULL AND batch_id IS NULL AND id < $1", "$2")
        }
        (CodeGroup::Access, TreeBatch::All) => branch_page!("kind = 'access' AND campaign IS NULL AND id < $1", "$2"),
        (CodeGroup::Referral, TreeBatch::Batch(_)) => {
            branch_page!("kind = 'referral' AND batch_id = $1 AND id < $2", "$3")
        }
        (CodeGroup::Referral, TreeBatch::Unbatched) => {
            branch_page!("kind = 'referral' AND batch_id IS NULL AND id < $1", "$2")
        }
        (CodeGroup::Referral, TreeBatch::All) => branch_page!("kind = 'referral' AND id < $1", "$2"),
    }
}

impl Tx {
    /// Totals of every (kind, campaign, batch) at `now`.
    pub async fn code_tree_totals(&mut self, now: DateTime<Utc>) -> Result<Vec<TreeTotalsRow>> {
        Ok(
            on!(self, c => sqlx::query_as::<_, TreeTotalsRow>(CODE_TREE_TOTALS).bind(now).bind(EXPIRED_UNUSED).fetch_all(c))?,
        )
    }

    /// People who joined through each (kind, campaign, batch).
    pub async fn code_tree_joined(&mut self) -> Result<Vec<TreeJoinedRow>> {
        Ok(on!(self, c => sqlx::query_as::<_, TreeJoinedRow>(CODE_TREE_JOINED).fetch_all(c))?)
    }

    /// At most `limit` codes of `branch` with an id below `before`, newest first.
    pub async fn branch_page(&mut self, branch: &CodeBranch, before: i64, limit: i64) -> Result<Vec<CodeRow>> {
        let sql = branch_page_sql(branch);
        let campaign = match &branch.group {
            CodeGroup::Campaign(c) => Some(c.as_str()),
            _ => None,
        };
        let batch = match branch.batch {
            TreeBatch::Batch(b) => Some(b),
            _ => None,
        };
        Ok(on!(self, c => {
            let mut q = sqlx::query_as::<_, CodeRow>(sql);
            if let Some(campaign) = campaign {
                q = q.bind(campaign);
            }
            if let Some(batch) = batch {
                q = q.bind(batch);
            }
            q.bind(before).bind(limit).fetch_all(c)
        })?)
    }
}
