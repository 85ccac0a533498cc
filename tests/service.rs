//! The service layer's use cases, on SQLite and PostgreSQL alike.

mod common;

use chrono::Duration;
use common::{TestDb, code_for, meta, partner, token_for};
use velvet::domain::{CodeRef, CodeSet, Role, Switch};
use velvet::service::{ConfirmOutcome, Error, RedeemOutcome, SignupOutcome};

on_both_backends!(
    one_approve_for_one_a_marked_set_and_the_next_n,
    repeat_signups_keep_one_row_and_the_place,
    confirmation_links_work_once_and_expire,
    the_whole_journey_from_signup_to_referral,
    illegal_transition_is_an_error_and_writes_no_event,
    roles_are_enforced_by_the_service,
    daily_cap_paces_invites,
    unusable_codes_get_one_answer_and_a_private_reason,
    pending_hold_is_freed_after_its_time,
    sending_the_same_code_again_takes_no_second_use,
    an_interrupted_delivery_is_sent_again_and_recorded,
    claims_given_back_go_out_without_a_record,
    revoke_by_batch_campaign_and_inviter,
    block_and_unblock_restore_the_place,
    auto_approve_by_domain,
    reissue_replaces_the_access_code,
    export_pages_through_everyone,
    operators_bootstrap_and_grow,
    settings_are_validated_and_audited,
);

async fn repeat_signups_keep_one_row_and_the_place(db: TestDb) {
    let v = &db.velvet;
    let first = v.signup("  Ada@Example.COM ", Some("hi"), Some("hn"), &meta()).await.unwrap();
    let SignupOutcome::New { entry_id } = first else { panic!("{first:?}") };
    db.clock.advance(Duration::minutes(3));
    let again = v.signup("ada@example.com", None, None, &meta()).await.unwrap();
    assert_eq!(again, SignupOutcome::Repeat { entry_id, mailed: false }, "inside the resend window no new mail");
    db.clock.advance(Duration::minutes(20));
    let later = v.signup("ADA@example.com", None, None, &meta()).await.unwrap();
    assert_eq!(later, SignupOutcome::Repeat { entry_id, mailed: true });

    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 1);
    assert_eq!(db.count("SELECT attempts FROM entries").await, 3);
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'").await, 2);
    let admin = db.admin().await;
    let l = v.lookup(&admin, "ada@example.com").await.unwrap();
    assert_eq!(l.email_display, "Ada@Example.COM");
    assert_eq!(l.first_seen + Duration::minutes(23), l.last_attempt_at);
    assert_eq!(l.source.as_deref(), Some("hn"));
    let kinds: Vec<&str> = l.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["signup", "signup_repeat", "signup_repeat"]);
    assert!(matches!(v.signup("not-an-address", None, None, &meta()).await, Err(Error::InvalidEmail(_))));
    assert!(matches!(
        v.signup("a@example.com", Some(&"x".repeat(501)), None, &meta()).await,
        Err(Error::InvalidInput(_))
    ));
}

async fn confirmation_links_work_once_and_expire(db: TestDb) {
    let v = &db.velvet;
    v.signup("bo@example.com", None, None, &meta()).await.unwrap();
    let mail = db.deliver().await;
    assert_eq!(mail.len(), 1);
    assert!(mail[0].body.contains("https://beta.example/v1/confirm/"));
    let token = token_for(&mail, "bo@example.com").unwrap();
    // Only the hash is stored.
    assert_eq!(db.count("SELECT COUNT(*) FROM confirm_tokens").await, 1);
    let plain_hits = match &db.store {
        velvet::Store::Sqlite(p) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM confirm_tokens WHERE token_hash = $1")
                .bind(&token)
                .fetch_one(p)
                .await
                .unwrap()
        }
        velvet::Store::Postgres(p) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM confirm_tokens WHERE token_hash = $1")
                .bind(&token)
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(plain_hits, 0);

    assert!(matches!(
        v.confirm(&token, &meta()).await.unwrap(),
        ConfirmOutcome::Confirmed { auto_approved: false, .. }
    ));
    assert!(matches!(v.confirm(&token, &meta()).await.unwrap(), ConfirmOutcome::AlreadyConfirmed { .. }));
    assert!(matches!(v.confirm("deadbeef", &meta()).await, Err(Error::BadToken)));
    assert!(matches!(v.confirm(&"ab".repeat(24), &meta()).await, Err(Error::BadToken)));

    v.signup("cy@example.com", None, None, &meta()).await.unwrap();
    let token = token_for(&db.deliver().await, "cy@example.com").unwrap();
    db.clock.advance(Duration::hours(49));
    assert!(matches!(v.confirm(&token, &meta()).await, Err(Error::BadToken)));
    let admin = db.admin().await;
    let l = v.lookup(&admin, "cy@example.com").await.unwrap();
    assert_eq!(l.status, "pending");
    let failed = l.events.iter().find(|e| e.kind == "confirm").unwrap();
    assert_eq!(failed.outcome.as_deref(), Some("failed"));
    assert_eq!(failed.reason.as_deref(), Some("link expired"));
}

