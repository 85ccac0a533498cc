//! The public HTTP API (`velvet serve`): thin handlers over the service.
//!
//! ```text
//! POST /v1/waitlist        join (JSON or form)        202 check_email
//! GET  /v1/confirm/{token} the confirm page (a button) 200, changes nothing
//! POST /v1/confirm/{token} double opt-in              200 confirmed|joined
//! POST /v1/redeem          use an invite code         200 joined | 202 check_email
//! GET  /join               the hosted form page       /assets/style.css
//! GET  /healthz /readyz /metrics /openapi.json
//! ```

pub mod admin;
pub mod body;
pub mod client;
pub mod error;
pub mod metrics;
pub mod page;
mod public;

use crate::service::{RequestMeta, Velvet};
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use client::Cidr;
use error::{Answer, Wants};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Notify;

pub const OPENAPI_JSON: &str = include_str!("../../assets/openapi.json");

/// Everything the handlers share.
pub struct App {
    pub velvet: Velvet,
    pub limiter: Arc<crate::limiter::Limiter>,
    pub metrics: metrics::Metrics,
    pub trusted_proxies: Vec<Cidr>,
    /// Where trusted proxies name the client (`X-Forwarded-For` or `Forwarded`).
    pub forwarded: client::ForwardedHeader,
    pub country_header: String,
    /// `/metrics` on this listener (`[serve] metrics`).
    pub serve_metrics: bool,
    /// The admin API beside the public routes (no `--admin-listen` given).
    pub admin_on_public: bool,
    /// Poked when something was queued, so mail goes out at once.
    pub wake_mailer: Arc<Notify>,
    pub cors_origins: Vec<String>,
    /// The least time a waitlist or redeem answer takes (`public_answer_ms`).
    pub answer_floor: std::time::Duration,
    /// The public URL is https: the device cookie is `Secure`.
    pub secure_cookies: bool,
    pub caches: Caches,
}

/// The last answers of the endpoints that cost a database call.
#[derive(Default)]
pub struct Caches {
    ready: tokio::sync::Mutex<Option<(tokio::time::Instant, Option<&'static str>)>>,
    figures: tokio::sync::Mutex<Option<(tokio::time::Instant, Option<Arc<metrics::Figures>>)>>,
}

/// What the API knows about one caller. Only prefixes and hashes leave it.
pub struct Caller {
    /// The rate-limit unit: an IPv4 address or an IPv6 /64.
    pub ip_unit: String,
    pub device_id: Option<String>,
    /// Set when the caller had no device id: sent back as a cookie.
    pub new_device: Option<String>,
    pub meta: RequestMeta,
    /// When the handler took the request (for the answer floor).
    pub arrived: tokio::time::Instant,
}

impl App {
    pub fn caller(&self, peer: SocketAddr, headers: &HeaderMap) -> Caller {
        let ip = client::client_ip(peer, headers, &self.trusted_proxies, self.forwarded);
        let device_id = client::device_id(headers);
        let new_device =
            device_id.is_none().then(|| crate::domain::token::ConfirmToken::generate().as_str()[..32].to_string());
        let device_hash = device_id.as_deref().map(|d| self.limiter.key(&["device", d])[..16].to_string());
        Caller {
            arrived: tokio::time::Instant::now(),
            ip_unit: client::limit_unit(ip),
            device_id,
            new_device,
            meta: RequestMeta {
                ip_prefix: Some(client::event_prefix(ip)),
                country: client::country(peer, headers, &self.trusted_proxies, &self.country_header),
                user_agent: client::user_agent(headers),
                device_hash,
            },
        }
    }
}

pub fn router(app: Arc<App>) -> Router {
    let cors = cors_layer(&app.cors_origins);
    let public = Router::new()
        .route("/v1/waitlist", post(waitlist))
        .route("/v1/confirm/{token}", get(confirm_page).post(confirm))
        .route("/v1/redeem", post(redeem))
        .route("/join", get(join_page))
        .route("/assets/style.css", get(style))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi));
    // Off, it is not there at all: the same 404 as any unknown path.
    let public = if app.serve_metrics { public.route("/metrics", get(metrics)) } else { public };
    let public = if app.admin_on_public { public.merge(admin::routes()) } else { public };
    public
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(limit_headers))
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .layer(cors)
        .with_state(app)
}

fn cors_layer(origins: &[String]) -> tower_http::cors::CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()).collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::HeaderName::from_static("x-device-id")])
        .max_age(std::time::Duration::from_secs(3600))
}

async fn count_requests(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    app.metrics.request(&route, response.status().as_u16());
    response
}

/// Headers this large are an attack, not a browser (hyper itself stops
/// at about 400 KiB; we answer earlier and clearly).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

