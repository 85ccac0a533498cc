//! Team access over real HTTP: the admin API behind operator tokens, the
//! role of each call enforced by the server, the feed and the console's
//! calls over a context, on both backends.

mod common;

use common::TestDb;
use common::server::{self, Server};
use serde_json::{Value, json};
use std::time::Duration;
use velvet::domain::{Permission, Role};
use velvet::ops::{Each, Ops, Remote, calls};

/// A server with its admin API on its own listener.
async fn admin_server(db: &TestDb) -> (Server, String) {
    let s = server::start(db, |c| c.serve.admin_listen = Some("127.0.0.1:0".into())).await;
    let admin = format!("http://{}", s.running.as_ref().unwrap().admin_addr.expect("an admin listener"));
    (s, admin)
}

/// A token for a new operator `name` with `role`.
async fn token(db: &TestDb, name: &str, role: Role) -> String {
    let root = db.admin().await;
    if db.velvet.operator(name).await.is_err() {
        db.velvet.add_operator("root", name, role).await.unwrap();
    }
    db.velvet.issue_token(&root, name, Some(chrono::Duration::days(90)), None).await.unwrap().token
}

async fn call(
    http: &reqwest::Client,
    admin: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{admin}/v1/admin/{path}");
    let mut req = match &body {
        Some(b) => http.post(url).header("content-type", "application/json").body(b.to_string()),
        None => http.get(url),
    };
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = req.send().await.expect("HTTP");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn whoami_answers_the_tokens_operator_and_every_bad_token_gets_one_401(db: TestDb) {
    let (s, admin) = admin_server(&db).await;
    let http = reqwest::Client::new();
    let good = token(&db, "sam", Role::Support).await;
    let (status, body) = call(&http, &admin, "whoami", Some(&good), None).await;
    assert_eq!((status, body), (200, json!({"operator": "sam", "role": "support"})));

    let expiring = {
        let root = db.admin().await;
        db.velvet.issue_token(&root, "sam", Some(chrono::Duration::hours(1)), None).await.unwrap()
    };
    let revoked = token(&db, "sam", Role::Support).await;
    let revoked_id = db.velvet.tokens(&db.admin().await, Some("sam")).await.unwrap().last().unwrap().id;
    db.velvet.revoke_token(&db.admin().await, revoked_id).await.unwrap();
    let removed = token(&db, "gone", Role::Admin).await;
    db.velvet.remove_operator(&db.admin().await, "gone").await.unwrap();
    db.clock.advance(chrono::Duration::hours(2));

    let last = if good.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &good[..good.len() - 1]);
    let mut answers = Vec::new();
    for t in [None, Some("not-a-token"), Some(wrong.as_str()), Some(&expiring.token), Some(&revoked), Some(&removed)] {
        answers.push(call(&http, &admin, "whoami", t, None).await);
    }
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0].1["error"], "unauthorized");
    for a in &answers {
        assert_eq!(a, &answers[0], "every refused token gets the same answer");
    }
    // The good one still works; the text of no token is in any table.
    assert_eq!(call(&http, &admin, "whoami", Some(&good), None).await.0, 200);
    let mut stored =
        db.texts("SELECT token_hash || ' ' || hint || ' ' || COALESCE(note, '') FROM operator_tokens").await;
    stored.extend(
        db.texts("SELECT kind || ' ' || COALESCE(detail, '') || ' ' || COALESCE(reason, '') FROM events").await,
    );
    for t in [&good, &expiring.token, &revoked, &removed] {
        let secret = &t["velvet_op_".len()..];
        assert!(stored.iter().all(|row| !row.contains(secret)), "a token's text is stored");
    }
    s.stop().await;
}

