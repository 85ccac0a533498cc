//! The storage seam: one `Store` over SQLite (embedded default) or
//! PostgreSQL (shared deployment), chosen by the URL.
//!
//! Every query is written once and run on the backend's own connection
//! through [`on!`], so each arm is type-checked against its backend. SQL
//! that genuinely differs sits side by side in the same function. Writing
//! transactions on SQLite begin with `BEGIN IMMEDIATE`, so concurrent
//! writers queue on the lock instead of failing at their first write.

mod alerts;
mod bulk;
mod code_tree;
mod codes;
mod entries;
mod erase;
mod events;
mod feed;
mod limits;
mod live;
mod operator_tokens;
mod operators;
mod outbox;
mod switches;
mod tokens;

pub use alerts::{ACTIVE_ALERTS, ActiveAlertRow};
pub use bulk::{SeedCode, SeedEntry};
pub use code_tree::{
    CODE_TREE_JOINED, CODE_TREE_TOTALS, CodeBranch, CodeGroup, TreeBatch, TreeJoinedRow, TreeTotalsRow, branch_page_sql,
};
pub use codes::{CodeRow, EXPIRED_UNUSED, NewCode, RedemptionRow, code_set_sql};
pub use entries::{COUNT_CONFIRMED_UPTO, EntryRow, LISTED_NEWEST, ListedEntry, MatchOn, NewEntry, StatusStamps};
pub use events::{
    ENTRY_TIMELINE, EVENTS_BEFORE, EventFilter, EventPage, EventRow, HISTORY_SCAN, HISTORY_WORDS, NewEvent, TrailQuery,
};
pub use feed::{EventFeed, FeedState};
pub use live::{LiveHour, MinuteCount, OffenderCount};
pub use operator_tokens::{NewOperatorToken, OperatorTokenRow, TokenHolderRow};
pub use operators::OperatorRow;
pub use outbox::{INTERRUPTED, NewMail, OutboxRow};
pub use tokens::TokenRow;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL '{0}': use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database holds a value velvet does not understand: {0}")]
    Corrupt(String),
    #[error("that already exists: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
            _ => StoreError::Db(e),
        }
    }
}

/// `text` as a literal inside a LIKE pattern written with `ESCAPE '\\'`:
/// `\\`, `%` and `_` escaped, so an address with an underscore matches
/// only itself.
pub fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl StoreError {
    /// The database could not be reached or is restarting, or (SQLite) is
    /// locked past the busy timeout: nothing about the request was wrong,
    /// and trying again in a few seconds is the cure.
    pub fn is_unavailable(&self) -> bool {
        let e = match self {
            StoreError::Db(e) | StoreError::Connect { source: e, .. } => e,
            _ => return false,
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                match code.parse::<i32>() {
                    // SQLite reports extended codes: BUSY (5) and LOCKED (6)
                    // with their variants (BUSY_SNAPSHOT 517, ...).
                    Ok(n) => matches!(n & 0xff, 5 | 6),
                    // PostgreSQL: 08xxx connection exceptions; 57P01..57P03
                    // shutting down or starting up; 53300 too many
                    // connections; 40001/40P01 serialization failure and
                    // deadlock (the transaction was rolled back whole).
                    Err(_) => {
                        code.starts_with("08")
                            || code.starts_with("57P0")
                            || matches!(code.as_ref(), "53300" | "40001" | "40P01")
                    }
                }
            }
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One transaction on either backend. Dropping it without `commit` rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same query expression on whichever backend `$tx` holds.
macro_rules! on {
    // The same statement, spelled per backend (a lock clause only
    // PostgreSQL needs): `$sql` is the one for the transaction's backend.
    ($tx:expr, sqlite = $sqlite:expr, postgres = $postgres:expr, |$sql:ident, $conn:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let ($sql, $conn) = ($sqlite, &mut **t);
                $body.await
            }
            $crate::store::Tx::Postgres(t) => {
                let ($sql, $conn) = ($postgres, &mut **t);
                $body.await
            }
        }
    };
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body.await
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body.await
            }
        }
    };
}
pub(crate) use on;

