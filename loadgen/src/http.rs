//! HTTP to the banks: posting forms or JSON with re-sends of the same request, and reading the
//! error messages the banks answer with.

use serde_json::Value;
use std::time::Duration;

pub enum Body {
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

/// What one request (with its re-sends) came to.
pub enum Answer {
    /// A status other than 503, with its body.
    Final(u16, String),
    /// Still 503 after every re-send.
    Unavailable(String),
    /// Still no answer (connection refused, timeout...) after every re-send.
    Transport(String),
}

impl Answer {
    /// The answer as an error: `"<status> <message>"`, `"503 <message>"` or the transport error.
    pub fn describe(self) -> String {
        match self {
            Answer::Final(s, t) => format!("{s} {}", error_message(&t)),
            Answer::Unavailable(t) => format!("503 {}", error_message(&t)),
            Answer::Transport(e) => e,
        }
    }
}

/// A client with its own cookie jar: one session at a bank.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// A client without cookies and with a shorter timeout, for reading the banks' `/status`.
pub fn status_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
}

async fn post_once(
    http: &reqwest::Client,
    url: &str,
    body: &Body,
) -> Result<(u16, String), String> {
    let req = http.post(url).header("Accept", "application/json");
    let req = match body {
        Body::Form(fields) => req.form(fields),
        Body::Json(v) => req.json(v),
    };
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// Posts, re-sending the very same request (same transaction id) after a 503 or a transport error,
/// up to `retries` times with a growing pause. Returns the answer and how many re-sends it took.
pub async fn post(http: &reqwest::Client, url: &str, body: &Body, retries: u32) -> (Answer, u32) {
    let mut last = Answer::Transport("not sent".into());
    for attempt in 0..=retries {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(
                (50u64 << (attempt - 1).min(5)).min(1_000),
            ))
            .await;
        }
        match post_once(http, url, body).await {
            Ok((503, text)) => last = Answer::Unavailable(text),
            Ok((status, text)) => return (Answer::Final(status, text), attempt),
            Err(e) => last = Answer::Transport(e),
        }
    }
    (last, retries)
}

/// A POST answered with a redirect (as the app's script sees it): status, `Location`, body.
pub async fn post_redirect(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, String)],
) -> Result<(u16, Option<reqwest::Url>, String), String> {
    let resp = http
        .post(url)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| reqwest::Url::parse(v).ok());
    Ok((
        status,
        location,
        resp.text().await.map_err(|e| e.to_string())?,
    ))
}

/// The value of query parameter `name` in `url` (empty when absent).
pub fn query(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    resp.json().await.map_err(|e| e.to_string())
}

/// `text` trimmed and cut to 160 characters (with `…` when cut).
pub fn short(text: &str) -> String {
    let t = text.trim();
    let cut: String = t.chars().take(160).collect();
    if cut.len() < t.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The message inside a server-function error body (`{"Refused":"..."}` and the like).
pub fn error_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => match m.into_iter().next() {
            Some((kind, Value::String(msg))) => format!("{kind}: {msg}"),
            Some((kind, Value::Object(inner))) => {
                format!(
                    "{kind}: {}",
                    inner.get("message").and_then(Value::as_str).unwrap_or("")
                )
            }
            Some((kind, _)) => kind,
            None => short(body),
        },
        Ok(Value::String(s)) => s,
        _ => short(body),
    }
}
