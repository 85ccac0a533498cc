//! Prometheus counters, kept in memory per process.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

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

    pub fn render(&self, outbox_depth: Option<i64>, limit_keys: usize) -> String {
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
        if let Some(depth) = outbox_depth {
            let _ = writeln!(s, "# HELP velvet_outbox_depth Messages waiting in the outbox.");
            let _ = writeln!(s, "# TYPE velvet_outbox_depth gauge");
            let _ = writeln!(s, "velvet_outbox_depth {depth}");
        }
        s
    }
}
