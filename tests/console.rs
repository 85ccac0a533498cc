//! The console without a terminal: every action through the pure
//! `update`, and each view drawn on a TestBackend at 80x24 and 120x40 with
//! a fixed clock, compared with reviewed snapshots.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use velvet::console::action::{Effect, Input, Msg};
use velvet::console::keymap::Command;
use velvet::console::live::Tick;
use velvet::console::state::{CodeLine, EntryItem, Modal, Pane, State, View};
use velvet::console::theme::Theme;
use velvet::console::update::update;
use velvet::console::view;
use velvet::domain::{CodeRef, CodeSet, Role, Settings, Switch, SwitchState};
use velvet::service::{
    Action, BlockSelector, BulkBlock, CodeBranch, CodeGroup, CodeTotals, CodeTreeBatch, CodeTreeGroup, CodeView,
    TreeBatch,
};
use velvet::store::EventRow;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn entry(id: i64, email: &str, status: &'static str, hours_ago: i64, referrer: Option<i64>) -> EntryItem {
    EntryItem {
        id,
        email: email.into(),
        status,
        first_seen: now() - Duration::hours(hours_ago),
        confirmed_at: (status != "pending").then(|| now() - Duration::hours(hours_ago) + Duration::minutes(id)),
        source: Some(["hn", "producthunt", "friend"][id as usize % 3].into()),
        referrer_id: referrer,
        campaign: None,
        hints: "".into(),
    }
}

fn event(id: i64, minutes_ago: i64, kind: &str, outcome: &str, entry: Option<i64>, prefix: Option<&str>) -> EventRow {
    EventRow {
        id,
        at: now() - Duration::minutes(minutes_ago),
        kind: kind.into(),
        entry_id: entry,
        code_id: None,
        referrer_id: None,
        batch_id: None,
        campaign: None,
        ip_prefix: prefix.map(String::from),
        country: None,
        user_agent: None,
        device_hash: None,
        outcome: Some(outcome.into()),
        reason: (outcome == "failed").then(|| "unknown code".into()),
        rule: None,
        actor: "public".into(),
        detail: None,
    }
}

fn code(id: i64, campaign: &str, state: &str, uses: i64) -> CodeView {
    CodeView {
        id,
        kind: "partner".into(),
        hint: Some(format!("K{id:03}")),
        campaign: Some(campaign.into()),
        batch_id: Some(1 + id / 3),
        state: state.into(),
        uses,
        max_uses: 50,
        daily_cap: None,
        expires_at: now() + Duration::days(9),
        created_at: now() - Duration::days(5),
        created_by: "ada".into(),
        revoked_by: (state == "revoked").then(|| "ada".into()),
    }
}

/// Totals of a tree row: what is not active, used, expired or revoked is
/// active; what is not revoked may be (`revocable`).
fn totals(issued: i64, used: i64, expired: i64, revoked: i64, uses: (i64, i64), joined: i64) -> CodeTotals {
    CodeTotals {
        issued,
        active: issued - used - expired - revoked,
        used,
        expired,
        revoked,
        uses: uses.0,
        max_uses: uses.1,
        joined,
        revocable: issued - revoked,
    }
}

fn batch(id: i64, days_ago: i64, t: CodeTotals) -> CodeTreeBatch {
    CodeTreeBatch {
        batch: TreeBatch::Batch(id),
        created_at: Some(now() - Duration::days(days_ago)),
        created_by: Some("ada".into()),
        totals: t,
    }
}

fn group(group: CodeGroup, paused: bool, batches: Vec<CodeTreeBatch>, t: CodeTotals) -> CodeTreeGroup {
    CodeTreeGroup { group, totals: t, paused, batches, newest: 0 }
}

fn campaign(name: &str) -> CodeGroup {
    CodeGroup::Campaign(name.into())
}

/// What the database counts for `world`'s codes: hn's batch 1 (codes 1
/// and 2), producthunt's batch 2 (code 3), an invite run, referral codes.
fn tree(hn_paused: bool) -> Vec<CodeTreeGroup> {
    let hn = totals(2, 0, 0, 1, (15, 100), 14);
    let ph = totals(1, 0, 0, 0, (49, 50), 49);
    let run = totals(3, 2, 0, 0, (2, 3), 2);
    let referral = totals(4, 0, 0, 0, (0, 4), 0);
    vec![
        group(campaign("hn"), hn_paused, vec![batch(1, 5, hn)], hn),
        group(campaign("producthunt"), false, vec![batch(2, 3, ph)], ph),
        group(CodeGroup::Access, false, vec![batch(7, 1, run)], run),
        group(CodeGroup::Referral, false, vec![], referral),
    ]
}

fn branch(group: CodeGroup, batch: TreeBatch) -> CodeBranch {
    CodeBranch { group, batch }
}

/// Answers the code pages among `effects` as the runner would, from `codes`
/// (newest first), and returns what the answers asked for next.
fn answer_pages(s: &mut State, effects: Vec<Effect>, codes: &[CodeView]) -> Vec<Effect> {
    let mut next = Vec::new();
    for e in effects {
        match e {
            Effect::CodesPage { branch, before, limit } => {
                let page: Vec<CodeView> = codes
                    .iter()
                    .filter(|c| c.id < before && c.batch_id == Some(batch_id(&branch)))
                    .take(limit as usize)
                    .cloned()
                    .collect();
                next.extend(update(s, Input::Msg(Msg::CodesPage { branch, before, limit, codes: page })));
            }
            other => next.push(other),
        }
    }
    next
}

fn batch_id(b: &CodeBranch) -> i64 {
    match b.batch {
        TreeBatch::Batch(id) => id,
        _ => 0,
    }
}

/// `world`'s codes, newest first.
fn codes() -> Vec<CodeView> {
    vec![code(3, "producthunt", "active", 49), code(2, "hn", "revoked", 3), code(1, "hn", "active", 12)]
}

/// The Codes view with campaign hn open, its batch 1 open and read: the
/// cursor on the batch's row.
fn open_hn_batch(s: &mut State) {
    let effects = keys(s, &[Command::View(View::Codes)]);
    assert!(effects.contains(&Effect::LoadCodes), "the view counts the codes: {effects:?}");
    update(s, Input::Msg(Msg::CodeTree(tree(false))));
    assert!(keys(s, &[Command::Top, Command::Expand]).is_empty(), "a campaign lists its batches: nothing to read");
    let effects = keys(s, &[Command::Down, Command::Expand]);
    assert_eq!(
        effects,
        vec![Effect::CodesPage { branch: branch(campaign("hn"), TreeBatch::Batch(1)), before: i64::MAX, limit: 200 }]
    );
    assert!(answer_pages(s, effects, &codes()).is_empty());
}

/// The Codes view's rows as shown at 120x40: the first column of each.
fn code_rows(s: &State) -> Vec<String> {
    let text = screen(s, 120, 40);
    let mut lines = text.lines().skip_while(|l| !l.contains("CAMPAIGN / BATCH / CODE"));
    let header = lines.next().expect("the Codes view's header");
    let width = header[..header.find("ISSUED").expect("an ISSUED column")].chars().count();
    lines
        .take_while(|l| !l.contains('└'))
        .map(|l| l.chars().take(width).skip(2).collect::<String>().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A small beta: people in every state, a referral chain, codes, events.
fn world(role: Role) -> State {
    let mut s = State::new(now(), "ada".into(), Some(role), "sqlite");
    let people = vec![
        entry(1, "ada.lovelace@example.com", "joined", 300, None),
        entry(2, "grace.hopper@example.com", "joined", 200, Some(1)),
        entry(3, "alan.turing@example.org", "joined", 150, Some(2)),
        entry(4, "linus@example.net", "invited", 90, None),
        entry(5, "margaret@acme.io", "approved", 60, None),
        entry(6, "ken@example.com", "confirmed", 40, None),
        entry(7, "barbara@example.com", "confirmed", 30, None),
        entry(8, "bot8812@tempmail.example", "blocked", 20, None),
        entry(9, "dennis@example.com", "pending", 2, None),
    ];
    let mut rows: Vec<EntryItem> = people.into_iter().rev().collect();
    update(&mut s, Input::Msg(Msg::Entries { rows: std::mem::take(&mut rows), total: 9, done: true }));
    let mut evs = Vec::new();
    let mut ticks = Vec::new();
    for i in 0..40 {
        let e = event(
            i + 1,
            50 - i,
            if i % 4 == 0 { "redeem" } else { "signup" },
            if i % 4 == 0 { "failed" } else { "ok" },
            Some(1 + i % 9),
            Some("203.0.113.0/24"),
        );
        ticks.push(Tick {
            at: e.at,
            kind: e.kind.clone(),
            outcome: e.outcome.clone(),
            detail: None,
            ip_prefix: e.ip_prefix.clone(),
            device_hash: None,
        });
        evs.push(e);
    }
    update(&mut s, Input::Msg(Msg::Events { rows: evs, ticks }));
    update(&mut s, Input::Msg(Msg::CodeTree(tree(false))));
    switches(&mut s, vec![], 12, 0);
    // Answer the lookups the loading asked for (one runs at a time).
    let mut generation = s.detail_generation;
    loop {
        let next = update(&mut s, Input::Msg(Msg::Lookup { generation, lookup: Box::new(dennis()) }));
        match next.first() {
            Some(Effect::Lookup { generation: g, .. }) => generation = *g,
            _ => break,
        }
    }
    s
}

/// What `lookup` answers for the newest entry.
fn dennis() -> velvet::service::Lookup {
    let at = now() - Duration::hours(2);
    velvet::service::Lookup {
        email: "dennis@example.com".into(),
        email_display: "Dennis@Example.com".into(),
        status: "pending".into(),
        explanation: "signed up 2 h ago, has not confirmed the email yet, mail failed 1 h ago: 550 mailbox full".into(),
        first_seen: at,
        last_attempt_at: at,
        attempts: 1,
        source: Some("hn".into()),
        note: None,
        confirmed_at: None,
        approved_at: None,
        invited_at: None,
        joined_at: None,
        block_reason: None,
        inviter_chain: vec![],
        invitees: vec![],
        codes: vec![],
        mail: vec![velvet::service::MailView {
            id: 1,
            kind: velvet::domain::MailKind::Confirm,
            status: velvet::domain::MailStatus::Failed,
            attempts: 8,
            created_at: at,
            sent_at: None,
            last_error: Some("550 mailbox full".into()),
        }],
        events: vec![velvet::service::TimelineEvent {
            kind: "signup".into(),
            at,
            actor: "public".into(),
            outcome: Some("ok".into()),
            reason: None,
            rule: None,
            detail: Some("hn".into()),
            code_id: None,
            campaign: None,
            ip_prefix: Some("203.0.113.0/24".into()),
        }],
    }
}

/// What the runner's refresh reads: pauses, settings, today's invites, failed mail.
fn switches(s: &mut State, switches: Vec<SwitchState>, sent_today: u64, failed_mail: u64) {
    update(s, Input::Msg(Msg::Switches { switches, settings: Box::new(Settings::default()), sent_today, failed_mail }));
}

/// `:` TEXT Enter.
fn command_line(s: &mut State, text: &str) -> Vec<Effect> {
    keys(s, &[Command::CommandLine]);
    typed(s, text);
    update(s, Input::Submit)
}

fn keys(s: &mut State, commands: &[Command]) -> Vec<Effect> {
    commands.iter().flat_map(|c| update(s, Input::Command(*c))).collect()
}

fn typed(s: &mut State, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| update(s, Input::Char(c))).collect()
}

fn screen(s: &State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, s, &Theme::plain())).unwrap();
    t.backend().to_string()
}

