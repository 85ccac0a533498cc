//! Partner codes, revocation (one, batch, campaign, inviter) and listings.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::code::{CodeKind, CodeStatus, MAX_PREFIX_LEN, normalize_prefix};
use crate::domain::{CodeRef, CodeSet, Email, EventKind, InviteCode, Permission};
use crate::store::{CodeRow, NewCode, NewEvent, Tx};
use chrono::{DateTime, Duration, Utc};

pub const MAX_CODES_AT_ONCE: u32 = 10_000;
/// The most uses one code may allow (and the highest daily cap).
pub const MAX_USES: i64 = 1_000_000;
pub const MAX_CAMPAIGN_LEN: usize = 32;

/// What `codes issue` asks for.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PartnerCodeSpec {
    pub campaign: String,
    pub max_uses: i64,
    pub count: u32,
    #[serde(with = "crate::domain::duration::seconds")]
    pub expires_in: Duration,
    pub daily_cap: Option<i64>,
    /// Printed prefix; by default derived from the campaign.
    pub prefix: Option<String>,
}

/// Freshly issued codes: the only time their plaintext exists.
#[derive(Debug)]
pub struct IssuedCodes {
    pub batch_id: i64,
    pub codes: Vec<InviteCode>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RevokedCode {
    pub id: i64,
    pub kind: String,
    pub hint: Option<String>,
    pub campaign: Option<String>,
    pub batch_id: Option<i64>,
}

/// A code as operators see it: never the plaintext.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeView {
    pub id: i64,
    pub kind: String,
    pub hint: Option<String>,
    pub campaign: Option<String>,
    pub batch_id: Option<i64>,
    pub state: String,
    pub uses: i64,
    pub max_uses: i64,
    pub daily_cap: Option<i64>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_by: Option<String>,
}

impl CodeView {
    pub fn from_row(c: &CodeRow, now: DateTime<Utc>) -> CodeView {
        CodeView {
            id: c.id,
            kind: c.kind.to_string(),
            hint: c.hint.clone(),
            campaign: c.campaign.clone(),
            batch_id: c.batch_id,
            state: c.state(now).to_string(),
            uses: c.uses,
            max_uses: c.max_uses,
            daily_cap: c.daily_cap,
            expires_at: c.expires_at,
            created_at: c.created_at,
            created_by: c.created_by.clone(),
            revoked_by: c.revoked_by.clone(),
        }
    }
}

/// Campaign tags are short lowercase words: `hn`, `producthunt-2026`.
pub fn check_campaign(c: &str) -> Result<String> {
    let c = c.trim().to_ascii_lowercase();
    let ok = !c.is_empty()
        && c.len() <= MAX_CAMPAIGN_LEN
        && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if ok {
        Ok(c)
    } else {
        Err(Error::InvalidInput(format!("campaign '{c}' must be 1-{MAX_CAMPAIGN_LEN} letters, digits, '-' or '_'")))
    }
}

/// The most codes one listing returns.
pub const MAX_CODES_LISTED: i64 = 100_000;

impl Velvet {
    /// Issues `count` partner codes in one new batch.
    pub async fn issue_partner_codes(&self, actor: &Actor, spec: &PartnerCodeSpec) -> Result<IssuedCodes> {
        actor.require(Permission::IssueCodes)?;
        let campaign = check_campaign(&spec.campaign)?;
        if !(1..=MAX_CODES_AT_ONCE).contains(&spec.count) {
            return Err(Error::InvalidInput(format!("--count must be between 1 and {MAX_CODES_AT_ONCE}")));
        }
        if !(1..=MAX_USES).contains(&spec.max_uses) {
            return Err(Error::InvalidInput(format!("--max-uses must be between 1 and {MAX_USES}")));
        }
        if spec.daily_cap.is_some_and(|c| !(1..=MAX_USES).contains(&c)) {
            return Err(Error::InvalidInput(format!("--daily-cap must be between 1 and {MAX_USES}")));
        }
        if spec.expires_in < Duration::hours(1) || spec.expires_in > Duration::days(366) {
            return Err(Error::InvalidInput("--expires must be between 1h and 366d".into()));
        }
        let prefix = match &spec.prefix {
            Some(p) => Some(normalize_prefix(p)?),
            None => {
                let derived: String =
                    campaign.chars().filter(char::is_ascii_alphanumeric).take(MAX_PREFIX_LEN).collect();
                (!derived.is_empty()).then(|| derived.to_ascii_uppercase())
            }
        };
        let now = self.now();
        let mut tx = self.store.write().await?;
        let batch = tx.insert_batch(CodeKind::Partner, Some(&campaign), now, actor.name()).await?;
        let mut codes = Vec::with_capacity(spec.count as usize);
        for _ in 0..spec.count {
            let code = InviteCode::generate(prefix.as_deref())?;
            let hash = code.hash();
            tx.insert_code(NewCode {
                hash: Some(&hash.0),
                hint: Some(&code.hint()),
                prefix: prefix.as_deref(),
                kind: CodeKind::Partner,
                campaign: Some(&campaign),
                batch_id: Some(batch),
                inviter_entry_id: None,
                bound_entry_id: None,
                max_uses: spec.max_uses,
                daily_cap: spec.daily_cap,
                expires_at: now + spec.expires_in,
                now,
                created_by: actor.name(),
            })
            .await?;
            codes.push(code);
        }
        tx.set_batch_size(batch, codes.len() as i64).await?;
        let detail = format!(
            "{} partner codes, {} uses each, expire in {} d",
            codes.len(),
            spec.max_uses,
            spec.expires_in.num_days()
        );
        let e = NewEvent {
            batch_id: Some(batch),
            campaign: Some(campaign),
            detail: Some(detail),
            ..event(EventKind::CodeIssued, actor)
        };
        self.record(&mut tx, e).await?;
        tx.commit().await?;
        Ok(IssuedCodes { batch_id: batch, codes })
    }

