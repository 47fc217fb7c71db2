//! Settlement windows, a pure state machine: what each bank owes each other bank for the
//! transfers of a window, in reports every bank signs, compared pairwise; and the two signed
//! steps of paying a window (the debtor's "paid", the creditor's "received"). No clock, no I/O:
//! the engine thread owns it and persists what [`Windows::take_changes`] returns.
//!
//! # The cut, carried by the token ring
//! Windows are numbered for the whole consortium (1, 2, ...). Every signed plan names the window
//! it counts in (`Plan::window`): the window open at its coordinator, which learned it from the
//! token (`crate::ring::Token::window`). A bank *cuts* window `n` (its open window becomes
//! `n + 1`, [`Windows::cut_next`]) when, holding the token, it closes a window (an operator's
//! request or the schedule), or when it first sees `n + 1` on the token, on a plan or on another
//! bank's report for `n`. Only the holder starts plans, so once the token has left the bank that
//! cut, every plan anywhere is signed for `n + 1`: the plans of window `n` are exactly those
//! signed before that point in the token's order, the same set at every bank.
//!
//! A transfer counts in its plan's window on both sides *whenever it is decided there* (the
//! ledger keeps the nets per window, `Books::window_nets`), so phase two arriving late moves
//! nothing across the cut. A bank *reports* window `n` (signs its report, [`Windows::close`])
//! once it has cut it and decided every transfer of `n` or before it holds: until then its
//! report waits (a participant in doubt waits for its proof, or for the expiry of stuck parts).
//! Two honest banks' reports therefore agree; a disagreement means a bank lied or a decision
//! was given up on one side only (a part expired while its coordinator committed), and is
//! caught by the pairwise comparison as before.
//!
//! # Agreement and payment
//! Bank A's report agrees with bank B's about their pair when A's net with B is the exact
//! negation of B's net with A. Both keep both signed reports either way; a disagreement is
//! counted ([`Windows::disagreements`]) and shown to operators. Only an agreed pair's window can
//! be paid: the debtor signs [`Step::Paid`] (informative: the creditor's operator knows to look),
//! the creditor signs [`Step::Received`], and only that confirmation moves the books, at the
//! creditor when it signs and at the debtor when it receives it (`Ledger::settle_window`).

use crate::proof::{BankKey, Keyring, Sig};
use domain::{BankId, Cents};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The kind tag of a signed settlement report (see [`crate::proof::tagged`]).
pub const REPORT_TAG: &str = "consorcio-settlement-report/v1";
/// The kind tag of a signed payment step.
pub const PAYMENT_TAG: &str = "consorcio-settlement-payment/v1";
/// Windows kept in memory (the newest); older ones stay in the store, as evidence, and can no
/// longer be paid through the API.
pub const WINDOWS_KEPT: usize = 1_000;
/// The largest net a report may state with one bank: far above any position a limit allows,
/// and small enough that sums of them cannot overflow.
pub const NET_MAX: Cents = domain::money::MAX_BALANCE;

/// Why a settlement step was refused. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error("this bank has no signing key")]
    NoKey,
    #[error("window {0} is not closed at this bank")]
    NotClosed(u64),
    #[error("window {window} cannot be closed here: the last window closed is {last}")]
    NotNext { window: u64, last: u64 },
    #[error("window {0} is not cut here yet: it is still the open window")]
    NotCut(u64),
    #[error("window {0} is cut here but not every transfer of it is decided yet; this bank sends its report when it is")]
    Pending(u64),
    #[error("window {0} is no longer kept")]
    Forgotten(u64),
    #[error("the report is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("bank {0} already sent another report for this window")]
    ReportAgain(BankId),
    #[error("no report from bank {0} for this window yet")]
    NoReport(BankId),
    #[error("the reports of this bank and bank {0} disagree for this window")]
    Disagree(BankId),
    #[error("nothing is owed between this bank and bank {0} in this window")]
    NothingOwed(BankId),
    #[error("this bank is not the {0} of this pair in this window")]
    WrongSide(&'static str),
    #[error("a position would overflow")]
    Overflow,
}

