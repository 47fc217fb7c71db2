//! The node's driver of cross-bank work: it carries out the I/O of the engine's sans-IO
//! [`Coordinator`] (engine calls, signed peer calls, timers) and feeds the results back. Every
//! protocol decision (claims, queue, deadlines, rounds, phase two, hurrying the ring) is the
//! coordinator's; the simulation drives the same state machine.
//!
//! - A client's packet (the app's [`Consortium::submit`]): `Node::submit_work` claims its id, answers from the stored decision or
//!   plans it (receivers looked up through the [`Lookups`]) and queues it.
//! - While this bank holds the token the ring driver calls [`Node::run_batch`]: one prepare per
//!   participant, votes in, then the token moves on while a task stores the decisions and answers
//!   the clients.
//! - `phase_two`: decisions delivered until acknowledged; transactions this bank has had
//!   prepared too long resolved with their coordinators.
//!
//! # Locks
//! `coordinator` holds the whole state machine; `timings` the phase totals; the directory its
//! cache. Each is a std mutex held only for one call into what it guards, never across an await,
//! and no code takes one while holding another, so there is no lock order to get wrong.

use crate::fault::{inject, Fault};
use crate::lookups::Lookups;
use crate::peers::PeerError;
use crate::peers::Peers;
use crate::ring_driver::RingHandle;
use domain::dto::{
    BankInfo, BankStatus, LinkedAccount, PacketOutcome, PacketProgress, ReceiverPreview,
};
use domain::packet::Packet;
use domain::{AccountId, BankId, PixKey, TxId};
use engine::consent::ConsentError;
use engine::consortium::{BoxFuture, Consortium};
use engine::coordinator::{not_yours, Answer, Claim, Coordinator, CoordinatorConfig};
use engine::directory::KeyOp;
use engine::twopc::{Decision, PacketPlan};
use engine::wire::{PhaseTimings, PrepareAnswer, PrepareMsg, RedeemMsg, Route, StatusReport};
use engine::{ConsortiumError, EngineError, EngineHandle, EngineResult};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The 2PC driver's configuration: the coordinator core's own, passed to it as it is, and what
/// only the driver uses (built once, by `crate::config`).
#[derive(Clone, Debug)]
pub struct TwoPcSettings {
    pub coordinator: CoordinatorConfig,
    /// Timeout of a prepare call (a batch of up to 256 packets) to one participant.
    pub prepare_timeout_ms: u64,
    /// A participant asks the coordinator about a transaction prepared longer ago than this.
    pub in_doubt_after_ms: u64,
    /// Test-only crash injection (`FAULT_INJECT`); `None` in every real deployment.
    pub fault: Option<Fault>,
    /// `SETTLEMENT_WINDOW_S`: the ring's holder closes a settlement window once per interval of
    /// this length (`crate::settlement::visit`); `None`: only operators close windows.
    pub settlement_window_ms: Option<u64>,
}

mod phase_two;

/// How long a key operation's answer waits for every bank to acknowledge its decision.
const KEY_PROPAGATION_WAIT: Duration = Duration::from_secs(2);

/// What a client asks the consortium to run.
enum Work {
    Packet(Packet),
    Key(KeyOp),
    /// A devolução the engine checked for the client ([`EngineHandle::plan_return`]).
    Return(engine::twopc::Devolution),
    /// A charge's payment; the charge's bank checks the charge when it prepares.
    Charge(engine::twopc::ChargePayment),
}

/// How long the status page waits for each bank's `/status`.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

type Waiter = oneshot::Sender<EngineResult<PacketOutcome>>;

pub struct Node {
    /// Itself, for claim guards that outlive a dropped request.
    this: Weak<Node>,
    me: BankId,
    banks: Vec<BankInfo>,
    peers: Peers,
    engine: EngineHandle,
    settings: TwoPcSettings,
    coordinator: Mutex<Coordinator<Waiter>>,
    /// Wakes the delivery task when phase two has something new to do.
    delivery_wake: Notify,
    started: Instant,
    public_urls: BTreeMap<BankId, String>,
    directory: Lookups,
    /// This bank's ring, to hurry it when packets arrive (set once the ring has started).
    ring: OnceLock<RingHandle>,
    /// Where cross-bank work spends its time (totals since start, on the status page).
    timings: Mutex<PhaseTimings>,
    /// Where the signed answers of other banks are kept (`None` in tests that keep none).
    evidence: Option<engine::evidence::EvidenceLog>,
    /// The last interval of `settings.settlement_window_ms` (counted from the Unix epoch) whose
    /// window this bank saw to: closed, or found closed. Only the ring's holder reads and
    /// writes it, one visit at a time.
    settlement_slot: std::sync::atomic::AtomicI64,
    /// An operator asked to close the open settlement window: done at this bank's next token
    /// visit (`crate::settlement::close`).
    close_requested: std::sync::atomic::AtomicBool,
    /// Rounds this bank coordinates that are voting or whose decisions are being stored: while
    /// any is, this bank does not report a window (a leg between two other banks moves its
    /// positions only when its decision is stored).
    rounds_open: std::sync::atomic::AtomicUsize,
}

