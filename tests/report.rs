//! `velvet report`: the numbers, and a page with real charts.

mod common;

use common::{TestDb, meta};

on_both_backends!(the_weekly_report_counts_the_week);

async fn the_weekly_report_counts_the_week(db: TestDb) {
    let admin = db.admin().await;
    db.confirmed("a@example.com").await;
    db.confirmed("b@example.com").await;
    db.velvet.signup("c@example.com", None, None, &meta()).await.unwrap();
    db.velvet.approve_next(&admin, 1, false).await.unwrap();
    let r = db.velvet.report(&admin, 7).await.unwrap();
    assert_eq!(r.days.len(), 7);
    let today = r.days.last().unwrap();
    assert_eq!((today.signups, today.confirms, today.approvals), (3, 2, 1));
    assert_eq!((r.funnel.signed_up, r.funnel.confirmed, r.funnel.approved, r.funnel.joined), (3, 2, 1, 0));
    let page = velvet::cli::report_page::html(&r).unwrap();
    assert_eq!(page.matches("<svg").count(), 2, "two charts");
    assert!(page.contains("3 people signed up; 2 confirmed (67 %)"), "{}", &page[..400]);
    assert!(db.velvet.report(&admin, 0).await.is_err());
}
