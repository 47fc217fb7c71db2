//! Cross-bank work of one bank node: runs the engine's sans-IO 2PC ([`engine::twopc`]) over signed
//! HTTP, and implements the app's [`Consortium`] port.
//!
//! - Packets submitted by clients wait in a bounded queue; the ring driver calls
//!   [`Node::run_batch`] while this bank holds the token, which prepares up to `batch_max` packets at
//!   once (one prepare message per participant) and decides; once every vote is in, the token moves
//!   on while a task stores the decisions (applying this bank's own parts in the same commit) and
//!   answers the clients.
//! - Decisions reach the other participants on the next prepare to each, or from a delivery task
//!   (phase two, batched per participant, retried with backoff until acknowledged); unacknowledged
//!   decisions are reloaded at start-up.
//! - A recovery task asks coordinators about transactions this bank has had prepared for longer than
//!   `in_doubt_after_ms`, and applies the answers.

use crate::peers::{wall_clock_ms, Peers};
use domain::dto::{
    BankInfo, BankStatus, LegOutcome, LegState, LinkedAccount, PacketLeg, PacketOutcome,
    PacketProgress, ReceiverPreview, TxStatus, MAX_PACKET_LEGS,
};
use domain::{AccountId, BankId, TaxId, TxId};
use engine::consortium::{BoxFuture, Consortium};
use engine::twopc::{
    DecideItem, Deliveries, DeliveryConfig, LegPlan, PacketPlan, PrepareItem, Resolution, Round,
    Vote, MAX_ITEMS_PER_MESSAGE,
};
use engine::{EngineError, EngineHandle, EngineResult, LedgerError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct TwoPcSettings {
    /// Timeout of a prepare call (a batch of up to 256 packets) to one participant.
    pub prepare_timeout_ms: u64,
    /// First retry of an unacknowledged decision; doubles up to `max_retry_ms`.
    pub first_retry_ms: u64,
    pub max_retry_ms: u64,
    /// A decision waits this long for a prepare message to its participant to ride on.
    pub decision_linger_ms: u64,
    /// A participant asks the coordinator about a transaction prepared longer ago than this.
    pub in_doubt_after_ms: u64,
    /// Packets waiting for the token, at most.
    pub queue_capacity: usize,
    /// Packets prepared per token visit, at most.
    pub batch_max: usize,
    /// A packet that has waited this long for the token is refused (nothing was reserved).
    pub queue_deadline_ms: u64,
    /// Test-only crash injection (`FAULT_INJECT`); `None` in every real deployment.
    pub fault: Option<Fault>,
}

/// Where the coordinator crashes on purpose, so that tests can reach the protocol's worst moments
/// deterministically. The process aborts (like a power cut: nothing after it runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every participant has voted; no decision stored. Recovery must abort everywhere.
    CrashBeforeDecision,
    /// The decision is stored; nobody has heard it. Recovery must deliver it.
    CrashAfterDecision,
}

impl Fault {
    pub fn parse(text: &str) -> Option<Fault> {
        match text {
            "crash_before_decision" => Some(Fault::CrashBeforeDecision),
            "crash_after_decision" => Some(Fault::CrashAfterDecision),
            _ => None,
        }
    }
}

fn inject(fault: Option<Fault>, at: Fault) {
    if fault == Some(at) {
        eprintln!("FAULT_INJECT: {at:?}: aborting the process");
        std::process::abort();
    }
}

/// Inter-bank message bodies.
#[derive(Serialize, Deserialize)]
pub struct PrepareMsg {
    pub items: Vec<PrepareItem>,
    /// Decisions of earlier packets riding along, applied before `items`.
    #[serde(default)]
    pub decisions: Vec<DecideItem>,
}

/// The answer to a [`PrepareMsg`]: one vote per item, and the riding decisions acknowledged.
#[derive(Serialize, Deserialize)]
pub struct PrepareAnswer {
    pub votes: Vec<Vote>,
    pub acked: Vec<TxId>,
}

#[derive(Serialize, Deserialize)]
pub struct DecideMsg {
    pub items: Vec<DecideItem>,
}

#[derive(Serialize, Deserialize)]
pub struct ResolveMsg {
    pub txs: Vec<TxId>,
}

#[derive(Serialize, Deserialize)]
pub struct LookupMsg {
    pub key: TaxId,
}

#[derive(Serialize, Deserialize)]
pub struct AccountMsg {
    pub owners: Vec<TaxId>,
}

/// The part of an account another bank may see: for the client's own linked-accounts view.
#[derive(Serialize, Deserialize)]
pub struct AccountAnswer {
    pub account: AccountId,
    pub available: domain::Cents,
    pub blocked: domain::Cents,
}

struct Job {
    plan: PacketPlan,
    enqueued: Instant,
}

type Waiter = oneshot::Sender<EngineResult<PacketOutcome>>;

/// A packet id in flight: who submitted it, and who waits for its outcome.
struct Claim {
    submitter: AccountId,
    waiters: Vec<Waiter>,
}

