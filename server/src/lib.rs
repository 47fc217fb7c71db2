//! The bank node: wires configuration, the engine and the web app into one axum router.
//!
//! # Layout
//! - [`config`]: configuration from the environment (and an optional file).
//! - [`http`]: the routers: Leptos pages and server functions, static files, limits, headers; and
//!   the `/interbank` API, served beside them or on a listener of its own ([`guarded`]: bounded
//!   per source address, a header deadline).
//! - [`origin`]: requests forged by other sites refused (`Origin`, `Sec-Fetch-Site`).
//! - [`interbank`]: the API other banks call, one route per wire message, behind authentication.
//! - [`identity`]: this bank's Ed25519 key file.
//! - [`membership`]: the consortium's membership file (ids, URLs, public keys, limits).
//! - [`peer_auth`]: Ed25519 signing and verification of inter-bank requests and answers, replay
//!   refusal.
//! - [`peers`]: signed calls to other banks, with timeouts, over a keep-alive pool.
//! - [`ring_driver`]: runs the engine's sans-IO token ring over signed HTTP calls.
//! - [`twopc_driver`]: drives the engine's sans-IO 2PC coordinator over signed HTTP: packets while
//!   holding the token, phase two, recovery of in-doubt transactions; the app's `Consortium` port.
//! - [`lookups`]: receivers looked up at other banks (with a short cache), linked accounts.
//! - [`settlement`]: settlement windows between banks: a close's reports exchanged, payment
//!   steps delivered; [`operator`]: the operators' API for them (`OPERATOR_TOKEN`).
//! - [`scheduler`]: sends scheduled Pix when their day comes (`SCHEDULE_EVERY_MS`).
//! - [`evidence`]: what other banks signed, kept for disputes; `bank-node evidence <tx>`.
//! - [`fault`]: test-only crash points of the coordinator (`FAULT_INJECT`).
//!
//! `main.rs` only calls [`run`].

pub mod config;
pub mod evidence;
pub mod fault;
pub mod guarded;
pub mod http;
pub mod identity;
pub mod interbank;
pub mod lookups;
pub mod membership;
pub mod metrics;
pub mod operator;
pub mod origin;
pub mod peer_auth;
pub mod peers;
pub mod ring_driver;
pub mod scheduler;
pub mod settlement;
pub mod twopc_driver;

use config::Config;
use engine::{EngineHandle, SystemClock};
use membership::Membership;
use std::sync::Arc;

/// How long requests in flight get to finish after SIGTERM / Ctrl-C.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Starts the engine and serves HTTP on `listener` until `shutdown` resolves; then lets the
/// engine finish its current batch and stop.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    // Server functions say plural sentences without the app's root component having run.
    app::text::plural_rules();
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    let mut engine_config = config.engine.clone();
    // In a consortium, this bank's key signs what other banks check on their own.
    let consortium = match config
        .membership
        .as_ref()
        .filter(|m| m.ids().iter().any(|b| *b != config.bank_id))
    {
        Some(membership) => {
            let signing = signing(&config, membership)?;
            engine_config.identity = Some(signing.key.clone());
            engine_config.keyring = signing.keys.clone();
            Some((membership, signing))
        }
        None => None,
    };
    let (engine, engine_thread) = EngineHandle::start(engine_config, clock(config.clock_skew_ms))?;
    let (gate, ring, node) = match consortium {
        Some((membership, signing)) => {
            let (gate, ring, node) = join(&config, membership, signing, &engine)?;
            (Some(gate), Some(ring), Some(node))
        }
        None => (None, None, None),
    };
    let stopper = engine.clone();
    tokio::spawn(scheduler::run(
        engine.clone(),
        node.clone()
            .map(|n| n as Arc<dyn engine::consortium::Consortium>),
        std::time::Duration::from_millis(config.schedule_every_ms),
    ));
    let (router, interbank) = http::router(&config, engine, gate, ring, node);
    // The inter-bank API on a listener of its own (which a firewall can keep to the members'
    // addresses), bounded per source address; or beside the pages.
    let (router, interbank_listener) = match config.interbank_bind_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("binding INTERBANK_BIND_ADDR {addr}: {e}"))?;
            (router, Some((listener, interbank)))
        }
        None => (router.merge(interbank), None),
    };
    let stop_interbank = Arc::new(tokio::sync::Notify::new());
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // A plain line on stdout: scripts and tests wait for it (with BIND_ADDR port 0, it is the
    // only way to learn the port).
    println!(
        "bank-node {} ({}) listening on http://{addr}",
        config.bank_id, config.bank_name
    );
    if let Some((listener, interbank)) = interbank_listener {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!(
            "bank-node {} inter-bank API on http://{addr}",
            config.bank_id
        );
        let stop = stop_interbank.clone();
        tokio::spawn(guarded::serve(
            listener,
            interbank,
            guarded::INTERBANK,
            async move { stop.notified().await },
        ));
    }
    serve(listener, router, shutdown, stop_interbank).await?;
    // No more requests. The ring and 2PC tasks still hold engine handles, so stop the engine
    // explicitly: it finishes (and makes durable) the batch in progress, and anything later is
    // refused rather than half-done. Returning then ends those tasks with the runtime.
    let _ = stopper.shutdown().await;
    engine_thread
        .join()
        .map_err(|_| "engine thread panicked".to_string())?;
    Ok(())
}

