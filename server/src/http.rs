//! The HTTP surface of a bank node.

use crate::config::Config;
use crate::consortium::{
    AccountAnswer, AccountMsg, DecideMsg, LookupMsg, Node, PrepareMsg, ResolveMsg,
};
use crate::peer_auth::{
    Signed, Verifier, HEADER_BANK, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use crate::peers::wall_clock_ms;
use crate::ring_driver::RingHandle;
use app::{shell, App, AppError};
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::BankId;
use engine::consortium::Consortium;
use engine::ring::Token;
use engine::twopc::MAX_ITEMS_PER_MESSAGE;
use engine::EngineHandle;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// Largest request body accepted from browsers: forms are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest inter-bank request: a prepare of 256 packets of 16 legs fits, with room.
pub const MAX_INTERBANK_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Every request is answered, one way or another, within this time.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest server-function error body the status mapper will read.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

pub fn router(
    config: &Config,
    engine: EngineHandle,
    ring: Option<RingHandle>,
    node: Option<Arc<Node>>,
) -> Router {
    let options = LeptosOptions::builder()
        .output_name("consorcio")
        .site_root(config.site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.bind_addr)
        .build();
    let routes = generate_route_list(App);
    let bank = engine.bank().clone();
    let consortium: Option<Arc<dyn Consortium>> = node.clone().map(|n| n as Arc<dyn Consortium>);
    let guards = Arc::new(engine::throttle::LoginGuards::default());
    let context = {
        let engine = engine.clone();
        move || {
            provide_context(engine.clone());
            provide_context(bank.clone());
            provide_context(guards.clone());
            if let Some(c) = consortium.clone() {
                provide_context(c);
            }
        }
    };
    let health_engine = engine.clone();
    let status_engine = engine.clone();
    let status_ring = ring.clone();
    let status_node = node.clone();
    Router::new()
        .route("/healthz", get(move || health(health_engine.clone())))
        .route(
            "/status",
            get(move || {
                status(
                    status_engine.clone(),
                    status_ring.clone(),
                    status_node.clone(),
                )
            }),
        )
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .layer(axum::middleware::map_response(server_fn_status))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Merged after the browser limit, so that its own (larger) limit applies to it alone.
        .merge(interbank(config, ring, node))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .with_state(options)
}

async fn health(engine: EngineHandle) -> Response {
    match engine.audit().await {
        Ok(audit) => Json(serde_json::json!({
            "status": "ok",
            "bank": engine.bank().id,
            "name": engine.bank().name,
            "accounts": audit.accounts,
        }))
        .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Server functions answer every error with 500. This gives each [`AppError`] its own status
/// (400 bad input, 401 no session, 404, 409, 422 refused, 503), in one place for all of them.
async fn server_fn_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "error body unreadable").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The consortium status of this bank: public, for the status page and for operators.
async fn status(
    engine: EngineHandle,
    ring: Option<RingHandle>,
    node: Option<Arc<Node>>,
) -> Response {
    let load = node.map(|n| {
        let (in_flight, undelivered) = n.load();
        serde_json::json!({ "packets_in_flight": in_flight, "decisions_undelivered": undelivered, "timings": n.timings() })
    });
    // Totals only (no account is identified): what an auditor checks conservation of money with,
    // and the engine's group commit (commands per durable commit).
    let audit = engine.audit().await.ok();
    let engine_stats = audit
        .as_ref()
        .map(|a| serde_json::json!({ "commands": a.commands, "commits": a.commits }));
    let audit = audit.map(|a| {
        serde_json::json!({
            "accounts": a.accounts,
            "total_available": a.total_available as i64,
            "total_blocked": a.total_blocked as i64,
            "total_incoming": a.total_incoming as i64,
            "prepared_transactions": a.prepared_transactions,
        })
    });
    Json(serde_json::json!({
        "bank": engine.bank().id,
        "name": engine.bank().name,
        "ring": ring.map(|r| r.status()),
        "twopc": load,
        "audit": audit,
        "engine": engine_stats,
    }))
    .into_response()
}

/// The API other banks call. Every route sits behind [`verify_peer`]; without a secret
/// (a bank alone) there is no such API at all.
fn interbank(
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
    let probe_ring = ring.clone();
    let hurry_ring = ring.clone();
    Router::new()
        .route(
            "/interbank/token",
            post(move |Json(token): Json<Token>| deliver(ring.clone(), token)),
        )
        .route(
            "/interbank/hurry",
            post(move || {
                hurry_ring.hurry();
                std::future::ready(Json(serde_json::Value::Null))
            }),
        )
        .route("/interbank/probe", post(move || probe(probe_ring.clone())))
        .route("/interbank/prepare", post(prepare))
        .route("/interbank/decide", post(decide))
        .route("/interbank/resolve", post(resolve))
        .route("/interbank/lookup", post(lookup))
        .route("/interbank/account", post(account))
        .layer(Extension(node))
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

async fn deliver(ring: RingHandle, token: Token) -> Response {
    match ring.deliver(token).await {
        Some(receipt) => Json(receipt).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "ring busy").into_response(),
    }
}

async fn probe(ring: RingHandle) -> Response {
    match ring.probe().await {
        Some(answer) => Json(answer).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "ring busy").into_response(),
    }
}

/// Refuses (401) any inter-bank request that is unsigned, forged, stale or replayed, before its
/// handler runs, so such a request changes nothing.
async fn verify_peer(
    State(verifier): State<Arc<Verifier>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_INTERBANK_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    };
    let header = |k: &str| parts.headers.get(k).and_then(|v| v.to_str().ok());
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
