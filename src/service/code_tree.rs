//! The codes as a tree, for the console's Codes view (and, later, a
//! context): campaigns (and the access and referral groups) → batches →
//! codes, each level with its totals counted by the database, the codes
//! themselves read a page at a time.

use super::codes::{CodeView, MAX_CODES_LISTED, check_campaign};
use super::{Actor, Result, Velvet};
use crate::domain::{Permission, Switch};
use crate::store::{TreeJoinedRow, TreeTotalsRow};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub use crate::store::{CodeBranch, CodeGroup, TreeBatch};

/// What one level of the tree holds. `issued` = `active` + `used` +
/// `expired` + `revoked`, each code counted once, as its state reads now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeTotals {
    pub issued: i64,
    /// Still usable (including codes whose mail has not gone out yet).
    pub active: i64,
    /// Every use taken.
    pub used: i64,
    /// Past their expiry, or ended unused by the invite sweeper.
    pub expired: i64,
    /// Revoked by an operator.
    pub revoked: i64,
    /// Uses taken, and allowed, summed over the codes.
    pub uses: i64,
    pub max_uses: i64,
    /// People who joined with a code of this level.
    pub joined: i64,
    /// Codes not revoked yet (active, used up or past expiry): exactly what
    /// revoking this level changes.
    pub revocable: i64,
}

impl CodeTotals {
    fn add(&mut self, o: &CodeTotals) {
        self.issued += o.issued;
        self.active += o.active;
        self.used += o.used;
        self.expired += o.expired;
        self.revoked += o.revoked;
        self.uses += o.uses;
        self.max_uses += o.max_uses;
        self.joined += o.joined;
        self.revocable += o.revocable;
    }

    fn of(r: &TreeTotalsRow) -> CodeTotals {
        CodeTotals {
            issued: r.issued,
            active: r.issued - r.used - r.expired - r.revoked,
            used: r.used,
            expired: r.expired,
            revoked: r.revoked,
            uses: r.uses,
            max_uses: r.max_uses,
            joined: 0,
            revocable: r.revocable,
        }
    }
}

/// A batch row: one `codes issue`, one invite run (or the codes of a group
/// that have no batch: `TreeBatch::Unbatched`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeTreeBatch {
    pub batch: TreeBatch,
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub totals: CodeTotals,
}

impl CodeTreeBatch {
    /// "batch 12", or "no batch" for seeded or imported codes.
    pub fn label(&self) -> String {
        match self.batch {
            TreeBatch::Batch(id) => format!("batch {id}"),
            TreeBatch::Unbatched => "no batch".into(),
            TreeBatch::All => "all".into(),
        }
    }
}

/// A top-level row: a campaign, the access codes or the referral codes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeTreeGroup {
    pub group: CodeGroup,
    /// The sum of its batches.
    pub totals: CodeTotals,
    /// The campaign's redemption is paused (`pause redemption --campaign`);
    /// always false for the access and referral groups.
    pub paused: bool,
    /// Newest batch first, codes without a batch last. Empty for the
    /// referral group, which lists its codes directly.
    pub batches: Vec<CodeTreeBatch>,
    /// The id of its newest code: campaigns are listed newest first.
    pub newest: i64,
}

impl CodeTreeGroup {
    /// Whether the group opens onto batches (or straight onto its codes).
    pub fn has_batches(&self) -> bool {
        self.group != CodeGroup::Referral
    }
}

/// The group a (kind, campaign) row belongs to, if any.
fn group_of(kind: &str, campaign: Option<&str>) -> Option<CodeGroup> {
    match (kind, campaign) {
        ("partner", Some(c)) => Some(CodeGroup::Campaign(c.to_string())),
        ("access", None) => Some(CodeGroup::Access),
        ("referral", _) => Some(CodeGroup::Referral),
        _ => None,
    }
}

fn batch_of(group: &CodeGroup, batch_id: Option<i64>) -> TreeBatch {
    match (group, batch_id) {
        (CodeGroup::Referral, _) => TreeBatch::All,
        (_, Some(b)) => TreeBatch::Batch(b),
        (_, None) => TreeBatch::Unbatched,
    }
}