/// Serves the site (and the inter-bank API beside it, when it has no listener of its own) until
/// `shutdown`, which also stops the inter-bank listener (`stop_interbank`).
async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    stop_interbank: Arc<tokio::sync::Notify>,
) -> Result<(), String> {
    // With the peer's socket address, for per-address login throttling.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Graceful, but bounded: peers keep their keep-alive connections busy (token passes, 2PC), so
    // waiting for every connection to close could wait for ever when the whole consortium stops.
    let signalled = Arc::new(tokio::sync::Notify::new());
    let on_signal = signalled.clone();
    // No Nagle: a response written in parts (streamed pages, large bodies) must not wait for the
    // peer's delayed ACK of the previous part, up to 40 ms on Linux.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "setting TCP_NODELAY on a connection");
        }
    });
    let serve = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown.await;
        stop_interbank.notify_one();
        on_signal.notify_one();
    });
    tokio::select! {
        served = serve => served.map_err(|e| e.to_string()),
        _ = async {
            signalled.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after the shutdown signal; closing them");
            Ok(())
        }
    }
}

/// This bank's key (created if missing) and the members' keys; refused when the membership file
/// lists another public key for this bank.
fn signing(config: &Config, membership: &Membership) -> Result<engine::proof::Signing, String> {
    let key = identity::BankKey::load_or_create(&config.key_file)?;
    let listed = membership.get(config.bank_id).map(|m| m.key);
    if listed != Some(key.public()) {
        return Err(format!(
            "the membership file lists another public key for bank {} than {} holds ({}): \
             give the consortium this bank's key, or this bank its own key file",
            config.bank_id,
            config.key_file.display(),
            key.public_hex()
        ));
    }
    Ok(engine::proof::Signing {
        key: Arc::new(key),
        keys: Arc::new(engine::proof::Keyring::new(membership.keys())),
    })
}

/// The engine's clock: the machine's, or (tests only) skewed.
fn clock(skew_ms: i64) -> Arc<dyn engine::Clock> {
    match skew_ms {
        0 => Arc::new(SystemClock),
        skew => {
            tracing::warn!(
                skew_ms = skew,
                "FAULT_CLOCK_SKEW_MS: the engine's clock is skewed"
            );
            Arc::new(engine::SkewedClock(skew))
        }
    }
}

/// Joins the consortium: signed calls to the members, the evidence log, the 2PC driver and the
/// ring; and the gate of the inter-bank API.
fn join(
    config: &Config,
    membership: &Membership,
    signing: engine::proof::Signing,
    engine: &EngineHandle,
) -> Result<
    (
        interbank::Gate,
        ring_driver::RingHandle,
        Arc<twopc_driver::Node>,
    ),
    String,
> {
    let signer = Arc::new(peer_auth::Signer::new(config.bank_id, signing.key.clone()));
    let verifier = Arc::new(peer_auth::Verifier::new(config.bank_id, membership.keys()));
    let timeout = std::time::Duration::from_millis(config.peer_timeout_ms);
    let peers = peers::Peers::new(
        config.peers.clone(),
        signer.clone(),
        verifier.clone(),
        timeout,
    );
    let banks: Vec<domain::dto::BankInfo> = membership
        .members()
        .map(|m| domain::dto::BankInfo {
            id: m.id,
            name: if m.id == config.bank_id {
                config.bank_name.clone()
            } else {
                m.name.clone()
            },
        })
        .collect();
    let public_urls = membership
        .members()
        .map(|m| (m.id, m.public_url.clone()))
        .collect();
    let node = twopc_driver::Node::start(
        peers.clone(),
        banks,
        public_urls,
        engine.clone(),
        config.twopc.clone(),
        (signing.clone(), Some(evidence_log(&config.data_dir)?)),
    );
    let ring = ring_driver::start(peers, config.ring.clone(), node.clone(), signing);
    node.set_ring(ring.clone());
    Ok((interbank::Gate::new(signer, verifier), ring, node))
}

/// The log of what other banks signed, in `DATA_DIR/evidence/` (an older version's SQLite
/// evidence file moved into it first).
fn evidence_log(data_dir: &std::path::Path) -> Result<engine::evidence::EvidenceLog, String> {
    let evidence_dir = data_dir.join(evidence::DIR_NAME);
    let moved = engine::evidence::migrate_sqlite(
        &data_dir.join(evidence::LEGACY_FILE_NAME),
        &evidence_dir,
    )?;
    if moved > 0 {
        tracing::info!(
            moved,
            "evidence moved from the SQLite file into segment files"
        );
    }
    engine::evidence::EvidenceLog::start(
        evidence_dir,
        engine::evidence::Retention::default(),
        Arc::new(SystemClock),
    )
}
