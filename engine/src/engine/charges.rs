//! Charges (cobranças): a client's charges created, listed and cancelled, and what this bank
//! tells a payer (its own client, or another bank) about one. Their payment is reserved and
//! decided in `protocol.rs` and `decisions.rs` (see [`crate::charges`]).

use super::*;
use crate::charges::{Charge, NewCharge};
use domain::charge::{ChargeId, ChargeInfo, ChargeStatus};

/// A charge with its status at the batch's time.
pub type ChargeNow = (Charge, ChargeStatus);

pub(super) struct CreateCharge(NewCharge);

impl Request for CreateCharge {
    type Answer = ChargeNow;

    fn run(self, state: &mut State, now: i64) -> EngineResult<ChargeNow> {
        if state.ledger.account(self.0.account).is_none() {
            return Err(LedgerError::UnknownAccount.into());
        }
        // The app checks a charge's terms before it asks; the engine keeps its table bounded
        // whoever asks.
        let NewCharge {
            amount,
            ref description,
            lifetime_ms,
            ..
        } = self.0;
        let minute_ms = 60_000;
        let terms_fit = amount.get() > 0
            && amount <= domain::money::MAX_OPERATION
            && description.chars().count() <= domain::charge::DESCRIPTION_MAX_CHARS
            && (domain::charge::EXPIRY_MIN_MINUTES * minute_ms
                ..=domain::charge::EXPIRY_MAX_MINUTES * minute_ms)
                .contains(&lifetime_ms);
        if !terms_fit {
            tracing::error!("a charge's terms were not checked before the engine was asked");
            return Err(EngineError::Unexpected);
        }
        let charge = state.charges.create(self.0, now)?;
        let status = charge.status(now);
        Ok((charge, status))
    }
}

pub(super) struct CancelCharge {
    account: AccountId,
    id: ChargeId,
}

impl Request for CancelCharge {
    type Answer = ChargeNow;

    fn run(self, state: &mut State, now: i64) -> EngineResult<ChargeNow> {
        let charge = state.charges.cancel(self.account, &self.id, now)?;
        let status = charge.status(now);
        Ok((charge, status))
    }
}

pub(super) struct ChargesOf {
    account: AccountId,
}

impl Request for ChargesOf {
    type Answer = Vec<ChargeNow>;
    const READ: bool = true;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Vec<ChargeNow>> {
        Ok(state
            .charges
            .of(self.account)
            .into_iter()
            .map(|c| (c.clone(), c.status(now)))
            .collect())
    }
}

pub(super) struct ShowCharge {
    id: ChargeId,
}

impl Request for ShowCharge {
    type Answer = Option<ChargeInfo>;
    const READ: bool = true;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Option<ChargeInfo>> {
        let Some(charge) = state.charges.get(&self.id) else {
            return Ok(None);
        };
        let holder = state
            .ledger
            .account(charge.account)
            .and_then(|a| a.holders.first())
            .ok_or(EngineError::Unexpected)?;
        Ok(Some(ChargeInfo {
            id: charge.id.clone(),
            amount: charge.amount,
            description: charge.description.clone(),
            status: charge.status(now),
            expires_ms: charge.expires_ms,
            receiver: Counterparty {
                name: holder.name.clone(),
                key_masked: holder.tax_id.masked(),
                bank: state.config.bank.id,
            },
        }))
    }
}

impl EngineHandle {
    /// A fresh charge id: 32 random letters or digits.
    pub fn new_charge_id(&self) -> ChargeId {
        ChargeId::parse(&Alphanumeric.sample_string(&mut rand::rng(), 32))
            .expect("32 alphanumerics are a charge id")
    }

    /// Creates a charge of `account`'s (the same one asked again is answered as it stands; an
    /// id of another charge is refused with [`crate::charges::ChargeError::IdInUse`]).
    pub async fn create_charge(&self, new: NewCharge) -> EngineResult<ChargeNow> {
        self.request(CreateCharge(new)).await
    }

    /// Cancels `account`'s open charge `id`.
    pub async fn cancel_charge(&self, account: AccountId, id: ChargeId) -> EngineResult<ChargeNow> {
        self.request(CancelCharge { account, id }).await
    }

    /// `account`'s charges, newest first.
    pub async fn charges_of(&self, account: AccountId) -> EngineResult<Vec<ChargeNow>> {
        self.request(ChargesOf { account }).await
    }

    /// What a payer is told of charge `id` here (`None`: no such charge).
    pub async fn charge(&self, id: ChargeId) -> EngineResult<Option<ChargeInfo>> {
        self.request(ShowCharge { id }).await
    }
}
