//! Approving confirmed entries — one by email, a marked set, or the next N
//! in line — through one use case: the same lock order, the same
//! state-machine rule and the same `approve` event for every front end.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::{EntryStatus, EventKind, Permission, Transition};
use crate::store::NewEvent;
use chrono::{DateTime, Utc};

/// Hard ceiling for one `approve --next N`, to keep a typo from emptying
/// the line; run it again for more.
pub const MAX_APPROVE_AT_ONCE: i64 = 100_000;

/// Who an approval is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approvees<'a> {
    /// One person: an error if they are not confirmed.
    Email(&'a str),
    /// A marked set: those no longer confirmed are skipped (a second
    /// console approving the same marks changes nothing).
    Ids(&'a [i64]),
    /// The N oldest confirmations; two approvers racing take disjoint sets.
    Next(i64),
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Approved {
    pub entry_id: i64,
    pub email: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApproveReport {
    /// Oldest confirmation first.
    pub approved: Vec<Approved>,
    /// Marked entries not confirmed (any more): someone else approved them, or they changed.
    pub skipped: usize,
}

impl Velvet {
    /// Approves `who`. `dry_run` says who would be approved and writes nothing.
    pub async fn approve(&self, actor: &Actor, who: Approvees<'_>, dry_run: bool) -> Result<ApproveReport> {
        actor.require(Permission::Approve)?;
        let from = EntryStatus::CONFIRMED;
        let to = from
            .apply(Transition::Approve)
            .map_err(|source| Error::Illegal { email: "confirmed entries".into(), source })?;
        let now = self.now();
        let mut tx = if dry_run { self.store.read().await? } else { self.store.write().await? };
        let (ids, rule) = match who {
            Approvees::Email(email) => {
                let entry = self.entry_for(&mut tx, email).await?;
                entry
                    .status()?
                    .apply(Transition::Approve)
                    .map_err(|source| Error::Illegal { email: entry.email.clone(), source })?;
                (vec![entry.id], None)
            }
            Approvees::Ids(ids) => {
                let mut ids = ids.to_vec();
                // One lock order for everyone, so two consoles cannot deadlock.
                ids.sort_unstable();
                ids.dedup();
                (ids, Some("marked".to_string()))
            }
            Approvees::Next(n) => {
                if !(1..=MAX_APPROVE_AT_ONCE).contains(&n) {
                    return Err(Error::InvalidInput(format!(
                        "--next must be between 1 and {MAX_APPROVE_AT_ONCE}, not {n}"
                    )));
                }
                (Vec::new(), Some(format!("next {n}")))
            }
        };
        let mut rows: Vec<(i64, String, Option<DateTime<Utc>>)> = match (who, dry_run) {
            (Approvees::Next(n), true) => {
                tx.confirmed_queue(n).await?.into_iter().map(|e| (e.id, e.email, e.confirmed_at)).collect()
            }
            (Approvees::Next(n), false) => tx.approve_oldest(n, from.as_str(), to.as_str(), now).await?,
            (_, true) => {
                let mut rows = Vec::new();
                for id in &ids {
                    if let Some(e) = tx.entry_by_id(*id).await?.filter(|e| e.status == from.as_str()) {
                        rows.push((e.id, e.email, e.confirmed_at));
                    }
                }
                rows
            }
            (_, false) => tx.approve_ids(&ids, from.as_str(), to.as_str(), now).await?,
        };
        if let (Approvees::Email(email), true) = (who, rows.is_empty()) {
            return Err(Error::Conflict(format!("{email} changed meanwhile; look it up and try again")));
        }
        rows.sort_by_key(|(id, _, confirmed_at)| (*confirmed_at, *id));
        if !dry_run {
            let events: Vec<(DateTime<Utc>, NewEvent)> = rows
                .iter()
                .map(|(id, _, _)| {
                    (now, NewEvent { entry_id: Some(*id), rule: rule.clone(), ..event(EventKind::Approve, actor) })
                })
                .collect();
            tx.bulk_events(&events).await?;
            tx.commit().await?;
        }
        let skipped = ids.len().saturating_sub(rows.len());
        let approved = rows.into_iter().map(|(entry_id, email, _)| Approved { entry_id, email }).collect();
        Ok(ApproveReport { approved, skipped })
    }

    /// `approve(Approvees::Email)`, for one person.
    pub async fn approve_one(&self, actor: &Actor, email: &str, dry_run: bool) -> Result<Approved> {
        let mut report = self.approve(actor, Approvees::Email(email), dry_run).await?;
        Ok(report.approved.remove(0))
    }

    /// `approve(Approvees::Next)`, for the next `n` in line.
    pub async fn approve_next(&self, actor: &Actor, n: i64, dry_run: bool) -> Result<Vec<Approved>> {
        Ok(self.approve(actor, Approvees::Next(n), dry_run).await?.approved)
    }
}
