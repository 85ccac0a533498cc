//! Hostile input over real HTTP, on both backends: a corpus of malformed
//! and malicious requests sent byte for byte (tests/corpus/), hostile JSON
//! and form bodies, and slowloris-style trickles. Each is answered 4xx,
//! nothing that should not be is stored, nothing panics, and the server
//! goes on serving.

mod common;

use common::TestDb;
use common::server::start;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    the_corpus_of_hostile_requests_gets_4xx,
    hostile_bodies_get_4xx,
    hostile_payloads_get_4xx_and_store_nothing,
    a_trickling_body_is_cut_off,
    a_flood_with_a_fresh_device_each_time_stays_cheap,
    trickling_headers_are_cut_off,
);

const CORPUS: &str = include_str!("corpus/hostile-requests.txt");

#[derive(Debug)]
enum Expect {
    Status(u16),
    AnyClientError,
    ClientErrorOrClose,
}

struct Case {
    name: String,
    expect: Expect,
    bytes: Vec<u8>,
}

/// Expands `{repeat N TEXT}` (`\}` is a literal brace inside TEXT).
fn expand(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("{repeat ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "{repeat ".len()..];
        let (count, after) = after.split_once(' ').expect("{repeat N TEXT}");
        let count: usize = count.parse().expect("a repeat count");
        let mut unit = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("an unterminated {repeat}") {
                (_, '\\') if after[chars.clone().next().unwrap().0..].starts_with('}') => {
                    chars.next();
                    unit.push('}');
                }
                (i, '}') => break i,
                (_, c) => unit.push(c),
            }
        };
        out.push_str(&unit.repeat(count));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Decodes \r \n \t \\ \xNN and \u{NNNN}; any other backslash stays as is
/// (so JSON's own escapes such as \u0000 reach the server untouched).
fn decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let next = if b[i] == b'\\' { b.get(i + 1).copied() } else { None };
        let (bytes, used): (Vec<u8>, usize) = match next {
            Some(b'r') => (vec![b'\r'], 2),
            Some(b'n') => (vec![b'\n'], 2),
            Some(b't') => (vec![b'\t'], 2),
            Some(b'\\') => (vec![b'\\'], 2),
            Some(b'x') => (vec![u8::from_str_radix(&text[i + 2..i + 4], 16).expect("\\xNN")], 4),
            Some(b'u') if b.get(i + 2) == Some(&b'{') => {
                let close = i + text[i..].find('}').expect("\\u{...}");
                let c = char::from_u32(u32::from_str_radix(&text[i + 3..close], 16).expect("hex")).expect("a char");
                (c.to_string().into_bytes(), close + 1 - i)
            }
            _ => (vec![b[i]], 1),
        };
        out.extend(bytes);
        i += used;
    }
    out
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    for block in CORPUS.split("\n=== ").skip(1) {
        let mut lines: Vec<&str> = block.lines().collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let name = lines.remove(0).to_string();
        let expect = match lines.remove(0).strip_prefix("expect: ").expect("an expect: line") {
            "4xx" => Expect::AnyClientError,
            "4xx or close" => Expect::ClientErrorOrClose,
            n => Expect::Status(n.parse().expect("expect: 4xx, 4xx or close, or a status")),
        };
        let bytes = if lines.first() == Some(&"raw: yes") {
            decode(&expand(&lines[1..].join("")))
        } else {
            let split = lines.iter().position(|l| l.is_empty()).unwrap_or(lines.len());
            let body = decode(&expand(&lines.get(split + 1..).unwrap_or_default().join("\n")));
            let head =
                lines[..split].join("\r\n").replace("Content-Length: auto", &format!("Content-Length: {}", body.len()));
            let mut bytes = decode(&expand(&head));
            bytes.extend_from_slice(b"\r\n\r\n");
            bytes.extend(body);
            bytes
        };
        cases.push(Case { name, expect, bytes });
    }
    cases
}

/// Sends `bytes` on a fresh connection, half-closes it, and reads the
/// whole answer (the server closes after answering).
async fn exchange(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and hang up before a huge request is all sent.
    let _ = sock.write_all(bytes).await;
    let _ = sock.shutdown().await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), sock.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer and no close within 20 s");
    answer
}

/// Counts panics anywhere in this test binary: a handler that panics has
/// its connection dropped, which could pass for a "close" answer.
fn panics() -> &'static std::sync::atomic::AtomicUsize {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            previous(info);
        }));
    });
    &COUNT
}

