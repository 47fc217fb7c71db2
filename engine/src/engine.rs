//! The engine: one thread owns the ledger and the store and drains a bounded queue of commands.
//!
//! Callers (server functions, routes) hold an [`EngineHandle`], enqueue a command and await its
//! outcome; they never touch balances. The engine takes up to `batch_max` queued commands at a
//! time. It first runs the batch's reads against the durable state and answers them at once, then
//! applies the writes to the in-memory [`Ledger`] in order, persists all their changes in one
//! SQLite transaction (group commit: one fsync for the batch) and only then answers them. So every
//! answer reflects exactly what is on disk.

use crate::auth::{PasswordHash, TokenHash};
use crate::directory::{DirEntry, Directory, KeyClaim, KeyOp, PortPermit, PortRequest};
use crate::ledger::{Change, Entry, Ledger, LedgerError, NewAccount, PartKey};
use crate::proof::{BankKey, Keyring};
use crate::store::{Participation, ProtocolChange, SessionChange, Store, StoredDecision};
use crate::twopc::proof::{Ballot, Digest, Proof, SignedBallot, SignedPlan};
use crate::twopc::Termination;
use crate::twopc::Unacked;
use crate::twopc::{DecideItem, Decision, InDoubt, PrepareItem, Question, Resolution, Vote};
use domain::consent::{ConsentId, ConsentView, Grant};
use domain::dto::{
    AccountKind, AccountView, BankInfo, Counterparty, Dashboard, DepositMethod, EntryKind,
    EntryView, Receipt, ReceiptLine, ReceiverPreview, TransferReceipt, TxStatus,
};
use domain::{AccountId, BankId, Cents, PixKey, PixMessage, Refusal, TaxId, TxId};
use rand::distr::{Alphanumeric, SampleString};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

pub use crate::error::{ConsortiumError, EngineError, EngineResult, KeyError};

/// Where time comes from; injected so that tests and the simulator control it.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        wall_clock_ms()
    }
}

/// This machine's clock moved by a fixed amount: a test's way to let time pass (expiries).
pub struct SkewedClock(pub i64);

impl Clock for SkewedClock {
    fn now_ms(&self) -> i64 {
        wall_clock_ms().saturating_add(self.0)
    }
}

/// Milliseconds since the Unix epoch by this machine's clock: the one place that reads it
/// (everything else takes a [`Clock`], or asks this for request time stamps).
pub fn wall_clock_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub bank: BankInfo,
    pub db_path: PathBuf,
    /// Bound of the command queue; a full queue answers [`EngineError::Busy`] at once.
    pub queue_capacity: usize,
    /// Most commands applied per group commit.
    pub batch_max: usize,
    /// A session ends this long after its login, however busy (the cookie's Max-Age).
    pub session_ttl_ms: i64,
    /// A session unused this long ends.
    pub session_idle_ms: i64,
    /// Bound on live sessions, so that logins cannot grow memory without limit.
    pub sessions_max: usize,
    /// Live sessions one account may have; a new login past it ends that account's oldest (so
    /// that logging in again and again cannot fill the table).
    pub sessions_per_account: usize,
    /// How many history entries a dashboard shows.
    pub recent_limit: u32,
    /// Per member bank, the most it may owe this bank net (membership file); a credit that would
    /// take a bank beyond it is refused. A bank not listed may owe nothing.
    pub limits: std::collections::BTreeMap<BankId, Cents>,
    /// Fault injection for tests (`FAULT_DB_SPARE_PAGES`): the database may grow by this many
    /// pages from its size at start, then writing fails as on a full disk.
    pub spare_pages: Option<u32>,
    /// This bank's signing key, for the statements other banks check on their own (a bank
    /// alone has none and signs nothing).
    pub identity: Option<Arc<BankKey>>,
    /// The consortium's public keys (empty for a bank alone).
    pub keyring: Arc<Keyring>,
    /// How long past a plan's deadline a participant holding it without any proof of its
    /// decision gives its part up on its own (see `engine::engine::decisions`).
    pub expiry_grace_ms: i64,
    /// The Pix limits of a client who set none (the node's configuration gives the BCB's;
    /// none by default here).
    pub pix_limits: domain::pix_limits::Defaults,
    /// `SETTLEMENT_DEADLINE_S`: a member that owes this bank an agreed window not confirmed
    /// received this long after the window closed here has its new debits to this bank refused
    /// ([`crate::settlement::Windows::overdue`]); `None`: no deadline.
    pub settlement_deadline_ms: Option<i64>,
}

