//! Settings and pacing values: their names, defaults, bounds, and the
//! arithmetic of the daily invite cap. Stored as key/value rows; parsed here.

use chrono::{DateTime, Duration, NaiveTime, Utc};

/// Every tunable with its default. Unknown keys are refused, so a typo in
/// `velvet settings set` cannot silently do nothing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Invites the pacer may send per UTC day.
    pub daily_invite_cap: u32,
    /// Referral codes a person gets on joining.
    pub invites_per_user: u32,
    pub access_code_days: u32,
    /// Days before an unused access code expires that a reminder goes out (0: none).
    pub invite_reminder_days: u32,
    pub referral_code_days: u32,
    pub confirm_token_hours: u32,
    /// How long a redemption by an unconfirmed email holds its use.
    pub redemption_hold_hours: u32,
    /// A repeat signup inside this window sends no new mail.
    pub resend_window_minutes: u32,
    /// Auto-approve the first N confirmed entries (0: off).
    pub auto_approve_first: u32,
    /// Auto-approve up to N confirmations per UTC day (0: off).
    pub auto_approve_per_day: u32,
    /// Auto-approve confirmed addresses on these domains.
    pub auto_approve_domains: Vec<String>,
    /// Event kinds sent to the product's webhook (e.g. "joined").
    pub webhook_events: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            daily_invite_cap: 50,
            invites_per_user: 1,
            access_code_days: 7,
            invite_reminder_days: 2,
            referral_code_days: 14,
            confirm_token_hours: 48,
            redemption_hold_hours: 48,
            resend_window_minutes: 15,
            auto_approve_first: 0,
            auto_approve_per_day: 0,
            auto_approve_domains: Vec::new(),
            webhook_events: Vec::new(),
        }
    }
}

pub const SETTING_KEYS: [&str; 12] = [
    "daily_invite_cap",
    "invites_per_user",
    "access_code_days",
    "invite_reminder_days",
    "referral_code_days",
    "confirm_token_hours",
    "redemption_hold_hours",
    "resend_window_minutes",
    "auto_approve_first",
    "auto_approve_per_day",
    "auto_approve_domains",
    "webhook_events",
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("there is no setting '{key}'; known settings: {known}", key = .0, known = SETTING_KEYS.join(", "))]
    UnknownKey(String),
    #[error("'{key}' must be a whole number from {min} to {max}, not '{value}'")]
    OutOfRange { key: String, value: String, min: u32, max: u32 },
    #[error("'{0}' is not a domain name")]
    BadDomain(String),
    #[error("'{0}' is not an event kind (e.g. joined, signup, confirm, redeem)")]
    BadEventKind(String),
}