async fn limit_headers(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if size > MAX_HEADER_BYTES {
        let wants = Wants::from(request.headers());
        return Answer::err(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "The request headers are too large.",
        )
        .render(wants);
    }
    next.run(request).await
}

/// Renders an answer, giving a new device its cookie.
fn finish(app: &App, answer: Answer, wants: Wants, caller: &Caller) -> Response {
    with_cookie(app, answer.render(wants), caller)
}

/// Sets the device cookie for a caller that had none: `Secure` when the
/// public URL is https (a browser then never sends it in the clear).
fn with_cookie(app: &App, mut response: Response, caller: &Caller) -> Response {
    if let Some(id) = &caller.new_device {
        let secure = if app.secure_cookies { "; Secure" } else { "" };
        let cookie =
            format!("{}={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}", client::DEVICE_COOKIE);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

async fn waitlist(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let caller = app.caller(peer, &headers);
    let answer = app.waitlist(&caller, &headers, body).await;
    finish(&app, answer, Wants::from(&headers), &caller)
}

async fn confirm_page(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let caller = app.caller(peer, &headers);
    // A link that does not even decode (bad percent-escapes, not UTF-8) is
    // just another invalid link: same limit, same calm answer.
    let token = token.map(|Path(t)| t).unwrap_or_default();
    let answer = match app.confirm_page(&caller, &token).await {
        Some(answer) => answer,
        None => {
            let page =
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page::confirm_form(&token)).into_response();
            return private_page(with_cookie(&app, page, &caller));
        }
    };
    private_page(finish(&app, answer, Wants::from(&headers), &caller))
}

/// The link carries a secret: no caches, no referrer.
fn private_page(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn confirm(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    token: Result<Path<String>, PathRejection>,
    body: Body,
) -> Response {
    let caller = app.caller(peer, &headers);
    let token = token.map(|Path(t)| t).unwrap_or_default();
    let wants = Wants::from(&headers);
    let answer = app.confirm(&caller, &token, &headers, body, wants == Wants::Html).await;
    private_page(finish(&app, answer, wants, &caller))
}

async fn redeem(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let caller = app.caller(peer, &headers);
    let answer = app.redeem(&caller, &headers, body).await;
    finish(&app, answer, Wants::from(&headers), &caller)
}

async fn join_page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page::JOIN_HTML).into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        page::STYLE_CSS,
    )
        .into_response()
}

async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], "ok\n").into_response()
}

/// Answers from a result computed at most `fresh` ago; callers arriving
/// together share one computation. A flood of health checks or metric
/// scrapes costs one database call a second, not one per request.
async fn recent<T: Clone>(
    slot: &tokio::sync::Mutex<Option<(tokio::time::Instant, T)>>,
    fresh: std::time::Duration,
    compute: impl std::future::Future<Output = T>,
) -> T {
    let mut cached = slot.lock().await;
    if let Some((at, value)) = cached.as_ref()
        && at.elapsed() < fresh
    {
        return value.clone();
    }
    let value = compute.await;
    *cached = Some((tokio::time::Instant::now(), value.clone()));
    value
}

const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Ready when the database answers within two seconds (checked at most
/// once a second).
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let check = async {
        match tokio::time::timeout(std::time::Duration::from_secs(2), app.velvet.store().ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness check failed");
                Some("database unavailable\n")
            }
            Err(_) => Some("database not answering\n"),
        }
    };
    match recent(&app.caches.ready, FRESH, check).await {
        None => ([(header::CONTENT_TYPE, "text/plain")], "ready\n").into_response(),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/plain")], why).into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    // Like /readyz, never more than two seconds, database or not.
    // The figures the alert rules read come from the database, so every
    // server reports the same deployment-wide numbers.
    let figures = async {
        let read = async {
            let signals = app.velvet.alert_signals().await?;
            let active = app.velvet.active_alerts(&crate::service::Actor::System("metrics")).await?;
            Ok::<_, crate::service::Error>(Arc::new(metrics::Figures { signals, active }))
        };
        tokio::time::timeout(std::time::Duration::from_secs(2), read).await.ok().and_then(Result::ok)
    };
    let figures = recent(&app.caches.figures, FRESH, figures).await;
    let text = app.metrics.render(figures.as_deref(), app.limiter.tracked_keys());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn not_found(headers: HeaderMap) -> Response {
    Answer::err(StatusCode::NOT_FOUND, "not_found", "There is nothing here.").render(Wants::from(&headers))
}

async fn method_not_allowed(headers: HeaderMap) -> Response {
    Answer::err(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "That method is not supported here.")
        .render(Wants::from(&headers))
}
