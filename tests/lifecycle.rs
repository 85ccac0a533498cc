//! The person's lifecycle (issue 15): an email changed once, invites that
//! remind and expire unused, bulk blocks with an undo. Through the service
//! and through the built binary, on both backends.

mod common;

use chrono::Duration;
use common::{TestDb, code_for, meta, token_for};
use velvet::domain::Role;
use velvet::service::{ConfirmOutcome, Error, RedeemOutcome, SignupOutcome};

on_both_backends!(
    an_email_is_changed_once_keeping_place_and_history,
    an_email_change_follows_the_status,
    an_email_change_is_refused_precisely,
    the_email_is_changed_once_from_the_shell,
);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn velvet(db: &TestDb, args: &[&str]) -> Run {
    let out = common::velvet_cli(&db.url)
        .args(args)
        .env_remove("VELVET_OPERATOR")
        .env("USER", "nobody-in-particular")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run the velvet binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---- 1. Change an email, once ----

async fn an_email_is_changed_once_keeping_place_and_history(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    let SignupOutcome::New { entry_id } = v.signup("ada@exmaple.com", None, Some("hn"), &meta()).await.unwrap() else {
        panic!()
    };
    let old_link = token_for(&db.deliver().await, "ada@exmaple.com").unwrap();
    // Queued but not yet sent when the address changes: it must not go out.
    v.signup("bo@exmaple.com", None, None, &meta()).await.unwrap();
    db.clock.advance(Duration::hours(1));

    let c = v.change_email(&support, "ada@exmaple.com", " Ada@Example.com ").await.unwrap();
    assert_eq!((c.old.as_str(), c.new.as_str(), c.status.as_str()), ("ada@exmaple.com", "ada@example.com", "pending"));
    assert_eq!(c.mailed, "a confirmation link to ada@example.com");
    let l = v.lookup(&admin, "ada@example.com").await.unwrap();
    assert_eq!(l.email_display, "Ada@Example.com");
    assert_eq!(l.source.as_deref(), Some("hn"), "the entry is the same row");
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 2);
    assert_eq!(db.count("SELECT MIN(id) FROM entries").await, entry_id, "same id: same place");
    let kinds: Vec<&str> = l.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["signup", "email_changed"], "history kept");
    let changed = &l.events[1];
    assert_eq!(changed.actor, "sam");
    assert_eq!(changed.detail.as_deref(), Some("ada@exmaple.com → ada@example.com"));
    assert!(
        l.explanation.contains("address changed on 2026-11-20, has not confirmed the new address yet"),
        "{}",
        l.explanation
    );

    // The link mailed to the old address no longer confirms anyone.
    assert!(matches!(v.confirm(&old_link, &meta()).await, Err(Error::BadToken)));
    let mail = db.deliver().await;
    let to: Vec<&str> = mail.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(to, ["bo@exmaple.com", "ada@example.com"], "one fresh link, to the new address only");
    let link = token_for(&mail, "ada@example.com").unwrap();
    assert!(matches!(v.confirm(&link, &meta()).await.unwrap(), ConfirmOutcome::Confirmed { .. }));

    // The old address is free again: a new, separate signup.
    assert!(matches!(v.lookup(&admin, "ada@exmaple.com").await, Err(Error::NotFound(_))));
    assert!(matches!(v.signup("ada@exmaple.com", None, None, &meta()).await.unwrap(), SignupOutcome::New { .. }));

    // Once only.
    db.clock.advance(Duration::days(2));
    let before = db.events_total().await;
    let err = v.change_email(&support, "ada@example.com", "ada.l@example.com").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ada@example.com: this address was already changed once on 2026-11-20; block and ask them to sign up again if it is wrong again"
    );
    assert_eq!(db.events_total().await, before, "a refusal writes nothing");
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE email = 'ada.l@example.com'").await, 0);
}