/// A bank's net with one member for a window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNet {
    pub peer: BankId,
    /// From the transfers of the window (their plans name it): positive when the peer owes the
    /// reporting bank.
    pub net: Cents,
    /// The nets of every window reported so far, this one included (informative: it shows
    /// whether two banks that disagree on a window agree on the sum so far).
    pub through: Cents,
}

/// What a bank says it is owed and owes for a window, from its own books.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementReport {
    pub window: u64,
    pub bank: BankId,
    pub closed_ms: i64,
    /// One per member other than the reporting bank, in ascending order of bank.
    pub peers: Vec<PeerNet>,
    /// The sum of the positive nets: what the other members owe this bank.
    pub owed_to_bank: Cents,
    /// The sum of the negative nets, as a positive amount: what this bank owes them.
    pub owed_by_bank: Cents,
    /// `owed_to_bank - owed_by_bank`: what this bank would receive (positive) or pay under
    /// multilateral netting.
    pub multilateral: Cents,
}

impl SettlementReport {
    /// The bytes signed: the report's JSON (fields in declared order, peers sorted).
    fn message(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a report serialises")
    }

    /// The reporting bank's net with `peer` (zero when it lists none).
    pub fn net_with(&self, peer: BankId) -> Cents {
        self.peers
            .iter()
            .find(|p| p.peer == peer)
            .map_or(Cents::ZERO, |p| p.net)
    }

    pub fn sign(self, key: &BankKey) -> SignedReport {
        let sig = key.sign_statement(REPORT_TAG, &self.message());
        SignedReport { report: self, sig }
    }

    /// Whether the report is well formed: members only, itself not among its peers, sorted and
    /// distinct, every net bounded, and totals that are its nets' sums.
    fn check_shape(&self, keys: &Keyring) -> Result<(), SettlementError> {
        use SettlementError::Malformed;
        if self.window == 0 {
            return Err(Malformed("window 0"));
        }
        if !keys.contains(self.bank) {
            return Err(Malformed("the reporting bank is no member"));
        }
        if self.peers.windows(2).any(|w| w[0].peer >= w[1].peer) {
            return Err(Malformed("peers not in ascending order or repeated"));
        }
        let (mut to, mut by) = (0i64, 0i64);
        for p in &self.peers {
            if p.peer == self.bank || !keys.contains(p.peer) {
                return Err(Malformed("a peer is the reporting bank or no member"));
            }
            if p.net.get().abs() > NET_MAX.get() || p.through.get().abs() > NET_MAX.get() {
                return Err(Malformed("a net beyond any position"));
            }
            // Cannot overflow: at most 99 members, each bounded far below i64::MAX / 99.
            if p.net.get() > 0 {
                to += p.net.get();
            } else {
                by -= p.net.get();
            }
        }
        if self.owed_to_bank.get() != to
            || self.owed_by_bank.get() != by
            || self.multilateral.get() != to - by
        {
            return Err(Malformed("totals are not the sums of the nets"));
        }
        Ok(())
    }
}

/// A report with its bank's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReport {
    pub report: SettlementReport,
    pub sig: Sig,
}

impl SignedReport {
    /// Whether it is well formed and signed by the bank it names.
    pub fn check(&self, keys: &Keyring) -> Result<(), SettlementError> {
        self.report.check_shape(keys)?;
        if !keys.verify(
            self.report.bank,
            REPORT_TAG,
            &self.report.message(),
            &self.sig,
        ) {
            return Err(SettlementError::BadSignature);
        }
        Ok(())
    }
}

/// The two steps of paying a pair's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// The debtor says it paid (signed by the debtor).
    Paid,
    /// The creditor confirms it received (signed by the creditor): this alone moves the books.
    Received,
}

/// One step of paying a window between two banks: `debtor` pays `creditor` `amount`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub window: u64,
    pub debtor: BankId,
    pub creditor: BankId,
    pub amount: Cents,
    pub step: Step,
}

