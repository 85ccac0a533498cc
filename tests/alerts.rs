//! Issue 14: alerts evaluated by the server, once per deployment (the
//! lease), paged by webhook through the outbox, shown by the console, and
//! the figures behind them on /metrics for Prometheus.

mod common;

use chrono::Duration;
use common::TestDb;
use std::collections::BTreeSet;
use std::sync::Arc;
use velvet::domain::alerts::AlertRules;
use velvet::service::{Evaluation, MailRetry, Velvet};
use velvet::store::{NewEvent, NewMail};

on_both_backends!(
    each_rule_fires_once_and_resolves_with_its_figures,
    two_evaluators_record_one_alert_per_firing_and_the_survivor_takes_over,
    evaluator_tasks_share_one_lease_and_a_survivor_takes_over,
    alert_pages_reach_a_slack_webhook,
    alert_pages_reach_a_velvet_webhook_signed,
    a_failing_alert_webhook_is_a_failed_delivery_and_mail_still_goes,
    the_console_shows_an_alert_the_server_raised,
    metrics_serve_every_name_the_prometheus_rules_and_dashboard_read,
    two_serve_processes_evaluate_once_and_the_survivor_takes_over,
    the_active_alerts_are_read_on_their_own_indexes,
    a_remembering_evaluator_counts_like_a_fresh_one,
);