/// What claiming a packet id found.
enum Claimed {
    /// The id was free: the caller plans the packet (or answers from the stored decision).
    Fresh(ClaimGuard),
    /// The same client's packet with this id is in flight: its outcome will come.
    Joined,
    /// Another client's packet has this id.
    NotYours,
}

/// Releases a claim whose owner was dropped before answering (its client went away while the
/// packet was still being planned), so that the id is not left claimed for ever.
struct ClaimGuard {
    node: std::sync::Weak<Node>,
    tx: Option<TxId>,
}

impl ClaimGuard {
    fn disarm(mut self) {
        self.tx = None;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let (Some(tx), Some(node)) = (self.tx.take(), self.node.upgrade()) {
            node.finish(&tx, Err(EngineError::Stopped));
        }
    }
}

/// Packets kept in the progress log, at most (the oldest are forgotten first).
const PROGRESS_MAX: usize = 10_000;

/// Recent packets' progress, for the live view. Bounded.
#[derive(Default)]
struct ProgressLog {
    by_tx: HashMap<TxId, (AccountId, PacketProgress)>,
    order: VecDeque<TxId>,
}

impl ProgressLog {
    fn start(&mut self, account: AccountId, tx: &TxId, legs: usize) {
        if self.by_tx.contains_key(tx) {
            return;
        }
        if self.order.len() >= PROGRESS_MAX {
            if let Some(old) = self.order.pop_front() {
                self.by_tx.remove(&old);
            }
        }
        let progress = PacketProgress {
            tx_id: tx.clone(),
            legs: vec![LegState::Waiting; legs],
            done: false,
        };
        self.by_tx.insert(tx.clone(), (account, progress));
        self.order.push_back(tx.clone());
    }

    fn update(&mut self, tx: &TxId, legs: Vec<LegState>, done: bool) {
        if let Some((_, p)) = self.by_tx.get_mut(tx) {
            if p.legs.len() == legs.len() {
                p.legs = legs;
            }
            p.done = done;
        }
    }
}

pub struct Node {
    /// Itself, for claim guards that outlive a dropped request.
    this: std::sync::Weak<Node>,
    me: BankId,
    banks: Vec<BankInfo>,
    peers: Peers,
    engine: EngineHandle,
    settings: TwoPcSettings,
    jobs_tx: mpsc::Sender<Job>,
    jobs_rx: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    /// Packet ids claimed (being planned, queued, prepared or decided), each with the account that
    /// submitted it and the clients waiting for its outcome. A claim is taken before anything
    /// else looks at the id and released only once its decision is stored (or nothing was
    /// reserved), so one id never gets two plans.
    in_flight: Mutex<HashMap<TxId, Claim>>,
    deliveries: Mutex<Deliveries>,
    /// Decisions every participant has acknowledged, not yet recorded as such (see
    /// [`ACKS_RECORDED_EVERY_MS`]).
    delivered: Mutex<Vec<TxId>>,
    delivery_wake: Notify,
    started: Instant,
    progress: Mutex<ProgressLog>,
    public_urls: BTreeMap<BankId, String>,
    /// Receivers recently looked up at other banks (see [`LookupCache`]).
    lookups: Arc<LookupCache>,
    /// This bank's ring, to hurry it when packets arrive (set once the ring has started).
    ring: std::sync::OnceLock<crate::ring_driver::RingHandle>,
    /// Whether the ring needs hurrying for packets queued now (see [`Node::hurry`]).
    visit: Mutex<VisitState>,
    /// Where cross-bank work spends its time (totals since start, on the status page).
    timings: Mutex<PhaseTimings>,
}

/// Totals since start of the phases of cross-bank work, for the status page and the benchmark
/// (which divides the growth of each sum by the growth of its count over a window).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct PhaseTimings {
    /// Token visits that ran a round, and the time from taking the queue to the last vote: how
    /// long the token is held for work.
    pub rounds: u64,
    pub round_votes_us: u64,
    /// Prepares sent to other banks, and their round trips.
    pub prepares_sent: u64,
    pub prepare_rtt_us: u64,
    /// Prepares this bank answered as a participant, and the time its engine took (queue, commit
    /// and fsync).
    pub prepares_served: u64,
    pub prepare_engine_us: u64,
    /// Rounds concluded, and the time to store the decisions and answer the clients.
    pub concludes: u64,
    pub conclude_us: u64,
}

/// What this bank's latest token visit tells about the next one.
#[derive(Default)]
struct VisitState {
    /// The latest visit found packets to run. The token then comes back without being held
    /// anywhere (holders keep it only after a full idle rotation), so nobody needs hurrying.
    worked: bool,
    /// The ring has been hurried since the latest visit; once is enough until the next.
    hinted: bool,
}

/// Fully acknowledged decisions are recorded in one engine write at most this often. Until then a
/// restart would only send them again (participants acknowledge duplicates), so this saves the
/// coordinator a commit per acknowledgement at no risk.
const ACKS_RECORDED_EVERY_MS: u64 = 200;