/// What the engine thread publishes after every batch, read without the queue by `/status`,
/// `/healthz` and `/metrics` (so that polling them costs the engine nothing).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub audit: Audit,
    /// Since when the last batches could not be written (`None`: the last write worked).
    pub store_failing_since_ms: Option<i64>,
    /// Batches that could not be written since start.
    pub store_failures: u64,
    /// Contradicting statements of one signer seen since start (each kept as evidence).
    pub equivocations: u64,
    /// Settlement: the last window closed here, and the pairs whose signed reports disagreed.
    pub settlement: SettlementSnapshot,
}

/// Settlement as `/status` and `/metrics` show it (see [`crate::settlement`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SettlementSnapshot {
    pub last_window: u64,
    pub disagreements: u64,
}

impl EngineConfig {
    pub fn new(bank: BankInfo, db_path: PathBuf) -> EngineConfig {
        EngineConfig {
            bank,
            db_path,
            queue_capacity: 4_096,
            batch_max: 1_024,
            session_ttl_ms: crate::auth::SESSION_TTL_MS,
            session_idle_ms: crate::auth::SESSION_IDLE_MS,
            sessions_max: 100_000,
            sessions_per_account: 10,
            recent_limit: 50,
            limits: std::collections::BTreeMap::new(),
            spare_pages: None,
            identity: None,
            keyring: Arc::new(Keyring::default()),
            expiry_grace_ms: EXPIRY_GRACE_MS,
            pix_limits: domain::pix_limits::Defaults::UNLIMITED,
            settlement_deadline_ms: None,
        }
    }
}

/// Totals for checking conservation of money from outside, and how well commits are grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub accounts: usize,
    pub total_available: i128,
    pub total_blocked: i128,
    pub total_incoming: i128,
    pub prepared_transactions: usize,
    /// Commands executed since start.
    pub commands: u64,
    /// Durable transactions written since start (one fsync each): `commands / commits` is the
    /// group commit's average size.
    pub commits: u64,
    /// Deposits, opening balance and the position with every peer.
    pub books: crate::ledger::Books,
    /// Whether clients' available + blocked equals deposits + opening + what peers still owe +
    /// what settlement windows brought in (`Books::explained`).
    pub balanced: bool,
}

type Reply<T> = oneshot::Sender<EngineResult<T>>;

/// One command for the engine thread, as queued: what it does to the state in the current batch
/// (its answer waits for the batch to be durable), and whether it only reads.
struct Command {
    read: bool,
    run: Run,
}

/// What a queued command does, in the engine thread, at the batch's time.
type Run = Box<dyn FnOnce(&mut State, i64) -> Deferred + Send>;

/// A command of the engine: its answer, whether it only reads, and what it does. Each concern's
/// commands live in its own file (`accounts.rs`, `sessions.rs`, `keys.rs`, `consents.rs`,
/// `two_phase.rs`, `settlement.rs`) with their handle methods: a new command is one struct, one `impl Request`
/// and one method there.
trait Request: Send + 'static {
    type Answer: Send + 'static;
    /// Reads run before the batch's writes, against the durable state (see [`Command`]); they
    /// must change nothing.
    const READ: bool = false;
    fn run(self, state: &mut State, now: i64) -> EngineResult<Self::Answer>;
}

impl Command {
    fn of<R: Request>(request: R, reply: Reply<R::Answer>) -> Command {
        Command {
            read: R::READ,
            run: Box::new(move |state, now| defer(reply, request.run(state, now))),
        }
    }
}

/// Reports the totals for checking conservation of money.
struct AuditNow;

impl Request for AuditNow {
    type Answer = Audit;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Audit> {
        Ok(state.audit())
    }
}

/// Stops the engine after the batch in progress is durable.
struct Shutdown;

impl Request for Shutdown {
    type Answer = ();

    fn run(self, state: &mut State, _now: i64) -> EngineResult<()> {
        state.stopping = true;
        Ok(())
    }
}

/// Live sessions by token hash. Only the engine thread adds and removes them (a new one is in
/// memory before it is durable, but nobody holds its token until then); request handlers read
/// them directly, without a round trip through the engine's queue, and mark them used.
type SessionTable = Arc<RwLock<HashMap<TokenHash, LiveSession>>>;