// ---- update: one test per action ----

#[test]
fn moving_selects_and_asks_for_the_detail() {
    let mut s = world(Role::Admin);
    assert_eq!(&*s.selected_entry().unwrap().email, "dennis@example.com", "newest first");
    let effects = keys(&mut s, &[Command::Down]);
    assert_eq!(&*s.selected_entry().unwrap().email, "bot8812@tempmail.example");
    assert!(matches!(&effects[..], [Effect::Lookup { email, .. }] if email == "bot8812@tempmail.example"));
    keys(&mut s, &[Command::Bottom]);
    assert_eq!(s.selected_entry().unwrap().id, 1);
    keys(&mut s, &[Command::Top, Command::PageDown]);
    assert_eq!(s.selected_entry().unwrap().id, 1, "a page down stops at the end");
}

#[test]
fn a_moving_cursor_runs_one_lookup_at_a_time_and_ends_on_the_row_it_stops_on() {
    let mut s = world(Role::Admin);
    let first = keys(&mut s, &[Command::Down]);
    assert_eq!(first.len(), 1, "the first move asks at once");
    // Held `j`: seven more rows while the first lookup runs ask for nothing yet.
    let held = keys(&mut s, &[Command::Down; 7]);
    assert!(held.is_empty(), "{held:?}");
    let Effect::Lookup { generation, .. } = &first[0] else { panic!() };
    let mut stale = dennis();
    stale.email = "bot8812@tempmail.example".into();
    let next = update(&mut s, Input::Msg(Msg::Lookup { generation: *generation, lookup: Box::new(stale) }));
    assert!(s.detail.as_ref().is_some_and(|d| d.email == "dennis@example.com"), "a stale answer is not shown");
    let [Effect::Lookup { email, generation }] = &next[..] else { panic!("{next:?}") };
    assert_eq!(email, &s.selected_entry().unwrap().email.to_string(), "only the row the cursor is on now");
    // A failed lookup does not leave the detail waiting forever.
    let generation = *generation;
    keys(&mut s, &[Command::Up]);
    let after_failure =
        update(&mut s, Input::Msg(Msg::LookupFailed { generation, error: "database is restarting".into() }));
    assert_eq!(after_failure.len(), 1, "the waiting lookup goes next");
}

#[test]
fn filter_asks_for_a_search_and_takes_only_the_latest_answer() {
    let mut s = world(Role::Viewer);
    keys(&mut s, &[Command::Filter]);
    let effects = typed(&mut s, "gr");
    assert_eq!(effects.len(), 2);
    let Effect::Filter { generation, query, within } = &effects[1] else { panic!("{effects:?}") };
    assert_eq!((query.as_str(), within), ("gr", &None));
    // An older answer arrives late: dropped.
    update(&mut s, Input::Msg(Msg::Filtered { generation: generation - 1, query: "g".into(), rows: vec![0, 1, 2] }));
    assert_eq!(s.waitlist.rows.len(), 9);
    let grace = s.entries.iter().position(|e| e.id == 2).unwrap() as u32;
    update(&mut s, Input::Msg(Msg::Filtered { generation: *generation, query: "gr".into(), rows: vec![grace] }));
    assert_eq!(&*s.selected_entry().unwrap().email, "grace.hopper@example.com");
    // Typing more narrows within the current rows.
    let effects = typed(&mut s, "a");
    assert!(matches!(&effects[0], Effect::Filter { within: Some(rows), .. } if rows == &vec![grace]));
    update(&mut s, Input::Cancel);
    assert!(s.filter.query.is_empty() && !s.filter.editing);
}

#[test]
fn approving_one_is_immediate_and_a_marked_batch_asks_first() {
    let mut s = world(Role::Admin);
    let ken = s.entries.iter().position(|e| e.id == 6).unwrap();
    s.waitlist.selected = s.waitlist.rows.iter().position(|&i| i as usize == ken).unwrap();
    assert_eq!(keys(&mut s, &[Command::Approve]), vec![Effect::Act(Action::Approve(vec![6]))]);
    keys(&mut s, &[Command::Mark, Command::Up, Command::Up, Command::Mark]);
    assert_eq!(s.marks.len(), 2);
    assert!(keys(&mut s, &[Command::Approve]).is_empty(), "asks first");
    let Some(Modal::Confirm { title, lines, .. }) = &s.modal else { panic!() };
    assert_eq!(title, "Approve 2 marked entries?");
    assert!(lines.iter().any(|l| l.contains("ken@example.com")));
    let effects = update(&mut s, Input::Char('y'));
    assert!(matches!(&effects[..], [Effect::Act(Action::Approve(ids))] if ids.len() == 2));
    assert!(s.marks.is_empty() && s.modal.is_none());
}

#[test]
fn approve_next_n_shows_exactly_who_goes_first() {
    let mut s = world(Role::Admin);
    keys(&mut s, &[Command::ApproveNext]);
    typed(&mut s, "1");
    update(&mut s, Input::Submit);
    let Some(Modal::Confirm { lines, action, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(action, &Action::ApproveNext(1));
    assert_eq!(lines[0], "2 confirmed entries are waiting; these 1 go first:");
    assert_eq!(lines[1], "  ken@example.com", "oldest confirmation first");
    assert_eq!(update(&mut s, Input::Submit), vec![Effect::Act(Action::ApproveNext(1))]);
    // Cancelling changes nothing.
    keys(&mut s, &[Command::ApproveNext]);
    update(&mut s, Input::Cancel);
    assert!(s.modal.is_none());
}

#[test]
fn send_now_pause_block_unblock_reissue_and_revoke() {
    let mut s = world(Role::Admin);
    keys(&mut s, &[Command::SendNow]);
    typed(&mut s, "5");
    update(&mut s, Input::Submit);
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::SendPastCap(5))]);

    keys(&mut s, &[Command::PauseRedemption]);
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Pause(Switch::Redemption))]);
    let paused = SwitchState { switch: Switch::Redemption, paused_at: now(), paused_by: "ada".into(), reason: None };
    switches(&mut s, vec![paused], 0, 0);
    keys(&mut s, &[Command::PauseRedemption]);
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Resume(Switch::Redemption))]);

    keys(&mut s, &[Command::Block]);
    typed(&mut s, "signup bot");
    update(&mut s, Input::Submit);
    assert_eq!(
        update(&mut s, Input::Char('y')),
        vec![Effect::Act(Action::Block("dennis@example.com".into(), Some("signup bot".into())))]
    );
    assert_eq!(keys(&mut s, &[Command::Unblock]), vec![Effect::Act(Action::Unblock("dennis@example.com".into()))]);
    keys(&mut s, &[Command::Reissue]);
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Reissue("dennis@example.com".into()))]);
    keys(&mut s, &[Command::Revoke]);
    assert_eq!(
        update(&mut s, Input::Char('y')),
        vec![Effect::Act(Action::Revoke(CodeSet::Inviter("dennis@example.com".into())))]
    );
    open_hn_batch(&mut s);
    keys(&mut s, &[Command::Down, Command::Down, Command::Revoke]);
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Revoke(CodeSet::Code(CodeRef::Id(1))))]);
    keys(&mut s, &[Command::Block]);
    assert!(s.modal.is_none(), "no person selected in the Codes view");
    assert_eq!(s.toasts.last().unwrap().text, "select a person first (Waitlist or Chains view)");
}

