//! Blocking and unblocking people, one at a time or as a batch (by email
//! domain, address prefix or source) that can be undone as a set.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::{Email, EventKind, Permission, Standing, Transition};
use crate::store::{EntryRow, MatchOn, NewEvent, StatusStamps};

pub const MAX_REASON_LEN: usize = 200;
/// The most entries one bulk block takes.
pub const MAX_BULK_BLOCK: usize = 100_000;
/// Rows a bulk block's answer lists (its preview).
pub const BULK_PREVIEW: usize = 20;

/// Who a bulk block takes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockSelector {
    /// Every address at this domain (exactly; not its subdomains).
    Domain(String),
    /// Every address whose local part starts with this.
    Prefix(String),
    /// Every entry that signed up with this source tag.
    Source(String),
}

impl BlockSelector {
    /// `domain tempmail.example`, as events and answers name it.
    pub fn describe(&self) -> String {
        match self {
            BlockSelector::Domain(d) => format!("domain {d}"),
            BlockSelector::Prefix(p) => format!("prefix {p}"),
            BlockSelector::Source(s) => format!("source {s}"),
        }
    }

    /// The selector as stored and named (lowercased, trimmed), what to
    /// match on and the bound value; a precise error for bad input.
    fn query(&self) -> Result<(BlockSelector, MatchOn, String)> {
        let like = crate::store::like_literal;
        match self {
            BlockSelector::Domain(d) => {
                let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
                let probe = Email::parse(&format!("x@{d}")).map_err(|_| {
                    Error::InvalidInput(format!("--domain '{d}' is not a domain name, e.g. tempmail.example"))
                })?;
                let d = probe.domain().to_string();
                Ok((BlockSelector::Domain(d.clone()), MatchOn::EmailLike, format!("%@{}", like(&d))))
            }
            BlockSelector::Prefix(p) => {
                let p = p.trim().to_ascii_lowercase();
                if p.is_empty() || p.contains('@') || p.chars().any(char::is_whitespace) || p.len() > 64 {
                    return Err(Error::InvalidInput(format!(
                        "--prefix '{p}' must be the start of an address's local part (1-64 characters, no '@' or spaces), e.g. bot"
                    )));
                }
                Ok((BlockSelector::Prefix(p.clone()), MatchOn::EmailLike, format!("{}%", like(&p))))
            }
            BlockSelector::Source(s) => {
                let s = s.trim();
                if s.is_empty() || s.chars().count() > super::signup::MAX_SOURCE_LEN {
                    return Err(Error::InvalidInput(format!(
                        "--source must be the source tag people signed up with (1-{} characters)",
                        super::signup::MAX_SOURCE_LEN
                    )));
                }
                Ok((BlockSelector::Source(s.to_string()), MatchOn::Source, s.to_string()))
            }
        }
    }
}

/// What `block_many` did, or would do (`batch_id` is `None` on a dry run
/// or when nobody matched).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BulkBlock {
    pub batch_id: Option<i64>,
    pub count: usize,
    /// The first matches, in signup order (at most `BULK_PREVIEW`): the preview.
    pub first: Vec<String>,
}

/// What `unblock_batch` did: each person returned, with the status they have now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BulkUnblock {
    pub batch_id: i64,
    pub unblocked: Vec<(String, String)>,
}

fn clean_reason(reason: Option<&str>) -> Option<String> {
    reason.map(|r| r.trim().chars().take(MAX_REASON_LEN).collect::<String>()).filter(|r| !r.is_empty())
}

