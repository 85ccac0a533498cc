//! Rate-limit arithmetic: rules like "10/10m", fixed windows, retry times.

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::fmt;

/// At most `limit` events per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub period: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a rate like 10/10m or \"off\": {why}")]
pub struct RuleError {
    pub text: String,
    pub why: String,
}

/// The longest period a rate may count over.
pub const MAX_PERIOD: Duration = Duration::days(7);
/// The most a rate may allow per period.
pub const MAX_LIMIT: u32 = 1_000_000;

impl Rule {
    pub const fn new(limit: u32, period_secs: i64) -> Rule {
        Rule { limit, period: Duration::seconds(period_secs) }
    }

    /// "10/10m", "5/1h", "100/30s", "50/1d"; `None` for "off". The period
    /// is a duration in velvet's one grammar ([`super::duration`]).
    pub fn parse(text: &str) -> Result<Option<Rule>, RuleError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let err = |why: String| RuleError { text: text.to_string(), why };
        let (n, per) =
            t.split_once('/').ok_or_else(|| err("a count, '/', and a period, like 10/10m or 5/1h".into()))?;
        let limit: u32 = match n.trim().parse::<u64>() {
            Ok(n) if (1..=u64::from(MAX_LIMIT)).contains(&n) => n as u32,
            _ => return Err(err(format!("the count must be a whole number from 1 to {MAX_LIMIT}"))),
        };
        let period = super::duration::parse_within(per, Duration::seconds(1), MAX_PERIOD)
            .map_err(|e| err(format!("the period {e}")))?;
        Ok(Some(Rule { limit, period }))
    }

    /// Start of the fixed window holding `now`.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let p = self.period.num_seconds().max(1);
        let start = now.timestamp().div_euclid(p) * p;
        Utc.timestamp_opt(start, 0).single().unwrap_or(now)
    }

    /// Whole seconds until the window holding `now` ends (at least 1).
    pub fn retry_after(&self, now: DateTime<Utc>) -> u64 {
        seconds_until(self.window_start(now) + self.period, now)
    }
}

/// Whole seconds from `now` until `end`, rounded up, at least 1: what a
/// `Retry-After` header says.
pub fn seconds_until(end: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    ((end - now).num_milliseconds() as f64 / 1000.0).ceil().max(1.0) as u64
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.period.num_seconds();
        let period = match s {
            s if s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s % 3600 == 0 => format!("{}h", s / 3600),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        };
        write!(f, "{}/{period}", self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_print_and_window() {
        let r = Rule::parse("10/10m").unwrap().unwrap();
        assert_eq!(r, Rule::new(10, 600));
        assert_eq!(r.to_string(), "10/10m");
        assert_eq!(Rule::parse("off").unwrap(), None);
        assert!(Rule::parse("0/1m").is_err());
        assert!(Rule::parse("ten per minute").is_err());
        assert!(Rule::parse("5/1y").is_err());
        assert_eq!(Rule::parse("5/1h").unwrap().unwrap().period, Duration::hours(1));
        // One duration grammar: a period needs its number, as everywhere else.
        assert!(Rule::parse("5/h").unwrap_err().to_string().contains("not a duration"));
        let e = Rule::parse("10/99999999999999d").unwrap_err().to_string();
        assert!(e.contains("out of range: use 1s to 7d"), "{e}");
        let e = Rule::parse("99999999999/1m").unwrap_err().to_string();
        assert!(e.contains("from 1 to 1000000"), "{e}");
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 7, 30).unwrap();
        assert_eq!(r.window_start(now), Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap());
        assert_eq!(r.retry_after(now), 150);
    }
}
