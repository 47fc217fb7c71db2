//! The HTTP surface of a bank node.

use crate::config::Config;
use crate::ring_driver::RingHandle;
use crate::twopc_driver::Node;
use app::{shell, App, AppError};
use axum::body::Body;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use engine::consortium::Consortium;
use engine::wire::{AuditStatus, EngineStats, StatusReport, TwoPcStatus};
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
/// Every request is answered, one way or another, within this time.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest server-function error body the status mapper will read.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The file in the data directory where key confirmation codes are written.
pub const OUTBOX_FILE: &str = "outbox.txt";

/// The bank's two routers: the public one (pages, server functions, assets, health, status,
/// metrics) and the inter-bank API (empty for a bank alone), each with its limits, timeout and
/// request metrics. The caller serves them on one listener or on two (`INTERBANK_BIND_ADDR`).
pub fn router(
    config: &Config,
    engine: EngineHandle,
    gate: Option<crate::interbank::Gate>,
    ring: Option<RingHandle>,
    node: Option<Arc<Node>>,
) -> (Router, Router) {
    let assets = asset_name(&config.site_dir);
    let options = LeptosOptions::builder()
        .output_name(assets.name.clone())
        .site_root(config.site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.bind_addr)
        .build();
    let routes = generate_route_list(App);
    let context = server_fn_context(config, &engine, node.clone());
    let metrics = Arc::new(crate::metrics::Metrics::new(
        engine.clone(),
        ring.clone(),
        node.clone(),
    ));
    let operator_token = config.operator_token.clone();
    let scrape = metrics.clone();
    let health_engine = engine.clone();
    let public = Router::new()
        .route("/healthz", get(move || health(health_engine.clone())))
        .route(
            "/metrics",
            get(move |headers: axum::http::HeaderMap| {
                let scrape = scrape.clone();
                let token = operator_token.clone();
                async move { metrics_page(&scrape, token.as_ref(), &headers) }
            }),
        )
        // The app's wasm, script and stylesheet: gzip-compressed copies made by build-site.sh
        // are sent to browsers that accept them (the wasm shrinks about five times). Their names
        // carry the hash of what they hold, so a browser keeps them for a year without asking
        // again; a site built without hashed names is revalidated at every use instead.
        .nest_service("/pkg", pkg_service(&config.site_dir, assets.hashed))
        // Browsers ask for /favicon.ico whatever the page says; the icon is an SVG.
        .route(
            "/favicon.ico",
            get(|| async { axum::response::Redirect::permanent("/favicon.svg") }),
        )
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(options);
    let public = public.merge(crate::operator::router(
        config.operator_token.clone(),
        node.clone(),
    ));
    let public = page_layers(public, metrics.clone(), config.public_origin.clone());
    // `/status`, unauthenticated, on the inter-bank listener too when it has its own: the
    // consortium page asks every member for it at the address it reaches members at (inside
    // Docker, the inter-bank one).
    let status_route = status_route(config, &engine, ring.clone(), node.clone());
    let public = public.merge(status_route.clone());
    let mut interbank = crate::interbank::router(gate, ring, node);
    if config.interbank_bind_addr.is_some() {
        interbank = interbank.merge(status_route);
    }
    // Its own (larger) body limit applies to it alone.
    let interbank = interbank
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ));
    (public, interbank)
}

/// The app's assets (`SITE_DIR/pkg`), precompressed copies preferred: kept by browsers for a
/// year when their names are content-hashed, revalidated on every use otherwise. A missing
/// file is a 404 (never cached).
fn pkg_service(site_dir: &std::path::Path, hashed: bool) -> Router {
    let cache = if hashed {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::from_static("no-cache")
    };
    Router::new()
        .fallback_service(
            tower_http::services::ServeDir::new(site_dir.join("pkg")).precompressed_gzip(),
        )
        .layer(axum::middleware::map_response(
            move |mut res: axum::response::Response| {
                let cache = cache.clone();
                async move {
                    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
                        res.headers_mut().insert(header::CACHE_CONTROL, cache);
                    }
                    res
                }
            },
        ))
}

/// The name of the app's assets (`<name>.wasm`, `.js`, `.css` under `SITE_DIR/pkg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetName {
    pub name: String,
    /// Whether the name carries the hash of the assets (so they may be cached for long).
    pub hashed: bool,
}

