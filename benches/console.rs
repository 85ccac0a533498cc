//! The console at scale: first frame, fuzzy-filter keystrokes, selecting a
//! row → its detail, memory and the Live pane's refresh cost, on a seeded
//! SQLite database; and confirmations per second on that database against
//! a 10,000-entry one (a confirmation's cost must not grow with the list).
//!
//!     cargo bench --bench console                      # 1,000,000 entries, 10,000,000 events
//!     VELVET_BENCH_ENTRIES=100000 VELVET_BENCH_EVENTS=1000000 cargo bench --bench console
//!     VELVET_BENCH_DB=/tmp/big.db cargo bench --bench console   # keep and reuse the database
//!     VELVET_BENCH_ONLY=codes cargo bench --bench console      # only the Codes view, below
//!
//! Then the Codes view on a database of its own: a campaign of
//! `VELVET_BENCH_CODES` codes (default 1,000,000, in two batches) beside a
//! small campaign, an invite run and referral codes: opening the view (the
//! tree's totals counted and drawn), opening the big batch (its first page),
//! and a page deep in it.
//!
//! Prints each figure beside its target from DESIGN.md.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::{Duration, Instant};
use velvet::console::action::{Effect, Input, Msg};
use velvet::console::keymap::Command;
use velvet::console::runner::{entry_item, tick_of};
use velvet::console::state::{State, View};
use velvet::console::theme::Theme;
use velvet::console::update::update;
use velvet::console::view;
use velvet::domain::{Role, SystemClock};
use velvet::ops::{Ops, Remote, calls};
use velvet::service::{Actor, Velvet};
use velvet::sim::seed::{SeedSpec, seed};
use velvet::store::{EventFilter, Store};

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn draw(s: &State) {
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| view::draw(f, s, &Theme::plain())).unwrap();
}

/// What the console's list costs through one `Ops`: the figures DESIGN.md names.
struct ListFigures {
    first_frame: Duration,
    full_load: Duration,
    live_seed: Duration,
    keystrokes: Vec<Duration>,
    select: Vec<Duration>,
    rss_before: f64,
    rss_loaded: f64,
}

impl ListFigures {
    fn print(&self, title: &str, first_frame_target: &str) {
        println!();
        println!("| {title} | measured | target |");
        println!("|---|---|---|");
        println!("| first frame (count + newest 200 + draw) | {} | {first_frame_target} |", ms(self.first_frame));
        println!(
            "| rest of the list loaded in the background | {:.1} s | (progress shown) |",
            self.full_load.as_secs_f64()
        );
        println!("| fuzzy filter keystroke → redrawn, p50 | {} | |", ms(pct(&self.keystrokes, 0.5)));
        println!("| fuzzy filter keystroke → redrawn, p95 | {} | < 50 ms |", ms(pct(&self.keystrokes, 0.95)));
        println!(
            "| Live pane's hour counted by the database (2 aggregates) + tail | {} | whole hour at any rate |",
            ms(self.live_seed)
        );
        println!("| selecting a row → its detail drawn, p50 | {} | |", ms(pct(&self.select, 0.5)));
        println!("| selecting a row → its detail drawn, p95 | {} | < 50 ms |", ms(pct(&self.select, 0.95)));
        println!(
            "| memory (RSS) with everything loaded | {:.0} MB (process before loading: {:.0} MB) | < 300 MB |",
            self.rss_loaded, self.rss_before
        );
    }
}

