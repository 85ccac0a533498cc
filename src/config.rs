//! Configuration: defaults in code, an optional `velvet.toml`, then
//! `VELVET_*` environment variables and flags (which clap resolves).

use crate::domain::limits::{Rule, RuleError};
use serde::Deserialize;
use std::path::Path;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://velvet.db";
pub const DEFAULT_CONFIG_FILE: &str = "velvet.toml";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Used when neither `--database-url` nor `VELVET_DATABASE_URL` is given.
    pub database_url: Option<String>,
    /// Acting operator when neither `--as` nor `VELVET_OPERATOR` is given.
    pub operator: Option<String>,
    pub serve: ServeConfig,
    pub limits: LimitsConfig,
    /// `[alerts]`: the rules `velvet serve` evaluates, and where it pages.
    pub alerts: AlertsConfig,
}

/// How alert pages are posted to `[alerts] webhook_url`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"text": …}`: Slack, Mattermost, and most chat and paging bridges.
    #[default]
    Slack,
    /// velvet's JSON, signed like the join webhook (`Velvet-Signature`).
    Velvet,
}

/// `[alerts]`: thresholds of the rules (see `domain::alerts::AlertRules`)
/// and paging. Evaluated by `velvet serve`, once per deployment.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    pub signup_spike_factor: f64,
    pub signup_spike_min: u64,
    pub redeem_failures_per_min: u64,
    pub prefix_attempts_per_min: u64,
    pub min_join_share: f64,
    pub min_join_attempts: u64,
    /// Failed deliveries that raise an alert; 0 turns the rule off.
    pub failed_deliveries: u64,
    /// "10m": the oldest queued message waiting this long raises an alert.
    #[serde(deserialize_with = "up_to_a_week")]
    pub outbox_backlog: chrono::Duration,
    /// 429s per minute that make a storm; 0 turns the rule off.
    pub limited_per_min: u64,
    /// "30m": an active alert is paged again this often.
    #[serde(deserialize_with = "repeat")]
    pub repeat_every: chrono::Duration,
    /// "2m": an alert is resolved no sooner than this after its last record
    /// (a figure hovering at a threshold pages once).
    #[serde(deserialize_with = "up_to_a_week")]
    pub resolve_after: chrono::Duration,
    /// Where firings, reminders and resolutions are POSTed (none: not paged).
    pub webhook_url: Option<String>,
    pub webhook_format: WebhookFormat,
    /// Signs `velvet`-format pages; defaults to `[serve] webhook_secret`.
    pub webhook_secret: Option<Secret>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let r = crate::domain::alerts::AlertRules::default();
        AlertsConfig {
            signup_spike_factor: r.signup_spike_factor,
            signup_spike_min: r.signup_spike_min,
            redeem_failures_per_min: r.redeem_failures_per_min,
            prefix_attempts_per_min: r.prefix_attempts_per_min,
            min_join_share: r.min_join_share,
            min_join_attempts: r.min_join_attempts,
            failed_deliveries: r.failed_deliveries,
            outbox_backlog: r.outbox_backlog,
            limited_per_min: r.limited_per_min,
            repeat_every: r.repeat_every,
            resolve_after: r.resolve_after,
            webhook_url: None,
            webhook_format: WebhookFormat::Slack,
            webhook_secret: None,
        }
    }
}

impl AlertsConfig {
    /// The rules, checked: a factor or share that cannot mean anything is
    /// an error naming the key.
    pub fn rules(&self) -> Result<crate::domain::alerts::AlertRules, String> {
        if !(self.signup_spike_factor.is_finite() && self.signup_spike_factor >= 1.0) {
            return Err(format!("[alerts] signup_spike_factor = {} must be a number ≥ 1", self.signup_spike_factor));
        }
        if !(0.0..=1.0).contains(&self.min_join_share) {
            return Err(format!("[alerts] min_join_share = {} must be a share between 0 and 1", self.min_join_share));
        }
        Ok(crate::domain::alerts::AlertRules {
            signup_spike_factor: self.signup_spike_factor,
            signup_spike_min: self.signup_spike_min,
            redeem_failures_per_min: self.redeem_failures_per_min,
            prefix_attempts_per_min: self.prefix_attempts_per_min,
            min_join_share: self.min_join_share,
            min_join_attempts: self.min_join_attempts,
            failed_deliveries: self.failed_deliveries,
            outbox_backlog: self.outbox_backlog,
            limited_per_min: self.limited_per_min,
            repeat_every: self.repeat_every,
            resolve_after: self.resolve_after,
        })
    }
}