async fn the_whole_journey_from_signup_to_referral(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.confirmed("ada@example.com").await;
    let approved = v.approve_next(&admin, 10, false).await.unwrap();
    assert_eq!(approved.len(), 1);
    let run = v.send_invites(&admin, None, false).await.unwrap();
    assert_eq!(run.sent, ["ada@example.com"]);
    assert_eq!(run.cap_remaining, 49);
    let mail = db.deliver().await;
    let code = code_for(&mail, "ada@example.com", "invite").expect("invite mail with `Invite code:` line");
    let redeemed = v.redeem(&code.to_lowercase(), "ADA@example.com", &meta()).await.unwrap();
    assert!(matches!(redeemed, RedeemOutcome::Joined { .. }));
    // Bound to Ada and used: anyone else is refused; Ada retrying hears "joined" again.
    db.confirmed("eve@example.com").await;
    assert!(matches!(v.redeem(&code, "eve@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert_eq!(v.redeem(&code, "ada@example.com", &meta()).await.unwrap(), redeemed);

    // Joining hands out one referral code (invites_per_user = 1), by mail.
    let mail = db.deliver().await;
    let referral = code_for(&mail, "ada@example.com", "referral").expect("referral mail");
    let held = v.redeem(&referral, "friend@example.org", &meta()).await.unwrap();
    assert!(matches!(held, RedeemOutcome::CheckEmail { .. }));
    let token = token_for(&db.deliver().await, "friend@example.org").unwrap();
    assert!(matches!(v.confirm(&token, &meta()).await.unwrap(), ConfirmOutcome::Joined { .. }));

    let friend = v.lookup(&admin, "friend@example.org").await.unwrap();
    assert_eq!(friend.status, "joined");
    assert_eq!(friend.inviter_chain, ["ada@example.com"]);
    let kinds: Vec<&str> = friend.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["signup", "redeem_held", "confirm", "joined", "code_issued"]);
    let ada = v.lookup(&admin, "ada@example.com").await.unwrap();
    let kinds: Vec<&str> = ada.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["signup", "confirm", "approve", "invite_sent", "joined", "code_issued"],
        "a repeat changes nothing and records nothing"
    );
    assert_eq!(ada.events[2].actor, "root");
    assert!(ada.mail.iter().all(|m| m.status == "sent"));
    assert_eq!(ada.invitees.len(), 1);
    let tree = v.invite_tree(&admin, "ada@example.com").await.unwrap();
    assert_eq!(tree.invitees[0].email, "friend@example.org");
    assert_eq!((tree.codes_given, tree.codes_used), (1, 1));
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes WHERE uses > max_uses").await, 0);
}

async fn illegal_transition_is_an_error_and_writes_no_event(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    v.signup("pending@example.com", None, None, &meta()).await.unwrap();
    let before = db.events_total().await;
    let err = v.approve_one(&admin, "pending@example.com", false).await.unwrap_err();
    assert_eq!(err.to_string(), "pending@example.com: cannot approve an entry that is pending");
    assert!(matches!(v.unblock(&admin, "pending@example.com", None).await, Err(Error::Illegal { .. })));
    assert!(matches!(v.reissue(&admin, "nobody@example.com").await, Err(Error::NotFound(_))));
    assert_eq!(db.events_total().await, before, "no event for refused transitions");
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'pending'").await, 1);
}

async fn roles_are_enforced_by_the_service(db: TestDb) {
    let v = &db.velvet;
    let viewer = db.operator("vera", Role::Viewer).await;
    let support = db.operator("sam", Role::Support).await;
    db.confirmed("x@example.com").await;
    let before = db.events_total().await;
    let err = v.approve_next(&viewer, 1, false).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator 'vera' is a viewer and may not approve entries; an admin can change the role"
    );
    assert!(matches!(v.approve_one(&support, "x@example.com", false).await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.pause(&viewer, &Switch::Redemption, None).await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.revoke(&support, &CodeSet::Batch(1), None, false).await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.issue_partner_codes(&support, &partner("hn", 1, 1)).await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.set_setting(&support, "daily_invite_cap", "5").await, Err(Error::Forbidden { .. })));
    assert!(matches!(v.add_operator("sam", "eve", Role::Admin).await, Err(Error::Forbidden { .. })));
    assert_eq!(db.events_total().await, before);
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'approved'").await, 0);
    // What they may do, they can.
    assert!(v.lookup(&viewer, "x@example.com").await.is_ok());
    assert!(v.pause(&support, &Switch::Signups, Some("maintenance")).await.unwrap());
    assert!(v.block(&support, "x@example.com", Some("bot")).await.is_ok());
    assert!(matches!(v.operator("nobody").await, Err(Error::UnknownOperator(_))));
}

