//! The alert rules (`[alerts]` in velvet.toml) and their arithmetic: which
//! rules fire on a set of figures, each with the figures that decided it.
//! Pure: the store counts, the service's clock says when, the server's
//! evaluator records and pages what this returns.

use chrono::Duration;

/// Thresholds of the built-in rules, and how often an active alert is
/// paged again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertRules {
    /// Signups in the last minute above this many times the trailing average...
    pub signup_spike_factor: f64,
    /// ... and at least this many.
    pub signup_spike_min: u64,
    /// Bad codes in the last complete minute.
    pub redeem_failures_per_min: u64,
    /// Failed or refused attempts from one address prefix, current and last minute.
    pub prefix_attempts_per_min: u64,
    /// Joined / code attempts over 10 minutes below this share...
    pub min_join_share: f64,
    /// ... with at least this many attempts.
    pub min_join_attempts: u64,
    /// Deliveries (mail, webhook, alert page) that gave up in the last
    /// hour; 0 turns the rule off. (An hour, not ever: one address that
    /// bounces for good must not page on-call every 30 minutes forever.)
    pub failed_deliveries: u64,
    /// The oldest queued message waiting longer than this.
    pub outbox_backlog: Duration,
    /// Requests refused with 429 in the last complete minute (a storm).
    pub limited_per_min: u64,
    /// A reminder is paged while an alert stays active, this often.
    pub repeat_every: Duration,
    /// An alert stays raised at least this long after its last record, so
    /// a figure hovering at its threshold pages once, not every few seconds.
    pub resolve_after: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            signup_spike_factor: 5.0,
            signup_spike_min: 20,
            redeem_failures_per_min: 30,
            prefix_attempts_per_min: 60,
            min_join_share: 0.2,
            min_join_attempts: 20,
            failed_deliveries: 1,
            outbox_backlog: Duration::minutes(10),
            limited_per_min: 600,
            repeat_every: Duration::minutes(30),
            resolve_after: Duration::minutes(2),
        }
    }
}

/// The figures the rules read, as the store counted them at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signals {
    /// Signups in the last complete minute.
    pub signups: u64,
    /// Average signups per minute over the 58 minutes before it.
    pub signup_baseline: f64,
    pub confirms: u64,
    pub joins: u64,
    /// Bad codes in the last complete minute.
    pub bad_codes: u64,
    /// Requests refused (429) in the last complete minute.
    pub limited: u64,
    /// The prefix with the most failed or refused attempts in the current
    /// and the last minute, and how many.
    pub busiest_prefix: Option<(String, u64)>,
    /// Code attempts and joins over the last 10 minutes.
    pub code_attempts_10m: u64,
    pub joins_10m: u64,
    /// Deliveries that gave up and were not replaced (what `velvet mail
    /// failed` lists)...
    pub failed_deliveries: u64,
    /// ... and those of them that gave up in the last hour.
    pub failed_last_hour: u64,
    pub outbox_depth: u64,
    /// Age of the oldest message still queued.
    pub outbox_oldest: Option<Duration>,
}

/// One rule firing: what and how much, in words for a lock screen, and the
/// first thing to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    pub rule: &'static str,
    pub text: String,
    pub command: &'static str,
}

/// Every rule's name, in the order they are evaluated and shown.
pub const RULES: &[&str] =
    &["signup_spike", "bad_codes", "hot_prefix", "dropoff", "failed_deliveries", "outbox_backlog", "rate_limit_storm"];

/// The first thing on-call runs for a rule.
pub fn first_command(rule: &str) -> &'static str {
    match rule {
        "signup_spike" => "velvet console (Live pane: top prefixes); velvet pause signups while you look",
        "bad_codes" | "dropoff" => "velvet console, then p y to pause redemption; :revoke batch N for a leaked batch",
        "hot_prefix" => "velvet console (Live pane: top prefixes; Events view: / and the prefix)",
        "failed_deliveries" => "velvet mail failed; then velvet mail retry --all",
        "outbox_backlog" => "velvet mail failed; check [serve] mail and that velvet serve runs",
        "rate_limit_storm" => "velvet console (Live pane: 429s and top prefixes; Events view: / rate_limited)",
        _ => "velvet console (Events view: / alert)",
    }
}

fn firing(rule: &'static str, text: String) -> Firing {
    Firing { rule, text, command: first_command(rule) }
}

fn deliveries(n: u64) -> String {
    if n == 1 { "1 delivery".into() } else { format!("{n} deliveries") }
}

/// "12m", "45s": whole minutes once there is one.
fn minutes(d: Duration) -> String {
    if d >= Duration::minutes(1) { format!("{}m", d.num_minutes()) } else { format!("{}s", d.num_seconds()) }
}