/// A session in memory: whose (the account and which of its holders), until when at most, and
/// when it was last used.
#[derive(Debug)]
pub(crate) struct LiveSession {
    who: LoggedIn,
    expires_ms: i64,
    /// Kept in memory only (a write per request would cost a durable commit each): after a
    /// restart, sessions count as used at the restart.
    last_used_ms: std::sync::atomic::AtomicI64,
}

impl LiveSession {
    fn new(who: LoggedIn, expires_ms: i64, now_ms: i64) -> LiveSession {
        LiveSession {
            who,
            expires_ms,
            last_used_ms: std::sync::atomic::AtomicI64::new(now_ms),
        }
    }

    /// Whether it is still on at `now_ms`: before its end and used within `idle_ms`.
    fn live(&self, now_ms: i64, idle_ms: i64) -> bool {
        let used = self.last_used_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.expires_ms > now_ms && now_ms - used < idle_ms
    }
}

/// A cheap, cloneable handle for enqueueing commands.
#[derive(Clone)]
pub struct EngineHandle {
    queue: mpsc::Sender<Command>,
    bank: BankInfo,
    clock: Arc<dyn Clock>,
    sessions: SessionTable,
    /// How long a session lives at most, and unused (see [`EngineConfig`]).
    session_ttl_ms: i64,
    session_idle_ms: i64,
    /// This bank's copy of the key directory, read without the queue (the engine writes it).
    keys: crate::directory::SharedEntries,
    snapshot: Arc<RwLock<Snapshot>>,
    /// This bank's key, which signs its ballots off the engine thread.
    identity: Option<Arc<BankKey>>,
    /// The consortium's public keys, which check plans and proofs off the engine thread.
    keyring: Arc<Keyring>,
}

impl EngineHandle {
    /// Opens (or creates) the bank's database, restores the ledger and starts the engine thread.
    /// The thread ends when the last handle is dropped.
    pub fn start(
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(EngineHandle, std::thread::JoinHandle<()>), String> {
        let store = Store::open(&config.db_path)
            .map_err(|e| format!("opening {}: {e}", config.db_path.display()))?;
        if let Some(pages) = config.spare_pages {
            store
                .limit_growth(pages)
                .map_err(|e| format!("limiting the database's growth: {e}"))?;
        }
        let state = State::restore(store, config.clone(), clock.clone())?;
        let sessions = state.sessions.clone();
        let keys = state.directory.shared();
        let snapshot = state.snapshot.clone();
        let (identity, keyring) = (config.identity.clone(), config.keyring.clone());
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let thread = std::thread::Builder::new()
            .name(format!("engine-{}", config.bank.id))
            .spawn(move || state.run(rx))
            .map_err(|e| e.to_string())?;
        Ok((
            EngineHandle {
                queue,
                bank: config.bank,
                clock,
                sessions,
                session_ttl_ms: config.session_ttl_ms,
                session_idle_ms: config.session_idle_ms,
                keys,
                snapshot,
                identity,
                keyring,
            },
            thread,
        ))
    }

    pub fn bank(&self) -> &BankInfo {
        &self.bank
    }

    /// This bank's clock (the one its engine stamps and decides with): plans are timed by it.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The consortium's public keys this bank checks signatures with.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The totals and the store's health as of the last batch, without the queue.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether the engine thread still takes commands (it ends on shutdown, or if it died).
    pub fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }

    /// Commands waiting in the engine's queue now.
    pub fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// A fresh transaction id of this bank: `E` + bank code + Brasília minute + 11 random alphanumerics.
    pub fn new_tx_id(&self) -> TxId {
        let stamp = domain::time_fmt::stamp_brasilia(self.clock.now_ms());
        let suffix = Alphanumeric.sample_string(&mut rand::rng(), 11);
        TxId::compose(self.bank.id, &stamp, &suffix).expect("composed ids are well-formed")
    }

    /// Queues `request` and waits for its answer; a full queue answers [`EngineError::Busy`] at
    /// once.
    async fn request<R: Request>(&self, request: R) -> EngineResult<R::Answer> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Command::of(request, reply))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => EngineError::Busy,
                mpsc::error::TrySendError::Closed(_) => EngineError::Stopped,
            })?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Like `request`, but waits for room in the queue: for protocol steps that must not be
    /// dropped under load (the engine drains the queue continuously, so the wait is bounded).
    async fn request_waiting<R: Request>(&self, request: R) -> EngineResult<R::Answer> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Command::of(request, reply))
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Stops the engine after the batch in progress is durable; later commands get
    /// [`EngineError::Stopped`]. For a clean exit while other tasks still hold handles.
    pub async fn shutdown(&self) -> EngineResult<()> {
        self.request_waiting(Shutdown).await
    }

    pub async fn audit(&self) -> EngineResult<Audit> {
        self.request(AuditNow).await
    }
}

