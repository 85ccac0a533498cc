//! The HTTP API over real HTTP (server on 127.0.0.1:0), on both backends.

mod common;

use common::server::{code_in, link_in, start};

use chrono::Duration;
use common::{TestDb, meta, partner};
use reqwest::StatusCode;
use serde_json::{Value, json};
use velvet::config::{Config, RuleText};
use velvet::domain::limits::Rule;
use velvet::domain::{CodeRef, CodeSet, Switch};

on_both_backends!(
    the_journey_over_http,
    an_unknown_email_redeems_then_confirms,
    answers_do_not_enumerate,
    too_many_signups_get_429_and_keep_the_entry,
    ten_bad_codes_lock_the_device_out,
    a_spoofed_forwarded_for_does_not_escape_the_limit,
    pauses_over_http,
    health_metrics_and_spec,
    joined_webhook_is_signed,
    two_servers_share_their_limits,
    the_pacer_waits_while_redemption_is_paused,
    cors_allows_only_the_configured_origin,
    the_simulator_drives_a_server,
    a_bot_trying_500_codes_is_stopped_within_ten,
    a_flood_from_one_prefix_does_not_drown_real_people,
    a_leaked_code_is_contained_from_the_shell,
    opening_a_confirmation_link_confirms_nobody,
    a_code_holder_cannot_probe_who_is_on_the_list,
    two_clients_behind_one_proxy_are_limited_apart,
    the_device_cookie_is_secure_behind_https,
    metrics_can_be_kept_off_the_public_listener,
    a_database_dump_holds_no_secret,
    the_spec_describes_what_the_server_accepts,
    a_second_confirmation_gets_the_same_answer,
);

async fn the_journey_over_http(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let admin = db.admin().await;
    let r = s.post("/v1/waitlist", json!({"email": "Ada@Example.com", "source": "hn"}), "d1").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.json()["status"], "check_email");
    let mail = s.mail_to("ada@example.com", "confirm").await;
    let link = link_in(&mail);
    assert!(link.starts_with(&format!("{}/v1/confirm/", s.base)), "{link}");
    let r = s.click(&link).await;
    assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::OK, Some("confirmed")));

    db.velvet.approve_one(&admin, "ada@example.com", false).await.unwrap();
    // The pacer inside `serve` picks the approval up and the invite is mailed.
    let invite = s.mail_to("ada@example.com", "invite").await;
    let code = code_in(&invite);
    let r = s
        .post("/v1/redeem", json!({"code": code.to_lowercase().replace('-', " "), "email": "ada@example.com"}), "d1")
        .await;
    assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::OK, Some("joined")), "{}", r.body);
    let l = db.velvet.lookup(&admin, "ada@example.com").await.unwrap();
    assert_eq!(l.status, "joined");
    assert!(l.events.iter().all(|e| e.ip_prefix.as_deref().is_none_or(|p| p == "127.0.0.0/24")));
    assert!(l.events.iter().any(|e| e.kind == "invite_sent" && e.actor == "pacer"));
    s.stop().await;
}

async fn an_unknown_email_redeems_then_confirms(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let admin = db.admin().await;
    let code = db.partner_code("hn", 5).await;
    let r = s.post("/v1/redeem", json!({"code": code, "email": "newcomer@example.org"}), "d2").await;
    assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::ACCEPTED, Some("check_email")), "{}", r.body);
    let link = link_in(&s.mail_to("newcomer@example.org", "confirm").await);
    let r = s.click(&link).await;
    assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::OK, Some("joined")));
    // The same link again: still fine, the same answer, nothing new happens.
    assert_eq!(
        (s.click(&link).await.status, s.click(&link).await.json()["status"].as_str()),
        (StatusCode::OK, Some("joined"))
    );
    let html = s.send(s.http.post(&link).header("accept", "text/html")).await;
    assert!(html.body.contains("<html") && html.body.contains("you are in"), "{}", html.body);
    assert_eq!(db.velvet.lookup(&admin, "newcomer@example.org").await.unwrap().status, "joined");
    assert_eq!(s.get("/v1/confirm/not-a-token").await.json()["error"], "invalid_link");
    assert_eq!(s.click(&format!("{}/v1/confirm/not-a-token", s.base)).await.json()["error"], "invalid_link");
    s.stop().await;
}

