//! Operator tokens, the `product` role, operator management and the
//! admin-auth lockout (issue 13, server side), on both backends: the
//! service's answers, what the database holds, and the binary's commands.

mod common;

use chrono::Duration;
use common::{TEST_SECRET, TestDb, velvet};
use std::sync::Arc;
use velvet::config::LimitsConfig;
use velvet::domain::token::OperatorToken;
use velvet::domain::{Permission, Role, Switch, SystemClock};
use velvet::limiter::Limiter;
use velvet::service::{Actor, Error, TokenState, Velvet};

on_both_backends!(
    an_issued_token_authenticates_as_its_operator,
    every_refused_token_gets_the_same_answer,
    a_role_change_applies_to_the_next_call,
    the_last_admin_is_protected,
    two_admins_demoting_each_other_leave_one,
    removing_an_operator_kills_its_tokens_and_keeps_its_events,
    tokens_are_stored_only_as_hashes,
    management_is_audited_naming_the_operator,
    last_use_is_recorded_at_most_once_a_minute,
    revoking_names_the_listing_and_says_when,
    only_admins_manage_tokens_and_bad_input_writes_nothing,
    the_product_may_only_authenticate_and_report_activity,
    auth_failures_lock_an_address_out_across_processes,
    the_shell_manages_tokens_and_operators,
);

fn operator(name: &str, role: Role) -> Actor {
    Actor::Operator { name: name.into(), role }
}