/// How long past its plan's deadline a participant holds a transaction without any proof of its
/// decision before it aborts its part on its own: long enough that an honest coordinator cut off
/// for a while still reaches it with the proof first (see `decisions::State::expire`).
pub const EXPIRY_GRACE_MS: i64 = 10 * 60 * 1_000;

/// An answer waiting for the batch it belongs to to be durable.
type Deferred = Box<dyn FnOnce(bool) + Send>;

fn defer<T: Send + 'static>(reply: Reply<T>, result: EngineResult<T>) -> Deferred {
    Box::new(move |durable| {
        // A caller that went away (timeout, closed connection) no longer needs the answer.
        let _ = reply.send(if durable {
            result
        } else {
            Err(EngineError::NotStored)
        });
    })
}

struct State {
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    store: Store,
    ledger: Ledger,
    /// Consents given here, links to consents elsewhere, and the codes and states in between.
    consents: crate::consent::Consents,
    /// This bank's copy of the consortium's key directory.
    directory: Directory,
    /// Settlement windows closed here, their reports and payments.
    windows: crate::settlement::Windows,
    /// The settlement window of each transaction with parts prepared here (its plan's): a
    /// window is reported only once none of it or before is left (`settlement::ready`).
    window_tags: HashMap<TxId, u64>,
    /// Scheduled Pix waiting for their day or running.
    schedules: crate::schedule::Schedules,
    /// Charges (cobranças) of this bank's clients.
    charges: crate::charges::Charges,
    /// Each client's receivers to pay again (recent and favourites).
    contacts: crate::contacts::AddressBook,
    key_codes: crate::key_codes::KeyCodes,
    /// Moves of this bank's keys their owners allowed: key -> (the bank it may move to, the
    /// account it is at, until when). In memory, like codes: a restart asks the owner again.
    port_allowed: HashMap<PixKey, (BankId, AccountId, i64)>,
    sessions: SessionTable,
    session_changes: Vec<SessionChange>,
    seen_in_batch: HashMap<TxId, Seen>,
    /// Set by [`Shutdown`]: stop after this batch.
    stopping: bool,
    /// 2PC records changed in the current batch (not yet in the store).
    protocol_changes: Vec<ProtocolChange>,
    participations_in_batch: HashMap<TxId, Participation>,
    /// Proofs of decisions applied in the current batch (the store has the older ones).
    proofs_in_batch: HashMap<TxId, Proof>,
    /// Plans aborted before this bank prepared them, with their deadlines (memory only,
    /// bounded: see `decisions::REFUSED_PLANS_MAX`).
    refused_plans: HashMap<Digest, i64>,
    /// Contradicting statements of one signer seen since start (counting those stored before).
    equivocations: u64,
    decisions_in_batch: HashMap<TxId, StoredDecision>,
    waiting: Vec<Deferred>,
    commands: u64,
    commits: u64,
    store_failing_since_ms: Option<i64>,
    store_failures: u64,
    snapshot: Arc<RwLock<Snapshot>>,
}