    /// Revokes one code (support) or many (admins). With `dry_run`, lists
    /// what would be revoked and changes nothing.
    pub async fn revoke(
        &self,
        actor: &Actor,
        codes: &CodeSet<CodeRef, String>,
        reason: Option<&str>,
        dry_run: bool,
    ) -> Result<Vec<RevokedCode>> {
        actor.require(codes.permission())?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let (resolved, rule) = self.resolve_codes(&mut tx, codes).await?;
        if dry_run {
            let rows = tx.codes_in(&resolved).await?;
            return Ok(rows.iter().filter(|c| c.status == CodeStatus::Active).map(revoked_view).collect());
        }
        // The events come from the rows the UPDATE changed, not from an
        // earlier read: a code created in between gets its event too.
        let revoked = tx.revoke_codes(&resolved, now, actor.name(), reason).await?;
        let mut out = Vec::with_capacity(revoked.len());
        for row in revoked.iter().rev() {
            let e = NewEvent {
                entry_id: row.bound_entry_id.or(row.inviter_entry_id),
                code_id: Some(row.id),
                batch_id: row.batch_id,
                campaign: row.campaign.clone(),
                rule: Some(rule.clone()),
                reason: reason.map(String::from),
                ..event(EventKind::Revoke, actor)
            };
            self.record(&mut tx, e).await?;
            out.push(revoked_view(row));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The codes an operator named, by id, and the rule their revoke
    /// events record (`code`, `batch 3`, `campaign hn`, `inviter EMAIL`).
    async fn resolve_codes(
        &self,
        tx: &mut Tx,
        codes: &CodeSet<CodeRef, String>,
    ) -> Result<(CodeSet<i64, i64>, String)> {
        Ok(match codes {
            CodeSet::Code(CodeRef::Typed(text)) => {
                let code = InviteCode::parse(text)?;
                let row = tx.code_by_hash(&code.hash().0).await?.ok_or_else(|| {
                    Error::NotFound(format!("no code …{} is known; check it was copied whole", code.hint()))
                })?;
                (CodeSet::Code(row.id), "code".to_string())
            }
            CodeSet::Code(CodeRef::Id(id)) => {
                let row = tx.code_by_id(*id).await?.ok_or_else(|| Error::NotFound(format!("no code #{id}")))?;
                (CodeSet::Code(row.id), "code".to_string())
            }
            CodeSet::Batch(b) => (CodeSet::Batch(*b), format!("batch {b}")),
            CodeSet::Campaign(c) => {
                let c = check_campaign(c)?;
                (CodeSet::Campaign(c.clone()), format!("campaign {c}"))
            }
            CodeSet::Inviter(email) => {
                let entry = self.entry_for(tx, email).await?;
                (CodeSet::Inviter(entry.id), format!("inviter {}", Email::parse(email)?))
            }
            CodeSet::BoundTo(email) => {
                let entry = self.entry_for(tx, email).await?;
                (CodeSet::BoundTo(entry.id), format!("bound to {}", Email::parse(email)?))
            }
        })
    }

    /// Lists codes, newest first, at most `limit` (1 to `MAX_CODES_LISTED`).
    pub async fn list_codes(
        &self,
        actor: &Actor,
        campaign: Option<&str>,
        batch: Option<i64>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CodeView>> {
        actor.require(Permission::Read)?;
        if let Some(k) = kind
            && CodeKind::parse(k).is_none()
        {
            return Err(Error::InvalidInput(format!("--kind must be access, referral or partner, not '{k}'")));
        }
        let campaign = campaign.map(check_campaign).transpose()?;
        let now = self.now();
        let mut tx = self.store.read().await?;
        let rows = tx.list_codes(campaign.as_deref(), batch, kind, limit.clamp(1, MAX_CODES_LISTED)).await?;
        Ok(rows.iter().map(|c| CodeView::from_row(c, now)).collect())
    }
}

fn revoked_view(c: &CodeRow) -> RevokedCode {
    RevokedCode {
        id: c.id,
        kind: c.kind.to_string(),
        hint: c.hint.clone(),
        campaign: c.campaign.clone(),
        batch_id: c.batch_id,
    }
}
