//! `velvet demo`: a throwaway beta, alive within seconds. Seeds a world,
//! serves the API on loopback (mail into a folder) with its admin API on a
//! second loopback listener, runs the simulator in the background — steady
//! people from the start, a bot wave after 40 s, a leaked partner code
//! after 70 s — and opens the console on it all, over the admin API with
//! an operator token: the path every team's console takes.

use super::{CliError, CliResult, Ctx};
use crate::config::Config;
use crate::domain::{Role, SystemClock};
use crate::ops::{Ops, Remote};
use crate::service::{PartnerCodeSpec, Velvet};
use crate::sim::seed::{SeedSpec, seed};
use crate::sim::traffic::{self, Scenario, SimOptions};
use crate::store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub async fn run(ctx: &Ctx, keep: bool, seed_value: u64, size: u64) -> CliResult {
    let dir = tempfile::Builder::new()
        .prefix("velvet-demo-")
        .tempdir()
        .map_err(|e| CliError::failure(format!("cannot make a temporary folder: {e}")))?;
    let db = dir.path().join("demo.db");
    let mail = dir.path().join("mail");
    let store = Store::open(&format!("sqlite://{}", db.display())).await?;
    let velvet = Velvet::new(store.clone(), Arc::new(SystemClock));
    // An unusable operator name (from $USER, say) falls back to "demo".
    let name = ctx
        .acting_as
        .clone()
        .filter(|n| crate::service::check_operator_name(n).is_ok())
        .unwrap_or_else(|| "demo".into());
    velvet.add_operator(&name, &name, Role::Admin).await?;
    let actor = velvet.operator(&name).await?;
    eprintln!("seeding a beta of {size} people …");
    let report = seed(&velvet, &actor, SeedSpec { size, seed: seed_value, extra_events: 0, progress: false }).await?;
    let leak = PartnerCodeSpec {
        campaign: "chat".into(),
        max_uses: 5_000,
        count: 1,
        expires_in: chrono::Duration::days(7),
        daily_cap: None,
        prefix: Some("CHAT".into()),
    };
    let leaked = velvet.issue_partner_codes(&actor, &leak).await?.codes[0].to_string();

    let mut config = Config::default();
    config.serve.listen = "127.0.0.1:0".into();
    // The console reaches this server as every team does: the admin API
    // on its own loopback listener, with an operator token.
    config.serve.admin_listen = Some("127.0.0.1:0".into());
    config.serve.mail = format!("file:{}", mail.display());
    // The simulator speaks for many people through X-Forwarded-For.
    config.serve.trusted_proxies = vec!["127.0.0.1/32".into(), "::1/128".into()];
    config.alerts = ctx.config.alerts.clone();
    // The demo's steady crowd is busier than its seeded history; only a
    // real wave should count as a spike.
    config.alerts.signup_spike_min = config.alerts.signup_spike_min.max(300);
    let running = crate::serve::start(velvet.clone(), &config).await.map_err(CliError::failure)?;
    let base = format!("http://{}", running.addr);
    eprintln!(
        "API on {base}  (try: curl -X POST {base}/v1/waitlist -H 'content-type: application/json' -d '{{\"email\":\"you@example.com\"}}', or open {base}/join)"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sims = spawn_traffic(&base, &mail, &leaked, seed_value, stop.clone());
    let welcome = format!(
        "demo: {} people seeded; API on {base}; this console is a context to its admin API; a bot wave comes in ~40 s, a leaked code (campaign chat) in ~70 s",
        report.entries
    );
    let admin = running.admin_addr.map(|a| format!("http://{a}")).unwrap_or_else(|| base.clone());
    let token = velvet.issue_token(&actor, &name, Some(chrono::Duration::days(1)), Some("velvet demo")).await?;
    let ops = match Remote::connect(Some("demo"), &admin, &token.token, false).await {
        Ok(remote) => Ops::Remote(Arc::new(remote)),
        Err(e) => {
            running.shutdown().await;
            return Err(e.into());
        }
    };
    let result = crate::console::run(ops, Some(welcome)).await;
    stop.store(true, Ordering::Relaxed);
    let mut summaries = Vec::new();
    for s in sims {
        if let Ok(Ok(summary)) = s.await {
            summaries.push(summary);
        }
    }
    running.shutdown().await;
    store.close().await;
    eprintln!("API was on {base}");
    for s in summaries {
        eprint!("{}", s.table());
    }
    if keep {
        let kept = dir.keep();
        eprintln!(
            "kept the demo database: velvet --database-url sqlite://{}/demo.db console (mail in {}/mail)",
            kept.display(),
            kept.display()
        );
    }
    result.map_err(|e| CliError::failure(format!("terminal error: {e}")))
}

fn spawn_traffic(
    base: &str,
    mail: &std::path::Path,
    leaked: &str,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Result<traffic::Summary, String>>> {
    let plan = [
        (Duration::ZERO, Scenario::Steady, 4.0, Duration::from_secs(24 * 3600)),
        (Duration::from_secs(40), Scenario::BotWave, 40.0, Duration::from_secs(45)),
        (Duration::from_secs(70), Scenario::Leak, 6.0, Duration::from_secs(60)),
    ];
    plan.into_iter()
        .enumerate()
        .map(|(i, (after, scenario, rate, duration))| {
            let opts = SimOptions {
                scenario,
                target: base.to_string(),
                rate,
                duration,
                code: Some(leaked.to_string()),
                mail_dir: Some(mail.to_path_buf()),
                seed: seed.wrapping_add(i as u64),
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                let slept = tokio::time::sleep(after);
                tokio::pin!(slept);
                loop {
                    tokio::select! {
                        _ = &mut slept => break,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {
                            if stop.load(Ordering::Relaxed) {
                                return Ok(traffic::Summary::default());
                            }
                        }
                    }
                }
                traffic::run(opts, stop).await
            })
        })
        .collect()
}