fn unreachable_bank(bank: BankId) -> EngineError {
    EngineError::Consortium(format!(
        "Bank {bank} is not reachable right now. Please try again in a moment."
    ))
}

impl Node {
    /// Creates the node and starts its delivery and recovery tasks.
    pub fn start(
        peers: Peers,
        banks: Vec<BankInfo>,
        public_urls: BTreeMap<BankId, String>,
        engine: EngineHandle,
        settings: TwoPcSettings,
    ) -> Arc<Node> {
        let (jobs_tx, jobs_rx) = mpsc::channel(settings.queue_capacity);
        let deliveries = Deliveries::new(DeliveryConfig {
            first_retry_ms: settings.first_retry_ms,
            max_retry_ms: settings.max_retry_ms,
            in_flight_ms: settings.prepare_timeout_ms,
            linger_ms: settings.decision_linger_ms,
            me: peers.me,
        });
        let node = Arc::new_cyclic(|this| Node {
            this: this.clone(),
            me: peers.me,
            banks,
            peers,
            engine,
            settings,
            jobs_tx,
            jobs_rx: tokio::sync::Mutex::new(jobs_rx),
            in_flight: Mutex::new(HashMap::new()),
            deliveries: Mutex::new(deliveries),
            delivered: Mutex::new(Vec::new()),
            delivery_wake: Notify::new(),
            started: Instant::now(),
            progress: Mutex::new(ProgressLog::default()),
            public_urls,
            lookups: Arc::new(LookupCache::default()),
            ring: std::sync::OnceLock::new(),
            visit: Mutex::new(VisitState::default()),
            timings: Mutex::new(PhaseTimings::default()),
        });
        tokio::spawn(node.clone().deliver_forever());
        tokio::spawn(node.clone().recover_forever());
        node
    }

    pub fn set_ring(&self, ring: crate::ring_driver::RingHandle) {
        let _ = self.ring.set(ring);
    }

    /// A packet was queued: make sure the token comes here without waiting in idle holds. After a
    /// visit that found work, it does anyway (see [`VisitState::worked`]); otherwise this bank's ring
    /// and the peers' are hurried, once per visit. Under load every visit finds work, so no hints
    /// are sent at all; an idle consortium sends one round per packet that wakes it.
    fn hurry(&self) {
        {
            let mut visit = self.visit.lock().expect("visit lock");
            if visit.worked || visit.hinted {
                return;
            }
            visit.hinted = true;
        }
        self.send_hurry();
    }

    fn send_hurry(&self) {
        if let Some(ring) = self.ring.get() {
            ring.hurry();
        }
        for bank in self.banks.iter().map(|b| b.id).filter(|b| *b != self.me) {
            let peers = self.peers.clone();
            tokio::spawn(async move {
                let _: Option<serde_json::Value> = peers.call(bank, "/interbank/hurry", &()).await;
            });
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn is_member(&self, bank: BankId) -> bool {
        self.banks.iter().any(|b| b.id == bank)
    }

    /// Runs phase one for a batch of queued packets (called while this bank holds the token) and
    /// hands the decisions to a task of their own. Returns whether there was any work.
    pub async fn run_batch(self: Arc<Self>) -> bool {
        let started = Instant::now();
        let mut jobs = Vec::new();
        let missed = {
            let mut rx = self.jobs_rx.lock().await;
            while jobs.len() < self.settings.batch_max {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let mut visit = self.visit.lock().expect("visit lock");
            *visit = VisitState {
                worked: !jobs.is_empty(),
                hinted: false,
            };
            // A packet queued since the queue was drained may have seen the previous visit's
            // `worked` and sent no hints; it is in the queue by now, so this sees it.
            let missed = jobs.is_empty() && !rx.is_empty();
            visit.hinted = missed;
            missed
        };
        if missed {
            self.send_hurry();
        }
        if jobs.is_empty() {
            return false;
        }
        let deadline = Duration::from_millis(self.settings.queue_deadline_ms);
        let (live, expired): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| j.enqueued.elapsed() < deadline);
        for job in expired {
            let msg = "The consortium could not take this transfer in time; nothing was sent. Please try again.";
            self.finish(&job.plan.tx, Err(EngineError::Consortium(msg.into())));
        }
        if live.is_empty() {
            return true;
        }
        let (mut round, messages) = Round::start(live.into_iter().map(|j| j.plan).collect());
        let mut calls = JoinSet::new();
        for (bank, items) in messages {
            let node = self.clone();
            calls.spawn(async move { (bank, node.send_prepare(bank, items).await) });
        }
        while let Some(joined) = calls.join_next().await {
            if let Ok((bank, votes)) = joined {
                round.on_votes(bank, votes);
                let mut progress = self.progress.lock().expect("progress lock");
                for (tx, legs) in round.progress() {
                    progress.update(&tx, legs, false);
                }
            }
        }
        // A panicked call task left its bank unanswered: that is a "no".
        let silent: Vec<BankId> = round.waiting_for().collect();
        for bank in silent {
            round.on_votes(bank, None);
        }
        inject(self.settings.fault, Fault::CrashBeforeDecision);
        // Every vote is in: phase one, which the token orders, is over. The decisions are stored
        // and answered while the token moves on (storing takes an fsync, as long again as the
        // round); a participant asking about one meanwhile hears "pending" (still in flight).
        self.time_phase(started, |t| (&mut t.rounds, &mut t.round_votes_us));
        let node = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            node.conclude(round.decisions()).await;
            node.time_phase(started, |t| (&mut t.concludes, &mut t.conclude_us));
        });
        true
    }

