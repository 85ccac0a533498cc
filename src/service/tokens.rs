//! Operator tokens, the admin API's credentials: issued by an admin for an
//! operator, shown once, stored only as SHA-256 hashes, revocable one by
//! one. `authenticate` turns a bearer token into the acting operator on
//! every call, reading the token and the operator's role from the database
//! each time, so a revocation or a role change applies to the very next
//! call on every server.

use super::signup::bounded;
use super::{Actor, Error, Result, Velvet, event};
use crate::domain::token::OperatorToken;
use crate::domain::{EventKind, Permission, Role};
use crate::store::{NewEvent, NewOperatorToken, OperatorTokenRow, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A token's last use is recorded at most this often (a busy client costs
/// one write a minute, not one per call).
pub const LAST_USED_EVERY: Duration = Duration::minutes(1);
/// The longest note kept with a token ("ada's laptop").
pub const MAX_TOKEN_NOTE: usize = 200;

/// Where a token stands at a given moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

impl TokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Expired => "expired",
            TokenState::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token as listed: everything but the token itself, which is not kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub operator: String,
    /// The token's last 4 symbols, to tell tokens apart.
    pub hint: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// `None`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Recorded at most once a minute ([`LAST_USED_EVERY`]).
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

impl TokenInfo {
    /// Revoked wins over expired: it is what someone did on purpose.
    pub fn state(&self, now: DateTime<Utc>) -> TokenState {
        match (self.revoked_at, self.expires_at) {
            (Some(_), _) => TokenState::Revoked,
            (None, Some(at)) if at <= now => TokenState::Expired,
            _ => TokenState::Active,
        }
    }
}

impl From<OperatorTokenRow> for TokenInfo {
    fn from(r: OperatorTokenRow) -> TokenInfo {
        TokenInfo {
            id: r.id,
            operator: r.operator,
            hint: r.hint,
            note: r.note,
            created_at: r.created_at,
            created_by: r.created_by,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
            revoked_by: r.revoked_by,
        }
    }
}

/// A token just issued: the one time its text exists outside the caller's
/// hands. Its `Debug` never shows it.
#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedToken {
    pub info: TokenInfo,
    pub token: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken").field("info", &self.info).field("token", &"…").finish()
    }
}

/// An operator named as the subject of a command who does not exist.
pub(super) fn no_such_operator(name: &str) -> Error {
    Error::NotFound(format!("there is no operator '{name}': `velvet operator list` shows them"))
}

fn expiry_text(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "never expires".to_string(), |t| format!("expires {}", crate::domain::timefmt::utc_minute(t)))
}

/// What a bearer token turned out to be (see [`Velvet::login`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    Operator(Actor),
    /// Issued by velvet, but revoked or expired.
    Ended,
    /// Malformed, or no token velvet issued.
    Unknown,
}

