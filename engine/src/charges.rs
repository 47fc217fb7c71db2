//! Charges (cobrança imediata) at the bank holding them, a pure state machine owned by the
//! engine thread (issue 28).
//!
//! A charge is paid at most once. Its payment is an ordinary transfer whose credit part is a
//! [`crate::twopc::PartSpec::ChargeCredit`]: the bank holding the charge reserves the charge for
//! that transaction ([`Charges::reserve`]) in the same durable batch as the credit and its yes
//! vote, so that of two payments prepared at once, from any banks, the second finds it reserved
//! and is refused; the commit marks it paid, an abort opens it again ([`Charges::settle`]). No
//! other bank's word makes a charge paid: only a credit this bank reserved and then committed
//! with proof. The account credited is the charge's own, whatever the coordinator says.
//!
//! Bounded: at most [`CHARGES_PER_ACCOUNT_MAX`] charges per account; at the limit, creating one
//! forgets the account's oldest charge that is no longer open, or is refused.

use domain::charge::{ChargeId, ChargeStatus, CHARGES_PER_ACCOUNT_MAX};
use domain::{AccountId, Cents, Refusal, TxId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where a charge is, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargeState {
    Open,
    /// A payment `tx` is prepared here: no other may be until it is decided.
    Reserved {
        tx: TxId,
    },
    Paid {
        tx: TxId,
        at_ms: i64,
    },
    Cancelled {
        at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub id: ChargeId,
    /// The account it credits (its receiver's).
    pub account: AccountId,
    pub amount: Cents,
    pub description: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub state: ChargeState,
}

impl Charge {
    /// Its status at `now`: an open charge past its expiry is expired; one with a payment in
    /// flight stays open (it is paid if that payment commits).
    pub fn status(&self, now: i64) -> ChargeStatus {
        match self.state {
            ChargeState::Open if now >= self.expires_ms => ChargeStatus::Expired,
            ChargeState::Open | ChargeState::Reserved { .. } => ChargeStatus::Open,
            ChargeState::Paid { .. } => ChargeStatus::Paid,
            ChargeState::Cancelled { .. } => ChargeStatus::Cancelled,
        }
    }

    /// The payment that paid it.
    pub fn paid_by(&self) -> Option<&TxId> {
        match &self.state {
            ChargeState::Paid { tx, .. } => Some(tx),
            _ => None,
        }
    }

    /// Whether nothing more can happen to it at `now` (so it may be forgotten).
    fn finished(&self, now: i64) -> bool {
        !matches!(self.status(now), ChargeStatus::Open)
    }
}

/// A charge to create: the engine stamps its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCharge {
    pub id: ChargeId,
    pub account: AccountId,
    pub amount: Cents,
    pub description: String,
    pub lifetime_ms: i64,
}

/// What changed, to persist with the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChargeChange {
    Put(Charge),
    Forget(ChargeId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    /// No such charge of this account.
    #[error("no such charge")]
    Unknown,
    /// The id names another charge (of another account, or other terms).
    #[error("charge id in use")]
    IdInUse,
    /// The account has as many open charges as it may.
    #[error("too many open charges")]
    TooMany,
    /// The charge is not open (paid, cancelled, expired, or being paid): the refusal says which.
    #[error("charge not open: {0:?}")]
    NotOpen(Refusal),
}

#[derive(Debug, Default)]
pub struct Charges {
    by_id: HashMap<ChargeId, Charge>,
    /// Each account's charges, oldest first.
    by_account: HashMap<AccountId, Vec<ChargeId>>,
    /// The charge each prepared payment reserved.
    by_tx: HashMap<TxId, ChargeId>,
    changes: Vec<ChargeChange>,
}

impl Charges {
    /// The charges as stored.
    pub fn restore(mut charges: Vec<Charge>) -> Charges {
        charges.sort_by_key(|c| c.created_ms);
        let mut out = Charges::default();
        for charge in charges {
            out.index(&charge);
            out.by_id.insert(charge.id.clone(), charge);
        }
        out
    }

    fn index(&mut self, charge: &Charge) {
        self.by_account
            .entry(charge.account)
            .or_default()
            .push(charge.id.clone());
        if let ChargeState::Reserved { tx } = &charge.state {
            self.by_tx.insert(tx.clone(), charge.id.clone());
        }
    }

    pub fn take_changes(&mut self) -> Vec<ChargeChange> {
        std::mem::take(&mut self.changes)
    }

    pub fn get(&self, id: &ChargeId) -> Option<&Charge> {
        self.by_id.get(id)
    }

    /// `account`'s charges, newest first.
    pub fn of(&self, account: AccountId) -> Vec<&Charge> {
        self.by_account
            .get(&account)
            .map(|ids| {
                ids.iter()
                    .rev()
                    .filter_map(|id| self.by_id.get(id))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn put(&mut self, charge: Charge) -> Charge {
        self.changes.push(ChargeChange::Put(charge.clone()));
        self.by_id.insert(charge.id.clone(), charge.clone());
        charge
    }

    /// Creates `new`, open until its lifetime from `now`. The same charge asked again (same id,
    /// account, amount and description) is answered as it stands; an id of any other charge is
    /// refused.
    pub fn create(&mut self, new: NewCharge, now: i64) -> Result<Charge, ChargeError> {
        if let Some(old) = self.by_id.get(&new.id) {
            let same = old.account == new.account
                && old.amount == new.amount
                && old.description == new.description;
            return if same {
                Ok(old.clone())
            } else {
                Err(ChargeError::IdInUse)
            };
        }
        let ids = self.by_account.entry(new.account).or_default();
        if ids.len() >= CHARGES_PER_ACCOUNT_MAX {
            let by_id = &self.by_id;
            let Some(at) = ids
                .iter()
                .position(|id| by_id.get(id).is_none_or(|c| c.finished(now)))
            else {
                return Err(ChargeError::TooMany);
            };
            let old = ids.remove(at);
            self.by_id.remove(&old);
            self.changes.push(ChargeChange::Forget(old));
        }
        let charge = Charge {
            id: new.id,
            account: new.account,
            amount: new.amount,
            description: new.description,
            created_ms: now,
            expires_ms: now.saturating_add(new.lifetime_ms),
            state: ChargeState::Open,
        };
        self.index(&charge);
        Ok(self.put(charge))
    }

    /// Cancels `account`'s charge `id` while it is open (cancelling a cancelled one again
    /// changes nothing).
    pub fn cancel(
        &mut self,
        account: AccountId,
        id: &ChargeId,
        now: i64,
    ) -> Result<Charge, ChargeError> {
        let charge = self
            .by_id
            .get(id)
            .filter(|c| c.account == account)
            .ok_or(ChargeError::Unknown)?;
        match charge.status(now) {
            ChargeStatus::Cancelled => return Ok(charge.clone()),
            ChargeStatus::Open if charge.state == ChargeState::Open => {}
            _ => return Err(ChargeError::NotOpen(refusal(charge, now))),
        }
        let mut charge = charge.clone();
        charge.state = ChargeState::Cancelled { at_ms: now };
        Ok(self.put(charge))
    }

    /// Reserves charge `id` for payment `tx` of `amount`: the account to credit, or why not.
    /// Only an open, unexpired charge, for exactly its amount, with no other payment in flight.
    pub fn reserve(
        &mut self,
        id: &ChargeId,
        tx: &TxId,
        amount: Cents,
        now: i64,
    ) -> Result<AccountId, Refusal> {
        let charge = self.by_id.get(id).ok_or(Refusal::ChargeUnknown)?;
        if charge.state != ChargeState::Open || now >= charge.expires_ms {
            return Err(refusal(charge, now));
        }
        if charge.amount != amount {
            return Err(Refusal::ChargeAmount);
        }
        let mut charge = charge.clone();
        charge.state = ChargeState::Reserved { tx: tx.clone() };
        let account = charge.account;
        self.by_tx.insert(tx.clone(), id.clone());
        self.put(charge);
        Ok(account)
    }

    /// Payment `tx` was decided: the charge it reserved is paid (`commit`) or open again. A
    /// transaction that reserved none changes nothing.
    pub fn settle(&mut self, tx: &TxId, commit: bool, now: i64) {
        let Some(id) = self.by_tx.remove(tx) else {
            return;
        };
        let Some(charge) = self.by_id.get(&id) else {
            return;
        };
        if charge.state != (ChargeState::Reserved { tx: tx.clone() }) {
            return;
        }
        let mut charge = charge.clone();
        charge.state = if commit {
            ChargeState::Paid {
                tx: tx.clone(),
                at_ms: now,
            }
        } else {
            ChargeState::Open
        };
        self.put(charge);
    }
}

/// Why a charge that is not open cannot be paid or cancelled.
fn refusal(charge: &Charge, now: i64) -> Refusal {
    match (&charge.state, charge.status(now)) {
        (ChargeState::Reserved { .. }, _) => Refusal::ChargeBusy,
        (_, ChargeStatus::Paid) => Refusal::ChargePaid,
        (_, ChargeStatus::Cancelled) => Refusal::ChargeCancelled,
        _ => Refusal::ChargeExpired,
    }
}

#[cfg(test)]
mod tests;
