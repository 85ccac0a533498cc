//! `serve`, `migrate`, `simulate`, `seed` and `console`: the commands that run something.

use super::*;

pub(super) async fn serve(
    ctx: &Ctx,
    listen: Option<String>,
    admin_listen: Option<String>,
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
    if admin_listen.is_some() {
        config.serve.admin_listen = admin_listen;
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
    let velvet = ctx.velvet("serve")?;
    let running = crate::serve::start(velvet.clone(), &config).await.map_err(CliError::usage)?;
    let admin = match running.admin_addr {
        Some(a) => format!("admin API and /metrics on http://{a}"),
        None if running.admin_on_public => "admin API here too (admin_on_public)".to_string(),
        None => "no admin API: --admin-listen ADDR serves it for `velvet login`".to_string(),
    };
    emit(&format!(
        "velvet serve: listening on http://{} ({} database, mail: {}, links: {}; {admin})",
        running.addr,
        velvet.store().backend(),
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
pub(super) async fn shutdown_signal() {
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
pub(super) fn init_logging() {
    let filter = std::env::var("VELVET_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn,hyper=warn".to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub(super) async fn migrate(ctx: &Ctx, forget_secret: bool) -> CliResult {
    let velvet = ctx.velvet("migrate")?;
    let store = velvet.store();
    store.migrate().await?;
    let (known, applied) = store.migration_status().await?;
    eprintln!("{} database is up to date ({applied} of {known} migrations applied)", store.backend());
    if forget_secret {
        velvet.forget_secret_fingerprint().await?;
        eprintln!(
            "forgot the secret's fingerprint: the next `velvet serve` records its own (give every server the same one)"
        );
    }
    Ok(())
}

// The flags of one command, as clap parsed them.
#[allow(clippy::too_many_arguments)]
pub(super) async fn simulate(
    scenario: crate::sim::traffic::Scenario,
    target: String,
    rate: Option<f64>,
    duration: Duration,
    code: Option<String>,
    mail_dir: Option<std::path::PathBuf>,
    seed: u64,
    allow_remote: bool,
) -> CliResult {
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

pub(super) async fn console(ctx: &Ctx) -> CliResult {
    // On a database URL, in process as --as; with a context, over its server.
    crate::console::run(ctx.ops().await?, None).await.map_err(|e| CliError::failure(format!("terminal error: {e}")))
}

pub(super) async fn seed(ctx: &Ctx, size: u64, seed: u64, extra_events: u64) -> CliResult {
    let actor = ctx.actor().await?;
    let started = std::time::Instant::now();
    let report = crate::sim::seed::seed(
        ctx.velvet("seed")?,
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
