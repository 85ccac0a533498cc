//! A person's rights over their data: erasure (the address and what
//! identifies them go, everywhere; the anonymous trail and every count
//! stay) and access (everything stored about them, as one document).

use super::codes::CodeView;
use super::{Actor, Error, Result, Velvet, event};
use crate::domain::{CodeSet, EventKind, Permission};
use crate::domain::{MailKind, MailStatus};
use crate::store::{EntryRow, EventRow, NewEvent, RedemptionRow};
use chrono::{DateTime, Utc};

/// What `erase` did. Names no address.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erased {
    pub entry_id: i64,
    /// What the person is called from now on, everywhere.
    pub anonymous_id: String,
    pub codes_revoked: usize,
}

/// A message to or about the person, as the outbox holds it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PersonMail {
    pub id: i64,
    pub kind: MailKind,
    pub recipient: String,
    pub status: MailStatus,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// A webhook's body (mails carry none: their codes and links are minted at delivery).
    pub payload: Option<String>,
}

/// Everything velvet stores about one person (the right of access).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PersonExport {
    pub exported_at: DateTime<Utc>,
    pub entry: EntryRow,
    /// Codes bound to them or that they give out (hints only: codes are stored hashed).
    pub codes: Vec<CodeView>,
    pub redemptions: Vec<RedemptionRow>,
    pub mail: Vec<PersonMail>,
    /// Every event about them, with every field recorded.
    pub events: Vec<EventRow>,
    /// How many people joined through their codes (who they are is theirs).
    pub invitees: usize,
}

/// The most events one person's export or erasure reads.
const PERSON_EVENTS: i64 = 1_000_000;

fn anonymous_id() -> Result<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| Error::Conflict(format!("no randomness for an anonymous id: {e}")))?;
    Ok(format!("erased-{}", crate::domain::hex::hex(&b)))
}

impl Velvet {
    /// Erases a person (admins; the front ends make the operator type the
    /// address back first). Their address (and any earlier one support
    /// changed), display form, note, user agents and device hashes are
    /// removed from the entry, the outbox and the events; their codes are
    /// revoked; the entry and its events stay under an anonymous id, so
    /// every count and the report are unchanged. A waiting entry is blocked
    /// so nothing is sent to it. Audited as `erased`, naming the operator
    /// and not the address.
    pub async fn erase(&self, actor: &Actor, email: &str) -> Result<Erased> {
        actor.require(Permission::Erase)?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let entry = self.entry_for(&mut tx, email).await?;
        // The dispatcher's order: a message, then its code.
        tx.lock_mail_of(entry.id).await?;
        let anon = anonymous_id()?;
        // Earlier addresses are in the email-change events ("old → new").
        let mut addresses = vec![entry.email.clone()];
        for e in tx.entry_timeline(entry.id, PERSON_EVENTS).await? {
            if e.kind == EventKind::EmailChanged.as_str()
                && let Some((old, _)) = e.detail.as_deref().and_then(|d| d.split_once(" → "))
                && !addresses.iter().any(|a| a == old)
            {
                addresses.push(old.to_string());
            }
        }
        let mut revoked = tx.revoke_codes(&CodeSet::BoundTo(entry.id), now, actor.name(), Some("erased")).await?;
        revoked.extend(tx.revoke_codes(&CodeSet::Inviter(entry.id), now, actor.name(), Some("erased")).await?);
        for code in &revoked {
            let e = NewEvent {
                entry_id: Some(entry.id),
                code_id: Some(code.id),
                rule: Some("erasure".into()),
                ..event(EventKind::Revoke, actor)
            };
            self.record(&mut tx, e).await?;
        }
        tx.erase_entry(entry.id, &anon, now).await?;
        for address in &addresses {
            tx.erase_mail(entry.id, address, &anon, now).await?;
            tx.erase_events(entry.id, address, &anon).await?;
            tx.erase_mentions(address, &anon).await?;
            tx.erase_case_variants(address, &format!("(removed: it named {anon})")).await?;
        }
        let e = NewEvent {
            entry_id: Some(entry.id),
            detail: Some(format!(
                "address, display form, note, user agents and device hashes removed; revoked {} of their codes",
                revoked.len()
            )),
            ..event(EventKind::Erased, actor)
        };
        self.record(&mut tx, e).await?;
        tx.commit().await?;
        tracing::info!(entry = entry.id, by = actor.name(), "person erased");
        Ok(Erased { entry_id: entry.id, anonymous_id: anon, codes_revoked: revoked.len() })
    }

    /// Everything stored about one person, for their right of access.
    pub async fn person_export(&self, actor: &Actor, email: &str) -> Result<PersonExport> {
        actor.require(Permission::Read)?;
        let now = self.now();
        let mut tx = self.store.read().await?;
        let entry = self.entry_for(&mut tx, email).await?;
        let codes = tx.codes_of_entry(entry.id).await?.iter().map(|c| CodeView::from_row(c, now)).collect();
        let redemptions = tx.redemptions_of_entry(entry.id).await?;
        let mail = tx
            .mail_of_entry(entry.id)
            .await?
            .into_iter()
            .map(|m| PersonMail {
                id: m.id,
                kind: m.kind,
                recipient: m.recipient,
                status: m.status,
                attempts: m.attempts,
                created_at: m.created_at,
                sent_at: m.sent_at,
                last_error: m.last_error,
                payload: m.payload,
            })
            .collect();
        let mut events = tx.entry_timeline(entry.id, PERSON_EVENTS).await?;
        events.sort_by_key(|e| (e.at, e.id));
        let invitees = tx.entries_referred_by(entry.id).await?.len();
        Ok(PersonExport { exported_at: now, entry, codes, redemptions, mail, events, invitees })
    }
}