/// Builds the tree from the database's rows: batches under their group,
/// each group the sum of its batches, campaigns newest first, then the
/// access codes, then the referral codes.
fn assemble(totals: &[TreeTotalsRow], joined: &[TreeJoinedRow], paused: &[Switch<i64>]) -> Vec<CodeTreeGroup> {
    let mut through: HashMap<(CodeGroup, TreeBatch), i64> = HashMap::new();
    for j in joined {
        if let Some(g) = group_of(&j.kind, j.campaign.as_deref()) {
            let b = batch_of(&g, j.batch_id);
            *through.entry((g, b)).or_default() += j.joined;
        }
    }
    let mut groups: Vec<CodeTreeGroup> = Vec::new();
    for r in totals {
        let Some(group) = group_of(&r.kind, r.campaign.as_deref()) else { continue };
        let batch = batch_of(&group, r.batch_id);
        let mut t = CodeTotals::of(r);
        t.joined = through.get(&(group.clone(), batch)).copied().unwrap_or(0);
        let at = match groups.iter().position(|g| g.group == group) {
            Some(i) => i,
            None => {
                let paused = match &group {
                    CodeGroup::Campaign(c) => paused.contains(&Switch::Campaign(c.clone())),
                    _ => false,
                };
                groups.push(CodeTreeGroup {
                    group: group.clone(),
                    totals: CodeTotals::default(),
                    paused,
                    batches: Vec::new(),
                    newest: 0,
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[at];
        g.totals.add(&t);
        g.newest = g.newest.max(r.newest);
        if g.has_batches() {
            g.batches.push(CodeTreeBatch {
                batch,
                created_at: r.created_at,
                created_by: r.created_by.clone(),
                totals: t,
            });
        }
    }
    for g in &mut groups {
        g.batches.sort_by_key(|b| match b.batch {
            TreeBatch::Batch(id) => std::cmp::Reverse(id),
            _ => std::cmp::Reverse(i64::MIN),
        });
    }
    let rank = |g: &CodeTreeGroup| match g.group {
        CodeGroup::Campaign(_) => 0,
        CodeGroup::Access => 1,
        CodeGroup::Referral => 2,
    };
    groups.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.newest.cmp(&a.newest)));
    groups
}

impl Velvet {
    /// Every campaign (and the access and referral groups) with its
    /// batches, each with its totals: one read of the codes' index, the
    /// people who joined through them, and the pause switches.
    pub async fn code_tree(&self, actor: &Actor) -> Result<Vec<CodeTreeGroup>> {
        actor.require(Permission::Read)?;
        let now = self.now();
        let mut tx = self.store.read().await?;
        let totals = tx.code_tree_totals(now).await?;
        let joined = tx.code_tree_joined().await?;
        let paused: Vec<Switch<i64>> = tx.switches().await?.into_iter().map(|s| s.switch).collect();
        Ok(assemble(&totals, &joined, &paused))
    }

    /// At most `limit` (1 to `MAX_CODES_LISTED`) codes of `branch` with an
    /// id below `before_id`, newest first: the next page starts below the
    /// last id of this one.
    pub async fn codes_page(
        &self,
        actor: &Actor,
        branch: &CodeBranch,
        before_id: i64,
        limit: i64,
    ) -> Result<Vec<CodeView>> {
        actor.require(Permission::Read)?;
        let branch = match &branch.group {
            CodeGroup::Campaign(c) => {
                CodeBranch { group: CodeGroup::Campaign(check_campaign(c)?), batch: branch.batch }
            }
            _ => branch.clone(),
        };
        let now = self.now();
        let mut tx = self.store.read().await?;
        let rows = tx.branch_page(&branch, before_id, limit.clamp(1, MAX_CODES_LISTED)).await?;
        Ok(rows.iter().map(|c| CodeView::from_row(c, now)).collect())
    }
}
