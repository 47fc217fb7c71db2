//! Settlement windows: cutting one (at a token visit, or on a plan or report of the next window),
//! reporting it once every transfer of it is decided here, keeping and comparing the other
//! banks' signed reports, and the signed steps of paying a window; a creditor's confirmation
//! moves the positions in the same durable batch as the step. The rules live in the pure
//! `crate::settlement`; this file gives them the books, the transactions in flight and the key.
//! A refused step answers `Ok(Err(SettlementError))`: nothing changed, and the engine itself is
//! fine (only operators and other banks ask these, never a client).

use super::*;
use crate::settlement::{Accepted, SettlementError, SignedPayment, SignedReport, Window};

/// A settlement step's answer: refused with its reason, or done.
pub type Settled<T> = Result<T, SettlementError>;

/// Windows an operator's listing shows at most.
pub const WINDOWS_LISTED_MAX: usize = 100;

pub(super) struct WindowVisit {
    token_window: u64,
    close: Close,
    may_report: bool,
}

/// Whether a token visit closes the open window (see [`EngineHandle::window_visit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    No,
    /// An operator asked: close it.
    Now,
    /// The schedule: close it unless this bank cut a window at or after this time (another
    /// bank closed the interval's window, and its report or the token brought the cut here).
    UnlessCutSince(i64),
}

/// What a token visit did to the settlement windows here.
#[derive(Debug)]
pub struct Visited {
    /// The window open here after the visit: the plans of the visit's batch count in it, and
    /// the token carries it on (at least).
    pub open: u64,
    /// Whether this visit cut a window.
    pub cut: bool,
    /// This bank's reports signed at this visit (windows cut before, now fully decided here),
    /// oldest first: to send to every member.
    pub reports: Vec<SignedReport>,
}

impl Request for WindowVisit {
    type Answer = Settled<Visited>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Settled<Visited>> {
        Ok(state.window_visit(self.token_window, self.close, self.may_report, now))
    }
}

pub(super) struct AcceptReport {
    report: SignedReport,
    may_report: bool,
}

/// What another bank's well-formed, well-signed report did here: kept and compared with this
/// bank's own report for the window (the answer to its sender), or why not yet; whether this
/// bank closed the window on it; and this bank's reports signed on it, either way (to send to
/// every member).
pub struct ReportTaken {
    pub accepted: Settled<Accepted>,
    pub newly_closed: bool,
    pub reports: Vec<SignedReport>,
}