impl Velvet {
    pub async fn block(&self, actor: &Actor, email: &str, reason: Option<&str>) -> Result<()> {
        actor.require(Permission::Block)?;
        let reason = clean_reason(reason);
        let mut tx = self.store.write().await?;
        let entry = self.entry_for(&mut tx, email).await?;
        let stamps = StatusStamps { blocked: Some((self.now(), reason.clone())), ..Default::default() };
        let e = NewEvent { reason, ..event(EventKind::Block, actor) };
        self.transition(&mut tx, &entry, Transition::Block, stamps, e).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn unblock(&self, actor: &Actor, email: &str, reason: Option<&str>) -> Result<()> {
        actor.require(Permission::Block)?;
        let mut tx = self.store.write().await?;
        let entry = self.entry_for(&mut tx, email).await?;
        let e = NewEvent { reason: reason.map(String::from), ..event(EventKind::Unblock, actor) };
        self.transition(&mut tx, &entry, Transition::Unblock, StatusStamps::default(), e).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Velvet {
    /// Blocks everyone `selector` takes (optionally only in `status`) as one
    /// batch, or with `dry_run` says who it would take and changes nothing.
    /// Joined people are never taken and blocked ones already are; each
    /// entry remembers where it was, and `unblock_batch` returns exactly
    /// this set there. The batch id is the id of its `bulk_block` event.
    pub async fn block_many(
        &self,
        actor: &Actor,
        selector: &BlockSelector,
        status: Option<&str>,
        reason: Option<&str>,
        dry_run: bool,
    ) -> Result<BulkBlock> {
        actor.require(Permission::BlockMany)?;
        let (selector, on, value) = selector.query()?;
        if let Some(s) = status
            && Standing::parse(s).is_none()
        {
            return Err(Error::InvalidInput(format!(
                "--status must be pending, confirmed, approved or invited, not '{s}' (joined people cannot be blocked; blocked ones are already)"
            )));
        }
        let reason = clean_reason(reason);
        let now = self.now();
        let mut tx = if dry_run { self.store.read().await? } else { self.store.write().await? };
        let rows: Vec<EntryRow> = tx.entries_matching(on, &value, status, MAX_BULK_BLOCK as i64 + 1).await?;
        if rows.len() > MAX_BULK_BLOCK {
            return Err(Error::InvalidInput(format!(
                "{} takes more than {MAX_BULK_BLOCK} entries; narrow it with --status",
                selector.describe()
            )));
        }
        let first: Vec<String> = rows.iter().take(BULK_PREVIEW).map(|e| e.email.clone()).collect();
        if dry_run || rows.is_empty() {
            return Ok(BulkBlock { batch_id: None, count: rows.len(), first });
        }
        for e in &rows {
            // The state machine decides, as for one block.
            e.status()?.apply(Transition::Block).map_err(|source| Error::Illegal { email: e.email.clone(), source })?;
        }
        let rule = format!("bulk {}", selector.describe());
        let summary = NewEvent {
            rule: Some(rule.clone()),
            reason: reason.clone(),
            detail: Some(format!(
                "{} entries{}",
                rows.len(),
                status.map(|s| format!(", only {s}")).unwrap_or_default()
            )),
            ..event(EventKind::BulkBlock, actor)
        };
        let batch = self.record(&mut tx, summary).await?;
        let ids: Vec<i64> = rows.iter().map(|e| e.id).collect();
        if tx.block_batch(&ids, batch, reason.as_deref(), now).await? != ids.len() as u64 {
            return Err(Error::Conflict(format!(
                "some of the people {} takes changed while they were being blocked; try again",
                selector.describe()
            )));
        }
        let events: Vec<_> = rows
            .iter()
            .map(|e| {
                let ev = NewEvent {
                    entry_id: Some(e.id),
                    batch_id: Some(batch),
                    rule: Some(rule.clone()),
                    reason: reason.clone(),
                    detail: Some(format!("was {}", e.status)),
                    ..event(EventKind::Block, actor)
                };
                (now, ev)
            })
            .collect();
        tx.bulk_events(&events).await?;
        tx.commit().await?;
        Ok(BulkBlock { batch_id: Some(batch), count: rows.len(), first })
    }

    /// Undoes a bulk block: everyone it blocked who is still blocked by it
    /// goes back to the status they had (someone unblocked, or blocked
    /// again, one by one since is left as they are).
    pub async fn unblock_batch(&self, actor: &Actor, batch_id: i64) -> Result<BulkUnblock> {
        actor.require(Permission::BlockMany)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let known = tx.event_by_id(batch_id).await?.is_some_and(|e| e.kind == EventKind::BulkBlock.as_str());
        if !known {
            return Err(Error::NotFound(format!(
                "there is no bulk block #{batch_id}: use the batch id `velvet block --domain|--prefix|--source` printed"
            )));
        }
        let rows = tx.unblock_batch(batch_id).await?;
        if rows.is_empty() {
            return Err(Error::Conflict(format!(
                "nobody blocked by batch #{batch_id} is still blocked by it: undone already, or unblocked one by one"
            )));
        }
        let summary = NewEvent {
            batch_id: Some(batch_id),
            detail: Some(format!("{} entries", rows.len())),
            ..event(EventKind::BulkUnblock, actor)
        };
        self.record(&mut tx, summary).await?;
        let events: Vec<_> = rows
            .iter()
            .map(|(id, _, status)| {
                let ev = NewEvent {
                    entry_id: Some(*id),
                    batch_id: Some(batch_id),
                    rule: Some(format!("bulk unblock of batch {batch_id}")),
                    detail: Some(format!("back to {status}")),
                    ..event(EventKind::Unblock, actor)
                };
                (now, ev)
            })
            .collect();
        tx.bulk_events(&events).await?;
        tx.commit().await?;
        Ok(BulkUnblock { batch_id, unblocked: rows.into_iter().map(|(_, email, status)| (email, status)).collect() })
    }
}
