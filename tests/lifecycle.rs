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
    an_unused_invite_reminds_once_then_expires_back_to_approved,
    expired_invites_are_explained_and_reminders_set_from_the_shell,
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

// ---- 2. Invites that expire unused ----

/// Confirms, approves and invites each address now, and delivers the invites.
async fn invited(db: &TestDb, emails: &[&str]) -> Vec<String> {
    let admin = db.admin().await;
    for e in emails {
        db.confirmed(e).await;
        db.velvet.approve_one(&admin, e, false).await.unwrap();
    }
    db.velvet.send_invites(&admin, None, false).await.unwrap();
    let mail = db.deliver().await;
    emails.iter().map(|e| code_for(&mail, e, "invite").expect("an invite")).collect()
}

async fn an_unused_invite_reminds_once_then_expires_back_to_approved(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    v.set_setting(&admin, "daily_invite_cap", "3").await.unwrap();
    // Sent 2026-11-20 09:00: the codes expire 2026-11-27 09:00.
    let codes = invited(&db, &["ivy@example.com", "jo@example.com", "kim@example.com"]).await;
    assert!(matches!(v.redeem(&codes[2], "kim@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    assert_eq!(db.deliver().await.len(), 1, "kim's referral mail");

    db.clock.advance(Duration::days(4));
    assert_eq!(v.sweep_invites().await.unwrap().reminded, 0, "3 days left: not yet");
    db.clock.advance(Duration::days(1) + Duration::minutes(1));
    v.set_setting(&admin, "invite_reminder_days", "0").await.unwrap();
    assert_eq!(v.sweep_invites().await.unwrap().reminded, 0, "reminders off");
    v.set_setting(&admin, "invite_reminder_days", "2").await.unwrap();
    assert_eq!(v.sweep_invites().await.unwrap().reminded, 2, "ivy and jo; kim has joined");
    assert_eq!(v.sweep_invites().await.unwrap().reminded, 0, "at most one reminder per code");
    // Jo's code is reissued before the reminder goes out: no reminder for a dead code.
    v.reissue(&support, "jo@example.com").await.unwrap();
    let mail = db.deliver().await;
    let sent: Vec<(&str, &str)> = mail.iter().map(|m| (m.to.as_str(), m.subject.as_str())).collect();
    assert_eq!(sent, [("ivy@example.com", "Your invite expires soon"), ("jo@example.com", "Your invite is here")]);
    assert!(mail[0].body.contains("It stops working on 2026-11-27 09:00 UTC."), "{}", mail[0].body);
    assert!(!mail[0].body.contains("Invite code:"), "a reminder carries no code (only its hash is stored)");
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'invite_reminder'").await, 2);

    // Expired unused: back to approved, audited; the pacer invites again.
    db.clock.advance(Duration::days(2));
    let swept = v.sweep_invites().await.unwrap();
    assert_eq!(swept.expired, ["ivy@example.com"], "jo holds a fresh code, kim joined");
    assert!(v.sweep_invites().await.unwrap().expired.is_empty(), "once");
    let l = v.lookup(&admin, "ivy@example.com").await.unwrap();
    assert_eq!(l.status, "approved");
    assert!(l.explanation.starts_with("invite expired unused on 2026-11-27; approved again"), "{}", l.explanation);
    let expired = l.events.iter().find(|e| e.kind == "invite_expired").unwrap();
    assert_eq!(expired.actor, "sweeper");
    assert!(expired.detail.as_deref().unwrap().ends_with("expired unused on 2026-11-27"), "{:?}", expired.detail);
    assert_eq!(l.codes.iter().map(|c| c.state.as_str()).collect::<Vec<_>>(), ["expired"]);
    assert!(matches!(v.redeem(&codes[0], "ivy@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert_eq!(v.lookup(&admin, "jo@example.com").await.unwrap().status, "invited");

    // The cap counts today's sends: the re-invite counts once, today.
    assert_eq!(v.invites_sent_today(&admin).await.unwrap(), 0);
    let run = v.pace().await.unwrap();
    assert_eq!((run.sent.as_slice(), run.cap_remaining), (&["ivy@example.com".to_string()][..], 2));
    assert_eq!(v.invites_sent_today(&admin).await.unwrap(), 1);
    let fresh = code_for(&db.deliver().await, "ivy@example.com", "invite").unwrap();
    assert!(matches!(v.redeem(&fresh, "ivy@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));

    // The report counts expired-unused invites per week (Mon 2026-11-23 to Sun 29).
    let r = v.report(&admin, 14).await.unwrap();
    let day = r.days.iter().find(|d| d.day.to_string() == "2026-11-27").unwrap();
    assert_eq!(day.expired_invites, 1);
    let weeks: Vec<(String, i64, i64)> =
        r.weeks.iter().map(|w| (w.starts.to_string(), w.invites_sent, w.expired_invites)).collect();
    assert_eq!(weeks, [("2026-11-09".into(), 0, 0), ("2026-11-16".into(), 3, 0), ("2026-11-23".into(), 1, 1)]);
    let page = velvet::report::html(&r).unwrap();
    assert!(page.contains("<th>invites expired unused</th>"));
    assert!(page.contains("<tr><td>2026-11-23</td><td>1</td><td>1</td></tr>"), "the weekly row");
}

async fn expired_invites_are_explained_and_reminders_set_from_the_shell(db: TestDb) {
    db.admin().await;
    assert_eq!(velvet(&db, &["--as", "root", "operator", "add", "ada", "--role", "admin"]).code, 0);
    let r = velvet(&db, &["--as", "ada", "settings", "set", "invite_reminder_days", "400"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("'invite_reminder_days' must be a whole number from 0 to 364"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "settings", "set", "invite_reminder_days", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    invited(&db, &["lee@example.com"]).await;
    db.clock.advance(Duration::days(8));
    assert_eq!(db.velvet.sweep_invites().await.unwrap().expired, ["lee@example.com"]);
    let r = velvet(&db, &["--as", "ada", "lookup", "lee@example.com"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("invite expired unused on 2026-11-27"), "{}", r.stdout);
    let r = velvet(&db, &["--as", "ada", "lookup", "lee@example.com", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["status"], "approved");
    assert!(json["events"].as_array().unwrap().iter().any(|e| e["kind"] == "invite_expired"));
}