impl Settings {
    /// Sets `key` from text, validating it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let num = |min: u32, max: u32| -> Result<u32, SettingError> {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| SettingError::OutOfRange { key: key.into(), value: value.into(), min, max })
        };
        match key {
            "daily_invite_cap" => self.daily_invite_cap = num(0, 1_000_000)?,
            "invites_per_user" => self.invites_per_user = num(0, 100)?,
            "access_code_days" => self.access_code_days = num(1, 365)?,
            "invite_reminder_days" => self.invite_reminder_days = num(0, 364)?,
            "referral_code_days" => self.referral_code_days = num(1, 365)?,
            "confirm_token_hours" => self.confirm_token_hours = num(1, 24 * 30)?,
            "redemption_hold_hours" => self.redemption_hold_hours = num(1, 24 * 30)?,
            "resend_window_minutes" => self.resend_window_minutes = num(0, 24 * 60)?,
            "auto_approve_first" => self.auto_approve_first = num(0, 10_000_000)?,
            "auto_approve_per_day" => self.auto_approve_per_day = num(0, 1_000_000)?,
            "auto_approve_domains" => {
                let mut domains = Vec::new();
                for d in value.split(',').map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()) {
                    let probe = format!("x@{d}");
                    if super::email::Email::parse(&probe).is_err() {
                        return Err(SettingError::BadDomain(d));
                    }
                    domains.push(d);
                }
                self.auto_approve_domains = domains;
            }
            "webhook_events" => {
                let mut kinds = Vec::new();
                for k in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                    if super::event::EventKind::parse(k).is_none() {
                        return Err(SettingError::BadEventKind(k.to_string()));
                    }
                    kinds.push(k.to_string());
                }
                self.webhook_events = kinds;
            }
            other => return Err(SettingError::UnknownKey(other.to_string())),
        }
        Ok(())
    }

    /// Every setting as (key, text value), in `SETTING_KEYS` order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        SETTING_KEYS.iter().map(|k| (*k, self.get(k).unwrap_or_default())).collect()
    }

    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "daily_invite_cap" => self.daily_invite_cap.to_string(),
            "invites_per_user" => self.invites_per_user.to_string(),
            "access_code_days" => self.access_code_days.to_string(),
            "invite_reminder_days" => self.invite_reminder_days.to_string(),
            "referral_code_days" => self.referral_code_days.to_string(),
            "confirm_token_hours" => self.confirm_token_hours.to_string(),
            "redemption_hold_hours" => self.redemption_hold_hours.to_string(),
            "resend_window_minutes" => self.resend_window_minutes.to_string(),
            "auto_approve_first" => self.auto_approve_first.to_string(),
            "auto_approve_per_day" => self.auto_approve_per_day.to_string(),
            "auto_approve_domains" => self.auto_approve_domains.join(","),
            "webhook_events" => self.webhook_events.join(","),
            _ => return None,
        })
    }

    pub fn access_code_ttl(&self) -> Duration {
        Duration::days(self.access_code_days.into())
    }
    /// How long before an unused access code expires its reminder goes
    /// out; `None` when reminders are off.
    pub fn invite_reminder_lead(&self) -> Option<Duration> {
        (self.invite_reminder_days > 0).then(|| Duration::days(self.invite_reminder_days.into()))
    }
    pub fn referral_code_ttl(&self) -> Duration {
        Duration::days(self.referral_code_days.into())
    }
    pub fn confirm_token_ttl(&self) -> Duration {
        Duration::hours(self.confirm_token_hours.into())
    }
    pub fn redemption_hold(&self) -> Duration {
        Duration::hours(self.redemption_hold_hours.into())
    }
    pub fn webhook_wants(&self, kind: super::event::EventKind) -> bool {
        self.webhook_events.iter().any(|k| k == kind.as_str())
    }

    pub fn resend_window(&self) -> Duration {
        Duration::minutes(self.resend_window_minutes.into())
    }

    /// Whether a newly confirmed entry is approved without a person.
    /// `confirmed_ever` counts confirmations before this one, `auto_today`
    /// the auto-approvals already made today.
    pub fn auto_approves(&self, domain: &str, confirmed_ever: u64, auto_today: u64) -> Option<&'static str> {
        if self.auto_approve_domains.iter().any(|d| d == domain) {
            return Some("verified domain");
        }
        if confirmed_ever < u64::from(self.auto_approve_first) {
            return Some("first confirmed");
        }
        if auto_today < u64::from(self.auto_approve_per_day) {
            return Some("daily allowance");
        }
        None
    }
}

/// Start of the UTC day holding `now`: the daily cap resets here.
pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// How many more invites may go out today.
pub fn remaining_today(cap: u32, sent_today: u64) -> u64 {
    u64::from(cap).saturating_sub(sent_today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn settings_parse_with_bounds_and_names() {
        let mut s = Settings::default();
        s.set("daily_invite_cap", "80").unwrap();
        assert_eq!(s.daily_invite_cap, 80);
        assert!(matches!(s.set("daily_invite_cap", "-1"), Err(SettingError::OutOfRange { .. })));
        assert!(matches!(s.set("daily_cap", "1"), Err(SettingError::UnknownKey(_))));
        s.set("auto_approve_domains", "Example.com, acme.io").unwrap();
        assert_eq!(s.get("auto_approve_domains").unwrap(), "example.com,acme.io");
        assert!(s.set("auto_approve_domains", "not a domain").is_err());
        assert_eq!(s.pairs().len(), SETTING_KEYS.len());
        for (k, v) in Settings::default().pairs() {
            let mut t = Settings::default();
            t.set(k, &v).unwrap();
            assert_eq!(t, Settings::default(), "{k}");
        }
    }

    #[test]
    fn pacing_arithmetic() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 17, 3, 9).unwrap();
        assert_eq!(day_start(now), Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap());
        assert_eq!(remaining_today(50, 12), 38);
        assert_eq!(remaining_today(50, 70), 0);
        let mut s = Settings::default();
        assert_eq!(s.auto_approves("example.com", 0, 0), None);
        s.auto_approve_first = 2;
        assert_eq!(s.auto_approves("example.com", 1, 0), Some("first confirmed"));
        assert_eq!(s.auto_approves("example.com", 2, 0), None);
    }
}
