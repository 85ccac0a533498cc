//! Races that must never break the rules, on both backends.

mod common;

use common::{TestDb, meta};
use std::collections::HashSet;
use velvet::service::{Error, RedeemOutcome};

on_both_backends!(
    two_hundred_redemptions_of_a_five_use_code,
    racing_approvers_never_approve_twice,
    concurrent_signups_of_one_email_keep_one_row,
    a_double_click_at_the_same_moment_takes_one_use,
);

async fn two_hundred_redemptions_of_a_five_use_code(db: TestDb) {
    let admin = db.admin().await;
    // Half of the people are confirmed already (they join at once), half are
    // new (their redemption holds a use): both kinds compete for the 5 uses.
    for i in 0..100 {
        db.confirmed(&format!("known{i}@example.com")).await;
    }
    let spec = common::partner("hn", 5, 1);
    let code = db.velvet.issue_partner_codes(&admin, &spec).await.unwrap().codes[0].to_string();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let v = db.velvet.clone();
        let code = code.clone();
        let email = if i % 2 == 0 { format!("known{}@example.com", i / 2) } else { format!("new{i}@example.com") };
        tasks.spawn(async move { v.redeem(&code, &email, &meta()).await });
    }
    let (mut joined, mut held, mut refused) = (0, 0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.expect("task finished") {
            Ok(RedeemOutcome::Joined { .. }) => joined += 1,
            Ok(RedeemOutcome::CheckEmail { .. }) => held += 1,
            Err(Error::CodeUnusable) => refused += 1,
            Err(other) => panic!("a redemption failed unexpectedly: {other}"),
        }
    }
    assert_eq!(joined + held, 5, "exactly max_uses successes");
    assert_eq!(refused, 195);
    assert_eq!(db.count("SELECT uses FROM invite_codes WHERE kind = 'partner'").await, 5);
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions WHERE status IN ('pending', 'completed')").await, 5);
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'joined'").await, joined);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'redeem' AND outcome = 'failed'").await, 195);
}

async fn racing_approvers_never_approve_twice(db: TestDb) {
    let admin = db.admin().await;
    for i in 0..150 {
        db.confirmed(&format!("q{i}@example.com")).await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let v = db.velvet.clone();
        let admin = admin.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = v.approve_next(&admin, 7, false).await.expect("approve_next");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|a| a.entry_id));
            }
        });
    }
    let a = tasks.join_next().await.unwrap().unwrap();
    let b = tasks.join_next().await.unwrap().unwrap();
    let sa: HashSet<i64> = a.iter().copied().collect();
    let sb: HashSet<i64> = b.iter().copied().collect();
    assert_eq!(sa.len(), a.len());
    assert_eq!(sb.len(), b.len());
    assert!(sa.is_disjoint(&sb), "an entry was approved by both approvers");
    assert_eq!(a.len() + b.len(), 150);
    assert_eq!(db.count("SELECT COUNT(*) FROM entries WHERE status = 'approved'").await, 150);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'approve'").await, 150);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM (SELECT entry_id FROM events WHERE kind = 'approve' GROUP BY entry_id HAVING COUNT(*) > 1) AS twice").await,
        0
    );
}

async fn concurrent_signups_of_one_email_keep_one_row(db: TestDb) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let v = db.velvet.clone();
        let email = if i % 2 == 0 { "Same@Example.com" } else { "same@example.com " };
        tasks.spawn(async move { v.signup(email, None, None, &meta()).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().expect("every signup is answered");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 1);
    assert_eq!(db.count("SELECT attempts FROM entries").await, 20);
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox").await, 1, "one confirmation mail");
}

/// The same person sends the same code twice at the same moment (a double
/// click): both answers are the same and one use is taken, whether the
/// email is new (a hold) or confirmed (joins), even for a one-use code.
async fn a_double_click_at_the_same_moment_takes_one_use(db: TestDb) {
    let admin = db.admin().await;
    for round in 0..8 {
        let confirmed = round % 2 == 1;
        let email = format!("click{round}@example.com");
        if confirmed {
            db.confirmed(&email).await;
        }
        let spec = common::partner(&format!("c{round}"), 1, 1);
        let code = db.velvet.issue_partner_codes(&admin, &spec).await.unwrap().codes[0].to_string();
        let click = || {
            let (v, code, email) = (db.velvet.clone(), code.clone(), email.clone());
            tokio::spawn(async move { v.redeem(&code, &email, &meta()).await })
        };
        let (a, b) = (click(), click());
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        assert_eq!(a, b, "round {round}: both clicks hear the same");
        if confirmed {
            assert!(matches!(a, RedeemOutcome::Joined { .. }));
        } else {
            assert!(matches!(a, RedeemOutcome::CheckEmail { .. }));
        }
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM invite_codes WHERE kind = 'partner' AND uses <> 1").await,
        0,
        "every code used once"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions").await, 8, "one redemption per person");
}
