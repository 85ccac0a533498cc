//! The person's lifecycle (issue 15): an email changed once, invites that
//! remind and expire unused, bulk blocks with an undo, erasure, and the
//! codes as a tree by campaign and batch. Through the service and through
//! the built binary, on both backends.

mod common;

use chrono::Duration;
use common::{TestDb, code_for, meta, token_for, velvet};
use velvet::domain::{CodeRef, CodeSet, Role, Switch};
use velvet::service::{BlockSelector, ConfirmOutcome, Error, RedeemOutcome, SignupOutcome};

on_both_backends!(
    an_email_is_changed_once_keeping_place_and_history,
    an_email_change_follows_the_status,
    an_email_change_is_refused_precisely,
    the_email_is_changed_once_from_the_shell,
    an_unused_invite_reminds_once_then_expires_back_to_approved,
    expired_invites_are_explained_and_reminders_set_from_the_shell,
    a_running_server_reminds_and_invites_again_by_itself,
    a_bulk_block_previews_blocks_one_batch_and_is_undone_exactly,
    a_bulk_block_is_refused_precisely,
    a_bulk_block_and_its_undo_from_the_shell,
    erasure_leaves_no_trace_of_the_person_and_keeps_the_counts,
    erasure_and_access_from_the_shell,
    the_code_tree_counts_each_batch_and_sums_each_campaign,
    a_branch_of_the_tree_is_paged_newest_first_down_the_primary_key,
    the_code_tree_from_the_shell,
);

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
    let page = velvet::cli::report_page::html(&r).unwrap();
    assert!(page.contains("<th>invites expired unused</th>"));
    assert!(page.contains("<tr><td>2026-11-23</td><td>1</td><td>1</td></tr>"), "the weekly row");
}

