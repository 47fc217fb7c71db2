//! The ledger: balances, reservations and history of one bank's accounts, as a pure state machine.
//!
//! Every mutating method either fails without changing anything or succeeds and records what it
//! changed in [`Ledger::take_changes`], which the engine persists in one SQLite transaction per batch.
//! Money moves only through three paths:
//! - a deposit adds to `available`;
//! - a transfer is *prepared* part by part (a debit moves `available` to `blocked`; a credit adds to
//!   `incoming`, the payee's pending credit), then *committed* (the debit leaves `blocked`, the credit
//!   moves from `incoming` to `available`) or *aborted* (the debit returns to `available`, the
//!   credit is dropped). Intra-bank Pix uses exactly this path; inter-bank transfers will too.
//!
//! Settlement positions: every part of a cross-bank transfer moves this bank's position with one
//! peer (see [`PartKey::peer`]): a committed credit means the peer owes this bank, a committed
//! debit that this bank owes the peer; a prepared credit is pending with that peer until decided.
//! Settlement windows pay positions down outside the consortium (`crate::settlement`): what a
//! creditor confirmed it received from a peer, or what a debtor's creditor confirmed, is that
//! peer's `by_windows`, and only the rest, `settled - by_windows`, is still owed.
//! So the bank's books balance on their own: `Σ (available + blocked) = deposits + opening +
//! Σ peers (settled - by_windows) + Σ peers by_windows` (what is still owed, and the settlement
//! money received minus paid), and each peer's pending position is the credits from it still
//! prepared; `opening` is what balances held before positions were kept (schema version 4).
//!
//! Invariants (checked by [`Ledger::check_invariants`] and by property tests):
//! - no balance is negative, none exceeds [`MAX_BALANCE`];
//! - `blocked` of an account equals the sum of its prepared debits, `incoming` its prepared credits;
//! - the sum of `available + blocked` over all accounts equals deposits plus committed inbound
//!   minus committed outbound across banks (for one bank alone: the sum of deposits).

use domain::consent::ConsentId;
use domain::dto::{AccountKind, Counterparty, DepositMethod, EntryKind, Holder, TxStatus};
use domain::money::MAX_BALANCE;
use domain::pix_limits::{LimitSettings, PeriodAt};
use domain::{AccountId, BankId, Cents, PixMessage, TaxId, TxId};
use std::collections::{BTreeMap, HashMap};

use crate::auth::PasswordHash;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("unknown account")]
    UnknownAccount,
    #[error("insufficient funds")]
    InsufficientFunds,
    #[error("transfer to the same account")]
    SelfTransfer,
    #[error("balance limit exceeded")]
    BalanceLimit,
    #[error("tax id already has an account")]
    DuplicateTaxId,
    #[error("e-mail already has a login")]
    DuplicateEmail,
    #[error("logins do not match the holders (none for the first, two for one, or for no holder)")]
    InvalidLogins,
    #[error("transaction id used for another operation")]
    TxIdConflict,
    #[error("unknown prepared transaction")]
    UnknownTx,
    #[error("amount not positive or above the operation limit")]
    InvalidAmount,
}

/// An account with its balances. Its logins hold password hashes, secrets: this type is never
/// serialised.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: AccountId,
    pub kind: AccountKind,
    pub holders: Vec<Holder>,
    /// How its holders log in, each with their own e-mail and password: holder 0 always, the
    /// second holder of a joint account when it was opened with one (schema version 17; a joint
    /// account opened before has only its first holder's, the account's old login).
    pub logins: Vec<Login>,
    pub phone: String,
    pub available: Cents,
    pub blocked: Cents,
    /// Prepared credits not yet committed: counted against the balance limit so that a commit
    /// can never overflow.
    pub incoming: Cents,
    pub created_ms: i64,
}

/// One holder's way in: the e-mail (unique among every login of the bank) and password that
/// open the account as that holder. A secret: never serialised, and its Debug hides the hash
/// ([`PasswordHash`]'s own).
#[derive(Clone, Debug)]
pub struct Login {
    /// Which of the account's holders this is (index into [`Account::holders`]).
    pub holder: u8,
    pub email: String,
    pub password_hash: PasswordHash,
}

impl Login {
    pub fn new(holder: u8, email: String, password_hash: PasswordHash) -> Login {
        Login {
            holder,
            email,
            password_hash,
        }
    }
}

impl Account {
    /// The first holder's login e-mail: the account's contact address.
    pub fn email(&self) -> &str {
        self.logins
            .iter()
            .find(|l| l.holder == 0)
            .map_or("", |l| l.email.as_str())
    }