async fn the_admin_listener_keeps_admin_routes_and_metrics_off_the_public_one(db: TestDb) {
    let (s, admin) = admin_server(&db).await;
    let good = token(&db, "ada", Role::Admin).await;
    let http = reqwest::Client::new();
    let public = s.base.clone();
    assert_eq!(call(&http, &public, "whoami", Some(&good), None).await.0, 404, "no admin route on the public listener");
    assert_eq!(s.get("/metrics").await.status, 404, "no /metrics on the public listener");
    assert_eq!(s.get(&format!("{admin}/metrics")).await.status, 200);
    assert_eq!(call(&http, &admin, "whoami", Some(&good), None).await.0, 200);
    // The public routes are not on the admin listener.
    let r = http.post(format!("{admin}/v1/waitlist")).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Without an admin listener there is no admin API unless asked for.
    let plain = server::start(&db, |_| {}).await;
    assert_eq!(call(&http, &plain.base, "whoami", Some(&good), None).await.0, 404);
    plain.stop().await;
    let beside = server::start(&db, |c| c.serve.admin_on_public = true).await;
    assert_eq!(call(&http, &beside.base, "whoami", Some(&good), None).await.0, 200);
    beside.stop().await;
    let spec = http.get(format!("{admin}/v1/admin/openapi.json")).send().await.unwrap().text().await.unwrap();
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(spec["paths"]["/v1/admin/approve"]["post"].is_object());
    s.stop().await;
}

/// The permission each call needs, as the service's table says; a call
/// added without a row here fails the matrix below.
fn needs(path: &str) -> Option<Permission> {
    use Permission::*;
    Some(match path {
        "whoami" => return None,
        "settings/set" => Settings,
        "invites/send" => Approve,
        "approve" => Approve,
        "block" | "unblock" => Block,
        "block/many" | "unblock/batch" => BlockMany,
        "change-email" => ChangeEmail,
        "reissue" => Reissue,
        "erase" => Erase,
        "codes/issue" => IssueCodes,
        "codes/revoke" => RevokeMany,
        "pause" | "resume" => Pause,
        "mail/retry" => RetryMail,
        "operators/add" | "operators/role" | "operators/remove" | "tokens/issue" | "tokens" | "tokens/revoke" => {
            ManageOperators
        }
        "entries/count" | "entries/newest" | "entries/by-ids" | "feed/tail" | "feed/poll" | "alerts" | "switches"
        | "settings" | "invites/sent-today" | "lookup" | "chain" | "export/person" | "export/page" | "report"
        | "codes/list" | "mail/failed" | "mail/failed/count" | "events/before" | "events/trail" | "entries/id"
        | "operators" | "codes/tree" | "codes/page" => Read,
        other => panic!("no permission listed for {other}: add it to the role matrix"),
    })
}

/// The answers an allowed call may give besides 2xx, in the matrix's order
/// (roles viewer, support, product, admin; each call once per role).
fn may_refuse(path: &str) -> &'static [u16] {
    match path {
        // Support blocked bob (and unblocked him); the admin finds it done.
        "block" | "unblock" => &[409],
        // Support changed cat's address to kat: the admin finds no cat.
        "change-email" => &[404],
        // ann is confirmed, not invited: nothing to reissue.
        "reissue" => &[409],
        // The bulk block took nobody, so there is no batch 1.
        "unblock/batch" => &[404],
        // newbie was removed by then.
        "tokens/issue" => &[404],
        _ => &[],
    }
}

/// Events the operator `actor` is named on.
async fn events_by(db: &TestDb, actor: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM events WHERE actor = $1";
    match &db.store {
        velvet::Store::Sqlite(p) => sqlx::query_scalar(sql).bind(actor).fetch_one(p).await.unwrap(),
        velvet::Store::Postgres(p) => sqlx::query_scalar(sql).bind(actor).fetch_one(p).await.unwrap(),
    }
}