async fn an_email_change_follows_the_status(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    // Confirmed: pending again until the new address confirms; the first
    // confirmation time (its place among the confirmed) is kept.
    db.confirmed("early@example.com").await;
    db.clock.advance(Duration::minutes(5));
    db.confirmed("cy@exmaple.com").await;
    let first = v.lookup(&admin, "cy@exmaple.com").await.unwrap().confirmed_at.unwrap();
    db.deliver().await;
    db.clock.advance(Duration::hours(3));
    assert_eq!(v.change_email(&support, "cy@exmaple.com", "cy@example.com").await.unwrap().status, "pending");
    let link = token_for(&db.deliver().await, "cy@example.com").unwrap();
    v.confirm(&link, &meta()).await.unwrap();
    let l = v.lookup(&admin, "cy@example.com").await.unwrap();
    assert_eq!((l.status.as_str(), l.confirmed_at), ("confirmed", Some(first)));
    let order: Vec<String> = v.approve_next(&admin, 2, true).await.unwrap().into_iter().map(|a| a.email).collect();
    assert_eq!(order, ["early@example.com", "cy@example.com"], "the place in line is kept");

    // Approved: stays approved, nothing mailed; the invite goes to the new address.
    db.confirmed("di@exmaple.com").await;
    v.approve_one(&admin, "di@exmaple.com", false).await.unwrap();
    db.deliver().await;
    let c = v.change_email(&support, "di@exmaple.com", "di@example.com").await.unwrap();
    assert_eq!(
        (c.status.as_str(), c.mailed.as_str()),
        ("approved", "nothing yet: the invite will go to di@example.com")
    );
    assert!(db.deliver().await.is_empty());
    v.send_invites(&admin, None, false).await.unwrap();
    let code = code_for(&db.deliver().await, "di@example.com", "invite").expect("the invite goes to the new address");
    assert!(matches!(v.redeem(&code, "di@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));

    // Invited: the code is revoked and a fresh one goes to the new address.
    db.confirmed("ed@exmaple.com").await;
    v.approve_one(&admin, "ed@exmaple.com", false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    let old = code_for(&db.deliver().await, "ed@exmaple.com", "invite").unwrap();
    let c = v.change_email(&support, "ed@exmaple.com", "ed@example.com").await.unwrap();
    assert_eq!(c.status, "invited");
    assert!(c.mailed.contains("a fresh access code to ed@example.com"), "{}", c.mailed);
    let new = code_for(&db.deliver().await, "ed@example.com", "invite").unwrap();
    assert_ne!(old, new);
    assert!(matches!(v.redeem(&old, "ed@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert!(matches!(v.redeem(&new, "ed@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    let kinds: Vec<String> =
        v.lookup(&admin, "ed@example.com").await.unwrap().events.into_iter().map(|e| e.kind).collect();
    let at = |k: &str| kinds.iter().position(|x| x == k).unwrap_or_else(|| panic!("no {k} in {kinds:?}"));
    assert!(
        at("email_changed") < at("revoke") && at("revoke") < at("reissue") && at("reissue") < at("joined"),
        "{kinds:?}"
    );
}

async fn an_email_change_is_refused_precisely(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    let viewer = db.operator("vera", Role::Viewer).await;
    db.confirmed("fay@example.com").await;
    db.confirmed("gus@example.com").await;
    let before = db.events_total().await;
    let err = v.change_email(&support, "fay@example.com", "GUS@example.com").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "gus@example.com is already on the waitlist as another entry; look it up before changing fay@example.com to it"
    );
    let err = v.change_email(&viewer, "fay@example.com", "fay2@example.com").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator 'vera' is a viewer and may not change a person's email; an admin can change the role"
    );
    assert!(matches!(v.change_email(&support, "fay@example.com", "not an address").await, Err(Error::InvalidEmail(_))));
    assert!(matches!(
        v.change_email(&support, "fay@example.com", "Fay@example.com").await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(v.change_email(&support, "nobody@example.com", "x@example.com").await, Err(Error::NotFound(_))));
    v.block(&support, "gus@example.com", Some("bot")).await.unwrap();
    let err = v.change_email(&support, "gus@example.com", "gus2@example.com").await.unwrap_err();
    assert!(err.to_string().starts_with("gus@example.com is blocked: unblock it first"), "{err}");
    v.approve_one(&admin, "fay@example.com", false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    let code = code_for(&db.deliver().await, "fay@example.com", "invite").unwrap();
    v.redeem(&code, "fay@example.com", &meta()).await.unwrap();
    let before_joined = db.events_total().await;
    let err = v.change_email(&support, "fay@example.com", "fay2@example.com").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "fay@example.com has joined: the product owns the account now, so the address is changed there, not here"
    );
    assert_eq!(db.events_total().await, before_joined);
    assert!(before < before_joined);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'email_changed'").await, 0);
}

async fn the_email_is_changed_once_from_the_shell(db: TestDb) {
    assert_eq!(velvet(&db, &["operator", "add", "ada", "--role", "admin"]).code, 0);
    assert_eq!(velvet(&db, &["--as", "ada", "operator", "add", "sam", "--role", "support"]).code, 0);
    assert_eq!(velvet(&db, &["--as", "ada", "operator", "add", "vic", "--role", "viewer"]).code, 0);
    db.confirmed("hal@exmaple.com").await;
    let r = velvet(&db, &["--as", "sam", "change-email", "hal@exmaple.com", "hal@example.com"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hal@example.com\n"), "{}", r.stderr);
    assert!(
        r.stderr.contains("changed hal@exmaple.com to hal@example.com: pending; sent a confirmation link"),
        "{}",
        r.stderr
    );
    let r = velvet(&db, &["--as", "sam", "lookup", "hal@example.com", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["status"], "pending");
    assert_eq!(json["events"].as_array().unwrap().last().unwrap()["kind"], "email_changed");
    let r = velvet(&db, &["--as", "sam", "change-email", "hal@example.com", "hal.b@example.com"]);
    assert_eq!(r.code, 1);
    // The binary runs on the real clock.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let refusal = format!("already changed once on {today}; block and ask them to sign up again if it is wrong again");
    assert!(r.stderr.contains(&refusal), "{}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "change-email", "hal@example.com", "hal at example"]);
    assert_eq!(r.code, 2, "a malformed address is a usage error: {}", r.stderr);
    let r = velvet(&db, &["--as", "vic", "change-email", "hal@example.com", "h@example.com"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("may not change a person's email"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "change-email", "hal@example.com"]);
    assert_eq!(r.code, 2, "NEW is required");
}
