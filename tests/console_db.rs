//! Console actions against a real database, on both backends.

mod common;

use common::TestDb;
use std::collections::HashMap;
use velvet::console::action::Input;
use velvet::console::keymap::Command;

on_both_backends!(
    two_consoles_approving_one_marked_batch_invite_each_entry_once,
    the_console_reads_follow_the_event_cursor,
    every_key_offered_to_a_role_is_one_the_service_allows,
    listed_entries_carry_their_campaign_and_code_hints,
    the_live_pane_starts_with_the_whole_hour_at_any_rate,
    the_runner_exports_the_listed_rows_in_the_background,
    older_events_page_down_the_primary_key_with_the_filter_in_the_database,
    the_codes_view_counts_pages_and_revokes_a_batch_through_the_runner,
);

async fn two_consoles_approving_one_marked_batch_invite_each_entry_once(db: TestDb) {
    let admin = db.admin().await;
    let other = db.operator("bo", velvet::domain::Role::Admin).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(db.confirmed(&format!("m{i}@example.com")).await);
    }
    // Both consoles marked the same 20 rows and pressed `a` at once.
    let (a, b) = tokio::join!(
        db.velvet.approve(&admin, velvet::service::Approvees::Ids(&ids), false),
        db.velvet.approve(&other, velvet::service::Approvees::Ids(&ids), false)
    );
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
}

/// Walks the whole keymap for each role in the Waitlist view and on each
/// kind of row of the Codes view (a campaign, a batch, a code, the access
/// codes' group): a key is offered exactly when the service, asked through
/// the console's own runner, does what it produces instead of refusing the role.
async fn every_key_offered_to_a_role_is_one_the_service_allows(db: TestDb) {
    use velvet::console::action::{Effect, Msg};
    use velvet::console::keymap::{BINDINGS, action_of, offered};
    use velvet::console::runner::{Runner, entry_item};
    use velvet::console::state::{CodeLine, State, View};
    use velvet::domain::Role;
    let admin = db.admin().await;
    db.velvet.issue_partner_codes(&admin, &common::partner("hn", 50, 3)).await.unwrap();
    db.confirmed("invitee@example.com").await;
    db.velvet.approve_one(&admin, "invitee@example.com", false).await.unwrap();
    db.velvet.send_invites(&admin, None, false).await.unwrap();
    for (i, role) in [Role::Viewer, Role::Support, Role::Admin].into_iter().enumerate() {
        let actor = db.operator(&format!("op{i}"), role).await;
        db.confirmed(&format!("person{i}@example.com")).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let runner = Runner { ops: velvet::ops::Ops::local(db.velvet.clone(), actor.clone()), tx };
        // The Waitlist, then the Codes view's rows: hn, its batch, a code, the access codes.
        for (view, row) in [(View::Waitlist, 0), (View::Codes, 0), (View::Codes, 1), (View::Codes, 2), (View::Codes, 5)]
        {
            let mut s = State::new(db.velvet.now(), actor.name().to_string(), actor.role(), "test");
            let rows = db.velvet.entries_newest(&actor, i64::MAX, 100).await.unwrap();
            velvet::console::rows::add_page(&mut s, rows.into_iter().map(entry_item).collect());
            if view == View::Codes {
                // As the console does: count, open hn and its batch, read it.
                let mut effects = velvet::console::update::update(&mut s, Input::Command(Command::View(View::Codes)));
                effects.extend(keys(&mut s, &[Command::Expand, Command::Down, Command::Expand]));
                while let Some(effect) = effects.pop() {
                    runner.spawn(effect, None);
                    let msg = rx.recv().await.unwrap();
                    assert!(matches!(msg, Msg::CodeTree(_) | Msg::CodesPage { .. }), "{msg:?}");
                    effects.extend(velvet::console::update::update(&mut s, Input::Msg(msg)));
                }
                keys(&mut s, &[Command::Top]);
                for _ in 0..row {
                    keys(&mut s, &[Command::Down]);
                }
                let line = s.selected_code_line();
                let expected = [CodeLine::Group(0), CodeLine::Batch(0, 0), CodeLine::Code(0, 0), CodeLine::Group(1)];
                assert!(line.is_some_and(|l| expected.contains(&l)), "{role} on row {row}: {line:?}");
            }
            for b in BINDINGS {
                let Some(action) = action_of(b.command, &s) else { continue };
                runner.spawn(Effect::Act(action.clone()), None);
                let refused = match rx.recv().await.unwrap() {
                    Msg::Done(_) => false,
                    Msg::Failed(text) => text.contains("may not"),
                    other => panic!("unexpected {other:?}"),
                };
                assert_eq!(
                    offered(b, &s),
                    !refused,
                    "{role} in {view:?} on row {row}: key {} ({action:?}) offered = {}, service refused = {refused}",
                    b.shown,
                    offered(b, &s)
                );
            }
        }
    }
}