async fn answers_do_not_enumerate(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let admin = db.admin().await;
    db.confirmed("waiting@example.com").await;
    db.confirmed("blocked@example.com").await;
    db.velvet.block(&admin, "blocked@example.com", Some("bot")).await.unwrap();
    let joined_code = db.partner_code("hn", 1).await;
    db.confirmed("joined@example.com").await;
    db.velvet.redeem(&joined_code, "joined@example.com", &meta()).await.unwrap();

    let mut answers = Vec::new();
    for email in ["brand-new@example.com", "waiting@example.com", "blocked@example.com", "joined@example.com"] {
        let r = s.post("/v1/waitlist", json!({ "email": email }), "enum").await;
        answers.push((r.status, r.body));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // Every unusable code: one answer.
    let revoked = db.partner_code("hn", 5).await;
    db.velvet.revoke(&admin, &CodeSet::Code(CodeRef::Typed(revoked.clone())), None, false).await.unwrap();
    let paused = db.partner_code("ph", 5).await;
    db.velvet.pause(&admin, &Switch::Campaign("ph".into()), None).await.unwrap();
    let good = db.partner_code("hn", 5).await;
    let unknown = velvet::domain::InviteCode::generate(Some("HN")).unwrap().to_string();
    let cases = [
        (unknown.as_str(), "waiting@example.com"),
        (revoked.as_str(), "waiting@example.com"),
        (joined_code.as_str(), "waiting@example.com"),
        (paused.as_str(), "waiting@example.com"),
        (unknown.as_str(), "blocked@example.com"),
        (revoked.as_str(), "joined@example.com"),
    ];
    let mut bodies = Vec::new();
    for (i, (code, email)) in cases.iter().enumerate() {
        let r = s.post("/v1/redeem", json!({ "code": code, "email": email }), &format!("e{i}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        bodies.push(r.body);
    }
    // And an expired one.
    db.clock.advance(Duration::days(15));
    let r = s.post("/v1/redeem", json!({ "code": good, "email": "waiting@example.com" }), "e-late").await;
    bodies.push(r.body);
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(serde_json::from_str::<Value>(&bodies[0]).unwrap()["error"], "code_unusable");
    assert_eq!(
        db.count("SELECT COUNT(DISTINCT reason) FROM events WHERE kind = 'redeem' AND outcome = 'failed'").await,
        5,
        "the private reasons differ"
    );
    s.stop().await;
}

async fn too_many_signups_get_429_and_keep_the_entry(db: TestDb) {
    let s = start(&db, |c| c.limits.signup.ip = Some(RuleText(Some(Rule::new(3, 60))))).await;
    for i in 0..3 {
        let r = s.post("/v1/waitlist", json!({ "email": format!("p{i}@example.com") }), &format!("dev{i}")).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let r = s.post("/v1/waitlist", json!({ "email": "p0@example.com" }), "dev9").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json()["error"], "slow_down");
    assert!(r.json()["message"].as_str().unwrap().contains("Your place on the list is safe"));
    let wait: u64 = r.retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 3);
    assert_eq!(
        db.count("SELECT attempts FROM entries WHERE email = 'p0@example.com'").await,
        1,
        "the refused repeat changed nothing"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'rate_limited'").await, 1);
    s.stop().await;
}

async fn ten_bad_codes_lock_the_device_out(db: TestDb) {
    let s = start(&db, |c| c.limits.redeem.ip = Some(RuleText(Some(Rule::new(100, 60))))).await;
    db.confirmed("guesser@example.com").await;
    let good = db.partner_code("hn", 5).await;
    for _ in 0..10 {
        let guess = velvet::domain::InviteCode::generate(None).unwrap().to_string();
        let r = s.post("/v1/redeem", json!({ "code": guess, "email": "guesser@example.com" }), "bot-1").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = s.post("/v1/redeem", json!({ "code": good, "email": "guesser@example.com" }), "bot-1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "locked out even with a good code");
    let wait: u64 = r.retry_after.unwrap().parse().unwrap();
    assert!(wait > 14 * 60 && wait <= 15 * 60, "{wait}");
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes WHERE uses > 0").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'rate_limited' AND rule LIKE 'cooldown%'").await, 1);
    s.stop().await;
}

async fn a_spoofed_forwarded_for_does_not_escape_the_limit(db: TestDb) {
    let s = start(&db, |c| c.limits.signup.ip = Some(RuleText(Some(Rule::new(3, 60))))).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let req = s
            .http
            .post(format!("{}/v1/waitlist", s.base))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .header("x-device-id", format!("spoof{i}"))
            .header("content-type", "application/json")
            .body(json!({ "email": format!("s{i}@example.com") }).to_string());
        statuses.push(s.send(req).await.status.as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 429, 429]);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE ip_prefix = '127.0.0.0/24' AND kind = 'signup'").await,
        3,
        "the real address is recorded"
    );
    s.stop().await;
}

async fn pauses_over_http(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let admin = db.admin().await;
    db.confirmed("p@example.com").await;
    let code = db.partner_code("hn", 5).await;
    db.velvet.pause(&admin, &Switch::Campaign("hn".into()), None).await.unwrap();
    let r = s.post("/v1/redeem", json!({ "code": code, "email": "p@example.com" }), "p1").await;
    assert_eq!((r.status.as_u16(), r.json()["error"].as_str()), (400, Some("code_unusable")));
    db.velvet.resume(&admin, &Switch::Campaign("hn".into())).await.unwrap();
    db.velvet.pause(&admin, &Switch::Redemption, None).await.unwrap();
    let r = s.post("/v1/redeem", json!({ "code": code, "email": "p@example.com" }), "p1").await;
    assert_eq!((r.status.as_u16(), r.json()["error"].as_str()), (503, Some("paused")));
    db.velvet.pause(&admin, &Switch::Signups, None).await.unwrap();
    let r = s.post("/v1/waitlist", json!({ "email": "late@example.com" }), "p1").await;
    assert_eq!((r.status.as_u16(), r.json()["error"].as_str()), (503, Some("paused")));
    db.velvet.resume(&admin, &Switch::Redemption).await.unwrap();
    let r = s.post("/v1/redeem", json!({ "code": code, "email": "p@example.com" }), "p1").await;
    assert_eq!(r.status.as_u16(), 200);
    s.stop().await;
}

async fn health_metrics_and_spec(db: TestDb) {
    let s = start(&db, |_| {}).await;
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(s.get("/readyz").await.status, StatusCode::OK);
    s.post("/v1/waitlist", json!({ "email": "m@example.com" }), "m").await;
    let m = s.get("/metrics").await.body;
    assert!(m.contains("velvet_http_requests_total{route=\"/v1/waitlist\",status=\"202\"} 1"), "{m}");
    assert!(m.contains("velvet_outcomes_total{action=\"signup\",outcome=\"accepted\"} 1"), "{m}");
    assert!(m.contains("velvet_outbox_depth"), "{m}");
    let spec: Value = s.get("/openapi.json").await.json();
    for path in [
        "/v1/waitlist",
        "/v1/confirm/{token}",
        "/v1/redeem",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/join",
    ] {
        assert!(spec["paths"].get(path).is_some(), "spec lacks {path}");
    }
    let join = s.get("/join").await;
    assert!(join.body.contains("<form method=\"post\" action=\"/v1/waitlist\">"));
    // The form works without JavaScript: a browser posting it gets HTML back.
    let r = s
        .send(
            s.http
                .post(format!("{}/v1/waitlist", s.base))
                .header("accept", "text/html")
                .form(&[("email", "form@example.com")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.body.contains("Check your inbox"), "{}", r.body);
    s.stop().await;
}

async fn joined_webhook_is_signed(db: TestDb) {
    // The product's backend: records what it receives.
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<(String, String)>::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let sig = headers.get("velvet-signature").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                sink.lock().await.push((sig, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = start(&db, |c| {
        c.serve.webhook_url = Some(format!("http://{hook_addr}/hook"));
        c.serve.webhook_secret = Some("whsec-test".into());
    })
    .await;
    let admin = db.admin().await;
    db.velvet.set_setting(&admin, "webhook_events", "joined").await.unwrap();
    db.confirmed("hooked@example.com").await;
    let code = db.partner_code("hn", 5).await;
    let r = s.post("/v1/redeem", json!({ "code": code, "email": "hooked@example.com" }), "h").await;
    assert_eq!(r.status, StatusCode::OK);
    let (sig, body) = common::eventually("the join webhook", std::time::Duration::from_secs(10), || async {
        received.lock().await.first().cloned()
    })
    .await;
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((payload["event"].as_str(), payload["email"].as_str()), (Some("joined"), Some("hooked@example.com")));
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t: i64 = t.trim_start_matches("t=").parse().unwrap();
    assert_eq!(v1, velvet::worker::transport::sign("whsec-test", t, &body));
    s.stop().await;
}

async fn two_servers_share_their_limits(db: TestDb) {
    let tight = |c: &mut Config| c.limits.signup.ip = Some(RuleText(Some(Rule::new(3, 600))));
    let a = start(&db, tight).await;
    let b = start(&db, tight).await;
    for i in 0..3 {
        assert_eq!(
            a.post("/v1/waitlist", json!({ "email": format!("a{i}@example.com") }), &format!("a{i}")).await.status,
            StatusCode::ACCEPTED
        );
    }
    // Wait until A has merged its counts into the shared table.
    common::until("A's counts in the database", std::time::Duration::from_secs(10), || async {
        db.count("SELECT COALESCE(MAX(count), 0) FROM rate_counters").await >= 3
    })
    .await;
    // B never saw these requests, but starts from the shared count.
    let r = b.post("/v1/waitlist", json!({ "email": "b0@example.com" }), "b0").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 3);
    a.stop().await;
    b.stop().await;
}

async fn the_pacer_waits_while_redemption_is_paused(db: TestDb) {
    let admin = db.admin().await;
    db.velvet.pause(&admin, &Switch::Redemption, Some("incident")).await.unwrap();
    db.confirmed("patient@example.com").await;
    db.velvet.approve_one(&admin, "patient@example.com", false).await.unwrap();
    let s = start(&db, |_| {}).await;
    // Give the pacer (1 s period) two full rounds while paused.
    let probe = s.post("/v1/waitlist", json!({ "email": "probe@example.com" }), "probe").await;
    assert_eq!(probe.status, StatusCode::ACCEPTED);
    s.mail_to("probe@example.com", "confirm").await;
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'invite_sent'").await, 0, "no invite while paused");
    db.velvet.resume(&admin, &Switch::Redemption).await.unwrap();
    let invite = s.mail_to("patient@example.com", "invite").await;
    assert!(invite.contains("Invite code: "));
    s.stop().await;
}

async fn cors_allows_only_the_configured_origin(db: TestDb) {
    let s = start(&db, |c| c.serve.cors_origins = vec!["https://product.example".into()]).await;
    let preflight = |origin: &'static str| {
        s.http
            .request(reqwest::Method::OPTIONS, format!("{}/v1/waitlist", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let ok = preflight("https://product.example").send().await.unwrap();
    assert_eq!(ok.headers().get("access-control-allow-origin").unwrap(), "https://product.example");
    let other = preflight("https://evil.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}

async fn the_simulator_drives_a_server(db: TestDb) {
    use velvet::sim::traffic::{Scenario, SimOptions, run};
    let s = start(&db, |c| c.serve.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opts = SimOptions {
        scenario: Scenario::Steady,
        target: s.base.clone(),
        rate: 40.0,
        duration: std::time::Duration::from_millis(1500),
        code: None,
        mail_dir: Some(s.mail.path().to_path_buf()),
        seed: 3,
    };
    let summary = run(opts, stop.clone()).await.unwrap();
    let signups = &summary.0["signup"];
    assert!(signups.sent >= 20 && signups.errors == 0, "{}", summary.table());
    assert_eq!(
        signups.accepted,
        signups.sent,
        "distinct simulated addresses are not rate limited: {}",
        summary.table()
    );
    assert!(
        db.count("SELECT COUNT(DISTINCT ip_prefix) FROM entries").await >= 10,
        "addresses came through the trusted proxy header"
    );
    let bots = SimOptions {
        scenario: Scenario::BotWave,
        rate: 80.0,
        duration: std::time::Duration::from_millis(1500),
        ..SimOptions {
            scenario: Scenario::Steady,
            target: s.base.clone(),
            rate: 1.0,
            duration: std::time::Duration::ZERO,
            code: None,
            mail_dir: None,
            seed: 4,
        }
    };
    let wave = run(bots, stop).await.unwrap();
    let limited: u64 = wave.0.values().map(|s| s.limited).sum();
    assert!(limited > 0, "a bot wave meets the limits: {}", wave.table());
    assert_eq!(wave.0.values().map(|s| s.errors).sum::<u64>(), 0);
    s.stop().await;
}

async fn a_bot_trying_500_codes_is_stopped_within_ten(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let mut reached = 0;
    let mut limited = 0;
    for _ in 0..500 {
        let guess = velvet::domain::InviteCode::generate(None).unwrap().to_string();
        let r = s.post("/v1/redeem", json!({ "code": guess, "email": "bot@tempmail.example" }), "bot").await;
        match r.status.as_u16() {
            400 => reached += 1,
            429 => limited += 1,
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert!(reached <= 10, "{reached} guesses reached the code table");
    assert_eq!(reached + limited, 500);
    assert!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'redeem' AND outcome = 'failed'").await <= 10);
    s.stop().await;
}

/// The seeds' night of the bot wave: over eight (simulated) hours, one /24
/// sends thousands of signups from 250 addresses. 5,000 get onto the
/// list (each address stays within its limits), yet every real person from
/// elsewhere is answered at once, and the people who were there first are
/// still first in line, ahead of the bots and in their order.
async fn a_flood_from_one_prefix_does_not_drown_real_people(db: TestDb) {
    let s = start(&db, |c| {
        c.serve.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.serve.public_answer_ms = 0;
    })
    .await;
    db.confirmed("early@example.org").await;
    let post = |ip: String, email: String| {
        s.http
            .post(format!("{}/v1/waitlist", s.base))
            .header("x-forwarded-for", ip)
            .header("content-type", "application/json")
            .body(json!({ "email": email }).to_string())
            .send()
    };
    let mut accepted = 0;
    let mut limited = 0;
    let mut real = Vec::new();
    for hour in 0..8 {
        // Two waves in the night, each 11 signups from every one of
        // 203.0.113.1-250 (one more than the per-address limit), 32 at a time.
        if hour % 4 == 0 {
            let mut n = 0;
            while n < 2_750 {
                let wave: Vec<_> = (n..n + 32)
                    .map(|i| post(format!("203.0.113.{}", 1 + i % 250), format!("bot{hour}-{i}@tempmail.example")))
                    .collect();
                for r in futures_join(wave).await {
                    match r.status().as_u16() {
                        202 => accepted += 1,
                        429 => limited += 1,
                        other => panic!("a bot got {other}"),
                    }
                }
                n += 32;
            }
        }
        // A real person from elsewhere, in the middle of it.
        let email = format!("person{hour}@example.org");
        let r = post("198.51.100.7".into(), email.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 202, "{email} was answered at once");
        db.clock.advance(Duration::minutes(1));
        db.confirmed(&email).await;
        real.push(email);
        db.clock.advance(Duration::minutes(59));
    }
    assert!(accepted >= 5_000, "the wave did land: {accepted} accepted, {limited} limited");
    assert!(limited > 0, "and the limits did bite");
    // First in line: the early person, then the real people in their order.
    let admin = db.admin().await;
    let next = db.velvet.approve_next(&admin, 9, true).await.unwrap();
    let order: Vec<&str> = next.iter().map(|e| e.email.as_str()).collect();
    let mut want = vec!["early@example.org"];
    want.extend(real.iter().map(String::as_str));
    assert_eq!(order, want);
    s.stop().await;
}

/// Runs the requests at the same time; answers in any order.
async fn futures_join<F>(all: Vec<F>) -> Vec<reqwest::Response>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for f in all {
        set.spawn(f);
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap().expect("HTTP request"));
    }
    out
}

async fn a_leaked_code_is_contained_from_the_shell(db: TestDb) {
    let s = start(&db, |c| c.limits.cooldown.failures = 0).await;
    let admin = db.admin().await;
    let spec = |campaign: &str| partner(campaign, 500, 2);
    let leak = db.velvet.issue_partner_codes(&admin, &spec("podcast")).await.unwrap();
    let other = db.velvet.issue_partner_codes(&admin, &spec("hn")).await.unwrap().codes[0].to_string();
    let (leaked, sibling) = (leak.codes[0].to_string(), leak.codes[1].to_string());
    for i in 0..5 {
        let email = format!("early{i}@example.org");
        db.confirmed(&email).await;
        let r = s.post("/v1/redeem", json!({ "code": leaked, "email": email }), &format!("d{i}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let shell = |args: &[&str]| {
        let out = common::velvet_cli(&db.url).args(args).env("VELVET_OPERATOR", "root").output().unwrap();
        assert!(out.status.success(), "velvet {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = shell(&["codes", "revoke", "--batch", &leak.batch_id.to_string(), "--reason", "posted on a forum"]);
    assert!(said.contains("revoked 2 codes"), "{said}");
    shell(&["pause", "redemption", "--campaign", "podcast", "--reason", "leak"]);

    let unknown = s.post("/v1/redeem", json!({ "code": velvet::domain::InviteCode::generate(None).unwrap().to_string(), "email": "x@example.org" }), "dx").await;
    for (i, code) in [&leaked, &sibling].into_iter().enumerate() {
        let email = format!("late{i}@example.org");
        db.confirmed(&email).await;
        let r = s.post("/v1/redeem", json!({ "code": code, "email": email }), &format!("l{i}")).await;
        assert_eq!(
            (r.status, &r.body),
            (StatusCode::BAD_REQUEST, &unknown.body),
            "the leak is shut, with the one public answer"
        );
        assert_eq!(db.velvet.lookup(&admin, &email).await.unwrap().status, "confirmed", "{email} keeps their place");
    }
    db.confirmed("fan@example.org").await;
    let r = s.post("/v1/redeem", json!({ "code": other, "email": "fan@example.org" }), "fan").await;
    assert_eq!(r.status, StatusCode::OK, "another campaign goes on: {}", r.body);
    for i in 0..5 {
        assert_eq!(db.velvet.lookup(&admin, &format!("early{i}@example.org")).await.unwrap().status, "joined");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'revoke' AND actor = 'root'").await, 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'pause' AND actor = 'root'").await, 1);
    s.stop().await;
}

/// Link scanners in corporate mail fetch every link: the GET shows a page
/// with one button and changes nothing; only the button's POST confirms.
async fn opening_a_confirmation_link_confirms_nobody(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let admin = db.admin().await;
    db.confirmed("first@example.com").await;
    db.confirmed("second@example.com").await;
    let code = db.partner_code("hn", 5).await;
    let r = s.post("/v1/redeem", json!({"code": code, "email": "held@example.org"}), "d-held").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        s.post("/v1/waitlist", json!({"email": "third@example.com"}), "d-third").await.status,
        StatusCode::ACCEPTED
    );
    let held = link_in(&s.mail_to("held@example.org", "confirm").await);
    let third = link_in(&s.mail_to("third@example.com", "confirm").await);
    let events = db.events_total().await;
    let used = "SELECT COUNT(*) FROM confirm_tokens WHERE used_at IS NOT NULL";
    let used_before = db.count(used).await;

    for link in [&held, &third] {
        for accept in ["*/*", "text/html", "application/json"] {
            let r = s.send(s.http.get(link.as_str()).header("accept", accept)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let action = format!("<form method=\"post\" action=\"/v1/confirm/{}\">", link.rsplit('/').next().unwrap());
            assert!(r.body.contains(&action) && r.body.contains("Confirm my place"), "{}", r.body);
            assert_eq!(r.body.matches("<button").count(), 1, "{}", r.body);
            assert!(!r.body.contains("<script"), "no JavaScript: {}", r.body);
        }
    }
    assert_eq!(db.events_total().await, events, "opening links wrote no event");
    assert_eq!(db.count(used).await, used_before, "no link was used");
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'pending'").await, 2, "nobody was confirmed");
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions WHERE status = 'pending'").await, 1, "nobody joined");

    // The button: a form POST from a browser gets the page, with the place.
    let html = |link: &str| {
        s.http
            .post(link)
            .header("accept", "text/html")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
    };
    let r = s.send(html(&third)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("You&#39;re on the list") && r.body.contains("3rd in line"), "{}", r.body);
    let r = s.send(html(&held)).await;
    assert!(r.body.contains("you are in"), "{}", r.body);
    assert_eq!(db.velvet.lookup(&admin, "held@example.org").await.unwrap().status, "joined");
    assert_eq!(db.velvet.lookup(&admin, "third@example.com").await.unwrap().status, "confirmed");

    // Bad and expired links: the one generic 400, on GET and on POST.
    s.post("/v1/waitlist", json!({"email": "late@example.com"}), "d-late").await;
    let late = link_in(&s.mail_to("late@example.com", "confirm").await);
    db.clock.advance(Duration::hours(49));
    let mut bodies = Vec::new();
    for link in [
        late.clone(),
        format!("{}/v1/confirm/not-a-token", s.base),
        format!("{}/v1/confirm/{}", s.base, "ab".repeat(16)),
    ] {
        for r in [s.get(&link).await, s.click(&link).await] {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{link}: {}", r.body);
            bodies.push(r.body);
        }
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(db.velvet.lookup(&admin, "late@example.com").await.unwrap().status, "pending");
    s.stop().await;
}

/// A double click, even two clicks at once, gets the first click's answer
/// on both backends (PostgreSQL let the second one fail with a 409).
async fn a_second_confirmation_gets_the_same_answer(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let code = db.partner_code("hn", 5).await;
    s.post("/v1/waitlist", json!({"email": "twice@example.com"}), "d1").await;
    s.post("/v1/redeem", json!({"code": code, "email": "held@example.com"}), "d2").await;
    for (email, want) in [("twice@example.com", "confirmed"), ("held@example.com", "joined")] {
        let link = link_in(&s.mail_to(email, "confirm").await);
        let clicks: Vec<_> = (0..6)
            .map(|i| {
                let req = s.http.post(&link).header("x-device-id", format!("c{i}"));
                // JSON, a form, or nothing at all: all the same to a confirmation.
                match i % 3 {
                    0 => req.header("content-type", "application/json").body("{}"),
                    1 => req.header("content-type", "application/x-www-form-urlencoded").body(""),
                    _ => req,
                }
                .send()
            })
            .collect();
        let mut answers = Vec::new();
        for r in futures_join(clicks).await {
            answers.push((r.status().as_u16(), r.text().await.unwrap()));
        }
        let again = s.click(&link).await;
        answers.push((again.status.as_u16(), again.body));
        assert!(answers.iter().all(|a| a == &answers[0]), "{email}: {answers:?}");
        assert_eq!(answers[0].0, 200, "{answers:?}");
        assert_eq!(serde_json::from_str::<Value>(&answers[0].1).unwrap()["status"], want);
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE kind = 'confirm' AND outcome = 'ok'").await,
        2,
        "each confirmed once"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'joined'").await, 1);
    s.stop().await;
}

/// With a usable partner code, joined and blocked emails get exactly the
/// answer of an unconfirmed one: same status, same bytes, no use taken.
/// The joined person is told by mail (once per resend window); the
/// blocked one hears nothing; the private reason is in the event.
async fn a_code_holder_cannot_probe_who_is_on_the_list(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let admin = db.admin().await;
    let first = db.partner_code("hn", 1).await;
    db.confirmed("joined@example.com").await;
    db.velvet.redeem(&first, "joined@example.com", &meta()).await.unwrap();
    db.confirmed("blocked@example.com").await;
    db.velvet.block(&admin, "blocked@example.com", Some("bot")).await.unwrap();
    s.post("/v1/waitlist", json!({"email": "pending@example.com"}), "w").await;
    let code = db.partner_code("chat", 10).await;

    let mut answers = Vec::new();
    for (i, email) in
        ["fresh@example.com", "pending@example.com", "joined@example.com", "blocked@example.com", "joined@example.com"]
            .iter()
            .enumerate()
    {
        let r = s.post("/v1/redeem", json!({"code": code, "email": email}), &format!("probe{i}")).await;
        answers.push((r.status, r.body));
    }
    assert_eq!(answers[0].0, StatusCode::ACCEPTED, "{answers:?}");
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(
        db.count("SELECT uses FROM invite_codes WHERE campaign = 'chat'").await,
        2,
        "uses held for fresh and pending only"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions r JOIN entries e ON e.id = r.entry_id WHERE e.email IN ('joined@example.com', 'blocked@example.com') AND r.code_id IN (SELECT id FROM invite_codes WHERE campaign = 'chat')").await, 0);
    let told = s.mail_to("joined@example.com", "already_joined").await;
    assert!(told.contains("You already have access") && told.contains("already in"), "{told}");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'already_joined'").await,
        1,
        "once per resend window"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox o JOIN entries e ON e.id = o.entry_id WHERE e.email = 'blocked@example.com' AND o.kind <> 'confirm'").await, 0, "the blocked one hears nothing");
    let reasons = db.texts("SELECT reason FROM events WHERE kind = 'redeem' AND outcome = 'failed' ORDER BY id").await;
    assert_eq!(reasons.iter().filter(|r| r.starts_with("email already joined")).count(), 2, "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| r.as_str() == "email blocked").count(), 1, "{reasons:?}");
    assert_eq!(db.velvet.lookup(&admin, "joined@example.com").await.unwrap().status, "joined");
    assert!(db.velvet.lookup(&admin, "blocked@example.com").await.unwrap().status.starts_with("blocked"));

    // A used-up code: the one 400 for everybody, joined or not.
    let r1 = s.post("/v1/redeem", json!({"code": first, "email": "someone@example.com"}), "u1").await;
    let r2 = s.post("/v1/redeem", json!({"code": first, "email": "blocked@example.com"}), "u2").await;
    assert_eq!((r1.status, &r1.body), (StatusCode::BAD_REQUEST, &r2.body));
    s.stop().await;
}

/// Behind one trusted proxy that writes ports into X-Forwarded-For (and
/// brackets around IPv6), two clients are two clients, not the proxy.
async fn two_clients_behind_one_proxy_are_limited_apart(db: TestDb) {
    let s = start(&db, |c| {
        c.serve.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.limits.signup.ip = Some(RuleText(Some(Rule::new(2, 600))));
    })
    .await;
    let post = |xff: &str, i: usize| {
        s.http
            .post(format!("{}/v1/waitlist", s.base))
            .header("x-forwarded-for", xff.to_string())
            .header("x-device-id", format!("dev-{xff}-{i}"))
            .header("content-type", "application/json")
            .body(json!({ "email": format!("p{i}-{}@example.com", xff.len()) }).to_string())
    };
    let mut statuses = Vec::new();
    for xff in ["203.0.113.7:5555", "[2001:db8::1]:443"] {
        for i in 0..3 {
            statuses.push(s.send(post(xff, i)).await.status.as_u16());
        }
    }
    assert_eq!(statuses, [202, 202, 429, 202, 202, 429], "each client has its own limit");
    let prefixes = db.texts("SELECT DISTINCT ip_prefix FROM events WHERE kind = 'signup' ORDER BY ip_prefix").await;
    assert_eq!(prefixes, ["2001:db8::/48", "203.0.113.0/24"]);
    s.stop().await;
}

/// `velvet_device` is `Secure` when the public URL is https, and only then.
async fn the_device_cookie_is_secure_behind_https(db: TestDb) {
    let cookie = |r: reqwest::Response| {
        r.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    };
    let plain = start(&db, |_| {}).await;
    let r = plain
        .http
        .post(format!("{}/v1/waitlist", plain.base))
        .header("content-type", "application/json")
        .body(r#"{"email":"a@example.com"}"#)
        .send()
        .await
        .unwrap();
    let c = cookie(r);
    assert!(
        c.starts_with("velvet_device=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Lax")
            && !c.contains("Secure"),
        "{c}"
    );
    plain.stop().await;
    let tls = start(&db, |c| c.serve.public_url = Some("https://beta.example.com".into())).await;
    let r = tls
        .http
        .post(format!("{}/v1/waitlist", tls.base))
        .header("content-type", "application/json")
        .body(r#"{"email":"b@example.com"}"#)
        .send()
        .await
        .unwrap();
    let c = cookie(r);
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure"), "{c}");
    // The confirmation page sets it the same way.
    let r = tls.http.get(format!("{}/v1/confirm/not-a-token", tls.base)).send().await.unwrap();
    assert!(cookie(r).ends_with("; Secure"));
    tls.stop().await;
}

/// `[serve] metrics = false`: the public listener has no /metrics (404).
async fn metrics_can_be_kept_off_the_public_listener(db: TestDb) {
    let s = start(&db, |c| c.serve.metrics = false).await;
    let r = s.get("/metrics").await;
    assert_eq!((r.status, r.json()["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    assert!(!r.body.contains("velvet_"), "{}", r.body);
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK);
    s.stop().await;
}

/// The secret that keys rate-limit and device hashes is not in the
/// database: only its fingerprint. On SQLite it lives in a 0600 key file
/// beside the database; on PostgreSQL it must be configured. A server with
/// another secret refuses to start, saying how to fix it.
async fn a_database_dump_holds_no_secret(db: TestDb) {
    let postgres = db.url.starts_with("postgres");
    let s = start(&db, |_| {}).await;
    s.post("/v1/waitlist", json!({"email": "dump@example.com"}), "device-1").await;
    s.stop().await;
    let secret = if postgres {
        common::TEST_SECRET.to_string()
    } else {
        use std::os::unix::fs::PermissionsExt;
        let path = format!("{}.key", db.url.trim_start_matches("sqlite://"));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{path}");
        std::fs::read_to_string(&path).unwrap().trim().to_string()
    };
    let values = db.texts("SELECT key || '=' || value FROM settings").await;
    assert!(values.iter().all(|v| !v.contains(&secret)), "{values:?}");
    assert!(!values.iter().any(|v| v.starts_with("_server_secret")), "{values:?}");
    assert_eq!(
        db.texts("SELECT value FROM settings WHERE key = '_secret_fingerprint'").await,
        [velvet::secret::fingerprint(&secret)]
    );

    // Another secret on the same database: refused, naming the fix.
    let mut other = Config::default();
    other.serve.listen = "127.0.0.1:0".into();
    other.serve.secret = Some("a-different-secret-0123456789".into());
    let err = velvet::serve::start(db.velvet.clone(), &other).await.err().expect("a mismatched secret is refused");
    assert!(err.contains("another secret") && err.contains("VELVET_SECRET"), "{err}");
    if postgres {
        other.serve.secret = None;
        let err =
            velvet::serve::start(db.velvet.clone(), &other).await.err().expect("PostgreSQL needs a configured secret");
        assert!(err.contains("VELVET_SECRET") && err.contains("every server"), "{err}");
    }
    // Changing it on purpose: forget the fingerprint, and the new one holds.
    db.velvet.forget_secret_fingerprint().await.unwrap();
    other.serve.secret = Some("a-different-secret-0123456789".into());
    velvet::serve::start(db.velvet.clone(), &other)
        .await
        .expect("a forgotten fingerprint is recorded afresh")
        .shutdown()
        .await;

    // A database from before: its stored secret is migrated away.
    let now = db.velvet.now();
    let mut tx = db.store.write().await.unwrap();
    tx.upsert_setting("_server_secret", "the-old-stored-secret", now, "velvet").await.unwrap();
    tx.commit().await.unwrap();
    match &db.store {
        velvet::Store::Sqlite(p) => {
            sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 3").execute(p).await.unwrap();
        }
        velvet::Store::Postgres(p) => {
            sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 3").execute(p).await.unwrap();
        }
    }
    db.store.migrate().await.unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM settings WHERE key = '_server_secret'").await, 0);
}

/// Checks a string example against its schema: type, lengths (in
/// characters, as JSON Schema counts them) and enum.
fn fits(schema: &Value, value: &Value, what: &str) {
    let Some(text) = value.as_str() else { panic!("{what}: {value} is not a string") };
    let n = text.chars().count() as u64;
    assert!(schema["minLength"].as_u64().is_none_or(|min| n >= min), "{what}: {text:?} is shorter than {schema}");
    assert!(schema["maxLength"].as_u64().is_none_or(|max| n <= max), "{what}: {text:?} is longer than {schema}");
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(allowed.contains(value), "{what}: {value} is not one of {allowed:?}");
    }
}

/// The spec says every status each public path can answer, with its body,
/// and its examples are valid: the example code passes the real parser
/// (check symbol included), and each request example, posted, gets the
/// documented answer. The lengths it states are the server's.
async fn the_spec_describes_what_the_server_accepts(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let spec = s.get("/openapi.json").await.json();
    let schemas = &spec["components"]["schemas"];
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str() {
            Some(r) => schemas[r.rsplit('/').next().unwrap()].clone(),
            None => v.clone(),
        }
    };
    let required: [(&str, &str, &[u16]); 4] = [
        ("/v1/waitlist", "post", &[202, 400, 408, 409, 413, 415, 422, 429, 431, 503]),
        ("/v1/confirm/{token}", "get", &[200, 400, 429, 431, 503]),
        ("/v1/confirm/{token}", "post", &[200, 400, 408, 413, 415, 429, 431, 503]),
        ("/v1/redeem", "post", &[200, 202, 400, 408, 409, 413, 415, 422, 429, 431, 503]),
    ];
    for (path, method, statuses) in required {
        let responses = &spec["paths"][path][method]["responses"];
        for status in statuses {
            let r = &responses[status.to_string()];
            assert!(r.is_object(), "{method} {path} does not document {status}");
            if let Some(json) = r["content"].get("application/json") {
                let schema = resolve(&json["schema"]);
                let examples: Vec<Value> = match json.get("example") {
                    Some(e) => vec![e.clone()],
                    None => json["examples"]
                        .as_object()
                        .map(|m| m.values().map(|e| e["value"].clone()).collect())
                        .unwrap_or_default(),
                };
                assert!(!examples.is_empty(), "{method} {path} {status} has no example body");
                for e in examples {
                    let field = if *status >= 400 { "error" } else { "status" };
                    assert!(
                        schema["required"].as_array().unwrap().contains(&json!(field)),
                        "{method} {path} {status}: {schema}"
                    );
                    fits(&schema["properties"][field], &e[field], &format!("{method} {path} {status}"));
                    assert!(e["message"].is_string());
                }
            }
        }
    }

    // The request examples are valid by the server's own rules...
    let token_param = &spec["paths"]["/v1/confirm/{token}"]["get"]["parameters"][0];
    let token = token_param["example"].as_str().unwrap();
    fits(&token_param["schema"], &json!(token), "token");
    assert!(velvet::domain::token::token_hash(token).is_some(), "the example token is a token");
    let redeem = &spec["paths"]["/v1/redeem"]["post"]["requestBody"]["content"];
    let code = redeem["application/json"]["example"]["code"].as_str().unwrap().to_string();
    let parsed = velvet::domain::InviteCode::parse(&code)
        .expect("the example code passes the real parser, check symbol included");
    assert_eq!(parsed.to_string(), code, "and is printed as the generator prints codes");
    assert_eq!(schemas["RedeemRequest"]["properties"]["code"]["examples"][0], json!(code));
    for (path, name) in [("/v1/waitlist", "WaitlistRequest"), ("/v1/redeem", "RedeemRequest")] {
        for media in ["application/json", "application/x-www-form-urlencoded"] {
            let example = &spec["paths"][path]["post"]["requestBody"]["content"][media]["example"];
            for (field, value) in example.as_object().unwrap() {
                fits(&schemas[name]["properties"][field], value, &format!("{path} {media} {field}"));
            }
            for field in schemas[name]["required"].as_array().unwrap() {
                assert!(example.get(field.as_str().unwrap()).is_some(), "{path} {media} example lacks {field}");
            }
        }
    }

    // ...and, posted, get the documented answer. The example code exists.
    let now = db.velvet.now();
    let mut tx = db.store.write().await.unwrap();
    let hash = parsed.hash().0;
    let new = velvet::store::NewCode {
        hash: Some(&hash),
        hint: Some("W"),
        prefix: Some("HN"),
        kind: velvet::domain::code::CodeKind::Partner,
        campaign: Some("hn"),
        batch_id: None,
        inviter_entry_id: None,
        bound_entry_id: None,
        max_uses: 10,
        daily_cap: None,
        expires_at: now + Duration::days(7),
        now,
        created_by: "root",
    };
    tx.insert_code(new).await.unwrap();
    tx.commit().await.unwrap();
    let documented = |path: &str, method: &str, status: StatusCode| {
        spec["paths"][path][method]["responses"][status.as_str()]["content"]["application/json"]["example"]["status"]
            .clone()
    };
    for (path, want) in [("/v1/waitlist", StatusCode::ACCEPTED), ("/v1/redeem", StatusCode::ACCEPTED)] {
        let content = &spec["paths"][path]["post"]["requestBody"]["content"];
        let r = s.post(path, content["application/json"]["example"].clone(), "spec").await;
        assert_eq!(r.status, want, "{path}: {}", r.body);
        assert_eq!(r.json()["status"], documented(path, "post", want));
        let form: Vec<(String, String)> = content["application/x-www-form-urlencoded"]["example"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let r = s.send(s.http.post(format!("{}{path}", s.base)).header("x-device-id", "spec").form(&form)).await;
        assert_eq!(
            (r.status, r.json()["status"].clone()),
            (want, documented(path, "post", want)),
            "{path} (form): {}",
            r.body
        );
    }
    // The example token, minted for a person: the page, then the confirmation.
    let entry = db.velvet.signup("token@example.com", None, None, &meta()).await.unwrap();
    let velvet::service::SignupOutcome::New { entry_id } = entry else { panic!("{entry:?}") };
    let mut tx = db.store.write().await.unwrap();
    tx.insert_token(entry_id, &velvet::domain::token::token_hash(token).unwrap(), now, now + Duration::hours(48))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let link = format!("{}/v1/confirm/{token}", s.base);
    assert_eq!(s.get(&link).await.status, StatusCode::OK);
    let r = s.post(&format!("/v1/confirm/{token}"), json!({}), "spec").await;
    assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{}", r.body);

    // The stated lengths are the server's: at the limit fine, one more a 422.
    // 64 + "@" + two 63-letter labels, a shorter one and ".com": n in all.
    let email = |n: usize| {
        format!("{}@{}.{}.{}.com", "a".repeat(64), "b".repeat(63), "c".repeat(63), "d".repeat(n - 65 - 128 - 4))
    };
    assert_eq!(email(254).len(), 254);
    let cases = [
        (
            "/v1/waitlist",
            json!({"email": email(254), "note": "n".repeat(500), "source": "s".repeat(64)}),
            StatusCode::ACCEPTED,
        ),
        ("/v1/waitlist", json!({"email": email(255)}), StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/waitlist", json!({"email": ""}), StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/waitlist", json!({"email": "n@example.com", "note": "n".repeat(501)}), StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/waitlist", json!({"email": "s@example.com", "source": "s".repeat(65)}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "/v1/redeem",
            json!({"code": format!("{}{}", "A".repeat(48), parsed.canonical()), "email": "x@example.com"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (i, (path, body, want)) in cases.into_iter().enumerate() {
        let r = s.post(path, body, &format!("len{i}")).await;
        assert_eq!(r.status, want, "case {i}: {}", r.body);
    }
    s.stop().await;
}
