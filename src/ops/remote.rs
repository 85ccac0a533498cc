//! The remote side of [`super::Ops`]: the admin API of a `velvet serve`,
//! over HTTP(S) with the operator's bearer token. Errors come back as the
//! service's own (same sentence, same exit code), or as one sentence naming
//! the URL and what to check when the server is out of reach or failing.

use super::calls::{Call, Whoami, WhoamiCall};
use crate::service::{Error, Result};
use std::time::Duration;

/// How long to wait for a connection, and for any one answer (a bulk
/// approve of 100,000 people, an export page, the report).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// A server, reached with one operator's token.
pub struct Remote {
    base: String,
    /// The context it was named by, for messages.
    context: Option<String>,
    token: String,
    http: reqwest::Client,
    who: Whoami,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("base", &self.base).field("who", &self.who).finish_non_exhaustive()
    }
}

/// Checks a server URL before anything is sent to it: https, or http to
/// this machine only unless `insecure_http` (a token in clear text across a
/// network is a token given away). Returns it without a trailing slash.
pub fn check_url(url: &str, insecure_http: bool) -> std::result::Result<String, String> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| format!("'{url}' is not a URL ({e}): give one like https://velvet.example.com:8443"))?;
    let host = parsed.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_string();
    match parsed.scheme() {
        "https" => {}
        "http" if insecure_http || is_loopback(&host) => {}
        "http" => {
            return Err(format!(
                "{url} is plain http to another machine: the token would cross the network in clear text; \
                 put the admin listener behind TLS (https://…), or pass --insecure-http if this network is private"
            ));
        }
        other => return Err(format!("'{url}' is a {other}: URL; give an https:// (or loopback http://) URL")),
    }
    if host.is_empty() {
        return Err(format!("'{url}' names no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("'{url}' has a query or fragment; give the server's base URL"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Remote {
    /// Connects to `url` with `token` and asks who the token is: a wrong
    /// token or a server out of reach is known before any command runs.
    pub async fn connect(context: Option<&str>, url: &str, token: &str, insecure_http: bool) -> Result<Remote> {
        let base = check_url(url, insecure_http).map_err(Error::InvalidInput)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ANSWER_TIMEOUT)
            .user_agent(concat!("velvet/", env!("CARGO_PKG_VERSION")))
            // A redirect could carry the token to another scheme or host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Unreachable(format!("cannot set up HTTPS for {base}: {e}")))?;
        let mut remote = Remote {
            base,
            context: context.map(String::from),
            token: token.trim().to_string(),
            http,
            who: Whoami { operator: String::new(), role: crate::domain::Role::Viewer },
        };
        remote.who = remote.call(WhoamiCall {}).await?;
        Ok(remote)
    }

    pub fn who(&self) -> &Whoami {
        &self.who
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Does `call` on the server as the token's operator.
    pub async fn call<C: Call>(&self, call: C) -> Result<C::Reply> {
        let url = format!("{}/v1/admin/{}", self.base, C::PATH);
        let request = if C::GET {
            let query = serde_urlencoded::to_string(&call)
                .map_err(|e| Error::InvalidInput(format!("cannot put this request in a URL: {e}")))?;
            let url = if query.is_empty() { url } else { format!("{url}?{query}") };
            self.http.get(url)
        } else {
            let body = serde_json::to_vec(&call).map_err(|e| Error::InvalidInput(e.to_string()))?;
            self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body)
        };
        let response = request
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {}", self.token))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                Error::Unreachable(format!(
                    "{} answered {} with something velvet cannot read ({e}); is it a velvet server of the same version?",
                    self.base,
                    C::PATH
                ))
            });
        }
        Err(self.refusal(status.as_u16(), &body, retry_after))
    }

    fn named(&self) -> String {
        match &self.context {
            Some(c) => format!("{} (context {c})", self.base),
            None => self.base.clone(),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            chain = format!("{chain}: {s}");
            source = s.source();
        }
        let lower = chain.to_ascii_lowercase();
        // rustls reaches us as an I/O error of kind InvalidData, perhaps
        // inside another (a server that answers https without TLS:
        // "received corrupt message").
        let mut source = std::error::Error::source(e);
        let mut tls_io = false;
        while let Some(s) = source {
            let mut io = s.downcast_ref::<std::io::Error>();
            while let Some(i) = io {
                tls_io |= i.kind() == std::io::ErrorKind::InvalidData;
                io = i.get_ref().and_then(|inner| inner.downcast_ref::<std::io::Error>());
            }
            source = s.source();
        }
        let tls = self.base.starts_with("https://")
            && (tls_io || lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake"));
        let check = if tls {
            "the TLS connection failed: check the URL is the admin listener's https address and its certificate is \
             valid for that name"
        } else if e.is_timeout() {
            "no answer in time, so whether the call was done is unknown: check `velvet events --since 10m` \
             before trying again"
        } else {
            "check that `velvet serve --admin-listen …` runs there and that the URL in `velvet contexts` is right"
        };
        Error::Unreachable(format!("cannot reach {} ({chain}); {check}", self.named()))
    }

    fn refusal(&self, status: u16, body: &[u8], retry_after: Option<u64>) -> Error {
        #[derive(serde::Deserialize)]
        struct Body {
            error: String,
            message: String,
        }
        let parsed: Option<Body> = serde_json::from_slice(body).ok();
        match (status, parsed) {
            (401, _) => Error::Refused {
                code: crate::service::UNAUTHORIZED.into(),
                message: format!(
                    "{} did not accept the token: it is wrong, expired or revoked; ask an admin for a new one \
                     (`velvet operator token NAME`) and log in again (`velvet login NAME URL`)",
                    self.named()
                ),
            },
            (429, _) => Error::Refused {
                code: "slow_down".into(),
                message: format!(
                    "{} refuses this address for a while after too many failed logins; try again in {}",
                    self.named(),
                    match retry_after {
                        Some(s) if s < 90 => format!("{s} seconds"),
                        Some(s) => format!("{} minutes", s.div_ceil(60)),
                        None => "a few minutes".into(),
                    }
                ),
            },
            // velvet's own 500 and 503: the transaction was rolled back.
            (500..=599, Some(b)) if matches!(b.error.as_str(), "internal" | "unavailable") => {
                Error::Unreachable(format!(
                    "{} failed ({status}: {}); this call changed nothing, and the server's log says why",
                    self.named(),
                    b.message
                ))
            }
            // A proxy's 502/504 and the like: the server may have done it.
            (500..=599, _) => Error::Unreachable(format!(
                "{} answered {status} from something in front of velvet (a proxy?); whether the call was done \
                 is unknown: check `velvet events --since 10m` before trying again",
                self.named()
            )),
            (413, _) => Error::InvalidInput(format!("{} refused the request as too large", self.named())),
            (_, Some(b)) if matches!(b.error.as_str(), "invalid_input" | "invalid_email" | "invalid_code") => {
                Error::InvalidInput(b.message)
            }
            (_, Some(b)) => Error::Refused { code: b.error, message: b.message },
            (_, None) => Error::Unreachable(format!(
                "{} answered {status} without a velvet error; is the URL the admin listener of a velvet server?",
                self.named()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn plain_http_is_for_this_machine_only() {
        assert_eq!(check_url("http://127.0.0.1:9000/", false).unwrap(), "http://127.0.0.1:9000");
        assert!(check_url("http://localhost:9000", false).is_ok());
        assert!(check_url("http://[::1]:9000", false).is_ok());
        assert!(check_url("https://velvet.example.com", false).is_ok());
        let refused = check_url("http://10.0.0.5:9000", false).unwrap_err();
        assert!(refused.contains("clear text") && refused.contains("--insecure-http"), "{refused}");
        assert!(check_url("http://10.0.0.5:9000", true).is_ok());
        assert!(check_url("ftp://x", false).unwrap_err().contains("ftp"));
        assert!(check_url("velvet.example.com", false).unwrap_err().contains("not a URL"));
    }
}