fn keys(s: &mut velvet::console::state::State, commands: &[Command]) -> Vec<velvet::console::action::Effect> {
    commands.iter().flat_map(|c| velvet::console::update::update(s, Input::Command(*c))).collect()
}

async fn listed_entries_carry_their_campaign_and_code_hints(db: TestDb) {
    let admin = db.admin().await;
    let issued = db.velvet.issue_partner_codes(&admin, &common::partner("hn", 50, 1)).await.unwrap();
    let partner = issued.codes[0].to_string();
    db.confirmed("joiner@example.com").await;
    let joined = db.velvet.redeem(&partner, "joiner@example.com", &common::meta()).await.unwrap();
    assert!(matches!(joined, velvet::service::RedeemOutcome::Joined { .. }), "{joined:?}");
    db.deliver().await;
    let page = db.velvet.entries_newest(&admin, i64::MAX, 10).await.unwrap();
    let row = page.iter().find(|e| e.email == "joiner@example.com").unwrap();
    assert_eq!(row.campaign.as_deref(), Some("hn"));
    let hints = row.hints.clone().unwrap_or_default();
    let partner_hint = issued.codes[0].hint();
    assert!(hints.split(' ').any(|h| h == partner_hint), "the partner code they joined with: {hints:?}");
    let referral: Vec<String> = db.texts("SELECT hint FROM invite_codes WHERE kind = 'referral'").await;
    assert!(
        !referral.is_empty() && referral.iter().all(|h| hints.contains(h.as_str())),
        "the referral codes they give out: {hints:?} vs {referral:?}"
    );
    let again = db.velvet.entries_by_ids(&admin, &[row.id]).await.unwrap();
    assert_eq!(again[0].hints, row.hints, "a changed row reads the same");
}