/// Appends `n` events at the clock's now.
async fn put(db: &TestDb, n: usize, kind: &'static str, outcome: Option<&'static str>, prefix: Option<&str>) {
    let now = db.velvet.now();
    let mut tx = db.store.write().await.unwrap();
    for _ in 0..n {
        let e =
            NewEvent { kind, outcome, ip_prefix: prefix.map(String::from), actor: "test".into(), ..Default::default() };
        tx.append_event(now, &e).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// One round by `holder`, as a fresh evaluator (nothing remembered).
async fn evaluate(v: &Velvet, holder: &str) -> Evaluation {
    v.evaluate_alerts(&AlertRules::default(), holder, false, &mut Default::default()).await.unwrap()
}

/// (kind, outcome, rule, detail) of the alert events, oldest first.
async fn alert_events(db: &TestDb) -> Vec<(String, String, String, String)> {
    let sql = "SELECT kind, COALESCE(outcome, ''), COALESCE(rule, ''), COALESCE(detail, '') FROM events \
               WHERE kind IN ('alert', 'alert_resolved') ORDER BY id";
    match &db.store {
        velvet::store::Store::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        velvet::store::Store::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    }
}

async fn raised(db: &TestDb, rule: &str) -> Vec<String> {
    alert_events(db)
        .await
        .into_iter()
        .filter(|e| e.0 == "alert" && e.1 == "raised" && e.2 == rule)
        .map(|e| e.3)
        .collect()
}

async fn resolved(db: &TestDb, rule: &str) -> Vec<String> {
    alert_events(db).await.into_iter().filter(|e| e.0 == "alert_resolved" && e.2 == rule).map(|e| e.3).collect()
}

fn set(rules: &[String]) -> BTreeSet<&str> {
    rules.iter().map(String::as_str).collect()
}

async fn each_rule_fires_once_and_resolves_with_its_figures(db: TestDb) {
    let v = &db.velvet;
    assert_eq!(evaluate(v, "a").await, Evaluation { held: true, ..Default::default() }, "a quiet beta: nothing");

    // Bad codes: 31 in one minute, all from one prefix, none joined.
    put(&db, 31, "redeem", Some("failed"), Some("198.51.100.0/24")).await;
    db.clock.advance(Duration::seconds(60));
    let e = evaluate(v, "a").await;
    assert_eq!(set(&e.raised), BTreeSet::from(["bad_codes", "dropoff"]), "{e:?}");
    let detail = &raised(&db, "bad_codes").await[0];
    assert!(detail.contains("31 bad codes") && detail.contains("threshold 30"), "{detail}");
    assert!(raised(&db, "dropoff").await[0].contains("0 of 31"));
    assert!(!evaluate(v, "a").await.changed(), "a standing alert is recorded once");
    // Two minutes later the bad codes are no longer the last minute's.
    db.clock.advance(Duration::seconds(120));
    let e = evaluate(v, "a").await;
    assert_eq!(set(&e.resolved), BTreeSet::from(["bad_codes"]), "{e:?}");
    assert!(
        resolved(&db, "bad_codes").await[0].starts_with("now 0 bad codes"),
        "{:?}",
        resolved(&db, "bad_codes").await
    );
    db.clock.advance(Duration::minutes(10));
    assert_eq!(evaluate(v, "a").await.resolved, ["dropoff"], "the 10-minute funnel clears later");

    // A signup spike against a quiet baseline.
    put(&db, 40, "signup", Some("ok"), None).await;
    db.clock.advance(Duration::seconds(60));
    assert_eq!(evaluate(v, "a").await.raised, ["signup_spike"]);
    assert!(raised(&db, "signup_spike").await[0].contains("signups 40/min"));
    db.clock.advance(Duration::seconds(60));
    assert!(!evaluate(v, "a").await.changed(), "quiet for a minute: still raised (resolve_after 2m)");
    db.clock.advance(Duration::seconds(60));
    assert_eq!(evaluate(v, "a").await.resolved, ["signup_spike"]);

    // One prefix hammering (429 summaries count what they summarise): a storm too.
    {
        let now = v.now();
        let mut tx = db.store.write().await.unwrap();
        let e = NewEvent {
            kind: "rate_limited",
            outcome: Some("summary"),
            ip_prefix: Some("192.0.2.0/24".into()),
            detail: Some("count=700".into()),
            actor: "limiter".into(),
            ..Default::default()
        };
        tx.append_event(now, &e).await.unwrap();
        tx.commit().await.unwrap();
    }
    let e = evaluate(v, "a").await;
    assert_eq!(e.raised, ["hot_prefix"], "the current minute counts for a prefix at once");
    assert!(raised(&db, "hot_prefix").await[0].contains("700 failed or refused attempts from 192.0.2.0/24"));
    db.clock.advance(Duration::seconds(60));
    let e = evaluate(v, "a").await;
    assert_eq!(e.raised, ["rate_limit_storm"]);
    assert!(raised(&db, "rate_limit_storm").await[0].contains("700 requests refused"));
    db.clock.advance(Duration::seconds(120));
    assert_eq!(set(&evaluate(v, "a").await.resolved), BTreeSet::from(["hot_prefix", "rate_limit_storm"]));

    // A queued message nobody delivers: a backlog; delivered, it clears.
    let admin = db.admin().await;
    let id = {
        let now = v.now();
        let mut tx = db.store.write().await.unwrap();
        let m = NewMail {
            kind: velvet::domain::MailKind::Webhook,
            entry_id: None,
            code_id: None,
            recipient: "webhook",
            payload: Some("{}"),
        };
        let id = tx.enqueue(m, now).await.unwrap();
        tx.commit().await.unwrap();
        id
    };
    db.clock.advance(Duration::minutes(9));
    assert!(!evaluate(v, "a").await.changed(), "9 minutes is inside the threshold");
    db.clock.advance(Duration::minutes(2));
    assert_eq!(evaluate(v, "a").await.raised, ["outbox_backlog"]);
    assert!(raised(&db, "outbox_backlog").await[0].contains("waited 11m"), "{:?}", raised(&db, "outbox_backlog").await);
    // The delivery gives up: the backlog clears, a failed delivery fires.
    {
        let now = v.now();
        let mut tx = db.store.write().await.unwrap();
        tx.mark_mail_failed(id, "connection refused", None, now).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(evaluate(v, "a").await.raised, ["failed_deliveries"]);
    db.clock.advance(Duration::minutes(2));
    assert_eq!(evaluate(v, "a").await.resolved, ["outbox_backlog"], "the backlog cleared 2 minutes ago");
    // `velvet mail retry --all` queues it again, and it goes: the failure clears.
    v.retry_mail(&admin, &MailRetry::All { kind: None }).await.unwrap();
    assert_eq!(db.deliver().await.len(), 1);
    db.clock.advance(Duration::minutes(2));
    assert_eq!(evaluate(v, "a").await.resolved, ["failed_deliveries"]);

    let kinds: Vec<_> = alert_events(&db).await.into_iter().map(|e| (e.0, e.2)).collect();
    for rule in velvet::domain::alerts::RULES {
        let fired = kinds.iter().filter(|k| k.0 == "alert" && k.1 == *rule).count();
        let cleared = kinds.iter().filter(|k| k.0 == "alert_resolved" && k.1 == *rule).count();
        assert_eq!((fired, cleared), (1, 1), "{rule}: one alert and one resolution");
    }
    assert!(v.active_alerts(&admin).await.unwrap().is_empty());

    // A delivery that fails for good (a bounced address) pages once, and
    // an hour later clears by itself; `velvet mail failed` still lists it.
    {
        let now = v.now();
        let mut tx = db.store.write().await.unwrap();
        let m = NewMail {
            kind: velvet::domain::MailKind::Webhook,
            entry_id: None,
            code_id: None,
            recipient: "webhook",
            payload: Some("{}"),
        };
        let id = tx.enqueue(m, now).await.unwrap();
        tx.mark_mail_failed(id, "gone for good", None, now).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(evaluate(v, "a").await.raised, ["failed_deliveries"]);
    assert!(raised(&db, "failed_deliveries").await[1].contains("1 delivery gave up in the last hour (1 failed in all"));
    db.clock.advance(Duration::minutes(61));
    assert_eq!(evaluate(v, "a").await.resolved, ["failed_deliveries"]);
    assert_eq!(v.failed_mail(&admin, None).await.unwrap().len(), 1, "still listed");
}

async fn two_evaluators_record_one_alert_per_firing_and_the_survivor_takes_over(db: TestDb) {
    // Two servers: two services on one database and one clock.
    let other = Velvet::new(db.store.clone(), db.clock.clone());
    put(&db, 35, "redeem", Some("failed"), None).await;
    db.clock.advance(Duration::seconds(60));
    let mut held = (0, 0);
    for _ in 0..10 {
        let (a, b) = tokio::join!(evaluate(&db.velvet, "server-a"), evaluate(&other, "server-b"));
        held.0 += usize::from(a.held);
        held.1 += usize::from(b.held);
    }
    assert!(held.0 == 0 || held.1 == 0, "one holder at a time: {held:?}");
    assert_eq!(held.0 + held.1, 10, "someone evaluates every round");
    assert_eq!(raised(&db, "bad_codes").await.len(), 1, "one alert for one firing, two evaluators");
    let (holder, survivor, name) =
        if held.0 > 0 { (&db.velvet, &other, "server-b") } else { (&other, &db.velvet, "server-a") };
    let holder_name = if name == "server-b" { "server-a" } else { "server-b" };
    // The holder stops renewing (killed): within the lease's 15 s the
    // survivor still may not evaluate; after it, it takes over.
    db.clock.advance(Duration::seconds(10));
    assert!(!evaluate(survivor, name).await.held, "the lease is still the holder's");
    db.clock.advance(Duration::seconds(6));
    assert!(evaluate(survivor, name).await.held, "the survivor takes over after the lease lapses");
    assert!(!evaluate(holder, holder_name).await.held, "and keeps it while it renews");
    assert_eq!(raised(&db, "bad_codes").await.len(), 1, "the active alert is not raised again");
    db.clock.advance(Duration::seconds(120));
    assert_eq!(evaluate(survivor, name).await.resolved, ["bad_codes"], "the survivor resolves it");
    assert_eq!(resolved(&db, "bad_codes").await.len(), 1);
}

async fn evaluator_tasks_share_one_lease_and_a_survivor_takes_over(db: TestDb) {
    use velvet::worker::alert_evaluator;
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let every = std::time::Duration::from_millis(20);
    let rules = AlertRules::default();
    let other = Velvet::new(db.store.clone(), db.clock.clone());
    let mut tasks = std::collections::HashMap::new();
    tasks.insert(
        "a",
        tokio::spawn(alert_evaluator(
            db.velvet.clone(),
            "a".into(),
            rules,
            false,
            wake.clone(),
            every,
            stopped.clone(),
        )),
    );
    tasks.insert(
        "b",
        tokio::spawn(alert_evaluator(other, "b".into(), rules, false, wake.clone(), every, stopped.clone())),
    );
    let holder = || async {
        let rows = db.texts("SELECT holder FROM leases WHERE name = 'alert_evaluator'").await;
        rows.into_iter().next()
    };
    let first = poll(&holder).await;
    put(&db, 35, "redeem", Some("failed"), None).await;
    db.clock.advance(Duration::seconds(60));
    poll(|| async { (raised(&db, "bad_codes").await.len() == 1).then_some(()) }).await;
    // Let both run many more rounds: still one alert.
    for _ in 0..20 {
        tokio::time::sleep(every).await;
    }
    assert_eq!(raised(&db, "bad_codes").await.len(), 1, "two evaluator loops, one alert");
    // The holder dies without giving the lease up.
    let alive = if first == "a" { "b" } else { "a" };
    let dead = tasks.remove(first.as_str()).unwrap();
    dead.abort();
    let _ = dead.await;
    db.clock.advance(Duration::seconds(16));
    let taken = poll(|| async { holder().await.filter(|h| h == alive) }).await;
    assert_eq!(taken, alive, "the survivor took the lease over");
    db.clock.advance(Duration::seconds(120));
    poll(|| async { (resolved(&db, "bad_codes").await.len() == 1).then_some(()) }).await;
    assert_eq!(raised(&db, "bad_codes").await.len(), 1);
    let _ = stop.send(true);
    for (_, t) in tasks {
        t.await.unwrap();
    }
    assert!(holder().await.is_none(), "a stopping evaluator gives the lease up");
}

/// Polls `f` until it gives a value (at most 20 s).
async fn poll<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not reached in 20 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

type Received = Arc<tokio::sync::Mutex<Vec<(Option<String>, String)>>>;

/// A local HTTP receiver answering `status`; returns its URL and what it got.
async fn receiver(status: u16) -> (String, Received) {
    let received: Received = Default::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/page",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let sig = headers.get("velvet-signature").map(|v| v.to_str().unwrap().to_string());
                sink.lock().await.push((sig, body));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/page"), received)
}

async fn nth_page(received: &Received, n: usize) -> (Option<String>, String) {
    poll(|| async { received.lock().await.get(n).cloned() }).await
}

async fn alert_pages_reach_a_slack_webhook(db: TestDb) {
    let (url, received) = receiver(200).await;
    let s = common::server::start(&db, |c| c.alerts.webhook_url = Some(url)).await;
    put(&db, 31, "joined", None, None).await;
    put(&db, 31, "redeem", Some("failed"), None).await;
    db.clock.advance(Duration::seconds(60));
    let (sig, body) = nth_page(&received, 0).await;
    assert_eq!(sig, None, "Slack pages are not signed");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = json["text"].as_str().unwrap();
    assert_eq!(json.as_object().unwrap().len(), 1, "only text: {body}");
    assert!(text.starts_with("velvet ALERT bad_codes: 31 bad codes in the last minute"), "{text}");
    assert!(text.contains("Since 09:01 UTC") && text.contains("First: velvet console, then p y"), "{text}");
    // It clears: the resolution is paged too.
    db.clock.advance(Duration::seconds(120));
    let (_, body) = nth_page(&received, 1).await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json["text"].as_str().unwrap().starts_with("velvet RESOLVED bad_codes after 2m"), "{body}");
    poll(|| async {
        (db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'alert' AND status = 'sent'").await == 2).then_some(())
    })
    .await;
    s.stop().await;
}

async fn alert_pages_reach_a_velvet_webhook_signed(db: TestDb) {
    let (url, received) = receiver(200).await;
    let s = common::server::start(&db, |c| {
        c.alerts.webhook_url = Some(url);
        c.alerts.webhook_format = velvet::config::WebhookFormat::Velvet;
        c.alerts.webhook_secret = Some("alert-secret".into());
        c.alerts.repeat_every = Duration::minutes(2);
    })
    .await;
    put(&db, 40, "signup", Some("ok"), None).await;
    db.clock.advance(Duration::seconds(60));
    let (sig, body) = nth_page(&received, 0).await;
    let sig = sig.expect("a signature header");
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    assert_eq!(v1, velvet::worker::transport::sign("alert-secret", t, &body), "HMAC-SHA256(secret, t.body)");
    assert_eq!(t, db.velvet.now().timestamp());
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((page["event"].as_str(), page["rule"].as_str()), (Some("alert"), Some("signup_spike")));
    assert!(page["text"].as_str().unwrap().contains("signups 40/min"), "{body}");
    assert!(page["command"].as_str().unwrap().starts_with("velvet"), "{body}");
    // Still active past repeat_every (the spike is kept up): a reminder.
    for _ in 0..3 {
        put(&db, 40, "signup", Some("ok"), None).await;
        db.clock.advance(Duration::seconds(60));
    }
    poll(|| async {
        let got = received.lock().await.clone();
        got.iter().any(|(_, b)| b.contains("\"alert_reminder\"")).then_some(())
    })
    .await;
    s.stop().await;
}

async fn a_failing_alert_webhook_is_a_failed_delivery_and_mail_still_goes(db: TestDb) {
    let (url, received) = receiver(500).await;
    let s = common::server::start(&db, |c| c.alerts.webhook_url = Some(url)).await;
    put(&db, 31, "joined", None, None).await;
    put(&db, 31, "redeem", Some("failed"), None).await;
    db.clock.advance(Duration::seconds(60));
    nth_page(&received, 0).await;
    let retrying = "SELECT COUNT(*) FROM outbox WHERE kind = 'alert' AND status = 'queued' AND last_error LIKE '%500%'";
    poll(|| async { (db.count(retrying).await == 1).then_some(()) }).await;
    // Mail is not held up behind the failing page.
    s.post("/v1/waitlist", serde_json::json!({ "email": "still@example.com" }), "d").await;
    poll(|| async {
        (db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'confirm' AND status = 'sent'").await == 1).then_some(())
    })
    .await;
    s.stop().await;
    // The page keeps failing until it gives up: then it is a failed delivery.
    common::fail_until_given_up(&db, "alert", "alert webhook answered 500").await;
    let admin = db.admin().await;
    let failed = db.velvet.failed_mail(&admin, Some("alert")).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].recipient, "alert webhook");
    assert!(failed[0].last_error.as_deref().unwrap().contains("500"));
}

async fn the_console_shows_an_alert_the_server_raised(db: TestDb) {
    use ratatui::{Terminal, backend::TestBackend};
    use velvet::console::{
        action::{Input, Msg},
        state::State,
        theme::Theme,
        update::update,
        view,
    };
    let admin = db.admin().await;
    put(&db, 31, "joined", None, None).await;
    put(&db, 31, "redeem", Some("failed"), None).await;
    db.clock.advance(Duration::seconds(60));
    evaluate(&db.velvet, "server").await;
    // What the console's runner reads every round, into the console.
    let alerts = db.velvet.active_alerts(&admin).await.unwrap();
    let mut s = State::new(db.velvet.now(), "root".into(), admin.role(), "sqlite");
    update(&mut s, Input::Msg(Msg::Alerts(alerts)));
    let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
    t.draw(|f| view::draw(f, &s, &Theme::plain())).unwrap();
    let screen = t.backend().to_string();
    let since = (db.velvet.now()).with_timezone(&s.tz).format("%H:%M").to_string();
    assert!(
        screen.contains(&format!("ALERT bad_codes: 31 bad codes in the last minute (threshold 30) (since {since})")),
        "{screen}"
    );
    assert!(screen.contains("! 31 bad codes"), "the Live pane lists it too: {screen}");
}

/// Every `velvet_…` name in a text (metric names in rules and the dashboard).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("velvet_") {
        let start = i + at;
        let before = start.checked_sub(1).map(|b| bytes[b]);
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/' || b == b'-') {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

async fn metrics_serve_every_name_the_prometheus_rules_and_dashboard_read(db: TestDb) {
    let s = common::server::start(&db, |_| {}).await;
    put(&db, 31, "joined", None, None).await;
    put(&db, 31, "redeem", Some("failed"), Some("198.51.100.0/24")).await;
    db.clock.advance(Duration::seconds(60));
    // The server's evaluator raises it; /metrics says so.
    let body = poll(|| async {
        let body = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
        body.contains("velvet_alerts_active{rule=\"bad_codes\"} 1").then_some(body)
    })
    .await;
    // Samples, and the TYPE line of a counter with no sample yet.
    let served: BTreeSet<String> = body
        .lines()
        .filter_map(|l| match l.strip_prefix("# TYPE ") {
            Some(t) => t.split(' ').next(),
            None if !l.starts_with('#') => l.split(['{', ' ']).next(),
            None => None,
        })
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    let root = env!("CARGO_MANIFEST_DIR");
    for file in [
        "assets/prometheus/velvet-alerts.yml",
        "assets/prometheus/velvet-alerts.test.yml",
        "assets/grafana/velvet.json",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let names = metric_names(&text);
        assert!(names.len() >= 5, "{file} names metrics: {names:?}");
        for name in names {
            assert!(served.contains(&name), "{file} reads {name}, which /metrics does not serve:\n{body}");
        }
    }
    assert!(body.contains("velvet_bad_codes_last_minute 31"), "{body}");
    assert!(body.contains("velvet_busiest_prefix_attempts 31"), "{body}");
    assert!(body.contains("velvet_alerts_active{rule=\"bad_codes\"} 1"), "{body}");
    assert!(body.contains("velvet_alerts_active{rule=\"signup_spike\"} 0"), "{body}");
    assert!(!body.contains("198.51.100"), "no per-address labels");
    s.stop().await;
}

/// Two `velvet serve` processes on one database (real clocks): one alert
/// for one firing; the holder killed (no goodbye), the other takes the
/// lease over within 30 s and does not raise the active alert again.
async fn two_serve_processes_evaluate_once_and_the_survivor_takes_over(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("velvet.toml");
    std::fs::write(&config, "").unwrap();
    let null = std::process::Stdio::null;
    let mut servers = [
        common::spawn_serve(&db.url, &config, "log", None, null()).0,
        common::spawn_serve(&db.url, &config, "log", None, null()).0,
    ];
    // 70 failed attempts from one prefix now (the current minute counts
    // for a prefix), and as many joins, so only hot_prefix fires at once.
    let now = chrono::Utc::now();
    {
        let mut tx = db.store.write().await.unwrap();
        for (kind, outcome) in [("joined", None), ("redeem", Some("failed"))] {
            for _ in 0..70 {
                let e = NewEvent {
                    kind,
                    outcome,
                    ip_prefix: Some("198.51.100.0/24".into()),
                    actor: "test".into(),
                    ..Default::default()
                };
                tx.append_event(now, &e).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
    }
    poll(|| async { (raised(&db, "hot_prefix").await.len() == 1).then_some(()) }).await;
    let expiry = || async { db.rows_of_times("SELECT expires_at, expires_at FROM leases").await.first().map(|r| r.0) };
    let first = poll(expiry).await;
    // Two more renewals by the holder: the other server has tried meanwhile.
    poll(|| async { expiry().await.filter(|e| *e >= first + Duration::seconds(6)) }).await;
    assert_eq!(raised(&db, "hot_prefix").await.len(), 1, "two servers, one alert");
    let holder = || async { db.texts("SELECT holder FROM leases").await.pop() };
    let held_by = poll(holder).await;
    let pid_of = |k: &common::Killed| format!("pid{}-", k.0.id());
    let dead = servers.iter().position(|k| held_by.starts_with(&pid_of(k))).expect("a server holds the lease");
    let survivor = pid_of(&servers[1 - dead]);
    servers[dead].kill();
    let killed_at = std::time::Instant::now();
    let deadline = killed_at + std::time::Duration::from_secs(30);
    loop {
        if holder().await.is_some_and(|h| h.starts_with(&survivor)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no takeover within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(killed_at.elapsed() >= std::time::Duration::from_secs(5), "the lease was not given up by a killed server");
    assert_eq!(raised(&db, "hot_prefix").await.len(), 1, "the survivor does not raise the active alert again");
}

/// Every console reads the active alerts each round: on the small partial
/// indexes of alert events, never by scanning the trail.
async fn the_active_alerts_are_read_on_their_own_indexes(db: TestDb) {
    put(&db, 50, "signup", Some("ok"), None).await;
    let mut tx = db.store.read().await.unwrap();
    let plan = tx.query_plan(velvet::store::ACTIVE_ALERTS, &[]).await.unwrap();
    for index in ["events_alerts", "events_alerts_resolved"] {
        assert!(plan.contains(index), "must use {index}; plan:\n{plan}");
    }
    let scans = |l: &str| (l.contains("SCAN") && !l.contains("INDEX")) || l.contains("Seq Scan on events");
    assert!(!plan.lines().any(scans), "scans events:\n{plan}");
}

/// The evaluator loop remembers the complete minutes before the last one
/// and reads only two minutes each round: the baseline is still counted,
/// once, so a spike is judged against it.
async fn a_remembering_evaluator_counts_like_a_fresh_one(db: TestDb) {
    let rules = AlertRules { signup_spike_min: 1, ..AlertRules::default() };
    let mut memo = velvet::service::AlertMemo::default();
    let round = |memo: &mut velvet::service::AlertMemo| {
        let (v, rules) = (db.velvet.clone(), rules);
        let mut m = std::mem::take(memo);
        async move {
            let e = v.evaluate_alerts(&rules, "a", false, &mut m).await.unwrap();
            (e, m)
        }
    };
    // The hour before: 4 signups a minute (a baseline of 4/min: a spike
    // is over 20), then 15 in the last minute.
    let start = db.velvet.now();
    for age in 2..60 {
        db.clock.set(start - Duration::minutes(age));
        put(&db, 4, "signup", Some("ok"), None).await;
    }
    db.clock.set(start - Duration::minutes(1));
    put(&db, 15, "signup", Some("ok"), None).await;
    db.clock.set(start);
    let (e, m) = round(&mut memo).await;
    memo = m;
    assert!(!e.changed(), "15 against a baseline of 4/min is no spike: {e:?}");
    // Later in the same minute, from memory: the same judgement.
    db.clock.advance(Duration::seconds(30));
    let (e, m) = round(&mut memo).await;
    memo = m;
    assert!(!e.changed(), "the remembered baseline still counts: {e:?}");
    // 25 in the next minute: a spike, judged once the minute is complete.
    db.clock.set(start + Duration::seconds(1));
    put(&db, 25, "signup", Some("ok"), None).await;
    db.clock.set(start + Duration::seconds(45));
    let (e, m) = round(&mut memo).await;
    memo = m;
    assert!(!e.changed(), "the current minute is not judged yet");
    db.clock.set(start + Duration::seconds(61));
    let (e, _) = round(&mut memo).await;
    assert_eq!(e.raised, ["signup_spike"]);
    assert!(
        raised(&db, "signup_spike").await[0].contains("signups 25/min vs 4.2/min usual"),
        "{:?}",
        raised(&db, "signup_spike").await
    );
}
