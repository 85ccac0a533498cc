//! Human relative times for screens and explanations ("2 h ago", "in 5 d").

use chrono::{DateTime, Utc};

/// A moment as mails, reports and the shell print it: `2026-11-22 08:15 UTC`.
pub fn utc_minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A UTC day, as sentences name one: "2026-12-01".
pub fn utc_day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A compact span: "40 s", "12 min", "3 h", "5 d".
pub fn span(seconds: i64) -> String {
    let s = seconds.abs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// "just now", "2 h ago" or "in 3 d", relative to `now`.
pub fn relative(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    if secs.abs() < 30 {
        "just now".to_string()
    } else if secs > 0 {
        format!("{} ago", span(secs))
    } else {
        format!("in {}", span(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn reads_like_a_person_would_say_it() {
        let now = Utc::now();
        assert_eq!(relative(now, now - Duration::seconds(5)), "just now");
        assert_eq!(relative(now, now - Duration::minutes(12)), "12 min ago");
        assert_eq!(relative(now, now - Duration::hours(2)), "2 h ago");
        assert_eq!(relative(now, now + Duration::days(5)), "in 5 d");
    }
}
