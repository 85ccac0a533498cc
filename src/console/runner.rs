//! Background work for the console: every database call runs here, in
//! tasks, and answers through the channel. The UI never waits on it.

use super::action::{Effect, Msg};
use super::filter::Haystack;
use super::live::Tick;
use super::state::{EVENT_TAIL, EntryItem};
use crate::domain::status::STATUS_NAMES;
use crate::ops::Ops;
use crate::ops::calls as call;
use crate::service::Action;
use crate::store::{EventRow, ListedEntry};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Entries per page after the first screenful.
const PAGE: i64 = 25_000;
/// The first page: enough for the first screen, fast on any database.
const FIRST_PAGE: i64 = 200;

#[derive(Clone)]
pub struct Runner {
    /// The operator's way in: the service, or a server over a context.
    pub ops: Ops,
    pub tx: UnboundedSender<Msg>,
}

pub fn entry_item(e: ListedEntry) -> EntryItem {
    let status = STATUS_NAMES.iter().copied().find(|s| *s == e.status).unwrap_or("pending");
    EntryItem {
        id: e.id,
        email: e.email.into_boxed_str(),
        status,
        first_seen: e.first_seen,
        confirmed_at: e.confirmed_at,
        source: e.source.as_deref().map(intern),
        referrer_id: e.referrer_id,
        campaign: e.campaign.as_deref().map(intern),
        hints: e.hints.unwrap_or_default().into_boxed_str(),
    }
}

/// One shared copy of each source tag: a million rows name a handful.
fn intern(text: &str) -> Arc<str> {
    static SEEN: std::sync::Mutex<Vec<Arc<str>>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = seen.iter().find(|s| &***s == text) {
        return s.clone();
    }
    let s: Arc<str> = Arc::from(text);
    if seen.len() < 4096 {
        seen.push(s.clone());
    }
    s
}

pub fn tick_of(e: &EventRow) -> Tick {
    Tick {
        at: e.at,
        kind: e.kind.clone(),
        outcome: e.outcome.clone(),
        detail: e.detail.clone(),
        ip_prefix: e.ip_prefix.clone(),
        device_hash: e.device_hash.clone(),
    }
}

impl Runner {
    fn send(&self, m: Msg) {
        let _ = self.tx.send(m);
    }

