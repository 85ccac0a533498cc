//! Public answers: `{"error": CODE, "message": TEXT}` in JSON, or the same
//! calm sentence as a small HTML page for browsers. Internal detail is
//! logged, never returned.

use super::page;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How the caller wants the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wants {
    Json,
    Html,
}

impl Wants {
    pub fn from(headers: &HeaderMap) -> Wants {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        if accept.contains("text/html") { Wants::Html } else { Wants::Json }
    }
}

/// One public answer: status, a stable code, a calm message.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
    /// `true` for a success body (`{"status": CODE}`), else an error body.
    pub ok: bool,
    /// The heading of the HTML page (a default by `ok` when unset).
    pub title: Option<&'static str>,
}

impl Answer {
    pub fn ok(status: StatusCode, code: &'static str, message: impl Into<String>) -> Answer {
        Answer { status, code, message: message.into(), retry_after: None, ok: true, title: None }
    }

    pub fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> Answer {
        Answer { status, code, message: message.into(), retry_after: None, ok: false, title: None }
    }

    pub fn slow_down(retry_after: u64) -> Answer {
        let wait = if retry_after < 90 {
            format!("{retry_after} seconds")
        } else {
            format!("{} minutes", retry_after.div_ceil(60))
        };
        Answer {
            retry_after: Some(retry_after),
            ..Answer::err(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                format!(
                    "Too many attempts in a short time. Your place on the list is safe; please try again in {wait}."
                ),
            )
        }
    }

    /// The database is out of reach for a moment (restarting, failing over).
    pub fn unavailable() -> Answer {
        Answer {
            retry_after: Some(5),
            ..Answer::err(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "We are busy for a moment. Please try again in a few seconds; sending the same request again is safe.",
            )
        }
    }

    pub fn internal() -> Answer {
        Answer::err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side. Nothing you sent was lost; please try again in a moment.",
        )
    }

    pub fn titled(self, title: &'static str) -> Answer {
        Answer { title: Some(title), ..self }
    }

    pub fn render(self, wants: Wants) -> Response {
        let mut response = match wants {
            Wants::Json => {
                let body = if self.ok {
                    serde_json::json!({ "status": self.code, "message": self.message })
                } else {
                    serde_json::json!({ "error": self.code, "message": self.message })
                };
                (self.status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
            }
            Wants::Html => {
                let title = self.title.unwrap_or(if self.ok { "Thank you" } else { "One moment" });
                (self.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page::message(title, &self.message))
                    .into_response()
            }
        };
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
