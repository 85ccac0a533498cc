//! The admin API: every operator call (`ops::calls`) at `/v1/admin/{path}`,
//! behind a bearer token. One generic handler serves them all: it finds the
//! token's operator, decodes the call, and runs it through the service as
//! that operator, so the role is checked where the data changes (the
//! service's permission table) and the events name the token's operator.
//!
//! ```text
//! GET  /v1/admin/whoami               {"operator": NAME, "role": ROLE}
//! POST /v1/admin/{path}  {call}       200 reply | 401 | 403 | 404 | 409 | 422 | 429 | 5xx
//! GET  /v1/admin/openapi.json         the admin paths (bearer scheme)
//! ```
//!
//! Served on `--admin-listen` (with /metrics) when set; beside the public
//! routes only when `[serve] admin_on_public = true`; otherwise not at all.

use super::client;
use super::error::{Answer, Wants};
use super::{App, count_requests, healthz, limit_headers, method_not_allowed, metrics, not_found, readyz};
use crate::ops::{Call, Each, every};
use crate::service::{Actor, Error, Login};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::Arc;

/// The admin routes, to merge into a router over `App`.
pub fn routes() -> Router<Arc<App>> {
    struct Routes(Option<Router<Arc<App>>>);
    impl Each for Routes {
        fn each<C: Call>(&mut self) {
            let path = format!("/v1/admin/{}", C::PATH);
            let method = if C::GET { get(handle::<C>) } else { post(handle::<C>) };
            self.0 = self.0.take().map(|r| r.route(&path, method));
        }
    }
    let mut routes = Routes(Some(Router::new()));
    every(&mut routes);
    routes.0.unwrap_or_default().route("/v1/admin/openapi.json", get(spec))
}

/// The admin listener's whole router: the admin API, /metrics (unless
/// `[serve] metrics = false`) and the health checks; nothing public.
pub fn router(app: Arc<App>, serve_metrics: bool) -> Router {
    let routes = routes();
    let routes = if serve_metrics { routes.route("/metrics", get(metrics)) } else { routes };
    routes
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(limit_headers))
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .with_state(app)
}

async fn handle<C: Call>(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let actor = match authenticate(&app, peer, &headers).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let call: Result<C, String> = if C::GET {
        serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|e| e.to_string())
    } else {
        let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    let call = match call {
        Ok(c) => c,
        Err(e) => {
            let message = format!("this is not a {} request: {e}", C::PATH);
            return Answer::err(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message).render(Wants::Json);
        }
    };
    match call.run(&app.velvet, &actor).await {
        Ok(reply) => match serde_json::to_vec(&reply) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(e) => {
                tracing::error!(error = %e, path = C::PATH, "cannot encode an admin answer");
                Answer::internal().render(Wants::Json)
            }
        },
        Err(e) => refusal(e, C::PATH),
    }
}

/// The one answer for every token that does not let anyone in.
fn unauthorized() -> Response {
    let mut r = Answer::err(
        StatusCode::UNAUTHORIZED,
        crate::service::UNAUTHORIZED,
        "An operator token is needed: send Authorization: Bearer TOKEN (an admin makes one with `velvet operator token NAME`).",
    )
    .render(Wants::Json);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"velvet\""));
    r
}

