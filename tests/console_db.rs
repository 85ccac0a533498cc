//! Console actions against a real database, on both backends.

mod common;

use common::TestDb;
use std::collections::HashMap;

on_both_backends!(two_consoles_approving_one_marked_batch_invite_each_entry_once, the_console_reads_follow_the_event_cursor);

async fn two_consoles_approving_one_marked_batch_invite_each_entry_once(db: TestDb) {
    let admin = db.admin().await;
    let other = db.operator("bo", velvet::domain::Role::Admin).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(db.confirmed(&format!("m{i}@example.com")).await);
    }
    // Both consoles marked the same 20 rows and pressed `a` at once.
    let (a, b) = tokio::join!(db.velvet.approve_ids(&admin, &ids), db.velvet.approve_ids(&other, &ids));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.approved.len() + b.approved.len(), 20, "{a:?} {b:?}");
    assert_eq!(a.skipped + b.skipped, 20);
    // The pacer (or anyone) then sends; twice, to be sure.
    db.velvet.send_invites(&admin, None, false).await.unwrap();
    db.velvet.send_invites(&other, None, false).await.unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'approve'").await, 20);
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'invite_sent'").await, 20);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM (SELECT entry_id FROM events WHERE kind = 'invite_sent' GROUP BY entry_id HAVING COUNT(*) > 1) AS twice").await,
        0
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes WHERE kind = 'access'").await, 20, "one access code each");
}

async fn the_console_reads_follow_the_event_cursor(db: TestDb) {
    let admin = db.admin().await;
    db.confirmed("one@example.com").await;
    let latest = db.velvet.latest_events(&admin, 10).await.unwrap();
    let cursor = latest.last().unwrap().id;
    db.confirmed("two@example.com").await;
    let after = db.velvet.events_after(&admin, cursor, 100).await.unwrap();
    let kinds: HashMap<&str, usize> = after.iter().fold(HashMap::new(), |mut m, e| {
        *m.entry(e.kind.as_str()).or_default() += 1;
        m
    });
    assert_eq!((kinds.get("signup"), kinds.get("confirm")), (Some(&1), Some(&1)));
    let page = db.velvet.entries_newest(&admin, i64::MAX, 1).await.unwrap();
    assert_eq!(page[0].email, "two@example.com", "newest first");
    assert_eq!(db.velvet.count_entries(&admin).await.unwrap(), 2);
    assert!(db.velvet.record_alert(&admin, "bad_codes", "45 bad codes").await.unwrap());
    assert!(!db.velvet.record_alert(&admin, "bad_codes", "46 bad codes").await.unwrap(), "one alert event per quiet window");
}