#[test]
fn command_line_covers_the_batch_actions() {
    let mut s = world(Role::Admin);
    let run = |s: &mut State, text: &str| -> Option<Action> {
        command_line(s, text);
        match s.modal.take() {
            Some(Modal::Confirm { action, .. }) => Some(action),
            _ => None,
        }
    };
    assert_eq!(run(&mut s, "approve 50"), Some(Action::ApproveNext(50)));
    assert_eq!(run(&mut s, "revoke batch 12"), Some(Action::Revoke(CodeSet::Batch(12))));
    assert_eq!(run(&mut s, "revoke campaign hn"), Some(Action::Revoke(CodeSet::Campaign("hn".into()))));
    assert_eq!(run(&mut s, "pause campaign hn"), Some(Action::Pause(Switch::Campaign("hn".into()))));
    assert_eq!(run(&mut s, "resume signups"), Some(Action::Resume(Switch::Signups)));
    assert_eq!(run(&mut s, "cap 80"), Some(Action::Set("daily_invite_cap".into(), "80".into())));
    assert_eq!(run(&mut s, "invites 2"), Some(Action::Set("invites_per_user".into(), "2".into())));
    assert_eq!(run(&mut s, "send 3"), Some(Action::SendPastCap(3)));
    assert_eq!(run(&mut s, "frobnicate"), None);
    assert!(s.toasts.last().unwrap().text.contains("unknown command"));
    run(&mut s, "q");
    assert!(s.quit);
}

#[test]
fn a_viewer_is_refused_in_the_command_line_too() {
    let mut s = world(Role::Viewer);
    command_line(&mut s, "approve 5");
    assert!(s.modal.is_none());
    assert_eq!(s.toasts.last().unwrap().text, "your role may not approve entries");
}

#[test]
fn results_arrive_as_toasts_esc_goes_back_and_never_quits_q_quits() {
    let mut s = world(Role::Admin);
    assert_eq!(update(&mut s, Input::Msg(Msg::Done("approved 3".into()))), vec![Effect::Refresh]);
    assert_eq!(s.toasts.last().unwrap().text, "approved 3");
    update(&mut s, Input::Msg(Msg::Failed("operator 'x' may not".into())));
    assert_eq!(s.toasts.len(), 2);
    update(&mut s, Input::Tick(now() + Duration::seconds(20)));
    assert!(s.toasts.is_empty(), "toasts fade");
    // Esc: modal → filter → detail, and never further.
    keys(&mut s, &[Command::Mark]);
    keys(&mut s, &[Command::Filter]);
    typed(&mut s, "ken");
    update(&mut s, Input::Submit);
    keys(&mut s, &[Command::Detail]);
    keys(&mut s, &[Command::Help]);
    keys(&mut s, &[Command::Back]);
    assert!(s.modal.is_none(), "Esc closes the help");
    keys(&mut s, &[Command::Back]);
    assert!(s.filter.query.is_empty(), "then clears the filter");
    assert_eq!(s.pane, velvet::console::state::Pane::Detail);
    keys(&mut s, &[Command::Back]);
    assert_eq!(s.pane, velvet::console::state::Pane::List);
    for _ in 0..5 {
        keys(&mut s, &[Command::Back]);
    }
    assert!(!s.quit, "Esc never quits");
    assert_eq!(s.marks.len(), 1, "marks survive Esc");
    assert_eq!(s.toasts.last().unwrap().text, "nothing to go back from; q quits");
    // q goes back from the detail, and quits from the list.
    keys(&mut s, &[Command::Detail, Command::Quit]);
    assert!(!s.quit && s.pane == velvet::console::state::Pane::List);
    keys(&mut s, &[Command::Quit]);
    assert!(s.quit);
}

#[test]
fn the_console_shows_the_servers_alerts_and_evaluates_nothing() {
    let mut s = world(Role::Admin);
    // Figures that once made the console raise bad_codes itself.
    let ticks: Vec<Tick> = (0..45)
        .map(|_| Tick {
            at: now() - Duration::seconds(30),
            kind: "redeem".into(),
            outcome: Some("failed".into()),
            detail: None,
            ip_prefix: Some("198.51.100.0/24".into()),
            device_hash: None,
        })
        .collect();
    update(&mut s, Input::Msg(Msg::Events { rows: vec![], ticks }));
    let effects = update(&mut s, Input::Tick(now() + Duration::seconds(40)));
    assert!(effects.is_empty(), "the tick evaluates nothing: {effects:?}");
    assert!(!screen(&s, 120, 40).contains("ALERT"), "no alert until the server raises one");
    // The server raised one: banner and Live pane.
    let alert = velvet::service::ActiveAlert {
        rule: "bad_codes".into(),
        text: "45 bad codes in the last minute (threshold 30)".into(),
        since: now(),
    };
    update(&mut s, Input::Msg(Msg::Alerts(vec![alert])));
    let shown = screen(&s, 120, 40);
    let since = now().with_timezone(&s.tz).format("%H:%M").to_string();
    assert!(
        shown.contains(&format!("ALERT bad_codes: 45 bad codes in the last minute (threshold 30) (since {since})")),
        "{shown}"
    );
    assert!(shown.contains("! 45 bad codes in the last minute"), "the Live pane lists it: {shown}");
    // Resolved by the server: gone.
    update(&mut s, Input::Msg(Msg::Alerts(vec![])));
    let shown = screen(&s, 120, 40);
    assert!(!shown.contains("ALERT") && shown.contains("no alerts"), "{shown}");
}

#[test]
fn changes_by_others_appear_in_place() {
    let mut s = world(Role::Admin);
    update(
        &mut s,
        Input::Msg(Msg::Changed(vec![
            entry(6, "ken@example.com", "approved", 40, None),
            entry(10, "new@example.com", "pending", 0, None),
        ])),
    );
    assert_eq!(s.entries[s.entry_index.get(6).unwrap()].status, "approved");
    assert_eq!(&*s.selected_entry().unwrap().email, "dennis@example.com", "the cursor stays on its row");
    assert_eq!(&*s.entries[s.waitlist.rows[0] as usize].email, "new@example.com", "new signups on top");
}

// ---- snapshots ----

fn snapshot_views(name: &str, role: Role) {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut s = world(role);
        s.width = w;
        for v in View::ALL {
            if v == View::Codes {
                // hn open, its batch open and read, the cursor on its first code.
                open_hn_batch(&mut s);
                keys(&mut s, &[Command::Down]);
            } else {
                update(&mut s, Input::Command(Command::View(v)));
            }
            insta::assert_snapshot!(format!("{name}_{}_{w}x{h}", v.title().to_lowercase()), screen(&s, w, h));
        }
    }
}

#[test]
fn views_as_an_admin() {
    snapshot_views("admin", Role::Admin);
}

#[test]
fn footer_of_a_viewer_offers_no_actions() {
    let s = world(Role::Viewer);
    let text = screen(&s, 120, 40);
    let footer = text.lines().nth(39).unwrap();
    assert!(footer.contains("filter") && !footer.contains("approve"), "{footer}");
}

#[test]
fn help_and_confirmation_overlays() {
    let mut s = world(Role::Support);
    s.width = 80;
    keys(&mut s, &[Command::Help]);
    insta::assert_snapshot!("help_support_80x24", screen(&s, 80, 24));
    keys(&mut s, &[Command::Back]);
    let mut s = world(Role::Admin);
    s.width = 80;
    keys(&mut s, &[Command::PauseRedemption]);
    insta::assert_snapshot!("confirm_pause_80x24", screen(&s, 80, 24));
}

#[test]
fn narrow_screens_hide_the_live_pane_one_key_away() {
    let mut s = world(Role::Admin);
    s.width = 80;
    assert!(!screen(&s, 80, 24).contains("Live"));
    keys(&mut s, &[Command::ToggleLive]);
    let live = screen(&s, 80, 24);
    assert!(live.contains("Live · last hour") && live.contains("bad codes"), "{live}");
}

// ---- the live filter (Hardening I, items 2 and 3) ----

/// Answers the filter searches among `effects` as the runner would, on
/// the haystack as it is now.
fn answer(s: &mut State, effects: Vec<Effect>) {
    let haystack = s.haystack.clone();
    answer_from(s, effects, &haystack);
}

/// ... or on a copy of it taken earlier (a search that started before).
fn answer_from(s: &mut State, effects: Vec<Effect>, haystack: &velvet::console::filter::Haystack) {
    for e in effects {
        if let Effect::Filter { generation, query, within } = e {
            let rows = haystack.search(&query, within.as_deref());
            update(s, Input::Msg(Msg::Filtered { generation, query, rows }));
        }
    }
}

fn listed(s: &State) -> Vec<String> {
    s.waitlist.rows.iter().map(|&i| s.entries[i as usize].email.to_string()).collect()
}

#[test]
fn a_filter_is_live_for_rows_that_arrive_or_change() {
    let mut s = world(Role::Admin);
    keys(&mut s, &[Command::Filter]);
    let effects = typed(&mut s, "late.arr");
    answer(&mut s, effects);
    update(&mut s, Input::Submit);
    assert!(listed(&s).is_empty());
    // A signup made through the API arrives through the event feed.
    update(&mut s, Input::Msg(Msg::Changed(vec![entry(10, "late.arrival@example.com", "pending", 0, None)])));
    assert_eq!(listed(&s), ["late.arrival@example.com"], "a new row matching the filter is listed as it comes");
    // Cleared: the new person is on top of the newest-first list.
    let effects = keys(&mut s, &[Command::Back]);
    answer(&mut s, effects);
    assert_eq!(listed(&s)[0], "late.arrival@example.com");
    assert_eq!(listed(&s).len(), 10);

    // A changed row is found by its new text: ken is approved elsewhere.
    keys(&mut s, &[Command::Filter]);
    let effects = typed(&mut s, "approved");
    answer(&mut s, effects);
    update(&mut s, Input::Submit);
    assert_eq!(listed(&s), ["margaret@acme.io"]);
    update(&mut s, Input::Msg(Msg::Changed(vec![entry(6, "ken@example.com", "approved", 40, None)])));
    assert_eq!(listed(&s), ["ken@example.com", "margaret@acme.io"]);
    assert_eq!(&*s.selected_entry().unwrap().email, "margaret@acme.io", "the cursor stays on its row");
    // A row that no longer matches stays while the cursor is on it...
    update(&mut s, Input::Msg(Msg::Changed(vec![entry(5, "margaret@acme.io", "invited", 60, None)])));
    assert_eq!(listed(&s), ["ken@example.com", "margaret@acme.io"]);
    // ... and goes once it is not.
    keys(&mut s, &[Command::Up]);
    update(&mut s, Input::Msg(Msg::Changed(vec![entry(5, "margaret@acme.io", "joined", 60, None)])));
    assert_eq!(listed(&s), ["ken@example.com"]);
}

