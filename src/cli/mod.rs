//! The `velvet` command line: parse, call the service, print the answer.
//! Exit codes: 0 ok, 1 failure, 2 usage (bad flags or malformed input).

mod args;
mod commands;
mod demo;
mod render;
pub mod report_page;

pub use args::Cli;

use crate::config::{Config, DEFAULT_CONFIG_FILE, DEFAULT_DATABASE_URL};
use crate::domain::SystemClock;
use crate::service::{Actor, Error, Velvet};
use crate::store::Store;
use clap::Parser;
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
    pub velvet: Velvet,
    pub acting_as: Option<String>,
    pub config: Config,
}

impl Ctx {
    /// The operator this invocation acts as, resolved against the database.
    pub async fn actor(&self) -> CliResult<Actor> {
        let name = self
            .acting_as
            .as_deref()
            .ok_or_else(|| CliError::usage("no operator given: pass --as NAME or set VELVET_OPERATOR"))?;
        Ok(self.velvet.operator(name).await?)
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.quiet => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(if e.usage { 2 } else { 1 })
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    let (config_path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    let config = Config::load(&config_path, explicit).map_err(|e| CliError::usage(e.to_string()))?;
    let url =
        cli.database_url.clone().or(config.database_url.clone()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    let acting_as = cli
        .acting_as
        .clone()
        .or(config.operator.clone())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()));
    let store = Store::open(&url).await?;
    let ctx = Ctx { velvet: Velvet::new(store.clone(), Arc::new(SystemClock)), acting_as, config };
    let result = commands::dispatch(&ctx, cli.command).await;
    store.close().await;
    result
}
