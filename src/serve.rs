//! Starting and stopping everything `velvet serve` runs: the HTTP API, the
//! mail dispatcher, the pacer, the sweeper and the rate-limit sync. Used by
//! the CLI and, in process, by tests and the demo.

use crate::api::client::Cidr;
use crate::api::{self, App};
use crate::config::Config;
use crate::limiter::Limiter;
use crate::service::Velvet;
use crate::worker::transport::{AlertWebhook, MailTransport, Webhook};
use crate::worker::{self, Dispatcher};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// A running server. Dropping it does not stop it; call `shutdown`.
pub struct Running {
    pub addr: SocketAddr,
    /// The admin listener, when `admin_listen` is set.
    pub admin_addr: Option<SocketAddr>,
    /// The admin API is served beside the public routes (`admin_on_public`).
    pub admin_on_public: bool,
    pub public_url: String,
    pub mail: String,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, stops the workers.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Binds `config.serve.listen` and starts everything.
pub async fn start(velvet: Velvet, config: &Config) -> Result<Running, String> {
    let serve = &config.serve;
    let trusted_proxies = serve
        .trusted_proxies
        .iter()
        .map(|p| p.parse::<Cidr>().map_err(|e| format!("trusted_proxies: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let forwarded = serve.forwarded_header.parse::<crate::api::client::ForwardedHeader>()?;
    let mail = MailTransport::parse(&serve.mail)?;
    let from =
        serve.mail_from.parse().map_err(|e| format!("mail_from '{}' is not an address: {e}", serve.mail_from))?;
    let webhook = match (&serve.webhook_url, &serve.webhook_secret) {
        (Some(url), Some(secret)) => Some(Webhook::new(url.clone(), secret.expose().to_string())?),
        (Some(_), None) => return Err("webhook_url needs webhook_secret, used to sign each call".into()),
        _ => None,
    };
    let rules = config.alerts.rules()?;
    let alert_secret = config.alerts.webhook_secret.as_ref().or(serve.webhook_secret.as_ref());
    let alerts = match &config.alerts.webhook_url {
        Some(url) => Some(Arc::new(AlertWebhook::new(
            url.clone(),
            config.alerts.webhook_format,
            alert_secret.map(|s| s.expose().to_string()),
        )?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&serve.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", serve.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let admin_listener = match &serve.admin_listen {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a).await.map_err(|e| format!("cannot listen on {a} (admin_listen): {e}"))?,
        ),
        None => None,
    };
    let admin_addr = match &admin_listener {
        Some(l) => Some(l.local_addr().map_err(|e| e.to_string())?),
        None => None,
    };
    let public_url =
        serve.public_url.clone().unwrap_or_else(|| format!("http://{addr}")).trim_end_matches('/').to_string();

    let secret = crate::secret::resolve(&velvet, serve.secret.as_ref().map(|s| s.expose())).await?;
    let limiter = Arc::new(Limiter::new(velvet.store().clone(), velvet.clock(), secret, config.limits));
    let wake = Arc::new(Notify::new());
    let app = Arc::new(App {
        velvet: velvet.clone(),
        limiter: limiter.clone(),
        metrics: Default::default(),
        trusted_proxies,
        forwarded,
        country_header: serve.country_header.clone(),
        // With an admin listener, /metrics is served there, not here.
        serve_metrics: serve.metrics && admin_listener.is_none(),
        admin_on_public: admin_listener.is_none() && serve.admin_on_public,
        wake_mailer: wake.clone(),
        cors_origins: serve.cors_origins.clone(),
        answer_floor: std::time::Duration::from_millis(serve.public_answer_ms.min(1_000)),
        secure_cookies: public_url.to_ascii_lowercase().starts_with("https://"),
        caches: Default::default(),
    });

    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let described = mail.describe();
    let page = alerts.is_some();
    let dispatcher = Dispatcher {
        velvet: velvet.clone(),
        mail,
        from,
        webhook,
        alerts,
        public_url: public_url.clone(),
        wake: wake.clone(),
    };
    tasks.spawn(dispatcher.run(stopped.clone()));
    tasks.spawn(worker::alert_evaluator(
        velvet.clone(),
        worker::holder_id(),
        rules,
        page,
        wake.clone(),
        worker::EVALUATE_EVERY,
        stopped.clone(),
    ));
    tasks.spawn(worker::pacer(velvet.clone(), wake.clone(), stopped.clone()));
    tasks.spawn(worker::sweeper(velvet.clone(), limiter.clone(), stopped.clone()));
    tasks.spawn(worker::limiter_sync(velvet.clone(), limiter, stopped.clone()));
    if let Some(admin) = admin_listener {
        tasks.spawn(accept_loop(admin, api::admin::router(app.clone(), serve.metrics), stopped.clone()));
    }
    let router = api::router(app);
    tasks.spawn(accept_loop(listener, router, stopped));
    let admin_on_public = admin_addr.is_none() && serve.admin_on_public;
    Ok(Running { addr, admin_addr, admin_on_public, public_url, mail: described, stop, tasks })
}

/// How long a client may take to send its request headers (slowloris).
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts connections and serves each with hyper directly, so the header
/// read timeout is ours (axum::serve sets no timer), until `stop`; then lets
/// the requests in flight finish.
async fn accept_loop(listener: tokio::net::TcpListener, router: axum::Router, mut stop: watch::Receiver<bool>) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let service = router.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let service = hyper_util::service::TowerToHyperService::new(service);
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            // A client that sends its request and shuts its side (some
            // scripts and proxies do) still gets its answer.
            .half_close(true)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
}
