//! Devoluções (Pix returns): the receiver of a Pix sends it back, in full or in part, to the
//! account that paid it, within [`RETURN_DAYS_MAX`] days, never more in all than it received.
//!
//! The receiver's bank checks its rules ([`State::check_return`]) when the client asks
//! ([`EngineHandle::plan_return`]) and again when the return's debit is reserved, on the engine
//! thread: what is being returned counts from the moment its debit is reserved
//! ([`crate::ledger::Ledger::returned`]) and stops counting if it aborts, so two returns at once
//! cannot together pass what was received. The payer's bank finds the account to credit in its
//! own history ([`State::return_payer`]): nobody names it an account number. Inside one bank both
//! sides are reserved and committed in one batch ([`EngineHandle::return_inside`]); across banks
//! the return is a one-leg packet of `ReturnDebit` and `ReturnCredit` parts
//! ([`crate::twopc::PartSpec`]), prepared in `protocol.rs` like any other.

use super::*;
use crate::twopc::Devolution;
use domain::refusal::RETURN_DAYS_MAX;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a devolução of `amount` of Pix `original` by `account` would be, if the rules allow it
/// now: which leg it returns and to whom.
pub(super) struct PlanReturn {
    account: AccountId,
    original: TxId,
    amount: Cents,
}

impl Request for PlanReturn {
    type Answer = Devolution;
    const READ: bool = true;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Devolution> {
        let PlanReturn {
            account,
            original,
            amount,
        } = self;
        state
            .check_return(account, &original, amount, now)
            .map_err(EngineError::Refused)
    }
}

/// A devolução whose payer is a client of this bank too: both sides in one batch.
pub(super) struct ReturnInside {
    tx: TxId,
    account: AccountId,
    original: TxId,
    amount: Cents,
}

impl Request for ReturnInside {
    type Answer = TransferReceipt;

    fn run(self, state: &mut State, now: i64) -> EngineResult<TransferReceipt> {
        let ReturnInside {
            tx,
            account,
            original,
            amount,
        } = self;
        state.return_inside(tx, account, (original, amount), now)
    }
}

impl EngineHandle {
    /// Checks a devolução of `amount` of Pix `original` by `account` (received by it, within
    /// the days allowed, not beyond what is left to return) and says where it goes. Nothing is
    /// reserved: the rules are checked again when it is.
    pub async fn plan_return(
        &self,
        account: AccountId,
        original: TxId,
        amount: Cents,
    ) -> EngineResult<Devolution> {
        self.request(PlanReturn {
            account,
            original,
            amount,
        })
        .await
    }

    /// A devolução to a payer at this bank; retrying with the same `tx` returns the first
    /// outcome.
    pub async fn return_inside(
        &self,
        tx: TxId,
        account: AccountId,
        original: TxId,
        amount: Cents,
    ) -> EngineResult<TransferReceipt> {
        self.request(ReturnInside {
            tx,
            account,
            original,
            amount,
        })
        .await
    }
}

impl State {
    /// The receiver's rules: `original` credited `account` here (a committed Pix, not itself a
    /// return), at most [`RETURN_DAYS_MAX`] days ago, and `amount` with what is already being
    /// or was returned of it stays within what it brought.
    pub(super) fn check_return(
        &self,
        account: AccountId,
        original: &TxId,
        amount: Cents,
        now: i64,
    ) -> Result<Devolution, Refusal> {
        if amount.get() <= 0 || amount > domain::money::MAX_OPERATION {
            return Err(Refusal::InvalidAmount);
        }
        let received: Vec<Entry> = self
            .history_of(original)?
            .into_iter()
            .filter(|e| {
                e.account == account
                    && e.kind == EntryKind::PixIn
                    && e.status == TxStatus::Committed
                    && e.returned_for.is_none()
            })
            .collect();
        let Some(first) = received.first() else {
            return Err(Refusal::NotReceived);
        };
        let payer = first.counterparty.clone().ok_or(Refusal::NotReceived)?;
        if now.saturating_sub(first.created_ms) > RETURN_DAYS_MAX * DAY_MS {
            return Err(Refusal::ReturnTooLate);
        }
        let total = received
            .iter()
            .try_fold(Cents::ZERO, |sum, e| sum.checked_add(e.amount))
            .ok_or(Refusal::ReturnExceeds)?;
        let after = self
            .ledger
            .returned(original, account)
            .checked_add(amount)
            .ok_or(Refusal::ReturnExceeds)?;
        if after > total {
            return Err(Refusal::ReturnExceeds);
        }
        Ok(Devolution {
            original: original.clone(),
            leg: first.leg,
            amount,
            payer,
        })
    }