/// Signup and redeem limits off: these tests are about parsing, not pacing.
fn parse_not_pace(c: &mut velvet::config::Config) {
    c.limits.signup = velvet::config::ActionLimits::OFF;
    c.limits.redeem = velvet::config::ActionLimits::OFF;
}

async fn the_corpus_of_hostile_requests_gets_4xx(db: TestDb) {
    let panicked_before = panics().load(std::sync::atomic::Ordering::SeqCst);
    let s = start(&db, |c| {
        parse_not_pace(c);
        c.limits.confirm = velvet::config::ActionLimits::OFF;
        c.limits.cooldown.failures = 0;
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let cases = corpus();
    assert!(cases.len() >= 50, "the corpus parsed: {} cases", cases.len());
    for case in &cases {
        let answer = exchange(&addr, &case.bytes).await;
        let text = String::from_utf8_lossy(&answer);
        let status: Option<u16> = text.strip_prefix("HTTP/1.").and_then(|r| r.get(2..5)).and_then(|s| s.parse().ok());
        let ok = match (&case.expect, status) {
            (Expect::Status(want), Some(got)) => *want == got,
            (Expect::AnyClientError | Expect::ClientErrorOrClose, Some(got)) => (400..500).contains(&got),
            (Expect::ClientErrorOrClose, None) => answer.is_empty(),
            _ => false,
        };
        assert!(
            ok,
            "{}: expected {:?}, got {:?}\n{}",
            case.name,
            case.expect,
            status,
            text.chars().take(600).collect::<String>()
        );
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        if head.to_ascii_lowercase().contains("content-type: application/json") {
            let v: serde_json::Value =
                serde_json::from_str(body).unwrap_or_else(|_| panic!("{}: not JSON: {body}", case.name));
            assert!(v["error"].is_string() && v["message"].is_string(), "{}: {body}", case.name);
        }
        assert!(
            !body.contains("<script>") && !body.contains("<img") && !body.contains("<b>"),
            "{}: input echoed unescaped: {body}",
            case.name
        );
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 0, "no hostile request stored a person");
    assert_eq!(db.count("SELECT COUNT(*) FROM redemptions").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM confirm_tokens").await, 0);
    assert_eq!(s.get("/healthz").await.status.as_u16(), 200, "still serving");
    let metrics = s.get("/metrics").await.body;
    assert!(!metrics.lines().any(|l| l.contains("status=\"5")), "no 5xx was answered:\n{metrics}");
    assert_eq!(
        panics().load(std::sync::atomic::Ordering::SeqCst),
        panicked_before,
        "something panicked while answering the corpus"
    );
    s.stop().await;
}

async fn hostile_bodies_get_4xx(db: TestDb) {
    let s = start(&db, parse_not_pace).await;
    let url = format!("{}/v1/waitlist", s.base);
    let post = |body: Vec<u8>, ct: &'static str| {
        s.http.post(&url).header("content-type", ct).header("x-device-id", "hostile").body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            post(format!("{{\"email\":\"{}@example.com\"}}", "a".repeat(17 * 1024)).into_bytes(), "application/json"),
            413,
            "too_large",
        ),
        (post(b"{\"email\": ".to_vec(), "application/json"), 400, "invalid_json"),
        (post(b"{\"email\": \"\xff\xfe@example.com\"}".to_vec(), "application/json"), 400, "invalid_json"),
        (post(b"email=a@example.com".to_vec(), "text/plain"), 415, "unsupported_media_type"),
        (post(b"{\"email\": 5}".to_vec(), "application/json"), 422, "invalid_request"),
        (post(b"{}".to_vec(), "application/json"), 422, "invalid_request"),
        (
            post(format!("{{\"email\":\"{}@example.com\"}}", "a".repeat(300)).into_bytes(), "application/json"),
            422,
            "invalid_email",
        ),
        (post("[".repeat(5000).into_bytes(), "application/json"), 422, "invalid_request"),
        (
            post(
                format!("{{\"email\":\"a@example.com\",\"x\":{}}}", "[".repeat(5000)).into_bytes(),
                "application/json",
            ),
            400,
            "invalid_json",
        ),
        (post(b"email=%FF%FE%40x.com".to_vec(), "application/x-www-form-urlencoded"), 422, "invalid_email"),
        (
            post(b"email=ada%40example.com&note=%00%01".to_vec(), "application/x-www-form-urlencoded"),
            422,
            "invalid_request",
        ),
        (post("{\"email\":\"ad\u{202e}a@example.com\"}".as_bytes().to_vec(), "application/json"), 422, "invalid_email"),
    ];
    for (i, (req, status, code)) in cases.into_iter().enumerate() {
        let r = s.send(req).await;
        assert_eq!((r.status.as_u16(), r.json()["error"].as_str()), (status, Some(code)), "case {i}: {}", r.body);
    }
    let r = s.post("/v1/redeem", json!({ "code": "abc", "email": "a@example.com" }), "hostile").await;
    assert_eq!((r.status.as_u16(), r.json()["error"].as_str()), (422, Some("invalid_code")));
    let r = s.post("/v1/redeem", json!({ "code": "x".repeat(10_000), "email": "a@example.com" }), "hostile").await;
    assert_eq!(r.status.as_u16(), 422);
    let r = s.send(s.http.put(&url)).await;
    assert_eq!(r.status.as_u16(), 405);
    assert_eq!(s.get("/nowhere").await.status.as_u16(), 404);
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 0, "nothing stored from hostile input");
    s.stop().await;
}

