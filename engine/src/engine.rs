//! The engine: one thread owns the ledger and the store and drains a bounded queue of commands.
//!
//! Callers (server functions, routes) hold an [`EngineHandle`], enqueue a command and await its
//! outcome; they never touch balances. The engine takes up to `batch_max` queued commands at a
//! time. It first runs the batch's reads against the durable state and answers them at once, then
//! applies the writes to the in-memory [`Ledger`] in order, persists all their changes in one
//! SQLite transaction (group commit: one fsync for the batch) and only then answers them. So every
//! answer reflects exactly what is on disk.

use crate::auth::{PasswordHash, TokenHash};
use crate::coordinator::Unacked;
use crate::directory::{DirEntry, Directory, KeyClaim, KeyOp, PortPermit, PortRequest};
use crate::ledger::{Change, Entry, Ledger, LedgerError, NewAccount, PartKey};
use crate::proof::{BankKey, Keyring};
use crate::store::{Participation, ProtocolChange, SessionChange, Store, StoredDecision};
use crate::twopc::proof::{Ballot, Digest, Proof, SignedBallot, SignedPlan};
use crate::twopc::{DecideItem, Decision, InDoubt, PrepareItem, Question, Resolution, Vote};
use decisions::Termination;
use domain::consent::{ConsentId, ConsentView, Grant};
use domain::dto::{
    AccountView, BankInfo, Counterparty, Dashboard, EntryKind, EntryView, ReceiverPreview,
    TransferReceipt, TxStatus,
};
use domain::{AccountId, BankId, Cents, PixKey, Refusal, TaxId, TxId};
use rand::distr::{Alphanumeric, SampleString};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

/// Errors a caller can branch on. Messages are written for a bank client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("The bank is busy right now. Please try again in a moment.")]
    Busy,
    #[error("The bank is not accepting operations right now.")]
    Stopped,
    #[error("Something went wrong on our side; nothing was changed. Please try again.")]
    Unexpected,
    /// The batch this operation belonged to could not be written (a full disk, say): nothing of
    /// it happened, and the bank cannot store new operations until writing works again.
    #[error("This bank cannot store new operations right now; nothing was changed. Please try again later.")]
    NotStored,
    /// Another bank could not be reached, or the consortium could not run the operation.
    #[error(transparent)]
    Consortium(#[from] ConsortiumError),
    /// The packet itself is wrong (unknown bank, too many legs...).
    #[error(transparent)]
    Packet(#[from] domain::packet::PacketError),
    /// A consent, its code or a link's state was refused.
    #[error(transparent)]
    Consent(#[from] crate::consent::ConsentError),
    /// A key's confirmation code was refused.
    #[error(transparent)]
    KeyCode(crate::key_codes::CodeError),
    /// A key cannot be claimed for this account.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Why a key cannot be claimed for an account (checked by the bank that owns the account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("A CPF or CNPJ key must be the document of a holder of this account.")]
    NotYourDocument,
    #[error("This account has as many keys as it may (5 for a person, 20 for a company).")]
    TooMany,
    #[error("This key is already registered to this account.")]
    AlreadyYours,
    #[error("This key belongs to another account.")]
    Taken,
    /// Not a key of this account here (or not one that may be moved).
    #[error("This is not one of this account's e-mail or phone keys.")]
    NotYours,
    /// The key is this person's, at another bank: it can be moved here (portability) if the
    /// client asks for it.
    #[error("This key is yours at another bank; ask to bring it here to move it.")]
    AtAnotherBank(BankId),
    /// A CPF/CNPJ key at another bank: it moves only by being deleted there (by its owner,
    /// logged in at that bank). A document is no secret, so holding an account that names it
    /// proves nothing; an e-mail or phone key moves with the code sent to it.
    #[error(
        "This CPF/CNPJ key is registered at another bank: delete it there, then register it here."
    )]
    DocumentElsewhere(BankId),
}

/// What went wrong between banks, as a client is told it (the app puts it into words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsortiumError {
    #[error("Bank {0} is not reachable right now. Please try again in a moment.")]
    Unreachable(BankId),
    #[error(
        "The consortium could not take this transfer in time; nothing was sent. Please try again."
    )]
    Expired,
    #[error("The transfer could not be confirmed and will be cancelled; nothing will be moved. Please check your statement.")]
    NotConfirmed,
    #[error(
        "This transfer is taking longer than usual. Check your statement before trying again."
    )]
    Slow,
    #[error("There is no bank {0} in the consortium.")]
    NoSuchBank(BankId),
}

pub type EngineResult<T> = Result<T, EngineError>;

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

#[derive(Clone)]
pub struct EngineConfig {
    pub bank: BankInfo,
    pub db_path: PathBuf,
    /// Bound of the command queue; a full queue answers [`EngineError::Busy`] at once.
    pub queue_capacity: usize,
    /// Most commands applied per group commit.
    pub batch_max: usize,
    pub session_ttl_ms: i64,
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
}

