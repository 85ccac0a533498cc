//! Storage details both backends must agree on.

mod common;

use chrono::Duration;
use common::TestDb;
use velvet::store::{EventFilter, NewEvent};

on_both_backends!(
    timestamps_order_and_compare_like_time,
    per_person_reads_use_their_indexes,
    an_older_events_page_reads_a_range_of_the_primary_key,
    the_code_tree_reads_its_index_once_and_its_pages_walk_it,
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
    use velvet::domain::CodeSet;
    use velvet::store::code_set_sql;
    for (scope, index) in [
        (CodeSet::Batch(3), "invite_codes_batch"),
        (CodeSet::Inviter(3), "invite_codes_inviter"),
        (CodeSet::BoundTo(3), "invite_codes_bound"),
    ] {
        let (read, _) = code_set_sql(&scope);
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

/// The Codes view's tree with a campaign of many codes: its totals are one
/// pass over `invite_codes_tree` (in its order, never the table's rows, and
/// never once per level: campaigns are summed from their batches), the
/// people who joined are read from `entries_joined_code`, and each branch's
/// page is a range of an index walked down the primary key (no sort).
async fn the_code_tree_reads_its_index_once_and_its_pages_walk_it(db: TestDb) {
    use velvet::domain::code::CodeKind;
    use velvet::store::{CODE_TREE_JOINED, CODE_TREE_TOTALS, CodeBranch, CodeGroup, SeedCode, TreeBatch};
    let now = db.velvet.now();
    let mut tx = db.store.write().await.unwrap();
    let batch = tx.insert_batch(CodeKind::Partner, Some("big"), now, "root").await.unwrap();
    let code = |n: usize, kind: &'static str, campaign: Option<&'static str>, batch_id: Option<i64>| SeedCode {
        hash: format!("{kind}-{n}"),
        hint: "AAAA".into(),
        kind: kind.trim_start_matches("seeded-"),
        campaign,
        batch_id,
        inviter_entry_id: None,
        bound_entry_id: None,
        max_uses: 1,
        uses: n.is_multiple_of(3) as i64,
        expires_at: now + Duration::days(9),
        created_at: now,
        created_by: "root",
    };
    let run = tx.insert_batch(CodeKind::Access, None, now, "pacer").await.unwrap();
    let mut rows: Vec<SeedCode> = (0..20_000).map(|n| code(n, "partner", Some("big"), Some(batch))).collect();
    rows.extend((0..50).map(|n| code(n, "seeded-partner", Some("big"), None)));
    rows.extend((0..2_000).map(|n| code(n, "referral", None, None)));
    rows.extend((0..2_000).map(|n| code(n, "access", None, Some(run))));
    rows.extend((0..20).map(|n| code(n, "seeded-access", None, None)));
    tx.bulk_codes(&rows).await.unwrap();
    tx.commit().await.unwrap();
    let admin = db.admin().await;
    let tree = db.velvet.code_tree(&admin).await.unwrap();
    let big = &tree[0].batches[0].totals;
    assert_eq!((big.issued, big.uses, big.used, big.active), (20_000, 6_667, 6_667, 13_333));
    assert_eq!((tree[0].totals.issued, tree[0].totals.uses), (20_050, 6_684), "with its 50 codes of no batch");

    let sqlite = db.store.backend() == "sqlite";
    // PostgreSQL plans by its statistics (autovacuum keeps them on a live database).
    if let velvet::Store::Postgres(p) = &db.store {
        sqlx::query("ANALYZE invite_codes").execute(p).await.unwrap();
        sqlx::query("ANALYZE entries").execute(p).await.unwrap();
    }
    let scans = |plan: &str, table: &str| {
        plan.lines().any(|l| {
            let l = l.trim_start_matches(|c: char| !c.is_alphabetic());
            l.starts_with(&format!("SCAN {table}")) || l.contains(&format!("Seq Scan on {table}"))
        })
    };
    let mut tx = db.store.read().await.unwrap();
    // `query_plan` binds integers: the time and the reason are spelled in.
    let totals = CODE_TREE_TOTALS.replace("$1", "CURRENT_TIMESTAMP").replace("$2", "CAST($1 AS TEXT)");
    let plan = tx.query_plan(&totals, &[0]).await.unwrap();
    assert!(!scans(&plan, "invite_codes") && !plan.contains("SubPlan"), "the totals scan the codes:\n{plan}");
    if sqlite {
        // Partner, access and referral codes: each a range of the index, read alone, in its order.
        assert_eq!(plan.matches("USING COVERING INDEX invite_codes_tree (kind=?").count(), 3, "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "grouped in the index's order, not sorted:\n{plan}");
    } else {
        // One index range per part, whichever index the statistics favour.
        let reads: Vec<&str> = plan
            .lines()
            .filter(|l| l.split(" on ").nth(1).is_some_and(|t| t.split_whitespace().next() == Some("invite_codes")))
            .collect();
        assert_eq!(reads.len(), 3, "{plan}");
        assert!(reads.iter().all(|l| l.contains("Index") || l.contains("Bitmap Heap Scan")), "{plan}");
    }
    let plan = tx.query_plan(CODE_TREE_JOINED, &[]).await.unwrap();
    assert!(plan.contains("entries_joined_code"), "who joined, from the people who joined with a code:\n{plan}");
    assert!(
        !scans(&plan, "entries") && !scans(&plan, "e") && !scans(&plan, "invite_codes") && !scans(&plan, "c"),
        "{plan}"
    );

    let branches = [
        (
            CodeGroup::Campaign("big".into()),
            TreeBatch::Batch(batch),
            "invite_codes_tree",
            vec![7, batch, i64::MAX, 200],
        ),
        (CodeGroup::Campaign("big".into()), TreeBatch::Unbatched, "invite_codes_tree", vec![7, i64::MAX, 200]),
        (CodeGroup::Access, TreeBatch::Batch(run), "invite_codes_tree", vec![run, i64::MAX, 200]),
        (CodeGroup::Access, TreeBatch::Unbatched, "invite_codes_tree", vec![i64::MAX, 200]),
        (CodeGroup::Referral, TreeBatch::All, "invite_codes_referral", vec![i64::MAX, 200]),
    ];
    for (group, batch, index, binds) in branches {
        let branch = CodeBranch { group, batch };
        // The campaign is text: spelled in, its bind kept (and compared to itself).
        let sql = velvet::store::branch_page_sql(&branch).replace("campaign = $1", "campaign = 'big' AND $1 = $1");
        let plan = tx.query_plan(&sql, &binds).await.unwrap();
        assert!(!scans(&plan, "invite_codes"), "{branch:?} scans the codes:\n{plan}");
        // PostgreSQL chooses by its statistics: the primary key where the
        // branch is most of the table, this index where it is sparse, a
        // sort where it guesses few rows. SQLite plans the same way always.
        if sqlite {
            assert!(plan.contains(index), "{branch:?} must page on {index}:\n{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{branch:?} sorts its codes:\n{plan}");
        }
    }
}