async fn an_issued_token_authenticates_as_its_operator(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.operator("ada", Role::Support).await;
    let issued = v.issue_token(&admin, "ada", Some(Duration::days(90)), Some("ada's laptop")).await.unwrap();
    assert!(issued.token.starts_with("velvet_op_") && issued.token.len() == 42, "{}", issued.token.len());
    assert!(!format!("{issued:?}").contains(&issued.token), "Debug hides the token");
    let info = &issued.info;
    assert_eq!((info.operator.as_str(), info.created_by.as_str()), ("ada", "root"));
    assert_eq!(info.hint, issued.token[issued.token.len() - 4..]);
    assert_eq!(info.note.as_deref(), Some("ada's laptop"));
    assert_eq!(info.expires_at, Some(v.now() + Duration::days(90)));
    assert_eq!((info.last_used_at, info.revoked_at), (None, None));
    assert_eq!(info.state(v.now()), TokenState::Active);

    db.clock.advance(Duration::minutes(5));
    let actor = v.authenticate(&issued.token).await.unwrap();
    assert_eq!(actor, operator("ada", Role::Support));
    // A pasted token with its newline works too.
    assert_eq!(v.authenticate(&format!("{}\n", issued.token)).await.unwrap(), actor);
    // The use is recorded in the background (a read never waits for the writer).
    common::until("the use is recorded", std::time::Duration::from_secs(5), || async {
        v.tokens(&admin, Some("ada")).await.unwrap()[0].last_used_at == Some(v.now())
    })
    .await;
    let listed = v.tokens(&admin, Some("ada")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(v.tokens(&admin, None).await.unwrap().len(), 1);
    assert!(v.tokens(&admin, Some("root")).await.unwrap().is_empty());
    // Crossing HTTP: the listing reads back from JSON as it was.
    let json = serde_json::to_string(&listed).unwrap();
    assert_eq!(serde_json::from_str::<Vec<velvet::service::TokenInfo>>(&json).unwrap(), listed);
    // Never-expiring tokens exist on purpose (the product's backend).
    let forever = v.issue_token(&admin, "ada", None, None).await.unwrap();
    assert_eq!(forever.info.expires_at, None);
    db.clock.advance(Duration::days(3650));
    assert_eq!(v.authenticate(&forever.token).await.unwrap(), actor);
}

async fn every_refused_token_gets_the_same_answer(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.operator("ada", Role::Support).await;
    db.operator("bo", Role::Viewer).await;
    let expiring = v.issue_token(&admin, "ada", Some(Duration::hours(1)), None).await.unwrap().token;
    let revoked = v.issue_token(&admin, "ada", None, None).await.unwrap();
    v.revoke_token(&admin, revoked.info.id).await.unwrap();
    let of_removed = v.issue_token(&admin, "bo", None, None).await.unwrap().token;
    v.remove_operator(&admin, "bo").await.unwrap();
    db.clock.advance(Duration::minutes(59));
    assert!(v.authenticate(&expiring).await.is_ok(), "a minute before expiry it works");
    db.clock.advance(Duration::minutes(1));
    let unknown = OperatorToken::generate();
    let refused = [
        ("missing", String::new()),
        ("malformed", "hunter2".to_string()),
        ("with a scheme", format!("Bearer {expiring}")),
        ("truncated", expiring[..expiring.len() - 1].to_string()),
        ("unknown", unknown.as_str().to_string()),
        ("expired", expiring.clone()),
        ("revoked", revoked.token.clone()),
        ("of a removed operator", of_removed),
    ];
    let expected = "this token is not valid: ask an admin for a new one (velvet operator token NAME)";
    for (what, token) in &refused {
        match v.authenticate(token).await {
            Err(e @ Error::Unauthorized) => assert_eq!(e.to_string(), expected, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    // Re-adding a removed name does not bring its old token back.
    db.operator("bo", Role::Viewer).await;
    assert!(matches!(v.authenticate(&refused[7].1).await, Err(Error::Unauthorized)));
}

async fn a_role_change_applies_to_the_next_call(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.operator("ada", Role::Support).await;
    let token = v.issue_token(&admin, "ada", None, None).await.unwrap().token;
    let ada = v.authenticate(&token).await.unwrap();
    assert!(ada.require(Permission::Block).is_ok());
    v.set_role(&admin, "ada", Role::Viewer).await.unwrap();
    let ada = v.authenticate(&token).await.unwrap();
    assert_eq!(ada, operator("ada", Role::Viewer));
    assert!(matches!(v.pause(&ada, &Switch::Signups, None).await, Err(Error::Forbidden { .. })));
    v.set_role(&admin, "ada", Role::Admin).await.unwrap();
    assert_eq!(v.authenticate(&token).await.unwrap().role(), Some(Role::Admin));
    let events = db.count("SELECT COUNT(*) FROM events WHERE kind = 'operator_role_changed'").await;
    v.set_role(&admin, "ada", Role::Admin).await.unwrap();
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE kind = 'operator_role_changed'").await,
        events,
        "the role they have already: nothing changes, nothing is recorded"
    );
    let err = v.set_role(&admin, "ghost", Role::Viewer).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(err.to_string().contains("velvet operator list"), "{err}");
}

async fn the_last_admin_is_protected(db: TestDb) {
    let v = &db.velvet;
    let root = db.admin().await;
    let before = db.events_total().await;
    for result in [v.set_role(&root, "root", Role::Support).await, v.remove_operator(&root, "root").await.map(|_| ())] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("root is the last admin") && text.contains("velvet operator role NAME admin"), "{text}");
    }
    assert_eq!(db.events_total().await, before, "nothing written");
    assert_eq!(db.texts("SELECT role FROM operators WHERE name = 'root'").await, ["admin"]);
    // With a second admin, either may step down; then the other is the last.
    db.operator("bo", Role::Admin).await;
    v.set_role(&root, "root", Role::Support).await.unwrap();
    let bo = v.operator("bo").await.unwrap();
    assert!(matches!(v.remove_operator(&bo, "bo").await, Err(Error::Conflict(_))));
    assert!(matches!(v.set_role(&bo, "bo", Role::Product).await, Err(Error::Conflict(_))));
    assert_eq!(v.remove_operator(&bo, "root").await.unwrap(), 0);
    assert_eq!(db.texts("SELECT name FROM operators").await, ["bo"]);
}

async fn two_admins_demoting_each_other_leave_one(db: TestDb) {
    db.admin().await;
    for round in 0..10 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let (actor_a, actor_b) = (db.operator(&a, Role::Admin).await, db.operator(&b, Role::Admin).await);
        // Root steps aside for the round: only the two are admins.
        let root = db.velvet.operator("root").await.unwrap();
        if root.role() == Some(Role::Admin) {
            db.velvet.set_role(&root, "root", Role::Viewer).await.unwrap();
        }
        let (va, vb) = (db.velvet.clone(), db.velvet.clone());
        let (a2, b2) = (a.clone(), b.clone());
        let one = tokio::spawn(async move { va.set_role(&actor_a, &b2, Role::Support).await });
        let two = tokio::spawn(async move { vb.remove_operator(&actor_b, &a2).await.map(|_| ()) });
        let results = [one.await.unwrap(), two.await.unwrap()];
        let refused = results.iter().filter(|r| matches!(r, Err(Error::Conflict(_)))).count();
        assert_eq!(refused, 1, "round {round}: exactly one is refused: {results:?}");
        assert_eq!(db.count("SELECT COUNT(*) FROM operators WHERE role = 'admin'").await, 1, "round {round}");
        // Root takes over again and the pair leaves, for the next round.
        let last = db.texts("SELECT name FROM operators WHERE role = 'admin'").await.remove(0);
        let last = db.velvet.operator(&last).await.unwrap();
        db.velvet.set_role(&last, "root", Role::Admin).await.unwrap();
        let root = db.velvet.operator("root").await.unwrap();
        for name in [&a, &b] {
            let _ = db.velvet.remove_operator(&root, name).await;
        }
        assert_eq!(db.texts("SELECT name FROM operators").await, ["root"]);
    }
}