impl State {
    fn restore(store: Store, config: EngineConfig, clock: Arc<dyn Clock>) -> Result<State, String> {
        let ledger = store
            .load_ledger()
            .map_err(|e| format!("loading ledger: {e}"))?;
        ledger
            .check_invariants()
            .map_err(|e| format!("stored ledger is inconsistent: {e}"))?;
        let now = clock.now_ms();
        let sessions = live_sessions(&store, now).map_err(|e| format!("loading sessions: {e}"))?;
        let consents = store
            .load_consents()
            .map_err(|e| format!("loading consents: {e}"))?;
        let directory = store
            .load_directory()
            .map_err(|e| format!("loading the key directory: {e}"))?;
        let equivocations = store
            .equivocation_count()
            .map_err(|e| format!("counting equivocations: {e}"))?;
        let equivocations = u64::try_from(equivocations).unwrap_or(0);
        let windows = store
            .load_windows()
            .map_err(|e| format!("loading settlement windows: {e}"))?;
        let window_tags = settlement::window_tags(&store, &ledger, windows.open())
            .map_err(|e| format!("loading the plans of prepared transactions: {e}"))?;
        let schedules = store
            .load_schedules()
            .map_err(|e| format!("loading scheduled Pix: {e}"))?;
        let charges = store
            .load_charges()
            .map_err(|e| format!("loading charges: {e}"))?;
        let contacts = store
            .load_contacts()
            .map_err(|e| format!("loading receivers to pay again: {e}"))?;
        let snapshot = Arc::new(RwLock::new(Snapshot {
            audit: audit_of(&ledger, 0, 0),
            store_failing_since_ms: None,
            store_failures: 0,
            equivocations,
            settlement: SettlementSnapshot {
                last_window: windows.last_closed(),
                disagreements: windows.disagreements(),
            },
        }));
        Ok(State {
            config,
            clock,
            store,
            ledger,
            consents,
            directory,
            windows,
            window_tags,
            schedules,
            charges,
            contacts,
            key_codes: Default::default(),
            port_allowed: HashMap::new(),
            sessions: Arc::new(RwLock::new(sessions)),
            session_changes: Vec::new(),
            seen_in_batch: HashMap::new(),
            stopping: false,
            protocol_changes: Vec::new(),
            participations_in_batch: HashMap::new(),
            proofs_in_batch: HashMap::new(),
            refused_plans: HashMap::new(),
            equivocations,
            decisions_in_batch: HashMap::new(),
            waiting: Vec::new(),
            commands: 0,
            commits: 0,
            store_failing_since_ms: None,
            store_failures: 0,
            snapshot,
        })
    }

    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(self.config.batch_max);
        while rx.blocking_recv_many(&mut batch, self.config.batch_max) > 0 {
            let now = self.clock.now_ms();
            self.commands += batch.len() as u64;
            // Reads first, answered at once: nothing of this batch is applied yet, so they see
            // only durable state. Their callers and this batch's writers were concurrent (no
            // writer has been answered), so ordering the reads first is linearizable.
            let (reads, writes): (Vec<Command>, Vec<Command>) =
                batch.drain(..).partition(|c| c.read);
            for command in reads {
                self.execute(command, now);
            }
            debug_assert!(
                !self.ledger.has_changes()
                    && self.session_changes.is_empty()
                    && self.protocol_changes.is_empty()
            );
            self.answer_waiting(true);
            for command in writes {
                self.execute(command, now);
            }
            self.flush(now);
            if self.stopping {
                tracing::info!("engine shut down");
                return;
            }
        }
        tracing::info!("engine queue closed; engine thread ends");
    }

    /// Persists pending changes, then releases the answers that depended on them.
    fn flush(&mut self, now: i64) {
        let changes: Vec<Change> = self.ledger.take_changes();
        let sessions = std::mem::take(&mut self.session_changes);
        let protocol = std::mem::take(&mut self.protocol_changes);
        let consents = self.consents.take_changes();
        let directory = self.directory.take_changes();
        let settlement = self.windows.take_changes();
        let settlement_cut = self.windows.take_cut_change();
        let schedules = self.schedules.take_changes();
        let charges = self.charges.take_changes();
        let contacts = self.contacts.take_changes();
        let batch = crate::store::Batch {
            ledger: &changes,
            sessions: &sessions,
            protocol: &protocol,
            consents: &consents,
            directory: &directory,
            settlement: &settlement,
            settlement_cut,
            schedules: &schedules,
            charges: &charges,
            contacts: &contacts,
        };
        let durable = if changes.is_empty()
            && sessions.is_empty()
            && protocol.is_empty()
            && consents.is_empty()
            && directory.is_empty()
            && settlement.is_empty()
            && settlement_cut.is_none()
            && schedules.is_empty()
            && charges.is_empty()
            && contacts.is_empty()
        {
            true
        } else {
            self.commits += 1;
            match self.store.persist(&batch, now) {
                Ok(()) => {
                    if self.store_failing_since_ms.take().is_some() {
                        tracing::info!("writing to the store works again");
                    }
                    true
                }
                Err(e) => {
                    tracing::error!(error = %e, "persisting a batch failed; reloading state from disk");
                    self.store_failures += 1;
                    self.store_failing_since_ms.get_or_insert(now);
                    self.reload();
                    false
                }
            }
        };
        self.publish();
        self.seen_in_batch.clear();
        self.participations_in_batch.clear();
        self.proofs_in_batch.clear();
        self.decisions_in_batch.clear();
        self.answer_waiting(durable);
    }

    /// Publishes the totals and the store's health for readers outside the queue.
    fn publish(&self) {
        let snapshot = Snapshot {
            audit: self.audit(),
            store_failing_since_ms: self.store_failing_since_ms,
            store_failures: self.store_failures,
            equivocations: self.equivocations,
            settlement: SettlementSnapshot {
                last_window: self.windows.last_closed(),
                disagreements: self.windows.disagreements(),
            },
        };
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
    }

    fn answer_waiting(&mut self, durable: bool) {
        for answer in self.waiting.drain(..) {
            answer(durable);
        }
    }

    /// After a failed commit, memory is ahead of disk: throw memory away and read disk again.
    fn reload(&mut self) {
        match self.store.load_ledger() {
            Ok(ledger) => self.ledger = ledger,
            Err(e) => panic!("cannot reload the ledger after a failed commit: {e}"),
        }
        match live_sessions(&self.store, self.clock.now_ms()) {
            Ok(sessions) => *self.sessions.write().expect("sessions lock") = sessions,
            Err(e) => panic!("cannot reload sessions after a failed commit: {e}"),
        }
        // Codes and link states still waiting are lost with memory: their clients start again.
        match self.store.load_consents() {
            Ok(consents) => self.consents = consents,
            Err(e) => panic!("cannot reload consents after a failed commit: {e}"),
        }
        match self.store.load_directory() {
            Ok(directory) => self.directory.replace_with(directory),
            Err(e) => panic!("cannot reload the key directory after a failed commit: {e}"),
        }
        match self.store.load_windows() {
            Ok(windows) => self.windows = windows,
            Err(e) => panic!("cannot reload settlement windows after a failed commit: {e}"),
        }
        match settlement::window_tags(&self.store, &self.ledger, self.windows.open()) {
            Ok(tags) => self.window_tags = tags,
            Err(e) => panic!(
                "cannot reload the plans of prepared transactions after a failed commit: {e}"
            ),
        }
        match self.store.load_schedules() {
            Ok(schedules) => self.schedules = schedules,
            Err(e) => panic!("cannot reload scheduled Pix after a failed commit: {e}"),
        }
        match self.store.load_charges() {
            Ok(charges) => self.charges = charges,
            Err(e) => panic!("cannot reload charges after a failed commit: {e}"),
        }
        match self.store.load_contacts() {
            Ok(contacts) => self.contacts = contacts,
            Err(e) => panic!("cannot reload receivers after a failed commit: {e}"),
        }
    }

    fn execute(&mut self, command: Command, now: i64) {
        let answer = (command.run)(self, now);
        self.waiting.push(answer);
    }

    fn audit(&self) -> Audit {
        audit_of(&self.ledger, self.commands, self.commits)
    }
}

