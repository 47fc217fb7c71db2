//! The API other banks call: one route per [`Route`] of [`engine::wire`], each behind
//! `verify_peer`, which checks a request's signature before any handler runs and signs every
//! answer. Without a consortium (a bank alone) there is no such API at all.

use crate::peer_auth::{Signed, Signer, Verifier};
use crate::peers::{wall_clock_ms, MAX_ANSWER_BYTES};
use crate::ring_driver::RingHandle;
use crate::twopc_driver::Node;
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
    AccountAnswer, AccountMsg, DecideMsg, PrepareMsg, RedeemMsg, ResolveMsg, Route,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;

/// Largest inter-bank request: the worst prepare fits (`engine::wire::MAX_MESSAGE_BYTES`).
pub const MAX_INTERBANK_BODY_BYTES: usize = engine::wire::MAX_MESSAGE_BYTES;
/// Bytes of one member's bodies being read at once, at most (counted by their announced length,
/// in KiB): a member holding its own key cannot make this bank hold more of its requests in
/// memory (its further requests get 503 until some end), nor take any other member's share.
pub const BODY_BYTES_PER_MEMBER_MAX: usize = 2 * MAX_INTERBANK_BODY_BYTES;
const KIB: usize = 1024;
/// A body whose signed headers were accepted must arrive within this long (the largest, 16 MiB,
/// at 2 MB/s).
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8);

/// What `verify_peer` needs: who this bank is, whose signatures to trust, and a bound per
/// member on the bodies being read.
pub struct Gate {
    pub signer: Arc<Signer>,
    pub verifier: Arc<Verifier>,
    bodies: BTreeMap<BankId, Semaphore>,
}

impl Gate {
    pub fn new(signer: Arc<Signer>, verifier: Arc<Verifier>) -> Gate {
        let bodies = verifier
            .members()
            .map(|b| (b, Semaphore::new(BODY_BYTES_PER_MEMBER_MAX / KIB)))
            .collect();
        Gate {
            signer,
            verifier,
            bodies,
        }
    }
}

pub fn router(gate: Option<Gate>, ring: Option<RingHandle>, node: Option<Arc<Node>>) -> Router {
    let (Some(gate), Some(ring), Some(node)) = (gate, ring, node) else {
        return Router::new();
    };
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
            Route::Terminate => router.route(path, post(terminate)),
            Route::Account => router.route(path, post(account)),
            Route::Redeem => router.route(path, post(redeem)),
            Route::PortPermit => router.route(path, post(port_permit)),
            Route::SettlementReport => router.route(path, post(settlement_report)),
            Route::SettlementPayment => router.route(path, post(settlement_payment)),
            Route::Charge => router.route(path, post(charge)),
            Route::LinkHolder => router.route(path, post(link_holder)),
        };
    }
    router
        .layer(Extension(node))
        .layer(Extension(ring))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(gate),
            verify_peer,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_INTERBANK_BODY_BYTES))
}

/// The bank that signed the request (set by [`verify_peer`]).
#[derive(Clone, Copy)]
struct PeerBank(BankId);

/// The verified request as signed, for the handlers that keep it as evidence.
#[derive(Clone)]
struct SignedRequest {
    signed: Signed,
    body: axum::body::Bytes,
}

impl SignedRequest {
    /// Keeps this request as evidence about `txs`.
    fn keep(&self, node: &Node, route: Route, txs: Vec<domain::TxId>) {
        crate::evidence::keep_request(node.evidence(), route.path(), &self.signed, &self.body, txs);
    }
}

fn too_many(n: usize) -> Option<Response> {
    (n > MAX_ITEMS_PER_MESSAGE).then(|| {
        (
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_ITEMS_PER_MESSAGE} items per message"),
        )
            .into_response()
    })
}

pub(crate) fn engine_unavailable(e: engine::EngineError) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
}

async fn prepare(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Extension(signed): Extension<SignedRequest>,
    Json(msg): Json<PrepareMsg>,
) -> Response {
    if let Some(r) = too_many(msg.items.len()).or_else(|| too_many(msg.decisions.len())) {
        return r;
    }
    signed.keep(&node, Route::Prepare, msg.txs());
    let items = msg.items.clone();
    match node.serve_prepare(from, msg).await {
        Ok(answer) => Json(answer).into_response(),
        // Nothing of the message was stored: every item is refused with the reason, which the
        // coordinator can tell its client (instead of "did not answer"), and no decision riding
        // on it is acknowledged, so the coordinator sends those again.
        Err(engine::EngineError::NotStored) => {
            let bank = node.engine().bank().id;
            let reason = domain::Refusal::CannotStore { bank };
            match node.engine().refuse_all(&items, reason) {
                Ok(votes) => Json(engine::wire::PrepareAnswer {
                    votes,
                    acked: Vec::new(),
                })
                .into_response(),
                Err(e) => engine_unavailable(e),
            }
        }
        Err(e) => engine_unavailable(e),
    }
}