async fn removing_an_operator_kills_its_tokens_and_keeps_its_events(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let ada = db.operator("ada", Role::Support).await;
    v.pause(&ada, &Switch::Signups, Some("maintenance")).await.unwrap();
    let live = v.issue_token(&admin, "ada", None, Some("laptop")).await.unwrap();
    let live2 = v.issue_token(&admin, "ada", Some(Duration::days(30)), None).await.unwrap();
    let revoked = v.issue_token(&admin, "ada", None, None).await.unwrap();
    v.revoke_token(&admin, revoked.info.id).await.unwrap();
    v.issue_token(&admin, "ada", Some(Duration::hours(1)), None).await.unwrap();
    let rootss = v.issue_token(&admin, "root", None, None).await.unwrap();
    db.clock.advance(Duration::hours(2));
    assert_eq!(v.remove_operator(&admin, "ada").await.unwrap(), 2, "two were live");
    assert_eq!(db.count("SELECT COUNT(*) FROM operator_tokens").await, 1, "only root's token is left");
    for t in [&live.token, &live2.token] {
        assert!(matches!(v.authenticate(t).await, Err(Error::Unauthorized)));
    }
    assert!(v.authenticate(&rootss.token).await.is_ok());
    assert!(matches!(v.operator("ada").await, Err(Error::UnknownOperator(_))), "--as ada is refused too");
    assert_eq!(db.texts("SELECT actor FROM events WHERE kind = 'pause'").await, ["ada"], "the record keeps the name");
    let detail = db.texts("SELECT detail FROM events WHERE kind = 'operator_removed'").await;
    assert_eq!(detail, [format!("ada (support); tokens {}, {} revoked", live.info.id, live2.info.id)]);
    assert!(matches!(v.tokens(&admin, Some("ada")).await, Err(Error::NotFound(_))));
    assert!(matches!(v.remove_operator(&admin, "ada").await, Err(Error::NotFound(_))));
}