impl Payment {
    fn message(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a payment serialises")
    }

    /// Who must sign this step.
    pub fn signer(&self) -> BankId {
        match self.step {
            Step::Paid => self.debtor,
            Step::Received => self.creditor,
        }
    }
}

/// A payment step with its signer's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPayment {
    pub payment: Payment,
    pub sig: Sig,
}

impl SignedPayment {
    pub fn check(&self, keys: &Keyring) -> Result<(), SettlementError> {
        let p = &self.payment;
        if p.debtor == p.creditor || p.amount.get() <= 0 || p.amount > NET_MAX {
            return Err(SettlementError::Malformed(
                "not a payment between two banks",
            ));
        }
        if !keys.verify(p.signer(), PAYMENT_TAG, &p.message(), &self.sig) {
            return Err(SettlementError::BadSignature);
        }
        Ok(())
    }
}

/// Where a pair stands in a window, from this bank's side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pair {
    /// No report from the peer yet.
    Waiting,
    /// Both reports say the same; `net` is this bank's (positive: the peer owes this bank).
    Agreed { net: Cents },
    /// The reports differ: this bank's net with the peer, and the negation of the peer's.
    Disagreed { ours: Cents, theirs: Cents },
}

/// One window as this bank closed it: its own signed report, the other banks' signed reports,
/// and the signed payment steps. All of it is evidence as it stands; none of it is secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub own: SignedReport,
    /// The other members' reports, at most one per bank (the first one received).
    pub reports: Vec<SignedReport>,
    /// Payment steps, at most one of each step per pair.
    pub payments: Vec<SignedPayment>,
    /// A second, different report a bank signed for this window (at most one kept per bank):
    /// with the first, proof that it said two things.
    #[serde(default)]
    pub contradicting: Vec<SignedReport>,
}

impl Window {
    pub fn number(&self) -> u64 {
        self.own.report.window
    }

    fn report_of(&self, bank: BankId) -> Option<&SignedReport> {
        self.reports.iter().find(|r| r.report.bank == bank)
    }

    /// Where this bank and `peer` stand in this window.
    pub fn pair(&self, peer: BankId) -> Pair {
        let me = self.own.report.bank;
        let Some(theirs) = self.report_of(peer) else {
            return Pair::Waiting;
        };
        let ours = self.own.report.net_with(peer);
        let theirs = Cents::new(-theirs.report.net_with(me).get());
        if ours == theirs {
            Pair::Agreed { net: ours }
        } else {
            Pair::Disagreed { ours, theirs }
        }
    }

    /// The step `step` of paying between `debtor` and `creditor`, if signed.
    pub fn payment(&self, step: Step, debtor: BankId, creditor: BankId) -> Option<&SignedPayment> {
        self.payments.iter().find(|p| {
            p.payment.step == step && p.payment.debtor == debtor && p.payment.creditor == creditor
        })
    }

    /// Pairs whose reports disagree, and reports that contradict their bank's first.
    pub fn disagreements(&self) -> usize {
        self.reports
            .iter()
            .filter(|r| matches!(self.pair(r.report.bank), Pair::Disagreed { .. }))
            .count()
            + self.contradicting.len()
    }
}

/// Every window this bank closed (the newest [`WINDOWS_KEPT`]), and what changed since the last
/// [`Windows::take_changes`].
#[derive(Debug, Default)]
pub struct Windows {
    windows: BTreeMap<u64, Window>,
    /// The last window closed (reported) here (0: none).
    last: u64,
    /// The last window cut here (at least `last`): plans are signed for the next one.
    cut: u64,
    cut_changed: bool,
    /// When this bank last cut a window, by its clock, since it started (0: not since).
    cut_ms: i64,
    disagreements: u64,
    changed: BTreeSet<u64>,
}

/// What a received report did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// This bank's own report for the window (the answer to its sender).
    pub own: SignedReport,
    pub pair: Pair,
}

