//! Use cases: the only way state changes. Each public function is one
//! transaction that also appends its event(s) with the acting operator, and
//! checks the actor's role first. The API, CLI, console and simulator all
//! call these, so a rule holds everywhere.

mod action;
mod actor;
mod alerts;
mod approve;
mod code_tree;
mod codes;
mod erase;
mod error;
mod export;
mod invites;
mod lifecycle;
mod lookup;
mod mail;
mod moderation;
mod redeem;
mod report;
mod signup;
mod switches;
mod tokens;
mod watch;

pub use crate::store::LiveHour;
pub use action::Action;
pub use actor::{Actor, OperatorInfo, check_operator_name};
pub use alerts::{ALERT_RECIPIENT, ActiveAlert, AlertMemo, AlertPage, EVALUATOR_LEASE, EVALUATOR_TTL, Evaluation};
pub use approve::{ApproveReport, Approved, Approvees, MAX_APPROVE_AT_ONCE};
pub use code_tree::{CodeBranch, CodeGroup, CodeTotals, CodeTreeBatch, CodeTreeGroup, TreeBatch};
pub use codes::{CodeView, IssuedCodes, MAX_CODES_AT_ONCE, MAX_CODES_LISTED, MAX_USES, PartnerCodeSpec, RevokedCode};
pub use erase::{Erased, PersonExport, PersonMail};
pub use error::{Error, Result, UNAUTHORIZED};
pub use export::{ExportRow, defuse};
pub use invites::{InviteRun, MAX_INVITES_AT_ONCE};
pub use lifecycle::{EmailChange, InviteSweep};
pub use lookup::{ChainNode, Lookup, MailView, TimelineEvent};
pub use mail::{
    FailedMail, LEASE, MAIL_KINDS, MAX_ATTEMPTS, MailRetry, OutgoingMail, RetriedMail, WEBHOOK_MAX_ATTEMPTS, backoff,
    max_attempts,
};
pub use moderation::{BULK_PREVIEW, BlockSelector, BulkBlock, BulkUnblock, MAX_BULK_BLOCK};
pub use redeem::RedeemOutcome;
pub use report::{Day, Funnel, Report, Week};
pub use signup::{ConfirmOutcome, SignupOutcome};
pub use tokens::{IssuedToken, LAST_USED_EVERY, Login, MAX_TOKEN_NOTE, TokenInfo, TokenState};
pub use watch::FeedPage;

use crate::domain::{Clock, EntryStatus, EventKind, Settings, Transition};
use crate::store::{EntryRow, NewEvent, StatusStamps, Store, Tx};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// velvet's service layer over one store and one clock.
#[derive(Clone)]
pub struct Velvet {
    store: Store,
    clock: Arc<dyn Clock>,
}

/// What a public request tells us about its sender. Only prefixes and
/// hashes: a full IP address never reaches the service.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip_prefix: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub device_hash: Option<String>,
}

impl RequestMeta {
    fn stamp(&self, mut e: NewEvent) -> NewEvent {
        e.ip_prefix = self.ip_prefix.clone();
        e.country = self.country.clone();
        e.user_agent = self.user_agent.as_deref().map(|ua| ua.chars().take(200).collect());
        e.device_hash = self.device_hash.clone();
        e
    }
}

impl Velvet {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Velvet {
        Velvet { store, clock }
    }

    /// Records `fingerprint` as the deployment secret's when none is yet,
    /// and returns the recorded one (see `crate::secret`). The secret
    /// itself is never stored.
    pub async fn claim_secret_fingerprint(&self, fingerprint: &str) -> Result<String> {
        let mut tx = self.store.write().await?;
        let recorded = tx.secret_fingerprint(fingerprint, self.now()).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// Forgets the secret's fingerprint (and the rate-limit state keyed by
    /// it), so the next server records a new one: changing the secret.
    pub async fn forget_secret_fingerprint(&self) -> Result<()> {
        let mut tx = self.store.write().await?;
        tx.forget_secret_fingerprint().await?;
        tx.commit().await?;
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The clock this service runs on, for the front ends' own timing
    /// (rate-limit windows) so one clock rules everything.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Current settings: defaults overlaid with what the database holds.
    pub(crate) async fn load_settings(tx: &mut Tx) -> Result<Settings> {
        let mut s = Settings::default();
        for (k, v) in tx.settings_rows().await? {
            // A row written by a newer velvet with an unknown key is ignored.
            let _ = s.set(&k, &v);
        }
        Ok(s)
    }

    /// Applies a state-machine transition to an entry and records `event`.
    /// The check happens before any write, so an illegal move writes nothing.
    pub(crate) async fn transition(
        &self,
        tx: &mut Tx,
        entry: &EntryRow,
        t: Transition,
        mut stamps: StatusStamps,
        event: NewEvent,
    ) -> Result<EntryStatus> {
        let from = entry.status()?;
        let to = from.apply(t).map_err(|source| Error::Illegal { email: entry.email.clone(), source })?;
        let now = self.now();
        match t {
            // A re-confirmation (after an email change) keeps the first
            // confirmation's time: the entry keeps its place.
            Transition::Confirm => stamps.confirmed_at = Some(entry.confirmed_at.unwrap_or(now)),
            Transition::Approve => stamps.approved_at = Some(now),
            Transition::SendInvite => stamps.invited_at = Some(now),
            Transition::RedeemAccess | Transition::RedeemShared => stamps.joined_at = Some(now),
            Transition::Block => {
                if stamps.blocked.is_none() {
                    stamps.blocked = Some((now, None));
                }
            }
            Transition::Unblock | Transition::ChangeEmail | Transition::InviteExpired => {}
        }
        if !tx.set_entry_status(entry.id, from, to, stamps).await? {
            return Err(Error::Conflict(format!("{} changed meanwhile; look it up and try again", entry.email)));
        }
        let event = NewEvent { entry_id: Some(entry.id), ..event };
        tx.append_event(now, &event).await?;
        Ok(to)
    }

    pub(crate) async fn record(&self, tx: &mut Tx, event: NewEvent) -> Result<i64> {
        Ok(tx.append_event(self.now(), &event).await?)
    }

    pub(crate) async fn entry_for(&self, tx: &mut Tx, email: &str) -> Result<EntryRow> {
        let email = crate::domain::Email::parse(email)?;
        tx.entry_by_email(email.as_str()).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "no waitlist entry for {email}; check the spelling (addresses are matched exactly)"
            ))
        })
    }
}

pub(crate) fn event(kind: EventKind, actor: &Actor) -> NewEvent {
    NewEvent { kind: kind.as_str(), actor: actor.name().to_string(), ..Default::default() }
}