    /// The payer's side: the account of this bank that paid leg `paid` of `original` to bank
    /// `to` (committed), if `amount` with what came back of it already stays within what that
    /// account paid `to` in it.
    pub(super) fn return_payer(
        &self,
        original: &TxId,
        paid: u16,
        to: BankId,
        amount: Cents,
    ) -> Result<AccountId, Refusal> {
        let history = self.history_of(original)?;
        let paid_to = |e: &&Entry| {
            e.kind == EntryKind::PixOut
                && e.status == TxStatus::Committed
                && e.returned_for.is_none()
                && e.counterparty.as_ref().map(|c| c.bank) == Some(to)
        };
        let account = history
            .iter()
            .filter(paid_to)
            .find(|e| e.leg == paid)
            .map(|e| e.account)
            .ok_or(Refusal::NotReceived)?;
        let total = history
            .iter()
            .filter(paid_to)
            .filter(|e| e.account == account)
            .try_fold(Cents::ZERO, |sum, e| sum.checked_add(e.amount))
            .ok_or(Refusal::ReturnExceeds)?;
        let after = self
            .ledger
            .returned(original, account)
            .checked_add(amount)
            .ok_or(Refusal::ReturnExceeds)?;
        if after > total {
            return Err(Refusal::ReturnExceeds);
        }
        Ok(account)
    }

    /// `tx`'s entries here, from the store (a Pix committed in the batch still running is not
    /// there yet: it cannot be returned before its batch is written).
    fn history_of(&self, tx: &TxId) -> Result<Vec<Entry>, Refusal> {
        self.store.entries_of_tx(tx).map_err(|e| {
            tracing::error!(error = %e, "reading the entries of a returned Pix");
            Refusal::RecordsUnreadable {
                bank: self.config.bank.id,
            }
        })
    }

    fn return_inside(
        &mut self,
        tx: TxId,
        account: AccountId,
        (original, amount): (TxId, Cents),
        now: i64,
    ) -> EngineResult<TransferReceipt> {
        if let Some(previous) = self.previous_use(&tx)? {
            return match previous {
                Seen::Pix {
                    payer: p,
                    amount: m,
                    receipt,
                } if p == account && m == amount => Ok(receipt),
                _ => Err(LedgerError::TxIdConflict.into()),
            };
        }
        let me = self.config.bank.id;
        let devolution = self
            .check_return(account, &original, amount, now)
            .map_err(EngineError::Refused)?;
        if devolution.payer.bank != me {
            return Err(EngineError::Refused(Refusal::InvalidParts { bank: me }));
        }
        let payer = self
            .return_payer(&original, devolution.leg, me, amount)
            .map_err(EngineError::Refused)?;
        if payer == account {
            return Err(LedgerError::SelfTransfer.into());
        }
        let holder = self
            .ledger
            .account(account)
            .and_then(|a| a.holders.first())
            .ok_or(LedgerError::UnknownAccount)?;
        let returner = Counterparty {
            name: holder.name.clone(),
            key_masked: holder.tax_id.masked(),
            bank: me,
        };
        let part = |account: AccountId| PartKey {
            returns: Some(original.clone()),
            ..PartKey::single(account)
        };
        let to = devolution.payer.clone();
        self.ledger
            .prepare_debit(&tx, part(account), amount, to, now)?;
        if let Err(e) = self
            .ledger
            .prepare_credit(&tx, part(payer), amount, returner, now)
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
            receiver: ReceiverPreview {
                name: devolution.payer.name,
                key_masked: devolution.payer.key_masked,
                bank: self.config.bank.clone(),
            },
        };
        self.seen_in_batch.insert(
            tx,
            Seen::Pix {
                payer: account,
                amount,
                receipt: receipt.clone(),
            },
        );
        Ok(receipt)
    }
}