/// A request for each call (`None`: a GET).
fn sample(path: &str) -> Option<Value> {
    let feed = json!({"low_water": 0, "high": 0, "gaps": [], "horizons": []});
    Some(match path {
        "whoami" | "entries/count" | "alerts" | "switches" | "settings" | "invites/sent-today"
        | "mail/failed/count" | "operators" | "codes/tree" => return None,
        "entries/newest" => json!({"before": i64::MAX, "limit": 10}),
        "entries/by-ids" => json!({"ids": [1, 2]}),
        "feed/tail" => json!({"n": 5, "hour": true}),
        "feed/poll" => json!({"state": feed, "limit": 10, "wait_ms": 0}),
        "settings/set" => json!({"key": "daily_invite_cap", "value": "60"}),
        "invites/send" => json!({"limit": 1, "past_cap": false}),
        "lookup" | "chain" | "export/person" | "entries/id" => json!({"email": "ann@example.com"}),
        "approve" => json!({"who": {"email": "ann@example.com"}, "dry_run": false}),
        "block" => json!({"email": "bob@example.com", "reason": "matrix"}),
        "unblock" => json!({"email": "bob@example.com", "reason": null}),
        "block/many" => {
            json!({"selector": {"domain": "spam.example"}, "status": null, "reason": "matrix", "dry_run": false})
        }
        "unblock/batch" => json!({"batch": 1}),
        "change-email" => json!({"old": "cat@example.com", "new": "kat@example.com"}),
        "reissue" => json!({"email": "ann@example.com"}),
        "erase" => json!({"email": "erase.me@example.com"}),
        "export/page" => json!({"status": null, "after": 0, "limit": 10}),
        "report" => json!({"days": 7}),
        "codes/issue" => {
            json!({"spec": {"campaign": "hn", "max_uses": 5, "count": 1, "expires_in": 86400, "daily_cap": null, "prefix": null}})
        }
        "codes/revoke" => json!({"target": {"campaign": "hn"}, "reason": "matrix", "dry_run": false}),
        "codes/list" => json!({"campaign": null, "batch": null, "kind": null, "limit": 10}),
        "codes/page" => {
            json!({"branch": {"group": {"campaign": "hn"}, "batch": "all"}, "before": i64::MAX, "limit": 10})
        }
        "pause" => json!({"scope": "signups", "reason": "matrix"}),
        "resume" => json!({"scope": "signups"}),
        "mail/failed" => json!({"kind": null}),
        "mail/retry" => json!({"which": {"all": {"kind": null}}}),
        "events/before" => json!({"before": i64::MAX, "words": [], "limit": 10}),
        "events/trail" => {
            json!({"since": "2026-01-01T00:00:00Z", "after": 0, "kind": null, "email": null, "limit": 10})
        }
        "operators/add" => json!({"name": "newbie", "role": "viewer"}),
        "operators/role" => json!({"name": "newbie", "role": "support"}),
        "operators/remove" => json!({"name": "newbie"}),
        "tokens/issue" => json!({"operator": "newbie", "expires_in": 3600, "note": null}),
        "tokens" => json!({"operator": null}),
        "tokens/revoke" => json!({"id": 1}),
        other => panic!("no sample request for {other}: add one (and its permission) to the role matrix"),
    })
}