/// The assets' name as `build-site.sh` wrote it in `SITE_DIR/asset-name` (`consorcio.<16 hex
/// digits>`); without that file, or with anything else in it, the unhashed `consorcio`.
pub fn asset_name(site_dir: &std::path::Path) -> AssetName {
    let written = std::fs::read_to_string(site_dir.join("asset-name")).unwrap_or_default();
    let written = written.trim();
    let hashed = written
        .strip_prefix("consorcio.")
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    if hashed {
        AssetName {
            name: written.to_string(),
            hashed: true,
        }
    } else {
        if !written.is_empty() {
            tracing::warn!(
                name = written,
                "SITE_DIR/asset-name is not a hashed asset name; using consorcio"
            );
        }
        AssetName {
            name: "consorcio".to_string(),
            hashed: false,
        }
    }
}

/// What every server function finds in its context: the engine, this bank, the login guards,
/// the outbox of key codes, the operators' sessions and, in a consortium, the node (the app's
/// `Consortium` port) and the operators' console's port (`operator::Desk`).
fn server_fn_context(
    config: &Config,
    engine: &EngineHandle,
    node: Option<Arc<Node>>,
) -> impl Fn() + Clone + Send + Sync + 'static {
    let engine = engine.clone();
    let bank = engine.bank().clone();
    let desk: Option<Arc<dyn engine::operator::OperatorPort>> =
        crate::operator::Desk::new(config, node.clone())
            .map(|d| Arc::new(d) as Arc<dyn engine::operator::OperatorPort>);
    let operator_sessions = Arc::new(engine::operator::OperatorSessions::default());
    let consortium: Option<Arc<dyn Consortium>> = node.map(|n| n as Arc<dyn Consortium>);
    let guards = Arc::new(engine::throttle::LoginGuards::default());
    let budgets = Arc::new(engine::budget::ClientBudgets::with_address_scale(
        config.address_budget_scale,
    ));
    let site = app::api::ssr::SiteSecurity {
        https: config.public_origin.as_ref().is_some_and(|o| o.is_https()),
    };
    // Key confirmation codes are "sent" to a file in the data directory (the demo's mail gateway).
    let outbox = Arc::new(engine::outbox::Outbox::new(
        config.data_dir.join(OUTBOX_FILE),
    ));
    move || {
        provide_context(engine.clone());
        provide_context(bank.clone());
        provide_context(guards.clone());
        provide_context(site);
        provide_context(budgets.clone());
        provide_context(outbox.clone());
        provide_context(operator_sessions.clone());
        if let Some(c) = consortium.clone() {
            provide_context(c);
        }
        if let Some(d) = desk.clone() {
            provide_context(d);
        }
    }
}

/// `GET /status`: this bank's ring and 2PC for everyone; its totals, positions and limits only
/// for operators.
fn status_route(
    config: &Config,
    engine: &EngineHandle,
    ring: Option<RingHandle>,
    node: Option<Arc<Node>>,
) -> Router {
    let engine = engine.clone();
    let limits = Arc::new(
        config
            .membership
            .as_ref()
            .map(|m| m.limits())
            .unwrap_or_default(),
    );
    let token = config.operator_token.clone();
    Router::new().route(
        "/status",
        get(move |headers: axum::http::HeaderMap| {
            let operator = operator(token.as_ref(), &headers);
            status(
                engine.clone(),
                ring.clone(),
                node.clone(),
                limits.clone(),
                operator,
            )
        }),
    )
}

/// The site's layers, innermost first: a server function's error turned into its status,
/// requests forged by other sites refused (before any body is read), the body limit, request
/// metrics, the timeout, and the security headers every answer carries.
fn page_layers(
    router: Router,
    metrics: Arc<crate::metrics::Metrics>,
    own_origin: Option<crate::origin::Origin>,
) -> Router {
    router
        .layer(axum::middleware::map_response(server_fn_status))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(own_origin),
            crate::origin::refuse_cross_site,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
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
}

