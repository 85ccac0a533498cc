//! An in-process `serve` on 127.0.0.1:0 for HTTP tests, and helpers to
//! read what it mailed.

use super::TestDb;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use velvet::config::Config;

pub struct Server {
    pub base: String,
    pub mail: tempfile::TempDir,
    pub running: Option<velvet::serve::Running>,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

pub async fn start(db: &TestDb, tune: impl FnOnce(&mut Config)) -> Server {
    let mail = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.serve.listen = "127.0.0.1:0".into();
    config.serve.mail = format!("file:{}", mail.path().display());
    if db.url.starts_with("postgres") {
        config.serve.secret = Some(super::TEST_SECRET.into());
    }
    tune(&mut config);
    let running = velvet::serve::start(db.velvet.clone(), &config).await.expect("server starts");
    Server { base: format!("http://{}", running.addr), mail, running: Some(running), http: reqwest::Client::new() }
}

impl Server {
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let r = req.send().await.expect("HTTP request");
        let status = r.status();
        let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        Reply { status, retry_after, body: r.text().await.unwrap() }
    }

    pub async fn post(&self, path: &str, body: Value, device: &str) -> Reply {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("x-device-id", device)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn get(&self, url: &str) -> Reply {
        let url = if url.starts_with("http") { url.to_string() } else { format!("{}{url}", self.base) };
        self.send(self.http.get(url)).await
    }

    /// Presses the "Confirm my place" button of a confirmation link: the
    /// form POST a browser sends (opening the link alone confirms nothing).
    pub async fn click(&self, link: &str) -> Reply {
        self.send(self.http.post(link).header("content-type", "application/x-www-form-urlencoded").body("")).await
    }

    /// Waits (up to 10 s) for a mail of `kind` to `to`, and returns its text.
    pub async fn mail_to(&self, to: &str, kind: &str) -> String {
        wait_for_mail(self.mail.path(), to, kind).await
    }
}

pub async fn wait_for_mail(dir: &Path, to: &str, kind: &str) -> String {
    super::eventually(&format!("a {kind} mail to {to}"), std::time::Duration::from_secs(10), || async {
        let mut found: Vec<(PathBuf, String)> = Vec::new();
        for f in std::fs::read_dir(dir).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.ends_with(&format!("-{kind}.eml")) {
                let text = std::fs::read_to_string(f.path()).unwrap();
                if text.lines().any(|l| l.trim_end() == format!("To: {to}")) {
                    found.push((f.path(), text));
                }
            }
        }
        found.sort();
        found.pop().map(|(_, text)| text)
    })
    .await
}

pub fn link_in(mail: &str) -> String {
    mail.split_whitespace().find(|w| w.contains("/v1/confirm/")).expect("a confirmation link").to_string()
}

pub fn code_in(mail: &str) -> String {
    mail.lines().find_map(|l| l.trim_end().strip_prefix("Invite code: ")).expect("an `Invite code:` line").to_string()
}