/// Releases a claim whose request was dropped while its packet was being planned (its client
/// went away), so that the id is not left claimed for ever.
struct ClaimGuard {
    node: Weak<Node>,
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
            let answer = node.coordinator().release(&tx, Err(EngineError::Stopped));
            node.answer([answer]);
        }
    }
}

impl Node {
    /// Creates the node and starts its delivery and recovery tasks.
    pub fn start(
        peers: Peers,
        banks: Vec<BankInfo>,
        public_urls: BTreeMap<BankId, String>,
        engine: EngineHandle,
        settings: TwoPcSettings,
        (signing, evidence): (
            engine::proof::Signing,
            Option<engine::evidence::EvidenceLog>,
        ),
    ) -> Arc<Node> {
        let coordinator = Coordinator::new(settings.coordinator.clone(), signing);
        let settlement_slot =
            crate::settlement::slot(settings.settlement_window_ms, engine.now_ms());
        let node = Arc::new_cyclic(|this| Node {
            this: this.clone(),
            me: peers.me,
            directory: Lookups::new(
                engine.clone(),
                peers.clone(),
                banks.clone(),
                Duration::from_millis(settings.prepare_timeout_ms),
            ),
            banks,
            peers,
            engine,
            settings,
            coordinator: Mutex::new(coordinator),
            delivery_wake: Notify::new(),
            started: Instant::now(),
            public_urls,
            ring: OnceLock::new(),
            timings: Mutex::new(PhaseTimings::default()),
            evidence,
            // The first scheduled window closes at the first interval's end after start.
            settlement_slot: std::sync::atomic::AtomicI64::new(settlement_slot),
            close_requested: std::sync::atomic::AtomicBool::new(false),
            rounds_open: std::sync::atomic::AtomicUsize::new(0),
        });
        tokio::spawn(node.clone().deliver_forever());
        tokio::spawn(node.clone().recover_forever());
        node
    }

    pub fn settings(&self) -> &TwoPcSettings {
        &self.settings
    }

    pub fn settlement_slot(&self) -> &std::sync::atomic::AtomicI64 {
        &self.settlement_slot
    }

    /// Asks for the open settlement window to be closed at this bank's next token visit, and
    /// hurries the ring there.
    pub fn request_close(&self) {
        self.close_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.send_hurry();
    }

