//! Rate limits by client address, email and device, per action, plus the
//! bad-code cooldown. Decisions are made in memory (so a flood is answered
//! at memory speed); counts are merged into the shared database every
//! `SYNC_EVERY`, so every `serve` process on one database sees the others'
//! traffic. A key can overshoot its limit by at most what the other
//! processes accepted since their last sync.

use crate::config::{ActionRules, LimitsConfig};
use crate::domain::Clock;
use crate::domain::code::sha256_hex;
use crate::domain::limits::Rule;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Signup,
    Confirm,
    Redeem,
    Resend,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Signup => "signup",
            Action::Confirm => "confirm",
            Action::Redeem => "redeem",
            Action::Resend => "resend",
        }
    }
}

/// The signals one request carries; `None` ones are not limited.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signals<'a> {
    /// The event prefix of the address, for the refusal summaries.
    pub prefix: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub email: Option<&'a str>,
    pub device: Option<&'a str>,
}

/// A refusal: when to come back, and which rule said no (for the event log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub retry_after: u64,
    pub rule: String,
    /// The first refusal by this rule for this key in this window: worth
    /// an event. Later ones are only counted in metrics.
    pub first: bool,
}

#[derive(Clone, Copy)]
struct Counter {
    window_start: DateTime<Utc>,
    period: Duration,
    /// The shared total at the last sync.
    global: i64,
    /// Accepted here since the last sync.
    pending: i64,
    /// Refused here in this window.
    denied: u64,
}

#[derive(Default)]
struct State {
    counters: HashMap<String, Counter>,
    lockouts: HashMap<String, DateTime<Utc>>,
    /// Refusals since the last summary, by (rule, address prefix).
    denials: HashMap<(String, Option<String>), u64>,
}

pub struct Limiter {
    store: Store,
    clock: Arc<dyn Clock>,
    secret: String,
    config: LimitsConfig,
    state: Mutex<State>,
}

impl Limiter {
    pub fn new(store: Store, clock: Arc<dyn Clock>, secret: String, config: LimitsConfig) -> Limiter {
        Limiter { store, clock, secret, config, state: Mutex::new(State::default()) }
    }

    /// A keyed hash of `parts` (32 hex digits): what rate-limit state and
    /// event device hashes are stored under, never the raw values.
    pub fn key(&self, parts: &[&str]) -> String {
        let text = format!("{}|{}", self.secret, parts.join("|"));
        sha256_hex(text.as_bytes())[..32].to_string()
    }

    fn limits(&self, action: Action) -> ActionRules {
        match action {
            Action::Signup => self.config.signup(),
            Action::Confirm => self.config.confirm(),
            Action::Redeem => self.config.redeem(),
            Action::Resend => self.config.resend(),
        }
    }

