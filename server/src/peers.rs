//! Calls to the other banks: signed (see [`crate::peer_auth`]) JSON POSTs of the typed messages of
//! [`engine::wire`] over a keep-alive connection pool, each with a timeout, each failure with its
//! cause.

use crate::peer_auth::Secret;
use domain::BankId;
use engine::wire::Route;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Why a call to another bank gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("bank {0} is not a member of this consortium")]
    NotMember(BankId),
    #[error("no answer in time")]
    Timeout,
    #[error("could not connect or the connection broke: {0}")]
    Unreachable(String),
    #[error("refused the request with status {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("answered something that is not the expected message: {0}")]
    BadAnswer(String),
}

/// Most of an error answer kept for the log.
const ERROR_BODY_LOGGED: usize = 200;

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

    /// Every other member.
    pub fn others(&self) -> impl Iterator<Item = BankId> + '_ {
        self.urls.keys().copied().filter(|b| *b != self.me)
    }

    /// Whether bank `to` answered the latest call made to it (any route). A cached answer from a
    /// bank is only trusted while this holds.
    pub fn answering(&self, to: BankId) -> bool {
        self.answering
            .get(&to)
            .is_some_and(|a| a.load(Ordering::Relaxed))
    }

    /// POSTs `body` to `route` at bank `to`, signed, within the client's default timeout.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        to: BankId,
        route: Route,
        body: &impl Serialize,
    ) -> Result<T, PeerError> {
        self.call_within(to, route, body, None).await
    }

    /// [`Peers::call`] with its own timeout instead of the client's default.
    pub async fn call_within<T: serde::de::DeserializeOwned>(
        &self,
        to: BankId,
        route: Route,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Result<T, PeerError> {
        let answer = self.try_call(to, route, body, timeout).await;
        if let Some(a) = self.answering.get(&to) {
            a.store(answer.is_ok(), Ordering::Relaxed);
        }
        if let Err(e) = &answer {
            tracing::debug!(peer = %to, route = route.path(), error = %e, "peer call failed");
        }
        answer
    }

    async fn try_call<T: serde::de::DeserializeOwned>(
        &self,
        to: BankId,
        route: Route,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Result<T, PeerError> {
        let base = self.urls.get(&to).ok_or(PeerError::NotMember(to))?;
        let path = route.path();
        let bytes = serde_json::to_vec(body).map_err(|e| PeerError::BadAnswer(e.to_string()))?;
        let mut req = self
            .http
            .post(format!("{base}{path}"))
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
        let res = req.body(bytes).send().await.map_err(transport)?;
        let status = res.status();
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            let message: String = text.chars().take(ERROR_BODY_LOGGED).collect();
            tracing::warn!(peer = %to, %status, path, %message, "peer refused a request");
            return Err(PeerError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        res.json().await.map_err(|e| {
            if e.is_timeout() {
                PeerError::Timeout
            } else {
                PeerError::BadAnswer(e.to_string())
            }
        })
    }
}

fn transport(e: reqwest::Error) -> PeerError {
    if e.is_timeout() {
        PeerError::Timeout
    } else {
        PeerError::Unreachable(e.to_string())
    }
}

pub use engine::wall_clock_ms;