    /// Holder `holder`'s login, if that holder has one.
    pub fn login(&self, holder: u8) -> Option<&Login> {
        self.logins.iter().find(|l| l.holder == holder)
    }

    /// The name shown to a payer for this account's Pix key.
    pub fn name_for(&self, key: &TaxId) -> &str {
        self.holders
            .iter()
            .find(|h| &h.tax_id == key)
            .unwrap_or(&self.holders[0])
            .name
            .as_str()
    }
}

/// What a new account needs; the passwords are already hashed.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub kind: AccountKind,
    pub holders: Vec<Holder>,
    /// One per holder who logs in: the first holder's always (see [`Account::logins`]).
    pub logins: Vec<Login>,
    pub phone: String,
}

/// Which side of a transfer a prepared part is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Debit,
    Credit,
}

impl Side {
    pub fn entry_kind(self) -> EntryKind {
        match self {
            Side::Debit => EntryKind::PixOut,
            Side::Credit => EntryKind::PixIn,
        }
    }
}

/// One prepared (reserved) part of a transfer at this bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedPart {
    /// Which leg of a packet this part belongs to (0 for a single transfer).
    pub leg: u16,
    pub account: AccountId,
    pub side: Side,
    pub amount: Cents,
    /// The bank this part's settlement position is with (`None`: inside this bank).
    pub peer: Option<BankId>,
    /// The consent a debit drew on, and when: an abort gives the draw back.
    pub consent: Option<ConsentId>,
    pub prepared_ms: i64,
    /// The Pix this part returns (a devolução): an abort gives its amount back to what may
    /// still be returned of it.
    pub returns: Option<TxId>,
}

/// Names one part of a transfer at this bank: a leg of a packet, at an account, and the bank
/// its settlement position moves with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartKey {
    pub leg: u16,
    pub account: AccountId,
    /// `None` for a transfer inside this bank; otherwise the bank that answers for the other
    /// side: the coordinator of the transaction, or, where this bank coordinates, the leg's other
    /// bank.
    pub peer: Option<BankId>,
    /// The consent a debit draws on (`None`: the client's own account).
    pub consent: Option<ConsentId>,
    /// The Pix this part returns, for a devolução: counted in [`Ledger::returned`] while it is
    /// pending or committed.
    pub returns: Option<TxId>,
    /// The payer's message, recorded on the part's entry (empty: none).
    pub message: PixMessage,
}

impl PartKey {
    /// A part of a transfer inside this bank.
    pub fn single(account: AccountId) -> PartKey {
        PartKey {
            leg: 0,
            account,
            peer: None,
            consent: None,
            returns: None,
            message: PixMessage::none(),
        }
    }
}

/// This bank's position with one peer, in cents: positive when the peer owes this bank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// From committed transfers (all of them, since positions were kept).
    pub settled: i64,
    /// Credits from the peer prepared here and not yet decided (what `incoming` holds for it).
    pub pending: i64,
    /// Paid by settlement windows, on the creditor's signed confirmation: positive when the peer
    /// paid this bank, negative when this bank paid the peer.
    pub by_windows: i64,
}

impl Position {
    /// What is still owed from transfers once the windows' payments are counted (positive: the
    /// peer owes this bank): what a limit is checked against, with `pending`.
    pub fn outstanding(&self) -> i64 {
        self.settled - self.by_windows
    }
}

/// What the books balance against: deposits, the opening balance, and positions with peers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Books {
    pub deposits: i64,
    /// Balances held before positions were kept (schema version 4); 0 for a newer bank.
    pub opening: i64,
    pub positions: BTreeMap<BankId, Position>,
    /// Committed transfers with each peer per settlement window not yet reported here, keyed
    /// (window, peer), positive when the peer owes this bank: the nets of a window's report
    /// (`crate::settlement`). Counted in `positions` too; this only says which window.
    pub window_nets: BTreeMap<(u64, BankId), i64>,
}

impl Books {
    /// The side of the books that explains what clients hold: deposits + opening + what the
    /// peers still owe + what settlement windows brought in (received minus paid).
    pub fn explained(&self) -> i128 {
        let (owed, by_windows) =
            self.positions
                .values()
                .fold((0i128, 0i128), |(owed, by_windows), p| {
                    (
                        owed + i128::from(p.outstanding()),
                        by_windows + i128::from(p.by_windows),
                    )
                });
        i128::from(self.deposits) + i128::from(self.opening) + owed + by_windows
    }
}