    /// Loads the waitlist: a first screenful at once, the rest in pages.
    pub async fn load_entries(self) {
        let total = self.ops.call(call::CountEntries {}).await.unwrap_or(0).max(0) as u64;
        let mut before = i64::MAX;
        let mut limit = FIRST_PAGE;
        loop {
            match self.ops.call(call::EntriesNewest { before, limit }).await {
                Ok(rows) => {
                    let done = (rows.len() as i64) < limit;
                    before = rows.last().map(|r| r.id).unwrap_or(before);
                    self.send(Msg::Entries { rows: rows.into_iter().map(entry_item).collect(), total, done });
                    if done {
                        return;
                    }
                }
                Err(e) if e.is_unauthorized() => return self.send(Msg::Failed(e.to_string())),
                Err(e) => {
                    self.send(Msg::Failed(format!("could not load the waitlist: {e}")));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            }
            limit = PAGE;
        }
    }

    /// Follows the event stream through an `EventFeed` (every committed
    /// event once, on PostgreSQL too): the Live pane, the Events view, and
    /// entries changed by others (within about a second).
    pub async fn follow(self) {
        let mut feed = loop {
            // The hour as the database counts it, up to the tail and in its
            // snapshot: the feed brings everything after it (and what
            // commits late), so nothing is counted twice.
            match self.ops.tail_and_hour(EVENT_TAIL as i64).await {
                Ok((feed, latest, hour)) => {
                    self.send(Msg::Events { rows: latest, ticks: Vec::new() });
                    self.send(Msg::LiveHour { minutes: hour.minutes, offenders: hour.offenders });
                    break feed;
                }
                Err(e) if e.is_unauthorized() => return self.send(Msg::Failed(e.to_string())),
                Err(e) => {
                    self.send(Msg::Failed(format!("could not read events: {e}")));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        let mut round: u64 = 0;
        loop {
            if round.is_multiple_of(2) {
                self.refresh().await;
            }
            // Every round (under a second apart), so an alert the server
            // raised is on screen within 2 s.
            match self.ops.call(call::ActiveAlerts {}).await {
                Ok(alerts) => self.send(Msg::Alerts(alerts)),
                // Revoked or expired while the console is open: say so once
                // and stop asking (every refusal would count as a failed login).
                Err(e) if e.is_unauthorized() => return self.send(Msg::Failed(e.to_string())),
                Err(e) => tracing::debug!(error = %e, "could not read the active alerts"),
            }
            round += 1;
            loop {
                match feed.poll(5_000, 0).await {
                    Ok(rows) if rows.is_empty() => break,
                    Ok(rows) => {
                        let full = rows.len() >= 5_000;
                        let mut ids: Vec<i64> = rows.iter().filter_map(|e| e.entry_id).collect();
                        ids.sort_unstable();
                        ids.dedup();
                        let ticks = rows.iter().map(tick_of).collect();
                        self.send(Msg::Events { rows, ticks });
                        if let Ok(changed) = self.ops.call(call::EntriesByIds { ids }).await {
                            self.send(Msg::Changed(changed.into_iter().map(entry_item).collect()));
                        }
                        if !full {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "event poll failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
    }

    async fn refresh(&self) {
        let switches = self.ops.call(call::Switches {}).await;
        let settings = self.ops.call(call::SettingsCall {}).await;
        let sent = self.ops.call(call::InvitesSentToday {}).await;
        let failed = self.ops.call(call::FailedMailCount {}).await;
        if let (Ok(switches), Ok(settings), Ok(sent_today), Ok(failed)) = (switches, settings, sent, failed) {
            self.send(Msg::Switches {
                switches,
                settings: Box::new(settings),
                sent_today,
                failed_mail: failed.max(0) as u64,
            });
        }
    }

    /// Does one change through the service, as the operator; the text is
    /// what the toast says.
    async fn act(&self, action: Action) -> Result<Option<String>, String> {
        let ops = &self.ops;
        let done = match action {
            Action::Approve(ids) => {
                ops.call(call::Approve { who: call::ApproveWho::Ids(ids), dry_run: false }).await.map(|r| {
                    let skipped = if r.skipped > 0 {
                        format!(" ({} skipped: no longer confirmed)", r.skipped)
                    } else {
                        String::new()
                    };
                    format!("approved {}{skipped}", r.approved.len())
                })
            }
            Action::ApproveNext(n) => ops
                .call(call::Approve { who: call::ApproveWho::Next(n), dry_run: false })
                .await
                .map(|r| format!("approved {} (oldest confirmed first)", r.approved.len())),
            Action::SendPastCap(n) => ops
                .call(call::SendInvites { limit: Some(n), past_cap: true })
                .await
                .map(|r| format!("{} invites queued past the cap", r.sent.len())),
            Action::Revoke(target) => ops
                .call(call::Revoke { target, reason: Some("from the console".into()), dry_run: false })
                .await
                .map(|r| format!("revoked {} codes", r.len())),
            Action::Reissue(email) => {
                ops.call(call::Reissue { email: email.clone() }).await.map(|what| format!("{email}: {what}"))
            }
            Action::Block(email, reason) => ops
                .call(call::Block {
                    email: email.clone(),
                    reason: Some(reason.unwrap_or_else(|| "from the console".into())),
                })
                .await
                .map(|_| format!("blocked {email}")),
            Action::BlockMany { selector, status, reason } => ops
                .call(call::BlockMany { selector: selector.clone(), status, reason, dry_run: false })
                .await
                .map(|b| match b.batch_id {
                    Some(id) => format!(
                        "blocked {} ({}) as batch {id}; :unblock batch {id} undoes it",
                        b.count,
                        selector.describe()
                    ),
                    None => format!("nobody to block: {} takes no one now", selector.describe()),
                }),
            Action::Erase(email) => ops
                .call(call::Erase { email })
                .await
                .map(|e| format!("erased: the person is {} now ({} codes revoked)", e.anonymous_id, e.codes_revoked)),
            Action::UnblockBatch(id) => ops
                .call(call::UnblockBatch { batch: id })
                .await
                .map(|u| format!("unblocked {} from batch {id}", u.unblocked.len())),
            Action::Unblock(email) => ops
                .call(call::Unblock { email: email.clone(), reason: None })
                .await
                .map(|_| format!("unblocked {email}")),
            Action::Pause(scope) => ops
                .call(call::Pause { scope: scope.clone(), reason: Some("from the console".into()) })
                .await
                .map(|changed| scope.outcome(true, changed)),
            Action::Resume(scope) => {
                ops.call(call::Resume { scope: scope.clone() }).await.map(|changed| scope.outcome(false, changed))
            }
            Action::ChangeEmail { old, new } => ops
                .call(call::ChangeEmail { old, new })
                .await
                .map(|c| format!("{} is now {} ({}); sent {}", c.old, c.new, c.status, c.mailed)),
            Action::Set(k, val) => ops
                .call(call::SetSetting { key: k.clone(), value: val })
                .await
                .map(|s| format!("{k} = {}", s.get(&k).unwrap_or_default())),
        };
        done.map(Some).map_err(|e| e.to_string())
    }

    /// Runs one effect in its own task.
    pub fn spawn(&self, effect: Effect, haystack: Option<Arc<Haystack>>) {
        let me = self.clone();
        tokio::spawn(async move { me.run(effect, haystack).await });
    }

    async fn run(self, effect: Effect, haystack: Option<Arc<Haystack>>) {
        let ops = &self.ops;
        let outcome: Result<Option<String>, String> = match effect {
            Effect::Filter { generation, query, within } => {
                let q = query.clone();
                let haystack = haystack.unwrap_or_default();
                let rows = tokio::task::spawn_blocking(move || haystack.search(&q, within.as_deref()))
                    .await
                    .unwrap_or_default();
                self.send(Msg::Filtered { generation, query, rows });
                return;
            }
            Effect::Lookup { generation, email } => {
                match ops.call(call::LookupCall { email }).await {
                    Ok(l) => self.send(Msg::Lookup { generation, lookup: Box::new(l) }),
                    Err(e) => self.send(Msg::LookupFailed { generation, error: e.to_string() }),
                }
                return;
            }
            Effect::LoadCodes => {
                match ops.call(call::CodeTree {}).await {
                    Ok(tree) => self.send(Msg::CodeTree(tree)),
                    Err(e) => self.send(Msg::CodeTreeFailed(e.to_string())),
                }
                return;
            }
            Effect::CodesPage { branch, before, limit } => {
                match ops.call(call::CodesPage { branch: branch.clone(), before, limit }).await {
                    Ok(codes) => self.send(Msg::CodesPage { branch, before, limit, codes }),
                    Err(e) => self.send(Msg::CodesPageFailed { branch, error: e.to_string() }),
                }
                return;
            }
            Effect::Refresh => {
                self.refresh().await;
                return;
            }
            Effect::PreviewBlock { selector, status } => {
                let preview =
                    call::BlockMany { selector: selector.clone(), status: status.clone(), reason: None, dry_run: true };
                match ops.call(preview).await {
                    Ok(preview) => self.send(Msg::BlockPreview { selector, status, preview }),
                    Err(e) => self.send(Msg::Failed(e.to_string())),
                }
                return;
            }
            Effect::OlderEvents { generation, before, words, limit } => {
                match ops.call(call::EventsBefore { before, words, limit }).await {
                    Ok(page) => self.send(Msg::OlderEvents { generation, page }),
                    Err(e) => self.send(Msg::OlderEventsFailed { generation, error: e.to_string() }),
                }
                return;
            }
            Effect::Export { path, table } => {
                let what = table.what;
                let rows = table.rows.len();
                tokio::task::spawn_blocking(move || super::export::write(std::path::Path::new(&path), &table))
                    .await
                    .unwrap_or_else(|e| Err(format!("the export stopped: {e}")))
                    .map(|full| Some(format!("exported {rows} {what} to {}", full.display())))
            }
            Effect::Act(action) => self.act(action).await,
        };
        match outcome {
            Ok(Some(text)) => self.send(Msg::Done(text)),
            Ok(None) => {}
            Err(e) => self.send(Msg::Failed(e)),
        }
    }
}
