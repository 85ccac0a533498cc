//! Every operator call, once: its admin API path, its request as data, its
//! reply, and the one service function it runs. `every` lists them for the
//! admin router, the spec and the role-matrix test, so none is forgotten.
//!
//! A call's permission is the service's to check (each use case starts
//! with `actor.require(..)`): the router adds no rule, and the in-process
//! side and the server enforce the same table.

use crate::domain::Settings;
use crate::domain::{CodeRef, CodeSet, Role, Switch, SwitchState};
use crate::service::{
    ActiveAlert, ApproveReport, Approvees, BlockSelector, BulkBlock, BulkUnblock, ChainNode, CodeBranch, CodeTreeGroup,
    CodeView, EmailChange, Erased, ExportRow, FailedMail, FeedPage, InviteRun, IssuedToken, Lookup, MailRetry,
    OperatorInfo, PartnerCodeSpec, PersonExport, Report, RetriedMail, RevokedCode, TokenInfo,
};
use crate::service::{Actor, Error, Result, Velvet};
use crate::store::{EventPage, EventRow, FeedState, ListedEntry};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One thing an operator can ask of velvet.
pub trait Call: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Its path under `/v1/admin/`.
    const PATH: &'static str;
    /// Asked with `GET` (fields in the query string) rather than `POST`
    /// with a JSON body.
    const GET: bool;
    /// One line for the spec.
    const SUMMARY: &'static str;
    type Reply: Serialize + DeserializeOwned + Send + 'static;
    /// Runs it through the service as `actor`.
    fn run(self, velvet: &Velvet, actor: &Actor) -> impl Future<Output = Result<Self::Reply>> + Send;
}

/// A visitor over every call (see [`every`]).
pub trait Each {
    fn each<C: Call>(&mut self);
}

/// Who the token (or the local operator) is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    pub operator: String,
    pub role: Role,
}

/// Who an approval is for (owned: it crosses the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApproveWho {
    Email(String),
    Ids(Vec<i64>),
    Next(i64),
}

/// Freshly issued partner codes: their plaintext exists in this answer only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssuedCodes {
    pub batch_id: i64,
    pub codes: Vec<String>,
}

/// The longest a feed poll may be held open waiting for an event.
pub const MAX_FEED_WAIT_MS: u64 = 10_000;

