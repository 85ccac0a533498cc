//! The API and service figures of DESIGN.md, measured side by side in one
//! run, on SQLite and (when a URL is given) PostgreSQL:
//!
//!     VELVET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench api
//!
//! - accepted signups/s through the full API beside the raw single-row insert
//!   rate of the same database (same concurrency);
//! - 429 answers/s under a flood from one address beside `/healthz`;
//! - approving 10,000 entries and issuing their codes;
//! - answer latency of the waitlist (new vs listed) and of redeem (fresh vs
//!   joined vs blocked emails), with and without the answer floor.
//!
//! `cargo bench --bench api -- timing` runs the latency comparisons only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use velvet::config::{ActionLimits, Config};
use velvet::domain::{Role, SystemClock};
use velvet::service::Velvet;
use velvet::store::{SeedEntry, Store};

#[path = "../tests/common/mod.rs"]
mod common;
use common::{Backend, FreshDatabase};

const WORKERS: usize = 32;
const SECONDS: u64 = 5;

/// Runs `f` from `workers` tasks for `SECONDS`; returns successes per second.
async fn hammer<F, Fut>(workers: usize, f: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let f = Arc::new(f);
    let ok = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (f, ok, seq) = (f.clone(), ok.clone(), seq.clone());
        tasks.spawn(async move {
            while Instant::now() < until {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if f(n).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn raw_inserts(store: &Store) -> f64 {
    let create = "CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT PRIMARY KEY, email TEXT NOT NULL, at TEXT NOT NULL)";
    match store {
        Store::Sqlite(p) => drop(sqlx::query(create).execute(p).await.unwrap()),
        Store::Postgres(p) => drop(sqlx::query(create).execute(p).await.unwrap()),
    }
    let store = store.clone();
    hammer(WORKERS, move |n| {
        let store = store.clone();
        async move {
            let sql = "INSERT INTO bench_raw (id, email, at) VALUES ($1, $2, $3)";
            let email = format!("raw{n}@example.com");
            let at = chrono::Utc::now().to_rfc3339();
            match &store {
                Store::Sqlite(p) => sqlx::query(sql).bind(n as i64).bind(email).bind(at).execute(p).await.is_ok(),
                Store::Postgres(p) => sqlx::query(sql).bind(n as i64).bind(email).bind(at).execute(p).await.is_ok(),
            }
        }
    })
    .await
}

/// The bench's server configuration (PostgreSQL needs a configured secret).
fn bench_config() -> Config {
    let mut config = Config::default();
    config.serve.listen = "127.0.0.1:0".into();
    config.serve.secret = Some("velvet-bench-secret-0123456789".into());
    config
}

async fn serve(velvet: &Velvet, limits_off: bool) -> (velvet::serve::Running, String) {
    let mut config = bench_config();
    if limits_off {
        config.limits.signup = ActionLimits::OFF;
    }
    let running = velvet::serve::start(velvet.clone(), &config).await.unwrap();
    let base = format!("http://{}", running.addr);
    (running, base)
}

async fn api_signups(velvet: &Velvet, tag: &'static str) -> f64 {
    let (running, base) = serve(velvet, true).await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let rate = hammer(WORKERS, move |n| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let body = format!("{{\"email\":\"{tag}{n}@example.com\"}}");
            let r = client
                .post(format!("{base}/v1/waitlist"))
                .header("content-type", "application/json")
                .header("x-device-id", "bench")
                .body(body)
                .send()
                .await;
            r.is_ok_and(|r| r.status().as_u16() == 202)
        }
    })
    .await;
    running.shutdown().await;
    rate
}

async fn flood(velvet: &Velvet) -> (f64, f64) {
    let (running, base) = serve(velvet, false).await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(128).build().unwrap();
    let (c2, b2) = (client.clone(), base.clone());
    let limited = hammer(64, move |n| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let body = format!("{{\"email\":\"flood{n}@example.com\"}}");
            let r = client
                .post(format!("{base}/v1/waitlist"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            r.is_ok_and(|r| r.status().as_u16() == 429)
        }
    })
    .await;
    let health = hammer(64, move |_| {
        let (client, base) = (c2.clone(), b2.clone());
        async move { client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    running.shutdown().await;
    (limited, health)
}

async fn approve_ten_thousand(velvet: &Velvet) -> Duration {
    let admin = velvet.operator("bench").await.unwrap();
    let now = velvet.now();
    let rows: Vec<SeedEntry> = (0..10_000)
        .map(|i| SeedEntry {
            id: 1_000_000 + i,
            email: format!("wait{i}@example.com"),
            status: "confirmed",
            blocked_from: None,
            source: Some("bench"),
            referrer_id: None,
            ip_prefix: "203.0.113.0/24".into(),
            first_seen: now - chrono::Duration::days(2),
            confirmed_at: Some(now - chrono::Duration::days(1) + chrono::Duration::seconds(i)),
            approved_at: None,
            invited_at: None,
            joined_at: None,
            block_reason: None,
        })
        .collect();
    let mut tx = velvet.store().write().await.unwrap();
    tx.bulk_entries(&rows).await.unwrap();
    tx.commit().await.unwrap();
    velvet.set_setting(&admin, "daily_invite_cap", "10000").await.unwrap();
    let started = Instant::now();
    let approved = velvet.approve_next(&admin, 10_000, false).await.unwrap();
    let sent = velvet.send_invites(&admin, None, false).await.unwrap();
    let took = started.elapsed();
    assert_eq!((approved.len(), sent.sent.len()), (10_000, 10_000));
    took
}

/// Latency of the waitlist answer for new vs already-listed emails, one
/// request at a time, interleaved (an enumeration-by-timing check).
async fn waitlist_timing(velvet: &Velvet, floor_ms: u64, round: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut config = bench_config();
    config.serve.public_answer_ms = floor_ms;
    config.limits.signup = ActionLimits::OFF;
    config.limits.resend = ActionLimits::OFF;
    let running = velvet::serve::start(velvet.clone(), &config).await.unwrap();
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let post = |email: String| {
        client
            .post(format!("{base}/v1/waitlist"))
            .header("content-type", "application/json")
            .header("x-device-id", "timing")
            .body(format!("{{\"email\":\"{email}\"}}"))
    };
    for i in 0..50 {
        post(format!("known{round}-{i}@example.com")).send().await.unwrap();
    }
    let (mut new, mut known) = (Vec::new(), Vec::new());
    // 400 of each in a shuffled order, so neither kind always follows the
    // other (a new signup wakes the mailer, which competes for the cores).
    let mut order: Vec<usize> = (0..2 * SAMPLES).collect();
    let mut rng = velvet::sim::rng::Rng::new(7 + round as u64);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for i in order {
        let (email, bucket) = if i < SAMPLES {
            (format!("fresh{round}-{i}@example.com"), &mut new)
        } else {
            (format!("known{round}-{}@example.com", i % 50), &mut known)
        };
        let t = Instant::now();
        let r = post(email).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 202);
        bucket.push(t.elapsed());
    }
    running.shutdown().await;
    new.sort();
    known.sort();
    (new, known)
}

/// Latency of redeeming one usable partner code for fresh, joined and
/// blocked emails, one request at a time in a shuffled order: a code
/// holder must not tell who is on the list from the answer or its time.
async fn redeem_timing(velvet: &Velvet, floor_ms: u64, round: usize) -> [Vec<Duration>; 3] {
    let admin = velvet.operator("bench").await.unwrap();
    let now = velvet.now();
    let seeded = |i: i64, kind: &'static str| SeedEntry {
        id: 2_000_000 + (round as i64) * 1_000 + i,
        email: format!("{kind}{round}-{i}@example.com"),
        status: if kind == "joined" { "joined" } else { "blocked" },
        blocked_from: (kind == "blocked").then_some("confirmed"),
        source: Some("bench"),
        referrer_id: None,
        ip_prefix: "203.0.113.0/24".into(),
        first_seen: now - chrono::Duration::days(3),
        confirmed_at: Some(now - chrono::Duration::days(2)),
        approved_at: None,
        invited_at: None,
        joined_at: (kind == "joined").then_some(now - chrono::Duration::days(1)),
        block_reason: (kind == "blocked").then_some("bench"),
    };
    let rows: Vec<SeedEntry> =
        (0..50).map(|i| seeded(i, "joined")).chain((0..50).map(|i| seeded(100 + i, "blocked"))).collect();
    let mut tx = velvet.store().write().await.unwrap();
    tx.bulk_entries(&rows).await.unwrap();
    tx.commit().await.unwrap();
    let spec = velvet::service::PartnerCodeSpec {
        campaign: format!("timing{round}"),
        max_uses: 100_000,
        count: 1,
        expires_in: chrono::Duration::days(7),
        daily_cap: None,
        prefix: None,
    };
    let code = velvet.issue_partner_codes(&admin, &spec).await.unwrap().codes[0].to_string();

    let mut config = bench_config();
    config.serve.public_answer_ms = floor_ms;
    config.limits.redeem = ActionLimits::OFF;
    config.limits.cooldown.failures = 0;
    let running = velvet::serve::start(velvet.clone(), &config).await.unwrap();
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let mut order: Vec<usize> = (0..3 * SAMPLES).collect();
    let mut rng = velvet::sim::rng::Rng::new(11 + round as u64);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut out = [Vec::new(), Vec::new(), Vec::new()];
    let mut body = None;
    for i in order {
        let (kind, email) = match i / SAMPLES {
            0 => (0, format!("fresh{round}-{i}@example.com")),
            1 => (1, format!("joined{round}-{}@example.com", i % 50)),
            _ => (2, format!("blocked{round}-{}@example.com", 100 + i % 50)),
        };
        let t = Instant::now();
        let r = client
            .post(format!("{base}/v1/redeem"))
            .header("content-type", "application/json")
            .header("x-device-id", "timing")
            .body(format!("{{\"code\":\"{code}\",\"email\":\"{email}\"}}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        out[kind].push(t.elapsed());
        assert_eq!(status, 202, "{email}: {text}");
        assert_eq!(body.get_or_insert_with(|| text.clone()), &text, "every answer is the same bytes");
    }
    running.shutdown().await;
    for v in &mut out {
        v.sort();
    }
    out
}

/// Samples of each kind in the timing comparisons.
const SAMPLES: usize = 400;

/// Two-sample Kolmogorov–Smirnov distance: the largest gap between the
/// two empirical distributions (both sorted).
fn ks_distance(a: &[Duration], b: &[Duration]) -> f64 {
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

fn q(v: &[Duration], p: f64) -> String {
    format!("{:.2} ms", v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0)
}

fn timing_row(what: &str, floor: u64, backend: &str, a: (&str, &[Duration]), b: (&str, &[Duration])) {
    // Critical KS distance for two samples of SAMPLES at the 5 % level.
    let (d, critical) = (ks_distance(a.1, b.1), 1.36 * (2.0 / SAMPLES as f64).sqrt());
    let verdict = if d < critical { "indistinguishable at 5 %" } else { "**distinguishable**" };
    println!(
        "| {what} answer latency, {} vs {} (p10/p50/p90), answer floor {floor} ms | {backend} | {} {} / {} / {} | {} {} / {} / {} | KS D = {d:.3} (5 % critical {critical:.3}) | {verdict} |",
        a.0,
        b.0,
        a.0,
        q(a.1, 0.1),
        q(a.1, 0.5),
        q(a.1, 0.9),
        b.0,
        q(b.1, 0.1),
        q(b.1, 0.5),
        q(b.1, 0.9)
    );
}

/// The timing comparisons, floor off and at its default.
async fn timing_rows(velvet: &Velvet, backend: &str) {
    for (round, floor) in [0u64, Config::default().serve.public_answer_ms].into_iter().enumerate() {
        let (new, known) = waitlist_timing(velvet, floor, round).await;
        timing_row("waitlist", floor, backend, ("new", &new), ("listed", &known));
        let [fresh, joined, blocked] = redeem_timing(velvet, floor, round).await;
        timing_row("redeem", floor, backend, ("fresh", &fresh), ("joined", &joined));
        timing_row("redeem", floor, backend, ("fresh", &fresh), ("blocked", &blocked));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let timing_only = std::env::args().any(|a| a == "timing");
    println!("| figure | backend | measured | beside | ratio | target |");
    println!("|---|---|---|---|---|---|");
    for (backend, which) in [("sqlite", Backend::Sqlite), ("postgres", Backend::Postgres)] {
        // The tests' own fresh databases (tests/common).
        let Some(fresh) = FreshDatabase::new(which).await else {
            println!("| (PostgreSQL skipped: set VELVET_TEST_POSTGRES_URL) | | | | | |");
            continue;
        };
        let url = fresh.url.clone();
        let store = Store::open(&url).await.unwrap();
        let velvet = Velvet::new(store.clone(), Arc::new(SystemClock));
        velvet.add_operator("bench", "bench", Role::Admin).await.unwrap();
        if timing_only {
            timing_rows(&velvet, backend).await;
            store.close().await;
            fresh.remove().await;
            continue;
        }
        let raw = raw_inserts(&store).await;
        let api = api_signups(&velvet, "s").await;
        let verdict = if api >= raw * 0.5 { "≥ 50 %: met" } else { "≥ 50 %: **missed**" };
        println!(
            "| accepted signups/s (32 clients) | {backend} | {api:.0}/s | raw single-row inserts {raw:.0}/s | {:.0} % | {verdict} |",
            100.0 * api / raw
        );
        let (limited, health) = flood(&velvet).await;
        let verdict = if limited >= 20_000.0 { "≥ 20,000/s: met" } else { "≥ 20,000/s: **missed**" };
        println!(
            "| 429 answers/s, flood from one address (64 clients) | {backend} | {limited:.0}/s | `/healthz` {health:.0}/s | {:.0} % | {verdict} |",
            100.0 * limited / health
        );
        timing_rows(&velvet, backend).await;
        let took = approve_ten_thousand(&velvet).await;
        let verdict = if took < Duration::from_secs(2) { "< 2 s: met" } else { "< 2 s: **missed**" };
        println!("| approve 10,000 and issue their codes | {backend} | {:.2} s | | | {verdict} |", took.as_secs_f64());
        store.close().await;
        fresh.remove().await;
    }
}
