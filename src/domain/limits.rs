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
#[error("'{0}' is not a rate like 10/10m (a count, '/', and a period in s, m, h or d), or \"off\"")]
pub struct RuleError(pub String);

impl Rule {
    pub const fn new(limit: u32, period_secs: i64) -> Rule {
        Rule { limit, period: Duration::seconds(period_secs) }
    }

    /// "10/10m", "5/1h", "100/30s", "50/1d"; `None` for "off".
    pub fn parse(text: &str) -> Result<Option<Rule>, RuleError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let err = || RuleError(text.to_string());
        let (n, per) = t.split_once('/').ok_or_else(err)?;
        let limit: u32 = n.trim().parse().map_err(|_| err())?;
        let period = parse_period(per.trim()).ok_or_else(err)?;
        if limit == 0 || period <= Duration::zero() || period > Duration::days(7) {
            return Err(err());
        }
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

/// "30s", "10m", "1h", "2d" → a duration.
pub fn parse_period(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: i64 = if num.is_empty() { 1 } else { num.parse().ok()? };
    match unit {
        "s" => Some(Duration::seconds(n)),
        "m" | "min" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        _ => None,
    }
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
        assert_eq!(Rule::parse("5/h").unwrap().unwrap().period, Duration::hours(1));
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 7, 30).unwrap();
        assert_eq!(r.window_start(now), Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap());
        assert_eq!(r.retry_after(now), 150);
    }
}
