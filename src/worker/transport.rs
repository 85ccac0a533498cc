//! Where messages go: `log` (no body: it carries a secret), `file:DIR`
//! (one .eml per delivery attempt), `smtp://…` (lettre; TLS required, by
//! STARTTLS or a TLS wrapper, except towards loopback); and the signed
//! webhook POST.

use crate::config::WebhookFormat;
use crate::domain::Email;
use crate::service::{AlertPage, OutgoingMail};
use hmac::{Hmac, Mac};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;
use std::path::PathBuf;
use std::time::Duration;

pub enum MailTransport {
    Log,
    File(PathBuf),
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
}

impl MailTransport {
    /// `log`, `file:DIR`, or `smtp://[user:pass@]host[:port][?tls=starttls|required|tls|opportunistic|none]`.
    /// `starttls` and `required` both demand STARTTLS (a server, or someone
    /// in the middle, that does not offer it gets nothing); `opportunistic`
    /// (plain text when STARTTLS is missing) only for loopback hosts, where
    /// it is the default. Remote hosts default to `required`.
    pub fn parse(spec: &str) -> Result<MailTransport, String> {
        if spec == "log" {
            return Ok(MailTransport::Log);
        }
        if let Some(dir) = spec.strip_prefix("file:") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create mail folder {}: {e}", dir.display()))?;
            return Ok(MailTransport::File(dir));
        }
        if spec.starts_with("smtp://") {
            return smtp(spec).map(|t| MailTransport::Smtp(Box::new(t)));
        }
        Err(format!("mail transport '{spec}' is not log, file:DIR or smtp://HOST[:PORT]"))
    }

    pub fn describe(&self) -> String {
        match self {
            MailTransport::Log => "log (bodies not shown)".into(),
            MailTransport::File(d) => format!("file:{}", d.display()),
            MailTransport::Smtp(_) => "smtp".into(),
        }
    }

    pub async fn send(&self, from: &Mailbox, mail: &OutgoingMail) -> Result<(), String> {
        let to: Mailbox = mail.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(plain_body(&mail.body))
            .map_err(|e| format!("cannot build the message: {e}"))?;
        match self {
            MailTransport::Log => {
                let shown = Email::parse(&mail.to).map(|e| e.masked()).unwrap_or_else(|_| "?".into());
                tracing::info!(to = %shown, kind = %mail.kind, subject = %mail.subject, "mail sent (log transport)");
                Ok(())
            }
            MailTransport::File(dir) => {
                // One file per delivery attempt: a message sent twice (after
                // an interrupted delivery) shows as two files, never one
                // silently overwritten.
                let name = format!("{:08}-{:02}-{}.eml", mail.outbox_id, mail.attempts, mail.kind);
                let tmp = dir.join(format!(".{name}.tmp"));
                tokio::fs::write(&tmp, message.formatted())
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
                tokio::fs::rename(&tmp, dir.join(&name))
                    .await
                    .map_err(|e| format!("cannot move {name} into place: {e}"))
            }
            MailTransport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| smtp_error(&e.to_string())),
        }
    }
}

/// 7-bit text when it is ASCII with lines under RFC 5322's 998 limit, so
/// links and `Invite code:` lines stay whole for people and for programs
/// reading the message (lettre would otherwise wrap lines over 76 in
/// quoted-printable).
fn plain_body(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = crlf.is_ascii() && crlf.split("\r\n").all(|line| line.len() < 998 && !line.contains('\r'));
    if fits {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(crlf)
    }
}

/// Says plainly when a delivery failed because TLS is required and the
/// server (or someone stripping it on the way) did not offer STARTTLS.
fn smtp_error(e: &str) -> String {
    if e.contains("STARTTLS is not supported") {
        format!("smtp: TLS is required but the server did not offer STARTTLS ({e}); not sent in plain text, will retry")
    } else {
        format!("smtp: {e}")
    }
}

fn smtp(spec: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let bad = |why: &str| format!("mail transport '{}': {why}", crate::store::Redacted(spec));
    let rest = &spec["smtp://".len()..];
    let (rest, query) = rest.split_once('?').map(|(r, q)| (r, Some(q))).unwrap_or((rest, None));
    let (creds, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, Some(p.parse::<u16>().map_err(|_| bad("bad port"))?))
        }
        _ => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let mode = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("tls="))).unwrap_or(if loopback {
        "opportunistic"
    } else {
        "required"
    });
    let params = || TlsParameters::new(host.clone()).map_err(|e| bad(&format!("TLS setup: {e}")));
    let (tls, default_port) = match mode {
        "none" => (Tls::None, 25),
        "opportunistic" if loopback => (Tls::Opportunistic(params()?), 587),
        "opportunistic" => {
            return Err(bad(
                "tls=opportunistic is only for loopback hosts (plain text when STARTTLS is stripped); use tls=starttls or tls=tls",
            ));
        }
        "starttls" | "required" => (Tls::Required(params()?), 587),
        "tls" => (Tls::Wrapper(params()?), 465),
        other => return Err(bad(&format!("tls={other} is not starttls, required, tls, opportunistic or none"))),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(port.unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let Some(c) = creds {
        let (user, pass) = c.split_once(':').unwrap_or((c, ""));
        builder = builder.credentials(Credentials::new(user.to_string(), pass.to_string()));
    }
    Ok(builder.build())
}

/// POSTs webhook bodies with `Velvet-Signature: t=UNIX,v1=HEX`, where HEX is
/// HMAC-SHA256(secret, "UNIX.BODY").
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: String,
}

pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    crate::domain::hex::hex(&mac.finalize().into_bytes())
}

impl Webhook {
    pub fn new(url: String, secret: String) -> Result<Webhook, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("webhook_url '{url}' must start with http:// or https://"));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        Ok(Webhook { client, url, secret })
    }

    pub async fn send(&self, body: &str, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
        let t = now.timestamp();
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("velvet-signature", format!("t={t},v1={}", sign(&self.secret, t, body)))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("webhook: {}", e.without_url()))?;
        if response.status().is_success() { Ok(()) } else { Err(format!("webhook answered {}", response.status())) }
    }
}

/// POSTs alert pages to `[alerts] webhook_url`: `{"text": SUMMARY}` for
/// Slack-compatible endpoints, or velvet's JSON signed as [`Webhook`] does.
pub struct AlertWebhook {
    client: reqwest::Client,
    url: String,
    format: WebhookFormat,
    secret: Option<String>,
}

impl AlertWebhook {
    pub fn new(url: String, format: WebhookFormat, secret: Option<String>) -> Result<AlertWebhook, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            // Not echoed: a chat webhook's URL is its secret.
            return Err("[alerts] webhook_url must start with http:// or https://".into());
        }
        if format == WebhookFormat::Velvet && secret.as_deref().is_none_or(str::is_empty) {
            return Err("[alerts] webhook_format = \"velvet\" signs each page: set [alerts] webhook_secret (or [serve] webhook_secret)".into());
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the alert webhook client: {e}"))?;
        Ok(AlertWebhook { client, url, format, secret })
    }

    /// The body posted for a queued page (velvet's JSON, see `AlertPage`).
    pub fn body(&self, payload: &str) -> Result<String, String> {
        match self.format {
            WebhookFormat::Velvet => Ok(payload.to_string()),
            WebhookFormat::Slack => {
                let page: AlertPage =
                    serde_json::from_str(payload).map_err(|e| format!("alert page is not readable: {e}"))?;
                Ok(serde_json::json!({ "text": page.summary }).to_string())
            }
        }
    }

    pub async fn send(&self, payload: &str, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
        let body = self.body(payload)?;
        let mut request = self.client.post(&self.url).header("content-type", "application/json");
        if let (WebhookFormat::Velvet, Some(secret)) = (self.format, &self.secret) {
            let t = now.timestamp();
            request = request.header("velvet-signature", format!("t={t},v1={}", sign(secret, t, &body)));
        }
        let response = request.body(body).send().await.map_err(|e| format!("alert webhook: {}", e.without_url()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("alert webhook answered {}", response.status()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_parse_with_clear_errors() {
        assert!(matches!(MailTransport::parse("log"), Ok(MailTransport::Log)));
        assert!(MailTransport::parse("smtp://mail.example.com:587").is_ok());
        assert!(MailTransport::parse("smtp://u:p@127.0.0.1:2525?tls=none").is_ok());
        let err = MailTransport::parse("smtp://u:hunter2@h:99999").err().unwrap();
        assert!(err.contains("bad port") && !err.contains("hunter2"), "{err}");
        assert!(MailTransport::parse("carrier-pigeon").err().unwrap().contains("not log, file:DIR"));
        assert!(MailTransport::parse("smtp://h?tls=maybe").err().unwrap().contains("tls=maybe"));
        let err = MailTransport::parse("smtp://mail.example.com?tls=opportunistic").err().unwrap();
        assert!(err.contains("only for loopback"), "{err}");
        assert!(MailTransport::parse("smtp://127.0.0.1:2525?tls=opportunistic").is_ok());
        assert!(smtp_error("client error: STARTTLS is not supported on this server").contains("TLS is required"));
    }

    #[test]
    fn alert_pages_are_slack_text_or_velvet_json_and_velvet_needs_a_secret() {
        let err = AlertWebhook::new("https://h.example/x".into(), WebhookFormat::Velvet, None).err().unwrap();
        assert!(err.contains("webhook_secret"), "{err}");
        let err = AlertWebhook::new("hooks.example/T0/B0/s3cret".into(), WebhookFormat::Slack, None).err().unwrap();
        assert!(err.contains("http://") && !err.contains("s3cret"), "the URL is not echoed: {err}");
        let page = r#"{"event":"alert","rule":"bad_codes","text":"31 bad codes","since":"2026-11-20T09:01:00Z","at":"2026-11-20T09:01:00Z","command":"velvet console","summary":"velvet ALERT bad_codes: 31 bad codes"}"#;
        let slack = AlertWebhook::new("https://h.example/x".into(), WebhookFormat::Slack, None).unwrap();
        assert_eq!(slack.body(page).unwrap(), r#"{"text":"velvet ALERT bad_codes: 31 bad codes"}"#);
        let velvet = AlertWebhook::new("https://h.example/x".into(), WebhookFormat::Velvet, Some("k".into())).unwrap();
        assert_eq!(velvet.body(page).unwrap(), page, "velvet's JSON as queued");
        assert!(slack.body("not json").is_err(), "an unreadable page is a failed delivery, not a panic");
    }

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'key', b'1.{}', hashlib.sha256).hexdigest())"
        let sig = sign("key", 1, "{}");
        assert_eq!(sig, "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
        assert_ne!(sig, sign("key", 2, "{}"));
        assert_ne!(sig, sign("other", 1, "{}"));
    }
}