/// Whether this bank can take new operations: 200, or 503 while its store cannot be written
/// (a full disk: nothing is lost, but nothing new can be stored). Read from the engine's last
/// published snapshot: no walk over accounts, no trip through the engine's queue.
async fn health(engine: EngineHandle) -> Response {
    let snapshot = engine.snapshot();
    let body = |status: &str| {
        serde_json::json!({
            "status": status,
            "bank": engine.bank().id,
            "name": engine.bank().name,
            "accounts": snapshot.audit.accounts,
            "store_failing_since_ms": snapshot.store_failing_since_ms,
        })
    };
    if !engine.is_running() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body("stopped"))).into_response();
    }
    match snapshot.store_failing_since_ms {
        None => Json(body("ok")).into_response(),
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(body("cannot_store"))).into_response(),
    }
}

/// `/metrics` for operators: with `OPERATOR_TOKEN` set, only for `Authorization: Bearer <it>`.
fn metrics_page(
    metrics: &crate::metrics::Metrics,
    token: Option<&crate::config::OperatorToken>,
    headers: &axum::http::HeaderMap,
) -> Response {
    if !operator(token, headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "an operator token is required",
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// Whether a request is an operator's: with `OPERATOR_TOKEN` set, one carrying
/// `Authorization: Bearer <it>`; without, anyone (a bank for development; the demo, Docker and
/// every deployment set one).
pub(crate) fn operator(
    token: Option<&crate::config::OperatorToken>,
    headers: &axum::http::HeaderMap,
) -> bool {
    let Some(token) = token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|p| token.matches(p))
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

/// The consortium status of this bank. For everyone (the status page, health checks): its ring
/// and its 2PC queues. For operators also its totals (no account is identified: what an auditor
/// checks conservation of money with), its positions and limits with every member, and the
/// engine's group commit (commands per durable commit): what a competitor or a stranger should
/// not read of a bank's business.
async fn status(
    engine: EngineHandle,
    ring: Option<RingHandle>,
    node: Option<Arc<Node>>,
    limits: Arc<std::collections::BTreeMap<domain::BankId, domain::Cents>>,
    operator: bool,
) -> Response {
    let twopc = node.map(|n| {
        let (in_flight, undelivered) = n.load();
        TwoPcStatus {
            packets_in_flight: u64::try_from(in_flight).unwrap_or(u64::MAX),
            decisions_undelivered: u64::try_from(undelivered).unwrap_or(u64::MAX),
            timings: n.timings(),
            evidence_dropped: n.evidence_dropped(),
        }
    });
    let snapshot = engine.snapshot();
    let settlement = snapshot.settlement;
    let audit = operator.then_some(snapshot.audit);
    Json(StatusReport {
        bank: Some(engine.bank().id),
        name: engine.bank().name.clone(),
        ring: ring.map(|r| r.status()),
        twopc,
        engine: audit.as_ref().map(|a| EngineStats {
            commands: a.commands,
            commits: a.commits,
        }),
        audit: audit.map(|a| AuditStatus {
            accounts: u64::try_from(a.accounts).unwrap_or(u64::MAX),
            total_available: a.total_available,
            total_blocked: a.total_blocked,
            total_incoming: a.total_incoming,
            prepared_transactions: u64::try_from(a.prepared_transactions).unwrap_or(u64::MAX),
            deposits: a.books.deposits,
            opening: a.books.opening,
            positions: position_status(&a.books, &limits),
            books_balance: a.balanced,
            settlement: engine::wire::SettlementStatus {
                last_window: settlement.last_window,
                disagreements: settlement.disagreements,
            },
        }),
    })
    .into_response()
}

/// Every peer this bank has a position with or a limit for.
fn position_status(
    books: &engine::ledger::Books,
    limits: &std::collections::BTreeMap<domain::BankId, domain::Cents>,
) -> Vec<engine::wire::PositionStatus> {
    let peers: std::collections::BTreeSet<domain::BankId> = books
        .positions
        .keys()
        .chain(limits.keys())
        .copied()
        .collect();
    peers
        .into_iter()
        .map(|peer| {
            let p = books.positions.get(&peer).copied().unwrap_or_default();
            let limit = limits.get(&peer).map_or(0, |l| l.get());
            engine::wire::PositionStatus {
                peer,
                settled: p.settled,
                pending: p.pending,
                by_windows: p.by_windows,
                limit,
            }
        })
        .collect()
}
