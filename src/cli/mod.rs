//! The `velvet` command line: parse, call the service, print the answer.
//! Exit codes: 0 ok, 1 failure, 2 usage (bad flags or malformed input).

mod args;
mod commands;
pub mod contexts;
mod demo;
mod render;
pub mod report_page;

pub use args::Cli;

use crate::config::{Config, DEFAULT_CONFIG_FILE, DEFAULT_DATABASE_URL};
use crate::domain::SystemClock;
use crate::ops::{Ops, Remote};
use crate::service::{Actor, Error, Velvet};
use crate::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// A failure as the CLI reports it: the message names the problem and the fix.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub usage: bool,
    /// Nothing to report (the reader closed the pipe).
    pub quiet: bool,
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let usage = matches!(e, Error::InvalidEmail(_) | Error::InvalidCode(_) | Error::InvalidInput(_));
        CliError { message: e.to_string(), usage, quiet: false }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError { message: e.to_string(), usage: false, quiet: false }
    }
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError { message: message.into(), usage: true, quiet: false }
    }
    pub fn failure(message: impl Into<String>) -> CliError {
        CliError { message: message.into(), usage: false, quiet: false }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// What every command has at hand.
pub struct Ctx {
    pub target: Target,
    pub acting_as: Option<String>,
    pub config: Config,
}

/// Where an invocation's data is: a database it opened, or a server it
/// logged in to (a context).
pub enum Target {
    Database(Velvet),
    Context { name: String, context: contexts::Context },
}

impl Ctx {
    /// The service, when this runs on a database URL.
    pub fn local_velvet(&self) -> Option<&Velvet> {
        match &self.target {
            Target::Database(v) => Some(v),
            Target::Context { .. } => None,
        }
    }

    /// The service, for the commands that run next to the database.
    pub fn velvet(&self, command: &str) -> CliResult<&Velvet> {
        self.local_velvet().ok_or_else(|| {
            CliError::usage(format!(
                "`velvet {command}` runs next to the database: give it --database-url, not a context"
            ))
        })
    }

    /// The operator this invocation acts as on a database URL, resolved
    /// against the database (`--as` names it: attribution, not authentication).
    pub async fn actor(&self) -> CliResult<Actor> {
        let name = self
            .acting_as
            .as_deref()
            .ok_or_else(|| CliError::usage("no operator given: pass --as NAME or set VELVET_OPERATOR"))?;
        Ok(self.velvet("this")?.operator(name).await?)
    }

    /// The operator's way in: the service as `--as`, or the context's
    /// server as its token's operator (asked who that is first, so a wrong
    /// token or a server out of reach stops the command before it starts).
    pub async fn ops(&self) -> CliResult<Ops> {
        match &self.target {
            Target::Database(v) => Ok(Ops::local(v.clone(), self.actor().await?)),
            Target::Context { name, context } => {
                let remote = Remote::connect(Some(name), &context.url, &context.token, context.insecure_http).await?;
                Ok(Ops::Remote(Arc::new(remote)))
            }
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let parsed = Cli::command().try_get_matches().and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // A flag on the command line wins over the other one's environment variable.
    let typed = |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let flags = Typed { database_url: typed("database_url"), context: typed("context") };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli, flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.quiet => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(if e.usage { 2 } else { 1 })
        }
    }
}

/// Someone who works on servers (saved contexts, none current) and runs an
/// operator command with no database here would otherwise get a fresh
/// `velvet.db` made in this folder and "there are no operators yet": say
/// what they meant instead, and make nothing.
fn no_default_database_for_a_team_member() -> CliResult {
    let local = DEFAULT_DATABASE_URL.trim_start_matches("sqlite://");
    if std::path::Path::new(local).exists() {
        return Ok(());
    }
    let Ok(saved) = contexts::Contexts::load() else { return Ok(()) };
    if saved.contexts.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = saved.contexts.keys().map(String::as_str).collect();
    let first = names[0];
    Err(CliError::usage(format!(
        "no database here ({local}) and no current context: pass --context {first} (yours: {}), or make one the \
         default with `velvet use {first}`; for a local database give --database-url",
        names.join(", ")
    )))
}

/// Which of the two places was typed on the command line (rather than
/// taken from the environment).
#[derive(Clone, Copy)]
struct Typed {
    database_url: bool,
    context: bool,
}

async fn run(cli: Cli, typed: Typed) -> CliResult {
    let (config_path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    let config = Config::load(&config_path, explicit).map_err(|e| CliError::usage(e.to_string()))?;
    if let Some(done) = commands::contexts_command(&cli.command).await {
        return done;
    }
    if typed.context && typed.database_url {
        return Err(CliError::usage("give --context or --database-url, not both"));
    }
    // Where this runs, first match wins: --context, --database-url (typed);
    // VELVET_CONTEXT; VELVET_DATABASE_URL or the config's database_url; the
    // current context (`velvet use`); sqlite://velvet.db. Commands that run
    // beside the database never take a context.
    let runs_here = commands::runs_next_to_the_database(&cli.command);
    if runs_here && typed.context {
        return Err(CliError::usage(
            "this command runs next to the database: give it --database-url, not --context".to_string(),
        ));
    }
    let database_url = cli.database_url.clone().or(config.database_url.clone());
    let use_context =
        !runs_here && !typed.database_url && (typed.context || cli.context.is_some() || database_url.is_none());
    let context = if use_context {
        let contexts = contexts::Contexts::load().map_err(CliError::failure)?;
        contexts.pick(cli.context.as_deref()).map_err(CliError::usage)?
    } else {
        None
    };
    if let Some((name, context)) = context {
        if cli.acting_as.is_some() {
            return Err(CliError::usage(format!(
                "--as (or VELVET_OPERATOR) names the operator on a database URL only; with context {name} the \
                 server knows who you are from your token{}: drop --as, or log in with another operator's token",
                context.operator.as_deref().map(|o| format!(" ({o})")).unwrap_or_default()
            )));
        }
        let ctx = Ctx { target: Target::Context { name, context }, acting_as: None, config };
        return commands::dispatch(&ctx, cli.command).await;
    }
    if database_url.is_none() && !runs_here {
        no_default_database_for_a_team_member()?;
    }
    let url = database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    let acting_as = cli
        .acting_as
        .clone()
        .or(config.operator.clone())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()));
    let store = Store::open(&url).await?;
    let ctx = Ctx { target: Target::Database(Velvet::new(store.clone(), Arc::new(SystemClock))), acting_as, config };
    let result = commands::dispatch(&ctx, cli.command).await;
    store.close().await;
    result
}