async fn tokens_are_stored_only_as_hashes(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.operator("ada", Role::Support).await;
    let mut tokens = Vec::new();
    for i in 0..5 {
        let t = v.issue_token(&admin, "ada", Some(Duration::days(i + 1)), Some("laptop")).await.unwrap();
        v.authenticate(&t.token).await.unwrap();
        tokens.push(t);
    }
    v.revoke_token(&admin, tokens[0].info.id).await.unwrap();
    v.set_role(&admin, "ada", Role::Viewer).await.unwrap();
    v.remove_operator(&admin, "ada").await.unwrap();
    db.operator("ada", Role::Support).await;
    let kept = v.issue_token(&admin, "ada", None, None).await.unwrap();
    assert_eq!(
        db.texts("SELECT token_hash FROM operator_tokens").await,
        [OperatorToken::parse(&kept.token).unwrap().hash()],
        "the hash of the whole token is what is kept"
    );
    let stored = [
        db.texts("SELECT token_hash FROM operator_tokens").await,
        db.texts("SELECT hint FROM operator_tokens").await,
        db.texts("SELECT note FROM operator_tokens").await,
        db.texts("SELECT created_by FROM operator_tokens").await,
        db.texts("SELECT revoked_by FROM operator_tokens").await,
        db.texts("SELECT kind FROM events").await,
        db.texts("SELECT detail FROM events").await,
        db.texts("SELECT reason FROM events").await,
        db.texts("SELECT rule FROM events").await,
        db.texts("SELECT actor FROM events").await,
        db.texts("SELECT user_agent FROM events").await,
        db.texts("SELECT value FROM settings").await,
    ]
    .concat();
    assert!(!stored.is_empty());
    for t in tokens.iter().chain([&kept]) {
        let secret = &t.token["velvet_op_".len()..];
        for text in &stored {
            assert!(!text.contains(secret) && !text.contains(&secret[..16]) && !text.contains(&secret[16..]), "{text}");
        }
    }
}

async fn management_is_audited_naming_the_operator(db: TestDb) {
    let v = &db.velvet;
    let root = db.admin().await;
    db.operator("bo", Role::Admin).await;
    let bo = v.authenticate(&v.issue_token(&root, "bo", None, None).await.unwrap().token).await.unwrap();
    db.operator("ada", Role::Support).await;
    let t = v.issue_token(&bo, "ada", Some(Duration::days(90)), Some("laptop")).await.unwrap();
    v.revoke_token(&bo, t.info.id).await.unwrap();
    v.set_role(&bo, "ada", Role::Viewer).await.unwrap();
    v.remove_operator(&bo, "ada").await.unwrap();
    let rows: Vec<(String, String, String)> = match &db.store {
        velvet::store::Store::Sqlite(p) => sqlx::query_as(
            "SELECT kind, actor, detail FROM events WHERE kind IN ('token_issued', 'token_revoked', 'operator_role_changed', 'operator_removed') ORDER BY id",
        )
        .fetch_all(p)
        .await
        .unwrap(),
        velvet::store::Store::Postgres(p) => sqlx::query_as(
            "SELECT kind, actor, detail FROM events WHERE kind IN ('token_issued', 'token_revoked', 'operator_role_changed', 'operator_removed') ORDER BY id",
        )
        .fetch_all(p)
        .await
        .unwrap(),
    };
    let expiry = velvet::domain::timefmt::utc_minute(v.now() + Duration::days(90));
    let id = t.info.id;
    let expected = [
        ("token_issued", "root", "token 1 for bo (admin), never expires".to_string()),
        ("token_issued", "bo", format!("token {id} for ada (support), expires {expiry}")),
        ("token_revoked", "bo", format!("token {id} of ada")),
        ("operator_role_changed", "bo", "ada: support -> viewer".to_string()),
        ("operator_removed", "bo", "ada (viewer); no live token".to_string()),
    ];
    let rows: Vec<(&str, &str, String)> = rows.iter().map(|(k, a, d)| (k.as_str(), a.as_str(), d.clone())).collect();
    assert_eq!(rows, expected);
}

async fn last_use_is_recorded_at_most_once_a_minute(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let token = v.issue_token(&admin, "root", None, None).await.unwrap();
    let last_used = || async { v.tokens(&admin, None).await.unwrap()[0].last_used_at };
    assert_eq!(last_used().await, None);
    let first = v.now();
    v.authenticate(&token.token).await.unwrap();
    // Recorded in the background (a read never waits for the writer).
    let recorded = |at| async move { last_used().await == Some(at) };
    common::until("the first use recorded", std::time::Duration::from_secs(5), || recorded(first)).await;
    for _ in 0..5 {
        db.clock.advance(Duration::seconds(10));
        v.authenticate(&token.token).await.unwrap();
    }
    assert_eq!(last_used().await, Some(first), "no write for uses within the minute");
    db.clock.advance(Duration::seconds(10));
    v.authenticate(&token.token).await.unwrap();
    common::until("a minute on, the next use recorded", std::time::Duration::from_secs(5), || recorded(v.now())).await;
}

