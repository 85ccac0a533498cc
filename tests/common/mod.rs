//! Test harness: every test runs on a fresh database, on SQLite always and
//! on PostgreSQL when VELVET_TEST_POSTGRES_URL is set (a notice otherwise).
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use std::future::Future;
use std::sync::Arc;
use velvet::domain::{ManualClock, Role};
use velvet::service::{Actor, OutgoingMail, RequestMeta, Velvet};
use velvet::store::Store;

pub mod server;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct TestDb {
    pub url: String,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub velvet: Velvet,
}

enum Cleanup {
    Dir(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

const PG_ENV: &str = "VELVET_TEST_POSTGRES_URL";

/// The secret test servers on PostgreSQL share (it must be configured
/// there; on SQLite the key file beside the database is used).
pub const TEST_SECRET: &str = "velvet-test-secret-0123456789";

/// Generates `sqlite` and `postgres` tests in a module named after each
/// listed test function (an `async fn(TestDb)`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $crate::common::run($crate::common::Backend::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $crate::common::run($crate::common::Backend::Postgres, super::$name).await
            }
        }
    )*};
}

pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((db, cleanup)) = fresh(backend).await else { return };
    let store = db.store.clone();
    test(db).await;
    store.close().await;
    cleanup.remove().await;
}

/// A fresh, empty database: where it is, and how to remove it.
pub struct FreshDatabase {
    pub url: String,
    cleanup: Cleanup,
}

impl FreshDatabase {
    /// A temp-file SQLite database, or a new database on the PostgreSQL
    /// server of VELVET_TEST_POSTGRES_URL (`None`, with a notice, when unset).
    pub async fn new(backend: Backend) -> Option<FreshDatabase> {
        let (url, cleanup) = fresh_url(backend).await?;
        Some(FreshDatabase { url, cleanup })
    }

    pub async fn remove(self) {
        self.cleanup.remove().await
    }
}

impl Cleanup {
    async fn remove(self) {
        if let Cleanup::Postgres { admin_url, name } = self
            && let Ok(admin) = Store::connect(&admin_url).await
        {
            if let Store::Postgres(pool) = &admin {
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await;
            }
            admin.close().await;
        }
    }
}

async fn fresh(backend: Backend) -> Option<(TestDb, Cleanup)> {
    let (url, cleanup) = fresh_url(backend).await?;
    let store = Store::open(&url).await.expect("open and migrate the test database");
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()));
    let velvet = Velvet::new(store.clone(), clock.clone());
    Some((TestDb { url, store, clock, velvet }, cleanup))
}

async fn fresh_url(backend: Backend) -> Option<(String, Cleanup)> {
    Some(match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("velvet.db").display());
            (url, Cleanup::Dir(dir))
        }
        Backend::Postgres => {
            let Some(admin_url) = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty()) else {
                eprintln!("notice: {PG_ENV} is not set; skipping the PostgreSQL run of this test");
                return None;
            };
            let name = format!("velvet_t_{}", random_suffix());
            let admin = Store::connect(&admin_url).await.expect("connect to the PostgreSQL test server");
            if let Store::Postgres(pool) = &admin {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(pool)
                    .await
                    .expect("create test database");
            }
            admin.close().await;
            (database_url(&admin_url, &name), Cleanup::Postgres { admin_url, name })
        }
    })
}

/// The same server URL with another database name.
fn database_url(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((url, None));
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("random bytes");
    velvet::domain::hex::hex(&b)
}

impl TestDb {
    /// Creates operator `name` (bootstrapping an admin first if needed).
    pub async fn operator(&self, name: &str, role: Role) -> Actor {
        if self.velvet.operator("root").await.is_err() {
            self.velvet.add_operator("root", "root", Role::Admin).await.unwrap();
        }
        if name != "root" {
            self.velvet.add_operator("root", name, role).await.unwrap();
        }
        self.velvet.operator(name).await.unwrap()
    }

    /// One fresh partner code of `campaign` with `max_uses` uses, issued
    /// by the admin: its plaintext, as it would be handed out.
    pub async fn partner_code(&self, campaign: &str, max_uses: i64) -> String {
        let admin = self.admin().await;
        self.velvet.issue_partner_codes(&admin, &partner(campaign, max_uses, 1)).await.unwrap().codes[0].to_string()
    }

    pub async fn admin(&self) -> Actor {
        self.operator("root", Role::Admin).await
    }

