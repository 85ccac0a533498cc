//! Pause switches and settings: kept in the database so every server and
//! console sees a change within a second.

use super::codes::check_campaign;
use super::{Actor, Result, Velvet, event};
use crate::domain::{EventKind, Permission, Settings, Switch};
use crate::store::{NewEvent, SwitchState, Tx};

/// A switch as operators name it (an inviter by email); the service
/// resolves it to a `domain::Switch` (an inviter by entry id), whose state
/// when paused is a `SwitchState`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseScope {
    Redemption,
    Signups,
    Campaign(String),
    /// Codes given out by one person (by email).
    Inviter(String),
}

impl PauseScope {
    /// What a pause (`pausing`) or resume did, as operators are told it in
    /// the shell and the console.
    pub fn outcome(&self, pausing: bool, changed: bool) -> String {
        let what = self.describe();
        match (pausing, changed) {
            (true, true) => format!("paused {what}"),
            (true, false) => format!("{what} was already paused"),
            (false, true) => format!("resumed {what}"),
            (false, false) => format!("{what} was not paused"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            PauseScope::Redemption => "redemption".into(),
            PauseScope::Signups => "signups".into(),
            PauseScope::Campaign(c) => format!("redemption for campaign {c}"),
            PauseScope::Inviter(e) => format!("codes of inviter {e}"),
        }
    }
}

impl Velvet {
    async fn scope_key(&self, tx: &mut Tx, scope: &PauseScope) -> Result<String> {
        Ok(match scope {
            PauseScope::Redemption => Switch::Redemption.key(),
            PauseScope::Signups => Switch::Signups.key(),
            PauseScope::Campaign(c) => Switch::Campaign(&check_campaign(c)?).key(),
            PauseScope::Inviter(email) => Switch::Inviter(self.entry_for(tx, email).await?.id).key(),
        })
    }

    /// Pauses `scope`. Returns false if it was already paused (nothing written).
    pub async fn pause(&self, actor: &Actor, scope: &PauseScope, reason: Option<&str>) -> Result<bool> {
        actor.require(Permission::Pause)?;
        let mut tx = self.store.write().await?;
        let key = self.scope_key(&mut tx, scope).await?;
        let changed = tx.insert_switch(&key, self.now(), actor.name(), reason).await?;
        if changed {
            let e = NewEvent { rule: Some(key), reason: reason.map(String::from), ..event(EventKind::Pause, actor) };
            self.record(&mut tx, e).await?;
            tx.commit().await?;
        }
        Ok(changed)
    }

    /// Resumes `scope`. Returns false if it was not paused.
    pub async fn resume(&self, actor: &Actor, scope: &PauseScope) -> Result<bool> {
        actor.require(Permission::Pause)?;
        let mut tx = self.store.write().await?;
        let key = self.scope_key(&mut tx, scope).await?;
        let changed = tx.delete_switch(&key).await?;
        if changed {
            let e = NewEvent { rule: Some(key), ..event(EventKind::Resume, actor) };
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