/// The console's first frame, its background load, the Live pane's seed,
/// selecting rows and typing a filter, all through `ops` (the same calls
/// the console's runner makes).
async fn list_figures(ops: &Ops, place: &str) -> (State, ListFigures) {
    let rss_before = rss_mb();
    let started = Instant::now();
    let mut s = State::new(ops.now(), "bench".into(), Some(Role::Admin), place);
    let count = ops.call(calls::CountEntries {}).await.unwrap() as u64;
    let first = ops.call(calls::EntriesNewest { before: i64::MAX, limit: 200 }).await.unwrap();
    let mut before = first.last().map(|e| e.id).unwrap_or(0);
    update(
        &mut s,
        Input::Msg(Msg::Entries { rows: first.into_iter().map(entry_item).collect(), total: count, done: false }),
    );
    draw(&s);
    let first_frame = started.elapsed();

    // The rest loads in the background (here: measured in the foreground).
    let started = Instant::now();
    let mut pages = 0u64;
    loop {
        let page = ops.call(calls::EntriesNewest { before, limit: 25_000 }).await.unwrap();
        let done = page.len() < 25_000;
        before = page.last().map(|e| e.id).unwrap_or(before);
        update(
            &mut s,
            Input::Msg(Msg::Entries { rows: page.into_iter().map(entry_item).collect(), total: count, done }),
        );
        pages += 1;
        if pages.is_multiple_of(10) {
            eprintln!("  {place}: {} of {count} entries loaded", s.entries.len());
        }
        if done {
            break;
        }
    }
    let full_load = started.elapsed();
    // The Live pane's hour (counted by the database) and the Events tail.
    let started = Instant::now();
    let (_feed, latest, hour) = ops.tail_and_hour(2_000).await.unwrap();
    update(&mut s, Input::Msg(Msg::Events { rows: latest, ticks: Vec::new() }));
    update(&mut s, Input::Msg(Msg::LiveHour { minutes: hour.minutes, offenders: hour.offenders }));
    let live_seed = started.elapsed();
    let rss_loaded = rss_mb();

    // Selecting a row → its detail drawn: the lookup the console runs, the
    // update and a frame, for rows all over the list.
    eprintln!("  {place}: selecting rows...");
    let mut select = Vec::new();
    for k in 0..60 {
        let i = (k * 104_729 + 17) % s.entries.len();
        s.waitlist.selected = s.waitlist.rows.iter().position(|&r| r as usize == i).unwrap_or(0);
        let email = s.selected_entry().unwrap().email.to_string();
        let t = Instant::now();
        let lookup = ops.call(calls::LookupCall { email }).await.unwrap();
        let generation = s.detail_generation;
        s.detail_for = s.selected_entry().map(|e| e.id);
        update(&mut s, Input::Msg(Msg::Lookup { generation, lookup: Box::new(lookup) }));
        draw(&s);
        select.push(t.elapsed());
    }
    select.sort();

    // Fuzzy filter: type real addresses one key at a time; each keystroke is
    // the search (narrowing the previous answer) plus a redraw. The same
    // over a context: the list is searched where it is drawn.
    let mut keystrokes = Vec::new();
    let picks: Vec<String> = (0..20).map(|i| s.entries[(i * 7919 * 13) % s.entries.len()].email.to_string()).collect();
    for email in &picks {
        let query: String = email.chars().take(10).collect();
        let mut typed = String::new();
        let mut answered = String::new();
        let mut rows: Option<Vec<u32>> = None;
        for c in query.chars() {
            typed.push(c);
            let t = Instant::now();
            let within = if !answered.is_empty() && typed.starts_with(&answered) { rows.as_deref() } else { None };
            let found = s.haystack.search(&typed, within);
            s.waitlist.rows = found.clone();
            s.waitlist.selected = 0;
            draw(&s);
            keystrokes.push(t.elapsed());
            rows = Some(found);
            answered = typed.clone();
        }
    }
    keystrokes.sort();
    let figures = ListFigures { first_frame, full_load, live_seed, keystrokes, select, rss_before, rss_loaded };
    (s, figures)
}

/// Starts `velvet serve --admin-listen` on the bench database, gives the
/// bench operator a token, and runs this bench again as the client alone
/// (`VELVET_BENCH_CLIENT`), which prints the figures over the context.
async fn over_a_context(velvet: &Velvet, actor: &Actor, url: &str) {
    use std::io::BufRead;
    let token = velvet.issue_token(actor, "bench", Some(chrono::Duration::hours(2)), Some("bench")).await.unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_velvet"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--mail", "log"])
        .env("VELVET_DATABASE_URL", url)
        .env("VELVET_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start velvet serve");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let admin = line
        .split("admin API and /metrics on ")
        .nth(1)
        .and_then(|r| r.split(|c: char| c.is_whitespace() || c == ')').next())
        .unwrap_or_else(|| panic!("no admin address in {line:?}"))
        .to_string();
    eprintln!("over a context: velvet serve's admin API on {admin}; the client runs in its own process");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("VELVET_BENCH_CLIENT", format!("{admin} {}", token.token))
        .status()
        .expect("run the bench client");
    assert!(status.success(), "the bench client failed");
    let _ = server.kill();
    let _ = server.wait();
}