/// A history entry, as appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub tx_id: TxId,
    pub leg: u16,
    pub account: AccountId,
    pub kind: EntryKind,
    pub amount: Cents,
    pub status: TxStatus,
    pub counterparty: Option<Counterparty>,
    pub created_ms: i64,
    /// The bank this entry's settlement position is with, while it is pending.
    pub peer: Option<BankId>,
    /// The consent a debit drew on.
    pub consent: Option<ConsentId>,
    /// The Pix this entry returns, for a devolução.
    pub returned_for: Option<TxId>,
    /// How a deposit's money came in.
    pub method: Option<DepositMethod>,
    /// The payer's message on a Pix (empty: none).
    pub message: PixMessage,
}

/// A change for the store to persist. Produced in order; applied in order.
#[derive(Clone, Debug)]
pub enum Change {
    AccountCreated(Box<Account>),
    Balances {
        account: AccountId,
        available: Cents,
        blocked: Cents,
        incoming: Cents,
    },
    EntryAdded(Entry),
    EntryStatus {
        tx_id: TxId,
        leg: u16,
        account: AccountId,
        kind: EntryKind,
        status: TxStatus,
        at_ms: i64,
    },
    /// The total of deposits so far.
    Deposits(i64),
    Position {
        peer: BankId,
        position: Position,
    },
    /// What committed with `peer` in settlement `window` so far (not yet reported).
    WindowNet {
        window: u64,
        peer: BankId,
        net: i64,
    },
    /// Settlement `window` was reported: its nets are in the report now.
    WindowReported(u64),
    /// An account's Pix limits, as the client last set them.
    PixLimits {
        account: AccountId,
        settings: LimitSettings,
    },
}

#[derive(Default)]
pub struct Ledger {
    accounts: BTreeMap<AccountId, Account>,
    by_tax_id: HashMap<TaxId, AccountId>,
    /// Every login's e-mail: the account, and which of its holders logs in with it.
    by_email: HashMap<String, (AccountId, u8)>,
    /// Prepared parts per transaction, until it is committed or aborted.
    prepared: HashMap<TxId, Vec<PreparedPart>>,
    books: Books,
    next_id: i64,
    changes: Vec<Change>,
    /// Sums over every account, kept as balances move, so that reading them costs nothing
    /// (`/status`, `/healthz` and `/metrics` read them after every batch).
    totals: Totals,
    /// Devoluções per (original Pix, account), pending or committed: on the receiver's side
    /// what the account has returned of it, on the payer's side what came back to it. Kept in
    /// memory so that two returns in one batch see each other (the store sees a batch only
    /// once it is written).
    returned: BTreeMap<(TxId, AccountId), Cents>,
    /// Pix limits a client set (an account not here has its kind's default).
    limits: HashMap<AccountId, LimitSettings>,
    /// What each account's Pix debits (pending or committed, returns aside) add up to in a
    /// period, keyed by the period's start: known for an account once the engine counted its
    /// period from the store ([`Ledger::count_pix_used`]), then kept up to date by every debit
    /// prepared and aborted here. A count from an earlier period means nothing since.
    pix_used: HashMap<AccountId, (i64, Cents)>,
}

/// Running sums over every account of this bank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub accounts: u64,
    pub available: i128,
    pub blocked: i128,
    pub incoming: i128,
}

impl Totals {
    /// Moves the sums by an account's change from `before` to `after` (available, blocked,
    /// incoming).
    fn shift(&mut self, before: (Cents, Cents, Cents), after: (Cents, Cents, Cents)) {
        self.available += i128::from(after.0.get()) - i128::from(before.0.get());
        self.blocked += i128::from(after.1.get()) - i128::from(before.1.get());
        self.incoming += i128::from(after.2.get()) - i128::from(before.2.get());
    }

    fn add(&mut self, a: &Account) {
        self.accounts += 1;
        self.shift(
            (Cents::ZERO, Cents::ZERO, Cents::ZERO),
            (a.available, a.blocked, a.incoming),
        );
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger {
            next_id: 1,
            ..Ledger::default()
        }
    }

    /// Rebuilds a ledger from stored accounts, the parts of transactions still prepared, and the
    /// books.
    pub fn restore(
        accounts: Vec<Account>,
        prepared: Vec<(TxId, PreparedPart)>,
        books: Books,
    ) -> Ledger {
        let mut ledger = Ledger::new();
        ledger.books = books;
        for account in accounts {
            ledger.index(&account);
            ledger.next_id = ledger.next_id.max(account.id.0 + 1);
            ledger.totals.add(&account);
            ledger.accounts.insert(account.id, account);
        }
        for (tx, part) in prepared {
            ledger.prepared.entry(tx).or_default().push(part);
        }
        ledger
    }

    /// Sets what has been returned of each Pix, pending or committed (from the store's history).
    pub fn restore_returns(&mut self, returned: Vec<((TxId, AccountId), Cents)>) {
        self.returned = returned.into_iter().collect();
    }