    /// Stores a round's decisions, then queues them for delivery and answers the clients.
    async fn conclude(&self, decisions: Vec<engine::twopc::Decision>) {
        let txs: Vec<TxId> = decisions.iter().map(|d| d.tx.clone()).collect();
        match self.engine.log_decisions(decisions).await {
            Ok(finals) => {
                inject(self.settings.fault, Fault::CrashAfterDecision);
                let now = self.now_ms();
                {
                    // This bank's own part was decided with the log; the others hear it.
                    let mut deliveries = self.deliveries.lock().expect("deliveries lock");
                    for (tx, logged) in txs.iter().zip(&finals) {
                        deliveries.add(tx.clone(), logged.commit, &logged.tell, now);
                    }
                }
                self.delivery_wake.notify_one();
                for (tx, logged) in txs.iter().zip(finals) {
                    let state = if logged.commit {
                        LegState::Committed
                    } else {
                        LegState::Aborted
                    };
                    self.progress.lock().expect("progress lock").update(
                        tx,
                        vec![state; logged.outcome.legs.len()],
                        true,
                    );
                    self.finish(tx, Ok(logged.outcome));
                }
            }
            Err(e) => {
                // Not stored: participants will ask, and an unknown id resolves to abort.
                tracing::error!(error = %e, "storing 2PC decisions failed; the packets will abort");
                let msg = "The transfer could not be confirmed and will be cancelled; nothing will be moved. Please check your statement.";
                for tx in &txs {
                    self.finish(tx, Err(EngineError::Consortium(msg.into())));
                }
            }
        }
    }

    fn finish(&self, tx: &TxId, result: EngineResult<PacketOutcome>) {
        if result.is_err() {
            let mut progress = self.progress.lock().expect("progress lock");
            let legs = progress.by_tx.get(tx).map_or(0, |(_, p)| p.legs.len());
            progress.update(tx, vec![LegState::Aborted; legs], true);
        }
        let waiters = self
            .in_flight
            .lock()
            .expect("in-flight lock")
            .remove(tx)
            .map(|c| c.waiters)
            .unwrap_or_default();
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }

    /// Phase one at `bank`, with the decisions it has yet to hear riding along.
    async fn send_prepare(&self, bank: BankId, items: Vec<PrepareItem>) -> Option<Vec<Vote>> {
        if bank == self.me {
            return self.engine.prepare(self.me, items).await.ok();
        }
        let decisions = self
            .deliveries
            .lock()
            .expect("deliveries lock")
            .take_for(bank, self.now_ms());
        let sent: Vec<TxId> = decisions.iter().map(|d| d.tx.clone()).collect();
        let timeout = Some(Duration::from_millis(self.settings.prepare_timeout_ms));
        let started = Instant::now();
        let answer: Option<PrepareAnswer> = self
            .peers
            .call_within(
                bank,
                "/interbank/prepare",
                &PrepareMsg { items, decisions },
                timeout,
            )
            .await;
        self.time_phase(started, |t| (&mut t.prepares_sent, &mut t.prepare_rtt_us));
        let (votes, acked) = match answer {
            Some(a) => (Some(a.votes), a.acked),
            None => (None, Vec::new()),
        };
        if !sent.is_empty() {
            self.settle(bank, sent, acked);
        }
        votes
    }

    /// The attempt that carried decisions `sent` to `bank` ended with `acked` acknowledged (only
    /// those sent count: a peer cannot ack for others); the rest are retried after their backoff.
    fn settle(&self, bank: BankId, sent: Vec<TxId>, acked: Vec<TxId>) {
        let acked: Vec<TxId> = acked.into_iter().filter(|t| sent.contains(t)).collect();
        let missing: Vec<TxId> = sent.into_iter().filter(|t| !acked.contains(t)).collect();
        let completed = {
            let mut deliveries = self.deliveries.lock().expect("deliveries lock");
            deliveries.failed(bank, &missing);
            deliveries.acked(bank, &acked)
        };
        let first_delivered = !completed.is_empty() && {
            let mut delivered = self.delivered.lock().expect("delivered lock");
            let was_empty = delivered.is_empty();
            delivered.extend(completed);
            was_empty
        };
        if !missing.is_empty() || first_delivered {
            self.delivery_wake.notify_one();
        }
    }

