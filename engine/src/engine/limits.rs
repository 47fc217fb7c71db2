//! Pix limits per period (`domain::pix_limits`), enforced at the payer's bank: every Pix debit
//! of an account prepared here, whether the client's own Pix, a leg of its packet, or a draw on
//! a consent by a packet of another bank, counts against that account's limit for the period it
//! is prepared in ([`State::check_pix_limit`], on the engine thread, so two debits at once see
//! each other). Devoluções do not count: they give back money that was not the client's.
//!
//! What counts is kept by the ledger ([`crate::ledger::Ledger::pix_used`]): counted from the
//! store the first time an account pays after a start, then moved by every debit reserved and
//! aborted.

use super::*;
use domain::pix_limits::{LimitSettings, LimitsView, PeriodAt, PixLimits};

/// An account's limits and what remains of them now.
pub(super) struct ShowLimits {
    account: AccountId,
}

impl Request for ShowLimits {
    type Answer = LimitsView;
    // Counting an account's period from the store changes nothing to persist.
    const READ: bool = true;

    fn run(self, state: &mut State, now: i64) -> EngineResult<LimitsView> {
        let ShowLimits { account } = self;
        state.limits_view(account, now)
    }
}

/// The client asks for new limits.
pub(super) struct SetLimits {
    account: AccountId,
    wanted: PixLimits,
}

impl Request for SetLimits {
    type Answer = LimitsView;

    fn run(self, state: &mut State, now: i64) -> EngineResult<LimitsView> {
        let SetLimits { account, wanted } = self;
        let settings = state
            .limit_settings(account)?
            .request(wanted, now)
            .map_err(EngineError::Limits)?;
        state.ledger.set_limits(account, settings);
        state.limits_view(account, now)
    }
}

impl State {
    /// The limits of `account`: those its client set, else its kind's default.
    fn limit_settings(&self, account: AccountId) -> EngineResult<LimitSettings> {
        if let Some(set) = self.ledger.limit_settings(account) {
            return Ok(set);
        }
        let acc = self
            .ledger
            .account(account)
            .ok_or(EngineError::Ledger(LedgerError::UnknownAccount))?;
        let defaults = self.config.pix_limits;
        Ok(LimitSettings::new(match acc.kind {
            AccountKind::Individual => defaults.individual,
            AccountKind::Company => defaults.company,
        }))
    }

    /// What `account` paid by Pix in the period `now` falls in (counted from the store the
    /// first time after a start).
    fn pix_used(&mut self, account: AccountId, now: i64) -> EngineResult<Cents> {
        let start = PeriodAt::of(now).starts_ms;
        if let Some(used) = self.ledger.pix_used(account, start) {
            return Ok(used);
        }
        let used = self
            .store
            .pix_debits_since(account, start)
            .map_err(store_error)?;
        self.ledger.count_pix_used(account, start, used);
        Ok(used)
    }

    fn limits_view(&mut self, account: AccountId, now: i64) -> EngineResult<LimitsView> {
        let settings = self.limit_settings(account)?;
        let used = self.pix_used(account, now)?;
        Ok(LimitsView::at(settings, used, now))
    }

    /// Whether `account` may pay `amount` more by Pix now; refused with what remains of this
    /// period's limit if not.
    pub(super) fn check_pix_limit(
        &mut self,
        account: AccountId,
        amount: Cents,
        now: i64,
    ) -> Result<(), Refusal> {
        let bank = self.config.bank.id;
        let view = self
            .limits_view(account, now)
            .map_err(|_| Refusal::RecordsUnreadable { bank })?;
        if amount > view.remaining {
            return Err(Refusal::PixLimit {
                bank,
                period: view.period,
                remaining: view.remaining,
            });
        }
        Ok(())
    }
}

impl EngineHandle {
    /// `account`'s Pix limits, the period now and what remains of it.
    pub async fn pix_limits(&self, account: AccountId) -> EngineResult<LimitsView> {
        self.request(ShowLimits { account }).await
    }

    /// Sets `account`'s Pix limits as its client asks: lowered at once, raised after
    /// [`domain::pix_limits::RAISE_DELAY_MS`]. Impossible limits are refused
    /// ([`EngineError::Limits`]) and change nothing.
    pub async fn set_pix_limits(
        &self,
        account: AccountId,
        wanted: PixLimits,
    ) -> EngineResult<LimitsView> {
        self.request(SetLimits { account, wanted }).await
    }
}
