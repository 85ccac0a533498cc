//! Crash safety: `serve` under signup and redemption load, killed with
//! SIGKILL at random moments 20 times and restarted on the same database.
//! Afterwards every request that got a 2xx is in the database, no code
//! passed max_uses, the use count matches the redemptions holding it, and
//! every message is either delivered once or still recorded as owed.

mod common;

use chrono::Duration;
use common::TestDb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, RwLock};
use velvet::service::PartnerCodeSpec;

on_both_backends!(twenty_kills_under_load_lose_nothing);

fn spawn(url: &str, config: &std::path::Path, mail: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_velvet"))
        .args(["--config", config.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--mail", &format!("file:{}", mail.display())])
        .env("VELVET_DATABASE_URL", url)
        .env("VELVET_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start velvet serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    (child, format!("http://{addr}"))
}

async fn twenty_kills_under_load_lose_nothing(db: TestDb) {
    let admin = db.admin().await;
    let spec = PartnerCodeSpec { campaign: "crash".into(), max_uses: 40, count: 1, expires_in: Duration::days(7), daily_cap: None, prefix: None };
    let code = db.velvet.issue_partner_codes(&admin, &spec).await.unwrap().codes[0].to_string();
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    let config = dir.path().join("velvet.toml");
    std::fs::write(&config, "[limits.signup]\nip = \"off\"\nemail = \"off\"\ndevice = \"off\"\n[limits.redeem]\nip = \"off\"\nemail = \"off\"\ndevice = \"off\"\n[limits.cooldown]\nfailures = 0\n").unwrap();

    let (child, base) = spawn(&db.url, &config, &mail);
    let current = Arc::new(RwLock::new(base));
    let accepted: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build().unwrap();
    let mut load = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let (current, accepted, stop, http, code) = (current.clone(), accepted.clone(), stop.clone(), http.clone(), code.clone());
        load.spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let base = current.read().unwrap().clone();
                let (kind, path, email) = if worker % 3 == 0 {
                    ("redeem", "/v1/redeem", format!("r{worker}-{n}@example.com"))
                } else {
                    ("signup", "/v1/waitlist", format!("s{worker}-{n}@example.com"))
                };
                let body = if kind == "redeem" { format!("{{\"code\":\"{code}\",\"email\":\"{email}\"}}") } else { format!("{{\"email\":\"{email}\"}}") };
                let sent = http.post(format!("{base}{path}")).header("content-type", "application/json").body(body).send().await;
                if let Ok(r) = sent {
                    assert!(r.status().as_u16() < 500, "a 5xx from {path}: {}", r.status());
                    if r.status().is_success() {
                        accepted.lock().unwrap().push((kind, email));
                    }
                }
            }
        });
    }
    let mut child = child;
    let mut rng = velvet::sim::rng::Rng::new(42);
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(80 + rng.below(250))).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let (next, base) = spawn(&db.url, &config, &mail);
        child = next;
        *current.write().unwrap() = base;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while let Some(worker) = load.join_next().await {
        worker.expect("a load worker failed (a 5xx?)");
    }
    // Let the last server deliver what is due, then stop it too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'").await > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();

    let accepted = accepted.lock().unwrap().clone();
    let signups = accepted.iter().filter(|(k, _)| *k == "signup").count();
    let redeems = accepted.iter().filter(|(k, _)| *k == "redeem").count();
    eprintln!("{} backend: {signups} signups and {redeems} redemptions answered 2xx across 20 kills", db.url.split(':').next().unwrap());
    assert!(signups > 50, "the load did run");
    // Every 2xx is in the database.
    for (kind, email) in &accepted {
        let found = db.velvet.lookup(&admin, email).await;
        assert!(found.is_ok(), "{kind} of {email} was answered 2xx but is not stored");
    }
    // No code passed max_uses; uses match the redemptions holding them.
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes WHERE uses > max_uses").await, 0);
    assert_eq!(
        db.count("SELECT uses FROM invite_codes WHERE kind = 'partner'").await,
        db.count("SELECT COUNT(*) FROM redemptions WHERE status IN ('pending', 'completed')").await
    );
    assert!(redeems as i64 <= 40);
    // A kill between commit and answer leaves a stored redemption whose
    // client saw no 2xx: more rows than answers is fine, fewer is not.
    let rows = db.count("SELECT COUNT(*) FROM redemptions").await;
    assert!(rows >= redeems as i64 && rows <= 40, "{rows} redemption rows for {redeems} answers");
    // Every message: delivered once (one file per sent row) or still owed.
    let files: Vec<String> = std::fs::read_dir(&mail).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| n.ends_with(".eml")).collect()).unwrap_or_default();
    let sent = db.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await;
    assert!(files.len() as i64 >= sent, "{} files for {sent} sent rows", files.len());
    let unexplained = db.count("SELECT COUNT(*) FROM outbox WHERE status NOT IN ('sent', 'queued', 'sending', 'failed')").await;
    assert_eq!(unexplained, 0);
    let mut ids: Vec<&str> = files.iter().map(|f| f.split('-').next().unwrap()).collect();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a message file written twice");
}
