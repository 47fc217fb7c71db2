//! `/metrics`: what a bank's operators scrape, in Prometheus text format.
//!
//! Two kinds of metric. Per-request ones (a counter and a latency histogram per route, method
//! and status) are recorded by a middleware as requests end. Everything else is read at scrape
//! time from state that is already kept: the engine's published [`engine::engine::Snapshot`] (running
//! totals, no walk over accounts, no trip through the engine queue), the ring's status and the
//! coordinator's counters. A scrape therefore costs the same however many accounts the bank has.
//!
//! Labels are bounded: `route` is the router's matched pattern (a few dozen), or `other` for
//! anything unmatched (static files, 404s), so that a client inventing paths cannot grow the
//! registry.

use crate::ring_driver::RingHandle;
use crate::twopc_driver::Node;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use engine::EngineHandle;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: u8,
}

/// The registry and the per-request families; cheap to share.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s, doubling.
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

impl Metrics {
    pub fn new(engine: EngineHandle, ring: Option<RingHandle>, node: Option<Arc<Node>>) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "bank_http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "bank_http_request_duration_seconds",
            "Time to answer an HTTP request (until the response head), by method and route",
            latency.clone(),
        );
        registry.register_collector(Box::new(State { engine, ring, node }));
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    /// The text exposition of every metric now.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    fn observe(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(seconds);
    }
}

/// Middleware: counts and times every request by the route that matched it.
pub async fn track(
    axum::extract::State(metrics): axum::extract::State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::HEAD => "HEAD",
        _ => "other",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |m| m.as_str().to_string());
    let response = next.run(request).await;
    metrics.observe(
        method,
        route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// What is read at scrape time.
struct State {
    engine: EngineHandle,
    ring: Option<RingHandle>,
    node: Option<Arc<Node>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("metrics::State")
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

/// Cents as a gauge (i64; totals beyond it are clamped, which no bank reaches).
fn cents(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn count(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl prometheus_client::collector::Collector for State {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        self.encode_engine(&mut e)?;
        if let Some(ring) = &self.ring {
            encode_ring(&mut e, ring)?;
        }
        if let Some(node) = &self.node {
            encode_twopc(&mut e, node)?;
        }
        Ok(())
    }
}

impl State {
    /// The engine's published snapshot: its queue and batches, the store, audit totals, books.
    fn encode_engine(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let snapshot = self.engine.snapshot();
        let a = &snapshot.audit;
        gauge(
            e,
            "bank_engine_queue_depth",
            "Commands waiting in the engine's queue",
            count(self.engine.queue_depth()),
        )?;
        counter(
            e,
            "bank_engine_commands",
            "Commands the engine executed since start",
            a.commands,
        )?;
        counter(
            e,
            "bank_engine_commits",
            "Durable batches written since start (one fsync each)",
            a.commits,
        )?;
        counter(
            e,
            "bank_equivocations",
            "Contradicting signed statements of one bank seen here (each kept as evidence; \
             any is an alarm: a member signed two decisions that cannot both hold)",
            snapshot.equivocations,
        )?;
        counter(
            e,
            "bank_settlement_disagreements",
            "Pairs of settlement reports that disagreed (each bank's signed report kept as \
             evidence; any is an alarm: that pair's window cannot be paid)",
            snapshot.settlement.disagreements,
        )?;
        gauge(
            e,
            "bank_settlement_last_window",
            "The last settlement window closed here",
            i64::try_from(snapshot.settlement.last_window).unwrap_or(i64::MAX),
        )?;
        counter(
            e,
            "bank_store_failures",
            "Batches that could not be written (full disk, I/O error) since start",
            snapshot.store_failures,
        )?;
        gauge(
            e,
            "bank_store_failing",
            "1 while writing to the store fails (new operations are refused with 503)",
            i64::from(snapshot.store_failing_since_ms.is_some()),
        )?;
        gauge(
            e,
            "bank_accounts",
            "Accounts at this bank",
            count(a.accounts),
        )?;
        gauge(
            e,
            "bank_available_cents",
            "Clients' available balances, summed",
            cents(a.total_available),
        )?;
        gauge(
            e,
            "bank_blocked_cents",
            "Clients' balances reserved by prepared debits, summed",
            cents(a.total_blocked),
        )?;
        gauge(
            e,
            "bank_incoming_cents",
            "Prepared credits not yet committed, summed",
            cents(a.total_incoming),
        )?;
        gauge(
            e,
            "bank_prepared_transactions",
            "Cross-bank transactions prepared here and not yet decided",
            count(a.prepared_transactions),
        )?;
        gauge(
            e,
            "bank_books_balanced",
            "1 when clients' balances equal deposits + opening + settled positions",
            i64::from(a.balanced),
        )?;
        {
            let g = ConstGauge::<i64>::new(0);
            let mut family = e.encode_descriptor(
                "bank_settlement_position_cents",
                "Settled net position with each peer (positive: the peer owes this bank)",
                None,
                g.metric_type(),
            )?;
            for (peer, p) in &a.books.positions {
                let labels = PeerLabels { peer: peer.get() };
                ConstGauge::new(p.settled).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The ring at this bank.
fn encode_ring(e: &mut DescriptorEncoder, ring: &RingHandle) -> std::fmt::Result {
    let r = ring.status();
    counter(
        e,
        "bank_ring_visits",
        "Token visits at this bank since start",
        r.visits,
    )?;
    counter(
        e,
        "bank_ring_passes",
        "Token deliveries this bank made since start",
        r.passes,
    )?;
    counter(
        e,
        "bank_ring_regenerations",
        "Tokens this bank generated because the token was lost",
        r.regenerations,
    )?;
    gauge(
        e,
        "bank_ring_holding",
        "1 while this bank holds the token",
        i64::from(r.holding),
    )?;
    gauge(
        e,
        "bank_ring_epoch",
        "The highest token epoch this bank has seen",
        i64::try_from(r.epoch_counter).unwrap_or(i64::MAX),
    )?;
    Ok(())
}

/// This bank's 2PC as coordinator and participant: load, and where rounds spend their time.
fn encode_twopc(e: &mut DescriptorEncoder, node: &Node) -> std::fmt::Result {
    let (in_flight, undelivered) = node.load();
    gauge(
        e,
        "bank_packets_in_flight",
        "Packets this bank coordinates: planned, queued, prepared or deciding",
        count(in_flight),
    )?;
    gauge(
        e,
        "bank_decisions_undelivered",
        "Decisions some participant has not acknowledged yet",
        count(undelivered),
    )?;
    let t = node.timings();
    counter(
        e,
        "bank_twopc_rounds",
        "Two-phase-commit rounds (phase one) run as coordinator",
        t.rounds,
    )?;
    counter(
        e,
        "bank_twopc_prepares_sent",
        "Prepare messages sent to other banks",
        t.prepares_sent,
    )?;
    counter(
        e,
        "bank_twopc_prepares_served",
        "Prepare messages answered as participant",
        t.prepares_served,
    )?;
    counter(
        e,
        "bank_twopc_concludes",
        "Rounds concluded (decisions stored, clients answered)",
        t.concludes,
    )?;
    counter(
        e,
        "bank_twopc_round_votes_microseconds",
        "Time from taking the queue to the last vote, summed over rounds",
        t.round_votes_us,
    )?;
    counter(
        e,
        "bank_twopc_prepare_rtt_microseconds",
        "Round trips of prepares sent, summed",
        t.prepare_rtt_us,
    )?;
    counter(
        e,
        "bank_twopc_conclude_microseconds",
        "Time to store decisions and answer clients, summed over rounds",
        t.conclude_us,
    )?;
    Ok(())
}