/// Waits (up to 10 s) for a mail to `to` in `dir` (the `file:` transport's
/// folder) whose text has `line`, and returns that text.
async fn mail_with_line(dir: &std::path::Path, to: &str, line: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        for f in std::fs::read_dir(dir).unwrap().flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap_or_default();
            if text.lines().any(|l| l.trim_end() == format!("To: {to}")) && text.contains(line) {
                return text;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no mail to {to} with {line:?} arrived");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

async fn a_running_server_reminds_and_invites_again_by_itself(db: TestDb) {
    invited(&db, &["max@example.com"]).await;
    // The sweeper runs as `serve` starts (then every 30 s).
    db.clock.advance(Duration::days(6));
    let server = common::server::start(&db, |_| {}).await;
    let reminder = mail_with_line(server.mail.path(), "max@example.com", "Subject: Your invite expires soon").await;
    assert!(reminder.contains("2026-11-27 09:00 UTC"), "{reminder}");
    server.stop().await;
    db.clock.advance(Duration::days(2));
    let server = common::server::start(&db, |_| {}).await;
    let again = mail_with_line(server.mail.path(), "max@example.com", "Invite code: ").await;
    server.stop().await;
    let code = common::server::code_in(&again);
    let kinds = db.texts("SELECT kind FROM events WHERE entry_id = (SELECT id FROM entries WHERE email = 'max@example.com') ORDER BY id").await;
    let tail: Vec<&str> = kinds.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["invite_expired", "invite_sent"], "expired unused, then invited again by the pacer: {kinds:?}");
    assert!(matches!(db.velvet.redeem(&code, "max@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
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

// ---- 4. Bulk block with a preview and an undo ----

/// A bot wave at tempmail.example in every state, and bystanders.
async fn bot_wave(db: &TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    v.signup("bot1@tempmail.example", None, Some("spam"), &meta()).await.unwrap();
    db.confirmed("bot2@tempmail.example").await;
    db.confirmed("bot3@tempmail.example").await;
    let code = invited(db, &["bot4@tempmail.example"]).await.remove(0);
    v.redeem(&code, "bot4@tempmail.example", &meta()).await.unwrap();
    v.approve_one(&admin, "bot3@tempmail.example", false).await.unwrap();
    v.signup("bot5@tempmail.example", None, None, &meta()).await.unwrap();
    v.block(&admin, "bot5@tempmail.example", Some("by hand")).await.unwrap();
    v.signup("bot6@mail.tempmail.example", None, None, &meta()).await.unwrap();
    v.signup("bo_x@example.com", None, Some("spam"), &meta()).await.unwrap();
    v.signup("ok@example.com", None, Some("hn"), &meta()).await.unwrap();
    db.deliver().await;
}

async fn a_bulk_block_previews_blocks_one_batch_and_is_undone_exactly(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    bot_wave(&db).await;
    let domain = BlockSelector::Domain("TempMail.example".into());
    let before = db.events_total().await;
    let preview = v.block_many(&admin, &domain, None, None, true).await.unwrap();
    assert_eq!((preview.batch_id, preview.count), (None, 3));
    assert_eq!(
        preview.first,
        ["bot1@tempmail.example", "bot2@tempmail.example", "bot3@tempmail.example"],
        "not the joined, the blocked already, nor a subdomain"
    );
    assert_eq!(db.events_total().await, before, "a dry run writes nothing");
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'blocked'").await, 1);
    let only = v.block_many(&admin, &domain, Some("confirmed"), None, true).await.unwrap();
    assert_eq!(only.first, ["bot2@tempmail.example"]);
    // `_` is a character, not a wildcard; a source is matched exactly.
    let prefix = v.block_many(&admin, &BlockSelector::Prefix("bo_".into()), None, None, true).await.unwrap();
    assert_eq!(prefix.first, ["bo_x@example.com"]);
    let source = v.block_many(&admin, &BlockSelector::Source("spam".into()), None, None, true).await.unwrap();
    assert_eq!(source.first, ["bot1@tempmail.example", "bo_x@example.com"]);

    let done = v.block_many(&admin, &domain, None, Some(" bot wave "), false).await.unwrap();
    let batch = done.batch_id.expect("a batch id");
    assert_eq!(done.count, 3);
    let l = v.lookup(&admin, "bot3@tempmail.example").await.unwrap();
    assert_eq!(l.status, "blocked (was approved)");
    assert_eq!(l.explanation, "blocked: bot wave; was approved before (unblock restores it)");
    let block = l.events.last().unwrap();
    assert_eq!((block.kind.as_str(), block.actor.as_str()), ("block", "root"));
    assert_eq!(block.rule.as_deref(), Some("bulk domain tempmail.example"));
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'block' AND batch_id IS NOT NULL").await, 3);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'bulk_block'").await, 1);
    assert!(v.send_invites(&admin, None, false).await.unwrap().sent.is_empty(), "the approved bot gets no invite");

    // Someone unblocked by hand meanwhile is left alone by the undo.
    v.unblock(&support, "bot1@tempmail.example", None).await.unwrap();
    v.block(&support, "bot1@tempmail.example", Some("really a bot")).await.unwrap();
    let undone = v.unblock_batch(&admin, batch).await.unwrap();
    let back: Vec<(&str, &str)> = undone.unblocked.iter().map(|(e, s)| (e.as_str(), s.as_str())).collect();
    assert_eq!(back, [("bot2@tempmail.example", "confirmed"), ("bot3@tempmail.example", "approved")]);
    let statuses = db.texts("SELECT status FROM entries WHERE email LIKE 'bot%' ORDER BY id").await;
    assert_eq!(statuses, ["blocked", "confirmed", "approved", "joined", "blocked", "pending"]);
    assert_eq!(
        v.lookup(&admin, "bot1@tempmail.example").await.unwrap().block_reason.as_deref(),
        Some("really a bot"),
        "blocked again by hand: not part of the batch any more"
    );
    let l = v.lookup(&admin, "bot3@tempmail.example").await.unwrap();
    assert_eq!(l.block_reason, None);
    assert_eq!(l.events.last().unwrap().detail.as_deref(), Some("back to approved"));
    assert_eq!(v.send_invites(&admin, None, false).await.unwrap().sent, ["bot3@tempmail.example"], "its place is back");
    let err = v.unblock_batch(&admin, batch).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("nobody blocked by batch #{batch} is still blocked by it: undone already, or unblocked one by one")
    );
}

async fn a_bulk_block_is_refused_precisely(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    bot_wave(&db).await;
    let domain = BlockSelector::Domain("tempmail.example".into());
    let before = db.events_total().await;
    let err = v.block_many(&support, &domain, None, None, true).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator 'sam' is a support and may not block or unblock people in bulk; an admin can change the role"
    );
    let err = v.block_many(&admin, &BlockSelector::Domain("not a domain".into()), None, None, false).await.unwrap_err();
    assert_eq!(err.to_string(), "--domain 'not a domain' is not a domain name, e.g. tempmail.example");
    let err = v.block_many(&admin, &domain, Some("joined"), None, false).await.unwrap_err();
    assert!(
        err.to_string().starts_with("--status must be pending, confirmed, approved or invited, not 'joined'"),
        "{err}"
    );
    assert!(matches!(
        v.block_many(&admin, &BlockSelector::Prefix("a@b".into()), None, None, false).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        v.block_many(&admin, &BlockSelector::Source(" ".into()), None, None, false).await,
        Err(Error::InvalidInput(_))
    ));
    let nobody =
        v.block_many(&admin, &BlockSelector::Domain("nowhere.example".into()), None, None, false).await.unwrap();
    assert_eq!((nobody.batch_id, nobody.count), (None, 0));
    assert_eq!(db.events_total().await, before, "refusals and empty blocks write nothing");
    let signup_event = db.count("SELECT MIN(id) FROM events WHERE kind = 'signup'").await;
    assert!(
        matches!(v.unblock_batch(&admin, signup_event).await, Err(Error::NotFound(_))),
        "an id that is not a bulk block"
    );
    assert!(matches!(v.unblock_batch(&support, 1).await, Err(Error::Forbidden { .. })));
}

async fn a_bulk_block_and_its_undo_from_the_shell(db: TestDb) {
    bot_wave(&db).await;
    assert_eq!(velvet(&db, &["--as", "root", "operator", "add", "sam", "--role", "support"]).code, 0);
    let r = velvet(&db, &["--as", "root", "block", "--domain", "tempmail.example", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "bot1@tempmail.example\nbot2@tempmail.example\nbot3@tempmail.example\n");
    assert!(
        r.stderr.contains("would block 3 entries (domain tempmail.example); run without --dry-run"),
        "{}",
        r.stderr
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'blocked'").await, 1);
    let r = velvet(
        &db,
        &["--as", "root", "block", "--domain", "tempmail.example", "--status", "pending", "--reason", "bots"],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "bot1@tempmail.example\n"), "{}", r.stderr);
    let batch: String = r.stderr.split("as batch ").nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect();
    assert!(r.stderr.contains(&format!("`velvet unblock --batch {batch}` undoes it")), "{}", r.stderr);
    assert_eq!(db.texts("SELECT block_reason FROM entries WHERE email = 'bot1@tempmail.example'").await, ["bots"]);
    let r = velvet(&db, &["--as", "sam", "unblock", "--batch", &batch]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("may not block or unblock people in bulk"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "root", "unblock", "--batch", &batch]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "bot1@tempmail.example pending\n"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "root", "unblock", "--batch", "987654"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("there is no bulk block #987654"), "{}", r.stderr);
    // Usage: one target; --status and --dry-run only with a bulk target.
    for args in [
        &["block", "--domain", "a.example", "--prefix", "bot"][..],
        &["block", "x@example.com", "--dry-run"],
        &["block", "--status", "pending"],
        &["block"],
        &["unblock", "--batch", "0"],
        &["unblock", "x@example.com", "--batch", "3"],
    ] {
        let mut argv = vec!["--as", "root"];
        argv.extend_from_slice(args);
        let r = velvet(&db, &argv);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    let r = velvet(&db, &["--as", "root", "block", "--domain", "no_t a domain"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a domain name"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "block", "ok@example.com", "--reason", "spam"]);
    assert_eq!(r.code, 0, "one person is still support's: {}", r.stderr);
}

// ---- 3. Erasure and access ----

/// Every text a person could be found by, in every table that holds text.
const TEXT_COLUMNS: &[&str] = &[
    "SELECT email FROM entries",
    "SELECT email_display FROM entries",
    "SELECT note FROM entries",
    "SELECT source FROM entries",
    "SELECT block_reason FROM entries",
    "SELECT device_hash FROM entries",
    "SELECT ip_prefix FROM entries",
    "SELECT recipient FROM outbox",
    "SELECT payload FROM outbox",
    "SELECT last_error FROM outbox",
    "SELECT detail FROM events",
    "SELECT reason FROM events",
    "SELECT rule FROM events",
    "SELECT user_agent FROM events",
    "SELECT device_hash FROM events",
    "SELECT campaign FROM events",
    "SELECT actor FROM events",
    "SELECT revoke_reason FROM invite_codes",
    "SELECT created_by FROM invite_codes",
    "SELECT scope FROM switches",
    "SELECT reason FROM switches",
    "SELECT value FROM settings",
    "SELECT campaign FROM batches",
];

async fn every_text(db: &TestDb) -> String {
    let mut all = String::new();
    for sql in TEXT_COLUMNS {
        for t in db.texts(sql).await {
            all.push_str(&t);
            all.push('\n');
        }
    }
    all
}

/// Ada's whole life: a typo fixed by support, an invite that bounced, a
/// join the product hears of, a friend who joined with her code.
async fn ada(db: &TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    v.set_setting(&admin, "webhook_events", "joined").await.unwrap();
    let browser = velvet::service::RequestMeta {
        ip_prefix: Some("198.51.100.0/24".into()),
        user_agent: Some("AdaBrowser/1.0".into()),
        device_hash: Some("dev-ada-7f3a".into()),
        ..Default::default()
    };
    v.signup("ada@exmaple.com", Some("Ada Lovelace, call me"), Some("hn"), &browser).await.unwrap();
    db.deliver().await;
    v.change_email(&support, "ada@exmaple.com", "Ada@Example.com").await.unwrap();
    let link = token_for(&db.deliver().await, "ada@example.com").unwrap();
    v.confirm(&link, &browser).await.unwrap();
    v.approve_one(&admin, "ada@example.com", false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    common::fail_until_given_up(db, "invite", "550 5.1.1 <ada@example.com>: mailbox unavailable").await;
    v.retry_mail(&support, &velvet::service::MailRetry::All { kind: None }).await.unwrap();
    let code = code_for(&db.deliver().await, "ada@example.com", "invite").unwrap();
    v.redeem(&code, "ada@example.com", &browser).await.unwrap();
    let referral = code_for(&db.deliver().await, "ada@example.com", "referral").unwrap();
    db.confirmed("bo@example.com").await;
    v.redeem(&referral, "bo@example.com", &meta()).await.unwrap();
    db.confirmed("cy@example.com").await;
    v.block(&support, "cy@example.com", Some("asked by ada@example.com")).await.unwrap();
    v.revoke(&admin, &CodeSet::Inviter("ada@example.com".into()), None, false).await.unwrap();
    // An operator typing her address in another case.
    db.confirmed("di@example.com").await;
    v.block(&support, "di@example.com", Some("friend of ADA@Example.COM, same bot")).await.unwrap();
    db.deliver().await;
}

async fn erasure_leaves_no_trace_of_the_person_and_keeps_the_counts(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sue", Role::Support).await;
    ada(&db).await;
    let traces =
        ["ada@example.com", "ada@exmaple.com", "Ada@Example.com", "Ada Lovelace", "AdaBrowser", "dev-ada-7f3a"];
    let before = every_text(&db).await;
    for t in traces {
        assert!(before.contains(t), "the setup stores {t}");
    }
    let access = v.person_export(&support, "ada@example.com").await.unwrap();
    assert_eq!(access.entry.note.as_deref(), Some("Ada Lovelace, call me"));
    assert!(access.events.iter().any(|e| e.user_agent.as_deref() == Some("AdaBrowser/1.0")));
    assert!(
        access
            .mail
            .iter()
            .any(|m| m.kind == "webhook" && m.payload.as_deref().is_some_and(|p| p.contains("ada@example.com")))
    );
    assert_eq!((access.codes.len(), access.invitees), (2, 1));

    let report = serde_json::to_value(v.report(&admin, 7).await.unwrap()).unwrap();
    let entries = db.count("SELECT COUNT(*) FROM entries").await;
    let kinds = db.texts("SELECT kind FROM events ORDER BY id").await;
    assert!(matches!(v.erase(&support, "ada@example.com").await, Err(Error::Forbidden { .. })));
    let erased = v.erase(&admin, "ada@example.com").await.unwrap();
    assert!(erased.anonymous_id.starts_with("erased-"), "{}", erased.anonymous_id);

    let after = every_text(&db).await;
    for t in traces {
        assert!(
            !after.contains(t),
            "{t} is still stored after erasure: {:?}",
            after.lines().filter(|l| l.contains(t)).collect::<Vec<_>>()
        );
    }
    assert!(after.contains(&erased.anonymous_id));
    assert!(after.contains("asked by erased-"), "a reason naming her keeps its sense");
    assert!(after.contains("(removed: it named erased-"), "a reason naming her in another case gives way");
    assert!(!after.to_lowercase().contains("ada@example.com"), "in no case");
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, entries, "counts stay");
    let kinds_after = db.texts("SELECT kind FROM events ORDER BY id").await;
    assert_eq!(kinds_after[..kinds.len()], kinds[..], "the trail is kept, in order");
    assert_eq!(kinds_after.last().map(String::as_str), Some("erased"));
    // The erasure's own events (revokes, `erased`) are in no count: the report is the same.
    let report_after = serde_json::to_value(v.report(&admin, 7).await.unwrap()).unwrap();
    assert_eq!(report_after["days"], report["days"]);
    assert_eq!(report_after["funnel"], report["funnel"]);
    assert_eq!(report_after["weeks"], report["weeks"]);
    let event = db.texts("SELECT detail FROM events WHERE kind = 'erased'").await;
    // Her used access code (her referral codes were revoked before).
    assert_eq!(event, ["address, display form, note, user agents and device hashes removed; revoked 1 of their codes"]);
    assert_eq!(erased.codes_revoked, 1);
    assert_eq!(db.texts("SELECT actor FROM events WHERE kind = 'erased'").await, ["root"]);

    // Nothing finds her, and nothing is sent to her any more.
    assert!(matches!(v.lookup(&admin, "ada@example.com").await, Err(Error::NotFound(_))));
    assert!(matches!(v.person_export(&admin, "ada@example.com").await, Err(Error::NotFound(_))));
    let page = v.export_page(&admin, None, 0, 100).await.unwrap();
    assert!(page.iter().all(|r| !r.email.contains("ada") && !r.email_display.contains("Ada")));
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'").await, 0);
    // Bo's own data is untouched.
    assert_eq!(v.person_export(&admin, "bo@example.com").await.unwrap().entry.email, "bo@example.com");
    assert!(matches!(v.erase(&admin, "ada@example.com").await, Err(Error::NotFound(_))));
}

async fn erasure_and_access_from_the_shell(db: TestDb) {
    ada(&db).await;
    let r = velvet(&db, &["--as", "sam", "export", "--person", "ada@example.com"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("export --person is JSON");
    assert_eq!(json["entry"]["email"], "ada@example.com");
    assert_eq!(json["entry"]["note"], "Ada Lovelace, call me");
    assert!(json["events"].as_array().unwrap().iter().any(|e| e["device_hash"] == "dev-ada-7f3a"));
    let r = velvet(&db, &["--as", "sam", "export", "--person", "ada@example.com", "--format", "csv"]);
    assert_eq!(r.code, 2, "--person is JSON only: {}", r.stderr);
    let r = velvet(&db, &["--as", "root", "erase", "ada@example.com"]);
    assert_eq!(r.code, 2, "no terminal to type the address back: {}", r.stderr);
    assert!(r.stderr.contains("type the address back, or pass --yes"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "erase", "ada@example.com", "--yes"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("may not erase a person's data"), "{}", r.stderr);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'erased'").await, 0);
    let r = velvet(&db, &["--as", "root", "erase", "ada@example.com", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("erased-"), "{}", r.stdout);
    assert!(!r.stderr.contains("ada@") && !r.stdout.contains("ada@"), "the answer names no address: {}", r.stderr);
    let r = velvet(&db, &["--as", "root", "export", "--format", "json"]);
    assert_eq!(r.code, 0);
    assert!(!r.stdout.contains("ada@example.com") && !r.stdout.contains("ada@exmaple.com"), "{}", r.stdout);
    assert!(r.stdout.contains("bo@example.com"));
    let r = velvet(&db, &["--as", "root", "export", "--person", "ada@example.com"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no waitlist entry for ada@example.com"), "{}", r.stderr);
    // Its own folder: the SQLite and PostgreSQL runs of this test run at once.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let r = velvet(&db, &["--as", "root", "report", "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(!page.contains("ada@"));
}

// ---- 5. The Codes view by campaign and batch ----

/// A campaign with two batches (one code used up, one used once, one
/// revoked), a campaign whose code expired, an invite run whose unused
/// codes the sweeper ended, and the referral codes of everyone who joined.
async fn codes_world(db: &TestDb) -> (i64, i64, i64, i64) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let a = v.issue_partner_codes(&admin, &common::partner("hn", 2, 3)).await.unwrap();
    let short = velvet::service::PartnerCodeSpec { expires_in: Duration::hours(1), ..common::partner("ph", 1, 1) };
    let p = v.issue_partner_codes(&admin, &short).await.unwrap();
    let b = v.issue_partner_codes(&admin, &common::partner("hn", 1, 2)).await.unwrap();
    let codes = invited(db, &["ivy@example.com", "jo@example.com", "kim@example.com"]).await;
    assert!(matches!(v.redeem(&codes[2], "kim@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    for (code, who) in [(0, "p1@example.com"), (0, "p2@example.com"), (1, "p3@example.com")] {
        db.confirmed(who).await;
        let joined = v.redeem(&a.codes[code].to_string(), who, &meta()).await.unwrap();
        assert!(matches!(joined, RedeemOutcome::Joined { .. }), "{joined:?}");
    }
    let target = CodeSet::Code(CodeRef::Typed(b.codes[1].to_string()));
    assert_eq!(v.revoke(&admin, &target, None, false).await.unwrap().len(), 1);
    v.pause(&admin, &Switch::Campaign("hn".into()), None).await.unwrap();
    // A week on: ph's code is past its hour, ivy's and jo's invites expired unused.
    db.clock.advance(Duration::days(7) + Duration::hours(1));
    assert_eq!(v.sweep_invites().await.unwrap().expired.len(), 2);
    let access = db.count("SELECT MIN(batch_id) FROM invite_codes WHERE kind = 'access'").await;
    (a.batch_id, p.batch_id, b.batch_id, access)
}

async fn the_code_tree_counts_each_batch_and_sums_each_campaign(db: TestDb) {
    use velvet::service::{CodeGroup, CodeTotals, TreeBatch};
    let (a, p, b, access) = codes_world(&db).await;
    let viewer = db.operator("vi", Role::Viewer).await;
    let tree = db.velvet.code_tree(&viewer).await.unwrap();
    let groups: Vec<(&CodeGroup, bool)> = tree.iter().map(|g| (&g.group, g.paused)).collect();
    assert_eq!(
        groups,
        [
            (&CodeGroup::Campaign("hn".into()), true),
            (&CodeGroup::Campaign("ph".into()), false),
            (&CodeGroup::Access, false),
            (&CodeGroup::Referral, false)
        ],
        "campaigns newest first (hn's second batch is the newest), then access, then referral codes"
    );
    let t = |issued, active, used, expired, revoked, uses, max_uses, joined, revocable| CodeTotals {
        issued,
        active,
        used,
        expired,
        revoked,
        uses,
        max_uses,
        joined,
        revocable,
    };
    let hn = &tree[0];
    let batches: Vec<(TreeBatch, CodeTotals)> = hn.batches.iter().map(|x| (x.batch, x.totals)).collect();
    assert_eq!(
        batches,
        [
            // Two single-use codes, one revoked.
            (TreeBatch::Batch(b), t(2, 1, 0, 0, 1, 0, 2, 0, 1)),
            // Three of two uses: one used up by two people, one used once.
            (TreeBatch::Batch(a), t(3, 2, 1, 0, 0, 3, 6, 3, 3)),
        ]
    );
    assert_eq!(hn.totals, t(5, 3, 1, 0, 1, 3, 8, 3, 4), "the campaign is the sum of its batches");
    assert_eq!(hn.batches[0].created_by.as_deref(), Some("root"));
    assert_eq!(hn.batches[0].created_at, Some(db.velvet.now() - Duration::days(7) - Duration::hours(1)));
    let ph = &tree[1];
    assert_eq!(ph.batches.iter().map(|x| x.batch).collect::<Vec<_>>(), [TreeBatch::Batch(p)]);
    assert_eq!(ph.totals, t(1, 0, 0, 1, 0, 0, 1, 0, 1), "past its expiry: expired, not yet revoked");
    // The invite run: ivy's and jo's ended unused (revoked by the sweeper, but
    // expired, not revoked, to an operator); kim's, used, is past its date too
    // (as its own row says: a code's expiry comes before its uses).
    assert_eq!(tree[2].batches.iter().map(|x| x.batch).collect::<Vec<_>>(), [TreeBatch::Batch(access)]);
    assert_eq!(tree[2].totals, t(3, 0, 0, 3, 0, 1, 3, 1, 1));
    // One referral code for each of the four who joined, not yet mailed:
    // usable once it is, so active.
    let referral = &tree[3];
    assert!(referral.batches.is_empty(), "referral codes are listed without a batch level");
    assert_eq!(referral.totals, t(4, 4, 0, 0, 0, 0, 4, 0, 4));
    // Each number is the database's: the same counts by hand.
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes").await, 5 + 1 + 3 + 4);
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE joined_code_id IS NOT NULL").await, 3 + 1);
    // A revoke of a batch changes exactly its revocable codes.
    let admin = db.admin().await;
    let revoked = db.velvet.revoke(&admin, &CodeSet::Batch(a), None, false).await.unwrap();
    assert_eq!(revoked.len() as i64, hn.batches[1].totals.revocable);
    let after = db.velvet.code_tree(&viewer).await.unwrap();
    assert_eq!(after[0].batches[1].totals, t(3, 0, 0, 0, 3, 3, 6, 3, 0), "joined through it stays");
    // Nobody outside the operators reads it.
    assert!(matches!(db.velvet.code_tree(&velvet::service::Actor::Public).await, Err(Error::NotAnOperator(_))));
}

async fn a_branch_of_the_tree_is_paged_newest_first_down_the_primary_key(db: TestDb) {
    use velvet::service::{CodeBranch, CodeGroup, TreeBatch};
    let (a, _, b, access) = codes_world(&db).await;
    // Two hn codes from before batches existed (seeded), and one such access code.
    let now = db.velvet.now();
    let seeded = |n: i64, kind: &'static str, campaign: Option<&'static str>| velvet::store::SeedCode {
        hash: format!("seeded-{n}"),
        hint: format!("S{n:03}"),
        kind,
        campaign,
        batch_id: None,
        inviter_entry_id: None,
        bound_entry_id: None,
        max_uses: 1,
        uses: 0,
        expires_at: now + Duration::days(3),
        created_at: now,
        created_by: "seed",
    };
    let mut tx = db.store.write().await.unwrap();
    tx.bulk_codes(&[seeded(1, "partner", Some("hn")), seeded(2, "partner", Some("hn")), seeded(3, "access", None)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let viewer = db.operator("vi", Role::Viewer).await;
    let v = &db.velvet;
    let branch = |group: CodeGroup, batch: TreeBatch| CodeBranch { group, batch };
    let hn = |batch| branch(CodeGroup::Campaign("hn".into()), batch);
    let ids = |codes: &[velvet::service::CodeView]| codes.iter().map(|c| c.id).collect::<Vec<i64>>();

    // Batch a, two at a time: newest first, each page below the last id of the one before.
    let all = db.ints("SELECT id FROM invite_codes WHERE batch_id = $1 ORDER BY id DESC", &[a]).await;
    assert_eq!(all.len(), 3);
    let first = v.codes_page(&viewer, &hn(TreeBatch::Batch(a)), i64::MAX, 2).await.unwrap();
    assert_eq!(ids(&first), all[..2]);
    let second = v.codes_page(&viewer, &hn(TreeBatch::Batch(a)), first[1].id, 2).await.unwrap();
    assert_eq!(ids(&second), all[2..], "the rest, none twice");
    assert!(v.codes_page(&viewer, &hn(TreeBatch::Batch(a)), second[0].id, 2).await.unwrap().is_empty());
    assert!(first.iter().all(|c| c.campaign.as_deref() == Some("hn") && c.batch_id == Some(a)));
    assert_eq!(second[0].state, "used", "a code as operators see it: its state, never the plaintext");

    // The campaign's codes without a batch are a branch of their own, listed last.
    let tree = v.code_tree(&viewer).await.unwrap();
    let batches: Vec<TreeBatch> = tree[0].batches.iter().map(|x| x.batch).collect();
    assert_eq!(batches, [TreeBatch::Batch(b), TreeBatch::Batch(a), TreeBatch::Unbatched]);
    assert_eq!(tree[0].batches[2].label(), "no batch");
    let unbatched = v.codes_page(&viewer, &hn(TreeBatch::Unbatched), i64::MAX, 10).await.unwrap();
    assert_eq!(unbatched.iter().map(|c| c.hint.clone().unwrap()).collect::<Vec<_>>(), ["S002", "S001"]);
    let access_batches: Vec<TreeBatch> = tree[2].batches.iter().map(|x| x.batch).collect();
    assert_eq!(access_batches, [TreeBatch::Batch(access), TreeBatch::Unbatched]);
    let seeded_access = branch(CodeGroup::Access, TreeBatch::Unbatched);
    let seeded_access = v.codes_page(&viewer, &seeded_access, i64::MAX, 10).await.unwrap();
    assert_eq!(seeded_access.iter().map(|c| c.hint.clone().unwrap()).collect::<Vec<_>>(), ["S003"]);
    let run = v.codes_page(&viewer, &branch(CodeGroup::Access, TreeBatch::Batch(access)), i64::MAX, 10).await.unwrap();
    assert_eq!(run.iter().map(|c| c.state.as_str()).collect::<Vec<_>>(), ["expired", "expired", "expired"]);
    assert_eq!(run.iter().map(|c| c.uses).collect::<Vec<_>>(), [1, 0, 0], "kim's, ivy's, jo's");

    // Referral codes, whoever gave them, newest first; a page never mixes in other kinds.
    let referral = db.ints("SELECT id FROM invite_codes WHERE kind = 'referral' ORDER BY id DESC", &[]).await;
    let mut paged = Vec::new();
    let mut before = i64::MAX;
    loop {
        let page = v.codes_page(&viewer, &branch(CodeGroup::Referral, TreeBatch::All), before, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().unwrap().id;
        assert!(page.iter().all(|c| c.kind == "referral"));
        paged.extend(ids(&page));
    }
    assert_eq!(paged, referral);
    assert_eq!(paged.len(), 4);

    // The campaign as typed; a name that cannot be one is refused with the rule.
    let typed = branch(CodeGroup::Campaign(" HN ".into()), TreeBatch::Batch(b));
    assert_eq!(v.codes_page(&viewer, &typed, i64::MAX, 10).await.unwrap().len(), 2);
    let bad = branch(CodeGroup::Campaign("no such!".into()), TreeBatch::All);
    assert!(
        matches!(v.codes_page(&viewer, &bad, i64::MAX, 10).await, Err(Error::InvalidInput(m)) if m.contains("letters, digits"))
    );
    assert!(matches!(
        v.codes_page(&velvet::service::Actor::Public, &hn(TreeBatch::All), i64::MAX, 10).await,
        Err(Error::NotAnOperator(_))
    ));
}

async fn the_code_tree_from_the_shell(db: TestDb) {
    let (a, _, b, _) = codes_world(&db).await;
    db.operator("vi", Role::Viewer).await;
    let r = velvet(&db, &["--as", "vi", "codes", "tree"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<Vec<&str>> = r.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines[0],
        ["CAMPAIGN", "/", "BATCH", "ISSUED", "USES", "ACTIVE", "USED", "EXPIRED", "REVOKED", "JOINED"]
    );
    assert_eq!(lines[1], ["hn", "(paused)", "5", "3/8", "3", "1", "0", "1", "3"]);
    let batch = |id: i64| format!("{id}");
    assert_eq!(lines[2][..2], ["batch", batch(b).as_str()]);
    assert_eq!(lines[2][4..], ["2", "0/2", "1", "0", "0", "1", "0"], "{}", r.stdout);
    assert_eq!(lines[3][..2], ["batch", batch(a).as_str()]);
    assert_eq!(lines[3][4..], ["3", "3/6", "2", "1", "0", "0", "3"]);
    assert_eq!(lines[4][..2], ["ph", "1"]);
    assert!(r.stdout.contains("\naccess codes ") && r.stdout.contains("\nreferral codes "), "{}", r.stdout);
    let r = velvet(&db, &["--as", "vi", "codes", "tree", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("codes tree --json is JSON");
    assert_eq!(json[0]["group"], serde_json::json!({"campaign": "hn"}));
    assert_eq!(json[0]["paused"], true);
    assert_eq!(json[0]["totals"]["joined"], 3);
    assert_eq!(json[0]["batches"][1]["batch"], serde_json::json!({"batch": a}));
    assert_eq!(json[3]["group"], "referral");
    let tree: Vec<velvet::service::CodeTreeGroup> = serde_json::from_str(&r.stdout).expect("reads back as the tree");
    assert_eq!(tree.len(), 4);
    let r = velvet(&db, &["--as", "nobody-known", "codes", "tree"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}