/// 310,000 events in the hour (86 a second): the pane's first numbers
/// hold every minute, the newest included (a read of the hour's events
/// capped at 300,000, oldest first, lost the newest minutes).
async fn the_live_pane_starts_with_the_whole_hour_at_any_rate(db: TestDb) {
    use velvet::console::live::{LiveStats, Series};
    use velvet::store::NewEvent;
    let admin = db.admin().await;
    let now = db.velvet.now();
    let signup = |detail: Option<String>| NewEvent {
        kind: "signup",
        outcome: Some("ok"),
        actor: "public".into(),
        detail,
        ..Default::default()
    };
    let mut tx = db.store.write().await.unwrap();
    let old: Vec<_> = (0..5_000)
        .map(|i| (now - chrono::Duration::minutes(50) + chrono::Duration::milliseconds(i), signup(None)))
        .collect();
    for _ in 0..61 {
        tx.bulk_events(&old).await.unwrap();
    }
    // Inside the last complete minute, wherever in its minute "now" is.
    let last_minute = chrono::DateTime::from_timestamp(now.timestamp().div_euclid(60) * 60 - 60, 0).unwrap();
    let at = |s: i64| last_minute + chrono::Duration::seconds(s);
    let mut recent = vec![(at(1), signup(None)); 100];
    let refused = |p: &str, n: u64| NewEvent {
        kind: "rate_limited",
        outcome: Some("summary"),
        ip_prefix: Some(p.into()),
        detail: Some(format!("count={n}")),
        actor: "limiter".into(),
        ..Default::default()
    };
    recent.push((at(5), refused("203.0.113.0/24", 523)));
    recent.push((at(8), refused("203.0.113.0/24", 7)));
    let bad = NewEvent {
        kind: "redeem",
        outcome: Some("failed"),
        ip_prefix: Some("198.51.100.0/24".into()),
        device_hash: Some("d3v1ce".into()),
        actor: "public".into(),
        ..Default::default()
    };
    tx.bulk_events(&recent).await.unwrap();
    for _ in 0..40 {
        tx.append_event(at(9), &bad).await.unwrap();
    }
    tx.commit().await.unwrap();
    let cursor = db.velvet.latest_events(&admin, 1).await.unwrap()[0].id;
    let velvet::service::LiveHour { minutes, offenders } = db.velvet.live_hour(&admin, cursor).await.unwrap();
    let mut live = LiveStats::new(now);
    live.seed(&minutes, &offenders);
    let signups = live.series(Series::Signups);
    assert_eq!(signups[59 - 50], 305_000, "the oldest minute");
    assert_eq!(live.rate(Series::Signups).0, 100, "the newest complete minute is there");
    assert_eq!(live.rate(Series::Limited).0, 530, "summaries count what they summarise");
    assert_eq!(live.rate(Series::RedeemFailed).0, 40);
    assert_eq!(live.top_prefixes(2), vec![("203.0.113.0/24".to_string(), 530), ("198.51.100.0/24".to_string(), 40)]);
    assert_eq!(live.top_devices(1), vec![("d3v1ce".to_string(), 40)]);
    // Nothing after the cursor is counted twice: the feed brings it.
    let before = db.velvet.live_hour(&admin, cursor - 142).await.unwrap().minutes;
    assert_eq!(before.iter().map(|m| m.n).sum::<i64>(), 305_000, "only what the cursor had reached");
}

/// `:export`: the runner writes the rows `update` took from the view, in a
/// task, and answers with a toast naming how many went where (or why not).
async fn the_runner_exports_the_listed_rows_in_the_background(db: TestDb) {
    use velvet::console::action::{Effect, Msg};
    use velvet::console::export::{Cell, ExportTable, PEOPLE_COLUMNS};
    let viewer = db.operator("vi", velvet::domain::Role::Viewer).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = velvet::console::runner::Runner { ops: velvet::ops::Ops::local(db.velvet.clone(), viewer), tx };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("waiting.csv");
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").unwrap().to_utc();
    let row =
        |email: &str| vec![Cell::Text(email.into()), Cell::Static("pending"), Cell::Empty, Cell::Time(at), Cell::Empty];
    let table = ExportTable {
        what: "people",
        columns: PEOPLE_COLUMNS,
        rows: vec![row("=cmd@example.com"), row("b@example.com")],
    };
    runner.spawn(Effect::Export { path: path.display().to_string(), table: table.clone() }, None);
    match rx.recv().await {
        Some(Msg::Done(text)) => assert_eq!(text, format!("exported 2 people to {}", path.display())),
        other => panic!("{other:?}"),
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "email,status,source,signed_up,campaign\n'=cmd@example.com,pending,,2026-11-22T12:00:00Z,\nb@example.com,pending,,2026-11-22T12:00:00Z,\n"
    );
    let bad = dir.path().join("missing").join("x.csv");
    runner.spawn(Effect::Export { path: bad.display().to_string(), table }, None);
    match rx.recv().await {
        Some(Msg::Failed(text)) => assert!(text.contains("does not exist"), "{text}"),
        other => panic!("{other:?}"),
    }
}

