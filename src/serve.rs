//! Starting and stopping everything `velvet serve` runs: the HTTP API, the
//! mail dispatcher, the pacer, the sweeper and the rate-limit sync. Used by
//! the CLI and, in process, by tests and the demo.

use crate::api::client::Cidr;
use crate::api::limits::Limiter;
use crate::api::{self, App};
use crate::config::Config;
use crate::service::Velvet;
use crate::worker::transport::{MailTransport, Webhook};
use crate::worker::{self, Dispatcher};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// A running server. Dropping it does not stop it; call `shutdown`.
pub struct Running {
    pub addr: SocketAddr,
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
    let mail = MailTransport::parse(&serve.mail)?;
    let from = serve.mail_from.parse().map_err(|e| format!("mail_from '{}' is not an address: {e}", serve.mail_from))?;
    let webhook = match (&serve.webhook_url, &serve.webhook_secret) {
        (Some(url), Some(secret)) => Some(Webhook::new(url.clone(), secret.clone())?),
        (Some(_), None) => return Err("webhook_url needs webhook_secret, used to sign each call".into()),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(&serve.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", serve.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = serve.public_url.clone().unwrap_or_else(|| format!("http://{addr}")).trim_end_matches('/').to_string();

    let secret = {
        let fresh = crate::domain::token::ConfirmToken::generate().as_str().to_string();
        let mut tx = velvet.store().write().await.map_err(|e| e.to_string())?;
        let s = tx.server_secret(&fresh, velvet.now()).await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        s
    };
    let clock = Arc::new(crate::domain::SystemClock);
    let limiter = Arc::new(Limiter::new(velvet.store().clone(), clock, secret.clone(), config.limits));
    let wake = Arc::new(Notify::new());
    let app = Arc::new(App {
        velvet: velvet.clone(),
        limiter: limiter.clone(),
        metrics: Default::default(),
        trusted_proxies,
        country_header: serve.country_header.clone(),
        secret,
        wake_mailer: wake.clone(),
        cors_origins: serve.cors_origins.clone(),
    });

    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let described = mail.describe();
    let dispatcher = Dispatcher { velvet: velvet.clone(), mail, from, webhook, public_url: public_url.clone(), wake: wake.clone() };
    tasks.spawn(dispatcher.run(stopped.clone()));
    tasks.spawn(worker::pacer(velvet.clone(), wake.clone(), stopped.clone()));
    tasks.spawn(worker::sweeper(velvet.clone(), limiter.clone(), stopped.clone()));
    tasks.spawn(worker::limiter_sync(velvet.clone(), limiter, stopped.clone()));
    let router = api::router(app);
    let mut http_stop = stopped;
    tasks.spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = http_stop.changed().await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(Running { addr, public_url, mail: described, stop, tasks })
}
