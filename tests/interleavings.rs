//! Random interleavings of approve, send, redeem, revoke, pause and block
//! from several tasks at once, then the invariants: no code past max_uses,
//! every invited entry holds exactly one live access code, and replaying
//! each entry's events through the state machine gives its stored status.

mod common;

use chrono::Duration;
use common::{TestDb, meta};
use velvet::domain::{EntryStatus, Role, Transition};
use velvet::service::{PartnerCodeSpec, PauseScope, RevokeTarget};
use velvet::sim::rng::Rng;

on_both_backends!(random_interleavings_keep_the_invariants);

async fn random_interleavings_keep_the_invariants(db: TestDb) {
    let admin = db.admin().await;
    let support = db.operator("sam", Role::Support).await;
    db.velvet.set_setting(&admin, "daily_invite_cap", "1000").await.unwrap();
    let mut emails = Vec::new();
    for i in 0..40 {
        let e = format!("p{i}@example.com");
        db.confirmed(&e).await;
        emails.push(e);
    }
    let mut codes = Vec::new();
    let mut batches = Vec::new();
    for campaign in ["hn", "ph"] {
        let spec = PartnerCodeSpec { campaign: campaign.into(), max_uses: 6, count: 2, expires_in: Duration::days(7), daily_cap: None, prefix: None };
        let issued = db.velvet.issue_partner_codes(&admin, &spec).await.unwrap();
        batches.push(issued.batch_id);
        codes.extend(issued.codes.iter().map(|c| c.to_string()));
    }
    for round in 0..3u64 {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..4u64 {
            let (v, admin, support, emails, codes, batches) = (db.velvet.clone(), admin.clone(), support.clone(), emails.clone(), codes.clone(), batches.clone());
            tasks.spawn(async move {
                let mut r = Rng::new(round * 10 + t);
                for _ in 0..15 {
                    let email = r.pick(&emails).clone();
                    // Each call may be refused (illegal move, paused, used up): that is
                    // part of the test; what matters is what the database holds after.
                    let _ = match r.below(8) {
                        0 => v.approve_next(&admin, 1 + r.below(4) as i64, false).await.map(|_| ()),
                        1 => v.send_invites(&admin, None, false).await.map(|_| ()),
                        2 | 3 => v.redeem(r.pick(&codes).as_str(), &email, &meta()).await.map(|_| ()),
                        4 => v.revoke(&admin, &RevokeTarget::Batch(*r.pick(&batches)), None, false).await.map(|_| ()),
                        5 => {
                            if r.chance(0.5) {
                                v.pause(&support, &PauseScope::Campaign("hn".into()), None).await.map(|_| ())
                            } else {
                                v.resume(&support, &PauseScope::Campaign("hn".into())).await.map(|_| ())
                            }
                        }
                        6 => v.block(&support, &email, Some("test")).await,
                        _ => v.unblock(&support, &email, None).await,
                    };
                }
            });
        }
        while let Some(t) = tasks.join_next().await {
            t.expect("a task panicked");
        }
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM invite_codes WHERE uses > max_uses").await, 0);
    assert_eq!(
        db.count("SELECT CAST(COALESCE(SUM(uses), 0) AS BIGINT) FROM invite_codes").await,
        db.count("SELECT COUNT(*) FROM redemptions WHERE status IN ('pending', 'completed')").await,
        "uses equal the redemptions holding them"
    );
    for email in &emails {
        let l = db.velvet.lookup(&admin, email).await.unwrap();
        // Replay the trail through the state machine.
        let mut status = EntryStatus::PENDING;
        for e in &l.events {
            let t = match (e.kind.as_str(), e.outcome.as_deref()) {
                ("confirm", Some("ok")) => Some(Transition::Confirm),
                ("approve", _) => Some(Transition::Approve),
                ("invite_sent", _) => Some(Transition::SendInvite),
                ("joined", _) => Some(if status == EntryStatus::INVITED { Transition::RedeemAccess } else { Transition::RedeemShared }),
                ("block", _) => Some(Transition::Block),
                ("unblock", _) => Some(Transition::Unblock),
                _ => None,
            };
            if let Some(t) = t {
                status = status.apply(t).unwrap_or_else(|e| panic!("{email}: the trail has an illegal step: {e}"));
            }
        }
        assert_eq!(status.to_string(), l.status, "{email}: events and status disagree");
        let live_access = l.codes.iter().filter(|c| c.kind == "access" && c.state != "revoked").count();
        if l.status == "invited" {
            assert_eq!(live_access, 1, "{email} is invited and holds {live_access} live access codes");
        }
    }
}