impl EngineConfig {
    pub fn new(bank: BankInfo, db_path: PathBuf) -> EngineConfig {
        EngineConfig {
            bank,
            db_path,
            queue_capacity: 4_096,
            batch_max: 1_024,
            session_ttl_ms: crate::auth::SESSION_TTL_MS,
            sessions_max: 100_000,
            sessions_per_account: 10,
            recent_limit: 50,
            limits: std::collections::BTreeMap::new(),
            spare_pages: None,
            identity: None,
            keyring: Arc::new(Keyring::default()),
            expiry_grace_ms: EXPIRY_GRACE_MS,
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
    /// Whether clients' available + blocked equals deposits + opening + settled positions.
    pub balanced: bool,
}

type Reply<T> = oneshot::Sender<EngineResult<T>>;

enum Command {
    OpenAccount {
        new: NewAccount,
        reply: Reply<AccountId>,
    },
    Deposit {
        tx: TxId,
        account: AccountId,
        amount: Cents,
        reply: Reply<TxStatus>,
    },
    Pix {
        tx: TxId,
        payer: AccountId,
        key: PixKey,
        amount: Cents,
        reply: Reply<TransferReceipt>,
    },
    Credentials {
        email: String,
        reply: Reply<Option<(AccountId, PasswordHash)>>,
    },
    CreateSession {
        token: TokenHash,
        account: AccountId,
        reply: Reply<()>,
    },
    EndSession {
        token: TokenHash,
        reply: Reply<()>,
    },
    Dashboard {
        account: AccountId,
        reply: Reply<Dashboard>,
    },
    KeysOf {
        account: AccountId,
        reply: Reply<Vec<DirEntry>>,
    },
    /// The claim of `key` for `account`, checked against the account's holders and its limit.
    KeyClaim {
        account: AccountId,
        key: PixKey,
        port: bool,
        reply: Reply<KeyClaim>,
    },
    /// Bank `to` asks for this bank's signed permission to move one of its keys there.
    PortPermit {
        to: BankId,
        request: PortRequest,
        reply: Reply<Result<PortPermit, Refusal>>,
    },
    KeyCode {
        account: AccountId,
        key: PixKey,
        reply: Reply<String>,
    },
    AllowPort {
        account: AccountId,
        key: PixKey,
        to: BankId,
        reply: Reply<()>,
    },
    CheckKeyCode {
        account: AccountId,
        key: PixKey,
        code: String,
        reply: Reply<()>,
    },
    /// A key operation at a bank alone (no consortium): prepared and decided here at once.
    KeyOpAlone {
        tx: TxId,
        op: KeyOp,
        reply: Reply<Result<(), Refusal>>,
    },
    Audit {
        reply: Reply<Audit>,
    },
    Account {
        account: AccountId,
        reply: Reply<AccountView>,
    },
    /// The account at this bank of the first of `owners` that has one.
    AccountOf {
        owners: Vec<TaxId>,
        reply: Reply<Option<AccountView>>,
    },
    /// Each item with whether its plan's signature held (checked before it was queued).
    Prepare {
        coordinator: BankId,
        items: Vec<(PrepareItem, bool)>,
        reply: Reply<Vec<Vote>>,
    },
    /// Each decision with whether its proof's signatures held (checked before it was queued).
    Decide {
        from: BankId,
        items: Vec<(DecideItem, bool)>,
        reply: Reply<Vec<TxId>>,
    },
    DecideThenPrepare {
        coordinator: BankId,
        decisions: Vec<(DecideItem, bool)>,
        items: Vec<(PrepareItem, bool)>,
        reply: Reply<(Vec<TxId>, Vec<Vote>)>,
    },
    LogDecisions {
        decisions: Vec<Decision>,
        reply: Reply<Vec<decisions::Logged>>,
    },
    DecisionAcked {
        updates: Vec<(TxId, Vec<BankId>)>,
        reply: Reply<()>,
    },
    /// The answer to bank `from` in doubt about a transaction this bank coordinates; with no
    /// decision stored, an abort is stored and returned (presumed abort) for a plan this bank
    /// signed (checked before it was queued).
    Resolve {
        from: BankId,
        question: (Question, bool),
        reply: Reply<Resolution>,
    },
    /// Another participant's question about a plan this bank shares (cooperative termination).
    Terminate {
        plan: (SignedPlan, bool),
        reply: Reply<Termination>,
    },
    /// Gives up transactions held without proof long past their plan's deadline.
    Expire {
        reply: Reply<Vec<TxId>>,
    },
    Decision {
        tx: TxId,
        reply: Reply<Option<StoredDecision>>,
    },
    UnackedDecisions {
        reply: Reply<Vec<Unacked>>,
    },
    InDoubt {
        reply: Reply<Vec<InDoubt>>,
    },
    Participation {
        tx: TxId,
        reply: Reply<Option<Participation>>,
    },
    /// Finish the current batch, then stop (other tasks may still hold handles).
    Shutdown {
        reply: Reply<()>,
    },
    GrantCode {
        grant: GrantRequest,
        reply: Reply<String>,
    },
    Redeem {
        code: String,
        grantee_bank: BankId,
        grantee_account: AccountId,
        reply: Reply<Grant>,
    },
    ConsentsGiven {
        owner: AccountId,
        reply: Reply<Vec<ConsentView>>,
    },
    Revoke {
        owner: AccountId,
        id: ConsentId,
        reply: Reply<()>,
    },
    ConsentedAccount {
        id: ConsentId,
        grantee_bank: BankId,
        grantee_account: AccountId,
        reply: Reply<Option<AccountView>>,
    },
    StartLink {
        account: AccountId,
        bank: BankId,
        reply: Reply<String>,
    },
    TakeLinkState {
        account: AccountId,
        state: String,
        reply: Reply<BankId>,
    },
    SaveLink {
        account: AccountId,
        bank: BankId,
        grant: Grant,
        reply: Reply<()>,
    },
    Links {
        account: AccountId,
        reply: Reply<Vec<crate::consent::Link>>,
    },
}

impl Command {
    /// Commands that change nothing. The engine runs them before a batch's writes, so they see
    /// exactly what is durable, and answers them at once instead of after the batch's fsync.
    /// Those that read the store (history, in-doubt parts, unacknowledged decisions) therefore
    /// never find changes of the batch still in memory: there is nothing to flush first.
    fn is_read(&self) -> bool {
        matches!(
            self,
            Command::Credentials { .. }
                | Command::Dashboard { .. }
                | Command::KeysOf { .. }
                | Command::KeyClaim { .. }
                | Command::Audit { .. }
                | Command::Account { .. }
                | Command::AccountOf { .. }
                | Command::Decision { .. }
                | Command::UnackedDecisions { .. }
                | Command::InDoubt { .. }
                | Command::Participation { .. }
                | Command::ConsentsGiven { .. }
                | Command::ConsentedAccount { .. }
                | Command::Links { .. }
        )
    }
}

/// Live sessions: token hash -> (account, expires at ms). Only the engine thread changes them
/// (a new one is in memory before it is durable, but nobody holds its token until then); request
/// handlers read them directly, without a round trip through the engine's queue.
type SessionTable = Arc<RwLock<HashMap<TokenHash, (AccountId, i64)>>>;

/// A cheap, cloneable handle for enqueueing commands.
#[derive(Clone)]
pub struct EngineHandle {
    queue: mpsc::Sender<Command>,
    bank: BankInfo,
    clock: Arc<dyn Clock>,
    sessions: SessionTable,
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

    /// A fresh transaction id of this bank: `E` + bank code + UTC minute + 11 random alphanumerics.
    pub fn new_tx_id(&self) -> TxId {
        let stamp = domain::time_fmt::stamp_utc(self.clock.now_ms());
        let suffix = Alphanumeric.sample_string(&mut rand::rng(), 11);
        TxId::compose(self.bank.id, &stamp, &suffix).expect("composed ids are well-formed")
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> EngineResult<T> {
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(make(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EngineError::Busy,
            mpsc::error::TrySendError::Closed(_) => EngineError::Stopped,
        })?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Like `call`, but waits for room in the queue: for protocol steps that must not be dropped
    /// under load (the engine drains the queue continuously, so the wait is bounded).
    async fn call_waiting<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> EngineResult<T> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(make(reply))
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    pub async fn account(&self, account: AccountId) -> EngineResult<AccountView> {
        self.call(|reply| Command::Account { account, reply }).await
    }

    pub async fn account_of(&self, owners: Vec<TaxId>) -> EngineResult<Option<AccountView>> {
        self.call(|reply| Command::AccountOf { owners, reply })
            .await
    }

    /// Checks each item's plan signature here, on the caller's thread (signatures are the
    /// costly part, and need no state), so the engine thread only compares.
    fn check_plans(&self, items: Vec<PrepareItem>) -> Vec<(PrepareItem, bool)> {
        items
            .into_iter()
            .map(|item| {
                let signed = item.plan.as_ref().is_some_and(|p| p.verify(&self.keyring));
                (item, signed)
            })
            .collect()
    }

    /// Checks each decision's proof here, on the caller's thread; this bank's own ballot in it
    /// is not checked again.
    fn check_proofs(&self, items: Vec<DecideItem>) -> Vec<(DecideItem, bool)> {
        items
            .into_iter()
            .map(|item| {
                let proved = item
                    .proof
                    .as_ref()
                    .is_some_and(|p| p.check(&item.tx, &self.keyring, Some(self.bank.id)).is_ok());
                (item, proved)
            })
            .collect()
    }

    /// This bank's signed ballot for each vote on `items`, signed here, on the caller's thread.
    fn sign_votes(
        &self,
        items: &[PrepareItem],
        votes: Vec<Vote>,
    ) -> EngineResult<Vec<SignedBallot>> {
        let key = self.identity.as_ref().ok_or(EngineError::Unexpected)?;
        Ok(items
            .iter()
            .zip(votes)
            .map(|(item, vote)| {
                let ballot = Ballot {
                    tx: item.tx.clone(),
                    plan: item.plan.as_ref().map_or(Digest([0; 32]), |p| p.hash()),
                    voter: self.bank.id,
                    vote,
                };
                SignedBallot::sign(key, ballot)
            })
            .collect())
    }

    /// This bank's signed no to every item, for `reason` (each naming the item's first leg):
    /// what it answers a prepare it could not even store.
    pub fn refuse_all(
        &self,
        items: &[PrepareItem],
        reason: Refusal,
    ) -> EngineResult<Vec<SignedBallot>> {
        let votes = items
            .iter()
            .map(|i| Vote::Refused {
                leg: i.parts.first().map_or(0, |(leg, _)| *leg),
                reason,
            })
            .collect();
        self.sign_votes(items, votes)
    }

    /// 2PC participant, phase one, for another bank's plans: one signed ballot per item, its
    /// vote durable before it is returned.
    pub async fn prepare(
        &self,
        coordinator: BankId,
        items: Vec<PrepareItem>,
    ) -> EngineResult<Vec<SignedBallot>> {
        let checked = self.check_plans(items.clone());
        let votes = self
            .call_waiting(|reply| Command::Prepare {
                coordinator,
                items: checked,
                reply,
            })
            .await?;
        self.sign_votes(&items, votes)
    }

    /// Phase one of this bank's own parts, as their coordinator: its votes, unsigned (its
    /// ballot is its decision).
    pub async fn prepare_own(&self, items: Vec<PrepareItem>) -> EngineResult<Vec<Vote>> {
        let coordinator = self.bank.id;
        let items = items.into_iter().map(|i| (i, true)).collect();
        self.call_waiting(|reply| Command::Prepare {
            coordinator,
            items,
            reply,
        })
        .await
    }

    /// 2PC participant, phase two: applies the decisions whose proofs hold, whoever (`from`)
    /// delivers them; returns the ids it acknowledges (durably applied, or already applied, or
    /// about nothing it holds).
    pub async fn decide(&self, from: BankId, items: Vec<DecideItem>) -> EngineResult<Vec<TxId>> {
        let items = self.check_proofs(items);
        self.call_waiting(|reply| Command::Decide { from, items, reply })
            .await
    }

    /// Both of the above in one step, decisions first (what they release can be reserved again
    /// by the new items), durable together: a prepare message with decisions riding on it.
    pub async fn decide_then_prepare(
        &self,
        coordinator: BankId,
        decisions: Vec<DecideItem>,
        items: Vec<PrepareItem>,
    ) -> EngineResult<(Vec<TxId>, Vec<SignedBallot>)> {
        let decisions = self.check_proofs(decisions);
        let checked = self.check_plans(items.clone());
        let (acked, votes) = self
            .call_waiting(|reply| Command::DecideThenPrepare {
                coordinator,
                decisions,
                items: checked,
                reply,
            })
            .await?;
        Ok((acked, self.sign_votes(&items, votes)?))
    }

    /// 2PC coordinator: stores decisions durably, and applies each to this bank's own part of
    /// the packet in the same batch (the stored list of banks still to acknowledge leaves this
    /// bank out). Returns the final decision of each (the first one ever stored for its id wins)
    /// with the outcome to report.
    pub async fn log_decisions(
        &self,
        decisions: Vec<Decision>,
    ) -> EngineResult<Vec<decisions::Logged>> {
        self.call_waiting(|reply| Command::LogDecisions { decisions, reply })
            .await
    }

    pub async fn decision_acked(&self, updates: Vec<(TxId, Vec<BankId>)>) -> EngineResult<()> {
        self.call_waiting(|reply| Command::DecisionAcked { updates, reply })
            .await
    }

    /// As coordinator, the answer to bank `from` in doubt about `question` (see
    /// [`Resolution`]); the caller first checks the id is not in flight.
    pub async fn resolve(&self, from: BankId, question: Question) -> EngineResult<Resolution> {
        let me = self.bank.id;
        let signed = question
            .plan
            .as_ref()
            .is_some_and(|p| p.plan.coordinator == me && p.verify(&self.keyring));
        self.call_waiting(|reply| Command::Resolve {
            from,
            question: (question, signed),
            reply,
        })
        .await
    }

    /// As a participant, the answer to another participant in doubt about `plan`.
    pub async fn terminate(&self, plan: SignedPlan) -> EngineResult<Termination> {
        let signed = plan.verify(&self.keyring);
        self.call_waiting(|reply| Command::Terminate {
            plan: (plan, signed),
            reply,
        })
        .await
    }

    /// Gives up the transactions this bank has held without any proof of their decision for
    /// longer than its plan's deadline and the grace (`EngineConfig::expiry_grace_ms`).
    pub async fn expire(&self) -> EngineResult<Vec<TxId>> {
        self.call_waiting(|reply| Command::Expire { reply }).await
    }

    pub async fn decision(&self, tx: TxId) -> EngineResult<Option<StoredDecision>> {
        self.call(|reply| Command::Decision { tx, reply }).await
    }

    pub async fn unacked_decisions(&self) -> EngineResult<Vec<Unacked>> {
        self.call_waiting(|reply| Command::UnackedDecisions { reply })
            .await
    }

    /// This bank's record of `tx` as a 2PC participant: its coordinator and state (for audits).
    pub async fn participation(&self, tx: TxId) -> EngineResult<Option<Participation>> {
        self.call_waiting(|reply| Command::Participation { tx, reply })
            .await
    }

    pub async fn in_doubt(&self) -> EngineResult<Vec<InDoubt>> {
        self.call_waiting(|reply| Command::InDoubt { reply }).await
    }

    pub async fn open_account(&self, new: NewAccount) -> EngineResult<AccountId> {
        self.call(|reply| Command::OpenAccount { new, reply }).await
    }

    /// Deposits `amount`; retrying with the same `tx` returns the first outcome.
    pub async fn deposit(
        &self,
        tx: TxId,
        account: AccountId,
        amount: Cents,
    ) -> EngineResult<TxStatus> {
        self.call(|reply| Command::Deposit {
            tx,
            account,
            amount,
            reply,
        })
        .await
    }

    /// Pix to a key at this bank; retrying with the same `tx` returns the first outcome.
    pub async fn pix(
        &self,
        tx: TxId,
        payer: AccountId,
        key: PixKey,
        amount: Cents,
    ) -> EngineResult<TransferReceipt> {
        self.call(|reply| Command::Pix {
            tx,
            payer,
            key,
            amount,
            reply,
        })
        .await
    }

    /// The account and password hash for an e-mail, for the caller to verify off this thread.
    pub async fn credentials(
        &self,
        email: String,
    ) -> EngineResult<Option<(AccountId, PasswordHash)>> {
        self.call(|reply| Command::Credentials { email, reply })
            .await
    }

    pub async fn create_session(&self, token: TokenHash, account: AccountId) -> EngineResult<()> {
        self.call(|reply| Command::CreateSession {
            token,
            account,
            reply,
        })
        .await
    }

    pub async fn end_session(&self, token: TokenHash) -> EngineResult<()> {
        self.call(|reply| Command::EndSession { token, reply })
            .await
    }

    /// The account logged in with `token`, if that session is live.
    pub async fn session_account(&self, token: TokenHash) -> EngineResult<Option<AccountId>> {
        let now = self.clock.now_ms();
        let sessions = self.sessions.read().map_err(|_| EngineError::Unexpected)?;
        Ok(sessions
            .get(&token)
            .filter(|(_, expires)| *expires > now)
            .map(|(a, _)| *a))
    }

    pub async fn dashboard(&self, account: AccountId) -> EngineResult<Dashboard> {
        self.call(|reply| Command::Dashboard { account, reply })
            .await
    }

    /// Who `key` pays, from this bank's copy of the directory (read in place: no queue).
    pub async fn lookup_key(&self, key: PixKey) -> EngineResult<DirEntry> {
        let keys = self.keys.read().map_err(|_| EngineError::Unexpected)?;
        keys.get(&key)
            .cloned()
            .ok_or_else(|| LedgerError::UnknownAccount.into())
    }

    /// The keys of `account` (at this bank).
    pub async fn keys_of(&self, account: AccountId) -> EngineResult<Vec<DirEntry>> {
        self.call(|reply| Command::KeysOf { account, reply }).await
    }

    /// What would give `key` to `account`, if the account may have it: a claim, or with `port`
    /// a move from the same person's account at another bank (which needs that bank's permit).
    pub async fn key_claim(
        &self,
        account: AccountId,
        key: PixKey,
        port: bool,
    ) -> EngineResult<KeyClaim> {
        self.call(|reply| Command::KeyClaim {
            account,
            key,
            port,
            reply,
        })
        .await
    }

    /// This bank's signed permission for bank `to` to move one of its keys (see
    /// [`PortPermit`]), or why not. Given once per permission its client gave
    /// ([`EngineHandle::allow_port`]).
    pub async fn port_permit(
        &self,
        to: BankId,
        request: PortRequest,
    ) -> EngineResult<Result<PortPermit, Refusal>> {
        self.call(|reply| Command::PortPermit { to, request, reply })
            .await
    }

    /// The owner of `key` (an account here) lets bank `to` move it to an account of hers there,
    /// for [`PORT_ALLOWED_MS`]: without this, this bank signs no permit for the move.
    pub async fn allow_port(
        &self,
        account: AccountId,
        key: PixKey,
        to: BankId,
    ) -> EngineResult<()> {
        self.call(|reply| Command::AllowPort {
            account,
            key,
            to,
            reply,
        })
        .await
    }

    /// A code for `account` to confirm `key` with (the caller sends it to the address).
    pub async fn key_code(&self, account: AccountId, key: PixKey) -> EngineResult<String> {
        self.call(|reply| Command::KeyCode {
            account,
            key,
            reply,
        })
        .await
    }

    pub async fn check_key_code(
        &self,
        account: AccountId,
        key: PixKey,
        code: String,
    ) -> EngineResult<()> {
        self.call(|reply| Command::CheckKeyCode {
            account,
            key,
            code,
            reply,
        })
        .await
    }

    /// A key operation at a bank without a consortium (its copy of the directory is all there
    /// is); with one, key operations go through the coordinator like packets.
    pub async fn key_op_alone(&self, tx: TxId, op: KeyOp) -> EngineResult<Result<(), Refusal>> {
        self.call(|reply| Command::KeyOpAlone { tx, op, reply })
            .await
    }

    /// Stops the engine after the batch in progress is durable; later commands get
    /// [`EngineError::Stopped`]. For a clean exit while other tasks still hold handles.
    pub async fn shutdown(&self) -> EngineResult<()> {
        self.call_waiting(|reply| Command::Shutdown { reply }).await
    }

    pub async fn audit(&self) -> EngineResult<Audit> {
        self.call(|reply| Command::Audit { reply }).await
    }

    /// The owner of an account here approved terms for an account at another bank: a one-time
    /// code that bank redeems for the consent (see [`crate::consent`]).
    pub async fn grant_code(&self, grant: GrantRequest) -> EngineResult<String> {
        self.call(|reply| Command::GrantCode { grant, reply }).await
    }

    /// Another bank redeems a code for its account: the consent, made durably now.
    pub async fn redeem(
        &self,
        code: String,
        grantee_bank: BankId,
        grantee_account: AccountId,
    ) -> EngineResult<Grant> {
        self.call(|reply| Command::Redeem {
            code,
            grantee_bank,
            grantee_account,
            reply,
        })
        .await
    }

    pub async fn consents_given(&self, owner: AccountId) -> EngineResult<Vec<ConsentView>> {
        self.call(|reply| Command::ConsentsGiven { owner, reply })
            .await
    }

    pub async fn revoke(&self, owner: AccountId, id: ConsentId) -> EngineResult<()> {
        self.call(|reply| Command::Revoke { owner, id, reply })
            .await
    }

    /// The account an active consent lets an account at another bank see.
    pub async fn consented_account(
        &self,
        id: ConsentId,
        grantee_bank: BankId,
        grantee_account: AccountId,
    ) -> EngineResult<Option<AccountView>> {
        self.call(|reply| Command::ConsentedAccount {
            id,
            grantee_bank,
            grantee_account,
            reply,
        })
        .await
    }

    pub async fn start_link(&self, account: AccountId, bank: BankId) -> EngineResult<String> {
        self.call(|reply| Command::StartLink {
            account,
            bank,
            reply,
        })
        .await
    }

    pub async fn take_link_state(&self, account: AccountId, state: String) -> EngineResult<BankId> {
        self.call(|reply| Command::TakeLinkState {
            account,
            state,
            reply,
        })
        .await
    }

    pub async fn save_link(
        &self,
        account: AccountId,
        bank: BankId,
        grant: Grant,
    ) -> EngineResult<()> {
        self.call(|reply| Command::SaveLink {
            account,
            bank,
            grant,
            reply,
        })
        .await
    }

    pub async fn links(&self, account: AccountId) -> EngineResult<Vec<crate::consent::Link>> {
        self.call(|reply| Command::Links { account, reply }).await
    }
}

/// Keys an individual's account may have (BCB's rule).
/// How long an owner's permission to move a key to another bank lasts.
pub const PORT_ALLOWED_MS: i64 = 15 * 60 * 1_000;
/// How long past its plan's deadline a participant holds a transaction without any proof of its
/// decision before it aborts its part on its own: long enough that an honest coordinator cut off
/// for a while still reaches it with the proof first (see `decisions::State::expire`).
pub const EXPIRY_GRACE_MS: i64 = 10 * 60 * 1_000;
/// Permissions to move keys waiting at once, at most.
pub const PORT_ALLOWED_MAX: usize = 10_000;
pub const KEYS_PER_PERSON: usize = 5;
/// Keys a company's account may have.
pub const KEYS_PER_COMPANY: usize = 20;

/// Terms the owner of `owner` approved for `grantee_account` at `grantee_bank`.
#[derive(Clone, Debug)]
pub struct GrantRequest {
    pub owner: AccountId,
    pub grantee_bank: BankId,
    pub grantee_account: AccountId,
    pub terms: domain::consent::ConsentTerms,
}

/// The unexpired sessions in the store, keyed as the engine keeps them.
fn live_sessions(
    store: &Store,
    now_ms: i64,
) -> rusqlite::Result<HashMap<TokenHash, (AccountId, i64)>> {
    Ok(store
        .load_sessions(now_ms)?
        .into_iter()
        .map(|s| (s.token, (s.account, s.expires_ms)))
        .collect())
}

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

/// What a transaction id was used for earlier in the current batch (not yet in the store).
#[derive(Clone)]
enum Seen {
    Deposit {
        account: AccountId,
        amount: Cents,
    },
    Pix {
        payer: AccountId,
        amount: Cents,
        receipt: TransferReceipt,
    },
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
    key_codes: crate::key_codes::KeyCodes,
    /// Moves of this bank's keys their owners allowed: key -> (the bank it may move to, the
    /// account it is at, until when). In memory, like codes: a restart asks the owner again.
    port_allowed: HashMap<PixKey, (BankId, AccountId, i64)>,
    sessions: SessionTable,
    session_changes: Vec<SessionChange>,
    seen_in_batch: HashMap<TxId, Seen>,
    /// Set by [`Command::Shutdown`]: stop after this batch.
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
        let snapshot = Arc::new(RwLock::new(Snapshot {
            audit: audit_of(&ledger, 0, 0),
            store_failing_since_ms: None,
            store_failures: 0,
            equivocations,
        }));
        Ok(State {
            config,
            clock,
            store,
            ledger,
            consents,
            directory,
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
                batch.drain(..).partition(Command::is_read);
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
        let batch = crate::store::Batch {
            ledger: &changes,
            sessions: &sessions,
            protocol: &protocol,
            consents: &consents,
            directory: &directory,
        };
        let durable = if changes.is_empty()
            && sessions.is_empty()
            && protocol.is_empty()
            && consents.is_empty()
            && directory.is_empty()
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
    }

    fn execute(&mut self, command: Command, now: i64) {
        let answer = match command {
            Command::OpenAccount { new, reply } => defer(
                reply,
                self.ledger.open_account(new, now).map_err(Into::into),
            ),
            Command::Deposit {
                tx,
                account,
                amount,
                reply,
            } => defer(reply, self.deposit(tx, account, amount, now)),
            Command::Pix {
                tx,
                payer,
                key,
                amount,
                reply,
            } => defer(reply, self.pix(tx, payer, key, amount, now)),
            Command::Credentials { email, reply } => {
                let found = self
                    .ledger
                    .by_email(&email)
                    .map(|a| (a.id, a.password_hash.clone()));
                defer(reply, Ok(found))
            }
            Command::CreateSession {
                token,
                account,
                reply,
            } => defer(reply, self.create_session(token, account, now)),
            Command::EndSession { token, reply } => {
                if self
                    .sessions
                    .write()
                    .expect("sessions lock")
                    .remove(&token)
                    .is_some()
                {
                    self.session_changes.push(SessionChange::Deleted { token });
                }
                defer(reply, Ok(()))
            }
            Command::Dashboard { account, reply } => defer(reply, self.dashboard(account)),
            Command::KeysOf { account, reply } => defer(
                reply,
                Ok(self.directory.keys_of(self.config.bank.id, account)),
            ),
            Command::KeyClaim {
                account,
                key,
                port,
                reply,
            } => defer(reply, self.key_claim(account, key, port)),
            Command::PortPermit { to, request, reply } => {
                defer(reply, Ok(self.port_permit(to, request, now)))
            }
            Command::AllowPort {
                account,
                key,
                to,
                reply,
            } => defer(reply, self.allow_port(account, key, to, now)),
            Command::KeyCode {
                account,
                key,
                reply,
            } => defer(
                reply,
                self.key_codes
                    .issue(account, key, now)
                    .map_err(EngineError::KeyCode),
            ),
            Command::CheckKeyCode {
                account,
                key,
                code,
                reply,
            } => defer(
                reply,
                self.key_codes
                    .check(account, &key, &code, now)
                    .map_err(EngineError::KeyCode),
            ),
            Command::KeyOpAlone { tx, op, reply } => defer(reply, self.key_op_alone(tx, op, now)),
            Command::Audit { reply } => defer(reply, Ok(self.audit())),
            Command::Account { account, reply } => defer(reply, self.account_view(account)),
            Command::AccountOf { owners, reply } => {
                let found = owners
                    .iter()
                    .find_map(|o| self.ledger.by_tax_id(o))
                    .map(|a| a.id);
                defer(reply, found.map(|id| self.account_view(id)).transpose())
            }
            Command::Prepare {
                coordinator,
                items,
                reply,
            } => {
                let votes = items
                    .into_iter()
                    .map(|item| self.prepare_item(coordinator, item, now))
                    .collect();
                defer(reply, Ok(votes))
            }
            Command::Decide { from, items, reply } => {
                defer(reply, self.decide_items(from, items, now))
            }
            Command::DecideThenPrepare {
                coordinator,
                decisions,
                items,
                reply,
            } => {
                let answer = self.decide_items(coordinator, decisions, now).map(|acked| {
                    let votes = items
                        .into_iter()
                        .map(|item| self.prepare_item(coordinator, item, now))
                        .collect();
                    (acked, votes)
                });
                defer(reply, answer)
            }
            Command::LogDecisions { decisions, reply } => {
                defer(reply, self.log_decisions(decisions, now))
            }
            Command::DecisionAcked { updates, reply } => {
                for (tx, unacked) in updates {
                    self.protocol_changes.push(ProtocolChange::Unacked {
                        tx,
                        unacked,
                        at_ms: now,
                    });
                }
                defer(reply, Ok(()))
            }
            Command::Resolve {
                from,
                question,
                reply,
            } => defer(reply, self.resolve(from, question, now)),
            Command::Terminate { plan, reply } => defer(reply, self.terminate(plan, now)),
            Command::Expire { reply } => {
                let grace = self.config.expiry_grace_ms;
                defer(reply, self.expire(grace, now))
            }
            Command::Decision { tx, reply } => defer(reply, self.stored_decision(&tx)),
            Command::UnackedDecisions { reply } => {
                defer(reply, self.store.unacked_decisions().map_err(store_error))
            }
            Command::Participation { tx, reply } => defer(reply, self.participation(&tx)),
            Command::Shutdown { reply } => {
                self.stopping = true;
                defer(reply, Ok(()))
            }
            Command::InDoubt { reply } => defer(reply, self.store.in_doubt().map_err(store_error)),
            Command::GrantCode { grant, reply } => {
                let GrantRequest {
                    owner,
                    grantee_bank,
                    grantee_account,
                    terms,
                } = grant;
                let code = match self.ledger.account(owner) {
                    Some(_) => self
                        .consents
                        .grant_code(owner, grantee_bank, grantee_account, terms, now)
                        .map_err(Into::into),
                    None => Err(LedgerError::UnknownAccount.into()),
                };
                defer(reply, code)
            }
            Command::Redeem {
                code,
                grantee_bank,
                grantee_account,
                reply,
            } => {
                let grant = self
                    .consents
                    .redeem(&code, grantee_bank, grantee_account, now)
                    .map_err(EngineError::from)
                    .and_then(|c| {
                        let account = self
                            .ledger
                            .account(c.owner)
                            .ok_or(EngineError::Ledger(LedgerError::UnknownAccount))?;
                        Ok(Grant {
                            consent: c.id,
                            account: c.owner,
                            owner_name: account.holders[0].name.clone(),
                            terms: c.terms,
                        })
                    });
                defer(reply, grant)
            }
            Command::ConsentsGiven { owner, reply } => {
                defer(reply, Ok(self.consents.given(owner, now)))
            }
            Command::Revoke { owner, id, reply } => defer(
                reply,
                self.consents.revoke(owner, &id, now).map_err(Into::into),
            ),
            Command::ConsentedAccount {
                id,
                grantee_bank,
                grantee_account,
                reply,
            } => {
                let found =
                    self.consents
                        .consented_account(&id, grantee_bank, grantee_account, now);
                defer(reply, found.map(|a| self.account_view(a)).transpose())
            }
            Command::StartLink {
                account,
                bank,
                reply,
            } => defer(
                reply,
                self.consents
                    .start_link(account, bank, now)
                    .map_err(Into::into),
            ),
            Command::TakeLinkState {
                account,
                state,
                reply,
            } => defer(
                reply,
                self.consents
                    .take_state(account, &state, now)
                    .map_err(Into::into),
            ),
            Command::SaveLink {
                account,
                bank,
                grant,
                reply,
            } => {
                self.consents.save_link(account, bank, grant, now);
                defer(reply, Ok(()))
            }
            Command::Links { account, reply } => defer(reply, Ok(self.consents.links(account))),
        };
        self.waiting.push(answer);
    }

    fn deposit(
        &mut self,
        tx: TxId,
        account: AccountId,
        amount: Cents,
        now: i64,
    ) -> EngineResult<TxStatus> {
        if let Some(previous) = self.previous_use(&tx)? {
            return match previous {
                Seen::Deposit {
                    account: a,
                    amount: m,
                } if a == account && m == amount => Ok(TxStatus::Committed),
                _ => Err(LedgerError::TxIdConflict.into()),
            };
        }
        self.ledger.deposit(tx.clone(), account, amount, now)?;
        self.seen_in_batch
            .insert(tx, Seen::Deposit { account, amount });
        Ok(TxStatus::Committed)
    }

    fn pix(
        &mut self,
        tx: TxId,
        payer: AccountId,
        key: PixKey,
        amount: Cents,
        now: i64,
    ) -> EngineResult<TransferReceipt> {
        if let Some(previous) = self.previous_use(&tx)? {
            return match previous {
                Seen::Pix {
                    payer: p,
                    amount: m,
                    receipt,
                } if p == payer && m == amount => Ok(receipt),
                _ => Err(LedgerError::TxIdConflict.into()),
            };
        }
        let bank = self.config.bank.id;
        let entry = self
            .directory
            .owner(&key)
            .filter(|e| e.bank == bank)
            .ok_or(LedgerError::UnknownAccount)?;
        let receiver = ReceiverPreview {
            name: entry.name.clone(),
            key_masked: entry.document.clone(),
            bank: self.config.bank.clone(),
        };
        let payee_id = entry.account;
        if self.ledger.account(payee_id).is_none() {
            return Err(LedgerError::UnknownAccount.into());
        }
        if payee_id == payer {
            return Err(LedgerError::SelfTransfer.into());
        }
        let payer_account = self
            .ledger
            .account(payer)
            .ok_or(LedgerError::UnknownAccount)?;
        let payer_holder = &payer_account.holders[0];
        let to_payee = Counterparty {
            name: receiver.name.clone(),
            key_masked: receiver.key_masked.clone(),
            bank,
        };
        let to_payer = Counterparty {
            name: payer_holder.name.clone(),
            key_masked: payer_holder.tax_id.masked(),
            bank,
        };
        self.ledger
            .prepare_debit(&tx, PartKey::single(payer), amount, to_payee, now)?;
        if let Err(e) =
            self.ledger
                .prepare_credit(&tx, PartKey::single(payee_id), amount, to_payer, now)
        {
            self.ledger
                .abort(&tx, now)
                .expect("debit was just prepared");
            return Err(e.into());
        }
        self.ledger
            .commit(&tx, now)
            .expect("both parts were just prepared");
        let receipt = TransferReceipt {
            tx_id: tx.clone(),
            status: TxStatus::Committed,
            amount,
            receiver,
        };
        self.seen_in_batch.insert(
            tx,
            Seen::Pix {
                payer,
                amount,
                receipt: receipt.clone(),
            },
        );
        Ok(receipt)
    }

    /// How `tx` was used before, in this batch or in the store; `None` if it is new.
    fn previous_use(&self, tx: &TxId) -> EngineResult<Option<Seen>> {
        if let Some(seen) = self.seen_in_batch.get(tx) {
            return Ok(Some(seen.clone()));
        }
        let entries = self.store.entries_of_tx(tx).map_err(|e| {
            tracing::error!(error = %e, "reading entries of a transaction");
            EngineError::Unexpected
        })?;
        Ok(entries
            .first()
            .map(|first| self.seen_from_entries(first, &entries)))
    }

    fn seen_from_entries(&self, first: &Entry, entries: &[Entry]) -> Seen {
        match entries.iter().find(|e| e.kind == EntryKind::PixOut) {
            Some(out) => {
                let cp = out.counterparty.clone();
                let receiver = ReceiverPreview {
                    name: cp.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
                    key_masked: cp
                        .as_ref()
                        .map(|c| c.key_masked.clone())
                        .unwrap_or_default(),
                    bank: self.config.bank.clone(),
                };
                Seen::Pix {
                    payer: out.account,
                    amount: out.amount,
                    receipt: TransferReceipt {
                        tx_id: out.tx_id.clone(),
                        status: out.status,
                        amount: out.amount,
                        receiver,
                    },
                }
            }
            None => Seen::Deposit {
                account: first.account,
                amount: first.amount,
            },
        }
    }

    fn create_session(
        &mut self,
        token: TokenHash,
        account: AccountId,
        now: i64,
    ) -> EngineResult<()> {
        if self.ledger.account(account).is_none() {
            return Err(LedgerError::UnknownAccount.into());
        }
        let mut sessions = self.sessions.write().expect("sessions lock");
        let mut own: Vec<(i64, TokenHash)> = sessions
            .iter()
            .filter(|(_, (a, _))| *a == account)
            .map(|(t, (_, expires))| (*expires, *t))
            .collect();
        if own.len() >= self.config.sessions_per_account {
            own.sort_unstable_by_key(|(expires, _)| *expires);
            let excess = own.len() + 1 - self.config.sessions_per_account;
            for (_, token) in own.into_iter().take(excess) {
                sessions.remove(&token);
                self.session_changes.push(SessionChange::Deleted { token });
            }
        }
        if sessions.len() >= self.config.sessions_max {
            sessions.retain(|_, (_, expires)| *expires > now);
            self.session_changes
                .push(SessionChange::ExpiredBefore { now_ms: now });
            if sessions.len() >= self.config.sessions_max {
                return Err(EngineError::Busy);
            }
        }
        let expires_ms = now + self.config.session_ttl_ms;
        sessions.insert(token, (account, expires_ms));
        self.session_changes.push(SessionChange::Created {
            token,
            account,
            expires_ms,
        });
        Ok(())
    }

    fn account_view(&self, account: AccountId) -> EngineResult<AccountView> {
        let a = self
            .ledger
            .account(account)
            .ok_or(LedgerError::UnknownAccount)?;
        Ok(AccountView {
            id: a.id,
            kind: a.kind,
            holders: a.holders.clone(),
            email: a.email.clone(),
            available: a.available,
            blocked: a.blocked,
        })
    }

    fn dashboard(&self, id: AccountId) -> EngineResult<Dashboard> {
        let account = self.account_view(id)?;
        let recent = self
            .store
            .recent_entries(id, self.config.recent_limit)
            .map_err(|e| {
                tracing::error!(error = %e, "reading recent entries");
                EngineError::Unexpected
            })?;
        Ok(Dashboard {
            bank: self.config.bank.clone(),
            recent: statement(account.available.get() + account.blocked.get(), recent),
            account,
        })
    }

    fn allow_port(
        &mut self,
        account: AccountId,
        key: PixKey,
        to: BankId,
        now: i64,
    ) -> EngineResult<()> {
        let me = self.config.bank.id;
        match self.directory.owner(&key) {
            Some(e) if e.bank == me && e.account == account && key.tax_id().is_none() => {}
            _ => return Err(KeyError::NotYours.into()),
        }
        if to == me {
            return Err(KeyError::NotYours.into());
        }
        self.port_allowed.retain(|_, (_, _, until)| *until > now);
        if self.port_allowed.len() >= PORT_ALLOWED_MAX {
            return Err(EngineError::Busy);
        }
        self.port_allowed
            .insert(key, (to, account, now + PORT_ALLOWED_MS));
        Ok(())
    }

    /// This bank's permit for bank `to` to move `request.key` to its account, when the key is
    /// one of this bank's, its owner allowed `to` to take it (the allowance is used up) and one
    /// of the new account's holders holds the key's account here (a bank's word about its own
    /// account's holders proves nothing alone: it could name anyone's CPF).
    fn port_permit(
        &mut self,
        to: BankId,
        request: PortRequest,
        now: i64,
    ) -> Result<PortPermit, Refusal> {
        let me = self.config.bank.id;
        let Some(entry) = self.directory.owner(&request.key).filter(|e| e.bank == me) else {
            return Err(Refusal::KeyUnknown { bank: me });
        };
        let same_person = self.ledger.account(entry.account).is_some_and(|a| {
            a.holders
                .iter()
                .any(|h| request.holders.contains(&h.tax_id))
        });
        if !same_person || request.holders.len() > 2 {
            return Err(Refusal::KeyTaken { bank: me });
        }
        let Some(identity) = self.config.identity.clone() else {
            return Err(Refusal::PortNotAllowed { bank: me });
        };
        if !self.take_port_allowed(&request.key, to, now) {
            return Err(Refusal::PortNotAllowed { bank: me });
        }
        Ok(PortPermit::sign(
            &identity,
            (request.key, me, to),
            request.account,
            request.name,
            request.document,
            now + crate::directory::PERMIT_TTL_MS,
        ))
    }

    /// Whether the owner of `key` allowed bank `to` to move it (once: the permission is used up).
    fn take_port_allowed(&mut self, key: &PixKey, to: BankId, now: i64) -> bool {
        let owner = self.directory.owner(key);
        let allowed = self
            .port_allowed
            .get(key)
            .is_some_and(|(bank, account, until)| {
                *bank == to && *until > now && owner.is_some_and(|e| e.account == *account)
            });
        if allowed {
            self.port_allowed.remove(key);
        }
        allowed
    }

    /// The claim of `key` for `account`, as the bank owning the account proposes it: a CPF or
    /// CNPJ key must be a holder's document, the account must have room for another key
    /// (counting claims in flight), and the key must not be registered already.
    fn key_claim(&self, account: AccountId, key: PixKey, port: bool) -> EngineResult<KeyClaim> {
        let a = self
            .ledger
            .account(account)
            .ok_or(LedgerError::UnknownAccount)?;
        let me = self.config.bank.id;
        let owner = self.directory.owner(&key);
        if let Some(e) = &owner {
            // A key at another bank may be moved here (portability) when it is the same
            // person's: the masked document the directory shows must be one of this account's
            // holders' (the owning bank then checks the full document before it votes yes).
            let same_person = a.holders.iter().any(|h| h.tax_id.masked() == e.document);
            if e.bank == me || !same_person {
                return Err(if e.bank == me && e.account == account {
                    KeyError::AlreadyYours
                } else {
                    KeyError::Taken
                }
                .into());
            }
            if key.tax_id().is_some() {
                return Err(KeyError::DocumentElsewhere(e.bank).into());
            }
            if !port {
                return Err(KeyError::AtAnotherBank(e.bank).into());
            }
        }
        let holder = match key.tax_id() {
            Some(doc) => a
                .holders
                .iter()
                .find(|h| h.tax_id == doc)
                .ok_or(KeyError::NotYourDocument)?,
            None => &a.holders[0],
        };
        let limit = match a.kind {
            domain::dto::AccountKind::Individual => KEYS_PER_PERSON,
            domain::dto::AccountKind::Company => KEYS_PER_COMPANY,
        };
        let held = self.directory.keys_of(me, account).len()
            + self.directory.claims_in_flight(me, account);
        if held >= limit {
            return Err(KeyError::TooMany.into());
        }
        Ok(match owner {
            None => KeyClaim::Op(KeyOp::Claim {
                key,
                account,
                name: holder.name.clone(),
                document: holder.tax_id.masked(),
            }),
            Some(e) => KeyClaim::Port {
                owner: e.bank,
                request: PortRequest {
                    key,
                    account,
                    name: holder.name.clone(),
                    document: holder.tax_id.masked(),
                    holders: a.holders.iter().map(|h| h.tax_id).collect(),
                },
            },
        })
    }

    /// A key operation at a bank that is alone: its own copy is the whole directory.
    fn key_op_alone(&mut self, tx: TxId, op: KeyOp, now: i64) -> EngineResult<Result<(), Refusal>> {
        let me = self.config.bank.id;
        if let Some(previous) = self.previous_use(&tx)? {
            let _ = previous;
            return Err(LedgerError::TxIdConflict.into());
        }
        let item = PrepareItem {
            tx: tx.clone(),
            parts: vec![(0, crate::twopc::PartSpec::Key(op))],
            plan: None,
        };
        match self.prepare_item(me, (item, true), now) {
            Vote::Prepared => {
                let decision = DecideItem {
                    tx,
                    commit: true,
                    proof: None,
                };
                self.decide_items(me, vec![(decision, true)], now)?;
                Ok(Ok(()))
            }
            Vote::Refused { reason, .. } => Ok(Err(reason)),
        }
    }

    fn audit(&self) -> Audit {
        audit_of(&self.ledger, self.commands, self.commits)
    }
}

/// The audit totals from the ledger's running sums: no walk over the accounts.
fn audit_of(ledger: &Ledger, commands: u64, commits: u64) -> Audit {
    let totals = ledger.totals();
    let books = ledger.books().clone();
    let settled: i128 = books
        .positions
        .values()
        .map(|p| i128::from(p.settled))
        .sum();
    Audit {
        accounts: usize::try_from(totals.accounts).unwrap_or(usize::MAX),
        total_available: totals.available,
        total_blocked: totals.blocked,
        total_incoming: totals.incoming,
        prepared_transactions: ledger.prepared_count(),
        commands,
        commits,
        balanced: totals.available + totals.blocked
            == i128::from(books.deposits) + i128::from(books.opening) + settled,
        books,
    }
}

/// Entries newest first with the balance after each committed one, walking back from `balance`
/// (available + blocked, which is exactly the sum of the committed entries: a prepared debit only
/// moves money from available to blocked, and a prepared credit is not counted until committed).
fn statement(mut balance: i64, newest_first: Vec<Entry>) -> Vec<EntryView> {
    newest_first
        .into_iter()
        .map(|e| {
            let balance_after = (e.status == TxStatus::Committed).then(|| {
                let after = Cents::new(balance);
                balance -= e.amount.get() * e.kind.sign();
                after
            });
            EntryView {
                tx_id: e.tx_id,
                kind: e.kind,
                amount: e.amount,
                status: e.status,
                counterparty: e.counterparty,
                created_ms: e.created_ms,
                balance_after,
            }
        })
        .collect()
}

fn store_error(e: rusqlite::Error) -> EngineError {
    tracing::error!(error = %e, "reading the store");
    EngineError::Unexpected
}

pub mod decisions;
pub mod protocol;

#[cfg(test)]
mod tests;