/// `[serve]`: the HTTP API, mail and webhooks.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: String,
    /// The admin API's own listener (then the public one serves no admin
    /// route and no `/metrics`): loopback, a VPN, or behind a TLS proxy.
    pub admin_listen: Option<String>,
    /// With no `admin_listen`, serve the admin API beside the public routes
    /// anyway (off by default: a public listener faces the internet).
    pub admin_on_public: bool,
    /// Base of the links in mails; defaults to http://LISTEN.
    pub public_url: Option<String>,
    /// `log`, `file:DIR` or `smtp://[user:pass@]host[:port][?tls=starttls|required|tls|opportunistic|none]`:
    /// TLS is required (STARTTLS) unless the host is loopback (`opportunistic`).
    pub mail: String,
    pub mail_from: String,
    /// Origins allowed to call the API from a browser (CORS).
    pub cors_origins: Vec<String>,
    /// Proxies (CIDRs) whose X-Forwarded-For and country header are trusted.
    pub trusted_proxies: Vec<String>,
    pub country_header: String,
    /// Where `joined` (and other listed) events are POSTed, signed.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Secret>,
    /// Keys rate-limit and device hashes; never stored in the database (also
    /// `VELVET_SECRET`). Unset on SQLite: a key file beside the database.
    /// Required on PostgreSQL, the same on every server.
    pub secret: Option<Secret>,
    /// The waitlist and redeem answers are held until at least this long
    /// after the request arrived, so new, already-listed, joined and
    /// blocked emails take the same time (their work differs by a fraction
    /// of a millisecond). 0 turns it off. (`waitlist_answer_ms` is its
    /// older name.)
    #[serde(alias = "waitlist_answer_ms")]
    pub public_answer_ms: u64,
    /// Serve `/metrics` on the public listener (`false`: 404 there).
    pub metrics: bool,
    /// The header a trusted proxy names the client in: `X-Forwarded-For`,
    /// or `Forwarded` (RFC 7239). Only the one your proxy writes: a client
    /// can send the other itself.
    pub forwarded_header: String,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8080".into(),
            admin_listen: None,
            admin_on_public: false,
            public_url: None,
            mail: "log".into(),
            mail_from: "velvet <beta@localhost>".into(),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            country_header: "CF-IPCountry".into(),
            webhook_url: None,
            webhook_secret: None,
            secret: None,
            public_answer_ms: 10,
            metrics: true,
            forwarded_header: "X-Forwarded-For".into(),
        }
    }
}

/// A secret from the configuration: its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

/// A rule in the config file: "10/10m" or "off".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct RuleText(pub Option<Rule>);

impl TryFrom<String> for RuleText {
    type Error = RuleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Rule::parse(&s).map(RuleText)
    }
}

/// Limits for one action, by signal. A signal left out of the file keeps
/// its default; "off" turns it off.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionLimits {
    pub ip: Option<RuleText>,
    pub email: Option<RuleText>,
    pub device: Option<RuleText>,
}

/// The rules in force for one action: (ip, email, device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionRules {
    pub ip: Option<Rule>,
    pub email: Option<Rule>,
    pub device: Option<Rule>,
}

impl ActionLimits {
    /// Every signal off.
    pub const OFF: ActionLimits =
        ActionLimits { ip: Some(RuleText(None)), email: Some(RuleText(None)), device: Some(RuleText(None)) };

    fn over(self, defaults: ActionRules) -> ActionRules {
        ActionRules {
            ip: self.ip.map_or(defaults.ip, |r| r.0),
            email: self.email.map_or(defaults.email, |r| r.0),
            device: self.device.map_or(defaults.device, |r| r.0),
        }
    }
}

