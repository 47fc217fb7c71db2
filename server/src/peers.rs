//! Calls to the other banks: the typed messages of [`engine::wire`] as JSON POSTs over a
//! keep-alive connection pool, each with a timeout, each signed with this bank's key; every answer
//! must be signed by the bank asked, for this request, or it counts as no answer. Each failure
//! says its cause.

use crate::peer_auth::{Signed, Signer, Verifier};
use domain::BankId;
use engine::wire::{Call, Route};
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
    #[error("its answer is not signed by it for this request: {0}")]
    Unsigned(String),
}

/// Most of an error answer kept for the log.
const ERROR_BODY_LOGGED: usize = 200;
/// Largest answer read from another bank (the same bound as requests: answers about 256
/// transactions with their proofs are the largest).
pub const MAX_ANSWER_BYTES: usize = engine::wire::MAX_MESSAGE_BYTES;

/// An answer as it arrived: status, signature headers, body, and the hash of the request's body
/// it answers (which its signature covers).
pub struct SignedAnswer {
    pub status: u16,
    pub request_sha256: String,
    pub signed: Signed,
    pub body: Vec<u8>,
}

/// Everything needed to call another bank: where each is, this bank's signer, the verifier of
/// their answers, and an HTTP client with keep-alive.
#[derive(Clone)]
pub struct Peers {
    pub me: BankId,
    pub urls: BTreeMap<BankId, String>,
    signer: Arc<Signer>,
    verifier: Arc<Verifier>,
    pub http: reqwest::Client,
    /// Per peer: whether the latest call to it was answered (true until a call fails).
    answering: Arc<BTreeMap<BankId, AtomicBool>>,
}

impl Peers {
    pub fn new(
        urls: BTreeMap<BankId, String>,
        signer: Arc<Signer>,
        verifier: Arc<Verifier>,
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
            me: signer.me(),
            urls,
            signer,
            verifier,
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

    /// POSTs `msg` to its route at bank `to`, signed, within the client's default timeout: its
    /// answer, of the type the message declares.
    pub async fn call<M: Call>(&self, to: BankId, msg: &M) -> Result<M::Answer, PeerError> {
        self.call_within(to, msg, None).await
    }

    /// [`Peers::call`] with its own timeout instead of the client's default.
    pub async fn call_within<M: Call>(
        &self,
        to: BankId,
        msg: &M,
        timeout: Option<Duration>,
    ) -> Result<M::Answer, PeerError> {
        let answer = self.signed_call(to, msg, timeout).await;
        answer.and_then(|(_, _, a)| {
            serde_json::from_slice(&a.body).map_err(|e| PeerError::BadAnswer(e.to_string()))
        })
    }

    /// The call itself: the request as sent (headers and body) and the verified answer as
    /// received, for evidence.
    pub async fn signed_call<M: Call>(
        &self,
        to: BankId,
        msg: &M,
        timeout: Option<Duration>,
    ) -> Result<(Signed, Vec<u8>, SignedAnswer), PeerError> {
        let route = M::ROUTE;
        let answer = self.try_call(to, route, msg, timeout).await;
        if let Some(a) = self.answering.get(&to) {
            a.store(answer.is_ok(), Ordering::Relaxed);
        }
        if let Err(e) = &answer {
            tracing::debug!(peer = %to, route = route.path(), error = %e, "peer call failed");
        }
        answer
    }

    async fn try_call(
        &self,
        to: BankId,
        route: Route,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Result<(Signed, Vec<u8>, SignedAnswer), PeerError> {
        let base = self.urls.get(&to).ok_or(PeerError::NotMember(to))?;
        let path = route.path();
        let bytes = serde_json::to_vec(body).map_err(|e| PeerError::BadAnswer(e.to_string()))?;
        // Hashed once: the request's signature and the answer's both cover it.
        let request_sha256 = crate::peer_auth::sha256_hex(&bytes);
        let signed = self
            .signer
            .request_hashed(to, "POST", path, wall_clock_ms(), &request_sha256);
        let mut req = self
            .http
            .post(format!("{base}{path}"))
            .header("content-type", "application/json");
        for (k, v) in signed.headers() {
            req = req.header(k, v);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let mut res = req.body(bytes.clone()).send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let answer_signed =
            Signed::from_headers(|k| res.headers().get(k).and_then(|v| v.to_str().ok()));
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(PeerError::BadAnswer(format!(
                    "answer over {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        // Every answer must be the bank's own, errors too: an error nobody signed (a refusal
        // before the bank knew who asked, or one made up on the way) counts as no answer.
        let verified = self.verifier.verify_answer(
            to,
            &signed.nonce,
            &request_sha256,
            status,
            &answer_signed,
            &body,
            wall_clock_ms(),
        );
        if !(200..300).contains(&status) {
            let message: String = String::from_utf8_lossy(&body)
                .chars()
                .take(ERROR_BODY_LOGGED)
                .collect();
            tracing::warn!(peer = %to, status, path, %message, signed = verified.is_ok(), "peer refused a request");
            return Err(match verified {
                Ok(()) => PeerError::Refused { status, message },
                Err(e) => PeerError::Unsigned(format!("status {status} ({message}): {e}")),
            });
        }
        verified.map_err(|e| PeerError::Unsigned(e.to_string()))?;
        let answer = SignedAnswer {
            status,
            request_sha256,
            signed: answer_signed,
            body,
        };
        Ok((signed, bytes, answer))
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