/// The audit totals from the ledger's running sums: no walk over the accounts.
fn audit_of(ledger: &Ledger, commands: u64, commits: u64) -> Audit {
    let totals = ledger.totals();
    let books = ledger.books().clone();
    Audit {
        accounts: usize::try_from(totals.accounts).unwrap_or(usize::MAX),
        total_available: totals.available,
        total_blocked: totals.blocked,
        total_incoming: totals.incoming,
        prepared_transactions: ledger.prepared_count(),
        commands,
        commits,
        balanced: totals.available + totals.blocked == books.explained(),
        books,
    }
}

fn store_error(e: rusqlite::Error) -> EngineError {
    tracing::error!(error = %e, "reading the store");
    EngineError::Unexpected
}

mod accounts;
mod charges;
mod consents;
mod contacts;
pub mod decisions;
mod keys;
mod limits;
pub mod protocol;
mod returns;
mod schedule;
mod sessions;
mod settlement;
mod two_phase;

use accounts::Seen;
pub use consents::GrantRequest;
pub use keys::{KEYS_PER_COMPANY, KEYS_PER_PERSON, PORT_ALLOWED_MAX, PORT_ALLOWED_MS};
use sessions::live_sessions;
pub use sessions::LoggedIn;
pub use settlement::{Close, ReportTaken, Settled, Visited, WINDOWS_LISTED_MAX};

#[cfg(test)]
mod tests;