/// `[limits]`: per action and signal. Defaults (see README for why):
/// signup 10/10m per address, 5/1h per email, 10/10m per device;
/// confirm 30/10m per address and device; redeem 20/1m per address and
/// device, 10/10m per email; resend (confirmation mails) 3/1h per email;
/// cooldown: 10 bad codes in 1m from one address+device lock it out 15m;
/// admin_auth: 20 refused tokens in 1m from one address lock it out 15m.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub signup: ActionLimits,
    pub confirm: ActionLimits,
    pub redeem: ActionLimits,
    pub resend: ActionLimits,
    pub cooldown: Cooldown,
    /// `[limits.admin_auth]`: token guessing on the admin listener.
    pub admin_auth: AuthLockout,
}

const fn every(limit: u32, secs: i64) -> Option<Rule> {
    Some(Rule::new(limit, secs))
}

impl LimitsConfig {
    pub fn signup(&self) -> ActionRules {
        self.signup.over(ActionRules { ip: every(10, 600), email: every(5, 3600), device: every(10, 600) })
    }
    pub fn confirm(&self) -> ActionRules {
        self.confirm.over(ActionRules { ip: every(30, 600), email: None, device: every(30, 600) })
    }
    pub fn redeem(&self) -> ActionRules {
        self.redeem.over(ActionRules { ip: every(20, 60), email: every(10, 600), device: every(20, 60) })
    }
    pub fn resend(&self) -> ActionRules {
        self.resend.over(ActionRules { ip: None, email: every(3, 3600), device: None })
    }
}

/// Repeated bad codes from one IP + device lock them out for a while.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cooldown {
    /// 0 turns the cooldown off.
    pub failures: u32,
    /// 1s to 7d.
    #[serde(deserialize_with = "up_to_a_week")]
    pub window: chrono::Duration,
    /// 1s to 30d.
    #[serde(deserialize_with = "lockout")]
    pub duration: chrono::Duration,
}

/// A duration in velvet's one grammar, within `min..=max`.
fn duration_within<'de, D: serde::Deserializer<'de>>(
    d: D,
    min: chrono::Duration,
    max: chrono::Duration,
) -> Result<chrono::Duration, D::Error> {
    let s = String::deserialize(d)?;
    crate::domain::duration::parse_within(&s, min, max).map_err(serde::de::Error::custom)
}

/// 1s to 7d (the cooldown window, the outbox backlog and the resolve delay).
fn up_to_a_week<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::Duration, D::Error> {
    duration_within(d, chrono::Duration::seconds(1), chrono::Duration::days(7))
}

fn repeat<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::Duration, D::Error> {
    duration_within(d, chrono::Duration::minutes(1), chrono::Duration::days(7))
}

fn lockout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::Duration, D::Error> {
    duration_within(d, chrono::Duration::seconds(1), chrono::Duration::days(30))
}

impl Default for Cooldown {
    fn default() -> Self {
        Cooldown { failures: 10, window: chrono::Duration::minutes(1), duration: chrono::Duration::minutes(15) }
    }
}

/// Repeated refused tokens (missing, wrong, expired, revoked) from one
/// address on the admin listener lock it out for a while. The same shape
/// as [`Cooldown`], with its own defaults.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthLockout {
    /// 0 turns the lockout off.
    pub failures: u32,
    /// 1s to 7d.
    #[serde(deserialize_with = "up_to_a_week")]
    pub window: chrono::Duration,
    /// 1s to 30d.
    #[serde(deserialize_with = "lockout")]
    pub duration: chrono::Duration,
}

