//! Blocking and unblocking people.

use super::{Actor, Result, Velvet, event};
use crate::domain::{EventKind, Permission, Transition};
use crate::store::{NewEvent, StatusStamps};

pub const MAX_REASON_LEN: usize = 200;

impl Velvet {
    pub async fn block(&self, actor: &Actor, email: &str, reason: Option<&str>) -> Result<()> {
        actor.require(Permission::Block)?;
        let reason =
            reason.map(|r| r.trim().chars().take(MAX_REASON_LEN).collect::<String>()).filter(|r| !r.is_empty());
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