async fn each_role_may_make_exactly_the_calls_the_service_allows_and_a_refusal_writes_nothing(db: TestDb) {
    let (s, admin) = admin_server(&db).await;
    for email in ["ann@example.com", "cat@example.com", "erase.me@example.com"] {
        db.confirmed(email).await;
    }
    db.velvet.signup("bob@example.com", None, None, &common::meta()).await.unwrap();
    let roles = [Role::Viewer, Role::Support, Role::Product, Role::Admin];
    let mut tokens = Vec::new();
    for role in roles {
        tokens.push((role, token(&db, &format!("as-{role}"), role).await));
    }
    struct Paths(Vec<&'static str>);
    impl Each for Paths {
        fn each<C: calls::Call>(&mut self) {
            self.0.push(C::PATH);
        }
    }
    let mut paths = Paths(Vec::new());
    velvet::ops::every(&mut paths);
    assert!(paths.0.len() >= 40, "every operator call is in the matrix ({})", paths.0.len());
    let http = reqwest::Client::new();
    let mut refused = 0;
    for path in paths.0 {
        let body = sample(path);
        for (role, t) in &tokens {
            let allowed = needs(path).is_none_or(|p| p.roles().contains(role));
            let me = format!("as-{role}");
            let events = events_by(&db, &me).await;
            let (status, answer) = call(&http, &admin, path, Some(t), body.clone()).await;
            if allowed {
                let expected = (200..300).contains(&status) || may_refuse(path).contains(&status);
                assert!(expected, "{role} may call {path}: {status} {answer}");
            } else {
                assert_eq!(status, 403, "{role} may not call {path}: {answer}");
                assert_eq!(answer["error"], "forbidden");
                assert!(answer["message"].as_str().unwrap().contains(&role.to_string()), "{answer}");
                assert_eq!(events_by(&db, &me).await, events, "a refused {path} wrote nothing");
                refused += 1;
            }
        }
    }
    assert!(refused > 40, "the matrix refused {refused} calls");
    // The events of allowed calls name the token's operator.
    let actors = db.texts("SELECT DISTINCT actor FROM events WHERE kind = 'block'").await;
    assert_eq!(actors, vec!["as-support".to_string()], "support blocked first; the next block was a conflict");
    s.stop().await;
}

async fn repeated_guesses_from_one_address_are_refused_for_a_while_but_not_a_valid_token(db: TestDb) {
    let (s, admin) = admin_server(&db).await;
    let good = token(&db, "ada", Role::Admin).await;
    let http = reqwest::Client::new();
    // A console left open on a revoked token is not guessing: 401s, never a lockout.
    let old = token(&db, "bob", Role::Support).await;
    let id = db.velvet.tokens(&db.admin().await, Some("bob")).await.unwrap()[0].id;
    db.velvet.revoke_token(&db.admin().await, id).await.unwrap();
    for _ in 0..30 {
        assert_eq!(call(&http, &admin, "whoami", Some(&old), None).await.0, 401);
    }
    let guess = |i: usize| format!("velvet_op_{:0>32}", i);
    let mut statuses = Vec::new();
    for i in 0..25 {
        statuses.push(call(&http, &admin, "whoami", Some(&guess(i)), None).await.0);
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    let (status, body) = call(&http, &admin, "whoami", Some("not even a token"), None).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")), "{body}");
    // The office behind this address keeps working with its valid tokens.
    assert_eq!(call(&http, &admin, "whoami", Some(&good), None).await.0, 200);
    s.stop().await;
}

async fn a_revoked_token_is_refused_by_every_server_on_the_database_at_once(db: TestDb) {
    let (one, admin_one) = admin_server(&db).await;
    let (two, admin_two) = admin_server(&db).await;
    let t = token(&db, "sam", Role::Support).await;
    let http = reqwest::Client::new();
    assert_eq!(call(&http, &admin_two, "whoami", Some(&t), None).await.0, 200);
    let id = db.velvet.tokens(&db.admin().await, Some("sam")).await.unwrap()[0].id;
    let root_token = token(&db, "root2", Role::Admin).await;
    let (status, _) = call(&http, &admin_one, "tokens/revoke", Some(&root_token), Some(json!({"id": id}))).await;
    assert_eq!(status, 200);
    // No cache: the other process refuses it on its very next call.
    assert_eq!(call(&http, &admin_two, "whoami", Some(&t), None).await.0, 401);
    one.stop().await;
    two.stop().await;
}

/// `velvet serve` as its own process with an admin listener: the
/// process and its admin API's base URL.
fn serve_process(db: &TestDb, dir: &std::path::Path) -> (common::Killed, String) {
    let config = dir.join("velvet.toml");
    std::fs::write(&config, "").unwrap();
    let (child, _public, admin) = common::spawn_admin_serve(&db.url, &config, "log", std::process::Stdio::null());
    (child, admin)
}

async fn a_revoked_token_is_refused_by_a_second_serve_process(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (one, admin_one) = serve_process(&db, dir.path());
    let (two, admin_two) = serve_process(&db, dir.path());
    let t = token(&db, "sam", Role::Support).await;
    let http = reqwest::Client::new();
    for admin in [&admin_one, &admin_two] {
        assert_eq!(call(&http, admin, "whoami", Some(&t), None).await.0, 200, "{admin}");
    }
    let id = db.velvet.tokens(&db.admin().await, Some("sam")).await.unwrap()[0].id;
    let run = common::velvet(&db, &["--as", "root", "operator", "revoke-token", &id.to_string()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let revoked_at = std::time::Instant::now();
    for admin in [&admin_one, &admin_two] {
        assert_eq!(call(&http, admin, "whoami", Some(&t), None).await.0, 401, "{admin} refuses it");
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1), "refused by both within a second");
    drop((one, two));
}

async fn the_operator_interface_over_a_context_gives_the_same_answers_as_in_process(db: TestDb) {
    let (s, admin) = admin_server(&db).await;
    db.confirmed("ann@example.com").await;
    let t = token(&db, "sam", Role::Support).await;
    let remote = Ops::Remote(std::sync::Arc::new(Remote::connect(Some("test"), &admin, &t, false).await.unwrap()));
    let local = Ops::local(db.velvet.clone(), db.velvet.operator("sam").await.unwrap());
    assert_eq!((remote.name(), remote.role()), ("sam", Some(Role::Support)));
    let ask = || calls::LookupCall { email: "ann@example.com".into() };
    let (a, b) = (remote.call(ask()).await.unwrap(), local.call(ask()).await.unwrap());
    // (The server's dispatcher may be sending her mail between the two reads.)
    let without_mail = |l: &velvet::service::Lookup| {
        let mut v = serde_json::to_value(l).unwrap();
        v.as_object_mut().unwrap().remove("mail");
        v
    };
    assert_eq!(without_mail(&a), without_mail(&b));
    // A refusal is the service's own sentence, and the same kind of error.
    let approve = || calls::Approve { who: calls::ApproveWho::Email("ann@example.com".into()), dry_run: false };
    let (ra, la) = (remote.call(approve()).await.unwrap_err(), local.call(approve()).await.unwrap_err());
    assert_eq!(ra.to_string(), la.to_string());
    assert!(ra.to_string().contains("support and may not approve"), "{ra}");
    let bad = || calls::LookupCall { email: "not an address".into() };
    let (rb, lb) = (remote.call(bad()).await.unwrap_err(), local.call(bad()).await.unwrap_err());
    assert_eq!(rb.to_string(), lb.to_string());
    assert!(matches!(rb, velvet::service::Error::InvalidInput(_)), "a usage error stays one: {rb:?}");
    s.stop().await;
}

async fn the_feed_over_a_context_delivers_changes_by_others_exactly_once(db: TestDb) {
    let (s, admin) = admin_server(&db).await;
    let t = token(&db, "vic", Role::Viewer).await;
    let remote = Ops::Remote(std::sync::Arc::new(Remote::connect(None, &admin, &t, false).await.unwrap()));
    let (mut feed, _) = remote.tail(10).await.unwrap();
    let start = feed.cursor();
    // Someone else works on the list meanwhile: an operator and the public.
    let root = db.admin().await;
    for i in 0..30 {
        db.confirmed(&format!("p{i}@example.com")).await;
    }
    db.velvet.block(&root, "p3@example.com", Some("spam")).await.unwrap();
    // Everything committed by now (the server's own workers may add more).
    let wanted = db.texts("SELECT CAST(id AS TEXT) FROM events ORDER BY id").await;
    let wanted: Vec<i64> = wanted.iter().map(|t| t.parse().unwrap()).filter(|id| *id > start).collect();
    let mut seen: Vec<i64> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !wanted.iter().all(|id| seen.contains(id)) {
        assert!(std::time::Instant::now() < deadline, "only {} of {} events arrived", seen.len(), wanted.len());
        seen.extend(feed.poll(1000, 200).await.unwrap().iter().map(|e| e.id));
    }
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    assert!(seen.iter().all(|id| feed.has_delivered(*id)));
    s.stop().await;
}

on_both_backends!(
    whoami_answers_the_tokens_operator_and_every_bad_token_gets_one_401,
    the_admin_listener_keeps_admin_routes_and_metrics_off_the_public_one,
    each_role_may_make_exactly_the_calls_the_service_allows_and_a_refusal_writes_nothing,
    repeated_guesses_from_one_address_are_refused_for_a_while_but_not_a_valid_token,
    a_revoked_token_is_refused_by_every_server_on_the_database_at_once,
    a_revoked_token_is_refused_by_a_second_serve_process,
    the_operator_interface_over_a_context_gives_the_same_answers_as_in_process,
    the_feed_over_a_context_delivers_changes_by_others_exactly_once,
);
