//! The Live pane's numbers: per-minute counts over the last hour, rates
//! against the trailing baseline, top offenders and the redeem funnel
//! (alerts are the server's: `domain::alerts`, shown as they are). Fed event by event from the tail, so a refresh costs only the
//! new events, whatever the history holds.

use crate::store::{MinuteCount, OffenderCount};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub const MINUTES: usize = 60;

/// The series drawn as sparklines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Series {
    Signups,
    Confirms,
    RedeemOk,
    RedeemFailed,
    Limited,
}

impl Series {
    pub const ALL: [Series; 5] =
        [Series::Signups, Series::Confirms, Series::RedeemOk, Series::RedeemFailed, Series::Limited];

    pub fn label(self) -> &'static str {
        match self {
            Series::Signups => "signups",
            Series::Confirms => "confirms",
            Series::RedeemOk => "joined",
            Series::RedeemFailed => "bad codes",
            Series::Limited => "429s",
        }
    }

    /// Which series an event counts in, and how many (rate-limit summaries
    /// carry their count in `detail` as "count=N").
    pub fn of(kind: &str, outcome: Option<&str>, detail: Option<&str>) -> Option<(Series, u64)> {
        match (kind, outcome) {
            ("signup", Some("ok")) => Some((Series::Signups, 1)),
            ("confirm", Some("ok")) => Some((Series::Confirms, 1)),
            ("joined", _) => Some((Series::RedeemOk, 1)),
            ("redeem", Some("failed")) => Some((Series::RedeemFailed, 1)),
            ("rate_limited", Some("summary")) => {
                let n = detail.and_then(|d| d.strip_prefix("count=")).and_then(|n| n.parse().ok()).unwrap_or(1);
                Some((Series::Limited, n))
            }
            _ => None,
        }
    }
}

/// The few fields of an event the Live pane needs.
#[derive(Clone, Debug)]
pub struct Tick {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub outcome: Option<String>,
    pub detail: Option<String>,
    pub ip_prefix: Option<String>,
    pub device_hash: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct Minute {
    counts: HashMap<Series, u64>,
    attempts: u64,
    prefixes: HashMap<String, u64>,
    devices: HashMap<String, u64>,
}

#[derive(Clone, Debug)]
pub struct LiveStats {
    /// `minutes[0]` is the current minute; index i is i minutes ago.
    minutes: Vec<Minute>,
    current: DateTime<Utc>,
}

fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp().div_euclid(60) * 60, 0).unwrap_or(t)
}

impl LiveStats {
    pub fn new(now: DateTime<Utc>) -> LiveStats {
        LiveStats { minutes: vec![Minute::default(); MINUTES], current: minute_of(now) }
    }

    /// Moves the window so that `now`'s minute is the current one.
    pub fn roll(&mut self, now: DateTime<Utc>) {
        let m = minute_of(now);
        let steps = ((m - self.current).num_minutes()).clamp(0, MINUTES as i64) as usize;
        for _ in 0..steps {
            self.minutes.pop();
            self.minutes.insert(0, Minute::default());
        }
        if m > self.current {
            self.current = m;
        }
    }

    /// Counts one event as it arrives from the feed.
    pub fn ingest(&mut self, t: &Tick) {
        let minute = t.at.timestamp().div_euclid(60);
        let series = Series::of(&t.kind, t.outcome.as_deref(), t.detail.as_deref());
        let n = series.map(|(_, n)| n).unwrap_or(1);
        self.add(minute, &t.kind, t.outcome.as_deref(), n);
        if matches!(series, Some((Series::RedeemFailed | Series::Limited, _))) {
            self.add_hostile(minute, t.ip_prefix.as_deref(), t.device_hash.as_deref(), n);
        }
    }

    /// Starts from the hour as the database counted it (per minute, kind
    /// and outcome; offenders per minute, prefix and device).
    pub fn seed(&mut self, minutes: &[MinuteCount], offenders: &[OffenderCount]) {
        for m in minutes {
            self.add(m.minute, &m.kind, m.outcome.as_deref(), m.n.max(0) as u64);
        }
        for o in offenders {
            self.add_hostile(o.minute, o.ip_prefix.as_deref(), o.device_hash.as_deref(), o.n.max(0) as u64);
        }
    }

    /// The slot of a minute (minutes since the epoch), if inside the hour.
    fn slot(&mut self, minute: i64) -> Option<&mut Minute> {
        let age = self.current.timestamp().div_euclid(60) - minute;
        (0..MINUTES as i64).contains(&age).then(|| &mut self.minutes[age as usize])
    }