    /// What account `account` has returned of Pix `original` (or received back of it, on the
    /// payer's side), pending or committed.
    pub fn returned(&self, original: &TxId, account: AccountId) -> Cents {
        self.returned
            .get(&(original.clone(), account))
            .copied()
            .unwrap_or(Cents::ZERO)
    }

    /// Counts `amount` more (or, `back`, less) as returned of `original` by `account`.
    fn count_return(&mut self, original: &TxId, account: AccountId, amount: Cents, back: bool) {
        let key = (original.clone(), account);
        let now = self.returned.get(&key).copied().unwrap_or(Cents::ZERO);
        let next = if back {
            now.checked_sub(amount)
        } else {
            now.checked_add(amount)
        };
        // Cannot fail: returns are bounded by what was transferred, itself a bounded amount.
        let next = next.expect("returned sums stay in range");
        assert!(next.get() >= 0, "returns of {original} went negative");
        if next == Cents::ZERO {
            self.returned.remove(&key);
        } else {
            self.returned.insert(key, next);
        }
    }

    /// Sets the Pix limits clients set (from the store).
    pub fn restore_limits(&mut self, limits: Vec<(AccountId, LimitSettings)>) {
        self.limits = limits.into_iter().collect();
    }

    /// The Pix limits `account`'s client set, if any.
    pub fn limit_settings(&self, account: AccountId) -> Option<LimitSettings> {
        self.limits.get(&account).copied()
    }

    /// Stores new Pix limits for `account`.
    pub fn set_limits(&mut self, account: AccountId, settings: LimitSettings) {
        self.limits.insert(account, settings);
        self.changes.push(Change::PixLimits { account, settings });
    }

    /// What `account` has paid by Pix in the period that started at `period_start_ms`, if this
    /// ledger has been counting it since before then; `None`: ask the store.
    pub fn pix_used(&self, account: AccountId, period_start_ms: i64) -> Option<Cents> {
        match self.pix_used.get(&account) {
            Some((start, used)) if *start == period_start_ms => Some(*used),
            Some((start, _)) if *start < period_start_ms => Some(Cents::ZERO),
            _ => None,
        }
    }

    /// Starts counting `account`'s Pix debits in the period that started at `period_start_ms`
    /// from `used`, what the store holds of them.
    pub fn count_pix_used(&mut self, account: AccountId, period_start_ms: i64, used: Cents) {
        self.pix_used.insert(account, (period_start_ms, used));
    }

    /// Counts a Pix debit of `amount` prepared at `at_ms` (`back`: aborted, given back) for an
    /// account being counted.
    fn count_pix_debit(&mut self, account: AccountId, amount: Cents, at_ms: i64, back: bool) {
        let period = PeriodAt::of(at_ms).starts_ms;
        let Some((start, used)) = self.pix_used.get_mut(&account) else {
            return;
        };
        if back {
            if *start == period {
                *used = Cents::new((used.get() - amount.get()).max(0));
            }
        } else if *start == period {
            *used = used.checked_add(amount).unwrap_or(MAX_BALANCE);
        } else if *start < period {
            *start = period;
            *used = amount;
        }
    }

    fn index(&mut self, account: &Account) {
        for h in &account.holders {
            self.by_tax_id.insert(h.tax_id, account.id);
        }
        for login in &account.logins {
            self.by_email
                .insert(login.email.clone(), (account.id, login.holder));
        }
    }

    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Whether any change awaits [`Ledger::take_changes`].
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn by_tax_id(&self, key: &TaxId) -> Option<&Account> {
        self.by_tax_id.get(key).and_then(|id| self.accounts.get(id))
    }

    /// The account and the login an e-mail opens it with.
    pub fn by_email(&self, email: &str) -> Option<(&Account, &Login)> {
        let (id, holder) = self.by_email.get(email)?;
        let account = self.accounts.get(id)?;
        Some((account, account.login(*holder)?))
    }

    pub fn prepared(&self, tx: &TxId) -> Option<&[PreparedPart]> {
        self.prepared.get(tx).map(Vec::as_slice)
    }

    /// The transactions with parts prepared here.
    pub fn prepared_txs(&self) -> impl Iterator<Item = &TxId> {
        self.prepared.keys()
    }

    pub fn prepared_count(&self) -> usize {
        self.prepared.len()
    }

    pub fn books(&self) -> &Books {
        &self.books
    }

    /// This bank's position with `peer`.
    pub fn position(&self, peer: BankId) -> Position {
        self.books.positions.get(&peer).copied().unwrap_or_default()
    }