/// The Events view's older pages: below a cursor on the primary key, newest
/// first, each word a kind, outcome or actor, or the start of a prefix, and
/// never more than `HISTORY_SCAN` ids looked through per page.
async fn older_events_page_down_the_primary_key_with_the_filter_in_the_database(db: TestDb) {
    let viewer = db.operator("vi", velvet::domain::Role::Viewer).await;
    for i in 0..6 {
        db.confirmed(&format!("p{i}@example.com")).await;
    }
    let all = db.velvet.latest_events(&viewer, 1_000).await.unwrap();
    let top = all.last().unwrap().id + 1;
    let page = db.velvet.events_before(&viewer, top, &[], 3).await.unwrap();
    let ids: Vec<i64> = page.rows.iter().map(|e| e.id).collect();
    let newest: Vec<i64> = all.iter().rev().take(3).map(|e| e.id).collect();
    assert_eq!(ids, newest, "newest first, right below the cursor");
    assert_eq!((page.scanned_to, page.done), (ids[2], false));
    let next = db.velvet.events_before(&viewer, page.scanned_to, &[], 1_000).await.unwrap();
    assert_eq!(next.rows.len(), all.len() - 3, "the rest, none twice");
    assert!(next.done, "nothing older is left");
    // The filter runs in the database: a kind, an outcome or actor, both at once.
    let confirms = db.velvet.events_before(&viewer, top, &["confirm".into()], 100).await.unwrap();
    let expected = all.iter().filter(|e| e.kind == "confirm").count();
    assert_eq!(confirms.rows.len(), expected, "{:?}", confirms.rows);
    assert!(expected >= 6 && confirms.rows.iter().all(|e| e.kind == "confirm"));
    let kinds_and_actor = vec!["confirm".to_string(), all.iter().find(|e| e.kind == "confirm").unwrap().actor.clone()];
    let both = db.velvet.events_before(&viewer, top, &kinds_and_actor, 100).await.unwrap();
    assert_eq!(both.rows.len(), expected);
    let none = db.velvet.events_before(&viewer, top, &["confirm".into(), "nobody-at-all".into()], 100).await.unwrap();
    assert!(none.rows.is_empty() && none.done);
    // A prefix matches the start of the address prefix, and LIKE's wildcards are plain text.
    let prefix = all.iter().find_map(|e| e.ip_prefix.clone()).expect("signups carry an address prefix");
    let start: String = prefix.chars().take(4).collect();
    let by_prefix = db.velvet.events_before(&viewer, top, std::slice::from_ref(&start), 1_000).await.unwrap();
    assert!(!by_prefix.rows.is_empty());
    assert!(by_prefix.rows.iter().all(|e| e.ip_prefix.as_deref().unwrap_or("").starts_with(&start)));
    assert!(db.velvet.events_before(&viewer, top, &["%".into()], 100).await.unwrap().rows.is_empty());
    // Bounded: far above the trail, a page looks through HISTORY_SCAN ids and stops.
    let far = top + velvet::store::HISTORY_SCAN + 10;
    let empty = db.velvet.events_before(&viewer, far, &[], 100).await.unwrap();
    assert!(empty.rows.is_empty());
    assert_eq!(
        (empty.scanned_to, empty.done),
        (far - velvet::store::HISTORY_SCAN, false),
        "the next page goes on from there"
    );
}

/// Runs `effects` through the runner as the console's loop does, feeding
/// each answer back to `update`, until nothing more is asked.
async fn drive(
    s: &mut velvet::console::state::State,
    runner: &velvet::console::runner::Runner,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<velvet::console::action::Msg>,
    mut effects: Vec<velvet::console::action::Effect>,
) {
    while !effects.is_empty() {
        let asked = effects.len();
        for e in effects.drain(..) {
            runner.spawn(e, None);
        }
        // Each of these effects answers with one message.
        for _ in 0..asked {
            let msg = rx.recv().await.unwrap();
            if let velvet::console::action::Msg::Failed(text) = &msg {
                panic!("{text}");
            }
            effects.extend(velvet::console::update::update(s, Input::Msg(msg)));
        }
    }
}