impl Velvet {
    /// Issues a token for operator `name`, valid for `expires_in` (`None`:
    /// until revoked). The text is returned once; only its hash is stored,
    /// and the `token_issued` event names the token by id.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        name: &str,
        expires_in: Option<Duration>,
        note: Option<&str>,
    ) -> Result<IssuedToken> {
        actor.require(Permission::ManageOperators)?;
        let note = bounded("the note", note, MAX_TOKEN_NOTE)?;
        if let Some(d) = expires_in
            && (d <= Duration::zero() || d > crate::domain::duration::MAX)
        {
            return Err(Error::InvalidInput(
                "a token lives from 1 second to 10 years (like --expires 90d), or --expires never".into(),
            ));
        }
        let now = self.now();
        let expires_at = expires_in.map(|d| now + d);
        let mut tx = self.store.write().await?;
        let op = tx.operator_by_name(name).await?.ok_or_else(|| no_such_operator(name))?;
        let token = OperatorToken::generate();
        let (hash, hint) = (token.hash(), token.hint());
        let new = NewOperatorToken { operator_id: op.id, hash: &hash, hint: &hint, note, expires_at, by: actor.name() };
        let id = tx.insert_operator_token(&new, now).await?;
        let detail = format!("token {id} for {} ({}), {}", op.name, op.role, expiry_text(expires_at));
        self.record(&mut tx, NewEvent { detail: Some(detail), ..event(EventKind::TokenIssued, actor) }).await?;
        let row = tx.operator_token(id).await?.ok_or_else(|| StoreError::Corrupt(format!("token {id} vanished")))?;
        tx.commit().await?;
        Ok(IssuedToken { info: row.into(), token: token.as_str().to_string() })
    }

    /// Every token, or one operator's, oldest first (revoked and expired
    /// ones too: the listing is the record).
    pub async fn tokens(&self, actor: &Actor, operator: Option<&str>) -> Result<Vec<TokenInfo>> {
        actor.require(Permission::ManageOperators)?;
        let mut tx = self.store.read().await?;
        let operator_id = match operator {
            Some(name) => Some(tx.operator_by_name(name).await?.ok_or_else(|| no_such_operator(name))?.id),
            None => None,
        };
        Ok(tx.operator_tokens(operator_id).await?.into_iter().map(TokenInfo::from).collect())
    }

    /// Revokes one token: every server refuses it from its next call on.
    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<TokenInfo> {
        actor.require(Permission::ManageOperators)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let unknown = || Error::NotFound(format!("there is no token {id}: `velvet operator tokens` lists them"));
        let row = tx.operator_token(id).await?.ok_or_else(unknown)?;
        let already = |at: DateTime<Utc>, by: Option<&str>| {
            Error::Conflict(format!(
                "token {id} of {} was already revoked on {} by {}",
                row.operator,
                crate::domain::timefmt::utc_minute(at),
                by.unwrap_or("someone")
            ))
        };
        if let Some(at) = row.revoked_at {
            return Err(already(at, row.revoked_by.as_deref()));
        }
        if !tx.revoke_operator_token(id, now, actor.name()).await? {
            return Err(Error::Conflict(format!(
                "token {id} was revoked meanwhile: `velvet operator tokens` shows it"
            )));
        }
        let detail = format!("token {id} of {}", row.operator);
        self.record(&mut tx, NewEvent { detail: Some(detail), ..event(EventKind::TokenRevoked, actor) }).await?;
        let row = tx.operator_token(id).await?.ok_or_else(unknown)?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// The operator a bearer token belongs to, with the role the database
    /// holds now. A missing, malformed, unknown, expired or revoked token,
    /// or one whose operator was removed, is [`Error::Unauthorized`], the
    /// same for all. Nothing is cached: each call reads the database.
    pub async fn authenticate(&self, token: &str) -> Result<Actor> {
        match self.login(token).await? {
            Login::Operator(actor) => Ok(actor),
            Login::Ended | Login::Unknown => Err(Error::Unauthorized),
        }
    }

    /// What a bearer token is, for the admin API: its operator; a token
    /// velvet issued that no longer lets anyone in (revoked, expired: a
    /// console left open, not a guess); or nothing velvet knows (malformed
    /// or never issued: what guessing looks like). All three get the same
    /// answer; only guesses count toward a lockout.
    pub async fn login(&self, token: &str) -> Result<Login> {
        let Some(token) = OperatorToken::parse(token) else {
            return Ok(Login::Unknown);
        };
        let now = self.now();
        let holder = self.store.read().await?.token_holder(&token.hash()).await?;
        let Some(h) = holder else {
            return Ok(Login::Unknown);
        };
        if h.revoked_at.is_some() || h.expires_at.is_some_and(|at| at <= now) {
            return Ok(Login::Ended);
        }
        let role = Role::parse(&h.role)
            .ok_or_else(|| StoreError::Corrupt(format!("operator {} has role {}", h.operator, h.role)))?;
        if h.last_used_at.is_none_or(|at| at <= now - LAST_USED_EVERY) {
            // Bookkeeping, in the background: a read call never waits for
            // the writer (SQLite's is busy during a bulk approve). If it
            // fails, the next call tries again.
            let velvet = self.clone();
            let id = h.id;
            tokio::spawn(async move {
                if let Err(e) = velvet.touch_token(id, now).await {
                    tracing::warn!(token_id = id, error = %e, "could not record a token's last use");
                }
            });
        }
        Ok(Login::Operator(Actor::Operator { name: h.operator, role }))
    }

    async fn touch_token(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.store.write().await?;
        tx.touch_operator_token(id, now, now - LAST_USED_EVERY).await?;
        tx.commit().await?;
        Ok(())
    }
}