async fn revoking_names_the_listing_and_says_when(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let err = v.revoke_token(&admin, 99).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(err.to_string(), "there is no token 99: `velvet operator tokens` lists them");
    let t = v.issue_token(&admin, "root", None, None).await.unwrap();
    let revoked = v.revoke_token(&admin, t.info.id).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(v.now()));
    assert_eq!(revoked.revoked_by.as_deref(), Some("root"));
    assert_eq!(revoked.state(v.now()), TokenState::Revoked);
    let when = velvet::domain::timefmt::utc_minute(v.now());
    db.clock.advance(Duration::hours(1));
    let err = v.revoke_token(&admin, t.info.id).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(err.to_string(), format!("token {} of root was already revoked on {when} by root", t.info.id));
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'token_revoked'").await, 1);
    // Expired and revoked: revoked wins in the listing.
    let e = v.issue_token(&admin, "root", Some(Duration::hours(1)), None).await.unwrap();
    db.clock.advance(Duration::hours(1));
    assert_eq!(v.tokens(&admin, None).await.unwrap()[1].state(v.now()), TokenState::Expired);
    v.revoke_token(&admin, e.info.id).await.unwrap();
    assert_eq!(v.tokens(&admin, None).await.unwrap()[1].state(v.now()), TokenState::Revoked);
}

async fn only_admins_manage_tokens_and_bad_input_writes_nothing(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    let viewer = db.operator("vera", Role::Viewer).await;
    let t = v.issue_token(&admin, "sam", None, None).await.unwrap();
    let before = db.events_total().await;
    for actor in [&support, &viewer, &Actor::Public] {
        assert!(v.issue_token(actor, "sam", None, None).await.is_err());
        assert!(v.tokens(actor, None).await.is_err());
        assert!(v.revoke_token(actor, t.info.id).await.is_err());
        assert!(v.set_role(actor, "sam", Role::Admin).await.is_err());
        assert!(v.remove_operator(actor, "vera").await.is_err());
    }
    let err = v.issue_token(&support, "sam", None, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator 'sam' is a support and may not manage operators; an admin can change the role"
    );
    let bad = [
        v.issue_token(&admin, "ghost", None, None).await.unwrap_err(),
        v.issue_token(&admin, "sam", Some(Duration::zero()), None).await.unwrap_err(),
        v.issue_token(&admin, "sam", Some(Duration::days(-1)), None).await.unwrap_err(),
        v.issue_token(&admin, "sam", Some(Duration::days(4000)), None).await.unwrap_err(),
        v.issue_token(&admin, "sam", None, Some("bad\u{7}note")).await.unwrap_err(),
        v.issue_token(&admin, "sam", None, Some("\u{202E}evil")).await.unwrap_err(),
        v.issue_token(&admin, "sam", None, Some(&"x".repeat(201))).await.unwrap_err(),
    ];
    assert!(matches!(bad[0], Error::NotFound(_)), "{:?}", bad[0]);
    assert!(bad[0].to_string().contains("there is no operator 'ghost'"), "{}", bad[0]);
    for e in &bad[1..] {
        assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    }
    assert!(bad[1].to_string().contains("--expires never"), "{}", bad[1]);
    assert_eq!(db.events_total().await, before, "nothing recorded");
    assert_eq!(db.count("SELECT COUNT(*) FROM operator_tokens").await, 1);
    assert_eq!(v.authenticate(&t.token).await.unwrap(), support, "and the token still works");
}

