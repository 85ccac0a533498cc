//! What the people who watch the beta read, whichever front end they use:
//! the list page by page, rows that changed, the event trail and its feed,
//! the Live pane's hour; and the summaries the server writes for them.

use super::{Actor, Error, Result, Velvet, event};
use crate::domain::{EventKind, Permission};
use crate::store::{EventFeed, EventFilter, EventRow, ListedEntry, LiveHour, NewEvent, TrailQuery};

/// A feed's events and its position after them (see `store::FeedState`),
/// and at the start, when asked, the Live pane's hour up to that position.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FeedPage {
    pub rows: Vec<EventRow>,
    pub state: crate::store::FeedState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hour: Option<LiveHour>,
}

impl Velvet {
    pub async fn count_entries(&self, actor: &Actor) -> Result<i64> {
        actor.require(Permission::Read)?;
        Ok(self.store.read().await?.count_entries().await?)
    }

    /// Entries newest first, before `before_id` (use `i64::MAX` to start).
    pub async fn entries_newest(&self, actor: &Actor, before_id: i64, limit: i64) -> Result<Vec<ListedEntry>> {
        actor.require(Permission::Read)?;
        Ok(self.store.read().await?.listed_newest(before_id, limit).await?)
    }

    pub async fn entries_by_ids(&self, actor: &Actor, ids: &[i64]) -> Result<Vec<ListedEntry>> {
        actor.require(Permission::Read)?;
        let mut tx = self.store.read().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) = tx.listed_by_id(*id).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Events after the cursor, oldest first.
    pub async fn events_after(&self, actor: &Actor, after_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        actor.require(Permission::Read)?;
        Ok(self.store.read().await?.events(&EventFilter { after_id, kind: None, entry_id: None, limit }).await?)
    }

    /// The newest `n` events (oldest first) and a feed of every event
    /// committed after them, each delivered once, on both backends (see
    /// [`EventFeed`]): what a live tail follows.
    pub async fn event_tail(&self, actor: &Actor, n: i64) -> Result<(EventFeed, Vec<EventRow>)> {
        actor.require(Permission::Read)?;
        Ok(EventFeed::tail(&self.store, n).await?)
    }

    /// The newest `n` events (oldest first) and the position of a feed after
    /// them, as data: what a client of the admin API holds (see `FeedState`).
    /// With `hour`, the Live pane's hour up to the position too, counted in
    /// the tail's own snapshot (an event in flight is counted once, by the
    /// feed, when it commits).
    pub async fn feed_tail(&self, actor: &Actor, n: i64, hour: bool) -> Result<FeedPage> {
        actor.require(Permission::Read)?;
        let (feed, rows, hour) = EventFeed::tail_and_hour(&self.store, n, hour.then(|| self.now())).await?;
        Ok(FeedPage { rows, state: feed.state(), hour })
    }

    /// Every event committed after the feed position `state` and not
    /// delivered yet (each once, on both backends), and the position after
    /// them. With nothing new, asks again every 100 ms up to `wait_ms` (a
    /// long poll), so a far client hears of a change at once.
    pub async fn feed_poll(
        &self,
        actor: &Actor,
        state: crate::store::FeedState,
        limit: i64,
        wait_ms: u64,
    ) -> Result<FeedPage> {
        actor.require(Permission::Read)?;
        let mut feed = EventFeed::resume(&self.store, state).map_err(Error::InvalidInput)?;
        let until = tokio::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
        loop {
            let rows = feed.poll(limit).await?;
            if !rows.is_empty() || tokio::time::Instant::now() >= until {
                return Ok(FeedPage { rows, state: feed.state(), hour: None });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// An older page of the trail for the console's Events view: up to
    /// `limit` events below `before_id` whose kind, outcome or actor is
    /// each of `words`, or whose address prefix starts with it (newest
    /// first; a bounded range of the primary key per call).
    pub async fn events_before(
        &self,
        actor: &Actor,
        before_id: i64,
        words: &[String],
        limit: i64,
    ) -> Result<crate::store::EventPage> {
        actor.require(Permission::Read)?;
        let words: Vec<String> = words.iter().take(crate::store::HISTORY_WORDS).cloned().collect();
        Ok(self.store.read().await?.events_before(before_id, &words, limit).await?)
    }

    pub async fn latest_events(&self, actor: &Actor, limit: i64) -> Result<Vec<EventRow>> {
        actor.require(Permission::Read)?;
        Ok(self.store.read().await?.latest_events(limit).await?)
    }

    /// The Live pane's last hour as the database counts it, up to event
    /// `up_to` (the feed delivers what comes after): per-minute counts and
    /// the offenders of the last ten minutes. Two aggregates, whatever the rate.
    pub async fn live_hour(&self, actor: &Actor, up_to: i64) -> Result<LiveHour> {
        actor.require(Permission::Read)?;
        Ok(self.store.read().await?.live_hour(self.now(), up_to).await?)
    }

    /// The trail for `velvet events`: since `since`, after `after_id`,
    /// optionally one kind (checked against the kinds velvet writes) or one
    /// person; oldest first, at most `limit`.
    pub async fn trail(
        &self,
        actor: &Actor,
        since: chrono::DateTime<chrono::Utc>,
        after_id: i64,
        kind: Option<&str>,
        email: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        actor.require(Permission::Read)?;
        if let Some(k) = kind
            && EventKind::parse(k).is_none()
        {
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(Error::InvalidInput(format!(
                "--kind '{k}' is not a kind of event; one of: {}",
                known.join(", ")
            )));
        }
        let mut tx = self.store.read().await?;
        let entry_id = match email {
            Some(e) => Some(self.entry_for(&mut tx, e).await?.id),
            None => None,
        };
        let q = TrailQuery { since, after_id, kind: kind.map(String::from), entry_id, limit };
        Ok(tx.trail(&q).await?)
    }

    /// The id of the entry for `email` (a reader that filters a feed by person).
    pub async fn entry_id(&self, actor: &Actor, email: &str) -> Result<i64> {
        actor.require(Permission::Read)?;
        let mut tx = self.store.read().await?;
        Ok(self.entry_for(&mut tx, email).await?.id)
    }

    pub async fn invites_sent_today(&self, actor: &Actor) -> Result<u64> {
        actor.require(Permission::Read)?;
        Self::sent_today(&mut self.store.read().await?, self.now()).await
    }

    /// Records how many requests a rate-limit rule refused from one prefix
    /// since the last summary (the server writes these every few hundred ms
    /// under a flood; the console sums them).
    pub async fn note_rate_limit_summary(&self, rule: &str, ip_prefix: Option<&str>, count: u64) -> Result<()> {
        if count == 0 {
            return Err(Error::InvalidInput("empty summary".into()));
        }
        let e = NewEvent {
            outcome: Some("summary"),
            rule: Some(rule.to_string()),
            ip_prefix: ip_prefix.map(String::from),
            detail: Some(format!("count={count}")),
            ..event(EventKind::RateLimited, &Actor::System("limiter"))
        };
        let mut tx = self.store.write().await?;
        self.record(&mut tx, e).await?;
        tx.commit().await?;
        Ok(())
    }
}
