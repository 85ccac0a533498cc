//! The CLI over a context is the CLI over a database URL (issue 13 items 4
//! and 9): two identical worlds, each a database with its own `velvet
//! serve --admin-listen`, are driven by the same commands, one over
//! `--database-url … --as NAME`, the other over `--context` with NAME's
//! token; every operator command prints the same stdout, the same stderr
//! and ends with the same exit code on both. Only what must differ is
//! normalised (random codes, tokens and hints, anonymous ids, times).
//! Then what only a context has: login and its file, `--as` refused,
//! plain http to another machine, a server out of reach or failing.
//!
//! Every run of the binary gets its own XDG_CONFIG_HOME and HOME (temp
//! folders), so nothing here reads or writes the real ones.

mod common;

use common::server::{code_in, link_in, wait_for_mail};
use common::{CliRun, FreshDatabase, Killed, TestDb};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use velvet::domain::ManualClock;
use velvet::service::Velvet;
use velvet::store::Store;

on_both_backends!(
    every_operator_command_over_a_context_is_the_same_as_over_the_database_url,
    logging_in_keeps_the_token_private_and_contexts_are_listed_switched_and_forgotten,
    with_a_context_the_token_says_who_you_are,
    a_server_out_of_reach_or_failing_is_one_sentence_naming_it,
);

/// A `[alerts]` section that never fires: an alert written by a server's
/// evaluator at a moment of its own would make the two worlds' trails
/// differ by when it ran, not by what the CLI did.
const QUIET: &str = "[alerts]\nsignup_spike_min = 1000000\nredeem_failures_per_min = 1000000\n\
prefix_attempts_per_min = 1000000\nmin_join_attempts = 1000000\nfailed_deliveries = 0\n\
outbox_backlog = \"7d\"\nlimited_per_min = 0\n";

/// Where the binary keeps contexts (XDG_CONFIG_HOME) and what it takes for
/// home, for every run in one test.
struct Home {
    xdg: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home { xdg: tempfile::tempdir().unwrap(), home: tempfile::tempdir().unwrap() }
    }

    fn contexts_file(&self) -> PathBuf {
        self.xdg.path().join("velvet").join("contexts.toml")
    }

    /// `velvet ARGS` from a fresh shell: no database URL, operator, context
    /// or config from the environment; `stdin` fed to it when given.
    fn run(&self, cwd: &Path, args: &[String], stdin: Option<&str>) -> CliRun {
        self.run_with(cwd, args, stdin, &[])
    }

    fn run_with(&self, cwd: &Path, args: &[String], stdin: Option<&str>, env: &[(&str, &str)]) -> CliRun {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_velvet"));
        command
            .args(args)
            .env_remove("VELVET_DATABASE_URL")
            .env_remove("VELVET_CONFIG")
            .env_remove("VELVET_OPERATOR")
            .env_remove("VELVET_CONTEXT")
            .env_remove("VELVET_SECRET")
            .env("XDG_CONFIG_HOME", self.xdg.path())
            .env("HOME", self.home.path())
            .env("USER", "nobody-in-particular")
            .env("NO_COLOR", "1")
            .current_dir(cwd)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("run the velvet binary");
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        CliRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `velvet login NAME URL --token-stdin` with `token`.
    fn login(&self, name: &str, url: &str, token: &str) -> CliRun {
        let args = strings(&["login", name, url, "--token-stdin"]);
        self.run(self.home.path(), &args, Some(&format!("{token}\n")))
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// One database and the server in front of it.
struct World {
    /// "a": driven over its database URL; "b": over contexts.
    tag: &'static str,
    db: TestDb,
    serve: Killed,
    public: String,
    admin: String,
    mail: tempfile::TempDir,
    /// The folder each command runs in (`report --out report.html` lands here).
    cwd: tempfile::TempDir,
}

impl World {
    /// The arguments that say where and who: `--database-url URL --as WHO`,
    /// or `--context b-WHO` (the context logged in with WHO's token).
    fn target(&self, who: &str) -> Vec<String> {
        match self.tag {
            "a" => strings(&["--database-url", &self.db.url, "--as", who]),
            _ => strings(&["--context", &format!("b-{who}")]),
        }
    }

    /// The same call on the public API of this world's server.
    async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.public))
            .header("content-type", "application/json")
            .header("x-device-id", "device-of-the-test")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Waits until every queued message was delivered by the server, so the
    /// next step starts from the same place in both worlds.
    async fn settle(&self) {
        common::until(&format!("world {}: the outbox is delivered", self.tag), Duration::from_secs(20), || async {
            self.db.velvet.outbox_depth().await.unwrap() == 0
        })
        .await;
    }
}

/// A second fresh database on the same backend as `db`, with a manual clock.
async fn twin(db: &TestDb) -> (TestDb, FreshDatabase) {
    let backend = if db.url.starts_with("postgres") { common::Backend::Postgres } else { common::Backend::Sqlite };
    let fresh = FreshDatabase::new(backend).await.expect("the first one was made");
    let store = Store::open(&fresh.url).await.unwrap();
    let clock = Arc::new(ManualClock::new(db.velvet.now()));
    let velvet = Velvet::new(store.clone(), clock.clone());
    (TestDb { url: fresh.url.clone(), store, clock, velvet }, fresh)
}

/// The same beta in each world, through the service, two hours ago (before
/// the servers start): six confirmed people, one at a time, one pending,
/// and one whose confirmation mail gave up.
async fn seed(db: &TestDb, at: chrono::DateTime<chrono::Utc>) {
    db.clock.set(at);
    for email in [
        "ann@example.com",
        "bob@example.com",
        "cat@example.com",
        "dan@example.com",
        "x1@spam.example",
        "x2@spam.example",
    ] {
        db.confirmed(email).await;
        db.clock.advance(chrono::Duration::minutes(1));
    }
    db.velvet.signup("pat@example.com", None, Some("ph"), &common::meta()).await.unwrap();
    db.velvet.signup("fay@example.com", None, None, &common::meta()).await.unwrap();
    common::fail_until_given_up(db, "confirm", "550 mailbox unavailable").await;
}

