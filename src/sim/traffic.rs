//! `velvet simulate`: believable traffic against a running `serve`, over
//! real HTTP — steady humans, a bot wave, a leaked code, a viral post. It
//! is also the load generator. Simulated client addresses travel in
//! `X-Forwarded-For`, which the server believes only from its trusted
//! proxies (the demo trusts loopback); otherwise all traffic counts as one
//! address, as it should.

use super::rng::Rng;
use crate::domain::InviteCode;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// People sign up, confirm and redeem their invites.
    Steady,
    /// Thousands of signups and code guesses from a few prefixes and devices.
    BotWave,
    /// One multi-use code shared to a big chat: many people redeem it.
    Leak,
    /// A viral post: many real people sign up at once.
    Viral,
}

#[derive(Clone, Debug)]
pub struct SimOptions {
    pub scenario: Scenario,
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    pub target: String,
    /// Requests per second.
    pub rate: f64,
    pub duration: Duration,
    /// The leaked code (scenario leak).
    pub code: Option<String>,
    /// Where `serve --mail file:DIR` writes: links and codes are followed.
    pub mail_dir: Option<PathBuf>,
    pub seed: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub sent: u64,
    pub accepted: u64,
    pub refused: u64,
    pub limited: u64,
    pub errors: u64,
    pub latencies: Vec<Duration>,
}

/// Per action: what happened.
#[derive(Clone, Debug, Default)]
pub struct Summary(pub BTreeMap<&'static str, Stats>);

impl Summary {
    fn record(&mut self, action: &'static str, status: Option<u16>, took: Duration) {
        let s = self.0.entry(action).or_default();
        s.sent += 1;
        s.latencies.push(took);
        match status {
            Some(200..=299) => s.accepted += 1,
            Some(429) => s.limited += 1,
            Some(400..=499) => s.refused += 1,
            _ => s.errors += 1,
        }
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<10} {:>8} {:>9} {:>8} {:>8} {:>7} {:>9} {:>9}\n",
            "action", "sent", "accepted", "refused", "429", "errors", "p50", "p99"
        );
        for (action, s) in &self.0 {
            let mut l = s.latencies.clone();
            l.sort();
            let p = |q: f64| {
                l.get(((l.len().max(1) - 1) as f64 * q) as usize)
                    .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
                    .unwrap_or_else(|| "-".into())
            };
            out.push_str(&format!(
                "{action:<10} {:>8} {:>9} {:>8} {:>8} {:>7} {:>9} {:>9}\n",
                s.sent,
                s.accepted,
                s.refused,
                s.limited,
                s.errors,
                p(0.5),
                p(0.99)
            ));
        }
        out
    }
}

/// Only loopback targets unless the operator says the host is theirs.
pub fn check_target(url: &str, allow_remote: bool) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("--target '{url}' must be an http:// or https:// URL"))?;
    let hostport = rest.split('/').next().unwrap_or("");
    let host = if hostport.starts_with('[') {
        hostport.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "--target {host} is not loopback: simulate only drives your own servers; add --allow-remote if {host} is yours"
        ))
    }
}

/// What the mail folder told us: links to click and invites to redeem.
#[derive(Default)]
struct Inbox {
    seen: HashSet<PathBuf>,
    links: VecDeque<String>,
    invites: VecDeque<(String, String)>,
}

impl Inbox {
    fn scan(&mut self, dir: &PathBuf) {
        let Ok(read) = std::fs::read_dir(dir) else { return };
        for f in read.flatten() {
            let path = f.path();
            if path.extension().is_none_or(|e| e != "eml") || !self.seen.insert(path.clone()) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let to = text.lines().find_map(|l| l.strip_prefix("To: ")).map(|s| s.trim().to_string());
            if let Some(link) = text.split_whitespace().find(|w| w.contains("/v1/confirm/")) {
                self.links.push_back(link.to_string());
            }
            let invite = path.to_string_lossy().ends_with("-invite.eml");
            if let (true, Some(to), Some(code)) =
                (invite, to, text.lines().find_map(|l| l.trim_end().strip_prefix("Invite code: ")))
            {
                self.invites.push_back((to, code.to_string()));
            }
        }
    }
}

const FIRST: &[&str] = &[
    "mia", "noah", "emma", "liam", "olivia", "lucas", "amelia", "mateo", "ava", "elijah", "sofia", "leo", "chloe",
    "omar", "yuki", "priya",
];
const DOMAINS: &[&str] = &["example.com", "mail.example.org", "inbox.example.net", "post.example.de"];
const BOT_PREFIXES: &[[u8; 3]] = &[[203, 0, 113], [198, 51, 100], [192, 0, 2]];

fn human_ip(r: &mut Rng) -> String {
    format!("{}.{}.{}.{}", 11 + r.below(180), r.below(256), r.below(256), 1 + r.below(254))
}

fn bot_ip(r: &mut Rng) -> String {
    let p = r.pick(BOT_PREFIXES);
    format!("{}.{}.{}.{}", p[0], p[1], p[2], 1 + r.below(254))
}

fn person(r: &mut Rng) -> String {
    format!("{}.{}{}@{}", r.pick(FIRST), r.pick(FIRST), r.below(1_000_000), r.pick(DOMAINS))
}

