//! The API other banks call: one route per [`Route`] of [`engine::wire`], each behind
//! [`verify_peer`]. Without peers (a bank alone) there is no such API at all.

use crate::config::Config;
use crate::consortium::Node;
use crate::peer_auth::{
    Signed, Verifier, HEADER_BANK, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_VERSION,
};
use crate::peers::wall_clock_ms;
use crate::ring_driver::RingHandle;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use domain::BankId;
use engine::ring::Token;
use engine::twopc::MAX_ITEMS_PER_MESSAGE;
use engine::wire::{
    AccountAnswer, AccountMsg, DecideMsg, LookupMsg, PrepareMsg, ResolveMsg, Route,
    PROTOCOL_VERSION,
};
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;

/// Largest inter-bank request: a prepare of 256 packets of 16 legs fits, with room.
pub const MAX_INTERBANK_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn router(
    config: &Config,
    ring: Option<RingHandle>,
    node: Option<Arc<Node>>,
) -> Router<LeptosOptions> {
    let (Some(secret), Some(ring), Some(node)) = (config.secret.clone(), ring, node) else {
        return Router::new();
    };
    let verifier = Arc::new(Verifier::new(
        secret,
        config.peers.keys().copied().collect(),
    ));
    let mut router = Router::new();
    for route in Route::ALL {
        let path = route.path();
        router = match route {
            Route::Token => router.route(path, post(deliver)),
            Route::Probe => router.route(path, post(probe)),
            Route::Hurry => router.route(path, post(hurry)),
            Route::Prepare => router.route(path, post(prepare)),
            Route::Decide => router.route(path, post(decide)),
            Route::Resolve => router.route(path, post(resolve)),
            Route::Lookup => router.route(path, post(lookup)),
            Route::Account => router.route(path, post(account)),
        };
    }
    router
        .layer(Extension(node))
        .layer(Extension(ring))
        .layer(axum::middleware::from_fn_with_state(verifier, verify_peer))
        .layer(RequestBodyLimitLayer::new(MAX_INTERBANK_BODY_BYTES))
}

/// The bank that signed the request (set by [`verify_peer`]).
#[derive(Clone, Copy)]
struct PeerBank(BankId);

fn too_many(n: usize) -> Option<Response> {
    (n > MAX_ITEMS_PER_MESSAGE).then(|| {
        (
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_ITEMS_PER_MESSAGE} items per message"),
        )
            .into_response()
    })
}

fn engine_unavailable(e: engine::EngineError) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
}

async fn prepare(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(msg): Json<PrepareMsg>,
) -> Response {
    if let Some(r) = too_many(msg.items.len()).or_else(|| too_many(msg.decisions.len())) {
        return r;
    }
    match node.serve_prepare(from, msg).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => engine_unavailable(e),
    }
}

async fn decide(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(msg): Json<DecideMsg>,
) -> Response {
    if let Some(r) = too_many(msg.items.len()) {
        return r;
    }
    match node.engine().decide(from, msg.items).await {
        Ok(acked) => Json(acked).into_response(),
        Err(e) => engine_unavailable(e),
    }
}

async fn resolve(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(msg): Json<ResolveMsg>,
) -> Response {
    if let Some(r) = too_many(msg.txs.len()) {
        return r;
    }
    Json(node.resolve_many(from, msg.txs).await).into_response()
}

async fn lookup(Extension(node): Extension<Arc<Node>>, Json(msg): Json<LookupMsg>) -> Response {
    match node.engine().lookup_key(msg.key).await {
        Ok(preview) => Json(Some(preview)).into_response(),
        Err(engine::EngineError::Ledger(engine::LedgerError::UnknownAccount)) => {
            Json(None::<()>).into_response()
        }
        Err(e) => engine_unavailable(e),
    }
}

async fn account(Extension(node): Extension<Arc<Node>>, Json(msg): Json<AccountMsg>) -> Response {
    if msg.owners.len() > 2 {
        return (StatusCode::BAD_REQUEST, "at most two owners").into_response();
    }
    match node.engine().account_of(msg.owners).await {
        Ok(found) => Json(found.map(|a| AccountAnswer {
            account: a.id,
            available: a.available,
            blocked: a.blocked,
        }))
        .into_response(),
        Err(e) => engine_unavailable(e),
    }
}

async fn deliver(Extension(ring): Extension<RingHandle>, Json(token): Json<Token>) -> Response {
    match ring.deliver(token).await {
        Some(receipt) => Json(receipt).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "ring busy").into_response(),
    }
}

async fn probe(Extension(ring): Extension<RingHandle>) -> Response {
    match ring.probe().await {
        Some(answer) => Json(answer).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "ring busy").into_response(),
    }
}

async fn hurry(Extension(ring): Extension<RingHandle>) -> Json<()> {
    ring.hurry();
    Json(())
}

/// Refuses any inter-bank request of another protocol version (400, saying which this bank
/// speaks), or unsigned, forged, stale or replayed (401), before its handler runs, so such a
/// request changes nothing.
async fn verify_peer(
    State(verifier): State<Arc<Verifier>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let header = |k: &str| parts.headers.get(k).and_then(|v| v.to_str().ok());
    // A request without a version is not one of ours at all: it is refused below, unsigned.
    let version = header(HEADER_VERSION);
    if let Some(said) = version.filter(|v| v.parse::<u16>().ok() != Some(PROTOCOL_VERSION)) {
        let said: String = said.chars().take(16).collect();
        let message = format!("inter-bank protocol version '{said}' is not spoken here; this bank speaks version {PROTOCOL_VERSION}");
        tracing::warn!(path = parts.uri.path(), %message, "refused an inter-bank request");
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    if version.is_none() {
        tracing::warn!(
            path = parts.uri.path(),
            "refused an inter-bank request without a protocol version"
        );
        return (
            StatusCode::UNAUTHORIZED,
            "missing or malformed authentication headers",
        )
            .into_response();
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_INTERBANK_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    };
    let signed = Signed {
        bank: header(HEADER_BANK),
        ts: header(HEADER_TIMESTAMP),
        nonce: header(HEADER_NONCE),
        signature: header(HEADER_SIGNATURE),
    };
    match verifier.verify(
        parts.method.as_str(),
        parts.uri.path(),
        signed,
        &bytes,
        wall_clock_ms(),
    ) {
        Ok(bank) => {
            let mut request = Request::from_parts(parts, Body::from(bytes));
            request.extensions_mut().insert(PeerBank(bank));
            next.run(request).await
        }
        Err(e) => {
            tracing::warn!(error = %e, path = parts.uri.path(), "refused an inter-bank request");
            (StatusCode::UNAUTHORIZED, e.to_string()).into_response()
        }
    }
}
