//! PostgreSQL stopped and started again under signup load. The server
//! keeps running and reconnects by itself; `/readyz` says 503 while the
//! database is away and 200 once it is back; the few requests caught
//! mid-query get a calm 503 with Retry-After (never a 500), requests that
//! arrive during the outage wait for the database rather than fail, and
//! once it is back every request succeeds. Every 2xx is stored.
//!
//! Needs `VELVET_TEST_POSTGRES_URL` pointing at this machine's `main`
//! cluster (loopback host, the cluster's port, `pg_ctlcluster` available);
//! otherwise it prints a notice and passes. It restarts that cluster! It is its own test binary: no other test is using the
//! server while it is down.

mod common;

use common::{Backend, TestDb};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load() {
    if std::env::var("VELVET_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("notice: VELVET_TEST_POSTGRES_URL is not set; skipping the PostgreSQL restart test");
        return;
    }
    let url = std::env::var("VELVET_TEST_POSTGRES_URL").unwrap();
    let Some(version) = local_cluster(&url) else {
        eprintln!(
            "notice: VELVET_TEST_POSTGRES_URL is not a cluster on this machine that pg_ctlcluster controls; skipping the restart test"
        );
        return;
    };
    common::run(Backend::Postgres, move |db| restart_under_load(db, version)).await;
}

/// The version of the local `main` cluster serving `url`, if `url` points
/// at this machine and the cluster is online: only then may the test stop
/// and start it.
fn local_cluster(url: &str) -> Option<String> {
    let rest = url.split("://").nth(1)?;
    let hostport = rest.split('/').next()?.rsplit('@').next()?;
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (hostport, 5432),
    };
    if !matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]") {
        return None;
    }
    let listed = Command::new("pg_lsclusters").arg("--no-header").output().ok()?;
    String::from_utf8_lossy(&listed.stdout).lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() >= 4 && f[1] == "main" && f[2] == port.to_string() && f[3] == "online").then(|| f[0].to_string())
    })
}

fn pg_ctl(version: &str, action: &str) {
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", action])
        .stdout(Stdio::null())
        .status()
        .expect("run pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster {action} failed");
}

/// Starts the cluster again however the test ends, so one failure does
/// not take the rest of the suite down with it.
struct StartOnDrop(String);

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.0, "main", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    status: u16,
    retry_after: bool,
    body: String,
}

/// `common::until` for a condition read from shared state.
async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    common::until(what, limit, || std::future::ready(done())).await
}

async fn restart_under_load(db: TestDb, version: String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("velvet.toml");
    let log = dir.path().join("serve.log");
    std::fs::write(&config, "[limits.signup]\nip = \"off\"\nemail = \"off\"\ndevice = \"off\"\n").unwrap();
    let (mut child, base) =
        common::spawn_serve(&db.url, &config, "log", None, std::fs::File::create(&log).unwrap().into());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let answers: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let ready: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    let mut load = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let (http, base, answers, accepted, stop) =
            (http.clone(), base.clone(), answers.clone(), accepted.clone(), stop.clone());
        load.spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let email = format!("w{worker}-{n}@example.com");
                let sent = http
                    .post(format!("{base}/v1/waitlist"))
                    .header("content-type", "application/json")
                    .body(serde_json::json!({ "email": email }).to_string())
                    .send()
                    .await;
                let r = sent.expect("the server answers every request, database or not");
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                let body = r.text().await.unwrap_or_default();
                if status == 202 {
                    accepted.lock().unwrap().push(email);
                }
                answers.lock().unwrap().push(Seen { at: Instant::now(), status, retry_after, body });
            }
        });
    }
    let poller = {
        let (http, base, ready, stop) = (http.clone(), base.clone(), ready.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let status = http.get(format!("{base}/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                ready.lock().unwrap().push((Instant::now(), status));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let accepted_now = || accepted.lock().unwrap().len();
    wait_for("signups before the restart", Duration::from_secs(20), || accepted_now() >= 100).await;

    let guard = StartOnDrop(version.clone());
    let down_at = Instant::now();
    tokio::task::spawn_blocking({
        let v = version.clone();
        move || pg_ctl(&v, "stop")
    })
    .await
    .unwrap();
    wait_for("/readyz to report the database gone", Duration::from_secs(15), || {
        ready.lock().unwrap().iter().any(|(t, s)| *t > down_at && *s == 503)
    })
    .await;
    let before_up = accepted_now();
    tokio::task::spawn_blocking({
        let v = version.clone();
        move || pg_ctl(&v, "start")
    })
    .await
    .unwrap();
    drop(guard);
    let up_at = Instant::now();
    wait_for("/readyz to report the database back", Duration::from_secs(30), || {
        ready.lock().unwrap().iter().any(|(t, s)| *t > up_at && *s == 200)
    })
    .await;
    let ready_at = Instant::now();
    wait_for("signups after the restart", Duration::from_secs(30), || accepted_now() >= before_up + 200).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(w) = load.join_next().await {
        w.expect("a load worker failed");
    }
    poller.await.unwrap();

    let answers = answers.lock().unwrap().clone();
    let failed: Vec<&Seen> = answers.iter().filter(|a| a.status >= 500).collect();
    let outage = up_at.duration_since(down_at);
    eprintln!(
        "PostgreSQL away for {:.1} s: {} answers, {} accepted, {} answered 503; /readyz back {:.2} s after the start",
        outage.as_secs_f64(),
        answers.len(),
        accepted.lock().unwrap().len(),
        failed.len(),
        ready_at.duration_since(up_at).as_secs_f64()
    );
    for a in &failed {
        assert_eq!(a.status, 503, "only 503s, never a 500: {}", a.body);
        assert!(a.retry_after, "a 503 says when to try again");
        assert!(a.body.contains("\"unavailable\""), "{}", a.body);
    }
    assert!(failed.len() <= 12, "a 5xx storm: {} failed answers", failed.len());
    let settled = ready_at + Duration::from_secs(1);
    let late: Vec<&Seen> = answers.iter().filter(|a| a.at > settled && a.status != 202).collect();
    assert!(late.is_empty(), "answers after the database was back: {late:?}");
    assert!(answers.iter().all(|a| a.status == 202 || a.status == 503), "every answer is 202 or 503");

    let admin = db.admin().await;
    let accepted = accepted.lock().unwrap().clone();
    for email in &accepted {
        let found = db.velvet.lookup(&admin, email).await;
        assert!(found.is_ok(), "{email} was answered 202 but is not stored");
    }
    assert!(child.0.try_wait().unwrap().is_none(), "the server kept running");
    child.kill();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}
