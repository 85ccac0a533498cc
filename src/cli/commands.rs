//! One function per command: call the service, print the answer.
//! Data goes to stdout, commentary to stderr, so scripts can capture.

use super::args::{
    CodesCommand, Command, Format, InvitesCommand, MailCommand, OperatorCommand, PauseArgs, PauseWhat, RoleArg,
    SettingsCommand,
};
use super::render;
use super::{CliError, CliResult, Ctx};
use crate::domain::Role;
use crate::service::{
    Approvees, BlockSelector, ExportRow, MailRetry, PartnerCodeSpec, PauseScope, RevokeTarget, defuse,
};
use chrono::Duration;
use std::io::Write;

/// Rows fetched per page by `export`.
const EXPORT_PAGE: i64 = 5_000;

pub async fn dispatch(ctx: &Ctx, command: Command) -> CliResult {
    match command {
        Command::Serve { listen, mail, public_url, metrics } => serve(ctx, listen, mail, public_url, metrics).await,
        Command::Migrate { forget_secret } => migrate(ctx, forget_secret).await,
        Command::Demo { keep, seed, size } => super::demo::run(ctx, keep, seed, size).await,
        Command::Simulate { scenario, target, rate, duration, code, mail_dir, seed, allow_remote } => {
            use crate::sim::traffic::{self, Scenario, SimOptions};
            traffic::check_target(&target, allow_remote).map_err(CliError::usage)?;
            let duration = duration.to_std().map_err(|_| CliError::usage("--duration must be positive"))?;
            let rate = rate.unwrap_or(match scenario {
                Scenario::Steady => 5.0,
                Scenario::BotWave => 50.0,
                Scenario::Leak => 10.0,
                Scenario::Viral => 100.0,
            });
            if !(0.1..=100_000.0).contains(&rate) {
                return Err(CliError::usage("--rate must be between 0.1 and 100000 requests per second"));
            }
            let opts = SimOptions { scenario, target, rate, duration, code, mail_dir, seed };
            eprintln!("simulating {scenario:?} at {rate}/s for {} s against {}", duration.as_secs(), opts.target);
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let summary = traffic::run(opts, stop).await.map_err(CliError::usage)?;
            emit_raw(&summary.table())
        }
        Command::Report { since, out } => {
            // Whole days, rounded up: `36h` reports on two.
            let days = (since + Duration::days(1) - Duration::seconds(1)).num_days();
            let report = ctx.velvet.report(&ctx.actor().await?, days).await?;
            let page = crate::report::html(&report).map_err(CliError::failure)?;
            std::fs::write(&out, page)
                .map_err(|e| CliError::failure(format!("cannot write {}: {e}", out.display())))?;
            eprintln!(
                "wrote {} ({} days, {} signups, {} joined)",
                out.display(),
                report.days.len(),
                report.funnel.signed_up,
                report.funnel.joined
            );
            Ok(())
        }
        Command::Console => {
            let actor = ctx.actor().await?;
            crate::console::run(ctx.velvet.clone(), actor, None)
                .await
                .map_err(|e| CliError::failure(format!("terminal error: {e}")))
        }
        Command::Seed { size, seed, extra_events } => {
            let actor = ctx.actor().await?;
            let started = std::time::Instant::now();
            let report = crate::sim::seed::seed(
                &ctx.velvet,
                &actor,
                crate::sim::seed::SeedSpec { size, seed, extra_events, progress: true },
            )
            .await?;
            eprintln!(
                "seeded {} entries, {} events, {} codes in {:.1} s",
                report.entries,
                report.events,
                report.codes,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Lookup { email, json } => lookup(ctx, &email, json).await,
        Command::Approve { next, email, dry_run } => approve(ctx, next, email, dry_run).await,
        Command::Codes(c) => codes(ctx, c).await,
        Command::Pause(p) => pause(ctx, p, true).await,
        Command::Resume(p) => pause(ctx, p, false).await,
        Command::Block { email, domain, prefix, source, status, dry_run, reason } => {
            let actor = ctx.actor().await?;
            let selector = match (email, domain, prefix, source) {
                (Some(email), None, None, None) => {
                    ctx.velvet.block(&actor, &email, reason.as_deref()).await?;
                    eprintln!("blocked {email}");
                    return Ok(());
                }
                (None, Some(d), None, None) => BlockSelector::Domain(d),
                (None, None, Some(p), None) => BlockSelector::Prefix(p),
                (None, None, None, Some(s)) => BlockSelector::Source(s),
                _ => return Err(CliError::usage("give exactly one of EMAIL, --domain, --prefix, --source")),
            };
            let done = ctx.velvet.block_many(&actor, &selector, status.as_deref(), reason.as_deref(), dry_run).await?;
            for email in &done.first {
                emit(email)?;
            }
            let what = selector.describe();
            let more = done.count.saturating_sub(done.first.len());
            let more =
                if more > 0 { format!(" (the first {} above, {more} more)", done.first.len()) } else { String::new() };
            match done.batch_id {
                _ if done.count == 0 => eprintln!("nobody to block: {what} takes no one who can be blocked"),
                None => {
                    eprintln!("would block {} entries ({what}){more}; run without --dry-run to block them", done.count)
                }
                Some(id) => eprintln!(
                    "blocked {} entries ({what}) as batch {id}{more}; `velvet unblock --batch {id}` undoes it",
                    done.count
                ),
            }
            Ok(())
        }
        Command::Unblock { email, batch, reason } => {
            let actor = ctx.actor().await?;
            match (email, batch) {
                (Some(email), None) => {
                    ctx.velvet.unblock(&actor, &email, reason.as_deref()).await?;
                    eprintln!("unblocked {email}");
                }
                (None, Some(id)) => {
                    let done = ctx.velvet.unblock_batch(&actor, id).await?;
                    for (email, status) in &done.unblocked {
                        emit(&format!("{email} {status}"))?;
                    }
                    eprintln!("unblocked {} entries of batch {id}, each back to where it was", done.unblocked.len());
                }
                _ => return Err(CliError::usage("give EMAIL or --batch ID, not both")),
            }
            Ok(())
        }
        Command::ChangeEmail { old, new } => {
            let c = ctx.velvet.change_email(&ctx.actor().await?, &old, &new).await?;
            emit(&c.new)?;
            eprintln!("changed {} to {}: {}; sent {} (mailed by `velvet serve`)", c.old, c.new, c.status, c.mailed);
            Ok(())
        }
        Command::Reissue { email } => {
            let what = ctx.velvet.reissue(&ctx.actor().await?, &email).await?;
            eprintln!("reissued for {email}: {what} (mailed by `velvet serve`)");
            Ok(())
        }
        Command::Invites(InvitesCommand::Send { limit, past_cap }) => {
            let run = ctx.velvet.send_invites(&ctx.actor().await?, limit, past_cap).await?;
            for email in &run.sent {
                emit(&email.to_string())?;
            }
            eprintln!("{} invites queued; {} left under today's cap", run.sent.len(), run.cap_remaining);
            Ok(())
        }
        Command::Chain { email, json } => {
            let tree = ctx.velvet.invite_tree(&ctx.actor().await?, &email).await?;
            if json { print_json(&tree) } else { emit_raw(&render::chain(&tree)) }
        }
        Command::Export { person: Some(email), .. } => {
            let found = ctx.velvet.person_export(&ctx.actor().await?, &email).await?;
            print_json(&found)
        }
        Command::Export { status, format, person: None } => export(ctx, status.as_deref(), format).await,
        Command::Erase { email, yes } => {
            let actor = ctx.actor().await?;
            if !yes {
                confirm_typed_back(&email)?;
            }
            let done = ctx.velvet.erase(&actor, &email).await?;
            emit(&done.anonymous_id)?;
            eprintln!(
                "erased entry {}: it is {} now; {} codes revoked; the anonymous trail and counts are kept",
                done.entry_id, done.anonymous_id, done.codes_revoked
            );
            Ok(())
        }
        Command::Settings(s) => settings(ctx, s).await,
        Command::Operator(o) => operator(ctx, o).await,
        Command::Mail(m) => mail(ctx, m).await,
    }
}

async fn mail(ctx: &Ctx, command: MailCommand) -> CliResult {
    let actor = ctx.actor().await?;
    match command {
        MailCommand::Failed { json } => {
            let list = ctx.velvet.failed_mail(&actor, None).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                eprintln!("no failed messages");
                return Ok(());
            }
            emit_raw(&render::failed_mail(&list, ctx.velvet.now()))?;
            eprintln!("{} failed; `velvet mail retry ID` or `velvet mail retry --all` sends them again", list.len());
            Ok(())
        }
        MailCommand::Retry { id, all, kind } => {
            let which = match (id, all) {
                (Some(id), false) => MailRetry::One(id),
                (None, true) => MailRetry::All { kind },
                _ => return Err(CliError::usage("give a message ID or --all, not both")),
            };
            let done = ctx.velvet.retry_mail(&actor, &which).await?;
            for r in &done {
                emit(&render::retried_line(r))?;
            }
            let retried = done.iter().filter(|r| r.retried).count();
            let skipped = done.len() - retried;
            let skipped = if skipped > 0 { format!("; {skipped} skipped (see above)") } else { String::new() };
            eprintln!("queued {retried} message(s) again{skipped}; `velvet serve` delivers them");
            Ok(())
        }
    }
}

async fn serve(
    ctx: &Ctx,
    listen: Option<String>,
    mail: Option<String>,
    public_url: Option<String>,
    metrics: Option<bool>,
) -> CliResult {
    init_logging();
    let mut config = ctx.config.clone();
    if let Some(l) = listen {
        config.serve.listen = l;
    }
    if let Some(m) = mail {
        config.serve.mail = m;
    }
    if public_url.is_some() {
        config.serve.public_url = public_url;
    }
    if let Some(m) = metrics {
        config.serve.metrics = m;
    }
    // Not a flag: a secret on the command line is visible to every user.
    if let Some(secret) = std::env::var("VELVET_SECRET").ok().filter(|s| !s.is_empty()) {
        config.serve.secret = Some(secret.into());
    }
    let running = crate::serve::start(ctx.velvet.clone(), &config).await.map_err(CliError::usage)?;
    emit(&format!(
        "velvet serve: listening on http://{} ({} database, mail: {}, links: {})",
        running.addr,
        ctx.velvet.store().backend(),
        running.mail,
        running.public_url
    ))?;
    tracing::info!(addr = %running.addr, "serving");
    tracing::info!(
        paged = config.alerts.webhook_url.is_some(),
        format = ?config.alerts.webhook_format,
        "alert rules: evaluated here while this server holds the evaluator lease (one per deployment)"
    );
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    running.shutdown().await;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Logs to stderr; `VELVET_LOG` (or `RUST_LOG`) picks the level, info by default.
fn init_logging() {
    let filter = std::env::var("VELVET_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn,hyper=warn".to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn migrate(ctx: &Ctx, forget_secret: bool) -> CliResult {
    let store = ctx.velvet.store();
    store.migrate().await?;
    let (known, applied) = store.migration_status().await?;
    eprintln!("{} database is up to date ({applied} of {known} migrations applied)", store.backend());
    if forget_secret {
        ctx.velvet.forget_secret_fingerprint().await?;
        eprintln!(
            "forgot the secret's fingerprint: the next `velvet serve` records its own (give every server the same one)"
        );
    }
    Ok(())
}

async fn lookup(ctx: &Ctx, email: &str, json: bool) -> CliResult {
    let found = ctx.velvet.lookup(&ctx.actor().await?, email).await?;
    if json { print_json(&found) } else { emit_raw(&render::lookup(&found, ctx.velvet.now())) }
}

async fn approve(ctx: &Ctx, next: Option<i64>, email: Option<String>, dry_run: bool) -> CliResult {
    let actor = ctx.actor().await?;
    let who = match (next, email.as_deref()) {
        (Some(n), _) => Approvees::Next(n),
        (None, Some(e)) => Approvees::Email(e),
        (None, None) => return Err(CliError::usage("give --next N or --email EMAIL")),
    };
    let approved = ctx.velvet.approve(&actor, who, dry_run).await?.approved;
    for a in &approved {
        emit(&a.email.to_string())?;
    }
    let verb = if dry_run { "would approve" } else { "approved" };
    match next {
        Some(n) if approved.is_empty() => eprintln!("no confirmed entries are waiting (asked for {n})"),
        Some(n) if (approved.len() as i64) < n => {
            eprintln!("{verb} {} entries: all the confirmed entries that were waiting", approved.len())
        }
        _ => eprintln!("{verb} {} entries", approved.len()),
    }
    Ok(())
}

async fn codes(ctx: &Ctx, command: CodesCommand) -> CliResult {
    let actor = ctx.actor().await?;
    match command {
        CodesCommand::Issue { campaign, max_uses, count, expires, daily_cap, prefix } => {
            let spec = PartnerCodeSpec { campaign, max_uses, count, expires_in: expires, daily_cap, prefix };
            let issued = ctx.velvet.issue_partner_codes(&actor, &spec).await?;
            let mut out = std::io::stdout().lock();
            for code in &issued.codes {
                writeln!(out, "{code}").map_err(io_error)?;
            }
            eprintln!(
                "issued {} codes in batch {} (shown once: only their hashes are stored)",
                issued.codes.len(),
                issued.batch_id
            );
            Ok(())
        }
        CodesCommand::Revoke { code, batch, campaign, inviter, reason, dry_run } => {
            let target = match (code, batch, campaign, inviter) {
                (Some(c), None, None, None) => RevokeTarget::Code(c),
                (None, Some(b), None, None) => RevokeTarget::Batch(b),
                (None, None, Some(c), None) => RevokeTarget::Campaign(c),
                (None, None, None, Some(e)) => RevokeTarget::Inviter(e),
                _ => return Err(CliError::usage("give exactly one of CODE, --batch, --campaign, --inviter")),
            };
            let revoked = ctx.velvet.revoke(&actor, &target, reason.as_deref(), dry_run).await?;
            for r in &revoked {
                emit(&render::revoked_line(r).to_string())?;
            }
            let verb = if dry_run { "would revoke" } else { "revoked" };
            eprintln!("{verb} {} codes", revoked.len());
            Ok(())
        }
        CodesCommand::List { campaign, batch, kind, limit, json } => {
            let list = ctx.velvet.list_codes(&actor, campaign.as_deref(), batch, kind.as_deref(), limit).await?;
            if json { print_json(&list) } else { emit_raw(&render::codes(&list, ctx.velvet.now())) }
        }
    }
}

async fn pause(ctx: &Ctx, p: PauseArgs, pausing: bool) -> CliResult {
    let scope = match (p.what, p.campaign, p.email) {
        (PauseWhat::Redemption, None, None) => PauseScope::Redemption,
        (PauseWhat::Redemption, Some(c), None) => PauseScope::Campaign(c),
        (PauseWhat::Signups, None, None) => PauseScope::Signups,
        (PauseWhat::Inviter, None, Some(e)) => PauseScope::Inviter(e),
        (PauseWhat::Inviter, _, None) => return Err(CliError::usage("`inviter` needs --email EMAIL")),
        (PauseWhat::Signups, Some(_), _) => {
            return Err(CliError::usage("signups cannot be paused per campaign; drop --campaign"));
        }
        _ => return Err(CliError::usage("--campaign goes with redemption, --email with inviter")),
    };
    let actor = ctx.actor().await?;
    let changed = if pausing {
        ctx.velvet.pause(&actor, &scope, p.reason.as_deref()).await?
    } else {
        ctx.velvet.resume(&actor, &scope).await?
    };
    eprintln!("{}", scope.outcome(pausing, changed));
    Ok(())
}

async fn export(ctx: &Ctx, status: Option<&str>, format: Format) -> CliResult {
    let actor = ctx.actor().await?;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut sink: Box<dyn ExportSink> = match format {
        Format::Csv => Box::new(csv::Writer::from_writer(out)),
        Format::Json => Box::new(JsonArray { out, first: true }),
    };
    let mut after = 0;
    loop {
        let page = ctx.velvet.export_page(&actor, status, after, EXPORT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in &page {
            sink.row(row)?;
        }
    }
    sink.finish()
}

/// Where exported rows go, one at a time, so memory stays flat.
trait ExportSink {
    fn row(&mut self, row: &ExportRow) -> CliResult;
    fn finish(self: Box<Self>) -> CliResult;
}

impl<W: Write> ExportSink for csv::Writer<W> {
    fn row(&mut self, row: &ExportRow) -> CliResult {
        let safe = ExportRow {
            email: defuse(&row.email),
            email_display: defuse(&row.email_display),
            source: row.source.as_deref().map(defuse),
            ..row.clone()
        };
        self.serialize(&safe).map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))
    }
    fn finish(mut self: Box<Self>) -> CliResult {
        self.flush().map_err(io_error)
    }
}

struct JsonArray<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> ExportSink for JsonArray<W> {
    fn row(&mut self, row: &ExportRow) -> CliResult {
        let sep = if self.first { "[\n" } else { ",\n" };
        self.first = false;
        let text = serde_json::to_string(row).map_err(|e| CliError::failure(e.to_string()))?;
        write!(self.out, "{sep}{text}").map_err(io_error)
    }
    fn finish(mut self: Box<Self>) -> CliResult {
        let end = if self.first { "[]\n" } else { "\n]\n" };
        self.out.write_all(end.as_bytes()).map_err(io_error)?;
        self.out.flush().map_err(io_error)
    }
}

async fn settings(ctx: &Ctx, command: SettingsCommand) -> CliResult {
    let actor = ctx.actor().await?;
    match command {
        SettingsCommand::Show => {
            let s = ctx.velvet.settings(&actor).await?;
            for (k, v) in s.pairs() {
                emit(&format!("{k:<24} {v}"))?;
            }
            for sw in ctx.velvet.switches(&actor).await? {
                emit(&format!(
                    "paused: {:<16} since {} by {}",
                    sw.scope,
                    crate::domain::timefmt::utc_minute(sw.paused_at),
                    sw.paused_by
                ))?;
            }
            Ok(())
        }
        SettingsCommand::Set { key, value } => {
            let s = ctx.velvet.set_setting(&actor, &key, &value).await?;
            eprintln!("{key} = {}", s.get(&key).unwrap_or_default());
            Ok(())
        }
    }
}

async fn operator(ctx: &Ctx, command: OperatorCommand) -> CliResult {
    match command {
        OperatorCommand::Add { name, role } => {
            let role = match role {
                RoleArg::Viewer => Role::Viewer,
                RoleArg::Support => Role::Support,
                RoleArg::Admin => Role::Admin,
            };
            let acting = ctx.acting_as.clone().unwrap_or_default();
            ctx.velvet.add_operator(&acting, &name, role).await?;
            eprintln!("operator {name} added as {role}");
            Ok(())
        }
        OperatorCommand::List => {
            for o in ctx.velvet.operators(&ctx.actor().await?).await? {
                emit(&format!(
                    "{:<24} {:<8} added {} by {}",
                    o.name,
                    o.role,
                    o.created_at.format("%Y-%m-%d"),
                    o.created_by
                ))?;
            }
            Ok(())
        }
    }
}

/// Erasing cannot be undone: the operator types the address back, on a terminal.
fn confirm_typed_back(email: &str) -> CliResult {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "erasing cannot be undone: run it in a terminal to type the address back, or pass --yes",
        ));
    }
    eprint!("This erases {email} for good. Type the address again to go on: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(io_error)?;
    if line.trim() != email.trim() {
        return Err(CliError::failure("the address typed back does not match: nothing erased"));
    }
    Ok(())
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