/// The token's operator, or the answer refusing the request. Guesses
/// (malformed tokens, tokens velvet never issued) count against the
/// caller's address on every server process; a token that was revoked or
/// expired gets the same 401 without counting (a console left open is not
/// an attack), and a valid token is let in even while its address is
/// locked out (guessing 160 bits is hopeless; the lockout spares the
/// database the guesses, it must not shut an office out).
async fn authenticate(app: &App, peer: SocketAddr, headers: &HeaderMap) -> Result<Actor, Response> {
    let ip = client::client_ip(peer, headers, &app.trusted_proxies, app.forwarded);
    let unit = client::limit_unit(ip);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .unwrap_or("");
    // The 429 a locked-out address gets for anything but a valid token.
    let locked = app.limiter.auth_locked_out(&unit).map(|d| Answer::slow_down(d.retry_after));
    if let Some(refused) = &locked
        && crate::domain::token::OperatorToken::parse(token).is_none()
    {
        // Not even shaped like a token: no database read while locked out.
        return Err(refused.clone().render(Wants::Json));
    }
    match app.velvet.login(token).await {
        Ok(Login::Operator(actor)) => Ok(actor),
        Ok(_) if let Some(refused) = locked => Err(refused.render(Wants::Json)),
        Ok(Login::Ended) => Err(unauthorized()),
        Ok(Login::Unknown) => {
            // This one is answered as what it was; the lockout it may start
            // refuses the next guesses.
            if let Err(e) = app.limiter.record_auth_failure(&unit).await {
                tracing::warn!(error = %e, "could not count a failed admin login");
            }
            Err(unauthorized())
        }
        Err(e) => Err(refusal(e, "whoami")),
    }
}

/// A service error as the admin API answers it: the status and code a
/// client maps back to the same error, and the service's own sentence
/// (internal detail is logged, never returned).
fn refusal(e: Error, path: &str) -> Response {
    let (status, code) = match &e {
        Error::InvalidEmail(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
        Error::InvalidCode(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code"),
        Error::InvalidInput(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        Error::CodeUnusable => (StatusCode::BAD_REQUEST, "code_unusable"),
        Error::BadToken => (StatusCode::BAD_REQUEST, "bad_token"),
        Error::Paused(_) => (StatusCode::CONFLICT, "paused"),
        Error::Forbidden { .. } | Error::NotAnOperator(_) => (StatusCode::FORBIDDEN, "forbidden"),
        Error::NoOperators | Error::UnknownOperator(_) => (StatusCode::FORBIDDEN, "forbidden"),
        Error::Unauthorized => return unauthorized(),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Illegal { .. } => (StatusCode::CONFLICT, "illegal"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::Refused { .. } | Error::Unreachable(_) => (StatusCode::BAD_GATEWAY, "upstream"),
        Error::Store(crate::store::StoreError::Conflict(_)) => (StatusCode::CONFLICT, "conflict"),
        Error::Store(s) if s.is_unavailable() => {
            tracing::warn!(error = %s, path, "admin call: database unavailable");
            return Answer::unavailable().render(Wants::Json);
        }
        Error::Store(s) => {
            tracing::error!(error = %s, path, "admin call failed");
            return Answer::internal().render(Wants::Json);
        }
    };
    Answer::err(status, code, e.to_string()).render(Wants::Json)
}

/// The admin paths as OpenAPI 3.1, generated from the calls themselves.
async fn spec() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], admin_spec().to_string()).into_response()
}

pub fn admin_spec() -> serde_json::Value {
    use serde_json::json;
    struct Paths(serde_json::Map<String, serde_json::Value>);
    impl Each for Paths {
        fn each<C: Call>(&mut self) {
            let error = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
            let mut op = json!({
                "summary": C::SUMMARY.trim(),
                "operationId": C::PATH.replace(['/', '-'], "_"),
                "security": [{"bearer": []}],
                "responses": {
                    "200": {"description": "done", "content": {"application/json": {}}},
                    "401": error("no token, or one that is malformed, wrong, expired or revoked (one answer for all)"),
                    "403": error("the token's operator's role may not do this; nothing was written"),
                    "404": error("what it names does not exist"),
                    "409": error("not possible in the current state"),
                    "422": error("the request is malformed"),
                    "429": error("too many failed logins from this address"),
                    "500": error("the server failed; nothing was changed"),
                    "503": error("the database is out of reach for a moment"),
                }
            });
            if !C::GET {
                op["requestBody"] =
                    json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
            }
            let method = if C::GET { "get" } else { "post" };
            self.0.insert(format!("/v1/admin/{}", C::PATH), json!({ method: op }));
        }
    }
    let mut paths = Paths(serde_json::Map::new());
    every(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "velvet admin API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths.0,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an operator token (velvet_op_…) from `velvet operator token NAME`"}},
            "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}}
        }
    })
}
