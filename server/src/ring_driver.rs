//! Runs the sans-IO [`Ring`] of `engine::ring` for real: one task owns it, feeds it inbound tokens
//! and probes (from the `/interbank` routes), timer deadlines and the results of its own peer
//! calls, and carries out its effects as signed HTTP calls with a timeout each.
//!
//! On [`Effect::RunBatch`] it asks the [`Work`] it was given (the 2PC driver's node) to run one
//! bounded batch of cross-bank packets
//! (2PC), in a task of its own so that the ring keeps answering probes meanwhile; with nothing to
//! do, the token is held for `idle_hold_ms` and passed on.

use crate::peers::Peers;
use domain::BankId;
use engine::ring::{Effect, ProbeAnswer, Receipt, Ring, RingConfig, Token, Visit};
use engine::wire::{ProbeMsg, RingStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Bound on inbound ring messages waiting for the ring task.
const INBOUND_CAPACITY: usize = 256;

enum Inbound {
    Token(Token, oneshot::Sender<Receipt>),
    Probe(oneshot::Sender<ProbeAnswer>),
    /// Some bank has packets waiting for the token.
    Hurry,
}

enum Outcome {
    Passed {
        to: BankId,
        receipt: Option<Receipt>,
        took: Duration,
    },
    Probed(Vec<ProbeAnswer>),
    /// The batch run for `visit` ended; whether it found work, and the settlement window open
    /// here for it (the token carries it on).
    BatchDone(Visit, bool, u64),
}

/// Handle used by the `/interbank` routes and the status endpoint.
#[derive(Clone)]
pub struct RingHandle {
    inbound: mpsc::Sender<Inbound>,
    status: Arc<Mutex<Published>>,
    /// The other members of this bank's ring (all the other banks, with one ring).
    others: Arc<[BankId]>,
}

/// The ring's status as last published, with the window its rotation rate is measured over
/// (ms, visits at its start).
#[derive(Default)]
struct Published {
    status: RingStatus,
    window: (u64, u64),
}

impl RingHandle {
    pub async fn deliver(&self, token: Token) -> Option<Receipt> {
        let (tx, rx) = oneshot::channel();
        self.inbound.try_send(Inbound::Token(token, tx)).ok()?;
        rx.await.ok()
    }

    pub async fn probe(&self) -> Option<ProbeAnswer> {
        let (tx, rx) = oneshot::channel();
        self.inbound.try_send(Inbound::Probe(tx)).ok()?;
        rx.await.ok()
    }

    /// Asks the ring to pass the token on without idling at its next visit here (work is waiting
    /// somewhere).
    pub fn hurry(&self) {
        let _ = self.inbound.try_send(Inbound::Hurry);
    }

    pub fn status(&self) -> RingStatus {
        self.status.lock().expect("ring status lock").status.clone()
    }

    /// The other members of this bank's ring: whom it probes and hurries.
    pub fn others(&self) -> &[BankId] {
        &self.others
    }
}

/// The cross-bank work the ring's holder runs: implemented by the 2PC driver, so that this module
/// needs nothing of it (the driver, in turn, holds this ring's handle to hurry it).
pub trait Work: Send + Sync + 'static {
    /// Runs one bounded batch of cross-bank work while this bank holds the token, which says
    /// settlement window `token_window` is open: whether there was any work, and the window
    /// open here for the batch (see `engine::settlement`).
    fn run_batch(
        self: Arc<Self>,
        token_window: u64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = (bool, u64)> + Send>>;
}

/// Starts the ring task (it ends when every [`RingHandle`] is dropped); `sealing` seals the
/// epochs this bank makes and checks every token's.
pub fn start(
    peers: Peers,
    config: RingConfig,
    node: Arc<dyn Work>,
    sealing: engine::proof::Signing,
) -> RingHandle {
    let config = RingConfig {
        sealing: Some(sealing),
        ..config
    };
    let (inbound, rx) = mpsc::channel(INBOUND_CAPACITY);
    let status = Arc::new(Mutex::new(Published::default()));
    let others: Arc<[BankId]> = config
        .members
        .iter()
        .copied()
        .filter(|b| *b != config.me)
        .collect();
    tokio::spawn(run(config, peers, node, rx, status.clone(), others.clone()));
    RingHandle {
        inbound,
        status,
        others,
    }
}

async fn run(
    config: RingConfig,
    peers: Peers,
    node: Arc<dyn Work>,
    mut inbound: mpsc::Receiver<Inbound>,
    status: Arc<Mutex<Published>>,
    others: Arc<[BankId]>,
) {
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u64;
    let mut ring = Ring::new(config, now());
    // Results of our own peer calls; at most one pass and one probe are out at a time.
    let (outcomes_tx, mut outcomes) = mpsc::channel::<Outcome>(8);
    // Token deliveries made and their round trips in all (microseconds), for the status.
    let mut passes = (0u64, 0u64);
    loop {
        let deadline = ring
            .next_deadline_ms()
            .map(|ms| start + Duration::from_millis(ms));
        let effects = tokio::select! {
            msg = inbound.recv() => match msg {
                None => break,
                Some(Inbound::Token(token, reply)) => {
                    let (receipt, effects) = ring.receive(token, now());
                    let _ = reply.send(receipt);
                    effects
                }
                Some(Inbound::Probe(reply)) => {
                    let _ = reply.send(ring.probe_answer(now()));
                    Vec::new()
                }
                Some(Inbound::Hurry) => ring.hurry(),
            },
            Some(outcome) = outcomes.recv() => match outcome {
                Outcome::Passed { to, receipt, took } => {
                    passes.0 += 1;
                    passes.1 = passes.1.saturating_add(took.as_micros().try_into().unwrap_or(u64::MAX));
                    ring.pass_result(to, receipt, now())
                }
                Outcome::Probed(answers) => ring.probe_result(&answers, now()),
                Outcome::BatchDone(visit, did_work, window) => {
                    ring.raise_window(visit, window);
                    ring.batch_done(visit, did_work, now())
                }
            },
            _ = sleep_until(deadline) => ring.tick(now()),
        };
        let token_window = ring.seen().map_or(0, |t| t.window);
        carry_out(
            effects,
            (ring.visit(), token_window),
            (&peers, &others),
            &node,
            &outcomes_tx,
        );
        publish(&ring, &status, passes, now());
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Carries out `effects`; a batch is run for `visit`, the token visit the effects came from,
/// whose token says `token_window` is the open settlement window.
fn carry_out(
    effects: Vec<Effect>,
    (visit, token_window): (Option<Visit>, u64),
    (peers, others): (&Peers, &Arc<[BankId]>),
    node: &Arc<dyn Work>,
    outcomes: &mpsc::Sender<Outcome>,
) {
    for effect in effects {
        match effect {
            Effect::RunBatch => {
                let Some(visit) = visit else { continue };
                let (node, outcomes) = (node.clone(), outcomes.clone());
                tokio::spawn(async move {
                    let (did_work, window) = node.run_batch(token_window).await;
                    let _ = outcomes
                        .send(Outcome::BatchDone(visit, did_work, window))
                        .await;
                });
            }
            Effect::Send { to, token } => {
                let (peers, outcomes) = (peers.clone(), outcomes.clone());
                tokio::spawn(async move {
                    let sent = Instant::now();
                    let receipt = peers.call(to, &token).await.ok();
                    let _ = outcomes
                        .send(Outcome::Passed {
                            to,
                            receipt,
                            took: sent.elapsed(),
                        })
                        .await;
                });
            }
            Effect::Probe => {
                let (peers, outcomes, others) = (peers.clone(), outcomes.clone(), others.clone());
                tokio::spawn(async move {
                    let calls = others.iter().copied().map(|to| {
                        let peers = peers.clone();
                        async move { peers.call(to, &ProbeMsg).await.ok() }
                    });
                    let answers = join_all(calls).await.into_iter().flatten().collect();
                    let _ = outcomes.send(Outcome::Probed(answers)).await;
                });
            }
        }
    }
}

/// Runs futures concurrently and collects their outputs in order (a few peers at most).
async fn join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

fn publish(ring: &Ring, published: &Mutex<Published>, passes: (u64, u64), now_ms: u64) {
    let seen = ring.seen();
    let mut p = published.lock().expect("ring status lock");
    let (mut window, mut rate) = (p.window, p.status.rotations_per_s);
    let elapsed = now_ms.saturating_sub(window.0);
    if elapsed >= 1_000 {
        rate = ring.visits.saturating_sub(window.1) as f64 * 1_000.0 / elapsed as f64;
        window = (now_ms, ring.visits);
    }
    p.window = window;
    p.status = RingStatus {
        rotations_per_s: rate,
        holding: ring.holding(),
        epoch_counter: seen.map_or(0, |t| t.epoch.counter),
        epoch_origin: seen.map(|t| t.epoch.origin),
        hop: seen.map_or(0, |t| t.hop),
        visits: ring.visits,
        last_seen_ago_ms: now_ms.saturating_sub(ring.last_seen_ms()),
        passes: passes.0,
        pass_us: passes.1,
        regenerations: ring.regenerations,
    };
}