    /// Records the decisions acknowledged everywhere since the last call.
    async fn record_delivered(&self) {
        let delivered = std::mem::take(&mut *self.delivered.lock().expect("delivered lock"));
        if delivered.is_empty() {
            return;
        }
        // Nobody is left to acknowledge these.
        let updates = delivered.into_iter().map(|tx| (tx, Vec::new())).collect();
        if let Err(e) = self.engine.decision_acked(updates).await {
            // The decisions are sent again after a restart; participants ack them again.
            tracing::warn!(error = %e, "recording acknowledgements");
        }
    }

    async fn send_decide(&self, bank: BankId, items: Vec<DecideItem>) -> Option<Vec<TxId>> {
        if bank == self.me {
            return self.engine.decide(self.me, items).await.ok();
        }
        let timeout = Some(Duration::from_millis(self.settings.prepare_timeout_ms));
        self.peers
            .call_within(bank, "/interbank/decide", &DecideMsg { items }, timeout)
            .await
    }

    /// Phase two, forever: sends due decisions, records acknowledgements.
    async fn deliver_forever(self: Arc<Self>) {
        match self.engine.unacked_decisions().await {
            Ok(list) => {
                let now = self.now_ms();
                let mut deliveries = self.deliveries.lock().expect("deliveries lock");
                for (tx, commit, banks) in list {
                    deliveries.add(tx, commit, &banks, now);
                }
            }
            Err(e) => tracing::error!(error = %e, "loading unacknowledged decisions"),
        }
        let mut recorded_at = 0;
        loop {
            let due = self
                .deliveries
                .lock()
                .expect("deliveries lock")
                .due(self.now_ms());
            for (bank, items) in due {
                let node = self.clone();
                tokio::spawn(async move {
                    let sent: Vec<TxId> = items.iter().map(|i| i.tx.clone()).collect();
                    let acked = node.send_decide(bank, items).await.unwrap_or_default();
                    node.settle(bank, sent, acked);
                });
            }
            let pending_acks = !self.delivered.lock().expect("delivered lock").is_empty();
            if pending_acks && self.now_ms() >= recorded_at + ACKS_RECORDED_EVERY_MS {
                recorded_at = self.now_ms();
                let node = self.clone();
                tokio::spawn(async move { node.record_delivered().await });
            }
            let next_delivery = self
                .deliveries
                .lock()
                .expect("deliveries lock")
                .next_deadline_ms();
            let next_record = pending_acks.then_some(recorded_at + ACKS_RECORDED_EVERY_MS);
            let next = next_delivery.into_iter().chain(next_record).min();
            let sleep = match next {
                Some(at) => Duration::from_millis(at.saturating_sub(self.now_ms()).max(1)),
                None => Duration::from_secs(3_600),
            };
            tokio::select! {
                _ = self.delivery_wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Recovery, forever: resolves transactions this bank has had prepared for too long.
    async fn recover_forever(self: Arc<Self>) {
        let period = Duration::from_millis(self.settings.in_doubt_after_ms.max(10));
        loop {
            tokio::time::sleep(period).await;
            let Ok(in_doubt) = self.engine.in_doubt().await else {
                continue;
            };
            let cutoff = wall_clock_ms() - self.settings.in_doubt_after_ms as i64;
            let mut by_coordinator: BTreeMap<BankId, Vec<TxId>> = BTreeMap::new();
            for (tx, coordinator, since) in in_doubt {
                let list = by_coordinator.entry(coordinator).or_default();
                if since <= cutoff && list.len() < MAX_ITEMS_PER_MESSAGE {
                    list.push(tx);
                }
            }
            for (coordinator, txs) in by_coordinator {
                if txs.is_empty() {
                    continue;
                }
                let answers = if coordinator == self.me {
                    Some(self.resolve_many(self.me, txs.clone()).await)
                } else {
                    self.peers
                        .call::<Vec<Resolution>>(
                            coordinator,
                            "/interbank/resolve",
                            &ResolveMsg { txs: txs.clone() },
                        )
                        .await
                };
                let Some(answers) = answers.filter(|a| a.len() == txs.len()) else {
                    continue;
                };
                let items: Vec<DecideItem> = txs
                    .into_iter()
                    .zip(answers)
                    .filter_map(|(tx, r)| r.decide(tx))
                    .collect();
                if !items.is_empty() {
                    tracing::info!(count = items.len(), %coordinator, "resolving in-doubt transactions");
                    if let Err(e) = self.engine.decide(coordinator, items).await {
                        tracing::warn!(error = %e, "applying resolved decisions");
                    }
                }
            }
        }
    }

    /// The coordinator's answer to participant `from` in doubt. A packet still in flight is
    /// pending; otherwise the stored decision (a commit only to the banks it is for), or a
    /// stored presumed abort.
    pub async fn resolve_many(&self, from: BankId, txs: Vec<TxId>) -> Vec<Resolution> {
        let mut out = Vec::with_capacity(txs.len());
        for tx in txs {
            if self
                .in_flight
                .lock()
                .expect("in-flight lock")
                .contains_key(&tx)
            {
                out.push(Resolution::Pending);
                continue;
            }
            out.push(match self.engine.resolve(tx).await {
                Ok(d) => Resolution::for_bank(&d, from),
                Err(_) => Resolution::Pending,
            });
        }
        out
    }

    async fn lookup_at(&self, bank: BankId, key: TaxId) -> EngineResult<ReceiverPreview> {
        self.directory().lookup(bank, key).await
    }

    fn directory(&self) -> Directory {
        Directory {
            me: self.me,
            engine: self.engine.clone(),
            peers: self.peers.clone(),
            banks: self.banks.clone(),
            cache: self.lookups.clone(),
        }
    }

    async fn plan(
        &self,
        account: AccountId,
        tx: TxId,
        legs: Vec<PacketLeg>,
    ) -> EngineResult<Result<PacketPlan, PacketOutcome>> {
        let payer = self.engine.account(account).await?;
        let owners: Vec<TaxId> = payer.holders.iter().map(|h| h.tax_id).collect();
        let first = &payer.holders[0];
        let mut lookups = JoinSet::new();
        for (i, leg) in legs.iter().enumerate() {
            let (directory, bank, key) = (self.directory(), leg.receiver_bank, leg.receiver_key);
            lookups.spawn(async move { (i, directory.lookup(bank, key).await) });
        }
        let mut receivers: Vec<Option<EngineResult<ReceiverPreview>>> = vec![None; legs.len()];
        while let Some(joined) = lookups.join_next().await {
            let (i, result) = joined.map_err(|_| EngineError::Unexpected)?;
            receivers[i] = Some(result);
        }
        let receivers: Vec<EngineResult<ReceiverPreview>> = receivers
            .into_iter()
            .map(|r| r.unwrap_or(Err(EngineError::Unexpected)))
            .collect();
        if receivers.iter().any(Result::is_err) {
            // Refused before anything was reserved: nothing to store, a retry simply runs again.
            let legs = legs
                .iter()
                .zip(&receivers)
                .map(|(leg, r)| LegOutcome {
                    status: TxStatus::Aborted,
                    error: r.as_ref().err().map(ToString::to_string),
                    receiver: r.as_ref().ok().map(|p| domain::dto::Counterparty {
                        name: p.name.clone(),
                        key_masked: p.key_masked.clone(),
                        bank: p.bank.id,
                    }),
                    amount: leg.amount,
                })
                .collect();
            return Ok(Err(PacketOutcome {
                tx_id: tx,
                status: TxStatus::Aborted,
                legs,
            }));
        }
        let plan_legs = legs
            .into_iter()
            .zip(receivers)
            .map(|(leg, r)| {
                let r = r.expect("checked above");
                LegPlan {
                    source_bank: leg.source_bank,
                    owners: owners.clone(),
                    receiver_bank: leg.receiver_bank,
                    receiver_key: leg.receiver_key,
                    amount: leg.amount,
                    receiver: domain::dto::Counterparty {
                        name: r.name,
                        key_masked: r.key_masked,
                        bank: leg.receiver_bank,
                    },
                    payer: domain::dto::Counterparty {
                        name: first.name.clone(),
                        key_masked: first.tax_id.masked(),
                        bank: leg.source_bank,
                    },
                }
            })
            .collect();
        Ok(Ok(PacketPlan {
            tx,
            submitter: account,
            legs: plan_legs,
        }))
    }

    async fn submit_packet(
        &self,
        account: AccountId,
        tx: TxId,
        legs: Vec<PacketLeg>,
    ) -> EngineResult<PacketOutcome> {
        if legs.is_empty() || legs.len() > MAX_PACKET_LEGS {
            return Err(EngineError::Invalid(format!(
                "A packet has from 1 to {MAX_PACKET_LEGS} transfers."
            )));
        }
        for (i, leg) in legs.iter().enumerate() {
            for bank in [leg.source_bank, leg.receiver_bank] {
                if !self.is_member(bank) {
                    return Err(EngineError::Invalid(format!(
                        "Transfer {}: there is no bank {bank} in the consortium.",
                        i + 1
                    )));
                }
            }
            if leg.amount.get() <= 0 || leg.amount > domain::money::MAX_OPERATION {
                return Err(EngineError::Invalid(format!(
                    "Transfer {}: {}",
                    i + 1,
                    LedgerError::InvalidAmount
                )));
            }
        }
        let (reply, answer) = oneshot::channel();
        match self.claim(&tx, account, reply) {
            Claimed::NotYours => return Err(LedgerError::TxIdConflict.into()),
            Claimed::Joined => {}
            Claimed::Fresh(guard) => {
                let queued = self.plan_and_queue(account, tx.clone(), legs).await;
                guard.disarm();
                match queued {
                    Ok(true) => self.hurry(),
                    Ok(false) => {}
                    Err(e) => self.finish(&tx, Err(e)),
                }
            }
        }
        let patience = Duration::from_millis(
            self.settings.queue_deadline_ms + 2 * self.settings.prepare_timeout_ms + 2_000,
        );
        match tokio::time::timeout(patience, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(EngineError::Stopped),
            Err(_) => Err(EngineError::Consortium(
                "This transfer is taking longer than usual. Check your statement before trying again.".into(),
            )),
        }
    }

    /// Claims packet id `tx` for `account`'s packet, in one step under the in-flight lock: before
    /// the stored decision is read, so that two submissions of one id can never both plan.
    fn claim(&self, tx: &TxId, account: AccountId, reply: Waiter) -> Claimed {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        match in_flight.get_mut(tx) {
            Some(claim) if claim.submitter == account => {
                // The same client again (a double click, a retry, or other legs under the same
                // id): it hears the first packet's outcome.
                claim.waiters.push(reply);
                Claimed::Joined
            }
            Some(_) => Claimed::NotYours,
            None => {
                in_flight.insert(
                    tx.clone(),
                    Claim {
                        submitter: account,
                        waiters: vec![reply],
                    },
                );
                Claimed::Fresh(ClaimGuard {
                    node: self.this.clone(),
                    tx: Some(tx.clone()),
                })
            }
        }
    }

    /// With `tx` claimed: answers from its stored decision if it has one (another client's id is
    /// refused), or plans the packet and queues it for the token (`Ok(true)`). A packet refused
    /// while planning (unknown receiver, unreachable bank) is answered here, nothing reserved.
    async fn plan_and_queue(
        &self,
        account: AccountId,
        tx: TxId,
        legs: Vec<PacketLeg>,
    ) -> EngineResult<bool> {
        if let Some(done) = self.engine.decision(tx.clone()).await? {
            if done.submitter.is_some_and(|s| s != account) {
                return Err(LedgerError::TxIdConflict.into());
            }
            self.finish(
                &tx,
                Ok(engine::parse_outcome(&tx, done.commit, &done.outcome)),
            );
            return Ok(false);
        }
        let plan = match self.plan(account, tx.clone(), legs).await? {
            Ok(plan) => plan,
            Err(refused) => {
                self.finish(&tx, Ok(refused));
                return Ok(false);
            }
        };
        self.progress
            .lock()
            .expect("progress lock")
            .start(account, &tx, plan.legs.len());
        let job = Job {
            plan,
            enqueued: Instant::now(),
        };
        self.jobs_tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EngineError::Busy,
            mpsc::error::TrySendError::Closed(_) => EngineError::Stopped,
        })?;
        Ok(true)
    }

    async fn linked(&self, owners: Vec<TaxId>) -> Vec<LinkedAccount> {
        let mut calls = JoinSet::new();
        for bank in self.banks.iter().filter(|b| b.id != self.me).cloned() {
            let (peers, owners) = (self.peers.clone(), owners.clone());
            calls.spawn(async move {
                let found = peers
                    .call::<Option<AccountAnswer>>(
                        bank.id,
                        "/interbank/account",
                        &AccountMsg { owners },
                    )
                    .await;
                found.flatten().map(|a| LinkedAccount {
                    bank,
                    account: a.account,
                    available: a.available,
                    blocked: a.blocked,
                })
            });
        }
        let mut out: Vec<LinkedAccount> = calls.join_all().await.into_iter().flatten().collect();
        out.sort_by_key(|l| l.bank.id);
        out
    }

    async fn statuses(&self) -> Vec<BankStatus> {
        let mut calls = JoinSet::new();
        for bank in self.banks.clone() {
            let (http, url) = (
                self.peers.http.clone(),
                self.peers.urls.get(&bank.id).cloned(),
            );
            let public = self
                .public_urls
                .get(&bank.id)
                .cloned()
                .or_else(|| url.clone())
                .unwrap_or_default();
            let timeout = Duration::from_millis(500);
            calls.spawn(async move {
                let answer = match url {
                    Some(url) => match http
                        .get(format!("{url}/status"))
                        .timeout(timeout)
                        .send()
                        .await
                    {
                        Ok(res) if res.status().is_success() => {
                            res.json::<serde_json::Value>().await.ok()
                        }
                        _ => None,
                    },
                    None => None,
                };
                let v = answer.unwrap_or(serde_json::Value::Null);
                let ring = &v["ring"];
                BankStatus {
                    bank,
                    url: public,
                    online: !v.is_null(),
                    holding: ring["holding"].as_bool().unwrap_or(false),
                    epoch_counter: ring["epoch_counter"].as_u64().unwrap_or(0),
                    epoch_origin: ring["epoch_origin"]
                        .as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .and_then(|n| BankId::try_from(n).ok()),
                    visits: ring["visits"].as_u64().unwrap_or(0),
                    rotations_per_s: ring["rotations_per_s"].as_f64().unwrap_or(0.0),
                    packets_in_flight: v["twopc"]["packets_in_flight"].as_u64().unwrap_or(0),
                    decisions_undelivered: v["twopc"]["decisions_undelivered"]
                        .as_u64()
                        .unwrap_or(0),
                }
            });
        }
        let mut out: Vec<BankStatus> = calls.join_all().await;
        out.sort_by_key(|s| s.bank.id);
        out
    }

    /// Packets queued or running, and decisions not yet acknowledged: for `/status`.
    pub fn load(&self) -> (usize, usize) {
        let in_flight = self.in_flight.lock().expect("in-flight lock").len();
        let undelivered = self.deliveries.lock().expect("deliveries lock").len();
        (in_flight, undelivered)
    }

    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// Phase one as a participant: the coordinator's decisions riding on the prepare, then the
    /// prepare, in one durable batch of this bank's engine.
    pub async fn serve_prepare(
        &self,
        from: BankId,
        msg: PrepareMsg,
    ) -> EngineResult<PrepareAnswer> {
        let started = Instant::now();
        let result = self
            .engine
            .decide_then_prepare(from, msg.decisions, msg.items)
            .await;
        self.time_phase(started, |t| {
            (&mut t.prepares_served, &mut t.prepare_engine_us)
        });
        result.map(|(acked, votes)| PrepareAnswer { votes, acked })
    }

    pub fn timings(&self) -> PhaseTimings {
        *self.timings.lock().expect("timings lock")
    }

    /// Counts one more run of a phase (`phase` picks its count and its total) that began at
    /// `started`.
    fn time_phase(&self, started: Instant, phase: fn(&mut PhaseTimings) -> (&mut u64, &mut u64)) {
        let mut timings = self.timings.lock().expect("timings lock");
        let (count, total_us) = phase(&mut timings);
        *count += 1;
        *total_us =
            total_us.saturating_add(started.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
    }
}

/// Receivers found at other banks in the last minute: a Pix key's owner at a bank does not change
/// (accounts are never renamed or closed), and the bank that holds the account checks the key
/// again when it prepares the credit, so a cached name saves a round trip per leg and risks
/// nothing. Bounded: emptied when full.
#[derive(Default)]
struct LookupCache {
    entries: Mutex<HashMap<(BankId, TaxId), (ReceiverPreview, Instant)>>,
}

const LOOKUP_TTL: Duration = Duration::from_secs(60);
const LOOKUP_CACHE_MAX: usize = 10_000;

impl LookupCache {
    fn get(&self, bank: BankId, key: TaxId) -> Option<ReceiverPreview> {
        let entries = self.entries.lock().expect("lookup cache lock");
        entries
            .get(&(bank, key))
            .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, bank: BankId, key: TaxId, preview: &ReceiverPreview) {
        let mut entries = self.entries.lock().expect("lookup cache lock");
        if entries.len() >= LOOKUP_CACHE_MAX {
            entries.clear();
        }
        entries.insert((bank, key), (preview.clone(), Instant::now()));
    }
}

/// What a lookup needs, cloneable into a task.
#[derive(Clone)]
struct Directory {
    me: BankId,
    engine: EngineHandle,
    peers: Peers,
    banks: Vec<BankInfo>,
    cache: Arc<LookupCache>,
}

impl Directory {
    /// The owner of `key` at `bank`, asked of that bank (of the engine, for this bank), or a
    /// recent answer of that bank while it is answering.
    async fn lookup(self, bank: BankId, key: TaxId) -> EngineResult<ReceiverPreview> {
        if bank == self.me {
            return self.engine.lookup_key(key).await;
        }
        if !self.banks.iter().any(|b| b.id == bank) {
            return Err(EngineError::Invalid(format!(
                "There is no bank {bank} in the consortium."
            )));
        }
        // A cached answer only while the bank answers: otherwise ask, so that the client hears at
        // once that it is unreachable (and a bank back online is asked afresh).
        if let Some(preview) = self
            .cache
            .get(bank, key)
            .filter(|_| self.peers.answering(bank))
        {
            return Ok(preview);
        }
        match self
            .peers
            .call::<Option<ReceiverPreview>>(bank, "/interbank/lookup", &LookupMsg { key })
            .await
        {
            Some(Some(preview)) if preview.bank.id == bank => {
                self.cache.put(bank, key, &preview);
                Ok(preview)
            }
            Some(_) => Err(LedgerError::UnknownAccount.into()),
            None => Err(unreachable_bank(bank)),
        }
    }
}

impl Consortium for Node {
    fn banks(&self) -> Vec<BankInfo> {
        self.banks.clone()
    }

    fn lookup(&self, bank: BankId, key: TaxId) -> BoxFuture<'_, EngineResult<ReceiverPreview>> {
        Box::pin(self.lookup_at(bank, key))
    }

    fn submit(
        &self,
        account: AccountId,
        tx: TxId,
        legs: Vec<PacketLeg>,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>> {
        Box::pin(self.submit_packet(account, tx, legs))
    }

    fn linked_accounts(&self, owners: Vec<TaxId>) -> BoxFuture<'_, Vec<LinkedAccount>> {
        Box::pin(self.linked(owners))
    }

    fn status(&self) -> BoxFuture<'_, Vec<BankStatus>> {
        Box::pin(self.statuses())
    }

    fn progress(&self, account: AccountId, tx: &TxId) -> Option<PacketProgress> {
        let log = self.progress.lock().expect("progress lock");
        log.by_tx
            .get(tx)
            .filter(|(owner, _)| *owner == account)
            .map(|(_, p)| p.clone())
    }
}
