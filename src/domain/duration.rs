//! The one way velvet reads a duration, for every flag and config value
//! that takes one (`--expires 14d`, `--since 7d`, `--duration 60s`, the
//! period of a rate like `10/10m`, `[limits.cooldown] window`): humantime's
//! grammar, a number and a unit, possibly several (`30s`, `15m`, `36h`,
//! `14d`, `2w`, `1h 30m`). `m` is minutes, `M` months; a bare number is
//! refused (is `5` five minutes or five days?). Anything past ten years is
//! refused too, before any date arithmetic can overflow.

use chrono::Duration;

/// A year as humantime reads `1y`: 365.25 days.
const YEAR_SECS: i64 = 31_557_600;
/// The longest duration velvet accepts anywhere: ten years.
pub const MAX: Duration = Duration::seconds(10 * YEAR_SECS);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("'{0}' is not a duration: write a number and a unit, like 30s, 15m, 36h, 14d or 2w")]
    Malformed(String),
    #[error("'{text}' is out of range: use {min} to {max}")]
    OutOfRange { text: String, min: String, max: String },
}

/// Reads `text` in the one grammar; at most [`MAX`], and not negative.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    parse_within(text, Duration::zero(), MAX)
}

/// Reads `text` and checks it lies in `min..=max` (`max` is capped at [`MAX`]).
pub fn parse_within(text: &str, min: Duration, max: Duration) -> Result<Duration, DurationError> {
    let max = max.min(MAX);
    let t = text.trim();
    let out_of_range = || DurationError::OutOfRange { text: t.to_string(), min: show(min), max: show(max) };
    // A bare number is refused: the two grammars velvet had read it differently.
    if t.is_empty() || t.chars().all(|c| c.is_ascii_digit()) || !t.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(DurationError::Malformed(t.to_string()));
    }
    let std = match humantime::parse_duration(t) {
        Ok(d) => d,
        Err(humantime::DurationError::NumberOverflow) => return Err(out_of_range()),
        Err(_) => return Err(DurationError::Malformed(t.to_string())),
    };
    let d = Duration::from_std(std).map_err(|_| out_of_range())?;
    if d < min || d > max {
        return Err(out_of_range());
    }
    Ok(d)
}

/// A duration the way people write it, in the grammar above: `90s`,
/// `15m`, `36h`, `14d`, `10y` when it is a whole number of the unit.
pub fn show(d: Duration) -> String {
    let s = d.num_seconds();
    match s {
        0 => "0s".to_string(),
        s if s % YEAR_SECS == 0 => format!("{}y", s / YEAR_SECS),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// An optional duration as whole seconds, or null (`never`).
pub mod seconds_opt {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.num_seconds()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<i64>::deserialize(d)? {
            Some(secs) => {
                Duration::try_seconds(secs).map(Some).ok_or_else(|| serde::de::Error::custom("a duration out of range"))
            }
            None => Ok(None),
        }
    }
}

/// A duration as whole seconds in serde (`#[serde(with = "duration::seconds")]`):
/// how requests that carry one cross the admin API.
pub mod seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = i64::deserialize(d)?;
        Duration::try_seconds(secs).ok_or_else(|| serde::de::Error::custom("a duration out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_people_write_durations() {
        assert_eq!(parse("14d").unwrap(), Duration::days(14));
        assert_eq!(parse("36h").unwrap(), Duration::hours(36));
        assert_eq!(parse("2w").unwrap(), Duration::weeks(2));
        assert_eq!(parse("15m").unwrap(), Duration::minutes(15), "m is minutes");
        assert_eq!(parse(" 1h 30m ").unwrap(), Duration::minutes(90));
        assert_eq!(parse("30s").unwrap(), Duration::seconds(30));
        for bad in ["", "5", "m", "soon", "-3d", "3 parsecs", "d5"] {
            assert!(matches!(parse(bad), Err(DurationError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn long_durations_are_refused_not_overflowed() {
        for huge in ["200000000000d", "99999999999999d", "18446744073709551615s", "11y", "3653d"] {
            let e = parse(huge).unwrap_err();
            assert!(matches!(e, DurationError::OutOfRange { .. }), "{huge}: {e}");
            assert!(e.to_string().contains("0s to 10y"), "{e}");
        }
        assert_eq!(parse("10y").unwrap(), MAX);
        assert!(parse("3652d").is_ok());
        let e = parse_within("30m", Duration::hours(1), Duration::days(366)).unwrap_err();
        assert_eq!(e.to_string(), "'30m' is out of range: use 1h to 366d");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_a_duration_in_range_or_an_error(text in "\\PC{0,24}") {
            if let Ok(d) = parse(&text) {
                proptest::prop_assert!(d >= Duration::zero() && d <= MAX);
            }
        }

        #[test]
        fn digits_and_units_never_panic(text in "[0-9]{0,25}[a-zA-Z ]{0,4}[0-9]{0,25}[a-zA-Z]{0,3}") {
            let _ = parse(&text);
        }
    }
}