/// Like [`on!`] for statements run with `execute`: yields the rows affected.
macro_rules! exec {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body.await.map(|r| r.rows_affected())
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body.await.map(|r| r.rows_affected())
            }
        }
    };
}
pub(crate) use exec;

/// A database URL with any password replaced, safe to print.
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        if let (Some(scheme_end), Some(at)) = (url.find("://"), url.rfind('@')) {
            let creds = &url[scheme_end + 3..at];
            if let Some(colon) = creds.find(':') {
                return write!(f, "{}{}:***{}", &url[..scheme_end + 3], &creds[..colon], &url[at..]);
            }
        }
        f.write_str(url)
    }
}

impl Store {
    /// Opens the database named by `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating (for `velvet migrate` to report what it does).
    pub async fn connect(url: &str) -> Result<Store> {
        let connect_err = |source| StoreError::Connect { url: Redacted(url).to_string(), source };
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).map_err(connect_err)?;
            // One direct attempt first: a wrong host or password fails at
            // once instead of after the pool's retry window.
            opts.connect().await.map_err(connect_err)?.close().await.map_err(connect_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Store::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(Redacted(url).to_string()))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Store::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Migrations this binary knows, and how many the database has applied.
    pub async fn migration_status(&self) -> Result<(usize, i64)> {
        let known = match self {
            Store::Sqlite(_) => SQLITE_MIGRATIONS.iter().count(),
            Store::Postgres(_) => POSTGRES_MIGRATIONS.iter().count(),
        };
        let sql = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
        let applied = match self {
            Store::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
            Store::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
        };
        Ok((known, applied.unwrap_or(0)))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// A transaction that will write. On SQLite it takes the write lock now.
    pub async fn write(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Store::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A read-only snapshot (a plain deferred transaction).
    pub async fn read(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Store::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        match self {
            Store::Sqlite(p) => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(p).await?,
            Store::Postgres(p) => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(p).await?,
        };
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(p) => p.close().await,
            Store::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    /// How the database would run `sql` (its `$N` bound to `binds`), as
    /// text naming the indexes used: SQLite's `EXPLAIN QUERY PLAN`,
    /// PostgreSQL's `EXPLAIN` with sequential scans priced out, so that a
    /// query which can use an index shows it even on a small table.
    pub async fn query_plan(&mut self, sql: &str, binds: &[i64]) -> Result<String> {
        match self {
            Tx::Sqlite(t) => {
                let text = format!("EXPLAIN QUERY PLAN {sql}");
                let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(text));
                for b in binds {
                    q = q.bind(*b);
                }
                let rows = q.fetch_all(&mut **t).await?;
                Ok(rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n"))
            }
            Tx::Postgres(t) => {
                sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut **t).await?;
                let text = format!("EXPLAIN {sql}");
                let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(text));
                for b in binds {
                    q = q.bind(*b);
                }
                Ok(q.fetch_all(&mut **t).await?.join("\n"))
            }
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Serializes writers of one kind across processes for the rest of this
    /// transaction (the daily-cap pacer, approvals). SQLite's IMMEDIATE
    /// transaction already holds the only write lock.
    pub async fn lock(&mut self, key: i64) -> Result<()> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut **t).await?;
        }
        Ok(())
    }
}

/// Keys for [`Tx::lock`].
pub const LOCK_PACER: i64 = 0x7665_6c76_0001;
/// The invite sweeper (reminders, expiry): one at a time across servers.
pub const LOCK_INVITE_SWEEP: i64 = 0x7665_6c76_0002;
/// Operator management (roles, removal): the last-admin check and the
/// change it guards happen under one lock, so two admins demoting each
/// other at once cannot leave none.
pub const LOCK_OPERATORS: i64 = 0x7665_6c76_0003;