async fn daily_cap_paces_invites(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    v.set_setting(&admin, "daily_invite_cap", "3").await.unwrap();
    for i in 0..5 {
        db.confirmed(&format!("p{i}@example.com")).await;
        db.clock.advance(Duration::seconds(1));
    }
    assert_eq!(v.approve_next(&admin, 5, false).await.unwrap().len(), 5);
    let l = v.lookup(&admin, "p4@example.com").await.unwrap();
    assert!(l.explanation.contains("waiting for the pacer to send it: 5th in line"), "{}", l.explanation);
    let first = v.send_invites(&admin, None, false).await.unwrap();
    assert_eq!(first.sent, ["p0@example.com", "p1@example.com", "p2@example.com"], "oldest approval first");
    assert_eq!(first.cap_remaining, 0);
    assert!(v.send_invites(&admin, None, false).await.unwrap().sent.is_empty());
    let l = v.lookup(&admin, "p4@example.com").await.unwrap();
    assert!(l.explanation.contains("waiting for tomorrow's cap: 2nd in line"), "{}", l.explanation);
    // Past the cap: admins only, audited.
    let support = db.operator("sam", Role::Support).await;
    assert!(matches!(v.send_invites(&support, Some(1), true).await, Err(Error::Forbidden { .. })));
    let forced = v.send_invites(&admin, Some(1), true).await.unwrap();
    assert_eq!(forced.sent, ["p3@example.com"]);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'invite_sent' AND rule = 'past cap'").await, 1);
    // A new UTC day opens the valve again.
    db.clock.advance(Duration::days(1));
    assert_eq!(v.send_invites(&admin, None, false).await.unwrap().sent, ["p4@example.com"]);
}