impl Default for AuthLockout {
    fn default() -> Self {
        AuthLockout { failures: 20, window: chrono::Duration::minutes(1), duration: chrono::Duration::minutes(15) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not valid velvet configuration: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    /// Loads `path`. A missing default file is fine; a missing file the
    /// user named explicitly is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path: shown, source }),
        };
        Config::parse(&text).map_err(|message| ConfigError::Parse { path: shown, message })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_keys_and_names_unknown_ones() {
        let c = Config::parse("database_url = \"postgres://x@h/db\"\noperator = \"ada\"\n").unwrap();
        assert_eq!(c.database_url.as_deref(), Some("postgres://x@h/db"));
        let err = Config::parse("databse_url = \"x\"").unwrap_err();
        assert!(err.contains("databse_url"), "{err}");
        assert!(Config::load(Path::new("/nonexistent/velvet.toml"), false).is_ok());
        assert!(Config::load(Path::new("/nonexistent/velvet.toml"), true).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// Any text as velvet.toml: a configuration or a message, never a panic.
        #[test]
        fn arbitrary_config_text_never_panics(text in "\\PC{0,200}") {
            let _ = Config::parse(&text);
        }

        #[test]
        fn arbitrary_rules_never_panic(rule in "[0-9a-z/ ]{0,12}") {
            let _ = Config::parse(&format!("[limits.signup]\nip = \"{rule}\"\n"));
        }

        /// Every config value that takes a duration or a count, fed any
        /// text: a configuration within range or a message, never a panic.
        #[test]
        fn every_duration_and_count_value_is_in_range_or_an_error(text in "[0-9]{0,22}[a-zA-Z/ .-]{0,4}[0-9]{0,22}[a-zA-Z]{0,3}|\\PC{0,16}") {
            let quoted = text.replace(['\\', '"'], "");
            for action in ["signup", "confirm", "redeem", "resend"] {
                for signal in ["ip", "email", "device"] {
                    if let Ok(c) = Config::parse(&format!("[limits.{action}]\n{signal} = \"{quoted}\"\n")) {
                        for r in [c.limits.signup(), c.limits.confirm(), c.limits.redeem(), c.limits.resend()] {
                            for rule in [r.ip, r.email, r.device].into_iter().flatten() {
                                proptest::prop_assert!(rule.limit >= 1 && rule.period >= chrono::Duration::seconds(1) && rule.period <= chrono::Duration::days(7));
                                let _ = rule.window_start(chrono::Utc::now()) + rule.period;
                            }
                        }
                    }
                }
            }
            for key in ["repeat_every", "resolve_after", "outbox_backlog"] {
                if let Ok(c) = Config::parse(&format!("[alerts]\n{key} = \"{quoted}\"\n")) {
                    let a = c.alerts;
                    proptest::prop_assert!(a.repeat_every <= chrono::Duration::days(7) && a.resolve_after <= chrono::Duration::days(7));
                    let _ = chrono::Utc::now() + a.repeat_every + a.resolve_after + a.outbox_backlog;
                }
            }
            for key in ["window", "duration"] {
                if let Ok(c) = Config::parse(&format!("[limits.cooldown]\n{key} = \"{quoted}\"\n")) {
                    let cd = c.limits.cooldown;
                    proptest::prop_assert!(cd.window <= chrono::Duration::days(7) && cd.duration <= chrono::Duration::days(30));
                    let _ = chrono::Utc::now() + cd.window + cd.duration;
                }
                if let Ok(c) = Config::parse(&format!("[limits.admin_auth]\n{key} = \"{quoted}\"\n")) {
                    let a = c.limits.admin_auth;
                    proptest::prop_assert!(a.window <= chrono::Duration::days(7) && a.duration <= chrono::Duration::days(30));
                    let _ = chrono::Utc::now() + a.window + a.duration;
                }
            }
            // Counts are TOML integers: any digits, bare.
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                for (section, key) in [
                    ("limits.cooldown", "failures"),
                    ("limits.admin_auth", "failures"),
                    ("serve", "waitlist_answer_ms"),
                    ("alerts", "signup_spike_min"),
                    ("alerts", "redeem_failures_per_min"),
                    ("alerts", "prefix_attempts_per_min"),
                    ("alerts", "min_join_attempts"),
                    ("alerts", "failed_deliveries"),
                    ("alerts", "limited_per_min"),
                ] {
                    let _ = Config::parse(&format!("[{section}]\n{key} = {digits}\n"));
                }
            }
        }
    }

    #[test]
    fn limits_have_defaults_and_can_be_tuned_or_turned_off() {
        let c = Config::parse(
            "[limits.signup]\nip = \"3/1m\"\nemail = \"off\"\n[limits.cooldown]\nfailures = 5\nduration = \"1h\"\n",
        )
        .unwrap();
        assert_eq!(c.limits.signup().ip, Some(Rule::new(3, 60)));
        assert_eq!(c.limits.signup().email, None, "off");
        assert_eq!(c.limits.signup().device, Some(Rule::new(10, 600)), "a signal left out keeps its default");
        assert_eq!(c.limits.redeem().ip, Some(Rule::new(20, 60)), "untouched sections keep defaults");
        assert_eq!(c.limits.cooldown.failures, 5);
        assert_eq!(c.limits.cooldown.window, chrono::Duration::minutes(1));
        let err = Config::parse("[limits.signup]\nip = \"lots\"\n").unwrap_err();
        assert!(err.contains("not a rate like 10/10m"), "{err}");
        // The panics of issue 10: durations past what a date can hold.
        let err = Config::parse("[limits.signup]\nip = \"10/99999999999999d\"\n").unwrap_err();
        assert!(err.contains("out of range: use 1s to 7d"), "{err}");
        let err = Config::parse("[limits.cooldown]\nduration = \"200000000000d\"\n").unwrap_err();
        assert!(err.contains("out of range: use 1s to 30d"), "{err}");
        let err = Config::parse("[limits.cooldown]\nwindow = \"5\"\n").unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
        let d = Config::default();
        assert_eq!(d.serve.listen, "127.0.0.1:8080");
        let c = Config::parse("[serve]\nsecret = \"s3cret-s3cret-s3cret\"\nwaitlist_answer_ms = 5\nmetrics = false\n")
            .unwrap();
        assert_eq!(c.serve.secret.as_ref().map(Secret::expose), Some("s3cret-s3cret-s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"), "Debug hides the secret");
        assert_eq!((c.serve.public_answer_ms, c.serve.metrics), (5, false), "the older name still works");
        assert_eq!(d.limits.signup().ip.unwrap().to_string(), "10/10m");
        let a = d.limits.admin_auth;
        assert_eq!(
            (a.failures, a.window, a.duration),
            (20, chrono::Duration::minutes(1), chrono::Duration::minutes(15))
        );
        let c = Config::parse("[limits.admin_auth]\nduration = \"1h\"\n").unwrap();
        assert_eq!(c.limits.admin_auth.failures, 20, "a key left out keeps the admin lockout's own default");
        assert_eq!(c.limits.admin_auth.duration, chrono::Duration::hours(1));
        assert_eq!(c.limits.cooldown.failures, 10, "the bad-code cooldown is another section");
        let err = Config::parse("[limits.admin_auth]\nfailure = 5\n").unwrap_err();
        assert!(err.contains("failure"), "{err}");
    }

    #[test]
    fn alerts_have_defaults_and_bad_values_are_clear_errors() {
        let d = Config::default();
        assert_eq!(d.alerts.rules().unwrap(), crate::domain::alerts::AlertRules::default());
        assert_eq!(d.alerts.repeat_every, chrono::Duration::minutes(30));
        let c = Config::parse(
            "[alerts]\nwebhook_url = \"http://127.0.0.1:9/hook\"\nwebhook_format = \"velvet\"\nwebhook_secret = \"pssst-pssst\"\nrepeat_every = \"5m\"\noutbox_backlog = \"90s\"\n",
        )
        .unwrap();
        assert_eq!(c.alerts.webhook_format, WebhookFormat::Velvet);
        assert_eq!(c.alerts.rules().unwrap().repeat_every, chrono::Duration::minutes(5));
        assert_eq!(c.alerts.outbox_backlog, chrono::Duration::seconds(90));
        assert_eq!(c.alerts.resolve_after, chrono::Duration::minutes(2), "a key left out keeps its default");
        assert!(!format!("{c:?}").contains("pssst"), "Debug hides the secret");
        let err = Config::parse("[alerts]\nwebhook_format = \"pager\"\n").unwrap_err();
        assert!(err.contains("pager") && err.contains("slack"), "{err}");
        let err = Config::parse("[alerts]\nrepeat_every = \"5\"\n").unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
        let err = Config::parse("[alerts]\nmin_join_share = 3.0\n").unwrap().alerts.rules().unwrap_err();
        assert!(err.contains("min_join_share"), "{err}");
        let err = Config::parse("[alerts]\nsignup_spike_factor = nan\n").unwrap().alerts.rules().unwrap_err();
        assert!(err.contains("signup_spike_factor"), "{err}");
    }
}