async fn the_product_may_only_authenticate_and_report_activity(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    v.add_operator("root", "shop", Role::Product).await.unwrap();
    let token = v.issue_token(&admin, "shop", None, Some("the product's backend")).await.unwrap().token;
    let shop = v.authenticate(&token).await.unwrap();
    assert_eq!(shop, operator("shop", Role::Product));
    assert!(shop.require(Permission::ReportActivity).is_ok());
    for &p in Permission::ALL.iter().filter(|p| **p != Permission::ReportActivity) {
        assert!(matches!(shop.require(p), Err(Error::Forbidden { .. })), "{p:?}");
    }
    db.confirmed("x@example.com").await;
    let before = db.events_total().await;
    assert!(matches!(v.lookup(&shop, "x@example.com").await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.operators(&shop).await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.approve_next(&shop, 1, false).await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.issue_token(&shop, "shop", None, None).await, Err(Error::Forbidden { .. })));
    assert_eq!(db.events_total().await, before);
}

async fn auth_failures_lock_an_address_out_across_processes(db: TestDb) {
    let config = LimitsConfig::default();
    let limiter = || Limiter::new(db.store.clone(), db.clock.clone(), TEST_SECRET.into(), config);
    let (a, b) = (limiter(), limiter());
    let ip = "198.51.100.7";
    for _ in 0..15 {
        assert_eq!(a.record_auth_failure(ip).await.unwrap(), None);
    }
    a.sync().await.unwrap();
    for _ in 0..4 {
        assert_eq!(b.record_auth_failure(ip).await.unwrap(), None, "19 so far, across both");
    }
    let denied = b.record_auth_failure(ip).await.unwrap().expect("the 20th failure locks the address out");
    assert!(denied.first);
    assert_eq!(denied.retry_after, 15 * 60);
    assert!(denied.rule.starts_with("admin_auth 20 refused tokens/1m -> 15m"), "{}", denied.rule);
    assert!(b.auth_locked_out(ip).is_some());
    let again = b.record_auth_failure(ip).await.unwrap().expect("still locked out");
    assert!(!again.first, "one lockout, not one per further failure");
    assert!(b.auth_locked_out("198.51.100.8").is_none(), "another address is not locked");
    assert!(b.locked_out(ip, None).is_none(), "the bad-code cooldown is a separate lockout");
    assert!(a.auth_locked_out(ip).is_none(), "the other process learns it at its next sync");
    a.sync().await.unwrap();
    let d = a.auth_locked_out(ip).expect("after a sync, every process refuses the address");
    assert!(!d.first);
    // A process started meanwhile learns it at its first sync too.
    let c = limiter();
    c.sync().await.unwrap();
    assert!(c.auth_locked_out(ip).is_some());
    db.clock.advance(Duration::minutes(15));
    assert!(a.auth_locked_out(ip).is_none() && b.auth_locked_out(ip).is_none(), "15 minutes later it is over");
    // Turned off: nothing is ever locked.
    let off = velvet::config::Config::parse("[limits.admin_auth]\nfailures = 0\n").unwrap().limits;
    let quiet = Limiter::new(db.store.clone(), db.clock.clone(), TEST_SECRET.into(), off);
    for _ in 0..50 {
        assert_eq!(quiet.record_auth_failure("203.0.113.9").await.unwrap(), None);
    }
}