    /// A committed leg between two other banks that this bank coordinated: the payer's bank owes
    /// this bank `amount`, this bank owes the receiver's. Refused (nothing changes) if a position
    /// would overflow.
    pub fn settle_leg(
        &mut self,
        payer_bank: BankId,
        receiver_bank: BankId,
        amount: Cents,
        window: u64,
    ) -> Result<(), LedgerError> {
        let mut owed = self.position(payer_bank);
        owed.settled = owed
            .settled
            .checked_add(amount.get())
            .ok_or(LedgerError::BalanceLimit)?;
        let mut owing = self.position(receiver_bank);
        owing.settled = owing
            .settled
            .checked_sub(amount.get())
            .ok_or(LedgerError::BalanceLimit)?;
        self.set_position(payer_bank, owed);
        self.set_position(receiver_bank, owing);
        self.count_in_window(window, payer_bank, amount.get());
        self.count_in_window(window, receiver_bank, -amount.get());
        Ok(())
    }

    /// Counts `amount` (positive: the peer owes this bank) with `peer` in settlement `window`.
    fn count_in_window(&mut self, window: u64, peer: BankId, amount: i64) {
        let net = self.books.window_nets.entry((window, peer)).or_default();
        // Cannot overflow: bounded like `settled`, of which it is a part.
        *net = net.saturating_add(amount);
        let net = *net;
        self.changes.push(Change::WindowNet { window, peer, net });
    }

    /// Puts a net taken by [`Ledger::take_window_nets`] back (a report that could not be made).
    pub fn restore_window_net(&mut self, window: u64, peer: BankId, net: i64) {
        self.count_in_window(window, peer, net);
    }

    /// The nets of settlement `window` with each peer, taken out to be reported (the report
    /// keeps them from now on).
    pub fn take_window_nets(&mut self, window: u64) -> BTreeMap<BankId, i64> {
        // Few entries: the windows not yet reported (one or two) times the members.
        let (nets, rest) = std::mem::take(&mut self.books.window_nets)
            .into_iter()
            .partition::<BTreeMap<_, _>, _>(|((w, _), _)| *w == window);
        self.books.window_nets = rest;
        let nets = nets
            .into_iter()
            .map(|((_, peer), net)| (peer, net))
            .collect();
        self.changes.push(Change::WindowReported(window));
        nets
    }

    /// A settlement window's payment with `peer`, confirmed by the creditor: `amount` is positive
    /// when the peer paid this bank, negative when this bank paid the peer. No client's balance
    /// moves (the money moved outside the consortium); what is owed shrinks by it. Refused
    /// (nothing changes) if the sum would overflow.
    pub fn settle_window(&mut self, peer: BankId, amount: i64) -> Result<(), LedgerError> {
        let mut position = self.position(peer);
        position.by_windows = position
            .by_windows
            .checked_add(amount)
            .ok_or(LedgerError::BalanceLimit)?;
        self.set_position(peer, position);
        Ok(())
    }

    fn set_position(&mut self, peer: BankId, position: Position) {
        self.books.positions.insert(peer, position);
        self.changes.push(Change::Position { peer, position });
    }

    pub fn open_account(&mut self, new: NewAccount, now_ms: i64) -> Result<AccountId, LedgerError> {
        if new
            .holders
            .iter()
            .any(|h| self.by_tax_id.contains_key(&h.tax_id))
        {
            return Err(LedgerError::DuplicateTaxId);
        }
        check_logins(&new)?;
        if new
            .logins
            .iter()
            .any(|l| self.by_email.contains_key(&l.email))
        {
            return Err(LedgerError::DuplicateEmail);
        }
        let id = AccountId(self.next_id);
        self.next_id += 1;
        let account = Account {
            id,
            kind: new.kind,
            holders: new.holders,
            logins: new.logins,
            phone: new.phone,
            available: Cents::ZERO,
            blocked: Cents::ZERO,
            incoming: Cents::ZERO,
            created_ms: now_ms,
        };
        self.index(&account);
        self.changes
            .push(Change::AccountCreated(Box::new(account.clone())));
        self.totals.add(&account);
        self.accounts.insert(id, account);
        Ok(id)
    }

