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
        self.transition(
            &mut tx,
            &entry,
            Transition::Approve,
            StatusStamps::default(),
            event(EventKind::Approve, actor),
        )
        .await?;
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
        if dry_run {
            let mut tx = self.store.read().await?;
            return Ok(tx.confirmed_queue(n).await?.iter().map(approved).collect());
        }
        // The rule comes from the state machine; the move is one statement.
        let from = EntryStatus::CONFIRMED;
        let to = from
            .apply(Transition::Approve)
            .map_err(|source| Error::Illegal { email: "confirmed entries".into(), source })?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let mut rows = tx.approve_oldest(n, from.as_str(), to.as_str(), now).await?;
        rows.sort_by_key(|(id, _, confirmed_at)| (*confirmed_at, *id));
        let events: Vec<(chrono::DateTime<chrono::Utc>, crate::store::NewEvent)> = rows
            .iter()
            .map(|(id, _, _)| {
                (
                    now,
                    crate::store::NewEvent {
                        entry_id: Some(*id),
                        rule: Some(format!("next {n}")),
                        ..event(EventKind::Approve, actor)
                    },
                )
            })
            .collect();
        tx.bulk_events(&events).await?;
        let done: Vec<Approved> = rows.into_iter().map(|(entry_id, email, _)| Approved { entry_id, email }).collect();
        tx.commit().await?;
        Ok(done)
    }
}