impl Windows {
    /// From the stored windows and the last window cut.
    pub fn restore(stored: Vec<Window>, cut: u64) -> Windows {
        let mut windows = Windows::default();
        for w in stored {
            windows.last = windows.last.max(w.number());
            windows.disagreements += w.disagreements() as u64;
            windows.windows.insert(w.number(), w);
        }
        windows.cut = cut.max(windows.last);
        windows.trim();
        windows
    }

    /// The last window closed (reported) here (0: none yet).
    pub fn last_closed(&self) -> u64 {
        self.last
    }

    /// The last window cut here (0: none yet); windows after [`Windows::last_closed`] up to
    /// it wait for their report.
    pub fn cut(&self) -> u64 {
        self.cut
    }

    /// The open window: the one plans signed now count in.
    pub fn open(&self) -> u64 {
        self.cut.saturating_add(1)
    }

    /// Cuts the open window at `now_ms`: new plans count in the next. Returns the new open
    /// window.
    pub fn cut_next(&mut self, now_ms: i64) -> u64 {
        self.cut = self.open();
        self.cut_changed = true;
        self.cut_ms = now_ms;
        self.open()
    }

    /// When this bank last cut a window since it started (0: not since).
    pub fn last_cut_ms(&self) -> i64 {
        self.cut_ms
    }

    /// The last window cut, if it moved since the last call (for the store).
    pub fn take_cut_change(&mut self) -> Option<u64> {
        std::mem::take(&mut self.cut_changed).then_some(self.cut)
    }

    /// Pairs whose reports disagreed, in every window kept or stored at start.
    pub fn disagreements(&self) -> u64 {
        self.disagreements
    }

    pub fn get(&self, window: u64) -> Option<&Window> {
        self.windows.get(&window)
    }

    /// The windows kept, newest first.
    pub fn newest(&self) -> impl Iterator<Item = &Window> {
        self.windows.values().rev()
    }

    /// The oldest window in which `debtor` owes this bank an agreed net that this bank has not
    /// confirmed received, closed here at least `deadline_ms` before `now_ms`. Windows close in
    /// order of time, so the walk stops at the first one still within its deadline.
    pub fn overdue(&self, debtor: BankId, deadline_ms: i64, now_ms: i64) -> Option<u64> {
        let me = self.windows.values().next()?.own.report.bank;
        self.windows
            .values()
            .take_while(|w| w.own.report.closed_ms.saturating_add(deadline_ms) <= now_ms)
            .find(|w| {
                matches!(w.pair(debtor), Pair::Agreed { net } if net.get() > 0)
                    && w.payment(Step::Received, debtor, me).is_none()
            })
            .map(Window::number)
    }

