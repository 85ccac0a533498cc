//! Mail and webhooks that gave up (issue 10 item 10): visible, counted,
//! and sent again on an operator's word, invites with a fresh code.

mod common;

use common::{TestDb, code_for, fail_until_given_up, meta};
use velvet::domain::Role;
use velvet::service::{Error, MAX_ATTEMPTS, MailRetry, RedeemOutcome, WEBHOOK_MAX_ATTEMPTS};

on_both_backends!(
    a_failed_invite_is_listed_and_sent_again_with_a_fresh_code,
    webhooks_keep_trying_for_a_day_then_can_be_sent_again
);

async fn a_failed_invite_is_listed_and_sent_again_with_a_fresh_code(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let sam = db.operator("sam", Role::Support).await;
    let vic = db.operator("vic", Role::Viewer).await;
    db.confirmed("ann@example.com").await;
    db.deliver().await;
    v.approve_one(&admin, "ann@example.com", false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    let tried = fail_until_given_up(&db, "invite", "550 mailbox unavailable").await;
    assert_eq!(tried.len() as i64, MAX_ATTEMPTS, "mail gives up after {MAX_ATTEMPTS} attempts, as before");
    let stale = code_for(&tried, "ann@example.com", "invite").unwrap();

    let failed = v.failed_mail(&vic, None).await.unwrap();
    assert_eq!(failed.len(), 1);
    let f = &failed[0];
    assert_eq!((f.kind.as_str(), f.recipient.as_str(), f.attempts), ("invite", "ann@example.com", MAX_ATTEMPTS));
    assert_eq!(f.last_error.as_deref(), Some("550 mailbox unavailable"));
    assert_eq!(f.failed_at, v.now());
    assert_eq!(v.failed_mail_count(&vic).await.unwrap(), 1);
    let l = v.lookup(&vic, "ann@example.com").await.unwrap();
    assert!(l.mail.iter().any(|m| m.id == f.id && m.kind == "invite" && m.status == "failed"), "{:?}", l.mail);
    assert!(
        l.explanation.contains("mail failed") && l.explanation.contains("550 mailbox unavailable"),
        "{}",
        l.explanation
    );

    assert!(
        matches!(v.retry_mail(&vic, &MailRetry::One(f.id)).await, Err(Error::Forbidden { .. })),
        "a viewer may not"
    );
    assert!(matches!(v.retry_mail(&sam, &MailRetry::One(f.id + 1000)).await, Err(Error::NotFound(_))));
    let done = v.retry_mail(&sam, &MailRetry::One(f.id)).await.unwrap();
    assert!(done.len() == 1 && done[0].retried, "{done:?}");
    assert_eq!(v.failed_mail_count(&vic).await.unwrap(), 0);
    assert_eq!(
        db.texts("SELECT actor FROM events WHERE kind = 'mail_retried'").await,
        ["sam"],
        "audited, naming the operator"
    );
    let fresh = code_for(&db.deliver().await, "ann@example.com", "invite").unwrap();
    assert_ne!(fresh, stale, "a fresh code");
    assert!(
        matches!(v.redeem(&stale, "ann@example.com", &meta()).await, Err(Error::CodeUnusable)),
        "the old one does not work"
    );
    assert!(matches!(v.redeem(&fresh, "ann@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    assert!(
        matches!(v.retry_mail(&sam, &MailRetry::One(f.id)).await, Err(Error::Conflict(_))),
        "sent now: nothing to retry"
    );

    // Joining queued her referral mail, which gives up too: reissue does
    // not refuse a joined person then, and sends it with a fresh code.
    assert!(
        matches!(v.reissue(&sam, "ann@example.com").await, Err(Error::Conflict(_))),
        "nothing failed yet: nothing to reissue"
    );
    let tried = fail_until_given_up(&db, "referral", "452 try later").await;
    let stale = code_for(&tried, "ann@example.com", "referral").unwrap();
    assert_eq!(v.failed_mail(&vic, Some("referral")).await.unwrap().len(), 1);
    let what = v.reissue(&sam, "ann@example.com").await.unwrap();
    assert!(what.contains("referral"), "{what}");
    let fresh = code_for(&db.deliver().await, "ann@example.com", "referral").unwrap();
    assert_ne!(fresh, stale);
    assert!(matches!(v.redeem(&stale, "bob@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert!(matches!(v.redeem(&fresh, "bob@example.com", &meta()).await.unwrap(), RedeemOutcome::CheckEmail { .. }));
    assert_eq!(v.failed_mail_count(&vic).await.unwrap(), 0);
    assert!(matches!(v.failed_mail(&vic, Some("fax")).await, Err(Error::InvalidInput(_))));

    // An invite that gave up can also be reissued: a new code and mail,
    // and the failed one, replaced, is no longer listed.
    db.confirmed("cat@example.com").await;
    db.deliver().await;
    v.approve_one(&admin, "cat@example.com", false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    let stale = code_for(&fail_until_given_up(&db, "invite", "550").await, "cat@example.com", "invite").unwrap();
    assert_eq!(v.failed_mail_count(&vic).await.unwrap(), 1);
    v.reissue(&sam, "cat@example.com").await.unwrap();
    assert_eq!(v.failed_mail_count(&vic).await.unwrap(), 0, "replaced by the reissued invite");
    let fresh = code_for(&db.deliver().await, "cat@example.com", "invite").unwrap();
    assert!(matches!(v.redeem(&stale, "cat@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert!(matches!(v.redeem(&fresh, "cat@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
}

async fn webhooks_keep_trying_for_a_day_then_can_be_sent_again(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let sam = db.operator("sam", Role::Support).await;
    v.set_setting(&admin, "webhook_events", "joined").await.unwrap();
    let code = db.partner_code("hn", 5).await;
    db.confirmed("wes@example.com").await;
    assert!(matches!(v.redeem(&code, "wes@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    let first_try = v.now();
    let tried = fail_until_given_up(&db, "webhook", "connection refused").await;
    assert_eq!(tried.len() as i64, WEBHOOK_MAX_ATTEMPTS);
    assert!(v.now() - first_try >= chrono::Duration::hours(24), "tried for {:?}", v.now() - first_try);
    let failed = v.failed_mail(&sam, None).await.unwrap();
    assert_eq!(failed.len(), 1, "the referral mail went out: {failed:?}");
    assert_eq!((failed[0].kind.as_str(), failed[0].recipient.as_str()), ("webhook", "webhook"));

    assert!(matches!(
        v.retry_mail(&sam, &MailRetry::All { kind: Some("fax".into()) }).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(v.retry_mail(&sam, &MailRetry::All { kind: Some("invite".into()) }).await.unwrap().is_empty());
    let done = v.retry_mail(&sam, &MailRetry::All { kind: Some("webhook".into()) }).await.unwrap();
    assert!(done.len() == 1 && done[0].retried);
    let sent = db.deliver().await;
    assert!(sent.len() == 1 && sent[0].kind == "webhook" && sent[0].body.contains("wes@example.com"));
    assert_eq!(v.failed_mail_count(&sam).await.unwrap(), 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND kind = 'webhook'").await, 1);
}