    /// Adds a committed deposit, made by `method` when it is known. `amount` must already be a
    /// valid operation amount.
    pub fn deposit(
        &mut self,
        tx: TxId,
        account: AccountId,
        (amount, method): (Cents, Option<DepositMethod>),
        now_ms: i64,
    ) -> Result<(), LedgerError> {
        let acc = self
            .accounts
            .get(&account)
            .ok_or(LedgerError::UnknownAccount)?;
        let available = headroom_add(acc, acc.available, amount)?;
        let deposits = self
            .books
            .deposits
            .checked_add(amount.get())
            .ok_or(LedgerError::BalanceLimit)?;
        let acc = self.accounts.get_mut(&account).expect("checked above");
        self.totals.shift(
            (acc.available, acc.blocked, acc.incoming),
            (available, acc.blocked, acc.incoming),
        );
        acc.available = available;
        self.books.deposits = deposits;
        self.changes.push(Change::Deposits(deposits));
        self.push_balances(account);
        self.changes.push(Change::EntryAdded(Entry {
            tx_id: tx,
            leg: 0,
            account,
            kind: EntryKind::Deposit,
            amount,
            status: TxStatus::Committed,
            counterparty: None,
            created_ms: now_ms,
            peer: None,
            consent: None,
            returned_for: None,
            method,
            message: PixMessage::none(),
        }));
        Ok(())
    }

    /// Reserves `amount` of the payer's available balance for transaction `tx`.
    pub fn prepare_debit(
        &mut self,
        tx: &TxId,
        part: PartKey,
        amount: Cents,
        counterparty: Counterparty,
        now_ms: i64,
    ) -> Result<(), LedgerError> {
        let PartKey {
            leg,
            account,
            peer,
            consent,
            returns,
            message,
        } = part;
        check_amount(amount)?;
        self.check_part_is_new(tx, leg, account, Side::Debit)?;
        let acc = self
            .accounts
            .get_mut(&account)
            .ok_or(LedgerError::UnknownAccount)?;
        let available = acc
            .available
            .checked_sub(amount)
            .filter(|a| a.get() >= 0)
            .ok_or(LedgerError::InsufficientFunds)?;
        let blocked = acc
            .blocked
            .checked_add(amount)
            .ok_or(LedgerError::BalanceLimit)?;
        self.totals.shift(
            (acc.available, acc.blocked, acc.incoming),
            (available, blocked, acc.incoming),
        );
        acc.available = available;
        acc.blocked = blocked;
        if returns.is_none() {
            self.count_pix_debit(account, amount, now_ms, false);
        }
        self.record_prepared(
            tx,
            PreparedPart {
                leg,
                account,
                side: Side::Debit,
                amount,
                peer,
                consent,
                prepared_ms: now_ms,
                returns,
            },
            (counterparty, message),
            now_ms,
        );
        Ok(())
    }

    /// Records a pending credit of `amount` to the payee for transaction `tx`.
    pub fn prepare_credit(
        &mut self,
        tx: &TxId,
        part: PartKey,
        amount: Cents,
        counterparty: Counterparty,
        now_ms: i64,
    ) -> Result<(), LedgerError> {
        let PartKey {
            leg,
            account,
            peer,
            returns,
            message,
            ..
        } = part;
        check_amount(amount)?;
        self.check_part_is_new(tx, leg, account, Side::Credit)?;
        let acc = self
            .accounts
            .get(&account)
            .ok_or(LedgerError::UnknownAccount)?;
        let incoming = headroom_add(acc, acc.incoming, amount)?;
        let position = match peer {
            Some(peer) => {
                let mut position = self.position(peer);
                position.pending = position
                    .pending
                    .checked_add(amount.get())
                    .ok_or(LedgerError::BalanceLimit)?;
                Some((peer, position))
            }
            None => None,
        };
        let acc = self.accounts.get_mut(&account).expect("checked above");
        self.totals.shift(
            (acc.available, acc.blocked, acc.incoming),
            (acc.available, acc.blocked, incoming),
        );
        acc.incoming = incoming;
        if let Some((peer, position)) = position {
            self.set_position(peer, position);
        }
        self.record_prepared(
            tx,
            PreparedPart {
                leg,
                account,
                side: Side::Credit,
                amount,
                peer,
                consent: None,
                prepared_ms: now_ms,
                returns,
            },
            (counterparty, message),
            now_ms,
        );
        Ok(())
    }

    fn check_part_is_new(
        &self,
        tx: &TxId,
        leg: u16,
        account: AccountId,
        side: Side,
    ) -> Result<(), LedgerError> {
        let exists = self.prepared.get(tx).is_some_and(|parts| {
            parts
                .iter()
                .any(|p| p.leg == leg && p.account == account && p.side == side)
        });
        if exists {
            Err(LedgerError::TxIdConflict)
        } else {
            Ok(())
        }
    }