async fn decide(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Extension(signed): Extension<SignedRequest>,
    Json(msg): Json<DecideMsg>,
) -> Response {
    if let Some(r) = too_many(msg.items.len()) {
        return r;
    }
    signed.keep(
        &node,
        Route::Decide,
        msg.items.iter().map(|i| i.tx.clone()).collect(),
    );
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
    if let Some(r) = too_many(msg.questions.len()) {
        return r;
    }
    Json(node.resolve_many(from, msg.questions).await).into_response()
}

/// Another participant in doubt asks what this bank knows of plans they share.
async fn terminate(
    Extension(node): Extension<Arc<Node>>,
    Json(msg): Json<engine::wire::TerminateMsg>,
) -> Response {
    if let Some(r) = too_many(msg.plans.len()) {
        return r;
    }
    let mut answers = Vec::with_capacity(msg.plans.len());
    for plan in msg.plans {
        match node.engine().terminate(plan).await {
            Ok(answer) => answers.push(answer),
            Err(e) => return engine_unavailable(e),
        }
    }
    Json(answers).into_response()
}

async fn account(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(msg): Json<AccountMsg>,
) -> Response {
    // Only what an active consent of this bank lets that bank's account see.
    match node
        .engine()
        .consented_account(msg.consent, from, msg.grantee)
        .await
    {
        Ok(found) => Json(found.map(|a| AccountAnswer {
            account: a.id,
            available: a.available,
            blocked: a.blocked,
        }))
        .into_response(),
        Err(e) => engine_unavailable(e),
    }
}

/// The bank holding the money asks who holds one of this bank's accounts, for a link that
/// account started with that bank: answered (names masked) only while that link waits.
async fn link_holder(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(msg): Json<engine::wire::HolderMsg>,
) -> Response {
    if msg.state.len() > 64 {
        return (StatusCode::BAD_REQUEST, "not a link state").into_response();
    }
    match node
        .engine()
        .link_holder(msg.state, msg.account, from)
        .await
    {
        Ok(holder) => Json(holder).into_response(),
        Err(e) => engine_unavailable(e),
    }
}

async fn redeem(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(msg): Json<RedeemMsg>,
) -> Response {
    if msg.code.len() > 64 {
        return (StatusCode::BAD_REQUEST, "not a consent code").into_response();
    }
    match node.engine().redeem(msg.code, from, msg.grantee).await {
        Ok(grant) => Json(grant).into_response(),
        Err(engine::EngineError::Consent(e)) => {
            (StatusCode::NOT_FOUND, e.to_string()).into_response()
        }
        Err(e) => engine_unavailable(e),
    }
}

/// Another bank asks for this bank's signed permission to move one of its keys there.
async fn port_permit(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(request): Json<engine::directory::PortRequest>,
) -> Response {
    match node.engine().port_permit(from, request).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => engine_unavailable(e),
    }
}

/// A payer's bank asks what one of this bank's charges is (`null`: no such charge). Anything a
/// member may learn by being handed the code; the charge is checked again when it is paid.
async fn charge(
    Extension(node): Extension<Arc<Node>>,
    Json(msg): Json<engine::wire::ChargeMsg>,
) -> Response {
    match node.engine().charge(msg.charge).await {
        Ok(info) => Json(info).into_response(),
        Err(e) => engine_unavailable(e),
    }
}

/// Another bank's signed settlement report: kept and compared (the window is cut here first if
/// it is the open one, and any report this bank signs on it goes to the other members); the
/// answer is this bank's own report for the window. A report not from its sender, malformed or
/// badly signed, or for a window this bank has not reported yet (409: it sends its own when
/// every transfer of the window is decided here), is refused and keeps nothing.
async fn settlement_report(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(report): Json<engine::settlement::SignedReport>,
) -> Response {
    if report.report.bank != from {
        return (StatusCode::BAD_REQUEST, "a bank sends only its own report").into_response();
    }
    let window = report.report.window;
    match node.engine().accept_report(report, node.may_report()).await {
        Ok(Ok(taken)) => {
            // The sender hears this bank's report for its window as the answer; any other this
            // bank signed on it goes to every member.
            let skip = |r: &engine::settlement::SignedReport| r.report.window == window;
            let (answered, others): (Vec<_>, Vec<_>) = taken.reports.into_iter().partition(skip);
            crate::settlement::send_reports(&node, others, None);
            crate::settlement::send_reports(&node, answered, Some(from));
            match taken.accepted {
                Ok(accepted) => Json(accepted.own).into_response(),
                Err(e) => settlement_refused(e),
            }
        }
        Ok(Err(e)) => settlement_refused(e),
        Err(e) => engine_unavailable(e),
    }
}

