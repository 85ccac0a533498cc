//! Pause switches and settings: kept in the database so every server and
//! console sees a change within a second.

use super::codes::check_campaign;
use super::{Actor, Result, Velvet, event};
use crate::domain::{EventKind, Permission, Settings, Switch, SwitchState};
use crate::store::{NewEvent, Tx};

impl Velvet {
    /// The switch an operator named, an inviter by entry id.
    async fn resolve_switch(&self, tx: &mut Tx, switch: &Switch<String>) -> Result<Switch<i64>> {
        Ok(match switch {
            Switch::Redemption => Switch::Redemption,
            Switch::Signups => Switch::Signups,
            Switch::Campaign(c) => Switch::Campaign(check_campaign(c)?),
            Switch::Inviter(email) => Switch::Inviter(self.entry_for(tx, email).await?.id),
        })
    }

    /// Turns `switch` on. Returns false if it was already on (nothing written).
    pub async fn pause(&self, actor: &Actor, switch: &Switch<String>, reason: Option<&str>) -> Result<bool> {
        actor.require(Permission::Pause)?;
        let mut tx = self.store.write().await?;
        let switch = self.resolve_switch(&mut tx, switch).await?;
        let changed = tx.insert_switch(&switch, self.now(), actor.name(), reason).await?;
        if changed {
            let e = NewEvent {
                rule: Some(switch.key()),
                reason: reason.map(String::from),
                ..event(EventKind::Pause, actor)
            };
            self.record(&mut tx, e).await?;
            tx.commit().await?;
        }
        Ok(changed)
    }

    /// Turns `switch` off. Returns false if it was not on.
    pub async fn resume(&self, actor: &Actor, switch: &Switch<String>) -> Result<bool> {
        actor.require(Permission::Pause)?;
        let mut tx = self.store.write().await?;
        let switch = self.resolve_switch(&mut tx, switch).await?;
        let changed = tx.delete_switch(&switch).await?;
        if changed {
            let e = NewEvent { rule: Some(switch.key()), ..event(EventKind::Resume, actor) };
            self.record(&mut tx, e).await?;
            tx.commit().await?;
        }
        Ok(changed)
    }

    pub async fn switches(&self, actor: &Actor) -> Result<Vec<SwitchState>> {
        actor.require(Permission::Read)?;
        let mut tx = self.store.read().await?;
        Ok(tx.switches().await?)
    }

    pub async fn settings(&self, actor: &Actor) -> Result<Settings> {
        actor.require(Permission::Read)?;
        let mut tx = self.store.read().await?;
        Self::load_settings(&mut tx).await
    }

    /// Changes one setting (validated), recording old and new value.
    pub async fn set_setting(&self, actor: &Actor, key: &str, value: &str) -> Result<Settings> {
        actor.require(Permission::Settings)?;
        let mut tx = self.store.write().await?;
        let mut settings = Self::load_settings(&mut tx).await?;
        let old = settings.get(key).unwrap_or_default();
        settings.set(key, value).map_err(|e| super::Error::InvalidInput(e.to_string()))?;
        let new = settings.get(key).unwrap_or_default();
        tx.upsert_setting(key, &new, self.now(), actor.name()).await?;
        let e = NewEvent {
            rule: Some(key.to_string()),
            detail: Some(format!("{key}: {old} -> {new}")),
            ..event(EventKind::Setting, actor)
        };
        self.record(&mut tx, e).await?;
        tx.commit().await?;
        Ok(settings)
    }
}