impl Request for AcceptReport {
    type Answer = Settled<ReportTaken>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Settled<ReportTaken>> {
        Ok(state.accept_report(self.report, self.may_report, now))
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

pub(super) struct WindowCut;

impl Request for WindowCut {
    type Answer = (u64, u64);
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<(u64, u64)> {
        Ok((state.windows.cut(), state.windows.last_closed()))
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

    fn accept_report(
        &mut self,
        report: SignedReport,
        may_report: bool,
        now: i64,
    ) -> Settled<ReportTaken> {
        // Checked before anything moves, so that a bad report cuts nothing.
        report.check(&self.config.keyring)?;
        if report.report.bank == self.config.bank.id {
            return Err(SettlementError::Malformed("this bank's own report"));
        }
        let window = report.report.window;
        if window == self.windows.open() {
            // Another bank cut and reported it: the cut has passed (a marker, like the token).
            self.windows.cut_next(now);
        }
        let before = self.windows.last_closed();
        let reports = if may_report {
            self.report_ready(now)
        } else {
            Vec::new()
        };
        let accepted = if window <= self.windows.last_closed() {
            self.windows.accept(report, &self.config.keyring)
        } else if window > self.windows.cut() {
            Err(SettlementError::NotClosed(window))
        } else {
            // Not reported here yet (transfers of it still undecided): this bank sends its own
            // report when it is ready, and hears this one again as the answer.
            Err(SettlementError::Pending(window))
        };
        Ok(ReportTaken {
            accepted,
            newly_closed: self.windows.last_closed() > before,
            reports,
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

    /// See [`EngineHandle::window_visit`].
    fn window_visit(
        &mut self,
        token_window: u64,
        close: Close,
        may_report: bool,
        now: i64,
    ) -> Settled<Visited> {
        self.identity()?;
        let open = self.windows.open();
        let close = match close {
            Close::No => false,
            Close::Now => true,
            Close::UnlessCutSince(since) => self.windows.last_cut_ms() < since,
        };
        let cut = close || token_window > open;
        if cut {
            let open = self.windows.cut_next(now);
            tracing::info!(window = open - 1, "settlement window cut");
        }
        let reports = if may_report {
            self.report_ready(now)
        } else {
            Vec::new()
        };
        Ok(Visited {
            open: self.windows.open(),
            cut,
            reports,
        })
    }

    /// The window a plan naming `window` counts in here, when it is prepared: the plan's own, if
    /// not reported here yet and at most the one after the open window (which cuts the open
    /// one: the plan's coordinator saw the cut on the token); 0 (a coordinator of protocol
    /// version 11) counts in the open window.
    pub(super) fn plan_window(&mut self, window: u64, now: i64) -> Result<u64, Refusal> {
        let me = self.config.bank.id;
        let open = self.windows.open();
        match window {
            0 => Ok(open),
            w if w <= self.windows.last_closed() || w > open.saturating_add(1) => {
                tracing::warn!(
                    window = w,
                    open,
                    "a plan for a settlement window reported here or too far ahead; refused"
                );
                Err(Refusal::InvalidParts { bank: me })
            }
            w => {
                if w > open {
                    self.windows.cut_next(now);
                    tracing::info!(window = open, "settlement window cut (a plan of the next)");
                }
                Ok(w)
            }
        }
    }

    /// The window a decision of `tx` counts in: the one its plan named, or the open one if that
    /// was reported here already (a decision that arrives after a part was given up and the
    /// window reported without it: the pairwise comparison will show it).
    pub(super) fn counted_window(&self, tx: &TxId, window: u64) -> u64 {
        if window == 0 {
            return self.windows.open();
        }
        if window <= self.windows.last_closed() {
            tracing::error!(%tx, window, "a transfer decided after its settlement window was reported; counted in the open window");
            return self.windows.open();
        }
        window
    }

    /// Reports (signs) every window cut here whose transfers are all decided here, in order.
    fn report_ready(&mut self, now: i64) -> Vec<SignedReport> {
        let mut reports = Vec::new();
        let Some(key) = self.config.identity.clone() else {
            return reports;
        };
        loop {
            let next = self.windows.last_closed() + 1;
            if next > self.windows.cut() || self.window_tags.values().any(|w| *w <= next) {
                return reports;
            }
            let nets = self.ledger.take_window_nets(next);
            match self.windows.close(
                next,
                self.config.bank.id,
                &nets,
                self.config.keyring.members(),
                &key,
                now,
            ) {
                Ok(own) => {
                    tracing::info!(
                        window = next,
                        multilateral = own.report.multilateral.get(),
                        "settlement window closed"
                    );
                    reports.push(own.clone());
                }
                Err(e) => {
                    // Cannot happen: `next` follows the last and is cut. The nets go back.
                    tracing::error!(window = next, error = %e, "settlement window not closed");
                    for (peer, net) in nets {
                        self.ledger.restore_window_net(next, peer, net);
                    }
                    return reports;
                }
            }
        }
    }
}

/// The window of each transaction with parts prepared here, from the plans stored with them
/// (`open` for a plan of protocol version 11 or older, or none).
pub(super) fn window_tags(
    store: &Store,
    ledger: &Ledger,
    open: u64,
) -> Result<HashMap<TxId, u64>, rusqlite::Error> {
    let mut tags = HashMap::new();
    for tx in ledger.prepared_txs() {
        let (plan, _) = store.plan_and_proof(tx)?;
        let window = plan.map_or(0, |p| p.plan.window);
        tags.insert(tx.clone(), if window == 0 { open } else { window });
    }
    Ok(tags)
}

impl EngineHandle {
    /// A token visit, before its batch: the token says `token_window` is open; `close` asks to
    /// cut the open window here (an operator's request or the schedule, only while holding the
    /// token). At most one window is cut per visit: the token's, if it is ahead. Signs the reports now ready, if `may_report`:
    /// the caller has no round of its own still voting or being decided (a coordinator's legs
    /// between two other banks move its positions only when the decision is stored).
    pub async fn window_visit(
        &self,
        token_window: u64,
        close: Close,
        may_report: bool,
    ) -> EngineResult<Settled<Visited>> {
        self.request(WindowVisit {
            token_window,
            close,
            may_report,
        })
        .await
    }

    /// The windows cut and closed here: (last cut, last closed).
    pub async fn window_cut(&self) -> EngineResult<(u64, u64)> {
        self.request(WindowCut).await
    }

    /// Another bank's signed report: the window is cut here first if it is the open one, and
    /// this bank's own reports now ready are signed if `may_report` (see
    /// [`EngineHandle::window_visit`]). Refused ([`SettlementError::Pending`]) while this bank
    /// has not reported the window itself: it sends its own when ready, and hears this one as
    /// the answer.
    pub async fn accept_report(
        &self,
        report: SignedReport,
        may_report: bool,
    ) -> EngineResult<Settled<ReportTaken>> {
        self.request(AcceptReport { report, may_report }).await
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