    /// Takes an operator's request to close the open window, if any.
    pub fn take_close_request(&self) -> bool {
        self.close_requested
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether this bank may report a window now: none of its rounds is voting or being stored.
    pub fn may_report(&self) -> bool {
        self.rounds_open.load(std::sync::atomic::Ordering::SeqCst) == 0
    }

    pub fn set_ring(&self, ring: RingHandle) {
        let _ = self.ring.set(ring);
    }

    fn coordinator(&self) -> MutexGuard<'_, Coordinator<Waiter>> {
        self.coordinator.lock().expect("coordinator lock")
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Tells waiting clients their packets' outcomes (a client that went away is skipped).
    fn answer(&self, answers: impl IntoIterator<Item = Answer<Waiter>>) {
        for a in answers {
            for w in a.waiters {
                let _ = w.send(a.result.clone());
            }
        }
    }

    /// Packets are waiting here and the token may be idling elsewhere: this bank's ring and the
    /// other members' of it are asked to pass it on without holding it.
    fn send_hurry(&self) {
        let Some(ring) = self.ring.get() else {
            return;
        };
        ring.hurry();
        for bank in ring.others().iter().copied() {
            let peers = self.peers.clone();
            tokio::spawn(async move {
                let _ = peers.call(bank, &engine::wire::HurryMsg).await;
            });
        }
    }

    /// Runs phase one for a batch of queued packets (called while this bank holds the token) and
    /// hands the decisions to a task of their own. Returns whether there was any work.
    pub async fn run_batch(self: Arc<Self>, window: u64) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        let started = Instant::now();
        let batch = self
            .coordinator()
            .start_batch(self.now_ms(), self.engine.now_ms(), window);
        let worked = batch.worked();
        self.answer(batch.expired);
        let Some(round) = batch.round else {
            return worked;
        };
        self.rounds_open.fetch_add(1, SeqCst);
        let mut calls = JoinSet::new();
        let own = round.own.map(|items| {
            let engine = self.engine.clone();
            tokio::spawn(async move { engine.prepare_own(items).await.ok() })
        });
        for (bank, msg) in round.prepares {
            let node = self.clone();
            calls.spawn(async move {
                let sent: Vec<TxId> = msg.decisions.iter().map(|d| d.tx.clone()).collect();
                (bank, sent, node.send_prepare(bank, msg).await)
            });
        }
        if let Some(own) = own {
            // A task that panicked leaves this bank's own parts unvoted: a no.
            let votes = own.await.ok().flatten();
            self.coordinator().on_own_votes(round.id, votes);
        }
        while let Some(joined) = calls.join_next().await {
            // A call task that panicked leaves its bank unanswered: `finish_round` counts it as a no.
            if let Ok((bank, sent, answer)) = joined {
                if self
                    .coordinator()
                    .on_prepare_answer(round.id, bank, &sent, answer)
                {
                    self.delivery_wake.notify_one();
                }
            }
        }
        let decisions = self.coordinator().finish_round(round.id);
        inject(self.settings.fault, Fault::CrashBeforeDecision);
        // Every vote is in: phase one, which the token orders, is over. The decisions are stored
        // and answered while the token moves on (storing takes an fsync, as long again as the
        // round); a participant asking about one meanwhile hears "pending" (still claimed).
        self.time_phase(started, |t| (&mut t.rounds, &mut t.round_votes_us));
        let node = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            node.conclude(decisions).await;
            node.time_phase(started, |t| (&mut t.concludes, &mut t.conclude_us));
            node.rounds_open.fetch_sub(1, SeqCst);
        });
        true
    }

    /// Phase one at another bank: its votes, and the riding decisions it acknowledged.
    async fn send_prepare(&self, bank: BankId, msg: PrepareMsg) -> Option<PrepareAnswer> {
        let timeout = Some(Duration::from_millis(self.settings.prepare_timeout_ms));
        let started = Instant::now();
        let answer = self.peers.signed_call(bank, &msg, timeout).await;
        self.time_phase(started, |t| (&mut t.prepares_sent, &mut t.prepare_rtt_us));
        let (request, sent, answer) = answer.ok()?;
        // The participant's signed votes, with this bank's request they answer, as evidence.
        let path = Route::Prepare.path();
        let log = self.evidence.as_ref();
        crate::evidence::keep_exchange(log, path, &request, &sent, &answer, msg.txs());
        serde_json::from_slice(&answer.body).ok()
    }

    /// Stores a round's decisions (this bank's own parts decided in the same commit), then
    /// answers the clients and starts phase two.
    async fn conclude(&self, decisions: Vec<Decision>) {
        let txs: Vec<TxId> = decisions.iter().map(|d| d.tx.clone()).collect();
        let answers = match self.engine.log_decisions(decisions).await {
            Ok(logged) => {
                inject(self.settings.fault, Fault::CrashAfterDecision);
                let answers = self.coordinator().concluded(logged, self.now_ms());
                self.delivery_wake.notify_one();
                answers
            }
            Err(e) => {
                // Not stored: participants will ask, and an unknown id resolves to abort.
                tracing::error!(error = %e, "storing 2PC decisions failed; the packets will abort");
                self.coordinator().conclude_failed(&txs)
            }
        };
        self.answer(answers);
    }

    /// Runs `work` (a packet, or a key operation) for the client logged in to `account`: every
    /// part commits or every part aborts.
    async fn submit_work(
        &self,
        account: AccountId,
        tx: TxId,
        work: Work,
    ) -> EngineResult<PacketOutcome> {
        let (reply, answer) = oneshot::channel();
        let claim = self.coordinator().claim(&tx, account, reply);
        match claim {
            Claim::NotYours => return Err(not_yours()),
            Claim::Joined => {}
            Claim::Fresh => {
                let guard = ClaimGuard {
                    node: self.this.clone(),
                    tx: Some(tx.clone()),
                };
                self.plan_and_queue(account, tx, work).await;
                guard.disarm();
            }
        }
        let patience = Duration::from_millis(
            self.settings.coordinator.queue_deadline_ms
                + 2 * self.settings.prepare_timeout_ms
                + 2_000,
        );
        match tokio::time::timeout(patience, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(EngineError::Stopped),
            Err(_) => Err(ConsortiumError::Slow.into()),
        }
    }

    /// With `tx` claimed: answers from its stored decision if it has one (another client's id is
    /// refused), or plans the packet and queues it for the token. A packet refused while
    /// planning (unknown receiver, unreachable bank) is answered here, nothing reserved.
    async fn plan_and_queue(&self, account: AccountId, tx: TxId, work: Work) {
        let planned = match self.engine.decision(tx.clone()).await {
            Err(e) => Err(Err(e)),
            Ok(Some(done)) if done.submitter.is_some_and(|s| s != account) => Err(Err(not_yours())),
            Ok(Some(done)) => Err(Ok(engine::parse_outcome(&tx, done.commit, &done.outcome))),
            Ok(None) => match work {
                Work::Packet(packet) => match self.plan(account, tx.clone(), &packet).await {
                    // Refused before anything was reserved: the refusal is stored as this id's
                    // decision, so that a retry of the id hears it again instead of running a
                    // second plan (the rogue-bank simulation pointed at it).
                    Err(Ok(refused)) => Err(self.store_refusal(account, refused).await),
                    planned => planned,
                },
                Work::Return(devolution) => match self.engine.account(account).await {
                    Ok(view) => match view.holders.first() {
                        Some(holder) => Ok(PacketPlan::devolution(
                            (tx.clone(), self.me, account),
                            holder,
                            devolution,
                        )),
                        None => Err(Err(EngineError::Unexpected)),
                    },
                    Err(e) => Err(Err(e)),
                },
                Work::Charge(payment) => match self.engine.account(account).await {
                    Ok(view) => match view.holders.first() {
                        Some(holder) => Ok(PacketPlan::charge_payment(
                            (tx.clone(), self.me, account),
                            holder,
                            payment,
                        )),
                        None => Err(Err(EngineError::Unexpected)),
                    },
                    Err(e) => Err(Err(e)),
                },
                // Every member keeps a copy of the directory: every member takes part.
                Work::Key(op) => Ok(PacketPlan::key_op(
                    tx.clone(),
                    account,
                    op,
                    self.banks.iter().map(|b| b.id).collect(),
                )),
            },
        };
        let queued = match planned {
            Ok(plan) => self.coordinator().enqueue(plan, self.now_ms()),
            Err(result) => Err(self.coordinator().release(&tx, result)),
        };
        match queued {
            Ok(true) => self.send_hurry(),
            Ok(false) => {}
            Err(released) => self.answer([released]),
        }
    }

    /// Stores the outcome of a packet refused while planning as its (abort) decision; the outcome
    /// the client hears is the stored one (the first decision for an id is final).
    async fn store_refusal(
        &self,
        account: AccountId,
        refused: PacketOutcome,
    ) -> EngineResult<PacketOutcome> {
        let decision = Decision {
            tx: refused.tx_id.clone(),
            commit: false,
            participants: Vec::new(),
            submitter: account,
            legs: Vec::new(),
            outcome: refused,
            ballots: None,
            refusal: None,
        };
        let mut logged = self.engine.log_decisions(vec![decision]).await?;
        logged
            .pop()
            .map(|l| l.outcome)
            .ok_or(EngineError::Unexpected)
    }

    /// The packet as the coordinator will run it, once every receiver is looked up; or the
    /// outcome of a packet refused before anything was reserved (a retry simply runs again).
    async fn plan(
        &self,
        account: AccountId,
        tx: TxId,
        packet: &Packet,
    ) -> Result<PacketPlan, EngineResult<PacketOutcome>> {
        let payer = self.engine.account(account).await.map_err(Err)?;
        let mut lookups = JoinSet::new();
        for (i, leg) in packet.legs().iter().enumerate() {
            let directory = self.directory.clone();
            let (bank, key) = (leg.receiver_bank, leg.receiver_key.clone());
            lookups.spawn(async move { (i, directory.receiver(bank, key).await) });
        }
        let mut receivers =
            vec![Err(domain::Refusal::NoAnswer { bank: self.me }); packet.legs().len()];
        while let Some(joined) = lookups.join_next().await {
            let (i, found) = joined.map_err(|_| Err(EngineError::Unexpected))?;
            receivers[i] = found;
        }
        // What the client may draw on at other banks: its links, each a consent held there.
        let consents = self
            .engine
            .links(account)
            .await
            .map_err(Err)?
            .into_iter()
            .map(|l| (l.bank, l.grant.consent))
            .collect();
        PacketPlan::build(
            (tx, self.me, account),
            &payer.holders,
            &consents,
            packet,
            receivers,
        )
        .map_err(Ok)
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
            calls.spawn(async move {
                let report = match url {
                    Some(url) => match http
                        .get(format!("{url}/status"))
                        .timeout(STATUS_TIMEOUT)
                        .send()
                        .await
                    {
                        Ok(res) if res.status().is_success() => {
                            res.json::<StatusReport>().await.ok()
                        }
                        _ => None,
                    },
                    None => None,
                };
                bank_status(bank, public, report)
            });
        }
        let mut out: Vec<BankStatus> = calls.join_all().await;
        out.sort_by_key(|s| s.bank.id);
        out
    }

    /// Where evidence is kept, if it is.
    pub fn evidence(&self) -> Option<&engine::evidence::EvidenceLog> {
        self.evidence.as_ref()
    }

    /// Evidence messages not kept (the writer could not keep up, or a write failed).
    pub fn evidence_dropped(&self) -> u64 {
        self.evidence.as_ref().map_or(0, |e| e.dropped())
    }

    /// Packet ids claimed, and decisions not yet acknowledged: for `/status`.
    pub fn load(&self) -> (usize, usize) {
        self.coordinator().load()
    }

    /// Signed calls to the other members (settlement sends its reports and payments through it).
    pub fn peers(&self) -> &Peers {
        &self.peers
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

/// One bank's line on the status page, from its `/status` (`None`: it did not answer).
fn bank_status(bank: BankInfo, url: String, report: Option<StatusReport>) -> BankStatus {
    let online = report.is_some();
    let report = report.unwrap_or_default();
    let ring = report.ring.unwrap_or_default();
    let twopc = report.twopc.unwrap_or_default();
    BankStatus {
        bank,
        url,
        online,
        holding: ring.holding,
        epoch_counter: ring.epoch_counter,
        epoch_origin: ring.epoch_origin,
        visits: ring.visits,
        rotations_per_s: ring.rotations_per_s,
        packets_in_flight: twopc.packets_in_flight,
        decisions_undelivered: twopc.decisions_undelivered,
    }
}

impl crate::ring_driver::Work for Node {
    fn run_batch(
        self: Arc<Self>,
        token_window: u64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = (bool, u64)> + Send>> {
        Box::pin(async move {
            // Settlement windows first: the batch's plans are signed for the window open after
            // this visit's cut, if any.
            let window = crate::settlement::visit(&self, token_window).await;
            (Node::run_batch(self, window).await, window)
        })
    }
}

/// Whether `info`, from bank `bank` about charge `asked`, could be a charge of that bank's:
/// its own, the one asked about, for an amount and with a description any bank would take.
fn plausible(
    info: &domain::charge::ChargeInfo,
    bank: BankId,
    asked: &domain::charge::ChargeId,
) -> bool {
    info.receiver.bank == bank
        && info.id == *asked
        && info.amount.get() > 0
        && info.amount <= domain::money::MAX_OPERATION
        && info.description.chars().count() <= domain::charge::DESCRIPTION_MAX_CHARS
}

impl Consortium for Node {
    fn banks(&self) -> Vec<BankInfo> {
        self.banks.clone()
    }

    fn lookup(&self, key: PixKey) -> BoxFuture<'_, EngineResult<ReceiverPreview>> {
        Box::pin(self.directory.clone().lookup(key))
    }

    fn submit(
        &self,
        account: AccountId,
        tx: TxId,
        packet: Packet,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>> {
        Box::pin(self.submit_work(account, tx, Work::Packet(packet)))
    }

    fn submit_return(
        &self,
        account: AccountId,
        tx: TxId,
        devolution: engine::twopc::Devolution,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>> {
        Box::pin(self.submit_work(account, tx, Work::Return(devolution)))
    }

    fn submit_charge(
        &self,
        account: AccountId,
        tx: TxId,
        payment: engine::twopc::ChargePayment,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>> {
        Box::pin(self.submit_work(account, tx, Work::Charge(payment)))
    }

    fn charge(
        &self,
        bank: BankId,
        charge: domain::charge::ChargeId,
    ) -> BoxFuture<'_, EngineResult<Option<domain::charge::ChargeInfo>>> {
        Box::pin(async move {
            if bank == self.me {
                return self.engine.charge(charge).await;
            }
            if !self.banks.iter().any(|b| b.id == bank) {
                return Err(ConsortiumError::NoSuchBank(bank).into());
            }
            let msg = engine::wire::ChargeMsg { charge };
            match self.peers.call(bank, &msg).await {
                // The charge's bank speaks only for the charge asked about, one of its own,
                // within the limits every bank keeps charges to.
                Ok(Some(info)) if !plausible(&info, bank, &msg.charge) => {
                    tracing::warn!(%bank, "a bank described a charge that cannot be its own");
                    Err(ConsortiumError::Unreachable(bank).into())
                }
                Ok(answer) => Ok(answer),
                Err(_) => Err(ConsortiumError::Unreachable(bank).into()),
            }
        })
    }

    fn submit_key_op(
        &self,
        account: AccountId,
        tx: TxId,
        op: KeyOp,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>> {
        Box::pin(async move {
            let outcome = self.submit_work(account, tx.clone(), Work::Key(op)).await?;
            // A key the client is told is registered (or deleted) should pay (or not) from every
            // bank at once: the answer waits, briefly, until every bank has the decision. A bank
            // that does not answer gets it later, when it does (phase two never gives up).
            let until = Instant::now() + KEY_PROPAGATION_WAIT;
            while self.coordinator().delivering(&tx) && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(outcome)
        })
    }

    fn port_permit(
        &self,
        owner: BankId,
        request: engine::directory::PortRequest,
    ) -> BoxFuture<'_, EngineResult<engine::wire::PortPermitAnswer>> {
        Box::pin(async move {
            if owner == self.me || !self.banks.iter().any(|b| b.id == owner) {
                return Err(ConsortiumError::NoSuchBank(owner).into());
            }
            // The owner's permission is used up when given: a permit lost to a timeout is lost,
            // so this call gets a prepare's patience, not a ring call's.
            let patience = Some(Duration::from_millis(self.settings.prepare_timeout_ms));
            match self.peers.call_within(owner, &request, patience).await {
                Ok(answer) => Ok(answer),
                Err(_) => Ok(Err(domain::Refusal::NoAnswer { bank: owner })),
            }
        })
    }

    fn linked_accounts(
        &self,
        account: AccountId,
    ) -> BoxFuture<'_, EngineResult<Vec<LinkedAccount>>> {
        Box::pin(async move { self.directory.linked(account).await })
    }

    fn redeem(
        &self,
        bank: BankId,
        code: String,
        account: AccountId,
    ) -> BoxFuture<'_, EngineResult<domain::consent::Grant>> {
        Box::pin(async move {
            if bank == self.me || !self.banks.iter().any(|b| b.id == bank) {
                return Err(ConsortiumError::NoSuchBank(bank).into());
            }
            let msg = RedeemMsg {
                code,
                grantee: account,
            };
            // A code is single use: a redemption that timed out after the other bank made the
            // consent cannot be retried, so it gets a prepare's patience, not a ring call's.
            let patience = Some(Duration::from_millis(self.settings.prepare_timeout_ms));
            match self.peers.call_within(bank, &msg, patience).await {
                Ok(grant) => Ok(grant),
                Err(PeerError::Refused { status, .. }) if (400..500).contains(&status) => {
                    Err(ConsentError::BadCode.into())
                }
                Err(_) => Err(ConsortiumError::Unreachable(bank).into()),
            }
        })
    }

    fn link_holder(
        &self,
        bank: BankId,
        account: AccountId,
        state: String,
    ) -> BoxFuture<'_, Option<domain::consent::LinkHolder>> {
        Box::pin(async move {
            if bank == self.me || !self.banks.iter().any(|b| b.id == bank) {
                return None;
            }
            self.directory.link_holder(bank, account, state).await
        })
    }

    fn public_url(&self, bank: BankId) -> Option<String> {
        self.public_urls.get(&bank).cloned()
    }

    fn status(&self) -> BoxFuture<'_, Vec<BankStatus>> {
        Box::pin(self.statuses())
    }

    fn progress(&self, account: AccountId, tx: &TxId) -> Option<PacketProgress> {
        self.coordinator().progress(account, tx)
    }
}
