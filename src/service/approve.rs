//! Approving confirmed entries: one by email, or the next N in line.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::{EntryStatus, EventKind, Permission, Transition};
use crate::store::{EntryRow, StatusStamps};

/// Hard ceiling for one `approve --next N`, to keep a typo from emptying
/// the line; run it again for more.
pub const MAX_APPROVE_AT_ONCE: i64 = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Approved {
    pub entry_id: i64,
    pub email: String,
}

fn approved(e: &EntryRow) -> Approved {
    Approved { entry_id: e.id, email: e.email.clone() }
}

impl Velvet {
    /// Approves one confirmed entry. `dry_run` checks without writing.
    pub async fn approve_one(&self, actor: &Actor, email: &str, dry_run: bool) -> Result<Approved> {
        actor.require(Permission::Approve)?;
        let mut tx = self.store.write().await?;
        let entry = self.entry_for(&mut tx, email).await?;
        if dry_run {
            let from = entry.status()?;
            from.apply(Transition::Approve).map_err(|source| Error::Illegal { email: entry.email.clone(), source })?;
            return Ok(approved(&entry));
        }
        self.transition(&mut tx, &entry, Transition::Approve, StatusStamps::default(), event(EventKind::Approve, actor)).await?;
        tx.commit().await?;
        Ok(approved(&entry))
    }

    /// Approves the `n` oldest confirmed entries. Two approvers racing each
    /// other take disjoint entries (row locks skip what the other holds).
    pub async fn approve_next(&self, actor: &Actor, n: i64, dry_run: bool) -> Result<Vec<Approved>> {
        actor.require(Permission::Approve)?;
        if !(1..=MAX_APPROVE_AT_ONCE).contains(&n) {
            return Err(Error::InvalidInput(format!("--next must be between 1 and {MAX_APPROVE_AT_ONCE}, not {n}")));
        }
        let mut tx = if dry_run { self.store.read().await? } else { self.store.write().await? };
        let queue = tx.confirmed_queue(n).await?;
        if dry_run {
            return Ok(queue.iter().map(approved).collect());
        }
        let mut done = Vec::with_capacity(queue.len());
        for entry in &queue {
            debug_assert_eq!(entry.status()?, EntryStatus::CONFIRMED);
            let e = crate::store::NewEvent { rule: Some(format!("next {n}")), ..event(EventKind::Approve, actor) };
            self.transition(&mut tx, entry, Transition::Approve, StatusStamps::default(), e).await?;
            done.push(approved(entry));
        }
        tx.commit().await?;
        Ok(done)
    }
}