#[test]
fn rows_that_arrive_while_a_search_runs_are_matched_when_it_answers() {
    let mut s = world(Role::Admin);
    keys(&mut s, &[Command::Filter]);
    let effects = typed(&mut s, "late.night");
    // The search runs on a copy of the haystack taken now...
    let snapshot = s.haystack.clone();
    // ... while a signup arrives.
    update(&mut s, Input::Msg(Msg::Changed(vec![entry(11, "late.night@example.com", "pending", 0, None)])));
    answer_from(&mut s, effects, &snapshot);
    assert_eq!(listed(&s), ["late.night@example.com"], "not lost to the answer of a search that started before it");
}

#[test]
fn support_finds_a_person_by_campaign_and_by_the_code_hint_they_read_out() {
    let mut s = world(Role::Support);
    let mut grace = entry(2, "grace.hopper@example.com", "joined", 200, Some(1));
    grace.campaign = Some("hn-launch".into());
    grace.hints = "K7QP 9XTD".into();
    update(&mut s, Input::Msg(Msg::Changed(vec![grace])));
    for (query, who) in [
        ("k7qp", "grace.hopper@example.com"),
        ("9xtd", "grace.hopper@example.com"),
        ("hn-launch", "grace.hopper@example.com"),
    ] {
        keys(&mut s, &[Command::Filter]);
        let effects = typed(&mut s, query);
        answer(&mut s, effects);
        assert_eq!(listed(&s)[0], who, "/{query}");
        let effects = keys(&mut s, &[Command::Back]);
        update(&mut s, Input::Cancel);
        answer(&mut s, effects);
    }
}

#[test]
fn long_addresses_are_shown_whole_at_120_and_80_columns() {
    let long = "yukihiro.lamarr19995@inbox.example.net";
    for (w, h) in [(120, 40), (80, 24)] {
        let mut s = world(Role::Support);
        s.width = w;
        update(&mut s, Input::Msg(Msg::Changed(vec![entry(12, long, "confirmed", 0, Some(1))])));
        keys(&mut s, &[Command::Top]);
        let text = screen(&s, w, h);
        let row = text.lines().find(|l| l.contains("yukihiro")).unwrap_or_default();
        assert!(row.contains(long), "{w}x{h}: the list row cuts the address:\n{text}");
        assert!(
            text.lines().any(|l| l.contains(&format!(" {long} ")) && l.contains('┌')),
            "{w}x{h}: the detail title names the whole address:\n{text}"
        );
    }
}

#[test]
fn the_codes_filter_and_cursor_hold_when_the_codes_are_read_again() {
    let mut s = world(Role::Support);
    open_hn_batch(&mut s);
    keys(&mut s, &[Command::Filter]);
    typed(&mut s, "producthunt");
    update(&mut s, Input::Submit);
    assert_eq!(code_rows(&s), ["▸ producthunt"], "a campaign matches by name");
    keys(&mut s, &[Command::Back]);
    keys(&mut s, &[Command::Filter]);
    typed(&mut s, "revoked");
    update(&mut s, Input::Submit);
    assert_eq!(code_rows(&s), ["▾ hn", "▾ batch 1 · 5 d ago", "…K002 revoked"], "a code, with the rows it is under");
    keys(&mut s, &[Command::Bottom]);
    assert_eq!(s.selected_code().map(|c| c.id), Some(2));
    // After an action the console counts again and reads the open batch again.
    let effects = update(&mut s, Input::Msg(Msg::CodeTree(tree(false))));
    let mut again = codes();
    let mut fourth = code(4, "hn", "revoked", 0);
    fourth.batch_id = Some(1);
    again.insert(0, fourth);
    assert!(answer_pages(&mut s, effects, &again).is_empty());
    assert_eq!(code_rows(&s), ["▾ hn", "▾ batch 1 · 5 d ago", "…K004 revoked", "…K002 revoked"], "still filtered");
    assert_eq!(s.selected_code().map(|c| c.id), Some(2), "still on the same code");
}

/// The key bound to `c`, as the terminal would send it.
fn key(c: char) -> ratatui::crossterm::event::KeyEvent {
    ratatui::crossterm::event::KeyEvent::new(
        ratatui::crossterm::event::KeyCode::Char(c),
        ratatui::crossterm::event::KeyModifiers::NONE,
    )
}

#[test]
fn the_codes_view_opens_and_closes_campaigns_and_batches() {
    use velvet::console::keymap::lookup;
    let mut s = world(Role::Viewer);
    assert!(lookup(key('h'), &s).is_none() && lookup(key('l'), &s).is_none(), "h and l mean nothing in the Waitlist");
    let effects = keys(&mut s, &[Command::View(View::Codes)]);
    assert_eq!(effects, vec![Effect::LoadCodes]);
    assert_eq!(
        code_rows(&s),
        ["▸ hn", "▸ producthunt", "▸ access codes", "▸ referral codes"],
        "the last count stays on screen while it counts again"
    );
    assert_eq!(lookup(key('l'), &s).map(|b| b.command), Some(Command::Expand));
    update(&mut s, Input::Msg(Msg::CodeTree(tree(false))));
    // Enter opens a campaign onto its batches; l on an open row goes into it.
    assert!(keys(&mut s, &[Command::Detail]).is_empty());
    assert_eq!(code_rows(&s)[..3], ["▾ hn", "▸ batch 1 · 5 d ago", "▸ producthunt"]);
    assert_eq!(s.pane, Pane::List, "Enter on a campaign opens it, not the detail");
    keys(&mut s, &[Command::Expand]);
    assert_eq!(s.selected_code_line(), Some(CodeLine::Batch(0, 0)));
    let effects = keys(&mut s, &[Command::Expand]);
    assert!(answer_pages(&mut s, effects, &codes()).is_empty());
    assert_eq!(code_rows(&s)[..5], ["▾ hn", "▾ batch 1 · 5 d ago", "…K002 revoked", "…K001 active", "▸ producthunt"]);
    assert!(!screen(&s, 120, 40).contains("more below"), "both codes read: nothing more");
    // h on a code closes its batch (the cursor on the batch's row)...
    keys(&mut s, &[Command::Down, Command::Down, Command::Collapse]);
    assert_eq!(code_rows(&s)[..3], ["▾ hn", "▸ batch 1 · 5 d ago", "▸ producthunt"]);
    assert_eq!(s.selected_code_line(), Some(CodeLine::Batch(0, 0)));
    assert!(s.codes.leaves.is_empty(), "the codes read for it are let go");
    // ... on a closed batch, its campaign; on a closed campaign, nothing.
    keys(&mut s, &[Command::Collapse]);
    assert_eq!(code_rows(&s)[..2], ["▸ hn", "▸ producthunt"]);
    assert_eq!(s.selected_code_line(), Some(CodeLine::Group(0)));
    keys(&mut s, &[Command::Collapse]);
    assert_eq!(code_rows(&s).len(), 4);
    // The referral codes have no batch level: they open onto their codes.
    let effects = keys(&mut s, &[Command::Bottom, Command::Expand]);
    assert_eq!(
        effects,
        vec![Effect::CodesPage { branch: branch(CodeGroup::Referral, TreeBatch::All), before: i64::MAX, limit: 200 }]
    );
    assert_eq!(code_rows(&s)[3..], ["▾ referral codes", "… reading codes"]);
    // Enter on an open row closes it.
    keys(&mut s, &[Command::Detail]);
    assert_eq!(code_rows(&s)[3..], ["▸ referral codes"]);
    // The detail of a campaign's row is its totals in words.
    keys(&mut s, &[Command::Top]);
    let shown = screen(&s, 120, 40);
    assert!(shown.contains("campaign hn · 1 batch"), "{shown}");
    assert!(shown.contains("2 codes · 15/100 uses taken") && shown.contains("14 joined through it"), "{shown}");
}

