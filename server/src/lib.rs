//! The bank node: wires configuration, the engine and the web app into one axum router.
//!
//! # Layout
//! - [`config`]: configuration from the environment (and an optional file).
//! - [`http`]: the routers: Leptos pages and server functions, static files, limits, headers; and
//!   the `/interbank` API, served beside them or on a listener of its own ([`guarded`]: bounded
//!   per source address, a header deadline).
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
pub mod peer_auth;
pub mod peers;
pub mod ring_driver;
pub mod twopc_driver;

use config::Config;
use engine::{EngineHandle, SystemClock};
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
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    let mut engine_config = config.engine.clone();
    // In a consortium, this bank's key signs what other banks check on their own.
    let in_consortium = config
        .membership
        .as_ref()
        .filter(|m| m.ids().iter().any(|b| *b != config.bank_id));
    let signing = match in_consortium {
        Some(membership) => {
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
            let signing = engine::proof::Signing {
                key: Arc::new(key),
                keys: Arc::new(engine::proof::Keyring::new(membership.keys())),
            };
            engine_config.identity = Some(signing.key.clone());
            engine_config.keyring = signing.keys.clone();
            Some(signing)
        }
        None => None,
    };
    let clock: Arc<dyn engine::Clock> = match config.clock_skew_ms {
        0 => Arc::new(SystemClock),
        skew => {
            tracing::warn!(
                skew_ms = skew,
                "FAULT_CLOCK_SKEW_MS: the engine's clock is skewed"
            );
            Arc::new(engine::SkewedClock(skew))
        }
    };
    let (engine, engine_thread) = EngineHandle::start(engine_config, clock)?;
    let (gate, ring, node) = match (in_consortium, signing) {
        (Some(membership), Some(signing)) => {
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
            let evidence_dir = config.data_dir.join(evidence::DIR_NAME);
            let moved = engine::evidence::migrate_sqlite(
                &config.data_dir.join(evidence::LEGACY_FILE_NAME),
                &evidence_dir,
            )?;
            if moved > 0 {
                tracing::info!(
                    moved,
                    "evidence moved from the SQLite file into segment files"
                );
            }
            let evidence = engine::evidence::EvidenceLog::start(
                evidence_dir,
                engine::evidence::Retention::default(),
                Arc::new(SystemClock),
            )?;
            let node = twopc_driver::Node::start(
                peers.clone(),
                banks,
                public_urls,
                engine.clone(),
                config.twopc.clone(),
                (signing.clone(), Some(evidence)),
            );
            let ring = ring_driver::start(peers, config.ring.clone(), node.clone(), signing);
            node.set_ring(ring.clone());
            (
                Some(interbank::Gate::new(signer, verifier)),
                Some(ring),
                Some(node),
            )
        }
        _ => (None, None, None),
    };
    let stopper = engine.clone();
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
        served = serve => served.map_err(|e| e.to_string())?,
        _ = async {
            signalled.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after the shutdown signal; closing them"),
    }
    // No more requests. The ring and 2PC tasks still hold engine handles, so stop the engine
    // explicitly: it finishes (and makes durable) the batch in progress, and anything later is
    // refused rather than half-done. Returning then ends those tasks with the runtime.
    let _ = stopper.shutdown().await;
    engine_thread
        .join()
        .map_err(|_| "engine thread panicked".to_string())?;
    Ok(())
}