async fn start(tag: &'static str, db: TestDb, config: &Path) -> World {
    let mail = tempfile::tempdir().unwrap();
    let (serve, public, admin) =
        common::spawn_admin_serve(&db.url, config, &format!("file:{}", mail.path().display()), Stdio::null());
    World { tag, db, serve, public, admin, mail, cwd: tempfile::tempdir().unwrap() }
}

/// What a run showed, with what must differ between two worlds made the
/// same: random codes, tokens and their hints, anonymous ids, times.
#[derive(PartialEq, Eq)]
struct Seen {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

fn seen(r: &CliRun) -> Seen {
    Seen { code: r.code, stdout: normalise(&r.stdout), stderr: normalise(&r.stderr) }
}

/// Replaces, wherever they stand, what is random or a moment in time.
fn normalise(text: &str) -> String {
    let lines: Vec<String> = text.split_inclusive('\n').map(code_row_hint).collect();
    let chars: Vec<char> = lines.concat().chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let before = if i == 0 { ' ' } else { chars[i - 1] };
        let rest = &chars[i..];
        let found = if before.is_ascii_alphanumeric() {
            None
        } else {
            token(rest)
                .map(|n| (n, "<token>"))
                .or_else(|| anonymous(rest).map(|n| (n, "<anonymous>")))
                .or_else(|| time(rest).map(|n| (n, "<time>")))
                .or_else(|| invite_code(rest).map(|n| (n, "<code>")))
                .or_else(|| relative(rest).map(|n| (n, "<when>")))
        };
        let found = found
            .or_else(|| after(rest, "…", |c| c.is_ascii_alphanumeric()).map(|n| (n, "…<hint>")))
            .or_else(|| json_hint(rest).map(|n| (n, "\"hint\": \"<hint>\"")));
        match found {
            Some((n, with)) => {
                out.push_str(with);
                i += n;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// `text` at the start of `s`: its length.
fn starts(s: &[char], text: &str) -> Option<usize> {
    let t: Vec<char> = text.chars().collect();
    (s.len() >= t.len() && s[..t.len()] == t[..]).then_some(t.len())
}

/// How many of `s` from `from` are `class` (at least one).
fn run_of(s: &[char], from: usize, class: impl Fn(char) -> bool) -> Option<usize> {
    let n = s.iter().skip(from).take_while(|c| class(**c)).count();
    (n > 0).then_some(n)
}

/// `prefix` then a run of `class`: the whole length.
fn after(s: &[char], prefix: &str, class: impl Fn(char) -> bool) -> Option<usize> {
    let p = starts(s, prefix)?;
    Some(p + run_of(s, p, class)?)
}

/// Characters matching `shape`, where `d` stands for a digit.
fn shaped(s: &[char], shape: &str) -> Option<usize> {
    let shape: Vec<char> = shape.chars().collect();
    let ok = s.len() >= shape.len()
        && shape.iter().zip(s).all(|(want, got)| if *want == 'd' { got.is_ascii_digit() } else { want == got });
    ok.then_some(shape.len())
}

fn token(s: &[char]) -> Option<usize> {
    after(s, "velvet_op_", |c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

fn anonymous(s: &[char]) -> Option<usize> {
    after(s, "erased-", |c| c.is_ascii_hexdigit())
}

/// 2026-12-01, 2026-12-01 11:55, 2026-12-01 11:55:54, 2026-12-01T11:55:54.123Z, ….
fn time(s: &[char]) -> Option<usize> {
    let mut n = shaped(s, "dddd-dd-dd")?;
    if let Some(m) = shaped(&s[n..], "Tdd:dd").or_else(|| shaped(&s[n..], " dd:dd")) {
        n += m;
        if let Some(m) = shaped(&s[n..], ":dd") {
            n += m;
            if s.get(n) == Some(&'.') {
                n += 1 + run_of(s, n + 1, |c| c.is_ascii_digit()).unwrap_or(0);
            }
        }
        n += starts(&s[n..], "Z").or_else(|| shaped(&s[n..], "+dd:dd")).unwrap_or(0);
    }
    Some(n)
}

/// `HN-7K3M-QX9P-2HDA-V8WT-W` (the prefix optional).
fn invite_code(s: &[char]) -> Option<usize> {
    let symbol = |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c));
    let groups = |from: usize| -> Option<usize> {
        let mut n = from;
        for _ in 0..4 {
            (s.len() >= n + 5 && s[n..n + 4].iter().all(|c| symbol(*c)) && s[n + 4] == '-').then_some(())?;
            n += 5;
        }
        s.get(n).is_some_and(|c| symbol(*c)).then_some(n + 1)
    };
    let prefix = s.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if (1..=12).contains(&prefix)
        && s.get(prefix) == Some(&'-')
        && let Some(n) = groups(prefix + 1)
    {
        return Some(n);
    }
    groups(0)
}

/// "just now", "12 min ago", "in 14 d".
fn relative(s: &[char]) -> Option<usize> {
    if let Some(n) = starts(s, "just now") {
        return Some(n);
    }
    let units = |from: usize| ["s", "min", "h", "d"].iter().find_map(|u| starts(&s[from..], u).map(|n| from + n));
    if let Some(p) = starts(s, "in ") {
        let d = run_of(s, p, |c| c.is_ascii_digit())?;
        let n = units(p + d + starts(&s[p + d..], " ")?)?;
        return s.get(n).is_none_or(|c| !c.is_ascii_alphanumeric()).then_some(n);
    }
    let d = run_of(s, 0, |c| c.is_ascii_digit())?;
    let n = units(d + starts(&s[d..], " ")?)?;
    Some(n + starts(&s[n..], " ago")?)
}

fn json_hint(s: &[char]) -> Option<usize> {
    let p = starts(s, "\"hint\": \"")?;
    let n = s[p..].iter().position(|c| *c == '"')?;
    Some(p + n + 1)
}

/// A row of `velvet codes list`: its HINT column (the fifth) is random.
fn code_row_hint(line: &str) -> String {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let is_row = fields.len() > 5
        && fields[0].chars().all(|c| c.is_ascii_digit())
        && ["access", "referral", "partner"].contains(&fields[1]);
    if !is_row {
        return line.to_string();
    }
    // Replace the fifth field where it stands, keeping the columns' spaces.
    let mut at = 0;
    for (i, f) in fields.iter().enumerate() {
        let start = at + line[at..].find(f).unwrap();
        if i == 4 {
            return format!("{}<hint>{}", &line[..start], &line[start + f.len()..]);
        }
        at = start + f.len();
    }
    line.to_string()
}

/// The two worlds and the contexts logged in to the second.
struct Pair {
    home: Home,
    a: World,
    b: World,
}

impl Pair {
    /// `velvet ARGS` in `world` as `who` (over its database URL or its context).
    fn run(&self, world: &World, who: &str, args: &[&str]) -> CliRun {
        let mut all = world.target(who);
        all.extend(strings(args));
        self.home.run(world.cwd.path(), &all, None)
    }

    /// `velvet ARGS` in each world as `who` (args per world); the two
    /// answers must be the same and end with `code`. Then both servers
    /// deliver what the command queued. Returns the context's run.
    async fn each(&self, who: &str, code: i32, args: impl Fn(&World) -> Vec<String>) -> CliRun {
        let ra = self.run(&self.a, who, &args(&self.a).iter().map(String::as_str).collect::<Vec<_>>());
        let rb = self.run(&self.b, who, &args(&self.b).iter().map(String::as_str).collect::<Vec<_>>());
        let shown = args(&self.b).join(" ");
        assert_eq!(
            seen(&ra),
            seen(&rb),
            "`velvet {shown}` as {who}: over the database URL (left) and over a context (right) differ"
        );
        assert_eq!(ra.code, code, "`velvet {shown}` as {who}: {:?}", seen(&ra));
        self.a.settle().await;
        self.b.settle().await;
        rb
    }

    async fn both(&self, who: &str, code: i32, args: &[&str]) -> CliRun {
        self.each(who, code, |_| strings(args)).await
    }
}

/// Both worlds seeded alike, each with its server; ada (admin) and sam
/// (support) made on each database, each with a token, logged in to
/// both servers (`a-ada`, `a-sam`, `b-ada`, `b-sam`: the first world's
/// tokens are used once, at login, so both worlds' tokens have been used).
async fn pair(db: TestDb) -> (Pair, FreshDatabase) {
    let (second, fresh) = twin(&db).await;
    let two_hours_ago = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 7200, 0).unwrap();
    seed(&db, two_hours_ago).await;
    seed(&second, two_hours_ago).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("velvet.toml");
    std::fs::write(&config, QUIET).unwrap();
    let a = start("a", db, &config).await;
    let b = start("b", second, &config).await;
    let home = Home::new();
    for w in [&a, &b] {
        let on_db = |args: &[&str]| {
            let mut all = strings(&["--database-url", &w.db.url]);
            all.extend(strings(args));
            let r = home.run(w.cwd.path(), &all, None);
            assert_eq!(r.code, 0, "{args:?} on world {}: {}", w.tag, r.stderr);
            r.stdout
        };
        on_db(&["operator", "add", "ada", "--role", "admin"]);
        on_db(&["--as", "ada", "operator", "add", "sam", "--role", "support"]);
        for who in ["ada", "sam"] {
            let token = on_db(&["--as", "ada", "operator", "token", who, "--note", "laptop"]);
            let r = home.login(&format!("{}-{who}", w.tag), &w.admin, token.trim());
            assert_eq!(r.code, 0, "login {who} to world {}: {}", w.tag, r.stderr);
        }
    }
    (Pair { home, a, b }, fresh)
}

async fn every_operator_command_over_a_context_is_the_same_as_over_the_database_url(db: TestDb) {
    let (w, fresh) = pair(db).await;

    // Settings first: no invite goes out by itself (the pacer), so each
    // world's invites are the ones the commands send.
    w.both("ada", 0, &["settings", "show"]).await;
    let r = w.both("ada", 0, &["settings", "set", "daily_invite_cap", "0"]).await;
    assert_eq!(r.stderr, "daily_invite_cap = 0\n");
    let r = w.both("ada", 2, &["settings", "set", "daily_cap", "9"]).await;
    assert!(r.stderr.contains("daily_invite_cap"), "{}", r.stderr);
    w.both("sam", 1, &["settings", "set", "daily_invite_cap", "5"]).await;

    // One person, and the mistakes one makes asking.
    let r = w.both("sam", 0, &["lookup", "ann@example.com"]).await;
    assert!(r.stdout.contains("status   confirmed"), "{}", r.stdout);
    w.both("sam", 0, &["lookup", "ann@example.com", "--json"]).await;
    w.both("sam", 0, &["lookup", "fay@example.com"]).await;
    let r = w.both("ada", 1, &["lookup", "ghost@example.com"]).await;
    assert!(r.stderr.contains("no waitlist entry for ghost@example.com"), "{}", r.stderr);
    let r = w.both("ada", 2, &["lookup", "not an email"]).await;
    assert!(r.stderr.contains("space"), "{}", r.stderr);
    w.both("ada", 2, &["approve", "--email", "not an email"]).await;

    // Approving: support may not; a dry run changes nothing.
    let r = w.both("sam", 1, &["approve", "--next", "2"]).await;
    assert!(r.stderr.contains("operator 'sam' is a support and may not approve"), "{}", r.stderr);
    w.both("sam", 1, &["approve", "--email", "ann@example.com", "--dry-run"]).await;
    let r = w.both("ada", 0, &["approve", "--next", "2", "--dry-run"]).await;
    assert_eq!(r.stdout, "ann@example.com\nbob@example.com\n");
    let r = w.both("ada", 0, &["approve", "--next", "2"]).await;
    assert_eq!(r.stdout, "ann@example.com\nbob@example.com\n");
    w.both("ada", 0, &["approve", "--email", "cat@example.com", "--dry-run"]).await;
    w.both("ada", 0, &["approve", "--email", "cat@example.com"]).await;
    w.both("ada", 1, &["approve", "--email", "pat@example.com"]).await;
    let r = w.both("ada", 1, &["approve", "--email", "cat@example.com"]).await;
    assert!(r.stderr.contains("cannot approve an entry that is approved"), "{}", r.stderr);

    // Invites: under a cap of 0 nothing, past it one (the oldest approval).
    let r = w.both("ada", 0, &["invites", "send"]).await;
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", "0 invites queued; 0 left under today's cap\n"));
    w.both("sam", 1, &["invites", "send", "--limit", "1", "--past-cap"]).await;
    let r = w.both("ada", 0, &["invites", "send", "--limit", "1", "--past-cap"]).await;
    assert_eq!(r.stdout, "ann@example.com\n");

    // Ann joins with her invite and brings in rae with a referral code, on
    // each world's public API: the chain has two people.
    for world in [&w.a, &w.b] {
        let code = code_in(&wait_for_mail(world.mail.path(), "ann@example.com", "invite").await);
        let r = world.post("/v1/redeem", serde_json::json!({"code": code, "email": "ann@example.com"})).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        world.settle().await;
        let referral = code_in(&wait_for_mail(world.mail.path(), "ann@example.com", "referral").await);
        let r = world.post("/v1/redeem", serde_json::json!({"code": referral, "email": "rae@example.com"})).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        world.settle().await;
        let link = link_in(&wait_for_mail(world.mail.path(), "rae@example.com", "confirm").await);
        let r = reqwest::Client::new()
            .post(link)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        world.settle().await;
    }
    let r = w.both("sam", 0, &["chain", "ann@example.com"]).await;
    assert!(r.stdout.contains("rae@example.com"), "{}", r.stdout);
    w.both("sam", 0, &["chain", "ann@example.com", "--json"]).await;
    w.both("sam", 1, &["chain", "ghost@example.com"]).await;
    w.both("sam", 0, &["lookup", "ann@example.com"]).await;
    w.both("sam", 0, &["lookup", "rae@example.com", "--json"]).await;

    // Partner codes: issued (each world's own, shown once), listed, revoked.
    let r = w.both("ada", 0, &["codes", "issue", "--campaign", "hn", "--max-uses", "3", "--count", "2"]).await;
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    w.both("sam", 1, &["codes", "issue", "--campaign", "hn"]).await;
    w.both("ada", 2, &["codes", "issue", "--campaign", "hn", "--expires", "soon"]).await;
    w.both("sam", 0, &["codes", "list"]).await;
    w.both("sam", 0, &["codes", "list", "--json"]).await;
    w.both("sam", 0, &["codes", "list", "--campaign", "hn", "--kind", "partner", "--limit", "1"]).await;
    w.both("sam", 2, &["codes", "list", "--kind", "coupon"]).await;
    w.both("sam", 0, &["codes", "list", "--batch", "2", "--json"]).await;
    let batch = |world: &World| -> String {
        let r = w.run(world, "ada", &["codes", "list", "--campaign", "hn", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        list[0]["batch_id"].as_i64().unwrap().to_string()
    };
    assert_eq!(batch(&w.a), batch(&w.b), "the same batch in both worlds");
    let batch = batch(&w.a);
    w.both("ada", 0, &["codes", "revoke", "--batch", &batch, "--dry-run"]).await;
    w.both("sam", 1, &["codes", "revoke", "--batch", &batch]).await;
    let r = w.both("ada", 0, &["codes", "revoke", "--batch", &batch, "--reason", "leaked"]).await;
    assert_eq!((r.stdout.lines().count(), r.stderr.as_str()), (2, "revoked 2 codes\n"));
    let first_code = |world: &World| {
        let r = w.run(world, "ada", &["codes", "issue", "--campaign", "ph"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.trim().to_string()
    };
    let (code_a, code_b) = (first_code(&w.a), first_code(&w.b));
    let code = |world: &World| if world.tag == "a" { code_a.clone() } else { code_b.clone() };
    w.each("ada", 0, |world| strings(&["codes", "revoke", &code(world), "--dry-run"])).await;
    let r = w.each("ada", 0, |world| strings(&["codes", "revoke", &code(world)])).await;
    assert_eq!(r.stderr, "revoked 1 codes\n");
    w.each("ada", 0, |world| strings(&["codes", "revoke", &code(world)])).await;
    w.both("ada", 2, &["codes", "revoke", "HN-0000"]).await;
    w.both("ada", 0, &["codes", "revoke", "--campaign", "nothing-here"]).await;
    w.both("ada", 0, &["codes", "revoke", "--inviter", "ann@example.com", "--dry-run"]).await;

    // Pauses and their undoing.
    for args in [
        &["pause", "redemption", "--reason", "leak"][..],
        &["pause", "redemption"],
        &["settings", "show"],
        &["resume", "redemption"],
        &["resume", "redemption"],
        &["pause", "signups"],
        &["resume", "signups"],
        &["pause", "redemption", "--campaign", "hn"],
        &["settings", "show"],
        &["resume", "redemption", "--campaign", "hn"],
        &["pause", "inviter", "--email", "ann@example.com"],
        &["resume", "inviter", "--email", "ann@example.com"],
    ] {
        w.both("ada", 0, args).await;
    }
    w.both("ada", 2, &["pause", "signups", "--campaign", "hn"]).await;
    w.both("ada", 2, &["pause", "inviter"]).await;
    w.both("ada", 1, &["pause", "inviter", "--email", "ghost@example.com"]).await;
    w.both("sam", 0, &["pause", "signups", "--reason", "support on a spike"]).await;
    w.both("sam", 0, &["resume", "signups"]).await;

    // Blocking one person and many, and undoing both.
    w.both("ada", 0, &["block", "pat@example.com", "--reason", "spam"]).await;
    w.both("ada", 0, &["lookup", "pat@example.com"]).await;
    w.both("ada", 0, &["unblock", "pat@example.com"]).await;
    w.both("ada", 1, &["unblock", "pat@example.com"]).await;
    let r = w.both("ada", 0, &["block", "--domain", "spam.example", "--dry-run"]).await;
    assert_eq!(r.stdout, "x1@spam.example\nx2@spam.example\n");
    w.both("ada", 0, &["block", "--domain", "nobody.example"]).await;
    let r = w.both("ada", 0, &["block", "--source", "ph", "--dry-run"]).await;
    assert_eq!(r.stdout, "pat@example.com\n");
    let r = w.both("ada", 0, &["block", "--prefix", "x", "--status", "confirmed", "--dry-run"]).await;
    assert_eq!(r.stdout, "x1@spam.example\nx2@spam.example\n");
    w.both("ada", 2, &["block", "--domain", "spam.example", "--status", "gone", "--dry-run"]).await;
    w.both("ada", 2, &["block", "--prefix", "a@b"]).await;
    let r = w.both("ada", 0, &["block", "--domain", "spam.example", "--reason", "bots"]).await;
    let blocked = r.stderr.split("as batch ").nth(1).and_then(|t| t.split(';').next()).unwrap().to_string();
    w.both("sam", 0, &["export", "--status", "blocked"]).await;
    let r = w.both("ada", 0, &["unblock", "--batch", &blocked]).await;
    assert_eq!(r.stdout, "x1@spam.example confirmed\nx2@spam.example confirmed\n");
    w.both("ada", 1, &["unblock", "--batch", "999"]).await;

    // Correcting an address, reissuing a code.
    let r = w.both("ada", 0, &["change-email", "dan@example.com", "dan@example.org"]).await;
    assert_eq!(r.stdout, "dan@example.org\n");
    w.both("ada", 1, &["change-email", "dan@example.org", "dan@example.net"]).await;
    w.both("ada", 1, &["change-email", "bob@example.com", "ann@example.com"]).await;
    w.both("ada", 2, &["change-email", "bob@example.com", "bob at example"]).await;
    let r = w.both("ada", 1, &["reissue", "cat@example.com"]).await;
    assert!(r.stderr.contains("there is no invite or confirmation to reissue"), "{}", r.stderr);
    let r = w.both("ada", 0, &["invites", "send", "--limit", "1", "--past-cap"]).await;
    assert_eq!(r.stdout, "bob@example.com\n");
    w.both("ada", 0, &["reissue", "bob@example.com"]).await;
    w.both("ada", 0, &["lookup", "bob@example.com"]).await;
    w.both("ada", 0, &["reissue", "pat@example.com"]).await;
    w.both("ada", 1, &["reissue", "ghost@example.com"]).await;
    w.both("sam", 0, &["lookup", "dan@example.org", "--json"]).await;

    // Mail that gave up: listed, sent again by support.
    let r = w.both("sam", 0, &["mail", "failed"]).await;
    assert!(r.stdout.contains("fay@example.com") && r.stdout.contains("550 mailbox unavailable"), "{}", r.stdout);
    let r = w.both("sam", 0, &["mail", "failed", "--json"]).await;
    let failed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let fay = failed.as_array().unwrap().iter().find(|m| m["recipient"] == "fay@example.com").unwrap();
    let id = fay["id"].as_i64().unwrap().to_string();
    w.both("sam", 1, &["mail", "retry", &failed[0]["id"].as_i64().unwrap().to_string()]).await;
    w.both("sam", 1, &["mail", "retry", "99999"]).await;
    w.both("sam", 2, &["mail", "retry", "--all", "--kind", "fax"]).await;
    let r = w.both("sam", 0, &["mail", "retry", &id]).await;
    assert!(r.stderr.contains("queued 1 message(s) again"), "{}", r.stderr);
    w.both("sam", 1, &["mail", "retry", &id]).await;
    let r = w.both("sam", 0, &["mail", "retry", "--all"]).await;
    assert!(r.stdout.lines().all(|l| l.contains(": skipped, ")), "confirmed since: {}", r.stdout);
    let r = w.both("sam", 0, &["mail", "failed"]).await;
    assert!(!r.stdout.contains("fay@example.com"), "{}", r.stdout);

    // What leaves velvet as a file.
    w.both("sam", 0, &["export"]).await;
    w.both("sam", 0, &["export", "--format", "json"]).await;
    w.both("sam", 0, &["export", "--format", "csv", "--status", "confirmed"]).await;
    w.both("sam", 2, &["export", "--status", "nope"]).await;
    w.both("ada", 0, &["export", "--person", "ann@example.com"]).await;
    w.both("ada", 1, &["export", "--person", "ghost@example.com"]).await;
    let r = w.both("ada", 0, &["report", "--out", "report.html"]).await;
    assert!(r.stderr.starts_with("wrote report.html ("), "{}", r.stderr);
    let page = |world: &World| normalise(&std::fs::read_to_string(world.cwd.path().join("report.html")).unwrap());
    assert_eq!(page(&w.a), page(&w.b), "the same report page");
    w.both("ada", 0, &["report", "--since", "36h", "--out", "two-days.html"]).await;
    w.both("ada", 1, &["report", "--out", "no-such-folder/report.html"]).await;

    // Erasing: typed back on a terminal (none here), or --yes.
    let r = w.both("ada", 2, &["erase", "pat@example.com"]).await;
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    w.both("sam", 1, &["erase", "pat@example.com", "--yes"]).await;
    let r = w.both("ada", 0, &["erase", "pat@example.com", "--yes"]).await;
    assert!(r.stdout.starts_with("erased-"), "{}", r.stdout);
    w.both("ada", 1, &["erase", "pat@example.com", "--yes"]).await;

    // Operators and their tokens.
    w.both("sam", 0, &["operator", "list"]).await;
    w.both("sam", 1, &["operator", "add", "vic", "--role", "viewer"]).await;
    let r = w.both("ada", 0, &["operator", "add", "vic", "--role", "viewer"]).await;
    assert_eq!(r.stderr, "operator vic added as viewer\n");
    w.both("ada", 1, &["operator", "add", "vic", "--role", "viewer"]).await;
    w.both("ada", 2, &["operator", "add", "Vic Smith", "--role", "viewer"]).await;
    let r = w.both("ada", 0, &["operator", "add", "shop", "--role", "product"]).await;
    assert_eq!(r.stderr, "operator shop added as product\n");
    let r = w.both("ada", 0, &["operator", "token", "vic", "--expires", "never", "--note", "vic's laptop"]).await;
    assert!(r.stdout.starts_with("velvet_op_") && r.stdout.lines().count() == 1, "{}", r.stdout);
    w.both("ada", 0, &["operator", "token", "vic", "--expires", "12h"]).await;
    w.both("ada", 1, &["operator", "token", "ghost"]).await;
    w.both("sam", 1, &["operator", "token", "sam"]).await;
    w.both("ada", 0, &["operator", "tokens"]).await;
    w.both("ada", 0, &["operator", "tokens", "--json"]).await;
    w.both("ada", 0, &["operator", "tokens", "vic"]).await;
    w.both("sam", 1, &["operator", "tokens"]).await;
    let r = w.both("ada", 0, &["operator", "revoke-token", "4"]).await;
    assert_eq!(r.stderr, "token 4 of vic revoked: no server accepts it any more\n");
    w.both("ada", 1, &["operator", "revoke-token", "4"]).await;
    w.both("ada", 1, &["operator", "revoke-token", "99"]).await;
    w.both("ada", 0, &["operator", "role", "vic", "support"]).await;
    w.both("ada", 2, &["operator", "role", "vic", "wizard"]).await;
    w.both("ada", 1, &["operator", "role", "ada", "viewer"]).await;
    w.both("sam", 1, &["operator", "role", "vic", "admin"]).await;
    let r = w.both("ada", 0, &["operator", "remove", "vic"]).await;
    assert_eq!(r.stderr, "operator vic removed (1 token revoked); their past events keep the name\n");
    w.both("ada", 1, &["operator", "remove", "vic"]).await;
    w.both("ada", 1, &["operator", "remove", "ada"]).await;
    w.both("ada", 0, &["operator", "list"]).await;
    w.both("ada", 0, &["operator", "tokens"]).await;

    // The trail: everything above, in the same order, by the same names.
    let r = w.both("sam", 0, &["events", "--since", "1d"]).await;
    assert!(r.stdout.lines().count() > 50, "{}", r.stdout);
    w.both("sam", 0, &["events", "--since", "1d", "--json"]).await;
    let r = w.both("sam", 0, &["events", "--kind", "approve", "--since", "1d", "--json"]).await;
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);
    assert!(r.stdout.lines().all(|l| l.contains("\"actor\":\"ada\"")), "{}", r.stdout);
    w.both("sam", 0, &["events", "--kind", "block", "--since", "1d"]).await;
    w.both("sam", 0, &["events", "--entry", "ann@example.com", "--since", "1d"]).await;
    w.both("sam", 0, &["events", "--kind", "signup", "--since", "1s"]).await;
    w.both("sam", 2, &["events", "--kind", "alerts"]).await;
    w.both("sam", 1, &["events", "--entry", "ghost@example.com", "--since", "1d"]).await;

    // The rest of the confirmed, all at once; then nobody is left waiting.
    let r = w.both("ada", 0, &["approve", "--next", "50", "--dry-run"]).await;
    assert!(r.stderr.contains("all the confirmed entries that were waiting"), "{}", r.stderr);
    w.both("ada", 0, &["approve", "--next", "50"]).await;
    let r = w.both("ada", 0, &["approve", "--next", "5"]).await;
    assert_eq!(r.stderr, "no confirmed entries are waiting (asked for 5)\n");
    w.both("ada", 0, &["settings", "set", "auto_approve_domains", "example.com, example.org"]).await;
    w.both("ada", 2, &["settings", "set", "auto_approve_per_day", "lots"]).await;
    w.both("sam", 0, &["settings", "show"]).await;
    w.both("sam", 0, &["export", "--status", "approved", "--format", "json"]).await;

    for world in [w.a, w.b] {
        drop(world.serve);
        if world.tag == "b" {
            world.db.store.close().await;
        }
    }
    fresh.remove().await;
}

/// One world for the tests of contexts themselves: a database with ada
/// (admin) and sam (support), a server, and a token for each.
async fn one_world(db: TestDb, home: &Home) -> (World, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("velvet.toml");
    std::fs::write(&config, QUIET).unwrap();
    db.confirmed("ann@example.com").await;
    db.confirmed("bob@example.com").await;
    let w = start("b", db, &config).await;
    let on_db = |args: &[&str]| {
        let mut all = strings(&["--database-url", &w.db.url]);
        all.extend(strings(args));
        let r = home.run(w.cwd.path(), &all, None);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout.trim().to_string()
    };
    on_db(&["operator", "add", "ada", "--role", "admin"]);
    on_db(&["--as", "ada", "operator", "add", "sam", "--role", "support"]);
    let ada = on_db(&["--as", "ada", "operator", "token", "ada"]);
    let sam = on_db(&["--as", "ada", "operator", "token", "sam"]);
    (w, ada, sam)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn logging_in_keeps_the_token_private_and_contexts_are_listed_switched_and_forgotten(db: TestDb) {
    let home = Home::new();
    let (w, ada, sam) = one_world(db, &home).await;
    let here = home.home.path();
    let run = |args: &[&str]| home.run(here, &strings(args), None);
    let file = home.contexts_file();

    // A wrong token, a malformed one, none: nothing is saved, no folder made.
    let wrong = format!("velvet_op_{}", "2".repeat(32));
    for bad in [wrong.as_str(), "hello"] {
        let r = home.login("prod", &w.admin, bad);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("did not accept the token") && r.stderr.contains(&w.admin), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "one sentence: {}", r.stderr);
        assert!(!r.stderr.contains(bad), "the token is not repeated: {}", r.stderr);
    }
    let r = home.login("prod", &w.admin, "  ");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no token given"), "{}", r.stderr);
    let r = run(&["login", "prod", &w.admin]);
    assert_eq!(r.code, 2, "no terminal to ask on: {}", r.stderr);
    assert!(r.stderr.contains("--token-stdin"), "{}", r.stderr);
    let r = home.login("my prod", &w.admin, &ada);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!home.xdg.path().join("velvet").exists(), "nothing saved, not even the folder");
    let r = run(&["contexts"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert!(r.stderr.contains("no contexts yet"), "{}", r.stderr);

    // The first login: checked with the server, saved 0600 in a 0700 folder;
    // not the current context until `velvet use` makes it so (commands that
    // ran on the local database do not start going to a server unannounced).
    let r = home.login("prod", &w.admin, &ada);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        format!(
            "logged in to {} as ada (admin); saved as context prod in {}; use it with --context prod, or \
             `velvet use prod` to make it the default\n",
            w.admin,
            file.display()
        )
    );
    let r = run(&["contexts"]);
    assert!(r.stdout.starts_with("  prod "), "not current yet: {}", r.stdout);
    // Not current, no database here: said so, and no velvet.db made in this folder.
    let r = run(&["lookup", "ann@example.com"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no current context: pass --context prod") && r.stderr.contains("`velvet use prod`"),
        "{}",
        r.stderr
    );
    assert!(!here.join("velvet.db").exists(), "no database made by a team member's command");
    let r = run(&["use", "prod"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&ada) && text.contains(&w.admin) && text.contains("operator = \"ada\""), "{text}");
    let r = home.login("help", &w.admin, &sam);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.ends_with("; use it with --context help, or `velvet use help` to make it the default\n"),
        "{}",
        r.stderr
    );
    let r = run(&["contexts"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with("  help ") && lines[0].ends_with(" sam (support)"), "{}", r.stdout);
    assert!(lines[1].starts_with("* prod ") && lines[1].ends_with(" ada (admin)"), "{}", r.stdout);
    assert!(lines.iter().all(|l| l.contains(&w.admin)), "{}", r.stdout);
    assert!(!r.stdout.contains("velvet_op_"), "no token listed: {}", r.stdout);

    // A wrong token for a saved context leaves it as it was.
    let before = std::fs::read(&file).unwrap();
    let r = home.login("prod", &w.admin, &wrong);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), before, "nothing saved");

    // With no --context and no database URL, the current context is used;
    // `use` switches it, VELVET_CONTEXT and --context pick one.
    let r = run(&["approve", "--next", "1", "--dry-run"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ann@example.com\n"), "{}", r.stderr);
    let r = run(&["use", "help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "using context help when no --context or --database-url is given\n");
    let r = run(&["approve", "--next", "1"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("operator 'sam' is a support and may not approve entries"), "{}", r.stderr);
    let r =
        home.run_with(here, &strings(&["approve", "--next", "1", "--dry-run"]), None, &[("VELVET_CONTEXT", "prod")]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ann@example.com\n"), "{}", r.stderr);
    let r = run(&["--context", "prod", "approve", "--email", "bob@example.com"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(w.db.texts("SELECT actor FROM events WHERE kind = 'approve'").await, ["ada"], "the token's operator");
    let r = run(&["contexts"]);
    assert!(r.stdout.lines().next().unwrap().starts_with("* help "), "{}", r.stdout);
    let r = run(&["--context", "staging", "lookup", "ann@example.com"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no context named 'staging' (known: help, prod)")
            && r.stderr.contains("velvet login staging URL"),
        "{}",
        r.stderr
    );
    let r = run(&["use", "staging"]);
    assert_eq!(r.code, 2, "{}", r.stderr);

    // A contexts file others can read is refused, naming the fix.
    #[cfg(unix)]
    {
        chmod(&file, 0o644);
        for args in
            [&["contexts"][..], &["--context", "prod", "lookup", "ann@example.com"], &["lookup", "ann@example.com"]]
        {
            let r = run(args);
            assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(&format!("chmod 600 {}", file.display())) && r.stderr.contains("644"),
                "{args:?}: {}",
                r.stderr
            );
            assert_eq!(r.stdout, "");
        }
        let r = home.login("qa", &w.admin, &sam);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
        chmod(&file, 0o600);
    }

    // logout forgets one context (and says its token still works).
    let r = run(&["logout", "help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("forgot context help; its token stays valid until an admin revokes it"),
        "{}",
        r.stderr
    );
    let r = run(&["contexts"]);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("  prod "), "no current one now: {}", r.stdout);
    assert!(!std::fs::read_to_string(&file).unwrap().contains(&sam), "its token is gone from the file");
    let r = run(&["--context", "help", "lookup", "ann@example.com"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no context named 'help' (known: prod)"), "{}", r.stderr);
    let r = run(&["logout", "help"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600, "still private after a rewrite");
}

async fn with_a_context_the_token_says_who_you_are(db: TestDb) {
    let home = Home::new();
    let (w, ada, sam) = one_world(db, &home).await;
    let here = home.home.path();
    let run = |args: &[&str]| home.run(here, &strings(args), None);
    assert_eq!(home.login("prod", &w.admin, &ada).code, 0);
    assert_eq!(home.login("help", &w.admin, &sam).code, 0);
    assert_eq!(run(&["use", "prod"]).code, 0);

    // --as is attribution on a database URL; with a context it is refused, saying why.
    for args in [
        &["--context", "help", "--as", "ada", "approve", "--next", "1"][..],
        &["--as", "ada", "approve", "--next", "1"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("--as (or VELVET_OPERATOR) names the operator on a database URL only")
                && r.stderr.contains("the server knows who you are from your token"),
            "{args:?}: {}",
            r.stderr
        );
    }
    let r = run(&["--context", "help", "--as", "ada", "approve", "--next", "1"]);
    assert!(r.stderr.contains("with context help") && r.stderr.contains("(sam)"), "{}", r.stderr);
    let r = home.run_with(
        here,
        &strings(&["--context", "help", "lookup", "ann@example.com"]),
        None,
        &[("VELVET_OPERATOR", "ada")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("VELVET_OPERATOR"), "{}", r.stderr);
    assert_eq!(w.db.count("SELECT COUNT(*) FROM events WHERE kind = 'approve'").await, 0, "nothing done");

    // A context or a database, not both; the server's own commands need the database.
    let r = run(&["--context", "prod", "--database-url", &w.db.url, "lookup", "ann@example.com"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not both"), "{}", r.stderr);
    // A flag typed on the command line wins over the other one's environment
    // variable (as kubectl's --context does).
    let r = home.run_with(
        here,
        &strings(&["--context", "help", "operator", "tokens"]),
        None,
        &[("VELVET_DATABASE_URL", &w.db.url)],
    );
    assert_eq!(r.code, 1, "over the context: support may not list tokens: {}", r.stderr);
    assert!(r.stderr.contains("'sam' is a support"), "{}", r.stderr);
    for args in [&["--context", "prod", "migrate"][..], &["--context", "prod", "serve"], &["--context", "prod", "seed"]]
    {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("runs next to the database: give it --database-url"), "{args:?}: {}", r.stderr);
    }

    // A role change applies to the token's next call; a revoked token is
    // refused with what to do about it.
    let r = run(&["--context", "prod", "operator", "role", "sam", "admin"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["--context", "help", "approve", "--email", "ann@example.com"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ann@example.com\n"), "{}", r.stderr);
    assert_eq!(w.db.texts("SELECT actor FROM events WHERE kind = 'approve'").await, ["sam"]);
    let r = run(&["--context", "prod", "operator", "revoke-token", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["--context", "help", "lookup", "ann@example.com"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        format!(
            "error: {} (context help) did not accept the token: it is wrong, expired or revoked; ask an admin for a \
             new one (`velvet operator token NAME`) and log in again (`velvet login NAME URL`)\n",
            w.admin
        )
    );

    // `events --follow` over a context: what is committed afterwards, once,
    // until Ctrl-C.
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut follow = std::process::Command::new(env!("CARGO_BIN_EXE_velvet"))
        .args(["--context", "prod", "events", "--follow", "--kind", "approve", "--since", "1d"])
        .env_remove("VELVET_DATABASE_URL")
        .env_remove("VELVET_OPERATOR")
        .env_remove("VELVET_CONTEXT")
        .env("XDG_CONFIG_HOME", home.xdg.path())
        .env("HOME", here)
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = || std::fs::read_to_string(out.path()).unwrap_or_default();
    common::until("the approval so far", Duration::from_secs(20), || async { lines().lines().count() == 1 }).await;
    let r = run(&["--context", "prod", "approve", "--email", "bob@example.com"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    common::until("the new approval", Duration::from_secs(20), || async { lines().lines().count() == 2 }).await;
    assert!(lines().lines().nth(1).unwrap().contains("by ada"), "{}", lines());
    let _ = std::process::Command::new("kill").args(["-INT", &follow.id().to_string()]).status();
    assert!(follow.wait().unwrap().success(), "Ctrl-C ends --follow cleanly");
    assert_eq!(lines().lines().count(), 2, "each event once: {}", lines());
    drop(w.serve);
}

/// A stand-in for a server at `ip`: `whoami` says ada (admin), every
/// other call fails with a 500; plain HTTP only. Counts connections.
fn fake_server(ip: std::net::IpAddr) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 65_536 {
                match s.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
                if head.first() == Some(&0x16) {
                    break; // a TLS hello: this server speaks plain HTTP only
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0usize);
            let mut body = vec![0u8; length];
            let _ = s.read_exact(&mut body);
            let (status, answer) = if head.starts_with("GET /v1/admin/whoami") {
                ("200 OK", r#"{"operator":"ada","role":"admin"}"#)
            } else {
                ("500 Internal Server Error", r#"{"error":"internal","message":"Something went wrong on our side."}"#)
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (addr, connections)
}

/// This machine's address on its network (not loopback), if it has one.
fn network_address() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?; // a route lookup only: UDP sends nothing here
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

async fn a_server_out_of_reach_or_failing_is_one_sentence_naming_it(db: TestDb) {
    let home = Home::new();
    let (w, ada, _) = one_world(db, &home).await;
    let here = home.home.path();
    let run = |args: &[&str]| home.run(here, &strings(args), None);

    // Plain http to another machine is refused before anything is sent,
    // unless --insecure-http says the network is private.
    match network_address() {
        Some(ip) => {
            let (addr, connections) = fake_server(ip);
            let url = format!("http://{addr}");
            let r = home.login("lan", &url, &ada);
            assert_eq!(r.code, 2, "{}", r.stderr);
            assert!(
                r.stderr.contains(&format!("{url} is plain http to another machine"))
                    && r.stderr.contains("clear text")
                    && r.stderr.contains("--insecure-http"),
                "{}",
                r.stderr
            );
            assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was sent");
            assert!(!home.contexts_file().exists());
            let r = home.run(here, &strings(&["login", "lan", &url, "--token-stdin", "--insecure-http"]), Some(&ada));
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1, "whoami, once");
            assert!(std::fs::read_to_string(home.contexts_file()).unwrap().contains("insecure_http = true"));
            // A 5xx: one sentence naming the server, exit 1.
            let r = run(&["--context", "lan", "lookup", "ann@example.com"]);
            assert_eq!(r.code, 1, "{}", r.stderr);
            assert_eq!(
                r.stderr,
                format!(
                    "error: {url} (context lan) failed (500: Something went wrong on our side.); this call changed \
                     nothing, and the server's log says why\n"
                )
            );
            assert_eq!(r.stdout, "");
            // TLS to a server that speaks none.
            let https = format!("https://127.0.0.1:{}", fake_server("127.0.0.1".parse().unwrap()).0.port());
            let r = home.login("tls", &https, &ada);
            assert_eq!(r.code, 1, "{}", r.stderr);
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            assert!(r.stderr.contains(&https) && r.stderr.contains("the TLS connection failed"), "{}", r.stderr);
            assert!(run(&["logout", "lan"]).code == 0);
        }
        None => eprintln!("notice: this machine has no network address; skipping the plain-http checks"),
    }

    // A server out of reach: at login (nothing saved), and for a saved context.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let r = home.login("gone", &gone, &ada);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.starts_with(&format!("error: cannot reach {gone} (context gone)")), "{}", r.stderr);
    assert!(!home.contexts_file().exists() || !std::fs::read_to_string(home.contexts_file()).unwrap().contains("gone"));
    assert_eq!(home.login("prod", &w.admin, &ada).code, 0);
    assert_eq!(run(&["use", "prod"]).code, 0);
    let mut serve = w.serve;
    serve.kill();
    for args in [&["--context", "prod", "lookup", "ann@example.com"][..], &["approve", "--next", "1"], &["console"]] {
        let r = run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{args:?}");
        assert_eq!(r.stderr.lines().count(), 1, "one sentence: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!("error: cannot reach {} (context prod) (", w.admin))
                && r.stderr.trim_end().ends_with(
                    "check that `velvet serve --admin-listen …` runs there and that the URL in `velvet contexts` is right"
                ),
            "{args:?}: {}",
            r.stderr
        );
    }
}
