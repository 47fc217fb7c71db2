//! Settlement windows: closing one (at an operator's request or on another bank's report),
//! keeping and comparing the other banks' signed reports, and the signed steps of paying a
//! window; a creditor's confirmation moves the positions in the same durable batch as the step.
//! The rules live in the pure `crate::settlement`; this file gives them the books and the key.
//! A refused step answers `Ok(Err(SettlementError))`: nothing changed, and the engine itself is
//! fine (only operators and other banks ask these, never a client).

use super::*;
use crate::settlement::{Accepted, SettlementError, SignedPayment, SignedReport, Window};

/// A settlement step's answer: refused with its reason, or done.
pub type Settled<T> = Result<T, SettlementError>;

/// Windows an operator's listing shows at most.
pub const WINDOWS_LISTED_MAX: usize = 100;

pub(super) struct CloseWindow;

/// The window closed (or closed before) and whether this command closed it.
pub struct Closed {
    pub own: SignedReport,
    pub newly: bool,
}

impl Request for CloseWindow {
    type Answer = Settled<Closed>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Settled<Closed>> {
        let next = state.windows.last_closed() + 1;
        Ok(state.close_window(next, now))
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
    type Answer = Settled<ReportTaken>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Settled<ReportTaken>> {
        Ok(state.accept_report(self.report, now))
    }
}

pub(super) struct OwnReport {
    window: u64,
}

impl Request for OwnReport {
    type Answer = Settled<SignedReport>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Settled<SignedReport>> {
        let last = state.windows.last_closed();
        Ok(match state.windows.get(self.window) {
            Some(w) => Ok(w.own.clone()),
            None if self.window <= last && self.window > 0 => {
                Err(SettlementError::Forgotten(self.window))
            }
            None => Err(SettlementError::NotClosed(self.window)),
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
    type Answer = Settled<SignedPayment>;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Settled<SignedPayment>> {
        Ok(state
            .identity()
            .and_then(|key| state.windows.mark_paid(self.window, self.creditor, &key)))
    }
}

pub(super) struct ConfirmReceived {
    window: u64,
    debtor: BankId,
}

impl Request for ConfirmReceived {
    type Answer = Settled<SignedPayment>;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Settled<SignedPayment>> {
        Ok(state.confirm_received(self.window, self.debtor))
    }
}

pub(super) struct ReceivePayment {
    signed: SignedPayment,
}

impl Request for ReceivePayment {
    type Answer = Settled<()>;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Settled<()>> {
        Ok(state.receive_payment(self.signed))
    }
}

pub(super) struct PayLeg {
    window: u64,
    creditor: BankId,
}

impl Request for PayLeg {
    type Answer = Settled<SignedPayment>;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Settled<SignedPayment>> {
        Ok(state
            .identity()
            .and_then(|key| state.windows.pay_leg(self.window, self.creditor, &key)))
    }
}

pub(super) struct ConfirmLeg {
    window: u64,
    debtor: BankId,
}

impl Request for ConfirmLeg {
    type Answer = Settled<SignedPayment>;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Settled<SignedPayment>> {
        Ok(state.confirm_leg(self.window, self.debtor))
    }
}

impl State {
    fn identity(&self) -> Settled<Arc<BankKey>> {
        self.config.identity.clone().ok_or(SettlementError::NoKey)
    }

    fn accept_report(&mut self, report: SignedReport, now: i64) -> Settled<ReportTaken> {
        // Checked before closing, so that a bad report closes nothing.
        report.check(&self.config.keyring)?;
        if report.report.bank == self.config.bank.id {
            return Err(SettlementError::Malformed("this bank's own report"));
        }
        let closed = self.close_window(report.report.window, now)?;
        let accepted = self.windows.accept(report, &self.config.keyring)?;
        Ok(ReportTaken {
            accepted,
            newly_closed: closed.newly,
        })
    }

    fn confirm_received(&mut self, window: u64, debtor: BankId) -> Settled<SignedPayment> {
        let key = self.identity()?;
        let (signed, settle) = self.windows.confirm(window, debtor, &key)?;
        if let Some(amount) = settle {
            // The debtor paid this bank: what it owes shrinks by the amount.
            self.ledger
                .settle_window(debtor, amount.get())
                .map_err(|_| SettlementError::Overflow)?;
        }
        Ok(signed)
    }

    fn receive_payment(&mut self, signed: SignedPayment) -> Settled<()> {
        let moves = self.windows.receive_payment(signed, &self.config.keyring)?;
        self.settle_moves(moves)
    }

    fn confirm_leg(&mut self, window: u64, debtor: BankId) -> Settled<SignedPayment> {
        let key = self.identity()?;
        let (signed, moves) = self.windows.confirm_leg(window, debtor, &key)?;
        self.settle_moves(moves)?;
        Ok(signed)
    }

    /// Moves each pair by what a confirmation paid (positive: the peer paid this bank, which
    /// it owes less; negative: this bank paid the peer), in the batch that keeps the step.
    fn settle_moves(&mut self, moves: Vec<(BankId, domain::Cents)>) -> Settled<()> {
        for (peer, amount) in moves {
            self.ledger
                .settle_window(peer, amount.get())
                .map_err(|_| SettlementError::Overflow)?;
        }
        Ok(())
    }

    fn close_window(&mut self, window: u64, now: i64) -> Settled<Closed> {
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
    pub async fn close_window(&self) -> EngineResult<Settled<Closed>> {
        self.request(CloseWindow).await
    }

    /// Another bank's signed report: the window is closed here first if it is the next one.
    pub async fn accept_report(&self, report: SignedReport) -> EngineResult<Settled<ReportTaken>> {
        self.request(AcceptReport { report }).await
    }

    /// This bank's signed report for a window it closed (to send it again to a bank that
    /// missed it).
    pub async fn own_report(&self, window: u64) -> EngineResult<Settled<SignedReport>> {
        self.request(OwnReport { window }).await
    }

    /// The newest windows closed here (at most [`WINDOWS_LISTED_MAX`]).
    pub async fn windows(&self, limit: usize) -> EngineResult<Vec<Window>> {
        let limit = limit.min(WINDOWS_LISTED_MAX);
        self.request(ListWindows { limit }).await
    }

    /// This bank, debtor of `creditor` in `window`, says it paid.
    pub async fn mark_paid(
        &self,
        window: u64,
        creditor: BankId,
    ) -> EngineResult<Settled<SignedPayment>> {
        self.request(MarkPaid { window, creditor }).await
    }

    /// This bank, creditor of `debtor` in `window`, confirms it received the payment: the
    /// positions move here in the same batch.
    pub async fn confirm_received(
        &self,
        window: u64,
        debtor: BankId,
    ) -> EngineResult<Settled<SignedPayment>> {
        self.request(ConfirmReceived { window, debtor }).await
    }

    /// This bank, debtor of a leg of `window`'s netting plan to `creditor`, says it paid it.
    pub async fn pay_leg(
        &self,
        window: u64,
        creditor: BankId,
    ) -> EngineResult<Settled<SignedPayment>> {
        self.request(PayLeg { window, creditor }).await
    }

    /// This bank, creditor of a leg of `window`'s netting plan from `debtor`, confirms it
    /// received it: when it is the last leg confirmed, this bank's pairs move in the same batch.
    pub async fn confirm_leg(
        &self,
        window: u64,
        debtor: BankId,
    ) -> EngineResult<Settled<SignedPayment>> {
        self.request(ConfirmLeg { window, debtor }).await
    }

    /// Another bank's signed payment step: about a pair this bank is in, or a leg of a
    /// window's netting plan.
    pub async fn receive_payment(&self, signed: SignedPayment) -> EngineResult<Settled<()>> {
        self.request(ReceivePayment { signed }).await
    }
}
