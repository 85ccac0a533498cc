//! Storage details both backends must agree on.

mod common;

use chrono::Duration;
use common::TestDb;
use velvet::store::{EventFilter, NewEvent};

on_both_backends!(
    timestamps_order_and_compare_like_time,
    per_person_reads_use_their_indexes,
    an_older_events_page_reads_a_range_of_the_primary_key,
);

async fn timestamps_order_and_compare_like_time(db: TestDb) {
    // Fractions of a second of different lengths are where text timestamps
    // go wrong: 09:00:00 vs 09:00:00.1 vs 09:00:00.123456.
    let t0 = db.velvet.now();
    let offsets_us = [1_000_000, 0, 500_000, 123_456, 100_000, 999_999, 1];
    let mut tx = db.store.write().await.unwrap();
    for us in offsets_us {
        let e = NewEvent { kind: "alert", actor: "test".into(), detail: Some(us.to_string()), ..Default::default() };
        tx.append_event(t0 + Duration::microseconds(us), &e).await.unwrap();
    }
    let since = tx.count_events_since("alert", t0 + Duration::microseconds(123_456)).await.unwrap();
    assert_eq!(since, 4, "123456, 500000, 999999 and 1000000 µs are at or after the bound");
    let rows = tx.events(&EventFilter { limit: 100, ..Default::default() }).await.unwrap();
    tx.commit().await.unwrap();
    let mut by_time = rows.clone();
    by_time.sort_by_key(|r| r.at);
    let order: Vec<String> = by_time.iter().map(|r| r.detail.clone().unwrap()).collect();
    assert_eq!(order, ["0", "1", "100000", "123456", "500000", "999999", "1000000"]);
    for r in &rows {
        let us: i64 = r.detail.as_deref().unwrap().parse().unwrap();
        assert_eq!(r.at, t0 + Duration::microseconds(us), "read back exactly");
    }
}

#[tokio::test]
async fn a_database_url_with_a_password_is_never_printed() {
    let shown = velvet::store::Redacted("postgres://app:s3cret@db.internal/velvet").to_string();
    assert_eq!(shown, "postgres://app:***@db.internal/velvet");
    let err = velvet::Store::open("postgres://app:s3cret@127.0.0.1:1/velvet").await.err().unwrap().to_string();
    assert!(!err.contains("s3cret"), "{err}");
}

/// The reads a console cursor move or a confirmation makes use their
/// indexes on both backends (a plan that scans the table grows with it).
async fn per_person_reads_use_their_indexes(db: TestDb) {
    use velvet::store::{COUNT_CONFIRMED_UPTO, ENTRY_TIMELINE, LISTED_NEWEST};
    let mut tx = db.store.read().await.unwrap();
    let listed = if db.store.backend() == "sqlite" { LISTED_NEWEST.0 } else { LISTED_NEWEST.1 };
    for (what, sql, binds, indexes) in [
        ("a person's timeline", ENTRY_TIMELINE, vec![7, 5000], vec!["events_entry"]),
        ("the first-N-confirmed count", COUNT_CONFIRMED_UPTO, vec![101], vec!["entries_confirmed_at"]),
        (
            "a page of the list with its code hints",
            listed,
            vec![1_000_000, 200],
            vec!["invite_codes_bound", "invite_codes_inviter"],
        ),
    ] {
        let plan = tx.query_plan(sql, &binds).await.unwrap();
        for index in indexes {
            assert!(plan.contains(index), "{what} must use {index}; plan:\n{plan}");
        }
        assert!(
            !plan.lines().any(|l| l.trim_start().starts_with("SCAN events") || l.contains("Seq Scan on events")),
            "{what} scans events:\n{plan}"
        );
    }
    // Revoke and reissue read and change one scope of codes on its index.
    use velvet::store::{CodeScope, scope_sql};
    for (scope, index) in [
        (CodeScope::Batch(3), "invite_codes_batch"),
        (CodeScope::Inviter(3), "invite_codes_inviter"),
        (CodeScope::BoundTo(3), "invite_codes_bound"),
    ] {
        let (read, _) = scope_sql(&scope);
        let plan = tx.query_plan(read, &[3]).await.unwrap();
        assert!(plan.contains(index), "{scope:?} must use {index}; plan:\n{plan}");
    }
}

/// The Events view's older page (`Tx::events_before`) walks the primary key
/// down from its cursor, whatever the filter words: a range, never a scan.
async fn an_older_events_page_reads_a_range_of_the_primary_key(db: TestDb) {
    let mut tx = db.store.read().await.unwrap();
    // `query_plan` binds integers; the filter words are text, hence the casts
    // (the plan is the one the typed query gets).
    let sql = (3..=6).fold(velvet::store::EVENTS_BEFORE.to_string(), |sql, i| {
        sql.replace(&format!("${i}"), &format!("CAST(${i} AS TEXT)"))
    });
    let plan = tx.query_plan(&sql, &[1_000_000, 950_000, 1, 2, 3, 4, 500]).await.unwrap();
    let on_key = if db.store.backend() == "sqlite" { "INTEGER PRIMARY KEY" } else { "events_pkey" };
    assert!(plan.contains(on_key), "must read the primary key; plan:\n{plan}");
    assert!(
        !plan.lines().any(|l| l.trim_start().starts_with("SCAN events") || l.contains("Seq Scan on events")),
        "scans events:\n{plan}"
    );
}
