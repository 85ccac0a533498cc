//! Reading a public POST body: at most 16 KiB, JSON or an HTML form,
//! every failure a 4xx with a precise code.

use super::error::Answer;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

pub const MAX_BODY: usize = 16 * 1024;
/// A body that trickles in slower than this is cut off (slowloris).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn read<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, Answer> {
    let (media, bytes) = read_bytes(headers, body).await?;
    decode(&media, &bytes)
}

/// Reads a body whose content does not matter (a confirmation button
/// posts nothing): empty, or JSON or a form, within the same bounds.
pub async fn read_any(headers: &HeaderMap, body: Body) -> Result<(), Answer> {
    let (media, bytes) = read_bytes(headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    // Any form is fine; JSON must be JSON; anything else is a 415.
    match media.as_str() {
        "application/x-www-form-urlencoded" => Ok(()),
        _ => decode::<serde::de::IgnoredAny>(&media, &bytes).map(|_| ()),
    }
}

/// The media type and the bytes of a body, at most `MAX_BODY`, within `BODY_TIMEOUT`.
async fn read_bytes(headers: &HeaderMap, body: Body) -> Result<(String, axum::body::Bytes), Answer> {
    let too_large = || {
        Answer::err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("The request body is larger than {} KiB.", MAX_BODY / 1024),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or("").trim().to_string();
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY))
        .await
        .map_err(|_| Answer::err(StatusCode::REQUEST_TIMEOUT, "too_slow", "The request body arrived too slowly."))?;
    let bytes = read.map_err(|e| {
        let over = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if over {
            too_large()
        } else {
            Answer::err(StatusCode::BAD_REQUEST, "bad_request", "The request body could not be read.")
        }
    })?;
    Ok((media, bytes))
}

/// Decodes a body already read, by media type.
pub fn decode<T: DeserializeOwned>(media: &str, bytes: &[u8]) -> Result<T, Answer> {
    match media {
        "application/json" => serde_json::from_slice(bytes).map_err(|e| {
            if e.is_data() {
                Answer::err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    format!(
                        "The request is missing a field or has a field of the wrong type ({}).",
                        describe(&e.to_string())
                    ),
                )
            } else {
                Answer::err(StatusCode::BAD_REQUEST, "invalid_json", "The request body is not valid JSON.")
            }
        }),
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(bytes).map_err(|e| {
            Answer::err(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("The form is missing a field or has a bad one ({e})."),
            )
        }),
        _ => Err(Answer::err(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send JSON (application/json) or an HTML form (application/x-www-form-urlencoded).",
        )),
    }
}

/// serde's reason without its position or our type names: "expected
/// struct WaitlistBody" says nothing to the caller; "a JSON object" does.
fn describe(message: &str) -> String {
    let reason = message.split(" at line ").next().unwrap_or(message);
    match reason.find("expected struct ") {
        Some(at) => format!("{}expected a JSON object", &reason[..at]),
        None => reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Form {
        email: String,
        note: Option<String>,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Any bytes, as JSON or as a form: an answer, never a panic, and
        /// never a 5xx.
        #[test]
        fn arbitrary_bodies_get_a_client_error(bytes in proptest::collection::vec(any::<u8>(), 0..512), json in any::<bool>()) {
            let media = if json { "application/json" } else { "application/x-www-form-urlencoded" };
            if let Err(a) = decode::<Form>(media, &bytes) {
                prop_assert!(a.status.is_client_error());
            }
        }

        /// Near-miss JSON (valid shapes with hostile values) decodes or is a 4xx.
        #[test]
        fn json_with_hostile_values(email in "\\PC{0,64}", note in proptest::option::of("\\PC{0,64}"), depth in 0usize..200) {
            let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            let body = serde_json::json!({ "email": email, "note": note, "extra": nested }).to_string();
            match decode::<Form>("application/json", body.as_bytes()) {
                Ok(f) => prop_assert_eq!(f.email, email),
                Err(a) => prop_assert!(a.status.is_client_error()),
            }
        }
    }
}