/// One request to make.
struct Shot {
    action: &'static str,
    path: String,
    /// Every shot is a JSON POST.
    body: String,
    ip: String,
    device: String,
}

fn next_shot(scenario: Scenario, r: &mut Rng, inbox: &Mutex<Inbox>, code: Option<&str>) -> Shot {
    let device = |r: &mut Rng| format!("dev-{:012x}", r.next_u64() & 0xffff_ffff_ffff);
    match scenario {
        Scenario::Steady | Scenario::Viral => {
            let mut inbox = inbox.lock().unwrap_or_else(|e| e.into_inner());
            let roll = r.unit();
            if roll < 0.3
                && let Some(link) = inbox.links.pop_front()
            {
                let path = link.split_once("/v1/").map(|(_, p)| format!("/v1/{p}")).unwrap_or(link);
                // The page's button: a GET would only show the page.
                return Shot { action: "confirm", path, body: "{}".into(), ip: human_ip(r), device: device(r) };
            }
            if roll < 0.45
                && let Some((email, code)) = inbox.invites.pop_front()
            {
                let body = serde_json::json!({ "code": code, "email": email }).to_string();
                return Shot { action: "redeem", path: "/v1/redeem".into(), body, ip: human_ip(r), device: device(r) };
            }
            let source = if scenario == Scenario::Viral {
                "viral-post"
            } else {
                *r.pick(&["hn", "twitter", "newsletter", "friend"])
            };
            let body = serde_json::json!({ "email": person(r), "source": source }).to_string();
            Shot { action: "signup", path: "/v1/waitlist".into(), body, ip: human_ip(r), device: device(r) }
        }
        Scenario::BotWave => {
            let ip = bot_ip(r);
            let device = format!("bot-{}", r.below(6));
            if r.chance(0.5) {
                let body = serde_json::json!({ "email": format!("{:x}@tempmail.example", r.next_u64() & 0xffffff) })
                    .to_string();
                Shot { action: "signup", path: "/v1/waitlist".into(), body, ip, device }
            } else {
                let guess = InviteCode::generate(Some("HN")).map(|c| c.to_string()).unwrap_or_default();
                let body = serde_json::json!({ "code": guess, "email": format!("{:x}@tempmail.example", r.next_u64() & 0xffffff) }).to_string();
                Shot { action: "guess", path: "/v1/redeem".into(), body, ip, device }
            }
        }
        Scenario::Leak => {
            let body = serde_json::json!({ "code": code.unwrap_or(""), "email": person(r) }).to_string();
            Shot { action: "redeem", path: "/v1/redeem".into(), body, ip: human_ip(r), device: device(r) }
        }
    }
}

/// Runs a scenario until `duration` passes (or `stop` is set); returns what happened.
pub async fn run(opts: SimOptions, stop: Arc<std::sync::atomic::AtomicBool>) -> Result<Summary, String> {
    if opts.scenario == Scenario::Leak && opts.code.is_none() {
        return Err("the leak scenario needs --code CODE (a multi-use partner code)".into());
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| e.to_string())?;
    let summary = Arc::new(Mutex::new(Summary::default()));
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let permits = Arc::new(tokio::sync::Semaphore::new(256));
    let mut r = Rng::new(opts.seed);
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / opts.rate.max(0.1));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut last_scan = Instant::now() - Duration::from_secs(1);
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < opts.duration && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        ticker.tick().await;
        if let Some(dir) = &opts.mail_dir
            && last_scan.elapsed() > Duration::from_millis(500)
        {
            inbox.lock().unwrap_or_else(|e| e.into_inner()).scan(dir);
            last_scan = Instant::now();
        }
        let shot = next_shot(opts.scenario, &mut r, &inbox, opts.code.as_deref());
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let (client, summary, base) = (client.clone(), summary.clone(), opts.target.trim_end_matches('/').to_string());
        tasks.spawn(async move {
            let _permit = permit;
            let url = format!("{base}{}", shot.path);
            let req = client.post(url).header("content-type", "application/json").body(shot.body);
            let t = Instant::now();
            let status = req
                .header("x-forwarded-for", shot.ip)
                .header("x-device-id", shot.device)
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16());
            summary.lock().unwrap_or_else(|e| e.into_inner()).record(shot.action, status, t.elapsed());
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_told() {
        assert!(check_target("http://127.0.0.1:8080", false).is_ok());
        assert!(check_target("http://localhost:1/", false).is_ok());
        assert!(check_target("http://[::1]:8080", false).is_ok());
        assert!(check_target("https://example.com", false).unwrap_err().contains("--allow-remote"));
        assert!(check_target("https://example.com", true).is_ok());
        assert!(check_target("ftp://x", true).is_err());
    }

    #[test]
    fn summaries_count_by_outcome() {
        let mut s = Summary::default();
        s.record("signup", Some(202), Duration::from_millis(3));
        s.record("signup", Some(429), Duration::from_millis(1));
        s.record("guess", Some(400), Duration::from_millis(2));
        s.record("guess", None, Duration::from_millis(9));
        let t = s.table();
        assert!(t.lines().any(|l| l.starts_with("signup") && l.contains("       2         1")), "{t}");
        assert_eq!(s.0["guess"].errors, 1);
        assert_eq!(s.0["guess"].refused, 1);
    }
}
