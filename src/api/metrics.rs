//! Prometheus metrics: counters kept in memory per process, and the
//! figures the alert rules read (from the database: the same on every
//! server; `assets/prometheus/velvet-alerts.yml` takes their `max`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// The database's figures at one instant: what the rules read, and the
/// active alerts.
pub struct Figures {
    pub signals: crate::domain::alerts::Signals,
    pub active: Vec<crate::service::ActiveAlert>,
}

fn gauge(s: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(s, "# HELP {name} {help}");
    let _ = writeln!(s, "# TYPE {name} gauge");
    let _ = writeln!(s, "{name} {value}");
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    outcomes: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    limits: Mutex<BTreeMap<(String, &'static str), u64>>,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default() += 1;
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16) {
        bump(&self.requests, (route.to_string(), status));
    }

    /// A use-case outcome: ("redeem", "joined"), ("signup", "accepted")...
    pub fn outcome(&self, action: &'static str, outcome: &'static str) {
        bump(&self.outcomes, (action, outcome));
    }

    /// A rate-limit decision: the rule and "denied" (or "locked").
    pub fn limit(&self, rule: &str, decision: &'static str) {
        bump(&self.limits, (rule.to_string(), decision));
    }

    pub fn render(&self, figures: Option<&Figures>, limit_keys: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# HELP velvet_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(s, "# TYPE velvet_http_requests_total counter");
        for ((route, status), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(s, "velvet_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP velvet_outcomes_total Outcomes of public actions.");
        let _ = writeln!(s, "# TYPE velvet_outcomes_total counter");
        for ((action, outcome), n) in self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(s, "velvet_outcomes_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP velvet_rate_limit_decisions_total Requests refused by a rate-limit rule.");
        let _ = writeln!(s, "# TYPE velvet_rate_limit_decisions_total counter");
        for ((rule, decision), n) in self.limits.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(s, "velvet_rate_limit_decisions_total{{rule=\"{rule}\",decision=\"{decision}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP velvet_rate_limit_keys Rate-limit keys tracked in this process's memory.");
        let _ = writeln!(s, "# TYPE velvet_rate_limit_keys gauge");
        let _ = writeln!(s, "velvet_rate_limit_keys {limit_keys}");
        if let Some(f) = figures {
            render_figures(&mut s, f);
        }
        s
    }
}

/// The signals of the alert rules, named as the shipped Prometheus rules
/// and dashboard read them (a test checks every name they use is here).
fn render_figures(s: &mut String, f: &Figures) {
    let g = &f.signals;
    gauge(s, "velvet_signups_last_minute", "Signups in the last complete minute.", g.signups);
    let baseline = format!("{:.3}", g.signup_baseline);
    gauge(s, "velvet_signups_baseline_per_minute", "Average signups per minute over the 58 minutes before.", baseline);
    gauge(s, "velvet_confirms_last_minute", "Confirmations in the last complete minute.", g.confirms);
    gauge(s, "velvet_joins_last_minute", "Joins (redeemed codes) in the last complete minute.", g.joins);
    gauge(s, "velvet_bad_codes_last_minute", "Failed code redemptions in the last complete minute.", g.bad_codes);
    gauge(s, "velvet_rate_limited_last_minute", "Requests refused with 429 in the last complete minute.", g.limited);
    let busiest = g.busiest_prefix.as_ref().map(|(_, n)| *n).unwrap_or(0);
    let help = "Failed or refused attempts of the busiest address prefix, current and last minute.";
    gauge(s, "velvet_busiest_prefix_attempts", help, busiest);
    gauge(s, "velvet_code_attempts_10m", "Code redemption attempts in the last 10 minutes.", g.code_attempts_10m);
    gauge(s, "velvet_joins_10m", "Joins in the last 10 minutes.", g.joins_10m);
    gauge(s, "velvet_outbox_depth", "Messages waiting in the outbox.", g.outbox_depth);
    let age = g.outbox_oldest.map(|d| d.num_seconds()).unwrap_or(0);
    gauge(s, "velvet_outbox_oldest_age_seconds", "Age of the oldest message waiting in the outbox (0: none).", age);
    let help = "Deliveries (mail, webhooks, alert pages) that gave up and were not sent again or replaced.";
    gauge(s, "velvet_failed_deliveries", help, g.failed_deliveries);
    let help = "Deliveries that gave up in the last hour.";
    gauge(s, "velvet_failed_deliveries_last_hour", help, g.failed_last_hour);
    let _ = writeln!(s, "# HELP velvet_alerts_active Alerts raised by the server and not resolved, by rule.");
    let _ = writeln!(s, "# TYPE velvet_alerts_active gauge");
    for rule in crate::domain::alerts::RULES {
        let on = f.active.iter().any(|a| a.rule == *rule);
        let _ = writeln!(s, "velvet_alerts_active{{rule=\"{rule}\"}} {}", u8::from(on));
    }
}
