//! Accounts: opening one, deposits, Pix inside this bank, an account's view and dashboard.

use super::*;

pub(super) struct OpenAccount {
    new: NewAccount,
}

impl Request for OpenAccount {
    type Answer = AccountId;

    fn run(self, state: &mut State, now: i64) -> EngineResult<AccountId> {
        let OpenAccount { new } = self;
        state.ledger.open_account(new, now).map_err(Into::into)
    }
}

pub(super) struct Deposit {
    tx: TxId,
    account: AccountId,
    amount: Cents,
    method: Option<DepositMethod>,
}

impl Request for Deposit {
    type Answer = TxStatus;

    fn run(self, state: &mut State, now: i64) -> EngineResult<TxStatus> {
        let Deposit {
            tx,
            account,
            amount,
            method,
        } = self;
        state.deposit(tx, account, (amount, method), now)
    }
}

pub(super) struct Pix {
    tx: TxId,
    payer: AccountId,
    key: PixKey,
    amount: Cents,
    message: PixMessage,
}

impl Request for Pix {
    type Answer = TransferReceipt;

    fn run(self, state: &mut State, now: i64) -> EngineResult<TransferReceipt> {
        let Pix {
            tx,
            payer,
            key,
            amount,
            message,
        } = self;
        state.pix(tx, payer, (key, amount, message), now)
    }
}

pub(super) struct ShowAccount {
    account: AccountId,
}

impl Request for ShowAccount {
    type Answer = AccountView;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<AccountView> {
        let ShowAccount { account } = self;
        state.account_view(account)
    }
}

/// The account at this bank of the first of `owners` that has one.
pub(super) struct AccountOf {
    owners: Vec<TaxId>,
}

impl Request for AccountOf {
    type Answer = Option<AccountView>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Option<AccountView>> {
        let AccountOf { owners } = self;
        let found = owners
            .iter()
            .find_map(|o| state.ledger.by_tax_id(o))
            .map(|a| a.id);
        found.map(|id| state.account_view(id)).transpose()
    }
}

/// The comprovante of transaction `tx` for `account`, if the account is a party to it.
pub(super) struct ShowReceipt {
    account: AccountId,
    tx: TxId,
}

impl Request for ShowReceipt {
    type Answer = Option<Receipt>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Option<Receipt>> {
        let ShowReceipt { account, tx } = self;
        state.receipt(account, tx)
    }
}

pub(super) struct ShowDashboard {
    account: AccountId,
}

impl Request for ShowDashboard {
    type Answer = Dashboard;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Dashboard> {
        let ShowDashboard { account } = self;
        state.dashboard(account)
    }
}

/// The newest `limit` entries of an account's statement, for an export.
pub(super) struct ShowStatement {
    account: AccountId,
    limit: u32,
}

impl Request for ShowStatement {
    type Answer = Vec<EntryView>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Vec<EntryView>> {
        let ShowStatement { account, limit } = self;
        state.statement_of(account, limit)
    }
}

impl EngineHandle {
    /// The newest `limit` entries of `account`'s statement (newest first), each with the
    /// balance after it when committed.
    pub async fn statement(&self, account: AccountId, limit: u32) -> EngineResult<Vec<EntryView>> {
        self.request(ShowStatement { account, limit }).await
    }

    pub async fn account(&self, account: AccountId) -> EngineResult<AccountView> {
        self.request(ShowAccount { account }).await
    }

    pub async fn account_of(&self, owners: Vec<TaxId>) -> EngineResult<Option<AccountView>> {
        self.request(AccountOf { owners }).await
    }

    pub async fn open_account(&self, new: NewAccount) -> EngineResult<AccountId> {
        self.request(OpenAccount { new }).await
    }

    /// Deposits `amount`, its method not recorded; retrying with the same `tx` returns the
    /// first outcome.
    pub async fn deposit(
        &self,
        tx: TxId,
        account: AccountId,
        amount: Cents,
    ) -> EngineResult<TxStatus> {
        self.deposit_by(tx, account, amount, None).await
    }