async fn unusable_codes_get_one_answer_and_a_private_reason(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.confirmed("c@example.com").await;
    db.confirmed("d@example.com").await;
    db.confirmed("e@example.com").await;
    let codes = v.issue_partner_codes(&admin, &partner("hn", 1, 3)).await.unwrap().codes;
    let [a, b, c] = [codes[0].to_string(), codes[1].to_string(), codes[2].to_string()];
    assert!(a.starts_with("HN-"));

    let unknown = velvet::domain::InviteCode::generate(None).unwrap().to_string();
    assert!(matches!(v.redeem(&unknown, "c@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert!(matches!(v.redeem("HN-12", "c@example.com", &meta()).await, Err(Error::InvalidCode(_))));
    assert!(matches!(v.redeem(&a, "not email", &meta()).await, Err(Error::InvalidEmail(_))));

    v.revoke(&admin, &CodeSet::Code(CodeRef::Typed(b.clone())), Some("leaked"), false).await.unwrap();
    assert!(matches!(v.redeem(&b, "c@example.com", &meta()).await, Err(Error::CodeUnusable)));

    v.pause(&admin, &Switch::Campaign("hn".into()), None).await.unwrap();
    assert!(matches!(v.redeem(&a, "c@example.com", &meta()).await, Err(Error::CodeUnusable)));
    v.resume(&admin, &Switch::Campaign("hn".into())).await.unwrap();

    v.pause(&admin, &Switch::Redemption, None).await.unwrap();
    assert!(matches!(v.redeem(&a, "c@example.com", &meta()).await, Err(Error::Paused(_))));
    v.resume(&admin, &Switch::Redemption).await.unwrap();

    assert!(matches!(v.redeem(&a, "c@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    assert!(matches!(v.redeem(&a, "d@example.com", &meta()).await, Err(Error::CodeUnusable)), "used up");
    db.clock.advance(Duration::days(15));
    assert!(matches!(v.redeem(&c, "d@example.com", &meta()).await, Err(Error::CodeUnusable)), "expired");

    let reasons = |db: TestDb| async move {
        match &db.store {
            velvet::Store::Sqlite(p) => sqlx::query_scalar::<_, String>(
                "SELECT reason FROM events WHERE kind = 'redeem' AND outcome = 'failed' ORDER BY id",
            )
            .fetch_all(p)
            .await
            .unwrap(),
            velvet::Store::Postgres(p) => sqlx::query_scalar::<_, String>(
                "SELECT reason FROM events WHERE kind = 'redeem' AND outcome = 'failed' ORDER BY id",
            )
            .fetch_all(p)
            .await
            .unwrap(),
        }
    };
    assert_eq!(
        reasons(db.clone()).await,
        ["unknown code", "code revoked", "campaign paused", "code used up or over its daily cap", "code expired"]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'joined'").await, 1);
    assert_eq!(Error::CodeUnusable.to_string(), "this code cannot be used");
}

async fn pending_hold_is_freed_after_its_time(db: TestDb) {
    let v = &db.velvet;
    let code = db.partner_code("pod", 1).await;
    assert!(matches!(v.redeem(&code, "slow@example.com", &meta()).await.unwrap(), RedeemOutcome::CheckEmail { .. }));
    assert_eq!(db.count("SELECT uses FROM invite_codes WHERE kind = 'partner'").await, 1, "the hold takes the use");
    assert!(matches!(v.redeem(&code, "quick@example.com", &meta()).await, Err(Error::CodeUnusable)));
    let slow_token = token_for(&db.deliver().await, "slow@example.com").unwrap();

    db.clock.advance(Duration::hours(49));
    assert_eq!(v.sweep_holds().await.unwrap(), 1);
    assert_eq!(db.count("SELECT uses FROM invite_codes WHERE kind = 'partner'").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions WHERE status = 'pending'").await, 0);
    db.confirmed("quick@example.com").await;
    assert!(matches!(v.redeem(&code, "quick@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    // The slow one's link has expired too, and the code is used: nothing happens.
    assert!(matches!(v.confirm(&slow_token, &meta()).await, Err(Error::BadToken)));
    assert_eq!(db.count("SELECT uses FROM invite_codes WHERE kind = 'partner'").await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'hold_released'").await, 1);
}

async fn sending_the_same_code_again_takes_no_second_use(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let code = db.partner_code("pod", 3).await;
    let uses = || db.count("SELECT MAX(uses) FROM invite_codes WHERE kind = 'partner'");
    // Unconfirmed: a double click holds one use, not two.
    let first = v.redeem(&code, "twice@example.com", &meta()).await.unwrap();
    let again = v.redeem(&code.to_lowercase(), "Twice@Example.com", &meta()).await.unwrap();
    assert!(matches!(first, RedeemOutcome::CheckEmail { .. }));
    assert_eq!(again, first);
    assert_eq!(uses().await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions").await, 1);
    // Confirmed and joined: a retry after a lost answer hears "joined" again.
    let token = token_for(&db.deliver().await, "twice@example.com").unwrap();
    v.confirm(&token, &meta()).await.unwrap();
    let joined = v.redeem(&code, "twice@example.com", &meta()).await.unwrap();
    assert!(matches!(joined, RedeemOutcome::Joined { .. }));
    assert_eq!(uses().await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'joined'").await, 1);
    // Another code for someone already in, or the same one once the repeat
    // window is over: the unconfirmed answer, no use taken (no probing).
    let other = db.partner_code("pod", 3).await;
    assert!(matches!(v.redeem(&other, "twice@example.com", &meta()).await, Ok(RedeemOutcome::CheckEmail { .. })));
    db.clock.advance(chrono::Duration::minutes(11));
    assert!(matches!(v.redeem(&code, "twice@example.com", &meta()).await, Ok(RedeemOutcome::CheckEmail { .. })));
    assert_eq!(uses().await, 1);
    // A blocked person with a live hold hears the unconfirmed answer too, and nothing is taken.
    v.redeem(&code, "held@example.com", &meta()).await.unwrap();
    v.block(&admin, "held@example.com", Some("test")).await.unwrap();
    assert!(matches!(v.redeem(&code, "held@example.com", &meta()).await, Ok(RedeemOutcome::CheckEmail { .. })));
    assert_eq!(uses().await, 2);
}

async fn an_interrupted_delivery_is_sent_again_and_recorded(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.confirmed("cut@example.com").await;
    db.deliver().await;
    v.approve_next(&admin, 1, false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    // A dispatcher claims the invite, mints its code... and dies before
    // recording the outcome.
    let first = v.claim_mail("https://beta.example", 10).await.unwrap();
    let lost = code_for(&first, "cut@example.com", "invite").unwrap();
    assert!(
        v.claim_mail("https://beta.example", 10).await.unwrap().is_empty(),
        "leased: nobody else sends it meanwhile"
    );
    db.clock.advance(velvet::service::LEASE + Duration::seconds(1));
    let again = v.claim_mail("https://beta.example", 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].outbox_id, first[0].outbox_id);
    v.mail_sent(again[0].outbox_id).await.unwrap();
    let code = code_for(&again, "cut@example.com", "invite").unwrap();
    assert_ne!(code, lost, "a fresh code");
    // The trail says why the person may hold two mails; only the newer code works.
    let person = v.lookup(&admin, "cut@example.com").await.unwrap();
    let cut = person.events.iter().find(|e| e.kind == "mail_interrupted").expect("a mail_interrupted event");
    assert!(cut.detail.as_deref().is_some_and(|d| d.starts_with("invite #")), "{:?}", cut.detail);
    assert!(matches!(v.redeem(&lost, "cut@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert!(matches!(v.redeem(&code, "cut@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'invite' AND status = 'sent'").await, 1);

    // Cut off after the mail did arrive: the person used the code meanwhile.
    // No second mail (its code could not work); the trail says so.
    db.confirmed("arrived@example.com").await;
    db.deliver().await;
    v.approve_next(&admin, 1, false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    let first = v.claim_mail("https://beta.example", 10).await.unwrap();
    let code = code_for(&first, "arrived@example.com", "invite").unwrap();
    assert!(matches!(v.redeem(&code, "arrived@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    db.clock.advance(velvet::service::LEASE + Duration::seconds(1));
    let again = v.claim_mail("https://beta.example", 10).await.unwrap();
    assert!(again.iter().all(|m| m.kind != "invite"), "no second invite");
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'invite' AND status = 'sent'").await, 2);
    let person = v.lookup(&admin, "arrived@example.com").await.unwrap();
    let cut = person.events.iter().find(|e| e.kind == "mail_interrupted").expect("a mail_interrupted event");
    assert!(cut.reason.as_deref().unwrap_or("").contains("it arrived"), "{:?}", cut.reason);
    assert!(
        matches!(v.redeem(&code, "arrived@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }),
        "the code they used still answers"
    );
}

async fn claims_given_back_go_out_without_a_record(db: TestDb) {
    let v = &db.velvet;
    v.signup("slow@example.com", None, None, &meta()).await.unwrap();
    let claimed = v.claim_mail("https://beta.example", 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // The dispatcher ran short of lease time before trying it.
    v.release_mail(&[claimed[0].outbox_id]).await.unwrap();
    let again = v.claim_mail("https://beta.example", 10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].outbox_id, again[0].attempts),
        (1, claimed[0].outbox_id, 1),
        "due at once, the attempt not counted"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'mail_interrupted'").await, 0);
}

async fn revoke_by_batch_campaign_and_inviter(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let first = v.issue_partner_codes(&admin, &partner("hn", 5, 3)).await.unwrap();
    let second = v.issue_partner_codes(&admin, &partner("hn", 5, 2)).await.unwrap();
    v.issue_partner_codes(&admin, &partner("ph", 5, 4)).await.unwrap();
    let dry = v.revoke(&admin, &CodeSet::Batch(first.batch_id), None, true).await.unwrap();
    assert_eq!(dry.len(), 3);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM invite_codes WHERE status = 'revoked'").await,
        0,
        "dry run changes nothing"
    );
    assert_eq!(v.revoke(&admin, &CodeSet::Batch(first.batch_id), Some("leak"), false).await.unwrap().len(), 3);
    assert_eq!(
        v.revoke(&admin, &CodeSet::Campaign("HN".into()), None, false).await.unwrap().len(),
        2,
        "only what was still active"
    );
    assert!(matches!(v.redeem(&second.codes[0].to_string(), "z@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes WHERE status = 'active'").await, 4);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'revoke'").await, 5);

    // Every code one inviter gives out.
    db.confirmed("inv@example.com").await;
    let code = db.partner_code("ph", 5).await;
    v.redeem(&code, "inv@example.com", &meta()).await.unwrap();
    db.deliver().await;
    let revoked = v.revoke(&admin, &CodeSet::Inviter("inv@example.com".into()), None, false).await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].kind, "referral");
}

async fn block_and_unblock_restore_the_place(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    db.confirmed("b@example.com").await;
    v.approve_one(&admin, "b@example.com", false).await.unwrap();
    v.block(&admin, "b@example.com", Some("looks like a bot")).await.unwrap();
    let l = v.lookup(&admin, "b@example.com").await.unwrap();
    assert_eq!(l.status, "blocked (was approved)");
    assert_eq!(l.explanation, "blocked: looks like a bot; was approved before (unblock restores it)");
    assert!(v.send_invites(&admin, None, false).await.unwrap().sent.is_empty(), "blocked people get no invite");
    assert!(matches!(v.block(&admin, "b@example.com", None).await, Err(Error::Illegal { .. })));
    v.unblock(&admin, "b@example.com", None).await.unwrap();
    assert_eq!(v.lookup(&admin, "b@example.com").await.unwrap().status, "approved");
    assert_eq!(v.send_invites(&admin, None, false).await.unwrap().sent, ["b@example.com"]);
}

async fn auto_approve_by_domain(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    v.set_setting(&admin, "auto_approve_domains", "acme.io").await.unwrap();
    db.confirmed("someone@example.com").await;
    db.confirmed("staff@acme.io").await;
    let l = v.lookup(&admin, "staff@acme.io").await.unwrap();
    assert_eq!(l.status, "approved");
    assert_eq!(l.events.last().unwrap().actor, "auto-approve");
    assert_eq!(v.lookup(&admin, "someone@example.com").await.unwrap().status, "confirmed");
}

async fn reissue_replaces_the_access_code(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    db.confirmed("r@example.com").await;
    v.approve_next(&admin, 1, false).await.unwrap();
    v.send_invites(&admin, None, false).await.unwrap();
    let old = code_for(&db.deliver().await, "r@example.com", "invite").unwrap();
    v.reissue(&support, "r@example.com").await.unwrap();
    let new = code_for(&db.deliver().await, "r@example.com", "invite").unwrap();
    assert_ne!(old, new);
    assert!(matches!(v.redeem(&old, "r@example.com", &meta()).await, Err(Error::CodeUnusable)));
    assert!(matches!(v.redeem(&new, "r@example.com", &meta()).await.unwrap(), RedeemOutcome::Joined { .. }));
    let l = v.lookup(&admin, "r@example.com").await.unwrap();
    assert!(l.events.iter().any(|e| e.kind == "reissue" && e.actor == "sam"));
    assert!(matches!(v.reissue(&support, "r@example.com").await, Err(Error::Conflict(_))));
}

async fn export_pages_through_everyone(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    for i in 0..7 {
        v.signup(&format!("e{i}@example.com"), None, None, &meta()).await.unwrap();
    }
    db.confirmed("c@example.com").await;
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = v.export_page(&admin, None, after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        seen.extend(page.into_iter().map(|r| r.email));
    }
    assert_eq!(seen.len(), 8);
    let confirmed = v.export_page(&admin, Some("confirmed"), 0, 100).await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert!(matches!(v.export_page(&admin, Some("waiting"), 0, 10).await, Err(Error::InvalidInput(_))));
}

async fn operators_bootstrap_and_grow(db: TestDb) {
    let v = &db.velvet;
    assert!(matches!(v.operator("ada").await, Err(Error::NoOperators)));
    assert!(matches!(v.add_operator("ada", "ada", Role::Support).await, Err(Error::InvalidInput(_))));
    v.add_operator("whoever", "ada", Role::Admin).await.unwrap();
    assert!(matches!(v.add_operator("stranger", "eve", Role::Admin).await, Err(Error::UnknownOperator(_))));
    v.add_operator("ada", "sam", Role::Support).await.unwrap();
    assert!(matches!(v.add_operator("ada", "sam", Role::Viewer).await, Err(Error::Conflict(_))));
    assert!(matches!(v.add_operator("ada", "bad name", Role::Viewer).await, Err(Error::InvalidInput(_))));
    let ops = v.operators(&v.operator("sam").await.unwrap()).await.unwrap();
    assert_eq!(
        ops.iter().map(|o| (o.name.as_str(), o.role.as_str())).collect::<Vec<_>>(),
        [("ada", "admin"), ("sam", "support")]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'operator_added'").await, 2);
}

async fn settings_are_validated_and_audited(db: TestDb) {
    let v = &db.velvet;
    let admin = db.admin().await;
    let s = v.set_setting(&admin, "daily_invite_cap", "80").await.unwrap();
    assert_eq!(s.daily_invite_cap, 80);
    assert_eq!(v.settings(&admin).await.unwrap().daily_invite_cap, 80);
    let err = v.set_setting(&admin, "daily_cap", "80").await.unwrap_err();
    assert!(err.to_string().starts_with("there is no setting 'daily_cap'"), "{err}");
    assert!(v.set_setting(&admin, "invites_per_user", "many").await.is_err());
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'setting'").await, 1);
    let detail = match &db.store {
        velvet::Store::Sqlite(p) => sqlx::query_scalar::<_, String>("SELECT detail FROM events WHERE kind = 'setting'")
            .fetch_one(p)
            .await
            .unwrap(),
        velvet::Store::Postgres(p) => {
            sqlx::query_scalar::<_, String>("SELECT detail FROM events WHERE kind = 'setting'")
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(detail, "daily_invite_cap: 50 -> 80");
    // Signups paused: a calm refusal, nothing stored.
    v.pause(&admin, &Switch::Signups, None).await.unwrap();
    assert!(matches!(v.signup("late@example.com", None, None, &meta()).await, Err(Error::Paused(_))));
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 0);
}

/// One, marked and next N go through one use case: each approved entry
/// moves with its `approved_at` and gets exactly one `approve` event by the
/// operator; marked entries no longer confirmed are skipped, not errors.
async fn one_approve_for_one_a_marked_set_and_the_next_n(db: TestDb) {
    use velvet::service::Approvees;
    let admin = db.admin().await;
    let v = &db.velvet;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(db.confirmed(&format!("a{i}@example.com")).await);
    }
    let one = v.approve(&admin, Approvees::Email("a0@example.com"), false).await.unwrap();
    assert_eq!(one.approved.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(), ["a0@example.com"]);
    let marked = v.approve(&admin, Approvees::Ids(&[ids[2], ids[0], ids[1]]), false).await.unwrap();
    assert_eq!(marked.approved.len(), 2, "a0 was approved already");
    assert_eq!(marked.skipped, 1);
    let next = v.approve(&admin, Approvees::Next(10), false).await.unwrap();
    assert_eq!(
        next.approved.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(),
        ["a3@example.com", "a4@example.com", "a5@example.com"]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'approved' AND approved_at IS NOT NULL").await, 6);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE kind = 'approve' AND actor = 'root' AND entry_id IS NOT NULL")
            .await,
        6
    );
    assert_eq!(db.count("SELECT COUNT(DISTINCT entry_id) FROM events WHERE kind = 'approve'").await, 6);
    // One person who is not confirmed is an error naming them.
    db.velvet.signup("late@example.com", None, None, &common::meta()).await.unwrap();
    let err = v.approve(&admin, Approvees::Email("late@example.com"), false).await.unwrap_err();
    assert!(err.to_string().contains("late@example.com"), "{err}");
}