async fn the_shell_manages_tokens_and_operators(db: TestDb) {
    let ok = |r: &common::CliRun| assert_eq!(r.code, 0, "stdout {}\nstderr {}", r.stdout, r.stderr);
    ok(&velvet(&db, &["operator", "add", "root", "--role", "admin"]));
    ok(&velvet(&db, &["--as", "root", "operator", "add", "ada", "--role", "support"]));
    let r = velvet(&db, &["--as", "root", "operator", "add", "shop", "--role", "product"]);
    ok(&r);
    assert_eq!(r.stderr, "operator shop added as product\n");

    let r = velvet(&db, &["--as", "root", "operator", "token", "ada", "--note", "ada's laptop"]);
    ok(&r);
    let token = r.stdout.strip_suffix('\n').expect("one line").to_string();
    assert!(!token.contains('\n'), "the token alone on stdout: {:?}", r.stdout);
    assert!(OperatorToken::parse(&token).is_some(), "{token}");
    assert!(r.stderr.starts_with("token 1 for ada (expires 20"), "{}", r.stderr);
    assert!(
        r.stderr.contains("shown this once") && r.stderr.contains("velvet operator revoke-token 1"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&token));
    // The printed token is the operator's (on the wall clock the binary runs on).
    let now = Velvet::new(db.store.clone(), Arc::new(SystemClock));
    assert_eq!(now.authenticate(&token).await.unwrap(), operator("ada", Role::Support));
    // (its use is recorded in the background: wait for it, the listing below shows it)
    let root = db.admin().await;
    common::until("the use recorded", std::time::Duration::from_secs(5), || async {
        now.tokens(&root, Some("ada")).await.unwrap()[0].last_used_at.is_some()
    })
    .await;
    let r = velvet(&db, &["--as", "root", "operator", "token", "shop", "--expires", "never"]);
    ok(&r);
    assert!(r.stderr.starts_with("token 2 for shop (never expires)"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "root", "operator", "token", "ada", "--expires", "soon"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("or never"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "root", "operator", "token", "ghost"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("there is no operator 'ghost'"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "operator", "token", "ada"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("may not manage operators"), "{}", r.stderr);
    assert_eq!(r.stdout, "");

    let r = velvet(&db, &["--as", "root", "operator", "tokens", "--json"]);
    ok(&r);
    assert!(!r.stdout.contains(&token));
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).expect("tokens --json is JSON");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0]["id"].as_i64(), rows[0]["operator"].as_str()), (Some(1), Some("ada")));
    assert_eq!(rows[0]["state"], "active");
    assert_eq!(rows[0]["hint"].as_str(), Some(&token[token.len() - 4..]));
    assert_eq!(rows[0]["note"], "ada's laptop");
    assert!(rows[0]["expires_at"].as_str().is_some_and(|t| t.starts_with("20")), "{}", rows[0]);
    assert!(rows[0]["last_used_at"].as_str().is_some(), "used above");
    assert!(rows[1]["expires_at"].is_null() && rows[1]["last_used_at"].is_null(), "{}", rows[1]);
    let r = velvet(&db, &["--as", "root", "operator", "tokens", "shop"]);
    ok(&r);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with("ID") && lines[0].contains("LAST USED"), "{}", lines[0]);
    assert!(lines[1].starts_with("2 ") && lines[1].contains("shop") && lines[1].contains("never"), "{}", lines[1]);
    let r = velvet(&db, &["--as", "root", "operator", "tokens", "root"]);
    ok(&r);
    assert!(r.stderr.contains("no tokens yet"), "{}", r.stderr);

    let r = velvet(&db, &["--as", "root", "operator", "revoke-token", "1"]);
    ok(&r);
    assert_eq!(r.stderr, "token 1 of ada revoked: no server accepts it any more\n");
    assert!(matches!(now.authenticate(&token).await, Err(Error::Unauthorized)));
    let r = velvet(&db, &["--as", "root", "operator", "revoke-token", "1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("token 1 of ada was already revoked on 20"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "root", "operator", "revoke-token", "99"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`velvet operator tokens` lists them"), "{}", r.stderr);
    assert_eq!(velvet(&db, &["--as", "root", "operator", "revoke-token", "one"]).code, 2);
    let r = velvet(&db, &["--as", "root", "operator", "tokens", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows[0]["state"], "revoked");
    assert_eq!(rows[0]["revoked_by"], "root");

    let r = velvet(&db, &["--as", "root", "operator", "role", "ada", "viewer"]);
    ok(&r);
    assert_eq!(r.stderr, "operator ada is now viewer (from their next call)\n");
    let r = velvet(&db, &["--as", "root", "operator", "list"]);
    assert!(r.stdout.contains(&format!("{:<24} viewer", "ada")), "{}", r.stdout);
    let r = velvet(&db, &["--as", "root", "operator", "role", "root", "support"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("root is the last admin"), "{}", r.stderr);
    assert_eq!(velvet(&db, &["--as", "root", "operator", "role", "ada", "wizard"]).code, 2);
    let r = velvet(&db, &["--as", "shop", "lookup", "x@example.com"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("operator 'shop' is a product and may not read the waitlist"), "{}", r.stderr);

    velvet(&db, &["--as", "root", "operator", "token", "ada"]);
    let r = velvet(&db, &["--as", "root", "operator", "remove", "ada"]);
    ok(&r);
    assert_eq!(r.stderr, "operator ada removed (1 token revoked); their past events keep the name\n");
    let r = velvet(&db, &["--as", "root", "operator", "list"]);
    assert!(!r.stdout.contains("ada"), "{}", r.stdout);
    let r = velvet(&db, &["--as", "root", "operator", "remove", "ada"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("there is no operator 'ada'"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "root", "operator", "remove", "root"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("root is the last admin"), "{}", r.stderr);
    let kinds = db.texts("SELECT kind FROM events WHERE actor = 'root' ORDER BY id").await;
    let managed: Vec<&str> = kinds.iter().map(String::as_str).filter(|k| *k != "operator_added").collect();
    assert_eq!(
        managed,
        ["token_issued", "token_issued", "token_revoked", "operator_role_changed", "token_issued", "operator_removed"]
    );
}

/// A database from before this migration: its operators keep their ids,
/// names, roles and times, and `product` becomes a role the schema takes.
async fn operators_survive_the_upgrade(backend: common::Backend) {
    use velvet::store::Store;
    let Some(fresh) = common::FreshDatabase::new(backend).await else { return };
    let store = Store::connect(&fresh.url).await.unwrap();
    let insert = "INSERT INTO operators (name, role, created_at, created_by) VALUES ($1, $2, $3, 'root')";
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z").unwrap().to_utc();
    match &store {
        Store::Sqlite(p) => {
            sqlx::migrate!("migrations/sqlite").run_to(6, p).await.unwrap();
            for (name, role) in [("root", "admin"), ("sam", "support"), ("vera", "viewer")] {
                sqlx::query(insert).bind(name).bind(role).bind(at).execute(p).await.unwrap();
            }
        }
        Store::Postgres(p) => {
            sqlx::migrate!("migrations/postgres").run_to(6, p).await.unwrap();
            for (name, role) in [("root", "admin"), ("sam", "support"), ("vera", "viewer")] {
                sqlx::query(insert).bind(name).bind(role).bind(at).execute(p).await.unwrap();
            }
        }
    }
    store.migrate().await.unwrap();
    let v = Velvet::new(store.clone(), Arc::new(SystemClock));
    let root = v.operator("root").await.unwrap();
    let ops = v.operators(&root).await.unwrap();
    let seen: Vec<(i64, &str, &str, _)> =
        ops.iter().map(|o| (o.id, o.name.as_str(), o.role.as_str(), o.created_at)).collect();
    assert_eq!(seen, [(1, "root", "admin", at), (2, "sam", "support", at), (3, "vera", "viewer", at)]);
    v.add_operator("root", "shop", Role::Product).await.unwrap();
    let t = v.issue_token(&root, "shop", None, None).await.unwrap();
    assert_eq!(v.authenticate(&t.token).await.unwrap(), operator("shop", Role::Product));
    let bad = "INSERT INTO operators (name, role, created_at, created_by) VALUES ('x', 'root', $1, 'root')";
    let refused = match &store {
        Store::Sqlite(p) => sqlx::query(bad).bind(at).execute(p).await.is_err(),
        Store::Postgres(p) => sqlx::query(bad).bind(at).execute(p).await.is_err(),
    };
    assert!(refused, "the role column still takes only known roles");
    store.close().await;
    fresh.remove().await;
}

#[tokio::test]
async fn operators_survive_the_upgrade_sqlite() {
    operators_survive_the_upgrade(common::Backend::Sqlite).await
}

#[tokio::test]
async fn operators_survive_the_upgrade_postgres() {
    operators_survive_the_upgrade(common::Backend::Postgres).await
}