/// Another bank's signed payment step about a pair this bank is in: a debtor's "paid", or a
/// creditor's "received", which settles the pair on this bank's books; or a step of a leg of a
/// window's multilateral netting plan, sent to every member, whose last confirmation settles
/// every pair of this bank for the window.
async fn settlement_payment(
    Extension(node): Extension<Arc<Node>>,
    Extension(PeerBank(from)): Extension<PeerBank>,
    Json(signed): Json<engine::settlement::SignedPayment>,
) -> Response {
    if signed.payment.signer() != from {
        return (StatusCode::BAD_REQUEST, "a bank sends only its own step").into_response();
    }
    match node.engine().receive_payment(signed).await {
        Ok(Ok(())) => Json(()).into_response(),
        Ok(Err(e)) => settlement_refused(e),
        Err(e) => engine_unavailable(e),
    }
}

/// A refused settlement step: 400 for what is wrong in itself, 409 for what does not fit this
/// bank's windows, 410 for a window no longer kept, 503 without a key.
pub(crate) fn settlement_refused(e: engine::settlement::SettlementError) -> Response {
    use engine::settlement::SettlementError as E;
    let status = match &e {
        E::Malformed(_) | E::BadSignature => StatusCode::BAD_REQUEST,
        E::NoKey => StatusCode::SERVICE_UNAVAILABLE,
        E::Forgotten(_) => StatusCode::GONE,
        _ => StatusCode::CONFLICT,
    };
    (status, e.to_string()).into_response()
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

/// Refuses any inter-bank request that is not genuinely signed for this bank, before its handler
/// runs, so that such a request changes nothing: another protocol version gets 400 saying which
/// this bank speaks; a non-member sender, another receiver, a time stamp outside the window, a
/// replayed nonce or a bad signature get 401. The signature covers the body's SHA-256, carried in
/// a header, so it is checked before a byte of the body is read: nobody without a member's key
/// makes this bank read anything. A member's body must arrive within [`BODY_DEADLINE`], at most
/// [`BODY_BYTES_PER_MEMBER_MAX`] of its own at once, and hash to what it signed (400 otherwise).
/// Every answer of a verified request is signed for its sender and bound to its nonce.
async fn verify_peer(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let signed = Signed::from_headers(|k| parts.headers.get(k).and_then(|v| v.to_str().ok()));
    let path = parts.uri.path().to_string();
    let refuse = |e: crate::peer_auth::PeerAuthError| {
        tracing::warn!(error = %e, path, "refused an inter-bank request");
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        (status, e.to_string()).into_response()
    };
    let checked = match gate.verifier.check_headers(&signed, wall_clock_ms()) {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    let from =
        match gate
            .verifier
            .verify_request(&checked, parts.method.as_str(), &path, wall_clock_ms())
        {
            Ok(from) => from,
            Err(e) => return refuse(e),
        };
    let bytes = {
        // Counted by the length it announces (the most, if it announces none): the reading stops
        // there anyway.
        let announced = parts
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(MAX_INTERBANK_BODY_BYTES)
            .min(MAX_INTERBANK_BODY_BYTES);
        let units = u32::try_from(announced.div_ceil(KIB).max(1)).unwrap_or(u32::MAX);
        let permit = gate.bodies.get(&from).map(|s| s.try_acquire_many(units));
        let Some(Ok(_permit)) = permit else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many of your requests at once; try again",
            )
                .into_response();
        };
        let read = axum::body::to_bytes(body, MAX_INTERBANK_BODY_BYTES);
        match tokio::time::timeout(BODY_DEADLINE, read).await {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response(),
            Err(_) => {
                return (
                    StatusCode::REQUEST_TIMEOUT,
                    "the body did not arrive in time",
                )
                    .into_response()
            }
        }
    };
    // Hashed once: checked against the signed hash here, and covered by the answer's signature.
    let request_sha256 = crate::peer_auth::sha256_hex(&bytes);
    if let Err(e) = checked.check_body(&request_sha256) {
        return refuse(e);
    }
    let nonce = checked.signed().nonce.clone();
    let kept = SignedRequest {
        signed: checked.signed().clone(),
        body: bytes.clone(),
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(PeerBank(from));
    request.extensions_mut().insert(kept);
    let response = next.run(request).await;
    sign_answer(&gate.signer, from, &nonce, &request_sha256, response).await
}

/// Signs `response` for bank `to`'s request `nonce`, whose body hashed to `request_sha256`.
async fn sign_answer(
    signer: &Signer,
    to: BankId,
    nonce: &str,
    request_sha256: &str,
    response: Response,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "answer too large").into_response();
    };
    let status = parts.status.as_u16();
    let signed = signer.answer(to, status, nonce, request_sha256, wall_clock_ms(), &bytes);
    for (k, v) in signed.headers() {
        if let Ok(v) = axum::http::HeaderValue::from_str(v) {
            parts.headers.insert(k, v);
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
