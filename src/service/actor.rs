//! Who is acting: a named operator with a role, the public (API callers),
//! or velvet itself (the pacer, the sweeper). Operators are managed here.

use super::tokens::no_such_operator;
use super::{Error, Result, Velvet};
use crate::domain::{EventKind, Permission, Role};
use crate::store::{LOCK_OPERATORS, NewEvent, OperatorRow, Tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    Operator { name: String, role: Role },
    Public,
    System(&'static str),
}

impl Actor {
    /// The name recorded on events.
    pub fn name(&self) -> &str {
        match self {
            Actor::Operator { name, .. } => name,
            Actor::Public => "public",
            Actor::System(who) => who,
        }
    }

    pub fn require(&self, p: Permission) -> Result<()> {
        match self {
            Actor::Operator { name, role } if !role.allows(p) => Err(Error::forbidden(name, *role, p)),
            Actor::Operator { .. } | Actor::System(_) => Ok(()),
            Actor::Public => Err(Error::NotAnOperator(p.describe())),
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::Operator { role, .. } => Some(*role),
            _ => None,
        }
    }
}

/// An operator as listed by `operators()`.
pub type OperatorInfo = OperatorRow;

pub fn check_operator_name(name: &str) -> Result<()> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!("operator name '{name}' must be 1-64 letters, digits, '.', '_', '@' or '-'")))
    }
}

/// An operator's row as the actor it acts as; a role the code does not
/// know is a corrupt row, never a guess.
fn actor_of(op: OperatorRow) -> Result<Actor> {
    let role = role_of(&op)?;
    Ok(Actor::Operator { name: op.name, role })
}

fn role_of(op: &OperatorRow) -> Result<Role> {
    Ok(Role::parse(&op.role)
        .ok_or_else(|| crate::store::StoreError::Corrupt(format!("operator {} has role {}", op.name, op.role)))?)
}

impl Velvet {
    /// Resolves an operator name to an actor, with an error naming the fix.
    pub async fn operator(&self, name: &str) -> Result<Actor> {
        let mut tx = self.store.read().await?;
        match tx.operator_by_name(name).await? {
            Some(op) => actor_of(op),
            None if tx.count_operators().await? == 0 => Err(Error::NoOperators),
            None => Err(Error::UnknownOperator(name.to_string())),
        }
    }

    /// Adds an operator. On a database without operators, the first one is
    /// created by whoever runs the command, and must be an admin.
    pub async fn add_operator(&self, acting_as: &str, name: &str, role: Role) -> Result<()> {
        check_operator_name(name)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let bootstrap = tx.count_operators().await? == 0;
        if bootstrap {
            if role != Role::Admin {
                return Err(Error::InvalidInput(format!(
                    "the first operator must be an admin: run `velvet operator add {name} --role admin`"
                )));
            }
        } else {
            if acting_as.is_empty() {
                return Err(Error::InvalidInput(
                    "operators are added by an admin: pass --as ADMIN (or set VELVET_OPERATOR)".into(),
                ));
            }
            let actor = match tx.operator_by_name(acting_as).await? {
                Some(op) => actor_of(op)?,
                None => return Err(Error::UnknownOperator(acting_as.to_string())),
            };
            actor.require(Permission::ManageOperators)?;
        }
        if tx.operator_by_name(name).await?.is_some() {
            return Err(Error::Conflict(format!("operator '{name}' already exists")));
        }
        let by = if bootstrap { name } else { acting_as };
        tx.insert_operator(name, role.as_str(), now, by).await?;
        let event = NewEvent {
            kind: EventKind::OperatorAdded.as_str(),
            actor: by.to_string(),
            detail: Some(format!("{name} as {role}")),
            rule: bootstrap.then(|| "bootstrap".to_string()),
            ..Default::default()
        };
        tx.append_event(now, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds an operator as `actor` (an admin): what a remote admin (or the
    /// console) calls; the first operator is made locally with `add_operator`.
    pub async fn add_operator_as(&self, actor: &Actor, name: &str, role: Role) -> Result<()> {
        actor.require(Permission::ManageOperators)?;
        self.add_operator(actor.name(), name, role).await
    }

    pub async fn operators(&self, actor: &Actor) -> Result<Vec<OperatorInfo>> {
        actor.require(Permission::Read)?;
        let mut tx = self.store.read().await?;
        Ok(tx.operators().await?)
    }

    /// Changes an operator's role; it applies from their next call (the
    /// admin API reads the role on every call). The last admin cannot be
    /// demoted. Giving an operator the role they have changes nothing.
    pub async fn set_role(&self, actor: &Actor, name: &str, role: Role) -> Result<()> {
        actor.require(Permission::ManageOperators)?;
        let mut tx = self.store.write().await?;
        tx.lock(LOCK_OPERATORS).await?;
        let (op, from) = Self::managed(&mut tx, name).await?;
        if from == role {
            return Ok(());
        }
        if from == Role::Admin {
            Self::not_the_last_admin(&mut tx, &op, "change their role").await?;
        }
        tx.set_operator_role(op.id, role.as_str()).await?;
        let detail = format!("{}: {from} -> {role}", op.name);
        let ev = NewEvent { detail: Some(detail), ..super::event(EventKind::OperatorRoleChanged, actor) };
        self.record(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an operator and, in the same transaction, every token of
    /// theirs: from the next call on, no server accepts them. Their past
    /// events keep their name (events hold it as text). Returns how many of
    /// the tokens were still live (neither revoked nor expired). The last
    /// admin cannot be removed.
    pub async fn remove_operator(&self, actor: &Actor, name: &str) -> Result<usize> {
        actor.require(Permission::ManageOperators)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        tx.lock(LOCK_OPERATORS).await?;
        let (op, role) = Self::managed(&mut tx, name).await?;
        if role == Role::Admin {
            Self::not_the_last_admin(&mut tx, &op, "remove them").await?;
        }
        let tokens = tx.operator_tokens(Some(op.id)).await?;
        let live: Vec<i64> = tokens
            .iter()
            .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now))
            .map(|t| t.id)
            .collect();
        tx.delete_operator_tokens(op.id).await?;
        tx.delete_operator(op.id).await?;
        let ids: Vec<String> = live.iter().map(i64::to_string).collect();
        let detail = match ids.len() {
            0 => format!("{} ({role}); no live token", op.name),
            1 => format!("{} ({role}); token {} revoked", op.name, ids[0]),
            _ => format!("{} ({role}); tokens {} revoked", op.name, ids.join(", ")),
        };
        let ev = NewEvent { detail: Some(detail), ..super::event(EventKind::OperatorRemoved, actor) };
        self.record(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(live.len())
    }

    /// The operator a management command names, with their role.
    async fn managed(tx: &mut Tx, name: &str) -> Result<(OperatorRow, Role)> {
        let op = tx.operator_by_name(name).await?.ok_or_else(|| no_such_operator(name))?;
        let role = role_of(&op)?;
        Ok((op, role))
    }

    /// Refuses to take away the last admin: nobody could manage operators
    /// (or issue tokens) afterwards.
    async fn not_the_last_admin(tx: &mut Tx, op: &OperatorRow, what: &str) -> Result<()> {
        if tx.count_operators_with_role(Role::Admin.as_str()).await? > 1 {
            return Ok(());
        }
        Err(Error::Conflict(format!(
            "{} is the last admin: make another operator an admin first (`velvet operator role NAME admin`), \
             then {what}; without an admin nobody could manage operators or tokens",
            op.name
        )))
    }
}
