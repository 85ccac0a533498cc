//! The one operator interface the console and the CLI call, with two
//! sides: in-process (the service on a database URL) and remote (the admin
//! API of a server, for a context). As client-go is for kubectl and k9s:
//! a command or a console action is written once against [`Ops`], and the
//! rule behind it is enforced once, in the service, where the data changes.
//!
//! ```text
//!  console runner ─┐                      ┌─ Local:  Call::run(&Velvet, &Actor)
//!  cli commands ───┴─ Ops::call(call) ────┤
//!                                         └─ Remote: POST /v1/admin/{PATH} ─► api::admin ─► Call::run
//! ```
//!
//! Each [`Call`] is a request as data (serde), its reply type, and the one
//! service call it makes; the admin router serves every call by the same
//! generic handler, so the router holds no rule of its own.

pub mod calls;
pub mod remote;

pub use crate::service::FeedPage;
pub use calls::{Call, Each, Whoami, every};
pub use remote::Remote;

use crate::domain::Role;
use crate::service::{Actor, LiveHour, Result, Velvet};
use crate::store::{EventRow, FeedState};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// An operator's way in: the service as a named operator, or a server.
#[derive(Clone)]
pub enum Ops {
    Local { velvet: Velvet, actor: Actor },
    Remote(Arc<Remote>),
}

impl Ops {
    pub fn local(velvet: Velvet, actor: Actor) -> Ops {
        Ops::Local { velvet, actor }
    }

    /// Does `call` as this operator: in-process, or over the admin API.
    pub async fn call<C: Call>(&self, call: C) -> Result<C::Reply> {
        match self {
            Ops::Local { velvet, actor } => call.run(velvet, actor).await,
            Ops::Remote(remote) => remote.call(call).await,
        }
    }

    /// Who this is, as events name them.
    pub fn name(&self) -> &str {
        match self {
            Ops::Local { actor, .. } => actor.name(),
            Ops::Remote(r) => &r.who().operator,
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Ops::Local { actor, .. } => actor.role(),
            Ops::Remote(r) => Some(r.who().role),
        }
    }

    /// Now, by the service's clock (a test's manual clock) or this machine's.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Ops::Local { velvet, .. } => velvet.now(),
            Ops::Remote(_) => Utc::now(),
        }
    }

    /// What the console's title names: the backend, or the server.
    pub fn place(&self) -> String {
        match self {
            Ops::Local { velvet, .. } => velvet.store().backend().to_string(),
            Ops::Remote(r) => r.base().to_string(),
        }
    }

    /// The newest `n` events and a feed of everything committed after them.
    pub async fn tail(&self, n: i64) -> Result<(Feed, Vec<EventRow>)> {
        let (feed, rows, _) = self.tail_asking(n, false).await?;
        Ok((feed, rows))
    }

    /// The tail, its feed, and the Live pane's hour up to the feed's
    /// position, counted in the same snapshot (each event counted once).
    pub async fn tail_and_hour(&self, n: i64) -> Result<(Feed, Vec<EventRow>, LiveHour)> {
        let (feed, rows, hour) = self.tail_asking(n, true).await?;
        Ok((feed, rows, hour.unwrap_or(LiveHour { minutes: Vec::new(), offenders: Vec::new() })))
    }

    async fn tail_asking(&self, n: i64, hour: bool) -> Result<(Feed, Vec<EventRow>, Option<LiveHour>)> {
        let page = self.call(calls::FeedTail { n, hour }).await?;
        Ok((Feed { ops: self.clone(), state: page.state }, page.rows, page.hour))
    }
}

/// A live feed of the trail, each committed event once, through [`Ops`]:
/// the position is data the caller holds (see `store::FeedState`), so the
/// same feed works in-process and against any server process.
pub struct Feed {
    ops: Ops,
    state: FeedState,
}

impl Feed {
    /// The highest id delivered so far.
    pub fn cursor(&self) -> i64 {
        self.state.high
    }

    pub fn has_delivered(&self, id: i64) -> bool {
        self.state.has_delivered(id)
    }

    /// What committed since the last poll, oldest first (at most `limit`
    /// new ones, plus late commits below them); a remote server may hold
    /// the request up to `wait_ms` for something to arrive.
    pub async fn poll(&mut self, limit: i64, wait_ms: u64) -> Result<Vec<EventRow>> {
        let page = self.ops.call(calls::FeedPoll { state: self.state.clone(), limit, wait_ms }).await?;
        self.state = page.state;
        Ok(page.rows)
    }
}
