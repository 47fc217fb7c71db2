//! Settlement windows: closing one (at an operator's request or on another bank's report),
//! keeping and comparing the other banks' signed reports, and the signed steps of paying a
//! window; a creditor's confirmation moves the positions in the same durable batch as the step.
//! The rules live in the pure `crate::settlement`; this file gives them the books and the key.

use super::*;
use crate::settlement::{Accepted, SettlementError, SignedPayment, SignedReport, Window};

/// Windows an operator's listing shows at most.
pub const WINDOWS_LISTED_MAX: usize = 100;

pub(super) struct CloseWindow {
    /// `None`: the next window (an operator's request).
    window: Option<u64>,
}

/// The window closed (or closed before) and whether this command closed it.
pub struct Closed {
    pub own: SignedReport,
    pub newly: bool,
}

impl Request for CloseWindow {
    type Answer = Closed;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Closed> {
        let window = self.window.unwrap_or(state.windows.last_closed() + 1);
        state.close_window(window, now)
    }
}

pub(super) struct AcceptReport {
    report: SignedReport,
}

/// What another bank's report did here: this bank's own report for the window (its answer),
/// where the pair stands, and whether the report made this bank close the window.
pub struct ReportTaken {
    pub accepted: Accepted,
    pub newly_closed: bool,
}

impl Request for AcceptReport {
    type Answer = ReportTaken;

    fn run(self, state: &mut State, now: i64) -> EngineResult<ReportTaken> {
        let window = self.report.report.window;
        // Check before closing, so that a bad report closes nothing.
        self.report.check(&state.config.keyring)?;
        if self.report.report.bank == state.config.bank.id {
            return Err(SettlementError::Malformed("this bank's own report").into());
        }
        let closed = state.close_window(window, now)?;
        let accepted = state.windows.accept(self.report, &state.config.keyring)?;
        Ok(ReportTaken {
            accepted,
            newly_closed: closed.newly,
        })
    }
}

pub(super) struct ListWindows {
    limit: usize,
}

impl Request for ListWindows {
    type Answer = Vec<Window>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Vec<Window>> {
        Ok(state.windows.newest().take(self.limit).cloned().collect())
    }
}

pub(super) struct MarkPaid {
    window: u64,
    creditor: BankId,
}

impl Request for MarkPaid {
    type Answer = SignedPayment;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<SignedPayment> {
        let key = state.identity()?;
        Ok(state.windows.mark_paid(self.window, self.creditor, &key)?)
    }
}

pub(super) struct ConfirmReceived {
    window: u64,
    debtor: BankId,
}

impl Request for ConfirmReceived {
    type Answer = SignedPayment;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<SignedPayment> {
        let key = state.identity()?;
        let (signed, settle) = state.windows.confirm(self.window, self.debtor, &key)?;
        if let Some(amount) = settle {
            // The debtor paid this bank: what it owes shrinks by the amount.
            state.ledger.settle_window(self.debtor, amount.get())?;
        }
        Ok(signed)
    }
}

pub(super) struct ReceivePayment {
    signed: SignedPayment,
}

impl Request for ReceivePayment {
    type Answer = ();

    fn run(self, state: &mut State, _now: i64) -> EngineResult<()> {
        let creditor = self.signed.payment.creditor;
        let settle = state
            .windows
            .receive_payment(self.signed, &state.config.keyring)?;
        if let Some(amount) = settle {
            // The creditor confirmed it received this bank's payment: this bank owes it less.
            state.ledger.settle_window(creditor, -amount.get())?;
        }
        Ok(())
    }
}

impl State {
    fn identity(&self) -> EngineResult<Arc<BankKey>> {
        self.config
            .identity
            .clone()
            .ok_or(SettlementError::NoKey.into())
    }

    fn close_window(&mut self, window: u64, now: i64) -> EngineResult<Closed> {
        let key = self.identity()?;
        let newly = window == self.windows.last_closed() + 1;
        let own = self
            .windows
            .close(
                window,
                self.config.bank.id,
                self.ledger.books(),
                self.config.keyring.members(),
                &key,
                now,
            )?
            .clone();
        if newly {
            tracing::info!(
                window,
                multilateral = own.report.multilateral.get(),
                "settlement window closed"
            );
        }
        Ok(Closed { own, newly })
    }
}

impl EngineHandle {
    /// Closes the next settlement window here (an operator's request): this bank's signed report.
    pub async fn close_window(&self) -> EngineResult<Closed> {
        self.request(CloseWindow { window: None }).await
    }

    /// Another bank's signed report: the window is closed here first if it is the next one.
    pub async fn accept_report(&self, report: SignedReport) -> EngineResult<ReportTaken> {
        self.request(AcceptReport { report }).await
    }

    /// The newest windows closed here (at most [`WINDOWS_LISTED_MAX`]).
    pub async fn windows(&self, limit: usize) -> EngineResult<Vec<Window>> {
        let limit = limit.min(WINDOWS_LISTED_MAX);
        self.request(ListWindows { limit }).await
    }

    /// This bank, debtor of `creditor` in `window`, says it paid.
    pub async fn mark_paid(&self, window: u64, creditor: BankId) -> EngineResult<SignedPayment> {
        self.request(MarkPaid { window, creditor }).await
    }

    /// This bank, creditor of `debtor` in `window`, confirms it received the payment: the
    /// positions move here in the same batch.
    pub async fn confirm_received(
        &self,
        window: u64,
        debtor: BankId,
    ) -> EngineResult<SignedPayment> {
        self.request(ConfirmReceived { window, debtor }).await
    }

    /// Another bank's signed payment step about a pair this bank is in.
    pub async fn receive_payment(&self, signed: SignedPayment) -> EngineResult<()> {
        self.request(ReceivePayment { signed }).await
    }
}