/// The Codes view against a real database: the tree as counted, a batch of
/// 250 read a page at a time, `r` on its row asking with exactly 250 and
/// revoking them, `p` on the campaign's row pausing it; open rows and the
/// cursor stay through every count.
async fn the_codes_view_counts_pages_and_revokes_a_batch_through_the_runner(db: TestDb) {
    use velvet::console::state::{CodeLine, Modal, State, View};
    let admin = db.admin().await;
    let first = db.velvet.issue_partner_codes(&admin, &common::partner("hn", 2, 3)).await.unwrap();
    let big = db.velvet.issue_partner_codes(&admin, &common::partner("hn", 1, 250)).await.unwrap();
    db.confirmed("joiner@example.com").await;
    db.velvet.redeem(&first.codes[0].to_string(), "joiner@example.com", &common::meta()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = velvet::console::runner::Runner { ops: velvet::ops::Ops::local(db.velvet.clone(), admin.clone()), tx };
    let mut s = State::new(db.velvet.now(), admin.name().to_string(), admin.role(), "test");
    let effects = keys(&mut s, &[Command::View(View::Codes)]);
    drive(&mut s, &runner, &mut rx, effects).await;
    let hn = &s.codes.groups[0];
    assert_eq!((hn.group.label(), hn.totals.issued, hn.totals.uses, hn.totals.joined), ("hn", 253, 1, 1));
    assert_eq!(hn.batches.len(), 2);

    // Open hn, then its newest batch: 200 codes, then the rest as the cursor nears them.
    let effects = keys(&mut s, &[Command::Expand, Command::Down, Command::Expand]);
    drive(&mut s, &runner, &mut rx, effects).await;
    assert_eq!(s.codes.leaves[0].codes.len(), 200);
    let effects = loop {
        let e = keys(&mut s, &[Command::PageDown]);
        if !e.is_empty() {
            break e;
        }
    };
    drive(&mut s, &runner, &mut rx, effects).await;
    let leaf = &s.codes.leaves[0];
    assert_eq!((leaf.codes.len(), leaf.done), (250, true));
    let ids: Vec<i64> = leaf.codes.iter().map(|c| c.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, none twice");

    // r on the batch's row: exactly its 250 codes, then revoked.
    keys(&mut s, &[Command::Top, Command::Down, Command::Revoke]);
    let Some(Modal::Confirm { title, lines, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, &format!("Revoke batch {} (hn)?", big.batch_id));
    assert_eq!(lines[0], "250 codes stop working at once, on every server:");
    let effects = velvet::console::update::update(&mut s, Input::Char('y'));
    drive(&mut s, &runner, &mut rx, effects).await;
    assert_eq!(s.toasts.last().unwrap().text, "revoked 250 codes");
    let (_, batch) = s.selected_batch().expect("the cursor stays on the batch's row");
    assert_eq!((batch.totals.revoked, batch.totals.active, batch.totals.revocable), (250, 0, 0));
    assert!(s.codes.leaves[0].codes.iter().all(|c| c.state == "revoked"), "its codes were read again");
    assert_eq!(db.count("SELECT COUNT(*) FROM events WHERE kind = 'revoke'").await, 250);

    // p on the campaign's row pauses that campaign's redemption.
    keys(&mut s, &[Command::Top, Command::PauseRedemption]);
    let Some(Modal::Confirm { title, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Pause redemption for campaign hn?");
    let effects = velvet::console::update::update(&mut s, Input::Char('y'));
    drive(&mut s, &runner, &mut rx, effects).await;
    assert!(s.codes.groups[0].paused);
    assert_eq!(s.selected_code_line(), Some(CodeLine::Group(0)));
    assert_eq!(s.codes.lines.len(), 1 + 2 + 250 + 1, "hn, its two batches, the open one's codes, the referral codes");
    assert!(!s.codes.lines.iter().any(|l| matches!(l, CodeLine::More(_))), "read to its end, and still so");
    assert_eq!(db.count("SELECT COUNT(*) FROM switches WHERE scope = 'campaign:hn'").await, 1);
}