    /// Delivers every due message, as a dispatcher would.
    pub async fn deliver(&self) -> Vec<OutgoingMail> {
        let mut all = Vec::new();
        loop {
            let batch = self.velvet.claim_mail("https://beta.example", 500).await.unwrap();
            if batch.is_empty() {
                return all;
            }
            for m in &batch {
                self.velvet.mail_sent(m.outbox_id).await.unwrap();
            }
            all.extend(batch);
        }
    }

    /// Signs up and confirms `email`; returns its entry id. The token is
    /// minted here rather than read from the outbox, so a running server's
    /// dispatcher taking the mail first cannot race the test.
    pub async fn confirmed(&self, email: &str) -> i64 {
        let entry_id = match self.velvet.signup(email, None, None, &meta()).await.unwrap() {
            velvet::service::SignupOutcome::New { entry_id }
            | velvet::service::SignupOutcome::Repeat { entry_id, .. } => entry_id,
        };
        let token = velvet::domain::token::ConfirmToken::generate();
        let now = self.velvet.now();
        let mut tx = self.store.write().await.unwrap();
        tx.insert_token(entry_id, &token.hash(), now, now + chrono::Duration::hours(48)).await.unwrap();
        tx.commit().await.unwrap();
        match self.velvet.confirm(token.as_str(), &meta()).await.unwrap() {
            velvet::service::ConfirmOutcome::Confirmed { entry_id, .. } => entry_id,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        match &self.store {
            Store::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap(),
            Store::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// The integer column of a one-column query, its `$N` bound to `binds`.
    pub async fn ints(&self, sql: &'static str, binds: &[i64]) -> Vec<i64> {
        match &self.store {
            Store::Sqlite(p) => {
                let mut q = sqlx::query_scalar(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(p).await.unwrap()
            }
            Store::Postgres(p) => {
                let mut q = sqlx::query_scalar(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(p).await.unwrap()
            }
        }
    }

    /// The text column of a one-column query (NULLs skipped).
    pub async fn texts(&self, sql: &'static str) -> Vec<String> {
        let rows: Vec<Option<String>> = match &self.store {
            Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
            Store::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        };
        rows.into_iter().flatten().collect()
    }

    /// Pairs of timestamps from a two-column query.
    pub async fn rows_of_times(&self, sql: &'static str) -> Vec<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)> {
        match &self.store {
            Store::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
            Store::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        }
    }

    pub async fn events_total(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM events").await
    }
}

pub fn meta() -> RequestMeta {
    RequestMeta { ip_prefix: Some("203.0.113.0/24".into()), ..Default::default() }
}

/// A partner code spec for tests: `count` codes of `max_uses` uses in
/// `campaign`, valid 14 days, no daily cap or prefix.
pub fn partner(campaign: &str, max_uses: i64, count: u32) -> velvet::service::PartnerCodeSpec {
    velvet::service::PartnerCodeSpec {
        campaign: campaign.into(),
        max_uses,
        count,
        expires_in: chrono::Duration::days(14),
        daily_cap: None,
        prefix: None,
    }
}

/// The confirmation token in the newest confirmation mail to `email`.
pub fn token_for(mail: &[OutgoingMail], email: &str) -> Option<String> {
    mail.iter().rev().filter(|m| m.to == email && m.kind == "confirm").find_map(|m| {
        m.body.split("/v1/confirm/").nth(1).map(|t| t.split_whitespace().next().unwrap_or("").to_string())
    })
}

/// The invite code in the newest invite or referral mail to `email`.
pub fn code_for(mail: &[OutgoingMail], email: &str, kind: &str) -> Option<String> {
    mail.iter()
        .rev()
        .filter(|m| m.to == email && m.kind == kind)
        .find_map(|m| m.body.lines().find_map(|l| l.strip_prefix("Invite code: ").map(str::to_string)))
}

/// The built `velvet` binary on the database at `db_url`, with no config
/// file from the environment; callers add the operator and arguments.
pub fn velvet_cli(db_url: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_velvet"));
    command.env("VELVET_DATABASE_URL", db_url).env_remove("VELVET_CONFIG");
    command
}

/// What one run of the binary printed, and how it ended.
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `velvet ARGS` on `db` from a fresh shell's point of view: no
/// operator in the environment, a `$USER` that is nobody's, a neutral folder.
pub fn velvet(db: &TestDb, args: &[&str]) -> CliRun {
    let out = velvet_cli(&db.url)
        .args(args)
        .env_remove("VELVET_OPERATOR")
        .env("USER", "nobody-in-particular")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run the velvet binary");
    CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A child process killed (and reaped) when dropped, so a failing test
/// leaves no server behind.
pub struct Killed(pub std::process::Child);

impl Killed {
    /// SIGKILL now, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the built `velvet serve` on a free loopback port against
/// `db_url`, with `config` and `mail` (a transport spec), logging at
/// `log_level` (`None`: the default level) to `stderr`. Returns the child
/// and its base URL, read from the line it prints when it listens.
pub fn spawn_serve(
    db_url: &str,
    config: &std::path::Path,
    mail: &str,
    log_level: Option<&str>,
    stderr: std::process::Stdio,
) -> (Killed, String) {
    let (child, line) = spawn_serve_with(db_url, config, mail, log_level, stderr, &[], None);
    (child, url_after(&line, "listening on http://"))
}

/// `spawn_serve` with the admin API on a listener of its own
/// (`--admin-listen 127.0.0.1:0`), logging warnings, with the test secret
/// on either backend (two servers on two databases hash devices alike):
/// the child, the public base URL and the admin base URL, both read from
/// the line it prints when it listens.
pub fn spawn_admin_serve(
    db_url: &str,
    config: &std::path::Path,
    mail: &str,
    stderr: std::process::Stdio,
) -> (Killed, String, String) {
    let admin = ["--admin-listen", "127.0.0.1:0"];
    let (child, line) = spawn_serve_with(db_url, config, mail, Some("warn"), stderr, &admin, Some(TEST_SECRET));
    let public = url_after(&line, "listening on http://");
    let admin = url_after(&line, "admin API and /metrics on http://");
    (child, public, admin)
}

fn spawn_serve_with(
    db_url: &str,
    config: &std::path::Path,
    mail: &str,
    log_level: Option<&str>,
    stderr: std::process::Stdio,
    extra: &[&str],
    secret: Option<&str>,
) -> (Killed, String) {
    use std::io::BufRead;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_velvet"));
    command
        .args(["--config", config.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--mail", mail])
        .args(extra)
        .env("VELVET_DATABASE_URL", db_url)
        .stdout(std::process::Stdio::piped())
        .stderr(stderr);
    match secret.or(db_url.starts_with("postgres").then_some(TEST_SECRET)) {
        Some(secret) => command.env("VELVET_SECRET", secret),
        None => command.env_remove("VELVET_SECRET"),
    };
    match log_level {
        Some(level) => command.env("VELVET_LOG", level),
        None => command.env_remove("VELVET_LOG").env_remove("RUST_LOG"),
    };
    let mut child = command.spawn().expect("start velvet serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the listening line");
    (Killed(child), line)
}

/// `http://ADDR` for the address that follows `marker` in `line`.
fn url_after(line: &str, marker: &str) -> String {
    let addr = line
        .split(marker)
        .nth(1)
        .and_then(|r| r.split(|c: char| c.is_whitespace() || c == ')' || c == ';').next())
        .unwrap_or_else(|| panic!("no address after {marker:?} in {line:?}"));
    format!("http://{addr}")
}

/// Plays a dispatcher whose every delivery of `kind` fails with `error`
/// (other kinds go out), the clock moving to each next try, until nothing
/// is queued. Returns the failed attempts, as rendered (with their codes).
pub async fn fail_until_given_up(db: &TestDb, kind: &str, error: &str) -> Vec<OutgoingMail> {
    let mut tried = Vec::new();
    loop {
        let batch = db.velvet.claim_mail("https://beta.example", 500).await.unwrap();
        for m in &batch {
            if m.kind == kind {
                db.velvet.mail_failed(m, error).await.unwrap();
            } else {
                db.velvet.mail_sent(m.outbox_id).await.unwrap();
            }
        }
        tried.extend(batch.into_iter().filter(|m| m.kind == kind));
        if db.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'").await == 0 {
            return tried;
        }
        let next: Vec<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)> = db
            .rows_of_times("SELECT MIN(next_attempt_at), MIN(next_attempt_at) FROM outbox WHERE status = 'queued'")
            .await;
        let wait = next[0].0 - db.velvet.now();
        if wait > chrono::Duration::zero() {
            db.clock.advance(wait);
        }
    }
}

/// Polls `check` (every 20 ms) until it gives `Some`, and returns that;
/// fails the test naming `what` when `limit` passes first. The one way the
/// tests wait for something another task or process does.
pub async fn eventually<T, F, Fut>(what: &str, limit: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting ({limit:?}): {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `eventually` for a yes/no condition.
pub async fn until<F, Fut>(what: &str, limit: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually(what, limit, || {
        let done = check();
        async move { done.await.then_some(()) }
    })
    .await
}