#[test]
fn an_open_batch_reads_its_codes_a_page_at_a_time_as_the_cursor_nears_the_last() {
    let mut s = world(Role::Viewer);
    keys(&mut s, &[Command::View(View::Codes)]);
    let big = totals(450, 0, 0, 0, (0, 450), 0);
    let mut t = tree(false);
    (t[0].totals, t[0].batches[0].totals) = (big, big);
    update(&mut s, Input::Msg(Msg::CodeTree(t)));
    let many: Vec<CodeView> =
        (1..=450).rev().map(|id| CodeView { batch_id: Some(1), ..code(id, "hn", "active", 0) }).collect();
    let effects = keys(&mut s, &[Command::Expand, Command::Down, Command::Expand]);
    assert!(answer_pages(&mut s, effects, &many).is_empty(), "the cursor is far from the last code read");
    assert_eq!(s.codes.leaves[0].codes.len(), 200);
    keys(&mut s, &[Command::Bottom]);
    assert!(screen(&s, 120, 40).contains("… 250 more below"), "the last row of the batch says what is left");
    keys(&mut s, &[Command::Top, Command::Down]);
    // Down the list: 40 codes before the last one read, the next page.
    let mut moves = 0;
    let effects = loop {
        moves += 1;
        let e = keys(&mut s, &[Command::Down]);
        if !e.is_empty() || moves > 300 {
            break e;
        }
    };
    let hn = branch(campaign("hn"), TreeBatch::Batch(1));
    assert_eq!(effects, vec![Effect::CodesPage { branch: hn.clone(), before: 251, limit: 200 }]);
    let Some(CodeLine::Code(_, at)) = s.selected_code_line() else { panic!() };
    assert_eq!(200 - at, 40);
    assert!(keys(&mut s, &[Command::Down]).is_empty(), "one page at a time");
    let selected = s.selected_code().map(|c| c.id);
    assert!(answer_pages(&mut s, effects, &many).is_empty());
    assert_eq!(s.selected_code().map(|c| c.id), selected, "the page comes in below the cursor");
    assert_eq!(s.codes.leaves[0].codes.len(), 400);
    // The last page is short: nothing more to read, no last row.
    let effects = loop {
        let e = keys(&mut s, &[Command::PageDown]);
        if !e.is_empty() {
            break e;
        }
    };
    assert_eq!(effects, vec![Effect::CodesPage { branch: hn, before: 51, limit: 200 }]);
    assert!(s.codes.leaves[0].loading);
    assert!(answer_pages(&mut s, effects, &many).is_empty());
    assert_eq!(s.codes.leaves[0].codes.len(), 450);
    assert!(s.codes.leaves[0].done && !s.codes.lines.iter().any(|l| matches!(l, CodeLine::More(_))));
    // Above producthunt, access and referral codes: the oldest code, the last one read.
    assert!(keys(&mut s, &[Command::Bottom, Command::Up, Command::Up, Command::Up]).is_empty());
    assert_eq!(s.selected_code().map(|c| c.id), Some(1));
}

#[test]
fn r_on_a_batch_or_a_campaign_asks_with_exactly_how_many_codes_it_revokes() {
    use velvet::console::keymap::lookup;
    let mut s = world(Role::Admin);
    open_hn_batch(&mut s);
    keys(&mut s, &[Command::Revoke]);
    let Some(Modal::Confirm { title, lines, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Revoke batch 1 (hn)?");
    assert_eq!(
        lines[..3],
        [
            "1 code stops working at once, on every server:",
            "1 active, 0 used up, 0 past their date.",
            "1 already revoked or ended stay so; 14 who joined stay in."
        ]
    );
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Revoke(CodeSet::Batch(1)))]);
    keys(&mut s, &[Command::Revoke]);
    s.width = 80;
    insta::assert_snapshot!("confirm_revoke_batch_80x24", screen(&s, 80, 24));
    update(&mut s, Input::Cancel);
    s.width = 120;
    keys(&mut s, &[Command::Top, Command::Revoke]);
    let Some(Modal::Confirm { title, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Revoke every code of campaign hn?");
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Revoke(CodeSet::Campaign("hn".into())))]);
    // The command line asks with the same count.
    command_line(&mut s, "revoke batch 1");
    let Some(Modal::Confirm { lines, .. }) = s.modal.take() else { panic!() };
    assert!(lines[0].starts_with("1 code stops working"), "{lines:?}");
    // The access group names no scope: r says what it revokes instead.
    keys(&mut s, &[Command::Bottom, Command::Up, Command::Revoke]);
    assert!(s.modal.is_none());
    assert!(s.toasts.last().unwrap().text.starts_with("r revokes a campaign, a batch or one code"));
    // Nothing left to revoke: a sentence, no question.
    let mut spent = tree(false);
    spent[0].batches[0].totals = totals(2, 0, 0, 2, (15, 100), 14);
    update(&mut s, Input::Msg(Msg::CodeTree(spent)));
    keys(&mut s, &[Command::Top, Command::Expand, Command::Revoke]);
    assert!(s.modal.is_none());
    assert_eq!(s.toasts.last().unwrap().text, "nothing to revoke: all 2 codes there are revoked already");

    // Support revokes one code, not a batch: r is not offered on the batch's row.
    let mut s = world(Role::Support);
    open_hn_batch(&mut s);
    assert!(lookup(key('r'), &s).is_none());
    keys(&mut s, &[Command::Revoke]);
    assert_eq!(s.toasts.last().unwrap().text, "your role may not revoke codes in bulk");
    keys(&mut s, &[Command::Down]);
    assert_eq!(lookup(key('r'), &s).map(|b| b.command), Some(Command::Revoke));
    keys(&mut s, &[Command::Revoke]);
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Revoke(CodeSet::Code(CodeRef::Id(2))))]);
}