    fn record_prepared(
        &mut self,
        tx: &TxId,
        part: PreparedPart,
        (counterparty, message): (Counterparty, PixMessage),
        now_ms: i64,
    ) {
        let (leg, account, kind, amount, peer) = (
            part.leg,
            part.account,
            part.side.entry_kind(),
            part.amount,
            part.peer,
        );
        let consent = part.consent.clone();
        let returned_for = part.returns.clone();
        if let Some(original) = &returned_for {
            self.count_return(original, account, amount, false);
        }
        self.prepared.entry(tx.clone()).or_default().push(part);
        self.push_balances(account);
        self.changes.push(Change::EntryAdded(Entry {
            tx_id: tx.clone(),
            leg,
            account,
            kind,
            amount,
            status: TxStatus::Pending,
            counterparty: Some(counterparty),
            created_ms: now_ms,
            peer,
            consent,
            returned_for,
            method: None,
            message,
        }));
    }

    /// Applies the decision for every part of `tx` prepared at this bank.
    /// Commits `tx`'s prepared parts; a part with a peer counts in settlement `window`.
    pub fn commit(&mut self, tx: &TxId, now_ms: i64, window: u64) -> Result<(), LedgerError> {
        self.finish(tx, TxStatus::Committed, now_ms, window)
    }

    pub fn abort(&mut self, tx: &TxId, now_ms: i64) -> Result<(), LedgerError> {
        self.finish(tx, TxStatus::Aborted, now_ms, 0)
    }

    fn finish(
        &mut self,
        tx: &TxId,
        status: TxStatus,
        now_ms: i64,
        window: u64,
    ) -> Result<(), LedgerError> {
        let parts = self.prepared.remove(tx).ok_or(LedgerError::UnknownTx)?;
        for part in parts {
            let acc = self
                .accounts
                .get_mut(&part.account)
                .expect("prepared parts name existing accounts");
            let amount = part.amount;
            let (available, blocked, incoming) = match (part.side, status) {
                (Side::Debit, TxStatus::Committed) => (
                    Some(acc.available),
                    acc.blocked.checked_sub(amount),
                    Some(acc.incoming),
                ),
                (Side::Debit, _) => (
                    acc.available.checked_add(amount),
                    acc.blocked.checked_sub(amount),
                    Some(acc.incoming),
                ),
                (Side::Credit, TxStatus::Committed) => (
                    acc.available.checked_add(amount),
                    Some(acc.blocked),
                    acc.incoming.checked_sub(amount),
                ),
                (Side::Credit, _) => (
                    Some(acc.available),
                    Some(acc.blocked),
                    acc.incoming.checked_sub(amount),
                ),
            };
            // Cannot fail: prepared amounts are inside blocked/incoming, and the balance limit
            // was checked when the credit was prepared.
            let (Some(available), Some(blocked), Some(incoming)) = (available, blocked, incoming)
            else {
                panic!("arithmetic overflow finishing {tx}");
            };
            assert!(
                blocked.get() >= 0 && incoming.get() >= 0,
                "reservation underflow on {tx}"
            );
            self.totals.shift(
                (acc.available, acc.blocked, acc.incoming),
                (available, blocked, incoming),
            );
            acc.available = available;
            acc.blocked = blocked;
            acc.incoming = incoming;
            self.push_balances(part.account);
            match (&part.returns, part.side, status) {
                (Some(original), _, TxStatus::Aborted) => {
                    self.count_return(original, part.account, amount, true)
                }
                (None, Side::Debit, TxStatus::Aborted) => {
                    self.count_pix_debit(part.account, amount, part.prepared_ms, true)
                }
                _ => {}
            }
            if let Some(peer) = part.peer {
                let mut position = self.position(peer);
                let signed = |side: Side| {
                    if side == Side::Credit {
                        amount.get()
                    } else {
                        -amount.get()
                    }
                };
                if part.side == Side::Credit {
                    position.pending -= amount.get();
                }
                if status == TxStatus::Committed {
                    // Cannot overflow: |settled| stays far below i64 (every credit was bounded
                    // when prepared, every debit by a balance).
                    position.settled = position.settled.saturating_add(signed(part.side));
                    self.count_in_window(window, peer, signed(part.side));
                }
                self.set_position(peer, position);
            }
            self.changes.push(Change::EntryStatus {
                tx_id: tx.clone(),
                leg: part.leg,
                account: part.account,
                kind: part.side.entry_kind(),
                status,
                at_ms: now_ms,
            });
        }
        Ok(())
    }

    fn push_balances(&mut self, account: AccountId) {
        let acc = &self.accounts[&account];
        self.changes.push(Change::Balances {
            account,
            available: acc.available,
            blocked: acc.blocked,
            incoming: acc.incoming,
        });
    }

    /// Sum of `available + blocked` over all accounts: the money this bank holds for its clients.
    pub fn total_held(&self) -> i128 {
        self.accounts
            .values()
            .map(|a| a.available.get() as i128 + a.blocked.get() as i128)
            .sum()
    }

