//! One function per command: call the service, print the answer.
//! Data goes to stdout, commentary to stderr, so scripts can capture.

use super::args::{
    CodesCommand, Command, Format, InvitesCommand, MailCommand, OperatorCommand, PauseArgs, PauseWhat, SettingsCommand,
};
use super::render;
use super::{CliError, CliResult, Ctx};
use crate::domain::{CodeRef, CodeSet, Role, Switch};
use crate::ops::calls::{self as call, ApproveWho};
use crate::service::{BlockSelector, ExportRow, MailRetry, PartnerCodeSpec};
use chrono::Duration;
use std::io::Write;

mod admin;
mod codes;
mod export;
mod login;
mod mail;
mod people;
mod server;
mod trail;

/// The commands about contexts, which open no database: their result, or
/// `None` for every other command.
pub async fn contexts_command(command: &Command) -> Option<CliResult> {
    Some(match command {
        Command::Login { name, url, token_stdin, insecure_http } => {
            login::login(name, url, *token_stdin, *insecure_http).await
        }
        Command::Contexts => login::list(),
        Command::Logout { name } => login::logout(name),
        Command::Use { name } => login::use_context(name),
        _ => return None,
    })
}

/// Commands that run beside the database (or make their own): never over a context.
pub fn runs_next_to_the_database(command: &Command) -> bool {
    matches!(
        command,
        Command::Serve { .. }
            | Command::Migrate { .. }
            | Command::Seed { .. }
            | Command::Demo { .. }
            | Command::Simulate { .. }
    )
}

pub async fn dispatch(ctx: &Ctx, command: Command) -> CliResult {
    match command {
        Command::Serve { listen, admin_listen, mail, public_url, metrics } => {
            server::serve(ctx, listen, admin_listen, mail, public_url, metrics).await
        }
        c @ (Command::Login { .. } | Command::Contexts | Command::Logout { .. } | Command::Use { .. }) => {
            contexts_command(&c).await.unwrap_or(Ok(()))
        }
        Command::Migrate { forget_secret } => server::migrate(ctx, forget_secret).await,
        Command::Demo { keep, seed, size } => super::demo::run(ctx, keep, seed, size).await,
        Command::Simulate { scenario, target, rate, duration, code, mail_dir, seed, allow_remote } => {
            server::simulate(scenario, target, rate, duration, code, mail_dir, seed, allow_remote).await
        }
        Command::Report { since, out } => export::report(ctx, since, out).await,
        Command::Console => server::console(ctx).await,
        Command::Seed { size, seed, extra_events } => server::seed(ctx, size, seed, extra_events).await,
        Command::Lookup { email, json } => people::lookup(ctx, &email, json).await,
        Command::Approve { next, email, dry_run } => people::approve(ctx, next, email, dry_run).await,
        Command::Codes(c) => codes::codes(ctx, c).await,
        Command::Pause(p) => codes::pause(ctx, p, true).await,
        Command::Resume(p) => codes::pause(ctx, p, false).await,
        Command::Block { email, domain, prefix, source, status, dry_run, reason } => {
            people::block(ctx, email, domain, prefix, source, status, dry_run, reason).await
        }
        Command::Unblock { email, batch, reason } => people::unblock(ctx, email, batch, reason).await,
        Command::ChangeEmail { old, new } => people::change_email(ctx, old, new).await,
        Command::Reissue { email } => people::reissue(ctx, email).await,
        Command::Invites(InvitesCommand::Send { limit, past_cap }) => people::send_invites(ctx, limit, past_cap).await,
        Command::Events { kind, since, entry, json, follow } => {
            trail::events(ctx, kind, since, entry, json, follow).await
        }
        Command::Chain { email, json } => people::chain(ctx, email, json).await,
        Command::Export { person: Some(email), .. } => export::person(ctx, email).await,
        Command::Export { status, format, person: None } => export::export(ctx, status.as_deref(), format).await,
        Command::Erase { email, yes } => people::erase(ctx, email, yes).await,
        Command::Settings(s) => admin::settings(ctx, s).await,
        Command::Operator(o) => admin::operator(ctx, o).await,
        Command::Mail(m) => mail::mail(ctx, m).await,
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::failure(e.to_string()))?;
    emit(&text)
}

/// Writes one line to stdout. A closed pipe (`velvet ... | head`) ends the
/// command quietly instead of panicking.
pub(super) fn emit(line: &str) -> CliResult {
    emit_raw(&format!("{line}\n"))
}

pub(super) fn emit_raw(text: &str) -> CliResult {
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(io_error)
}

fn io_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return CliError { message: String::new(), usage: false, quiet: true };
    }
    CliError::failure(format!("cannot write output: {e}"))
}
