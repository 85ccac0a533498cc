//! "Where's my invite?": one person's status, the sentence explaining it,
//! the timeline, codes, mail and inviter chain; and the invite tree.

use super::codes::CodeView;
use super::{Actor, Result, Velvet};
use crate::domain::code::{CodeKind, CodeState as Now};
use crate::domain::explain::{CodeState, MailState, Situation, explain};
use crate::domain::settings::remaining_today;
use crate::domain::{EntryStatus, EventKind, Permission, Switch};
use crate::domain::{MailKind, MailStatus};
use crate::store::{CodeRow, EntryRow, OutboxRow, Tx};
use chrono::{DateTime, Utc};

/// Longest timeline a lookup returns (newest kept).
pub const TIMELINE_LIMIT: i64 = 5_000;
/// Deepest invite chain followed, against cycles and runaway trees.
pub const MAX_CHAIN_DEPTH: usize = 64;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TimelineEvent {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_prefix: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MailView {
    /// The outbox id: `velvet mail retry ID` sends a failed one again.
    pub id: i64,
    pub kind: MailKind,
    pub status: MailStatus,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Invitee {
    pub email: String,
    pub status: String,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Lookup {
    pub email: String,
    pub email_display: String,
    pub status: String,
    pub explanation: String,
    pub first_seen: DateTime<Utc>,
    pub last_attempt_at: DateTime<Utc>,
    pub attempts: i64,
    pub source: Option<String>,
    pub note: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub joined_at: Option<DateTime<Utc>>,
    pub block_reason: Option<String>,
    /// Who invited this person, then who invited them, and so on.
    pub inviter_chain: Vec<String>,
    pub invitees: Vec<Invitee>,
    pub codes: Vec<CodeView>,
    pub mail: Vec<MailView>,
    pub events: Vec<TimelineEvent>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ChainNode {
    pub email: String,
    pub status: String,
    pub joined_at: Option<DateTime<Utc>>,
    /// Referral codes this person holds, and how many were used.
    pub codes_given: i64,
    pub codes_used: i64,
    pub invitees: Vec<ChainNode>,
}

impl Velvet {
    pub async fn lookup(&self, actor: &Actor, email: &str) -> Result<Lookup> {
        actor.require(Permission::Read)?;
        let now = self.now();
        let mut tx = self.store.read().await?;
        let entry = self.entry_for(&mut tx, email).await?;
        let codes = tx.codes_of_entry(entry.id).await?;
        let mail = tx.mail_of_entry(entry.id).await?;
        // The newest events when there are more than the timeline shows.
        let mut events = tx.entry_timeline(entry.id, TIMELINE_LIMIT).await?;
        events.sort_by_key(|e| (e.at, e.id));
        let last = |kind: EventKind| events.iter().rfind(|e| e.kind == kind.as_str());
        let changed = last(EventKind::EmailChanged).map(|e| e.at);
        // When the code expired, not when the sweeper noticed.
        let expired = last(EventKind::InviteExpired)
            .map(|e| codes.iter().find(|c| Some(c.id) == e.code_id).map_or(e.at, |c| c.expires_at.min(e.at)));
        let mut situation = self.situation(&mut tx, &entry, &codes, &mail, now).await?;
        situation.email_changed_at = changed;
        situation.invite_expired_at = expired;
        let inviter_chain = inviter_chain(&mut tx, &entry).await?;
        let invitees = tx
            .entries_referred_by(entry.id)
            .await?
            .into_iter()
            .map(|e| Invitee { email: e.email, status: e.status })
            .collect();
        Ok(Lookup {
            email: entry.email.clone(),
            email_display: entry.email_display.clone(),
            status: entry.status()?.to_string(),
            explanation: explain(&situation, now),
            first_seen: entry.first_seen,
            last_attempt_at: entry.last_attempt_at,
            attempts: entry.attempts,
            source: entry.source.clone(),
            note: entry.note.clone(),
            confirmed_at: entry.confirmed_at,
            approved_at: entry.approved_at,
            invited_at: entry.invited_at,
            joined_at: entry.joined_at,
            block_reason: entry.block_reason.clone(),
            inviter_chain,
            invitees,
            codes: codes.iter().map(|c| CodeView::from_row(c, now)).collect(),
            mail: mail
                .into_iter()
                .map(|m| MailView {
                    id: m.id,
                    kind: m.kind,
                    status: m.status,
                    attempts: m.attempts,
                    created_at: m.created_at,
                    sent_at: m.sent_at,
                    last_error: m.last_error,
                })
                .collect(),
            events: events
                .into_iter()
                .map(|e| TimelineEvent {
                    kind: e.kind,
                    at: e.at,
                    actor: e.actor,
                    outcome: e.outcome,
                    reason: e.reason,
                    rule: e.rule,
                    detail: e.detail,
                    code_id: e.code_id,
                    campaign: e.campaign,
                    ip_prefix: e.ip_prefix,
                })
                .collect(),
        })
    }

    /// Gathers the facts `explain` needs.
    async fn situation(
        &self,
        tx: &mut Tx,
        entry: &EntryRow,
        codes: &[CodeRow],
        mail: &[OutboxRow],
        now: DateTime<Utc>,
    ) -> Result<Situation> {
        let settings = Self::load_settings(tx).await?;
        let sent_today = Self::sent_today(tx, now).await?;
        let queue_position = match (entry.status()?, entry.approved_at) {
            (EntryStatus::APPROVED, Some(at)) => Some(tx.approved_position(at, entry.id).await? as u64),
            _ => None,
        };
        let access_code = codes.iter().rfind(|c| c.kind == CodeKind::Access).map(|c| match c.state(now) {
            Now::Revoked => CodeState::Revoked { at: c.revoked_at.unwrap_or(c.created_at) },
            Now::Expired => CodeState::Expired { at: c.expires_at },
            Now::Used => CodeState::Used,
            _ => CodeState::Active { expires_at: c.expires_at },
        });
        let last_mail = mail.iter().rfind(|m| m.kind != MailKind::Webhook).map(|m| match m.status {
            MailStatus::Sent => MailState::Sent { at: m.sent_at.unwrap_or(m.created_at) },
            status if status == MailStatus::Failed || m.last_error.is_some() => {
                MailState::Failed { at: m.next_attempt_at, error: m.last_error.clone().unwrap_or_default() }
            }
            _ => MailState::Queued,
        });
        let hold_until = tx.pending_redemption(entry.id).await?.and_then(|r| r.hold_expires_at);
        Ok(Situation {
            status: entry.status()?,
            first_seen: entry.first_seen,
            confirmed_at: entry.confirmed_at,
            approved_at: entry.approved_at,
            invited_at: entry.invited_at,
            joined_at: entry.joined_at,
            queue_position,
            cap_remaining: remaining_today(settings.daily_invite_cap, sent_today),
            redemption_paused: tx.is_paused(&Switch::Redemption).await?,
            hold_until,
            access_code,
            last_mail,
            block_reason: entry.block_reason.clone(),
            email_changed_at: None,
            invite_expired_at: None,
        })
    }

    /// The invite tree below one person, any depth (bounded against cycles).
    pub async fn invite_tree(&self, actor: &Actor, email: &str) -> Result<ChainNode> {
        actor.require(Permission::Read)?;
        let mut tx = self.store.read().await?;
        let root = self.entry_for(&mut tx, email).await?;
        let mut seen = std::collections::HashSet::new();
        chain_node(&mut tx, root, 0, &mut seen).await
    }
}

async fn inviter_chain(tx: &mut Tx, entry: &EntryRow) -> Result<Vec<String>> {
    let mut chain = Vec::new();
    let mut next = entry.referrer_id;
    while let Some(id) = next {
        if chain.len() >= MAX_CHAIN_DEPTH {
            break;
        }
        let Some(inviter) = tx.entry_by_id(id).await? else { break };
        chain.push(inviter.email.clone());
        next = inviter.referrer_id.filter(|r| *r != entry.id);
    }
    Ok(chain)
}

fn chain_node<'a>(
    tx: &'a mut Tx,
    entry: EntryRow,
    depth: usize,
    seen: &'a mut std::collections::HashSet<i64>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<ChainNode>> + Send + 'a>> {
    Box::pin(async move {
        seen.insert(entry.id);
        let codes = tx.codes_of_entry(entry.id).await?;
        let referral: Vec<_> =
            codes.iter().filter(|c| c.kind == CodeKind::Referral && c.inviter_entry_id == Some(entry.id)).collect();
        let mut invitees = Vec::new();
        if depth < MAX_CHAIN_DEPTH {
            for child in tx.entries_referred_by(entry.id).await? {
                if !seen.contains(&child.id) {
                    invitees.push(chain_node(tx, child, depth + 1, seen).await?);
                }
            }
        }
        Ok(ChainNode {
            email: entry.email,
            status: entry.status,
            joined_at: entry.joined_at,
            codes_given: referral.len() as i64,
            codes_used: referral.iter().map(|c| c.uses).sum(),
            invitees,
        })
    })
}