/// Declares each call: doc line, path (`[get]` for a read asked by GET),
/// request fields, reply, and the service call.
macro_rules! calls {
    ($(
        #[doc = $doc:literal]
        $path:literal $([$get:ident])? => $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? } -> $reply:ty
            = |$v:ident, $a:ident, $c:tt| $body:expr;
    )*) => {
        $(
            #[doc = $doc]
            #[derive(Clone, Debug, Serialize, Deserialize)]
            pub struct $name { $($(#[$fm])* pub $field: $ty),* }

            impl Call for $name {
                const PATH: &'static str = $path;
                const GET: bool = calls!(@get $($get)?);
                const SUMMARY: &'static str = $doc;
                type Reply = $reply;
                #[allow(unused_variables)]
                async fn run(self, $v: &Velvet, $a: &Actor) -> Result<$reply> {
                    let $c = self;
                    $body
                }
            }
        )*

        /// Visits every call, in the order the spec lists them.
        pub fn every(visitor: &mut impl Each) {
            $(visitor.each::<$name>();)*
        }
    };
    (@get get) => { true };
    (@get) => { false };
}

calls! {
    /// Who this token belongs to, and its role.
    "whoami" [get] => WhoamiCall {} -> Whoami = |v, a, _c| match a {
        Actor::Operator { name, role } => Ok(Whoami { operator: name.clone(), role: *role }),
        _ => Err(Error::NotAnOperator("ask who they are")),
    };
    /// How many people are on the list.
    "entries/count" [get] => CountEntries {} -> i64 = |v, a, _c| v.count_entries(a).await;
    /// A page of the list, newest first, below an entry id.
    "entries/newest" => EntriesNewest { before: i64, limit: i64 } -> Vec<ListedEntry> =
        |v, a, c| v.entries_newest(a, c.before, c.limit.clamp(1, 50_000)).await;
    /// The listed rows of these entries (what changed).
    "entries/by-ids" => EntriesByIds { ids: Vec<i64> } -> Vec<ListedEntry> = |v, a, c| {
        if c.ids.len() > 10_000 {
            return Err(Error::InvalidInput("ask for at most 10000 entries at once".into()));
        }
        v.entries_by_ids(a, &c.ids).await
    };
    /// The newest events and a feed position after them (and the Live pane's hour up to it, with `hour`).
    "feed/tail" => FeedTail { n: i64, #[serde(default)] hour: bool } -> FeedPage =
        |v, a, c| v.feed_tail(a, c.n.clamp(0, 10_000), c.hour).await;
    /// Every event committed after a feed position, each once; held up to `wait_ms` for one to arrive.
    "feed/poll" => FeedPoll { state: FeedState, limit: i64, #[serde(default)] wait_ms: u64 } -> FeedPage = |v, a, c| {
        v.feed_poll(a, c.state, c.limit.clamp(1, 10_000), c.wait_ms.min(MAX_FEED_WAIT_MS)).await
    };
    /// Alerts firing now.
    "alerts" [get] => ActiveAlerts {} -> Vec<ActiveAlert> = |v, a, _c| v.active_alerts(a).await;
    /// Pause switches that are on.
    "switches" [get] => Switches {} -> Vec<SwitchState> = |v, a, _c| v.switches(a).await;
    /// Every setting.
    "settings" [get] => SettingsCall {} -> Settings = |v, a, _c| v.settings(a).await;
    /// Change one setting.
    "settings/set" => SetSetting { key: String, value: String } -> Settings =
        |v, a, c| v.set_setting(a, &c.key, &c.value).await;
    /// Invites sent today (UTC).
    "invites/sent-today" [get] => InvitesSentToday {} -> u64 = |v, a, _c| v.invites_sent_today(a).await;
    /// Send invites now (optionally past today's cap).
    "invites/send" => SendInvites { limit: Option<u64>, past_cap: bool } -> InviteRun =
        |v, a, c| v.send_invites(a, c.limit, c.past_cap).await;
    /// One person: status, the sentence explaining it, timeline, codes, mail.
    "lookup" => LookupCall { email: String } -> Lookup = |v, a, c| v.lookup(a, &c.email).await;
    /// The invite tree below one person.
    "chain" => Chain { email: String } -> ChainNode = |v, a, c| v.invite_tree(a, &c.email).await;
    /// Approve one person, a marked set, or the next N confirmed.
    "approve" => Approve { who: ApproveWho, dry_run: bool } -> ApproveReport = |v, a, c| {
        let who = match &c.who {
            ApproveWho::Email(e) => Approvees::Email(e),
            ApproveWho::Ids(ids) => Approvees::Ids(ids),
            ApproveWho::Next(n) => Approvees::Next(*n),
        };
        v.approve(a, who, c.dry_run).await
    };
    /// Block one person.
    "block" => Block { email: String, reason: Option<String> } -> () =
        |v, a, c| v.block(a, &c.email, c.reason.as_deref()).await;
    /// Unblock one person.
    "unblock" => Unblock { email: String, reason: Option<String> } -> () =
        |v, a, c| v.unblock(a, &c.email, c.reason.as_deref()).await;
    /// Block everyone a selector takes, as one batch (or preview it).
    "block/many" => BlockMany { selector: BlockSelector, status: Option<String>, reason: Option<String>, dry_run: bool }
        -> BulkBlock = |v, a, c| v.block_many(a, &c.selector, c.status.as_deref(), c.reason.as_deref(), c.dry_run).await;
    /// Undo a bulk block.
    "unblock/batch" => UnblockBatch { batch: i64 } -> BulkUnblock = |v, a, c| v.unblock_batch(a, c.batch).await;
    /// Correct a person's address, once.
    "change-email" => ChangeEmail { old: String, new: String } -> EmailChange =
        |v, a, c| v.change_email(a, &c.old, &c.new).await;
    /// Revoke a person's access code and send a fresh one.
    "reissue" => Reissue { email: String } -> String = |v, a, c| v.reissue(a, &c.email).await;
    /// Erase a person's data.
    "erase" => Erase { email: String } -> Erased = |v, a, c| v.erase(a, &c.email).await;
    /// Everything stored about one person.
    "export/person" => ExportPerson { email: String } -> PersonExport = |v, a, c| v.person_export(a, &c.email).await;
    /// A page of the list in signup order, for export.
    "export/page" => ExportPage { status: Option<String>, after: i64, limit: i64 } -> Vec<ExportRow> =
        |v, a, c| v.export_page(a, c.status.as_deref(), c.after, c.limit.clamp(1, 50_000)).await;
    /// The funnel, days and weeks of the report.
    "report" => ReportCall { days: i64 } -> Report = |v, a, c| v.report(a, c.days).await;
    /// Issue partner codes in one new batch.
    "codes/issue" => IssueCodes { spec: PartnerCodeSpec } -> IssuedCodes = |v, a, c| {
        let issued = v.issue_partner_codes(a, &c.spec).await?;
        Ok(IssuedCodes { batch_id: issued.batch_id, codes: issued.codes.iter().map(|c| c.to_string()).collect() })
    };
    /// Revoke one code, a batch, a campaign or an inviter's codes (or preview it).
    "codes/revoke" => Revoke { target: CodeSet<CodeRef, String>, reason: Option<String>, dry_run: bool } -> Vec<RevokedCode> =
        |v, a, c| v.revoke(a, &c.target, c.reason.as_deref(), c.dry_run).await;
    /// Every campaign (then the access and referral codes) with its batches, each with its totals.
    "codes/tree" [get] => CodeTree {} -> Vec<CodeTreeGroup> = |v, a, _c| v.code_tree(a).await;
    /// A page of one branch's codes (a group, or one batch of it), newest first, below a code id.
    "codes/page" => CodesPage { branch: CodeBranch, before: i64, limit: i64 } -> Vec<CodeView> =
        |v, a, c| v.codes_page(a, &c.branch, c.before, c.limit).await;
    /// Codes, newest first.
    "codes/list" => ListCodes { campaign: Option<String>, batch: Option<i64>, kind: Option<String>, limit: i64 }
        -> Vec<CodeView> =
        |v, a, c| v.list_codes(a, c.campaign.as_deref(), c.batch, c.kind.as_deref(), c.limit).await;
    /// Pause redemption, signups, a campaign or an inviter.
    "pause" => Pause { scope: Switch<String>, reason: Option<String> } -> bool =
        |v, a, c| v.pause(a, &c.scope, c.reason.as_deref()).await;
    /// Resume what a pause stopped.
    "resume" => Resume { scope: Switch<String> } -> bool = |v, a, c| v.resume(a, &c.scope).await;
    /// Messages that gave up.
    "mail/failed" => FailedMailCall { kind: Option<String> } -> Vec<FailedMail> =
        |v, a, c| v.failed_mail(a, c.kind.as_deref()).await;
    /// How many messages gave up.
    "mail/failed/count" [get] => FailedMailCount {} -> i64 = |v, a, _c| v.failed_mail_count(a).await;
    /// Send failed messages again.
    "mail/retry" => RetryMail { which: MailRetry } -> Vec<RetriedMail> = |v, a, c| v.retry_mail(a, &c.which).await;
    /// An older page of the trail, filtered by words, below an event id.
    "events/before" => EventsBefore { before: i64, words: Vec<String>, limit: i64 } -> EventPage =
        |v, a, c| v.events_before(a, c.before, &c.words, c.limit.clamp(1, 50_000)).await;
    /// The trail since a time, after an id, of one kind or one person.
    "events/trail" => Trail { since: DateTime<Utc>, after: i64, kind: Option<String>, email: Option<String>, limit: i64 }
        -> Vec<EventRow> =
        |v, a, c| v.trail(a, c.since, c.after, c.kind.as_deref(), c.email.as_deref(), c.limit.clamp(1, 10_000)).await;
    /// The entry id of one address.
    "entries/id" => EntryId { email: String } -> i64 = |v, a, c| v.entry_id(a, &c.email).await;
    /// The operators.
    "operators" [get] => Operators {} -> Vec<OperatorInfo> = |v, a, _c| v.operators(a).await;
    /// Add an operator (an admin's).
    "operators/add" => AddOperator { name: String, role: Role } -> () =
        |v, a, c| v.add_operator_as(a, &c.name, c.role).await;
    /// Change an operator's role (applies to their next call).
    "operators/role" => SetRole { name: String, role: Role } -> () = |v, a, c| v.set_role(a, &c.name, c.role).await;
    /// Remove an operator; their tokens die with them, their events keep the name.
    "operators/remove" => RemoveOperator { name: String } -> usize = |v, a, c| v.remove_operator(a, &c.name).await;
    /// Make a token for an operator (its text is in this answer only).
    "tokens/issue" => IssueToken {
        operator: String,
        #[serde(with = "crate::domain::duration::seconds_opt")]
        expires_in: Option<chrono::Duration>,
        note: Option<String>,
    } -> IssuedToken = |v, a, c| v.issue_token(a, &c.operator, c.expires_in, c.note.as_deref()).await;
    /// Tokens, of everyone or of one operator (never their text).
    "tokens" => Tokens { operator: Option<String> } -> Vec<TokenInfo> =
        |v, a, c| v.tokens(a, c.operator.as_deref()).await;
    /// Revoke a token: every server refuses it from the next call.
    "tokens/revoke" => RevokeToken { id: i64 } -> TokenInfo = |v, a, c| v.revoke_token(a, c.id).await;
}