    fn add(&mut self, minute: i64, kind: &str, outcome: Option<&str>, n: u64) {
        let Some(m) = self.slot(minute) else { return };
        if let Some((s, _)) = Series::of(kind, outcome, None) {
            *m.counts.entry(s).or_default() += n;
        }
        if kind == "redeem" || kind == "joined" || kind == "redeem_held" {
            m.attempts += n;
        }
    }

    fn add_hostile(&mut self, minute: i64, prefix: Option<&str>, device: Option<&str>, n: u64) {
        let Some(m) = self.slot(minute) else { return };
        if let Some(p) = prefix {
            *m.prefixes.entry(p.to_string()).or_default() += n;
        }
        if let Some(d) = device {
            *m.devices.entry(d.to_string()).or_default() += n;
        }
    }

    /// Oldest first, for sparklines.
    pub fn series(&self, s: Series) -> Vec<u64> {
        self.minutes.iter().rev().map(|m| m.counts.get(&s).copied().unwrap_or(0)).collect()
    }

    /// The last complete minute, and the average of the 58 before it.
    pub fn rate(&self, s: Series) -> (u64, f64) {
        let get = |m: &Minute| m.counts.get(&s).copied().unwrap_or(0);
        let last = get(&self.minutes[1]);
        let base: u64 = self.minutes[2..].iter().map(get).sum();
        (last, base as f64 / (MINUTES - 2) as f64)
    }

    fn recent<F: Fn(&Minute) -> &HashMap<String, u64>>(&self, minutes: usize, f: F, n: usize) -> Vec<(String, u64)> {
        let mut total: HashMap<&str, u64> = HashMap::new();
        for m in &self.minutes[..minutes.min(MINUTES)] {
            for (k, v) in f(m) {
                *total.entry(k.as_str()).or_default() += v;
            }
        }
        let mut v: Vec<(String, u64)> = total.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Prefixes with the most failed or refused attempts in the last 10 minutes.
    pub fn top_prefixes(&self, n: usize) -> Vec<(String, u64)> {
        self.recent(10, |m| &m.prefixes, n)
    }

    pub fn top_devices(&self, n: usize) -> Vec<(String, u64)> {
        self.recent(10, |m| &m.devices, n)
    }

    /// Code attempts and joins over the last `minutes`.
    pub fn funnel(&self, minutes: usize) -> (u64, u64) {
        let ms = &self.minutes[..minutes.min(MINUTES)];
        let attempts = ms.iter().map(|m| m.attempts).sum();
        let joined = ms.iter().map(|m| m.counts.get(&Series::RedeemOk).copied().unwrap_or(0)).sum();
        (attempts, joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn tick(at: DateTime<Utc>, kind: &str, outcome: Option<&str>, prefix: Option<&str>) -> Tick {
        Tick {
            at,
            kind: kind.into(),
            outcome: outcome.map(String::from),
            detail: None,
            ip_prefix: prefix.map(String::from),
            device_hash: None,
        }
    }

    #[test]
    fn counts_roll_by_minute() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 30).unwrap();
        let mut live = LiveStats::new(t0);
        for i in 0..30 {
            live.ingest(&tick(t0 - Duration::minutes(30) + Duration::seconds(i), "signup", Some("ok"), None));
        }
        live.roll(t0 + Duration::minutes(1));
        for _ in 0..40 {
            live.ingest(&tick(t0, "signup", Some("ok"), None));
            live.ingest(&tick(t0, "redeem", Some("failed"), Some("203.0.113.0/24")));
        }
        let s = live.series(Series::Signups);
        assert_eq!(s.len(), 60);
        assert_eq!(s[59], 0, "the current minute is empty");
        assert_eq!(s[58], 40);
        assert_eq!(live.rate(Series::Signups).0, 40);
        assert_eq!(live.top_prefixes(3), vec![("203.0.113.0/24".to_string(), 40)]);
        assert_eq!(live.funnel(10), (40, 0));
        // An hour later everything has scrolled away.
        live.roll(t0 + Duration::minutes(70));
        assert!(live.series(Series::Signups).iter().all(|n| *n == 0));
        assert_eq!(live.funnel(60), (0, 0));
    }

    #[test]
    fn summaries_of_refusals_count_in_full() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let mut live = LiveStats::new(t0);
        let mut t = tick(t0, "rate_limited", Some("summary"), Some("198.51.100.0/24"));
        t.detail = Some("count=523".into());
        live.ingest(&t);
        assert_eq!(live.series(Series::Limited)[59], 523);
        assert_eq!(live.top_prefixes(1)[0].1, 523);
    }
}