impl AlertRules {
    /// The rules the figures break.
    pub fn evaluate(&self, s: &Signals) -> Vec<Firing> {
        let mut out = Vec::new();
        if s.signups >= self.signup_spike_min
            && s.signups as f64 > self.signup_spike_factor * s.signup_baseline.max(1.0)
        {
            out.push(firing(
                "signup_spike",
                format!(
                    "signups {}/min vs {:.1}/min usual (threshold {}x and at least {})",
                    s.signups, s.signup_baseline, self.signup_spike_factor, self.signup_spike_min
                ),
            ));
        }
        if s.bad_codes >= self.redeem_failures_per_min {
            out.push(firing(
                "bad_codes",
                format!("{} bad codes in the last minute (threshold {})", s.bad_codes, self.redeem_failures_per_min),
            ));
        }
        if let Some((p, n)) = &s.busiest_prefix
            && *n >= self.prefix_attempts_per_min
        {
            out.push(firing(
                "hot_prefix",
                format!("{n} failed or refused attempts from {p} (threshold {})", self.prefix_attempts_per_min),
            ));
        }
        if s.code_attempts_10m >= self.min_join_attempts.max(1)
            && (s.joins_10m as f64) < self.min_join_share * s.code_attempts_10m as f64
        {
            out.push(firing(
                "dropoff",
                format!(
                    "only {} of {} code attempts joined in 10 min (threshold {:.0}%)",
                    s.joins_10m,
                    s.code_attempts_10m,
                    self.min_join_share * 100.0
                ),
            ));
        }
        if self.failed_deliveries > 0 && s.failed_last_hour >= self.failed_deliveries {
            out.push(firing(
                "failed_deliveries",
                format!(
                    "{} gave up in the last hour ({} failed in all; threshold {})",
                    deliveries(s.failed_last_hour),
                    s.failed_deliveries,
                    self.failed_deliveries
                ),
            ));
        }
        if let Some(age) = s.outbox_oldest
            && age >= self.outbox_backlog
        {
            out.push(firing(
                "outbox_backlog",
                format!(
                    "the oldest of {} queued messages has waited {} (threshold {})",
                    s.outbox_depth,
                    minutes(age),
                    minutes(self.outbox_backlog)
                ),
            ));
        }
        if self.limited_per_min > 0 && s.limited >= self.limited_per_min {
            out.push(firing(
                "rate_limit_storm",
                format!("{} requests refused (429) in the last minute (threshold {})", s.limited, self.limited_per_min),
            ));
        }
        out
    }
}

/// One minute's count of one kind of event (minutes since the epoch).
pub struct Counted<'a> {
    pub minute: i64,
    pub kind: &'a str,
    pub outcome: Option<&'a str>,
    pub n: u64,
}

impl Signals {
    /// A rule's figure now, in words (what a resolution reports).
    pub fn figure(&self, rule: &str) -> String {
        match rule {
            "signup_spike" => format!("signups {}/min vs {:.1}/min usual", self.signups, self.signup_baseline),
            "bad_codes" => format!("{} bad codes in the last minute", self.bad_codes),
            "hot_prefix" => match &self.busiest_prefix {
                Some((p, n)) => format!("busiest prefix {p} at {n} attempts"),
                None => "no failed or refused attempts".into(),
            },
            "dropoff" => format!("{} of {} code attempts joined in 10 min", self.joins_10m, self.code_attempts_10m),
            "failed_deliveries" => format!(
                "{} gave up in the last hour ({} failed in all)",
                deliveries(self.failed_last_hour),
                self.failed_deliveries
            ),
            "outbox_backlog" => match self.outbox_oldest {
                Some(age) => format!("{} queued, the oldest for {}", self.outbox_depth, minutes(age)),
                None => "outbox empty".into(),
            },
            "rate_limit_storm" => format!("{} requests refused (429) in the last minute", self.limited),
            _ => "rule no longer evaluated".into(),
        }
    }