    /// The (key, rule, name) triples that apply to `signals` for `action`.
    fn rules(&self, action: Action, s: Signals<'_>) -> Vec<(String, Rule, String)> {
        let l = self.limits(action);
        let a = action.as_str();
        let mut out = Vec::with_capacity(3);
        for (signal, value, rule) in [("ip", s.ip, l.ip), ("email", s.email, l.email), ("device", s.device, l.device)] {
            if let (Some(v), Some(rule)) = (value, rule) {
                out.push((self.key(&[a, signal, v]), rule, format!("{a}.{signal} {rule}")));
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one `action` against every applicable rule, or refuses it
    /// (then nothing is counted). All-or-nothing under one lock.
    pub async fn check(&self, action: Action, signals: Signals<'_>) -> Result<(), Denied> {
        self.admit(action, signals, true).await
    }

    /// Whether `action` would be admitted now, without counting it.
    pub async fn peek(&self, action: Action, signals: Signals<'_>) -> Result<(), Denied> {
        self.admit(action, signals, false).await
    }

    /// Keys seen for the first time in their window start from the shared
    /// count (one small read), so a process joining late does not grant a
    /// fresh allowance; after that, decisions are made in memory.
    async fn learn(&self, rules: &[(String, Rule, String)], now: DateTime<Utc>) {
        let unknown: Vec<(String, DateTime<Utc>)> = {
            let state = self.lock();
            rules
                .iter()
                .filter(|(key, rule, _)| {
                    state.counters.get(key).is_none_or(|c| c.window_start != rule.window_start(now))
                })
                .map(|(key, rule, _)| (key.clone(), rule.window_start(now)))
                .collect()
        };
        if unknown.is_empty() {
            return;
        }
        let mut known = Vec::with_capacity(unknown.len());
        match self.store.read().await {
            Ok(mut tx) => {
                for (key, window) in &unknown {
                    match tx.rate_count(key, *window).await {
                        Ok(n) => known.push(n),
                        Err(e) => {
                            tracing::warn!(error = %e, "rate limits: could not read a shared count; deciding locally");
                            return;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "rate limits: database unavailable; deciding locally");
                return;
            }
        }
        let mut state = self.lock();
        for ((key, window), global) in unknown.iter().zip(known) {
            let rule = rules.iter().find(|(k, _, _)| k == key).map(|(_, r, _)| *r).expect("key came from rules");
            let c = counter(&mut state, key, &rule, now);
            if c.window_start == *window && c.pending == 0 && c.global == 0 {
                c.global = global;
            }
        }
    }

    async fn admit(&self, action: Action, signals: Signals<'_>, count: bool) -> Result<(), Denied> {
        let now = self.clock.now();
        let rules = self.rules(action, signals);
        // A key already known to be over its limit refuses at once, before
        // any of the request's other keys is looked up: a flood from one
        // address with a fresh device id per request costs no database
        // read and leaves nothing behind in memory.
        self.decide(&rules, signals, count, now, true)?;
        self.learn(&rules, now).await;
        self.decide(&rules, signals, count, now, false)
    }

    /// Refuses by the first rule whose key is over its limit (counting the
    /// refusal when `count`), or admits and counts the request against
    /// every rule — all under one lock, so two requests at `limit - 1`
    /// cannot both pass. With `only_tracked`, keys not yet tracked in this
    /// window are skipped and nothing is admitted (a pre-check).
    fn decide(
        &self,
        rules: &[(String, Rule, String)],
        signals: Signals<'_>,
        count: bool,
        now: DateTime<Utc>,
        only_tracked: bool,
    ) -> Result<(), Denied> {
        let mut state = self.lock();
        for (key, rule, name) in rules {
            let tracked = state.counters.get(key).is_some_and(|c| c.window_start == rule.window_start(now));
            if only_tracked && !tracked {
                continue;
            }
            let c = counter(&mut state, key, rule, now);
            if c.global + c.pending >= i64::from(rule.limit) {
                let first = c.denied == 0;
                if count {
                    c.denied += 1;
                    *state.denials.entry((name.clone(), signals.prefix.map(String::from))).or_default() += 1;
                }
                return Err(Denied { retry_after: rule.retry_after(now), rule: name.clone(), first });
            }
        }
        if count && !only_tracked {
            for (key, rule, _) in rules {
                counter(&mut state, key, rule, now).pending += 1;
            }
        }
        Ok(())
    }

    /// How many keys are tracked in memory (`/metrics`).
    pub fn tracked_keys(&self) -> usize {
        self.lock().counters.len()
    }

    fn cooldown_key(&self, ip: &str, device: Option<&str>) -> String {
        self.key(&["cooldown", ip, device.unwrap_or("-")])
    }

    /// A lockout from too many bad codes, if one is running.
    pub fn locked_out(&self, ip: &str, device: Option<&str>) -> Option<Denied> {
        self.lockout_of(&self.cooldown_key(ip, device), self.cooldown_name())
    }

    fn cooldown_name(&self) -> String {
        let c = self.config.cooldown;
        format!("cooldown {} bad codes/{}m -> {}m", c.failures, c.window.num_minutes(), c.duration.num_minutes())
    }

    /// Records a bad code from `ip`+`device`; starts (and stores, for the
    /// other processes) a lockout when the failures reach the limit.
    pub async fn record_failure(&self, ip: &str, device: Option<&str>) -> Result<Option<Denied>, StoreError> {
        let c = self.config.cooldown;
        let lockout = Lockout { failures: c.failures, window: c.window, duration: c.duration };
        self.count_failure(&self.cooldown_key(ip, device), lockout, self.cooldown_name(), false).await
    }

    fn auth_key(&self, ip: &str) -> String {
        self.key(&["admin_auth", ip])
    }

    fn auth_name(&self) -> String {
        let a = self.config.admin_auth;
        format!("admin_auth {} refused tokens/{}m -> {}m", a.failures, a.window.num_minutes(), a.duration.num_minutes())
    }

    /// A lockout of the admin listener from too many refused tokens from
    /// `ip` (an address, or an IPv6 /64), if one is running: answer 429
    /// without looking at the token.
    pub fn auth_locked_out(&self, ip: &str) -> Option<Denied> {
        self.lockout_of(&self.auth_key(ip), self.auth_name())
    }

    /// Records a refused token from `ip`; starts (and stores, for the other
    /// processes) a lockout when the failures in the window reach
    /// `[limits.admin_auth] failures`. The first failure of a window starts
    /// from the count every process has synced, so guesses spread over
    /// several servers add up.
    pub async fn record_auth_failure(&self, ip: &str) -> Result<Option<Denied>, StoreError> {
        let a = self.config.admin_auth;
        let lockout = Lockout { failures: a.failures, window: a.window, duration: a.duration };
        self.count_failure(&self.auth_key(ip), lockout, self.auth_name(), true).await
    }

    fn lockout_of(&self, key: &str, rule: String) -> Option<Denied> {
        let now = self.clock.now();
        let until = *self.lock().lockouts.get(key)?;
        (until > now).then(|| Denied {
            retry_after: crate::domain::limits::seconds_until(until, now),
            rule,
            first: false,
        })
    }

    /// Counts one failure under `key` (synced like the rate counters) and
    /// trips the lockout at the limit. With `shared_start`, a key new in
    /// this window first reads the count the other processes synced.
    async fn count_failure(
        &self,
        key: &str,
        l: Lockout,
        name: String,
        shared_start: bool,
    ) -> Result<Option<Denied>, StoreError> {
        if l.failures == 0 {
            return Ok(None);
        }
        // Already locked out: no count and no write (a caller that did not
        // check first must not turn a flood into database writes).
        if let Some(d) = self.lockout_of(key, name.clone()) {
            return Ok(Some(d));
        }
        let now = self.clock.now();
        let rule = Rule { limit: l.failures, period: l.window };
        let counter_key = format!("f:{key}");
        if shared_start {
            self.learn(&[(counter_key.clone(), rule, name.clone())], now).await;
        }
        let tripped = {
            let mut state = self.lock();
            let counter = counter(&mut state, &counter_key, &rule, now);
            counter.pending += 1;
            let tripped = counter.global + counter.pending >= i64::from(l.failures);
            if tripped {
                state.lockouts.insert(key.to_string(), now + l.duration);
            }
            tripped
        };
        if !tripped {
            return Ok(None);
        }
        let mut tx = self.store.write().await?;
        tx.set_lockout(key, now + l.duration, &name).await?;
        tx.commit().await?;
        Ok(self.lockout_of(key, name).map(|d| Denied { first: true, ..d }))
    }

    /// Merges local counts into the database and reads back the shared
    /// totals and lockouts. Run every `SYNC_EVERY`.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let deltas: Vec<(String, DateTime<Utc>, i64)> = {
            let mut state = self.lock();
            state.counters.retain(|_, c| c.pending > 0 || c.window_start + c.period > now);
            state
                .counters
                .iter()
                .filter(|(_, c)| c.pending > 0)
                .map(|(k, c)| (k.clone(), c.window_start, c.pending))
                .collect()
        };
        let mut totals = Vec::with_capacity(deltas.len());
        let mut tx = self.store.write().await?;
        for (key, window, delta) in &deltas {
            totals.push(tx.add_rate_count(key, *window, *delta).await?);
        }
        let lockouts = tx.active_lockouts(now).await?;
        tx.commit().await?;
        let mut state = self.lock();
        for ((key, window, delta), total) in deltas.iter().zip(totals) {
            if let Some(c) = state.counters.get_mut(key)
                && c.window_start == *window
            {
                c.global = total;
                c.pending -= delta;
            }
        }
        state.lockouts.retain(|_, until| *until > now);
        for (key, until) in lockouts {
            let e = state.lockouts.entry(key).or_insert(until);
            *e = (*e).max(until);
        }
        Ok(())
    }

    /// Refusals counted since the last call, for the summary events the
    /// console sums into its 429 series.
    pub fn take_denials(&self) -> Vec<(String, Option<String>, u64)> {
        self.lock().denials.drain().map(|((rule, prefix), n)| (rule, prefix, n)).collect()
    }

    /// Deletes shared state older than a day (any process may do it).
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let mut tx = self.store.write().await?;
        let n = tx.prune_rate_state(self.clock.now() - Duration::days(1)).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// A failure count that locks a key out: `failures` within `window` lock
/// it for `duration` (the bad-code cooldown, the admin token lockout).
#[derive(Clone, Copy)]
struct Lockout {
    failures: u32,
    window: Duration,
    duration: Duration,
}

/// The counter for `key` in the window holding `now` (reset on a new window).
fn counter<'a>(state: &'a mut State, key: &str, rule: &Rule, now: DateTime<Utc>) -> &'a mut Counter {
    let fresh = Counter { window_start: rule.window_start(now), period: rule.period, global: 0, pending: 0, denied: 0 };
    let c = state.counters.entry(key.to_string()).or_insert(fresh);
    if c.window_start != fresh.window_start {
        *c = fresh;
    }
    c
}