async fn hostile_payloads_get_4xx_and_store_nothing(db: TestDb) {
    let s = start(&db, parse_not_pace).await;
    let payloads = [
        "'; DROP TABLE entries; --@example.com",
        "<script>alert(1)</script>@example.com",
        "a@example.com\\u0000",
        "a\\u0000b@example.com",
        "pаypal@example.com",
        "admin@exa\\u202emple.com",
        "\\u200bzero@example.com",
        "x@example.com' OR '1'='1",
    ];
    for p in payloads {
        let body = format!("{{\"email\": \"{p}\", \"note\": \"<img src=x onerror=alert(1)>\"}}");
        let r = s
            .send(s.http.post(format!("{}/v1/waitlist", s.base)).header("content-type", "application/json").body(body))
            .await;
        assert_eq!(r.status.as_u16(), 422, "{p}: {}", r.body);
        let body = format!("{{\"code\": \"{p}\", \"email\": \"{p}\"}}");
        let r = s
            .send(s.http.post(format!("{}/v1/redeem", s.base)).header("content-type", "application/json").body(body))
            .await;
        assert_eq!(r.status.as_u16(), 422, "{p}: {}", r.body);
    }
    // A script in a field that is stored is stored as text and echoed escaped.
    let r = s
        .send(
            s.http
                .post(format!("{}/v1/waitlist", s.base))
                .header("accept", "text/html")
                .form(&[("email", "ok@example.com"), ("note", "<script>x</script>")]),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202);
    assert!(!r.body.contains("<script>x"));
    // Huge headers are refused by the HTTP layer, not by a crash.
    let r = s.send(s.http.get(format!("{}/healthz", s.base)).header("x-junk", "a".repeat(200_000))).await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 1, "only the well-formed signup");
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK, "still serving");
    s.stop().await;
}

async fn a_trickling_body_is_cut_off(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/waitlist HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    // ...and never the rest. The server answers 408 after its body timeout.
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), sock.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("too_slow"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 0);
    s.stop().await;
}

async fn trickling_headers_are_cut_off(db: TestDb) {
    let s = start(&db, |_| {}).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(b"POST /v1/waitlist HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // ...and the headers never end. The server hangs up after its header timeout.
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(30), sock.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection was still open after 30 s");
    assert!(started.elapsed() >= std::time::Duration::from_secs(5), "closed too early");
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK, "others are served meanwhile");
    s.stop().await;
}

/// A bot rotating its device id (and email) on every request from one
/// address: once the address is over its limit, each request is refused
/// from memory, with no database read and no new key kept.
async fn a_flood_with_a_fresh_device_each_time_stays_cheap(db: TestDb) {
    let s = start(&db, |c| c.serve.public_answer_ms = 0).await;
    let keys = |metrics: &str| -> i64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("velvet_rate_limit_keys "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the keys gauge")
    };
    let mut codes = std::collections::BTreeMap::new();
    let mut before = None;
    for i in 0..400 {
        let r = s.post("/v1/waitlist", json!({ "email": format!("rot{i}@example.com") }), &format!("device-{i}")).await;
        *codes.entry(r.status.as_u16()).or_insert(0) += 1;
        if i == 50 {
            // Past the limit: the key count must stop growing from here.
            let n = keys(&s.get("/metrics").await.body);
            assert!(n < 60, "{n} keys after 50 requests");
            before = Some(n);
        }
    }
    let after = keys(&s.get("/metrics").await.body);
    assert_eq!(Some(after), before, "refused requests left keys behind");
    assert_eq!(codes.get(&202), Some(&10), "the address limit: {codes:?}");
    assert_eq!(codes.get(&429), Some(&390));
    assert_eq!(db.count("SELECT COUNT(*) FROM entries").await, 10);
    s.stop().await;
}
