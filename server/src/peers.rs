//! Calls to the other banks: signed (HMAC, see [`crate::peer_auth`]) JSON POSTs over a keep-alive
//! connection pool, each with a timeout.

use crate::peer_auth::Secret;
use domain::BankId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Peers, the secret and an HTTP client with keep-alive: everything needed to call another bank.
#[derive(Clone)]
pub struct Peers {
    pub me: BankId,
    pub urls: BTreeMap<BankId, String>,
    pub secret: Secret,
    pub http: reqwest::Client,
    /// Per peer: whether the latest call to it was answered (true until a call fails).
    answering: Arc<BTreeMap<BankId, AtomicBool>>,
}

impl Peers {
    pub fn new(
        me: BankId,
        urls: BTreeMap<BankId, String>,
        secret: Secret,
        timeout: Duration,
    ) -> Peers {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .expect("building the peer HTTP client");
        let answering = Arc::new(urls.keys().map(|b| (*b, AtomicBool::new(true))).collect());
        Peers {
            me,
            urls,
            secret,
            http,
            answering,
        }
    }

    /// Whether bank `to` answered the latest call made to it (any route). A cached answer from a
    /// bank is only trusted while this holds.
    pub fn answering(&self, to: BankId) -> bool {
        self.answering
            .get(&to)
            .is_some_and(|a| a.load(Ordering::Relaxed))
    }

    /// POSTs `body` as JSON to `path` at bank `to`, signed; `None` on any failure or timeout.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        to: BankId,
        path: &str,
        body: &impl Serialize,
    ) -> Option<T> {
        self.call_within(to, path, body, None).await
    }

    /// [`Peers::call`] with its own timeout instead of the client's default.
    pub async fn call_within<T: serde::de::DeserializeOwned>(
        &self,
        to: BankId,
        path: &str,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Option<T> {
        let answer = self.try_call(to, path, body, timeout).await;
        if let Some(a) = self.answering.get(&to) {
            a.store(answer.is_some(), Ordering::Relaxed);
        }
        answer
    }

    async fn try_call<T: serde::de::DeserializeOwned>(
        &self,
        to: BankId,
        path: &str,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Option<T> {
        let url = format!("{}{path}", self.urls.get(&to)?);
        let bytes = serde_json::to_vec(body).ok()?;
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json");
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        for (k, v) in self
            .secret
            .sign("POST", path, self.me, wall_clock_ms(), &bytes)
        {
            req = req.header(k, v);
        }
        let res = req.body(bytes).send().await.ok()?;
        if !res.status().is_success() {
            tracing::warn!(peer = %to, status = %res.status(), path, "peer refused a request");
            return None;
        }
        res.json().await.ok()
    }
}

pub fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
