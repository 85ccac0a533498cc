//! Crash safety: `serve` under signup and redemption load, killed with
//! SIGKILL at random moments 20 times and restarted on the same database.
//! Afterwards every request that got a 2xx is in the database, no code
//! passed max_uses, the use count matches the redemptions holding it, every
//! pending hold is bounded and gives its use back once lapsed, and every
//! message ends delivered, exactly one file each; a message whose delivery
//! a kill cut off is sent again and the trail records why
//! (`mail_interrupted`).

mod common;

use chrono::Duration;
use common::TestDb;
use std::process::Stdio;
use std::sync::{Arc, Mutex, RwLock};

on_both_backends!(twenty_kills_under_load_lose_nothing);

async fn twenty_kills_under_load_lose_nothing(db: TestDb) {
    let admin = db.admin().await;
    let spec = common::partner("crash", 40, 1);
    let code = db.velvet.issue_partner_codes(&admin, &spec).await.unwrap().codes[0].to_string();
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    let config = dir.path().join("velvet.toml");
    std::fs::write(&config, "[limits.signup]\nip = \"off\"\nemail = \"off\"\ndevice = \"off\"\n[limits.redeem]\nip = \"off\"\nemail = \"off\"\ndevice = \"off\"\n[limits.cooldown]\nfailures = 0\n").unwrap();

    let (child, base) =
        common::spawn_serve(&db.url, &config, &format!("file:{}", mail.display()), Some("error"), Stdio::null());
    let current = Arc::new(RwLock::new(base));
    let accepted: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build().unwrap();
    let mut load = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let (current, accepted, stop, http, code) =
            (current.clone(), accepted.clone(), stop.clone(), http.clone(), code.clone());
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
                let body = if kind == "redeem" {
                    format!("{{\"code\":\"{code}\",\"email\":\"{email}\"}}")
                } else {
                    format!("{{\"email\":\"{email}\"}}")
                };
                let sent = http
                    .post(format!("{base}{path}"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
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
        child.kill();
        let (next, base) =
            common::spawn_serve(&db.url, &config, &format!("file:{}", mail.display()), Some("error"), Stdio::null());
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
    while db.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'").await > 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill();

    let accepted = accepted.lock().unwrap().clone();
    let signups = accepted.iter().filter(|(k, _)| *k == "signup").count();
    let redeems = accepted.iter().filter(|(k, _)| *k == "redeem").count();
    eprintln!(
        "{} backend: {signups} signups and {redeems} redemptions answered 2xx across 20 kills",
        db.store.backend()
    );
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
    // Every pending hold is bounded by the hold time...
    let holds = db.rows_of_times("SELECT created_at, hold_expires_at FROM redemptions WHERE status = 'pending'").await;
    for (created, until) in &holds {
        assert!(*until <= *created + Duration::hours(48), "a hold past its bound: {created} .. {until}");
    }
    // ...and once that time has passed, none is left holding a use.
    db.clock.set(chrono::Utc::now() + Duration::hours(49));
    db.velvet.sweep_holds().await.unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions WHERE status = 'pending'").await, 0);
    assert_eq!(
        db.count("SELECT uses FROM invite_codes WHERE kind = 'partner'").await,
        db.count("SELECT COUNT(*) FROM redemptions WHERE status = 'completed'").await,
        "every lapsed hold gave its use back"
    );

    // Messages a killed server had claimed come back when their lease
    // lapses; deliver them (and anything still queued) as a dispatcher would.
    let transport = velvet::worker::transport::MailTransport::parse(&format!("file:{}", mail.display())).unwrap();
    let from: lettre::message::Mailbox = "velvet <beta@example.com>".parse().unwrap();
    loop {
        let batch = db.velvet.claim_mail("http://beta.example", 100).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for m in &batch {
            transport.send(&from, m).await.unwrap();
            db.velvet.mail_sent(m.outbox_id).await.unwrap();
        }
    }
    // Now every message is delivered. Each has exactly one file (files are
    // named per attempt, so a second delivery cannot hide), unless the
    // trail records for that very message that a kill cut its delivery off.
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'").await, 0, "nothing left owed");
    let mut per_message: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for f in std::fs::read_dir(&mail).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().to_string();
        if name.ends_with(".eml") {
            *per_message.entry(name.split('-').next().unwrap().parse().unwrap()).or_default() += 1;
        }
    }
    let total = db.count("SELECT COUNT(*) FROM outbox").await;
    assert_eq!(per_message.len() as i64, total, "every message has its file");
    let recorded: std::collections::BTreeSet<String> =
        db.texts("SELECT detail FROM events WHERE kind = 'mail_interrupted'").await.into_iter().collect();
    let mut twice = 0;
    for (id, files) in &per_message {
        if *files > 1 {
            twice += 1;
            assert!(
                recorded.iter().any(|d| d.ends_with(&format!(" #{id}"))),
                "message {id} went out {files} times with no record of why"
            );
        }
    }
    eprintln!(
        "{total} messages; {} deliveries cut off by a kill (each recorded), {twice} of them had reached the mail folder and went out twice",
        recorded.len()
    );
}