#[test]
fn p_on_a_campaign_row_pauses_or_resumes_that_campaign() {
    let mut s = world(Role::Support);
    keys(&mut s, &[Command::View(View::Codes)]);
    keys(&mut s, &[Command::PauseRedemption]);
    let Some(Modal::Confirm { title, lines, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Pause redemption for campaign hn?");
    assert_eq!(lines[0], "Redemption stops at once, on every server, for its 1 active code; nothing is revoked.");
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Pause(Switch::Campaign("hn".into())))]);
    // Counted as paused: the row says so, and p resumes it.
    update(&mut s, Input::Msg(Msg::CodeTree(tree(true))));
    let row = screen(&s, 120, 40).lines().find(|l| l.contains("▸ hn")).unwrap().to_string();
    assert!(row.contains("▸ hn  paused"), "{row}");
    keys(&mut s, &[Command::PauseRedemption]);
    let Some(Modal::Confirm { title, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Resume redemption for campaign hn?");
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(Action::Resume(Switch::Campaign("hn".into())))]);
    // On any other row, p is about all redemption, as everywhere.
    keys(&mut s, &[Command::Bottom, Command::PauseRedemption]);
    let Some(Modal::Confirm { title, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Pause all redemption?");
    update(&mut s, Input::Cancel);
    // A viewer is not offered it.
    let mut s = world(Role::Viewer);
    keys(&mut s, &[Command::View(View::Codes), Command::PauseRedemption]);
    assert!(s.modal.is_none());
    assert_eq!(s.toasts.last().unwrap().text, "your role may not pause or resume");
}

#[test]
fn the_codes_are_counted_again_when_they_change_keeping_open_rows_and_the_cursor() {
    let mut s = world(Role::Admin);
    open_hn_batch(&mut s);
    keys(&mut s, &[Command::Down, Command::Down]);
    assert_eq!(s.selected_code().map(|c| c.id), Some(1));
    // Someone revokes code 1 elsewhere: the feed's event names the code.
    let revoke = |id: i64, code: i64| EventRow {
        code_id: Some(code),
        actor: "bo".into(),
        ..event(id, 0, "revoke", "ok", None, None)
    };
    // (Counts are at least a second apart: the view counted on opening.)
    assert!(update(&mut s, Input::Tick(now() + Duration::seconds(1))).is_empty(), "nothing changed: no count");
    let effects = update(&mut s, Input::Msg(Msg::Events { rows: vec![revoke(41, 1)], ticks: vec![] }));
    assert_eq!(effects, vec![Effect::LoadCodes]);
    assert!(screen(&s, 120, 40).contains("counting…"));
    // More changes while it counts: one count at a time, the next after it.
    assert!(update(&mut s, Input::Msg(Msg::Events { rows: vec![revoke(42, 2)], ticks: vec![] })).is_empty());
    let mut after = tree(false);
    after[0].batches[0].totals = totals(2, 0, 0, 2, (15, 100), 14);
    after[0].totals = after[0].batches[0].totals;
    let effects = update(&mut s, Input::Msg(Msg::CodeTree(after)));
    let hn = branch(campaign("hn"), TreeBatch::Batch(1));
    assert_eq!(
        effects,
        vec![Effect::CodesPage { branch: hn, before: i64::MAX, limit: 200 }],
        "the open batch reads its newest codes again; the next count waits its second"
    );
    let revoked: Vec<CodeView> = codes().into_iter().map(|c| CodeView { state: "revoked".into(), ..c }).collect();
    assert!(answer_pages(&mut s, effects, &revoked).is_empty());
    assert_eq!(code_rows(&s)[..4], ["▾ hn", "▾ batch 1 · 5 d ago", "…K002 revoked", "…K001 revoked"]);
    assert_eq!(s.selected_code().map(|c| (c.id, c.state.as_str())), Some((1, "revoked")), "the cursor stays");
    assert_eq!(update(&mut s, Input::Tick(now() + Duration::seconds(2))), vec![Effect::LoadCodes]);
    let effects = update(&mut s, Input::Msg(Msg::CodeTree(tree(false))));
    assert!(answer_pages(&mut s, effects, &codes()).is_empty());
    // Events about no code count nothing.
    let signup = event(43, 0, "signup", "ok", None, None);
    assert!(update(&mut s, Input::Msg(Msg::Events { rows: vec![signup], ticks: vec![] })).is_empty());
    // Another view counts nothing; coming back counts at once.
    keys(&mut s, &[Command::View(View::Events)]);
    update(&mut s, Input::Tick(now() + Duration::seconds(5)));
    assert!(update(&mut s, Input::Msg(Msg::Events { rows: vec![revoke(44, 2)], ticks: vec![] })).is_empty());
    assert_eq!(keys(&mut s, &[Command::View(View::Codes)]), vec![Effect::LoadCodes]);
    let effects = update(&mut s, Input::Msg(Msg::CodeTree(tree(false))));
    assert_eq!(effects.len(), 1, "the open batch is read again: {effects:?}");
    // An action done here counts at once.
    assert_eq!(
        update(&mut s, Input::Msg(Msg::Done("revoked 1 codes".into()))),
        vec![Effect::Refresh, Effect::LoadCodes]
    );
}

#[test]
fn the_live_pane_counts_deliveries_that_gave_up() {
    let mut s = world(Role::Support);
    assert!(!screen(&s, 120, 40).contains("gave up"));
    switches(&mut s, vec![], 3, 4);
    let text = screen(&s, 120, 40);
    assert!(text.contains("4 deliveries gave up"), "{text}");
}

// ---- review fixes: the cursor and the list under concurrent arrivals ----

#[test]
fn the_same_filter_answered_again_keeps_the_cursor_on_its_person() {
    let mut s = world(Role::Admin);
    keys(&mut s, &[Command::Filter]);
    let effects = typed(&mut s, "example.com");
    answer(&mut s, effects);
    update(&mut s, Input::Submit);
    keys(&mut s, &[Command::Down, Command::Down]);
    let on = s.selected_entry().unwrap().email.to_string();
    // The last page arrives: the same query is searched again.
    let effects = update(&mut s, Input::Msg(Msg::Entries { rows: vec![], total: 9, done: true }));
    answer(&mut s, effects);
    assert_eq!(s.selected_entry().unwrap().email.to_string(), on, "a key pressed now acts on the person on screen");
}

#[test]
fn a_page_that_arrives_during_a_search_is_not_lost_and_never_overwrites_a_newer_row() {
    let mut s = State::new(now(), "ada".into(), Some(Role::Admin), "sqlite");
    let first = vec![entry(9, "dennis@example.com", "pending", 2, None)];
    update(&mut s, Input::Msg(Msg::Entries { rows: first, total: 3, done: false }));
    // Ken was approved (the feed) before his page arrived with his older row.
    update(&mut s, Input::Msg(Msg::Changed(vec![entry(6, "ken@example.com", "approved", 40, None)])));
    keys(&mut s, &[Command::Filter]);
    let effects = typed(&mut s, "x");
    answer(&mut s, effects);
    // Esc clears the filter: the search for everything runs on a copy...
    let clearing = update(&mut s, Input::Cancel);
    let snapshot = s.haystack.clone();
    // ... while a page arrives.
    let page =
        vec![entry(6, "ken@example.com", "confirmed", 40, None), entry(5, "margaret@acme.io", "approved", 60, None)];
    update(&mut s, Input::Msg(Msg::Entries { rows: page, total: 3, done: false }));
    answer_from(&mut s, clearing, &snapshot);
    assert_eq!(s.entries[s.entry_index.get(6).unwrap()].status, "approved", "the page's older copy does not win");
    assert!(listed(&s).contains(&"margaret@acme.io".to_string()), "listed after the search answered: {:?}", listed(&s));
}

#[test]
fn a_failed_lookup_can_be_asked_again() {
    let mut s = world(Role::Admin);
    let effects = keys(&mut s, &[Command::Down]);
    let Some(Effect::Lookup { generation, .. }) = effects.first().cloned() else { panic!("{effects:?}") };
    update(&mut s, Input::Msg(Msg::LookupFailed { generation, error: "database is restarting".into() }));
    let again = keys(&mut s, &[Command::Detail]);
    assert!(matches!(&again[..], [Effect::Lookup { .. }]), "Enter asks again: {again:?}");
}

#[test]
fn an_email_change_asks_for_the_address_then_confirms() {
    let mut s = world(Role::Support);
    assert!(keys(&mut s, &[Command::ChangeEmail]).is_empty());
    let Some(Modal::Text { prompt, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(prompt, "New address for dennis@example.com (an address can be changed once):");
    typed(&mut s, "dennis@exmaple");
    assert!(update(&mut s, Input::Submit).is_empty());
    assert!(matches!(s.modal, Some(Modal::Text { .. })), "a malformed address keeps the prompt open");
    assert!(
        s.toasts.last().unwrap().text.ends_with("; type the corrected address"),
        "{}",
        s.toasts.last().unwrap().text
    );
    for _ in 0.."exmaple".len() {
        update(&mut s, Input::Backspace);
    }
    typed(&mut s, "Example.org");
    update(&mut s, Input::Submit);
    let Some(Modal::Confirm { title, lines, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Change dennis@example.com to dennis@example.org?");
    assert!(lines[0].starts_with("Pending again until the new address is confirmed"), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("a second change is refused")));
    assert_eq!(
        update(&mut s, Input::Char('y')),
        vec![Effect::Act(Action::ChangeEmail { old: "dennis@example.com".into(), new: "dennis@example.org".into() })]
    );
    // The command line does the same for the selected person, or any address.
    command_line(&mut s, "email linus@example.org");
    let Some(Modal::Confirm { action, .. }) = s.modal.take() else { panic!() };
    assert_eq!(action, Action::ChangeEmail { old: "dennis@example.com".into(), new: "linus@example.org".into() });
    command_line(&mut s, "email linus@example.net linus@example.org");
    let Some(Modal::Confirm { lines, action, .. }) = s.modal.take() else { panic!() };
    assert_eq!(action, Action::ChangeEmail { old: "linus@example.net".into(), new: "linus@example.org".into() });
    assert!(lines[0].contains("access code is revoked"), "linus is invited: {lines:?}");
}

#[test]
fn a_viewer_is_not_offered_the_email_change() {
    let mut s = world(Role::Viewer);
    assert!(keys(&mut s, &[Command::ChangeEmail]).is_empty());
    assert!(s.modal.is_none());
    assert_eq!(s.toasts.last().unwrap().text, "your role may not change a person's email");
    assert!(!velvet::console::keymap::help(&s).join("\n").contains("change the person's email"));
    assert!(velvet::console::keymap::help(&world(Role::Support)).join("\n").contains("change the person's email"));
}

#[test]
fn a_block_asks_why_before_it_asks_to_confirm() {
    let mut s = world(Role::Support);
    keys(&mut s, &[Command::Block]);
    let Some(Modal::Text { prompt, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(prompt, "Why block dennis@example.com? (kept in the event log)");
    assert!(screen(&s, 80, 24).contains("Why block dennis@example.com? (kept in the event log)"));
    typed(&mut s, "   ");
    assert!(update(&mut s, Input::Submit).is_empty());
    assert!(matches!(s.modal, Some(Modal::Text { .. })), "an empty reason keeps the prompt");
    assert_eq!(s.toasts.last().unwrap().text, "type a reason: it is kept in the event log");
    // `y` and `n` are letters of the reason here, not answers.
    typed(&mut s, "yes, a bot");
    update(&mut s, Input::Submit);
    let Some(Modal::Confirm { title, lines, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Block dennis@example.com?");
    assert_eq!(lines.last().unwrap(), "Reason: yes, a bot");
    update(&mut s, Input::Cancel);
    assert!(s.modal.is_none(), "Esc cancels: nothing blocked");
}

#[test]
fn a_bulk_block_previews_asks_why_confirms_and_is_undone() {
    let mut s = world(Role::Admin);
    let effects = command_line(&mut s, "block domain tempmail.example pending");
    let selector = BlockSelector::Domain("tempmail.example".into());
    assert_eq!(effects, vec![Effect::PreviewBlock { selector: selector.clone(), status: Some("pending".into()) }]);
    assert!(s.busy > 0, "a spinner while the database counts");
    let first: Vec<String> = (1..=20).map(|i| format!("bot{i}@tempmail.example")).collect();
    let preview = BulkBlock { batch_id: None, count: 37, first };
    update(
        &mut s,
        Input::Msg(Msg::BlockPreview { selector: selector.clone(), status: Some("pending".into()), preview }),
    );
    let Some(Modal::Text { prompt, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert_eq!(prompt, "Why block these 37 people? (kept in the event log)");
    typed(&mut s, "bot wave");
    update(&mut s, Input::Submit);
    let Some(Modal::Confirm { title, lines, action }) = s.modal.clone() else { panic!("{:?}", s.modal) };
    assert_eq!(title, "Block 37 people (domain tempmail.example, only pending)?");
    assert_eq!(lines[0], "37 people (domain tempmail.example, only pending), in signup order:");
    assert_eq!(lines[1], "  bot1@tempmail.example");
    assert!(lines.contains(&"  … and 29 more".to_string()), "{lines:?}");
    assert_eq!(lines.last().unwrap(), "Reason: bot wave");
    let expected = Action::BlockMany {
        selector: selector.clone(),
        status: Some("pending".into()),
        reason: Some("bot wave".into()),
    };
    assert_eq!(action, expected);
    assert_eq!(update(&mut s, Input::Char('y')), vec![Effect::Act(expected)]);

    // Nobody matches: a toast, no prompt.
    update(
        &mut s,
        Input::Msg(Msg::BlockPreview {
            selector: BlockSelector::Prefix("zz".into()),
            status: None,
            preview: BulkBlock { batch_id: None, count: 0, first: vec![] },
        }),
    );
    assert!(s.modal.is_none());
    assert_eq!(s.toasts.last().unwrap().text, "nobody to block: prefix zz takes no one");

    command_line(&mut s, "unblock batch 41");
    let Some(Modal::Confirm { action, .. }) = s.modal.take() else { panic!() };
    assert_eq!(action, Action::UnblockBatch(41));
    assert!(command_line(&mut s, "block everyone").is_empty());
    assert_eq!(s.toasts.last().unwrap().text, "try :block domain D | prefix P | source S [STATUS]");
}

#[test]
fn support_may_block_one_person_but_not_in_bulk() {
    let mut s = world(Role::Support);
    assert!(command_line(&mut s, "block source spam").is_empty());
    assert_eq!(s.toasts.last().unwrap().text, "your role may not block or unblock people in bulk");
    command_line(&mut s, "unblock batch 3");
    assert!(s.modal.is_none());
}

#[test]
fn erasing_asks_for_the_address_typed_back() {
    let mut s = world(Role::Admin);
    command_line(&mut s, "erase");
    let Some(Modal::Text { prompt, .. }) = &s.modal else { panic!("{:?}", s.modal) };
    assert!(prompt.starts_with("Erase dennis@example.com for good?"), "{prompt}");
    let drawn = screen(&s, 80, 24);
    assert!(drawn.contains("Type the address to go on:") && drawn.contains("Esc cancels"), "{drawn}");
    typed(&mut s, "dennis@example.co");
    assert!(update(&mut s, Input::Submit).is_empty(), "a near miss erases nothing");
    assert!(s.modal.is_none());
    assert_eq!(
        s.toasts.last().unwrap().text,
        "the address typed back does not match dennis@example.com: nothing erased"
    );
    command_line(&mut s, "erase linus@example.net");
    typed(&mut s, "linus@example.net");
    assert_eq!(update(&mut s, Input::Submit), vec![Effect::Act(Action::Erase("linus@example.net".into()))]);
    // Support may not erase: refused before anything is asked.
    let mut support = world(Role::Support);
    command_line(&mut support, "erase");
    assert!(support.modal.is_none());
    assert_eq!(support.toasts.last().unwrap().text, "your role may not erase a person's data");
}

// ---- issue 15 item 7: the detail's timeline scrolls ----

/// Dennis as a bot: `n` redemption attempts, one a minute, oldest first
/// (as `lookup` answers).
fn with_attempts(s: &mut State, n: i64) {
    let mut bot = dennis();
    bot.events = (0..n)
        .map(|i| velvet::service::TimelineEvent {
            kind: "redeem".into(),
            at: now() - Duration::minutes(n - i),
            actor: "public".into(),
            outcome: Some("failed".into()),
            reason: Some("unknown code".into()),
            rule: None,
            detail: Some(format!("attempt {}", i + 1)),
            code_id: None,
            campaign: None,
            ip_prefix: None,
        })
        .collect();
    let generation = s.detail_generation;
    update(s, Input::Msg(Msg::Lookup { generation, lookup: Box::new(bot) }));
}

#[test]
fn the_timeline_scrolls_in_the_detail_pane_within_its_bounds() {
    let mut s = world(Role::Viewer);
    update(&mut s, Input::Resize(80, 24));
    with_attempts(&mut s, 412);
    let rows = view::timeline_rows(&s);
    assert!(rows >= 3, "{rows} timeline lines at 80x24");
    // The list has focus: j moves the list, as before.
    keys(&mut s, &[Command::Down]);
    assert_eq!(s.timeline_scroll, 0);
    assert_eq!(&*s.selected_entry().unwrap().email, "bot8812@tempmail.example");
    keys(&mut s, &[Command::Up]);
    with_attempts(&mut s, 412);
    // Tab to the detail: the same keys scroll the timeline and leave the list alone.
    keys(&mut s, &[Command::NextPane]);
    assert!(keys(&mut s, &[Command::Down, Command::Down]).is_empty(), "scrolling asks the database for nothing");
    assert_eq!(s.timeline_scroll, 2);
    assert_eq!(&*s.selected_entry().unwrap().email, "dennis@example.com");
    keys(&mut s, &[Command::PageDown]);
    assert_eq!(s.timeline_scroll, 2 + rows);
    keys(&mut s, &[Command::PageUp, Command::PageUp]);
    assert_eq!(s.timeline_scroll, 0, "a page up stops at the top");
    keys(&mut s, &[Command::Up]);
    assert_eq!(s.timeline_scroll, 0);
    keys(&mut s, &[Command::Bottom]);
    assert_eq!(s.timeline_scroll, 412 - rows, "G shows the last page full");
    keys(&mut s, &[Command::Down, Command::PageDown]);
    assert_eq!(s.timeline_scroll, 412 - rows, "and stops there");
    keys(&mut s, &[Command::Up]);
    assert_eq!(s.timeline_scroll, 411 - rows, "one key back is one line back");
    keys(&mut s, &[Command::Top]);
    assert_eq!(s.timeline_scroll, 0);
    // A timeline shorter than the pane does not scroll.
    with_attempts(&mut s, 2);
    keys(&mut s, &[Command::Down, Command::Bottom]);
    assert_eq!(s.timeline_scroll, 0);
}

#[test]
fn a_scrolled_timeline_stays_on_its_lines_when_new_events_arrive_on_top() {
    let mut s = world(Role::Viewer);
    update(&mut s, Input::Resize(80, 24));
    with_attempts(&mut s, 400);
    keys(&mut s, &[Command::NextPane, Command::PageDown]);
    let at = s.timeline_scroll;
    let first_shown = |s: &State| screen(s, 80, 24).lines().find(|l| l.contains("attempt")).unwrap_or("").to_string();
    let before = first_shown(&s);
    // Three more attempts: the person's detail is read again.
    with_attempts(&mut s, 403);
    assert_eq!(s.timeline_scroll, at + 3);
    assert!(screen(&s, 80, 24).contains("of 403"), "{}", screen(&s, 80, 24));
    assert_eq!(first_shown(&s).split("attempt").nth(1), before.split("attempt").nth(1), "the same attempt on top");
}

#[test]
fn the_timeline_starts_at_the_top_when_another_person_is_selected() {
    let mut s = world(Role::Support);
    update(&mut s, Input::Resize(80, 24));
    with_attempts(&mut s, 412);
    keys(&mut s, &[Command::NextPane, Command::PageDown, Command::PageDown]);
    assert!(s.timeline_scroll > 0);
    keys(&mut s, &[Command::Back]);
    let effects = keys(&mut s, &[Command::Down]);
    assert!(matches!(&effects[..], [Effect::Lookup { email, .. }] if email == "bot8812@tempmail.example"));
    assert_eq!(s.timeline_scroll, 0, "the next person's timeline starts at the top");
}

#[test]
fn o_shows_the_timeline_in_time_order_and_back() {
    let mut s = world(Role::Viewer);
    update(&mut s, Input::Resize(80, 24));
    with_attempts(&mut s, 412);
    let footer = |s: &State| screen(s, 80, 24).lines().last().unwrap().to_string();
    assert!(!footer(&s).contains("order"), "o only means something in the detail: {}", footer(&s));
    keys(&mut s, &[Command::NextPane]);
    assert!(footer(&s).contains("o order"), "{}", footer(&s));
    assert!(velvet::console::keymap::help(&s).join("\n").contains("newest first or in time order"));
    let text = screen(&s, 80, 24);
    assert!(text.contains("attempt 412") && !text.contains("attempt 1 "), "newest first: {text}");
    keys(&mut s, &[Command::PageDown]);
    keys(&mut s, &[Command::TimelineOrder]);
    assert!(s.timeline_oldest_first);
    assert_eq!(s.timeline_scroll, 0, "a new order starts at its top");
    let text = screen(&s, 80, 24);
    assert!(text.contains("attempt 1;") || text.contains("attempt 1 "), "{text}");
    assert!(text.contains("timeline 1–") && text.contains("of 412 · time order"), "{text}");
    keys(&mut s, &[Command::TimelineOrder]);
    assert!(!s.timeline_oldest_first);
}

#[test]
fn a_scrolled_timeline() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut s = world(Role::Support);
        update(&mut s, Input::Resize(w, h));
        with_attempts(&mut s, 412);
        keys(&mut s, &[Command::NextPane, Command::PageDown, Command::Down, Command::Down]);
        let rows = view::timeline_rows(&s);
        let text = screen(&s, w, h);
        let range = format!("timeline {}–{} of 412 · newest first", rows + 3, 2 * rows + 2);
        assert!(text.contains(&range), "{range}:\n{text}");
        insta::assert_snapshot!(format!("detail_scrolled_{w}x{h}"), text);
    }
}

// ---- issue 15 item 8: :export writes what the view lists ----

use velvet::console::export::{Cell, ExportTable};

#[test]
fn export_asks_the_runner_to_write_exactly_the_rows_the_view_lists() {
    let mut s = world(Role::Viewer);
    keys(&mut s, &[Command::Filter]);
    let effects = typed(&mut s, "example.com");
    answer(&mut s, effects);
    update(&mut s, Input::Submit);
    let listed = listed(&s);
    assert!(listed.len() > 1 && listed.len() < 9, "{listed:?}");
    let effects = command_line(&mut s, "export /tmp/waiting list.csv");
    let [Effect::Export { path, table }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(path, "/tmp/waiting list.csv", "the rest of the line is the file name");
    assert_eq!(table.columns, ["email", "status", "source", "signed_up", "campaign"]);
    let emails: Vec<String> = table
        .rows
        .iter()
        .map(|r| match &r[0] {
            Cell::Text(email) => email.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(emails, listed, "exactly the listed rows, in the order shown");
    let first = s.entries[s.waitlist.rows[0] as usize].clone();
    assert_eq!(
        table.rows[0],
        vec![
            Cell::Text(first.email.to_string()),
            Cell::Static(first.status),
            Cell::Shared(first.source.clone().unwrap()),
            Cell::Time(first.first_seen),
            Cell::Empty,
        ]
    );
    assert!(s.busy > 0, "a spinner while it writes");

    // The Codes view: the rows it lists, as filtered (each with its totals, or a code).
    open_hn_batch(&mut s);
    keys(&mut s, &[Command::Filter]);
    typed(&mut s, "K001");
    update(&mut s, Input::Submit);
    let effects = command_line(&mut s, "export codes.json");
    let [Effect::Export { table, .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(table.what, "rows of codes");
    assert_eq!(&table.columns[..3], ["row", "campaign", "batch"]);
    let rows: Vec<&[Cell]> = table.rows.iter().map(|r| &r[..4]).collect();
    assert_eq!(
        rows,
        [
            &[Cell::Static("campaign"), Cell::Text("hn".into()), Cell::Empty, Cell::Empty][..],
            &[Cell::Static("batch"), Cell::Text("hn".into()), Cell::Number(1), Cell::Empty][..],
            &[Cell::Static("code"), Cell::Text("hn".into()), Cell::Number(1), Cell::Text("K001".into())][..],
        ]
    );
    assert_eq!(
        table.rows[0][9..],
        [2, 1, 0, 0, 1, 14].map(Cell::Number),
        "issued, active, used, expired, revoked, joined"
    );
    assert_eq!(table.rows[2][5..8], [Cell::Text("active".into()), Cell::Number(12), Cell::Number(50)]);
    keys(&mut s, &[Command::Back]);

    // The Events view: newest first, as listed.
    keys(&mut s, &[Command::View(View::Events)]);
    let effects = command_line(&mut s, "export events.csv");
    let [Effect::Export { table, .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(table.rows.len(), 40);
    assert_eq!(table.rows[0][0], Cell::Number(40));
    assert_eq!(table.rows[39][0], Cell::Number(1));

    // No file name: a hint, nothing written.
    assert!(command_line(&mut s, "export").is_empty());
    assert!(s.toasts.last().unwrap().text.starts_with(":export FILE"), "{}", s.toasts.last().unwrap().text);
}

#[test]
fn only_operators_who_may_read_the_waitlist_export() {
    // An operator the database does not know has no role: nothing to read.
    let mut s = world(Role::Viewer);
    s.role = None;
    assert!(command_line(&mut s, "export all.csv").is_empty());
    assert_eq!(s.toasts.last().unwrap().text, "your role may not read the waitlist");
}

fn table(rows: Vec<Vec<Cell>>) -> ExportTable {
    ExportTable { what: "people", columns: velvet::console::export::PEOPLE_COLUMNS, rows }
}

fn person_row(email: &str, source: &str) -> Vec<Cell> {
    vec![
        Cell::Text(email.into()),
        Cell::Static("confirmed"),
        Cell::Shared(source.into()),
        Cell::Time(now()),
        Cell::Empty,
    ]
}

#[test]
fn the_exporter_writes_csv_with_cells_a_spreadsheet_would_run_defused() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        person_row("=1+1@x.io", "hn"),
        person_row("-@example.com", "+cmd"),
        person_row("@sum@example.com", "friend"),
        person_row("ada@example.com", "a,b"),
    ];
    let path = dir.path().join("people.csv");
    let written = velvet::console::export::write(&path, &table(rows)).unwrap();
    assert_eq!(written, path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "email,status,source,signed_up,campaign\n\
         '=1+1@x.io,confirmed,hn,2026-11-22T12:00:00Z,\n\
         '-@example.com,confirmed,'+cmd,2026-11-22T12:00:00Z,\n\
         '@sum@example.com,confirmed,friend,2026-11-22T12:00:00Z,\n\
         ada@example.com,confirmed,\"a,b\",2026-11-22T12:00:00Z,\n"
    );
    // JSON keeps the values as they are (nothing runs them) and types them.
    let path = dir.path().join("people.JSON");
    velvet::console::export::write(&path, &table(vec![person_row("=1+1@x.io", "hn")])).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"email": "=1+1@x.io", "status": "confirmed", "source": "hn",
            "signed_up": "2026-11-22T12:00:00Z", "campaign": null}])
    );
}

#[test]
fn an_export_to_a_folder_that_does_not_exist_says_so_in_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let err = velvet::console::export::write(&missing.join("x.csv"), &table(vec![])).unwrap_err();
    assert_eq!(err, format!("could not export x.csv: the folder {} does not exist", missing.display()));
    let err = velvet::console::export::write(dir.path(), &table(vec![])).unwrap_err();
    assert!(err.ends_with("that is a folder; name a file, e.g. :export people.csv"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no draft left behind");
}

// ---- issue 15 item 6: the Events view pages through history ----

fn older_page(rows: Vec<EventRow>, scanned_to: i64, done: bool) -> velvet::store::EventPage {
    velvet::store::EventPage { rows, scanned_to, done }
}

#[test]
fn scrolling_past_the_oldest_event_loaded_reads_an_older_page() {
    // The live tail holds events 1001..=1040; a thousand older ones are in the database.
    let mut s = State::new(now(), "ada".into(), Some(Role::Viewer), "sqlite");
    let tail: Vec<EventRow> = (1001..=1040).map(|i| event(i, 1040 - i, "signup", "ok", None, None)).collect();
    update(&mut s, Input::Msg(Msg::Events { rows: tail, ticks: vec![] }));
    let s = &mut s;
    keys(s, &[Command::View(View::Events)]);
    assert!(keys(s, &[Command::Down]).is_empty(), "inside the loaded rows: nothing to read");
    let effects = keys(s, &[Command::Bottom]);
    let [Effect::OlderEvents { generation, before, words, limit }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!((*before, words.is_empty(), *limit), (1001, true, 500));
    assert!(keys(s, &[Command::Down]).is_empty(), "one page at a time");
    assert!(screen(s, 120, 40).contains("reading older, below #1001"));
    let older: Vec<EventRow> = (951..=1000).rev().map(|i| event(i, 2000 - i, "confirm", "ok", None, None)).collect();
    let next = update(s, Input::Msg(Msg::OlderEvents { generation: *generation, page: older_page(older, 951, false) }));
    assert!(next.is_empty());
    assert_eq!(s.events_list.rows.len(), 90);
    assert_eq!(s.events_list.selected, 39, "the cursor stays on its event");
    assert_eq!(s.events[s.events_list.rows[89] as usize].id, 951, "older events below, newest first");
    assert_eq!(s.events.front().unwrap().id, 951);
    // A stretch of history with nothing in it: the console looks further down.
    let effects = keys(s, &[Command::Bottom]);
    let [Effect::OlderEvents { generation, before, .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(*before, 951);
    let next =
        update(s, Input::Msg(Msg::OlderEvents { generation: *generation, page: older_page(vec![], 500, false) }));
    assert!(matches!(&next[..], [Effect::OlderEvents { before: 500, .. }]), "{next:?}");
    let Effect::OlderEvents { generation, .. } = &next[0] else { unreachable!() };
    update(s, Input::Msg(Msg::OlderEvents { generation: *generation, page: older_page(vec![], 0, true) }));
    assert!(keys(s, &[Command::Down]).is_empty(), "nothing older is left");
    assert!(screen(s, 120, 40).contains("all history"));
}

#[test]
fn the_events_filter_is_asked_of_the_database_and_a_new_filter_starts_again() {
    let mut s = State::new(now(), "ada".into(), Some(Role::Viewer), "sqlite");
    let tail: Vec<EventRow> = (1001..=1040).map(|i| event(i, 1040 - i, "signup", "ok", None, None)).collect();
    update(&mut s, Input::Msg(Msg::Events { rows: tail, ticks: vec![] }));
    keys(&mut s, &[Command::View(View::Events), Command::Filter]);
    typed(&mut s, "redeem failed");
    assert!(s.events_list.rows.is_empty(), "nothing in the tail");
    let effects = update(&mut s, Input::Submit);
    let [Effect::OlderEvents { generation, before, words, .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!((*before, words.clone()), (1001, vec!["redeem".to_string(), "failed".to_string()]));
    let found = vec![event(700, 400, "redeem", "failed", None, Some("198.51.100.0/24"))];
    update(&mut s, Input::Msg(Msg::OlderEvents { generation: *generation, page: older_page(found, 650, false) }));
    assert_eq!(s.events_list.rows.len(), 1, "the database's match is listed");
    assert!(screen(&s, 120, 40).contains("back to #650"));
    // A new filter: the old one's pages go, and an answer for it is dropped.
    let stale = *generation;
    keys(&mut s, &[Command::Filter]);
    typed(&mut s, " x");
    assert!(s.events.iter().all(|e| e.id >= 1001), "older pages of another filter are dropped");
    update(&mut s, Input::Msg(Msg::OlderEvents { generation: stale, page: older_page(found_again(), 1, true) }));
    assert!(s.events.iter().all(|e| e.id >= 1001), "a late answer for the old filter is dropped");
}

fn found_again() -> Vec<EventRow> {
    vec![event(600, 500, "redeem", "failed", None, None)]
}

/// At 100 columns the Live pane takes 42 of them: the Codes view's name
/// column was cut to one letter ("p", "h"). The counts that matter least
/// give way instead, and every campaign is named whole.
#[test]
fn a_narrow_codes_view_names_every_campaign_whole() {
    let mut s = world(Role::Admin);
    keys(&mut s, &[Command::View(View::Codes)]);
    update(&mut s, Input::Msg(Msg::CodeTree(tree(false))));
    let text = screen(&s, 100, 30);
    for name in ["producthunt", "hn"] {
        assert!(text.lines().any(|l| l.contains(&format!("▸ {name}"))), "{name} named whole:\n{text}");
    }
    let header = text.lines().find(|l| l.contains("CAMPAIGN")).unwrap();
    assert!(header.contains("ISSUED") && header.contains("USES") && header.contains("JOINED"), "{header}");
    assert!(!header.contains("ACTIVE"), "the first to give way: {header}");
    // Wide enough, every column is there.
    let wide = screen(&s, 160, 30);
    let header = wide.lines().find(|l| l.contains("CAMPAIGN")).unwrap();
    for col in ["ISSUED", "USES", "ACTIVE", "EXPIRED", "REVOKED", "JOINED"] {
        assert!(header.contains(col), "{col} at 160 columns: {header}");
    }
}