/// The client side of `over_a_context`: the console's list over HTTP.
async fn context_client(spec: &str) {
    let (admin, token) = spec.split_once(' ').expect("VELVET_BENCH_CLIENT is 'URL TOKEN'");
    let ops = Ops::Remote(Arc::new(Remote::connect(Some("bench"), admin, token, false).await.unwrap()));
    let total = ops.call(calls::CountEntries {}).await.unwrap();
    let (_s, figures) = list_figures(&ops, admin).await;
    figures.print(&format!("console over a context at {total} entries (loopback HTTP, client process)"), "< 1 s");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(spec) = std::env::var("VELVET_BENCH_CLIENT") {
        context_client(&spec).await;
        return;
    }
    if std::env::var("VELVET_BENCH_ONLY").as_deref() == Ok("codes") {
        codes_view(env_u64("VELVET_BENCH_CODES", 1_000_000)).await;
        return;
    }
    let entries = env_u64("VELVET_BENCH_ENTRIES", 1_000_000);
    let events_target = env_u64("VELVET_BENCH_EVENTS", 10_000_000);
    let keep = std::env::var("VELVET_BENCH_DB").ok();
    let dir = tempfile::tempdir().unwrap();
    let path = keep.clone().unwrap_or_else(|| dir.path().join("bench.db").display().to_string());
    let url = format!("sqlite://{path}");
    let store = Store::open(&url).await.unwrap();
    let velvet = Velvet::new(store.clone(), Arc::new(SystemClock));
    if velvet.operator("bench").await.is_err() {
        velvet.add_operator("bench", "bench", Role::Admin).await.unwrap();
    }
    let actor = velvet.operator("bench").await.unwrap();
    let have = velvet.count_entries(&actor).await.unwrap() as u64;
    if have == 0 {
        let started = Instant::now();
        // The seeded history writes about 2.9 events per entry; the rest is background noise.
        let extra = events_target.saturating_sub(entries * 29 / 10);
        let r = seed(&velvet, &actor, SeedSpec { size: entries, seed: 1, extra_events: extra, progress: true })
            .await
            .unwrap();
        println!(
            "seeded {} entries and {} events in {:.0} s ({})",
            r.entries,
            r.events,
            started.elapsed().as_secs_f64(),
            path
        );
    }
    let total_events = match &store {
        Store::Sqlite(p) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events").fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events").fetch_one(p).await.unwrap(),
    };
    let total_entries = velvet.count_entries(&actor).await.unwrap();
    println!("database: {total_entries} entries, {total_events} events");

    // Over a context first, in a child process of its own (so its memory is
    // the console's alone), against `velvet serve` in another process.
    if std::env::var("VELVET_BENCH_SKIP_CONTEXT").is_err() {
        over_a_context(&velvet, &actor, &url).await;
    }

    let ops = Ops::local(velvet.clone(), actor.clone());
    let (mut s, figures) = list_figures(&ops, "sqlite").await;
    figures
        .print(&format!("console at {total_entries} entries / {total_events} events (local, in process)"), "< 300 ms");

    // Live refresh: read what came after the cursor and fold it in. Its cost
    // follows the new events, not the history: measured at this history and
    // compared with a read of the same size at the start of the table.
    let cursor = s.event_cursor;
    let mut tx = store.write().await.unwrap();
    for i in 0..500 {
        let e = velvet::store::NewEvent {
            kind: "signup",
            outcome: Some("ok"),
            actor: "public".into(),
            detail: Some(format!("bench {i}")),
            ..Default::default()
        };
        tx.append_event(velvet.now(), &e).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut refresh = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let rows = velvet.events_after(&actor, cursor, 5_000).await.unwrap();
        let ticks = rows.iter().map(tick_of).collect();
        update(&mut s, Input::Msg(Msg::Events { rows, ticks }));
        draw(&s);
        refresh.push(t.elapsed());
        s.event_cursor = cursor;
    }
    refresh.sort();
    let mut early = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let mut tx = store.read().await.unwrap();
        let rows = tx.events(&EventFilter { after_id: 0, kind: None, entry_id: None, limit: 500 }).await.unwrap();
        drop(tx);
        assert_eq!(rows.len(), 500);
        early.push(t.elapsed());
    }
    early.sort();

    println!("| console (local) | measured | target |");
    println!("|---|---|---|");
    println!(
        "| live refresh: 500 new events after the cursor, p50 | {} | independent of history |",
        ms(pct(&refresh, 0.5))
    );
    println!("| same-size read at the start of the table, p50 | {} | (for comparison) |", ms(pct(&early, 0.5)));
    drop(s);

    // Confirmations per second, one at a time, here and on a small list.
    eprintln!("confirmations on {total_entries} entries...");
    let big = confirms_per_second(&velvet, "big").await;
    let small_dir = tempfile::tempdir().unwrap();
    let small_store = Store::open(&format!("sqlite://{}", small_dir.path().join("small.db").display())).await.unwrap();
    let small = Velvet::new(small_store, Arc::new(SystemClock));
    small.add_operator("bench", "bench", Role::Admin).await.unwrap();
    let small_actor = small.operator("bench").await.unwrap();
    eprintln!("seeding 10,000 entries for the comparison...");
    seed(&small, &small_actor, SeedSpec { size: 10_000, seed: 1, extra_events: 0, progress: false }).await.unwrap();
    let reference = confirms_per_second(&small, "small").await;
    println!();
    println!("| confirmations, one at a time (service, SQLite) | measured | beside | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| at {total_entries} entries vs 10,000 | {big:.0}/s | {reference:.0}/s | {:.0} % | within 20 % |",
        100.0 * big / reference
    );
    drop(dir);
    codes_view(env_u64("VELVET_BENCH_CODES", 1_000_000)).await;
}