    /// The windows changed since the last call, for the store.
    pub fn take_changes(&mut self) -> Vec<Window> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .filter_map(|n| self.windows.get(&n).cloned())
            .collect()
    }

    /// Closes (reports) window `window` at this bank: its own report from `nets`, what the
    /// transfers of the window committed with each peer (positive: the peer owes this bank),
    /// signed. The window must be cut here and follow the last one closed; closing the last
    /// window closed again answers its report as it was. `members` are the consortium's banks.
    pub fn close(
        &mut self,
        window: u64,
        me: BankId,
        nets: &BTreeMap<BankId, i64>,
        members: impl Iterator<Item = BankId>,
        key: &BankKey,
        now_ms: i64,
    ) -> Result<&SignedReport, SettlementError> {
        if window <= self.last && window > 0 {
            return self
                .windows
                .get(&window)
                .map(|w| &w.own)
                .ok_or(SettlementError::Forgotten(window));
        }
        if window != self.last + 1 {
            return Err(SettlementError::NotNext {
                window,
                last: self.last,
            });
        }
        if window > self.cut {
            return Err(SettlementError::NotCut(window));
        }
        let previous = self.windows.get(&self.last).map(|w| &w.own.report);
        let peers: BTreeSet<BankId> = members
            .chain(nets.keys().copied())
            .filter(|b| *b != me)
            .collect();
        let mut reported = Vec::with_capacity(peers.len());
        let (mut to, mut by) = (0i64, 0i64);
        for peer in peers {
            let net = nets.get(&peer).copied().unwrap_or(0);
            let before = previous
                .and_then(|r| r.peers.iter().find(|p| p.peer == peer))
                .map_or(0, |p| p.through.get());
            let through = before.checked_add(net).ok_or(SettlementError::Overflow)?;
            if net > 0 {
                to = to.checked_add(net).ok_or(SettlementError::Overflow)?;
            } else {
                by = by.checked_sub(net).ok_or(SettlementError::Overflow)?;
            }
            reported.push(PeerNet {
                peer,
                net: Cents::new(net),
                through: Cents::new(through),
            });
        }
        let report = SettlementReport {
            window,
            bank: me,
            closed_ms: now_ms,
            peers: reported,
            owed_to_bank: Cents::new(to),
            owed_by_bank: Cents::new(by),
            multilateral: Cents::new(to - by),
        };
        let own = report.sign(key);
        self.last = window;
        self.windows.insert(
            window,
            Window {
                own,
                reports: Vec::new(),
                payments: Vec::new(),
                contradicting: Vec::new(),
            },
        );
        self.changed.insert(window);
        self.trim();
        Ok(&self.windows[&window].own)
    }

    /// Keeps another bank's signed report for a window closed here, and compares it with this
    /// bank's. The same report again changes nothing; another one from the same bank for the
    /// same window is refused (the first stands; the second is kept beside it as evidence and
    /// counted).
    pub fn accept(
        &mut self,
        report: SignedReport,
        keys: &Keyring,
    ) -> Result<Accepted, SettlementError> {
        report.check(keys)?;
        let (number, from) = (report.report.window, report.report.bank);
        let window = self
            .windows
            .get_mut(&number)
            .ok_or(if number <= self.last {
                SettlementError::Forgotten(number)
            } else {
                SettlementError::NotClosed(number)
            })?;
        if from == window.own.report.bank {
            return Err(SettlementError::Malformed("this bank's own report"));
        }
        match window.report_of(from) {
            Some(kept) if *kept == report => {}
            Some(_) => {
                if !window.contradicting.iter().any(|r| r.report.bank == from) {
                    window.contradicting.push(report);
                    self.disagreements += 1;
                    self.changed.insert(number);
                    tracing::error!(window = number, bank = %from,
                        "a bank signed two different settlement reports for one window; both kept");
                }
                return Err(SettlementError::ReportAgain(from));
            }
            None => {
                window.reports.push(report);
                window.reports.sort_by_key(|r| r.report.bank);
                self.changed.insert(number);
                if let Pair::Disagreed { ours, theirs } = window.pair(from) {
                    self.disagreements += 1;
                    tracing::error!(window = number, bank = %from, ours = ours.get(), theirs = theirs.get(),
                        "settlement reports disagree; both kept as evidence");
                }
            }
        }
        Ok(Accepted {
            own: window.own.clone(),
            pair: window.pair(from),
        })
    }

    /// The agreed amount `debtor` owes `creditor` in `window`, one of them being this bank.
    fn agreed(
        &self,
        number: u64,
        peer: BankId,
    ) -> Result<(&Window, BankId, BankId, Cents), SettlementError> {
        let window = self.window(number)?;
        let me = window.own.report.bank;
        match window.pair(peer) {
            Pair::Waiting => Err(SettlementError::NoReport(peer)),
            Pair::Disagreed { .. } => Err(SettlementError::Disagree(peer)),
            Pair::Agreed { net } if net.get() > 0 => Ok((window, peer, me, net)),
            Pair::Agreed { net } if net.get() < 0 => Ok((window, me, peer, Cents::new(-net.get()))),
            Pair::Agreed { .. } => Err(SettlementError::NothingOwed(peer)),
        }
    }

    fn window(&self, number: u64) -> Result<&Window, SettlementError> {
        self.windows
            .get(&number)
            .ok_or(if number <= self.last && number > 0 {
                SettlementError::Forgotten(number)
            } else {
                SettlementError::NotClosed(number)
            })
    }

    /// This bank, debtor of `creditor` in `window`, says it paid: its signed step (the one
    /// signed before, if any).
    pub fn mark_paid(
        &mut self,
        number: u64,
        creditor: BankId,
        key: &BankKey,
    ) -> Result<SignedPayment, SettlementError> {
        let (window, debtor, to, amount) = self.agreed(number, creditor)?;
        if to != creditor {
            return Err(SettlementError::WrongSide("debtor"));
        }
        if let Some(done) = window.payment(Step::Paid, debtor, creditor) {
            return Ok(done.clone());
        }
        let signed = sign_payment(number, debtor, creditor, amount, Step::Paid, key);
        self.record(number, signed.clone());
        Ok(signed)
    }

    /// This bank, creditor of `debtor` in `window`, confirms it received the money: its signed
    /// step, and the amount to settle on its books if this is the first confirmation (`None`:
    /// confirmed before, already on the books).
    pub fn confirm(
        &mut self,
        number: u64,
        debtor: BankId,
        key: &BankKey,
    ) -> Result<(SignedPayment, Option<Cents>), SettlementError> {
        let (window, from, creditor, amount) = self.agreed(number, debtor)?;
        if from != debtor {
            return Err(SettlementError::WrongSide("creditor"));
        }
        if let Some(done) = window.payment(Step::Received, debtor, creditor) {
            return Ok((done.clone(), None));
        }
        let signed = sign_payment(number, debtor, creditor, amount, Step::Received, key);
        self.record(number, signed.clone());
        Ok((signed, Some(amount)))
    }

    /// Another bank's signed step about a pair this bank is in: kept if it matches what both
    /// reports agreed. For a creditor's confirmation to this bank (the debtor), the amount to
    /// settle on its books the first time (`None`: a "paid" notice, or seen before).
    pub fn receive_payment(
        &mut self,
        signed: SignedPayment,
        keys: &Keyring,
    ) -> Result<Option<Cents>, SettlementError> {
        signed.check(keys)?;
        let p = &signed.payment;
        let window = self.window(p.window)?;
        let me = window.own.report.bank;
        let (peer, my_side) = match p.step {
            Step::Paid => (p.debtor, p.creditor),
            Step::Received => (p.creditor, p.debtor),
        };
        if my_side != me {
            return Err(SettlementError::WrongSide(match p.step {
                Step::Paid => "creditor",
                Step::Received => "debtor",
            }));
        }
        let (_, debtor, creditor, amount) = self.agreed(p.window, peer)?;
        if (debtor, creditor, amount) != (p.debtor, p.creditor, p.amount) {
            return Err(SettlementError::Malformed(
                "not the amount both reports agreed",
            ));
        }
        let window = self.window(p.window)?;
        if window.payment(p.step, debtor, creditor).is_some() {
            return Ok(None);
        }
        let step = p.step;
        self.record(signed.payment.window, signed);
        Ok((step == Step::Received).then_some(amount))
    }

    fn record(&mut self, number: u64, signed: SignedPayment) {
        let window = self
            .windows
            .get_mut(&number)
            .expect("checked by the caller");
        window.payments.push(signed);
        self.changed.insert(number);
    }

    fn trim(&mut self) {
        while self.windows.len() > WINDOWS_KEPT {
            self.windows.pop_first();
        }
    }
}

fn sign_payment(
    window: u64,
    debtor: BankId,
    creditor: BankId,
    amount: Cents,
    step: Step,
    key: &BankKey,
) -> SignedPayment {
    let payment = Payment {
        window,
        debtor,
        creditor,
        amount,
        step,
    };
    let sig = key.sign_statement(PAYMENT_TAG, &payment.message());
    SignedPayment { payment, sig }
}

#[cfg(test)]
mod tests;