    /// Deposits `amount`, recorded as made by `method`; retrying with the same `tx` (and the
    /// same method) returns the first outcome.
    pub async fn deposit_by(
        &self,
        tx: TxId,
        account: AccountId,
        amount: Cents,
        method: Option<DepositMethod>,
    ) -> EngineResult<TxStatus> {
        self.request(Deposit {
            tx,
            account,
            amount,
            method,
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
        self.pix_with(tx, payer, (key, amount), PixMessage::none())
            .await
    }

    /// Pix to a key at this bank with the payer's `message`, recorded on both entries;
    /// retrying with the same `tx` returns the first outcome.
    pub async fn pix_with(
        &self,
        tx: TxId,
        payer: AccountId,
        (key, amount): (PixKey, Cents),
        message: PixMessage,
    ) -> EngineResult<TransferReceipt> {
        self.request(Pix {
            tx,
            payer,
            key,
            amount,
            message,
        })
        .await
    }

    pub async fn dashboard(&self, account: AccountId) -> EngineResult<Dashboard> {
        self.request(ShowDashboard { account }).await
    }

    /// The comprovante of `tx` as `account` may see it: `None` unless the account paid or
    /// received in it (a credit only once it arrived), so that nobody learns of others'
    /// transfers.
    pub async fn receipt(&self, account: AccountId, tx: TxId) -> EngineResult<Option<Receipt>> {
        self.request(ShowReceipt { account, tx }).await
    }
}

impl State {
    fn deposit(
        &mut self,
        tx: TxId,
        account: AccountId,
        (amount, method): (Cents, Option<DepositMethod>),
        now: i64,
    ) -> EngineResult<TxStatus> {
        if let Some(previous) = self.previous_use(&tx)? {
            return match previous {
                Seen::Deposit {
                    account: a,
                    amount: m,
                    method: how,
                } if a == account && m == amount && how == method => Ok(TxStatus::Committed),
                _ => Err(LedgerError::TxIdConflict.into()),
            };
        }
        self.ledger
            .deposit(tx.clone(), account, (amount, method), now)?;
        self.seen_in_batch.insert(
            tx,
            Seen::Deposit {
                account,
                amount,
                method,
            },
        );
        Ok(TxStatus::Committed)
    }

    fn pix(
        &mut self,
        tx: TxId,
        payer: AccountId,
        (key, amount, message): (PixKey, Cents, PixMessage),
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
        self.check_pix_limit(payer, amount, now)
            .map_err(EngineError::Refused)?;
        let part = |account: AccountId| PartKey {
            message: message.clone(),
            ..PartKey::single(account)
        };
        self.ledger
            .prepare_debit(&tx, part(payer), amount, to_payee, now)?;
        if let Err(e) = self
            .ledger
            .prepare_credit(&tx, part(payee_id), amount, to_payer, now)
        {
            self.ledger
                .abort(&tx, now)
                .expect("debit was just prepared");
            return Err(e.into());
        }
        // Inside this bank: no position moves, so no window counts it.
        let open = self.windows.open();
        self.ledger
            .commit(&tx, now, open)
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
    pub(super) fn previous_use(&self, tx: &TxId) -> EngineResult<Option<Seen>> {
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
                method: first.method,
            },
        }
    }
    pub(super) fn account_view(&self, account: AccountId) -> EngineResult<AccountView> {
        let a = self
            .ledger
            .account(account)
            .ok_or(LedgerError::UnknownAccount)?;
        Ok(AccountView {
            id: a.id,
            kind: a.kind,
            holders: a.holders.clone(),
            email: a.email().to_string(),
            available: a.available,
            blocked: a.blocked,
        })
    }

    fn dashboard(&self, id: AccountId) -> EngineResult<Dashboard> {
        let account = self.account_view(id)?;
        let recent = self.statement_of(id, self.config.recent_limit)?;
        Ok(Dashboard {
            bank: self.config.bank.clone(),
            recent,
            account,
        })
    }

    /// The newest `limit` entries of the account's statement, each with the balance after it
    /// when committed and, for a transfer it sent that was not concluded, why.
    fn statement_of(&self, id: AccountId, limit: u32) -> EngineResult<Vec<EntryView>> {
        let account = self.account_view(id)?;
        let recent = self.store.recent_entries(id, limit).map_err(|e| {
            tracing::error!(error = %e, "reading recent entries");
            EngineError::Unexpected
        })?;
        let mut recent = statement(account.available.get() + account.blocked.get(), recent);
        for line in recent.iter_mut() {
            let e = &mut line.view;
            if e.kind == EntryKind::PixOut && e.status == TxStatus::Aborted {
                e.reason = self.refusal_of(&e.tx_id, line.leg)?;
            }
        }
        Ok(recent.into_iter().map(|e| e.view).collect())
    }

    /// Why leg `leg` of `tx` was not concluded, as this bank's decision (it coordinated) names
    /// it: that leg's refusal, or the packet's first (all or nothing: another leg's refusal
    /// aborts every leg). `None` where another bank decided.
    fn refusal_of(&self, tx: &TxId, leg: u16) -> EngineResult<Option<Refusal>> {
        let decision = self.store.decision(tx).map_err(|e| {
            tracing::error!(error = %e, "reading a decision");
            EngineError::Unexpected
        })?;
        Ok(decision.and_then(|d| {
            let outcome = super::decisions::parse_outcome(tx, d.commit, &d.outcome);
            let own = outcome.legs.get(usize::from(leg)).and_then(|l| l.error);
            own.or_else(|| outcome.failure().map(|(_, r)| r))
        }))
    }

    fn receipt(&self, id: AccountId, tx: TxId) -> EngineResult<Option<Receipt>> {
        let account = self.ledger.account(id).ok_or(LedgerError::UnknownAccount)?;
        let holder = &account.holders[0];
        let me = Counterparty {
            name: holder.name.clone(),
            key_masked: holder.tax_id.masked(),
            bank: self.config.bank.id,
        };
        let entries = self.store.entries_of_tx(&tx).map_err(|e| {
            tracing::error!(error = %e, "reading entries of a transaction");
            EngineError::Unexpected
        })?;
        let mut lines = Vec::new();
        // A credit is the receiver's only once it arrived (as in the statement).
        for e in entries.into_iter().filter(|e| {
            e.account == id && (e.kind != EntryKind::PixIn || e.status == TxStatus::Committed)
        }) {
            let reason = match (e.kind, e.status) {
                (EntryKind::PixOut, TxStatus::Aborted) => self.refusal_of(&tx, e.leg)?,
                _ => None,
            };
            let other = e.counterparty.clone();
            let (payer, receiver) = match e.kind {
                EntryKind::Deposit => (None, me.clone()),
                EntryKind::PixOut => (Some(me.clone()), other.unwrap_or_else(|| me.clone())),
                EntryKind::PixIn => (other, me.clone()),
            };
            lines.push(ReceiptLine {
                kind: e.kind,
                amount: e.amount,
                status: e.status,
                created_ms: e.created_ms,
                payer,
                receiver,
                reason,
                message: e.message,
            });
        }
        Ok((!lines.is_empty()).then_some(Receipt { tx_id: tx, lines }))
    }
}

/// A statement line, with the leg it belongs to (to find why it was not concluded).
struct Line {
    view: EntryView,
    leg: u16,
}

/// What a transaction id was used for earlier in the current batch (not yet in the store).
#[derive(Clone)]
pub(super) enum Seen {
    Deposit {
        account: AccountId,
        amount: Cents,
        method: Option<DepositMethod>,
    },
    Pix {
        payer: AccountId,
        amount: Cents,
        receipt: TransferReceipt,
    },
}

/// Entries newest first with the balance after each committed one, walking back from `balance`
/// (available + blocked, which is exactly the sum of the committed entries: a prepared debit only
/// moves money from available to blocked, and a prepared credit is not counted until committed).
fn statement(mut balance: i64, newest_first: Vec<Entry>) -> Vec<Line> {
    newest_first
        .into_iter()
        .map(|e| {
            let balance_after = (e.status == TxStatus::Committed).then(|| {
                let after = Cents::new(balance);
                balance -= e.amount.get() * e.kind.sign();
                after
            });
            Line {
                leg: e.leg,
                view: EntryView {
                    tx_id: e.tx_id,
                    kind: e.kind,
                    amount: e.amount,
                    status: e.status,
                    counterparty: e.counterparty,
                    created_ms: e.created_ms,
                    balance_after,
                    reason: None,
                    returned_for: e.returned_for,
                    deposit_method: e.method,
                    message: e.message,
                },
            }
        })
        .collect()
}