/// Writes `rows` in one transaction and empties it.
async fn write_codes(store: &Store, rows: &mut Vec<velvet::store::SeedCode>) {
    let mut tx = store.write().await.unwrap();
    tx.bulk_codes(rows).await.unwrap();
    tx.commit().await.unwrap();
    rows.clear();
}

/// The Codes view with a campaign of `n` codes, on a SQLite database of its
/// own: the time from pressing `2` to the tree's totals drawn, opening the
/// big batch (its newest page drawn), and a page from deep in it.
async fn codes_view(n: u64) {
    use velvet::domain::code::CodeKind;
    use velvet::store::SeedCode;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("codes.db").display())).await.unwrap();
    let velvet = Velvet::new(store.clone(), Arc::new(SystemClock));
    velvet.add_operator("bench", "bench", Role::Admin).await.unwrap();
    let actor = velvet.operator("bench").await.unwrap();
    let now = velvet.now();
    let started = Instant::now();
    let mut tx = store.write().await.unwrap();
    let older = tx.insert_batch(CodeKind::Partner, Some("big"), now, "bench").await.unwrap();
    let newer = tx.insert_batch(CodeKind::Partner, Some("big"), now, "bench").await.unwrap();
    let small = tx.insert_batch(CodeKind::Partner, Some("small"), now, "bench").await.unwrap();
    let run = tx.insert_batch(CodeKind::Access, None, now, "pacer").await.unwrap();
    tx.commit().await.unwrap();
    let code = |i: u64, kind: &'static str, campaign: Option<&'static str>, batch: Option<i64>| SeedCode {
        hash: format!("{kind}-{}-{i}", campaign.unwrap_or("")),
        hint: format!("{:04}", i % 10_000),
        kind,
        campaign,
        batch_id: batch,
        inviter_entry_id: None,
        bound_entry_id: None,
        max_uses: 1,
        uses: i.is_multiple_of(3) as i64,
        expires_at: now + chrono::Duration::days(14 - (i % 20) as i64),
        created_at: now,
        created_by: "bench",
    };
    // A small campaign, an invite run and referral codes, then the big
    // campaign in two batches (40 % then 60 %): the newest, listed first.
    let mut rows: Vec<SeedCode> = Vec::with_capacity(121_000);
    rows.extend((0..1_000).map(|i| code(i, "partner", Some("small"), Some(small))));
    rows.extend((0..20_000).map(|i| code(i, "access", None, Some(run))));
    rows.extend((0..100_000).map(|i| code(i, "referral", None, None)));
    write_codes(&store, &mut rows).await;
    for i in 0..n {
        rows.push(code(i, "partner", Some("big"), Some(if i < n * 2 / 5 { older } else { newer })));
        if rows.len() == 50_000 {
            write_codes(&store, &mut rows).await;
            if (i + 1).is_multiple_of(200_000) {
                eprintln!("codes: {}/{n} seeded ({:.0} s)", i + 1, started.elapsed().as_secs_f64());
            }
        }
    }
    write_codes(&store, &mut rows).await;
    let total = n + 121_000;
    println!();
    println!(
        "seeded a campaign of {n} codes (and 121,000 others: a small campaign, an invite run, referral codes) in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Pressing 2: the tree counted by the database, folded in, drawn.
    let mut open = Vec::new();
    let mut s = State::new(velvet.now(), "bench".into(), Some(Role::Admin), "sqlite");
    for _ in 0..10 {
        s = State::new(velvet.now(), "bench".into(), Some(Role::Admin), "sqlite");
        let t = Instant::now();
        let effects = update(&mut s, Input::Command(Command::View(View::Codes)));
        assert!(effects.contains(&Effect::LoadCodes));
        let tree = velvet.code_tree(&actor).await.unwrap();
        update(&mut s, Input::Msg(Msg::CodeTree(tree)));
        draw(&s);
        open.push(t.elapsed());
    }
    open.sort();
    assert_eq!(s.codes.groups[0].totals.issued as u64, n, "the big campaign first, counted whole");
    // Opening the campaign, then its newest batch: the first page read, folded in, drawn.
    update(&mut s, Input::Command(Command::Expand));
    update(&mut s, Input::Command(Command::Down));
    let mut batch = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let effects = update(&mut s, Input::Command(Command::Expand));
        let [Effect::CodesPage { branch, before, limit }] = &effects[..] else { panic!("{effects:?}") };
        let codes = velvet.codes_page(&actor, branch, *before, *limit).await.unwrap();
        update(&mut s, Input::Msg(Msg::CodesPage { branch: branch.clone(), before: *before, limit: *limit, codes }));
        draw(&s);
        batch.push(t.elapsed());
        update(&mut s, Input::Command(Command::Collapse));
    }
    batch.sort();
    // A page from the middle of the big batch (the cursor far down it).
    let branch = velvet::service::CodeBranch {
        group: velvet::service::CodeGroup::Campaign("big".into()),
        batch: velvet::service::TreeBatch::Batch(older),
    };
    // (The older batch's ids follow the 121,000 others.)
    let middle = 121_000 + (n / 5) as i64;
    let step = (n / 5 / 25) as i64;
    let mut deep = Vec::new();
    for k in 0..20 {
        let t = Instant::now();
        let page = velvet.codes_page(&actor, &branch, middle - k * step, 200).await.unwrap();
        assert_eq!(page.len(), 200);
        deep.push(t.elapsed());
    }
    deep.sort();
    // What the view read before it was a tree: the newest 10,000 codes, no totals.
    let t = Instant::now();
    velvet.list_codes(&actor, None, None, None, 10_000).await.unwrap();
    let flat = t.elapsed();

    println!();
    println!("| Codes view, a campaign of {n} codes ({total} codes in all, SQLite) | measured | |");
    println!("|---|---|---|");
    println!(
        "| pressing 2 → the tree's totals counted and drawn, p50 / max of 10 | {} / {} | one pass over `invite_codes_tree` |",
        ms(pct(&open, 0.5)),
        ms(pct(&open, 1.0))
    );
    println!(
        "| opening its newest batch ({} codes) → first 200 drawn, p50 / p95 | {} / {} | |",
        n - n * 2 / 5,
        ms(pct(&batch, 0.5)),
        ms(pct(&batch, 0.95))
    );
    println!("| a page of 200 from the middle of the older batch, p50 | {} | |", ms(pct(&deep, 0.5)));
    println!("| (before: the newest 10,000 codes as a flat list, no totals) | {} | |", ms(flat));
}

/// Signs up 400 new people with known links, then confirms them one after
/// another; returns confirmations per second.
async fn confirms_per_second(velvet: &Velvet, tag: &str) -> f64 {
    use velvet::domain::token::ConfirmToken;
    let meta = velvet::service::RequestMeta::default();
    let mut tokens = Vec::new();
    for i in 0..400 {
        let email = format!("confirm-bench-{tag}-{i}-{}@example.com", std::process::id());
        let entry_id = match velvet.signup(&email, None, None, &meta).await.unwrap() {
            velvet::service::SignupOutcome::New { entry_id }
            | velvet::service::SignupOutcome::Repeat { entry_id, .. } => entry_id,
        };
        let token = ConfirmToken::generate();
        let now = velvet.now();
        let mut tx = velvet.store().write().await.unwrap();
        tx.insert_token(entry_id, &token.hash(), now, now + chrono::Duration::hours(48)).await.unwrap();
        tx.commit().await.unwrap();
        tokens.push(token);
    }
    let started = Instant::now();
    for t in &tokens {
        velvet.confirm(t.as_str(), &meta).await.unwrap();
    }
    tokens.len() as f64 / started.elapsed().as_secs_f64()
}
