//! The built `velvet` binary, end to end, on both backends.

mod common;

use common::{TestDb, meta, velvet};
use velvet::domain::InviteCode;
use velvet::service::Error;

on_both_backends!(
    a_founder_runs_the_beta_from_the_shell,
    mistakes_get_precise_errors_and_exit_codes,
    export_and_codes_listings,
    counts_and_durations_that_do_not_fit_are_usage_errors,
    failed_mail_is_listed_and_sent_again_from_the_shell,
    on_call_reads_the_trail_and_follows_it,
);

async fn a_founder_runs_the_beta_from_the_shell(db: TestDb) {
    let r = velvet(&db, &["migrate"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = velvet(&db, &["operator", "add", "ada", "--role", "admin"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = velvet(&db, &["--as", "ada", "codes", "issue", "--campaign", "hn", "--max-uses", "3", "--count", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let codes: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(codes.len(), 2, "two codes and nothing else on stdout: {:?}", r.stdout);
    for c in &codes {
        let parsed = InviteCode::parse(c).expect("a printed code parses");
        assert_eq!(parsed.prefix(), Some("HN"));
    }
    assert!(r.stderr.contains("issued 2 codes in batch"), "{}", r.stderr);

    db.confirmed("first@example.com").await;
    db.confirmed("second@example.com").await;
    let r = velvet(&db, &["--as", "ada", "approve", "--next", "1", "--dry-run"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "first@example.com\n"));
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'approved'").await, 0);
    let r = velvet(&db, &["--as", "ada", "approve", "--next", "1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "first@example.com\n"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "approve", "--email", "Second@Example.com"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = velvet(&db, &["--as", "ada", "pause", "redemption"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(matches!(db.velvet.redeem(codes[0], "third@example.com", &meta()).await, Err(Error::Paused(_))));

    let r = velvet(&db, &["--as", "ada", "lookup", "first@example.com", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("lookup --json is JSON");
    assert_eq!(json["email"], "first@example.com");
    assert_eq!(json["status"], "approved");
    let kinds: Vec<&str> = json["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["signup", "confirm", "approve"]);
    assert_eq!(json["events"][2]["actor"], "ada");
    assert!(json["events"][2]["at"].as_str().unwrap().starts_with("2026-"));

    let r = velvet(&db, &["--as", "ada", "lookup", "first@example.com"]);
    assert!(r.stdout.contains("why      confirmed"), "{}", r.stdout);
    let r = velvet(&db, &["--as", "ada", "resume", "redemption"]);
    assert_eq!(r.code, 0);
    assert!(db.velvet.redeem(codes[0], "first@example.com", &meta()).await.is_ok());
}

async fn mistakes_get_precise_errors_and_exit_codes(db: TestDb) {
    let r = velvet(&db, &["--as", "ada", "lookup", "a@example.com"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("velvet operator add NAME --role admin"), "{}", r.stderr);
    let r = velvet(&db, &["operator", "add", "ada", "--role", "viewer"]);
    assert_eq!(r.code, 2, "a wrong argument for this database");
    assert!(r.stderr.contains("the first operator must be an admin"), "{}", r.stderr);
    velvet(&db, &["operator", "add", "ada", "--role", "admin"]);
    let r = velvet(&db, &["--as", "ada", "operator", "add", "vic", "--role", "viewer"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = velvet(&db, &["lookup", "a@example.com"]);
    assert_eq!(r.code, 1, "$USER is not an operator");
    assert!(r.stderr.contains("unknown operator 'nobody-in-particular'") && r.stderr.contains("--as"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "vic", "approve", "--next", "3"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("may not approve entries"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "approve"]);
    assert_eq!(r.code, 2, "usage");
    let r = velvet(&db, &["--as", "ada", "lookup", "not an email"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("space"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "approve", "--next", "0"]);
    assert_eq!(r.code, 2);
    let r = velvet(&db, &["--as", "ada", "codes", "issue", "--campaign", "hn", "--expires", "soon"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("14d"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "codes", "revoke", "HN-0000"]);
    assert_eq!(r.code, 2);
    let r = velvet(&db, &["--as", "ada", "lookup", "ghost@example.com"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no waitlist entry for ghost@example.com"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "pause", "signups", "--campaign", "hn"]);
    assert_eq!(r.code, 2);
    let r = velvet(&db, &["--database-url", "mysql://x@y/z", "migrate"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("use sqlite://FILE or postgres://"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "settings", "set", "daily_cap", "9"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("daily_invite_cap"), "{}", r.stderr);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE kind NOT IN ('operator_added')").await,
        0,
        "nothing recorded by failed commands"
    );
}

async fn export_and_codes_listings(db: TestDb) {
    velvet(&db, &["operator", "add", "ada", "--role", "admin"]);
    db.confirmed("one@example.com").await;
    db.velvet.signup("two@example.com", None, Some("ph"), &meta()).await.unwrap();
    let r = velvet(&db, &["--as", "ada", "export", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0]["email"].as_str(), rows[0]["status"].as_str()), (Some("one@example.com"), Some("confirmed")));
    let r = velvet(&db, &["--as", "ada", "export", "--status", "pending"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("id,email,email_display,status"), "{}", lines[0]);
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains("two@example.com,two@example.com,pending,ph"));
    // Valid addresses a spreadsheet would run as formulas are exported as text.
    db.velvet.signup("=1+1@example.com", None, Some("-x"), &meta()).await.unwrap();
    let r = velvet(&db, &["--as", "ada", "export", "--status", "pending"]);
    assert!(r.stdout.lines().any(|l| l.contains(",'=1+1@example.com,'=1+1@example.com,pending,'-x,")), "{}", r.stdout);
    let r = velvet(&db, &["--as", "ada", "export", "--status", "pending", "--format", "json"]);
    assert!(r.stdout.contains("\"email\":\"=1+1@example.com\""), "JSON keeps the value as it is");
    let r = velvet(&db, &["--as", "ada", "export", "--status", "nope", "--format", "json"]);
    assert_eq!(r.code, 2);

    let issued = velvet(&db, &["--as", "ada", "codes", "issue", "--campaign", "ph", "--count", "3"]);
    let r = velvet(&db, &["--as", "ada", "codes", "revoke", "--batch", "1", "--reason", "leaked"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 3);
    let r = velvet(&db, &["--as", "ada", "codes", "list", "--campaign", "ph", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|c| c["state"] == "revoked" && c["revoked_by"] == "ada"));
    let first = issued.stdout.lines().next().unwrap();
    assert!(!r.stdout.contains(first), "listings never show a code");
    let r = velvet(&db, &["--as", "ada", "codes", "revoke", first]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("revoked 0 codes"), "already revoked: {}", r.stderr);
}

/// Issue 10 items 12 and 13: a count past its type became "unlimited"
/// (`LIMIT -1`), a long duration panicked inside chrono.
async fn counts_and_durations_that_do_not_fit_are_usage_errors(db: TestDb) {
    velvet(&db, &["operator", "add", "ada", "--role", "admin"]);
    for email in ["a@example.com", "b@example.com"] {
        db.confirmed(email).await;
    }
    let r = velvet(&db, &["--as", "ada", "approve", "--next", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "invites", "send", "--past-cap", "--limit", "18446744073709551615"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("'--limit <N>'") && r.stderr.contains("from 1 to 100000"), "{}", r.stderr);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'invite_sent'").await, 0, "nothing sent");

    let r = velvet(&db, &["--as", "ada", "codes", "issue", "--campaign", "x", "--expires", "200000000000d"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--expires") && r.stderr.contains("out of range: use 1h to 366d"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "codes", "issue", "--campaign", "x", "--max-uses", "9223372036854775808"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--max-uses") && r.stderr.contains("from 1 to 1000000"), "{}", r.stderr);
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes").await, 0);

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("velvet.toml");
    std::fs::write(&config, "[limits.signup]\nip = \"10/99999999999999d\"\n").unwrap();
    let r = velvet(&db, &["--config", config.to_str().unwrap(), "migrate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("10/99999999999999d") && r.stderr.contains("use 1s to 7d"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// Issue 10 item 10: `velvet mail failed` shows what gave up, `velvet mail
/// retry` (support) sends it again, `velvet lookup` points at it.
async fn failed_mail_is_listed_and_sent_again_from_the_shell(db: TestDb) {
    velvet(&db, &["operator", "add", "ada", "--role", "admin"]);
    velvet(&db, &["--as", "ada", "operator", "add", "sam", "--role", "support"]);
    velvet(&db, &["--as", "ada", "operator", "add", "vic", "--role", "viewer"]);
    db.confirmed("ann@example.com").await;
    db.deliver().await;
    let r = velvet(&db, &["--as", "ada", "approve", "--email", "ann@example.com"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = velvet(&db, &["--as", "ada", "invites", "send"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    common::fail_until_given_up(&db, "invite", "550 mailbox unavailable").await;

    let r = velvet(&db, &["--as", "vic", "mail", "failed", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(list.len(), 1, "{}", r.stdout);
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["kind"], "invite");
    assert_eq!(list[0]["recipient"], "ann@example.com");
    assert_eq!(list[0]["attempts"], 8);
    assert_eq!(list[0]["last_error"], "550 mailbox unavailable");
    assert!(list[0]["failed_at"].as_str().unwrap().starts_with("2026-"));
    let r = velvet(&db, &["--as", "vic", "mail", "failed"]);
    assert!(
        r.stdout.lines().nth(1).is_some_and(|l| l.contains("invite")
            && l.contains("ann@example.com")
            && l.contains("550 mailbox unavailable")),
        "{}",
        r.stdout
    );
    let r = velvet(&db, &["--as", "vic", "lookup", "ann@example.com"]);
    assert!(r.stdout.contains(&format!("velvet mail retry {id}")), "lookup points at the retry: {}", r.stdout);
    assert!(r.stdout.contains("mail failed"), "{}", r.stdout);

    let r = velvet(&db, &["--as", "vic", "mail", "retry", &id.to_string()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("may not retry failed mail"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "mail", "retry"]);
    assert_eq!(r.code, 2, "an ID or --all: {}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "mail", "retry", "--all", "--kind", "fax"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("confirm, invite, referral, webhook"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "mail", "retry", "99999"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no message #99999"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "sam", "mail", "retry", "--all", "--kind", "invite"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("#{id} invite ann@example.com\n"));
    assert!(r.stderr.contains("queued 1 message(s) again"), "{}", r.stderr);
    let r = velvet(&db, &["--as", "vic", "mail", "failed", "--json"]);
    assert_eq!(r.stdout.trim(), "[]");
    assert_eq!(db.texts("SELECT actor FROM events WHERE kind = 'mail_retried'").await, ["sam"]);
    let r = velvet(&db, &["--as", "sam", "mail", "retry", &id.to_string()]);
    assert_eq!(r.code, 1, "queued now, not failed");
    assert!(r.stderr.contains("is queued, not failed"), "{}", r.stderr);
}

/// `velvet events`: what on-call and scripts read (the test database's
/// clock is behind the binary's, hence the long `--since`).
async fn on_call_reads_the_trail_and_follows_it(db: TestDb) {
    db.admin().await;
    db.confirmed("ada@example.com").await;
    db.confirmed("bob@example.com").await;
    let r = velvet(&db, &["--as", "root", "events", "--kind", "confirm", "--since", "366d", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<serde_json::Value> =
        r.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines.iter().all(|e| e["kind"] == "confirm"));
    let r = velvet(&db, &["--as", "root", "events", "--entry", "bob@example.com", "--since", "366d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.lines().count() >= 2 && r.stdout.contains("signup") && r.stdout.contains("confirm"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("ada"), "one person's events only: {}", r.stdout);
    let r = velvet(&db, &["--as", "root", "events", "--kind", "alerts"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("'alerts' is not a kind of event") && r.stderr.contains("alert_resolved"),
        "{}",
        r.stderr
    );
    let r = velvet(&db, &["--as", "root", "events", "--since", "5"]);
    assert_eq!(r.code, 2, "a bare number is no duration: {}", r.stderr);

    // --follow prints what is committed afterwards, once, and stops on a signal.
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("follow.out");
    let mut child = common::velvet_cli(&db.url)
        .args(["--as", "root", "events", "--follow", "--kind", "confirm", "--since", "366d"])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start velvet events --follow");
    common::until("the listing", std::time::Duration::from_secs(20), || async {
        std::fs::read_to_string(&out_path).unwrap_or_default().lines().count() == 2
    })
    .await;
    db.confirmed("cat@example.com").await;
    common::until("the new confirmation", std::time::Duration::from_secs(20), || async {
        std::fs::read_to_string(&out_path).unwrap_or_default().lines().count() == 3
    })
    .await;
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(text.lines().last().unwrap().contains("confirm"), "{text}");
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "Ctrl-C ends --follow cleanly: {status:?}");
    assert_eq!(std::fs::read_to_string(&out_path).unwrap().lines().count(), 3, "each event once");
}