    /// The event figures from per-minute counts and offenders, as seen at
    /// `now_minute` (minutes since the epoch; the current, incomplete one).
    pub fn from_counts<'a>(
        now_minute: i64,
        counts: impl IntoIterator<Item = Counted<'a>>,
        offenders: impl IntoIterator<Item = (i64, &'a str, u64)>,
    ) -> Signals {
        let mut s = Signals::default();
        let mut baseline = 0u64;
        for c in counts {
            let age = now_minute - c.minute;
            let last = age == 1;
            match (c.kind, c.outcome) {
                ("signup", Some("ok")) if last => s.signups += c.n,
                ("signup", Some("ok")) if (2..60).contains(&age) => baseline += c.n,
                ("confirm", Some("ok")) if last => s.confirms += c.n,
                ("joined", _) if last => s.joins += c.n,
                ("redeem", Some("failed")) if last => s.bad_codes += c.n,
                ("rate_limited", Some("summary")) if last => s.limited += c.n,
                _ => {}
            }
            if (0..10).contains(&age) {
                if matches!(c.kind, "redeem" | "joined" | "redeem_held") {
                    s.code_attempts_10m += c.n;
                }
                if c.kind == "joined" {
                    s.joins_10m += c.n;
                }
            }
        }
        s.signup_baseline = baseline as f64 / 58.0;
        let mut by_prefix: std::collections::BTreeMap<&str, u64> = Default::default();
        for (minute, prefix, n) in offenders {
            if (0..2).contains(&(now_minute - minute)) {
                *by_prefix.entry(prefix).or_default() += n;
            }
        }
        s.busiest_prefix =
            by_prefix.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(p, n)| (p.to_string(), n));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(s: &Signals) -> Vec<&'static str> {
        AlertRules::default().evaluate(s).iter().map(|f| f.rule).collect()
    }

    #[test]
    fn quiet_figures_raise_nothing() {
        let s = Signals {
            signups: 10,
            signup_baseline: 8.0,
            bad_codes: 3,
            busiest_prefix: Some(("203.0.113.0/24".into(), 5)),
            code_attempts_10m: 30,
            joins_10m: 25,
            outbox_oldest: Some(Duration::seconds(20)),
            limited: 10,
            ..Default::default()
        };
        assert!(rules_of(&s).is_empty(), "{:?}", rules_of(&s));
        assert!(rules_of(&Signals::default()).is_empty());
    }

    #[test]
    fn each_rule_fires_on_its_own_figure_with_the_figures_in_words() {
        let cases: Vec<(Signals, &str, &str)> = vec![
            (Signals { signups: 40, signup_baseline: 2.0, ..Default::default() }, "signup_spike", "40/min"),
            (Signals { bad_codes: 31, ..Default::default() }, "bad_codes", "31 bad codes"),
            (
                Signals { busiest_prefix: Some(("198.51.100.0/24".into(), 70)), ..Default::default() },
                "hot_prefix",
                "198.51.100.0/24",
            ),
            (Signals { code_attempts_10m: 50, joins_10m: 2, ..Default::default() }, "dropoff", "2 of 50"),
            (
                Signals { failed_deliveries: 5, failed_last_hour: 3, ..Default::default() },
                "failed_deliveries",
                "3 deliveries gave up in the last hour (5 failed in all",
            ),
            (
                Signals { outbox_depth: 9, outbox_oldest: Some(Duration::minutes(12)), ..Default::default() },
                "outbox_backlog",
                "9 queued",
            ),
            (Signals { limited: 900, ..Default::default() }, "rate_limit_storm", "900 requests"),
        ];
        for (s, rule, words) in cases {
            let fired = AlertRules::default().evaluate(&s);
            assert_eq!(fired.iter().map(|f| f.rule).collect::<Vec<_>>(), [rule]);
            assert!(fired[0].text.contains(words), "{rule}: {}", fired[0].text);
            assert!(fired[0].command.starts_with("velvet"), "{rule}");
        }
        // A spike needs both the factor and the floor.
        assert!(rules_of(&Signals { signups: 19, signup_baseline: 0.0, ..Default::default() }).is_empty());
        assert!(rules_of(&Signals { signups: 40, signup_baseline: 10.0, ..Default::default() }).is_empty());
        // Old failures alone (still listed by `velvet mail failed`) do not page.
        assert!(rules_of(&Signals { failed_deliveries: 4, ..Default::default() }).is_empty());
        // Too few attempts to judge a drop-off.
        assert!(rules_of(&Signals { code_attempts_10m: 19, ..Default::default() }).is_empty());
    }

    #[test]
    fn counts_become_figures_by_minute() {
        let now = 1_000;
        let c = |minute, kind, outcome, n| Counted { minute, kind, outcome, n };
        let s = Signals::from_counts(
            now,
            [
                c(now, "signup", Some("ok"), 7),      // current minute: not yet counted
                c(now - 1, "signup", Some("ok"), 40), // the last complete minute
                c(now - 30, "signup", Some("ok"), 58),
                c(now - 70, "signup", Some("ok"), 500), // outside the hour
                c(now - 1, "redeem", Some("failed"), 31),
                c(now - 3, "joined", None, 4),
                c(now - 12, "redeem", Some("failed"), 100), // outside the funnel's 10 minutes
                c(now - 1, "rate_limited", Some("summary"), 700),
            ],
            [(now, "a", 30), (now - 1, "a", 35), (now - 1, "b", 50), (now - 5, "b", 500)],
        );
        assert_eq!((s.signups, s.bad_codes, s.limited), (40, 31, 700));
        assert!((s.signup_baseline - 1.0).abs() < 1e-9);
        assert_eq!((s.code_attempts_10m, s.joins_10m), (35, 4));
        assert_eq!(s.busiest_prefix, Some(("a".into(), 65)));
        assert_eq!(rules_of(&s), ["signup_spike", "bad_codes", "hot_prefix", "dropoff", "rate_limit_storm"]);
    }
}