    /// The two sides of the books: what the clients hold (available + blocked), and what explains
    /// it (deposits + opening + what every peer still owes, `settled - by_windows`, + what
    /// settlement windows brought in net, `by_windows`). Equal always. (A prepared credit is in
    /// `incoming` and, from another bank, in that bank's pending position; a prepared debit stays
    /// the client's, blocked, until committed. So once nothing is pending, clients' available +
    /// blocked + incoming = deposits + opening + net position with the peers.)
    pub fn balance_sheet(&self) -> (i128, i128) {
        let held = self
            .accounts
            .values()
            .map(|a| i128::from(a.available.get()) + i128::from(a.blocked.get()))
            .sum();
        (held, self.books.explained())
    }

    /// Sums over every account (kept as balances move).
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Asserts the structural invariants; used by tests and after restoring from disk.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut summed = Totals::default();
        for a in self.accounts.values() {
            summed.add(a);
        }
        if summed != self.totals {
            return Err(format!(
                "running totals {:?} differ from the accounts' sums {summed:?}",
                self.totals
            ));
        }
        let mut blocked: HashMap<AccountId, i64> = HashMap::new();
        let mut incoming: HashMap<AccountId, i64> = HashMap::new();
        for parts in self.prepared.values() {
            for p in parts {
                let slot = match p.side {
                    Side::Debit => blocked.entry(p.account).or_default(),
                    Side::Credit => incoming.entry(p.account).or_default(),
                };
                *slot += p.amount.get();
            }
        }
        let mut pending: BTreeMap<BankId, i64> = BTreeMap::new();
        for p in self.prepared.values().flatten() {
            if let (Some(peer), Side::Credit) = (p.peer, p.side) {
                *pending.entry(peer).or_default() += p.amount.get();
            }
        }
        for (peer, position) in &self.books.positions {
            if position.pending != pending.get(peer).copied().unwrap_or(0) {
                return Err(format!(
                    "the pending position with bank {peer} has no matching reservations"
                ));
            }
        }
        let (held, owed) = self.balance_sheet();
        if held != owed {
            return Err(format!(
                "the books do not balance: clients hold {held}, deposits and positions make {owed}"
            ));
        }
        for a in self.accounts.values() {
            if a.available.get() < 0 || a.blocked.get() < 0 || a.incoming.get() < 0 {
                return Err(format!("account {} has a negative balance", a.id));
            }
            if a.available.get() + a.blocked.get() + a.incoming.get() > MAX_BALANCE.get() {
                return Err(format!("account {} is over the balance limit", a.id));
            }
            if a.blocked.get() != blocked.get(&a.id).copied().unwrap_or(0) {
                return Err(format!(
                    "account {} blocked balance has no matching reservation",
                    a.id
                ));
            }
            if a.incoming.get() != incoming.get(&a.id).copied().unwrap_or(0) {
                return Err(format!(
                    "account {} incoming balance has no matching reservation",
                    a.id
                ));
            }
        }
        Ok(())
    }
}

fn check_amount(amount: Cents) -> Result<(), LedgerError> {
    if amount.get() <= 0 || amount > domain::money::MAX_OPERATION {
        return Err(LedgerError::InvalidAmount);
    }
    Ok(())
}

/// `base + amount`, refusing anything that would take the account's total over [`MAX_BALANCE`].
fn headroom_add(acc: &Account, base: Cents, amount: Cents) -> Result<Cents, LedgerError> {
    let total = acc.available.get() as i128
        + acc.blocked.get() as i128
        + acc.incoming.get() as i128
        + amount.get() as i128;
    if amount.get() <= 0 || total > MAX_BALANCE.get() as i128 {
        return Err(LedgerError::BalanceLimit);
    }
    base.checked_add(amount).ok_or(LedgerError::BalanceLimit)
}

#[cfg(test)]
mod tests;

/// A new account's logins: one for its first holder, at most one per holder, none for a holder
/// it does not have, and no e-mail twice (e-mails are unique among all logins of the bank).
fn check_logins(new: &NewAccount) -> Result<(), LedgerError> {
    let mut holders = std::collections::BTreeSet::new();
    for login in &new.logins {
        if usize::from(login.holder) >= new.holders.len() || !holders.insert(login.holder) {
            return Err(LedgerError::InvalidLogins);
        }
    }
    if !holders.contains(&0) {
        return Err(LedgerError::InvalidLogins);
    }
    let emails: std::collections::BTreeSet<&str> =
        new.logins.iter().map(|l| l.email.as_str()).collect();
    if emails.len() != new.logins.len() {
        return Err(LedgerError::DuplicateEmail);
    }
    Ok(())
}
