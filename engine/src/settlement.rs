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
//!
//! # Multilateral netting
//! A window may instead be paid by netting: each net debtor pays only its multilateral net,
//! each net creditor receives only its own. Once a bank holds every member's report and every
//! pair of members agrees, every bank computes the same plan from the signed reports
//! ([`netting_plan`]: legs from net debtors to net creditors, greedily by ascending bank). A leg
//! is paid with the same two signed steps, marked [`Payment::netting`]; every netting step goes
//! to every member, each of which keeps it if it is a leg of the plan. When a bank holds the
//! creditors' confirmations of *every* leg, it moves each of its pairs by that pair's agreed
//! net, in one step: each pair is paid down exactly as if it had been paid bilaterally, so the
//! consortium's sum of positions and settled windows stays zero. A bank signs steps of one way
//! only per window, the way of the first step it held (its own or another bank's): after a
//! netting step it signs no bilateral one, and the other way round
//! ([`SettlementError::OtherWay`]). Another bank's steps of either way are still kept and
//! move the books, each pair at most once per window here (a pair confirmed bilaterally is not
//! moved again when the netting completes), so that two banks that chose differently at the
//! same moment still end up with the same amounts on both sides of every pair.

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
    #[error("window {window} is paid by {way} here: this bank signs no step of the other way")]
    OtherWay { window: u64, way: &'static str },
    #[error("no multilateral netting plan for this window: {0}")]
    NoPlan(&'static str),
    #[error("not a leg of the window's netting plan")]
    NotALeg,
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
            // Cannot overflow: at most `BankId::MAX` (200) members, each net at most NET_MAX
            // (10^15), far below i64::MAX / 200.
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
    /// A leg of the window's multilateral netting plan (see the module's doc) rather than the
    /// pair's bilateral net. Left out of the signed bytes when false, so a bilateral step signs
    /// the same bytes as before netting existed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub netting: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
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

    /// The bilateral step `step` of paying between `debtor` and `creditor`, if signed.
    pub fn payment(&self, step: Step, debtor: BankId, creditor: BankId) -> Option<&SignedPayment> {
        self.step(step, debtor, creditor, false)
    }

    /// The step `step` of the netting leg from `debtor` to `creditor`, if signed.
    pub fn leg_step(&self, step: Step, debtor: BankId, creditor: BankId) -> Option<&SignedPayment> {
        self.step(step, debtor, creditor, true)
    }

    fn step(
        &self,
        step: Step,
        debtor: BankId,
        creditor: BankId,
        netting: bool,
    ) -> Option<&SignedPayment> {
        self.payments.iter().find(|p| {
            p.payment.step == step
                && p.payment.debtor == debtor
                && p.payment.creditor == creditor
                && p.payment.netting == netting
        })
    }

    /// Whether the window is paid by netting here: the first payment step this bank held for
    /// it (its own or another bank's) is a netting step. This bank then signs no bilateral step.
    pub fn netted(&self) -> bool {
        self.payments.first().is_some_and(|p| p.payment.netting)
    }

    /// Whether the window is paid pair by pair here: the first payment step held is bilateral.
    /// This bank then signs no netting step.
    pub fn bilateral(&self) -> bool {
        self.payments.first().is_some_and(|p| !p.payment.netting)
    }

    /// The window's multilateral netting plan, from every member's signed report (see
    /// [`netting_plan`]). Every bank that holds the same reports computes the same plan.
    pub fn plan(&self) -> Result<Vec<Leg>, SettlementError> {
        let mut reports: Vec<&SettlementReport> = self.reports.iter().map(|r| &r.report).collect();
        reports.push(&self.own.report);
        reports.sort_by_key(|r| r.bank);
        for p in &self.own.report.peers {
            if self.report_of(p.peer).is_none() {
                return Err(SettlementError::NoReport(p.peer));
            }
        }
        netting_plan(&reports)
    }

    /// Whether the creditors' confirmations of every leg of the plan are held here: the window
    /// is paid by netting, and this bank's pairs moved (those not confirmed bilaterally before).
    ///
    /// Every netting confirmation held was checked against the plan when it was kept (one per
    /// leg), and the plan's legs sum to the positive multilateral nets: so the confirmations'
    /// sum tells, without computing the plan again (this runs at every credit's limit check).
    pub fn netting_settled(&self) -> bool {
        let due: i64 = std::iter::once(&self.own)
            .chain(&self.reports)
            .map(|r| r.report.multilateral.get().max(0))
            .sum();
        due > 0 && self.confirmed_legs(|_| true) == due
    }

    /// The sum of the netting legs confirmed here whose debtor satisfies `of`.
    fn confirmed_legs(&self, of: impl Fn(BankId) -> bool) -> i64 {
        self.payments
            .iter()
            .map(|p| &p.payment)
            .filter(|p| p.netting && p.step == Step::Received && of(p.debtor))
            .map(|p| p.amount.get())
            .sum()
    }

    /// Whether the pair of this bank and `peer` moved on this bank's books for this window: its
    /// creditor's bilateral confirmation is held, or the window's netting is settled here.
    pub fn pair_settled(&self, peer: BankId) -> bool {
        let me = self.own.report.bank;
        self.payment(Step::Received, peer, me).is_some()
            || self.payment(Step::Received, me, peer).is_some()
            || self.netting_settled()
    }

    /// Whether `debtor` is behind in paying this window (the deadline aside): in a window paid
    /// by netting here, it has a leg whose creditor has not confirmed it, and the netting is not
    /// settled; otherwise, it owes this bank an agreed net not confirmed received.
    pub fn behind(&self, debtor: BankId) -> bool {
        if self.netted() {
            let owes = self
                .report_of(debtor)
                .map_or(0, |r| -r.report.multilateral.get());
            return !self.netting_settled()
                && owes > 0
                && self.confirmed_legs(|d| d == debtor) < owes;
        }
        matches!(self.pair(debtor), Pair::Agreed { net } if net.get() > 0)
            && !self.pair_settled(debtor)
    }

    /// The positions to move here when the netting settles: each pair not confirmed bilaterally
    /// before, by its agreed net (positive: the peer paid this bank).
    fn netting_moves(&self) -> Vec<(BankId, Cents)> {
        let me = self.own.report.bank;
        self.own
            .report
            .peers
            .iter()
            .filter(|p| p.net.get() != 0)
            .filter(|p| {
                self.payment(Step::Received, p.peer, me).is_none()
                    && self.payment(Step::Received, me, p.peer).is_none()
            })
            .map(|p| (p.peer, p.net))
            .collect()
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
    ///
    /// In a window paid by netting here, a debtor is overdue while a leg it pays is not
    /// confirmed by its creditor (at every member: a net debtor that has not paid its net is
    /// stopped across the consortium), until the netting settles.
    pub fn overdue(&self, debtor: BankId, deadline_ms: i64, now_ms: i64) -> Option<u64> {
        self.windows
            .values()
            .take_while(|w| w.own.report.closed_ms.saturating_add(deadline_ms) <= now_ms)
            .find(|w| w.behind(debtor))
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
        if window.netted() {
            return Err(SettlementError::OtherWay {
                window: number,
                way: "netting",
            });
        }
        if let Some(done) = window.payment(Step::Paid, debtor, creditor) {
            return Ok(done.clone());
        }
        let signed = sign_payment(number, debtor, creditor, amount, Step::Paid, false, key);
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
        if window.netted() {
            return Err(SettlementError::OtherWay {
                window: number,
                way: "netting",
            });
        }
        if let Some(done) = window.payment(Step::Received, debtor, creditor) {
            return Ok((done.clone(), None));
        }
        let signed = sign_payment(number, debtor, creditor, amount, Step::Received, false, key);
        self.record(number, signed.clone());
        Ok((signed, Some(amount)))
    }

    /// Another bank's signed step: kept if it matches what the reports agreed, and the
    /// positions to move on this bank's books the first time (each peer with this bank's side of
    /// the amount: positive when the peer paid this bank; empty: nothing moves).
    ///
    /// A bilateral step must be about a pair this bank is in, for exactly the net both reports
    /// agreed; the creditor's confirmation moves that pair here (unless the window's netting
    /// settled here first). A netting step may come to any member but its signer, and must be a
    /// leg of the window's plan; the confirmation that completes the plan here moves every pair
    /// of this bank ([`Window::netting_settled`]). Steps of either way are kept whatever way
    /// this bank chose: only what this bank signs is bound by its choice.
    pub fn receive_payment(
        &mut self,
        signed: SignedPayment,
        keys: &Keyring,
    ) -> Result<Vec<(BankId, Cents)>, SettlementError> {
        signed.check(keys)?;
        if signed.payment.netting {
            return self.receive_leg(signed);
        }
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
        let (window, debtor, creditor, amount) = self.agreed(p.window, peer)?;
        if (debtor, creditor, amount) != (p.debtor, p.creditor, p.amount) {
            return Err(SettlementError::Malformed(
                "not the amount both reports agreed",
            ));
        }
        if window.payment(p.step, debtor, creditor).is_some() {
            return Ok(Vec::new());
        }
        let moves = if p.step == Step::Received && !window.netting_settled() {
            vec![(creditor, Cents::new(-amount.get()))]
        } else {
            Vec::new()
        };
        self.record(signed.payment.window, signed);
        Ok(moves)
    }

    fn receive_leg(
        &mut self,
        signed: SignedPayment,
    ) -> Result<Vec<(BankId, Cents)>, SettlementError> {
        let p = &signed.payment;
        let window = self.window(p.window)?;
        if p.signer() == window.own.report.bank {
            return Err(SettlementError::Malformed("this bank's own step"));
        }
        let leg = Leg {
            debtor: p.debtor,
            creditor: p.creditor,
            amount: p.amount,
        };
        if !window.plan()?.contains(&leg) {
            return Err(SettlementError::NotALeg);
        }
        if window.leg_step(p.step, p.debtor, p.creditor).is_some() {
            return Ok(Vec::new());
        }
        Ok(self.record_leg(signed))
    }

    /// Records a netting step checked against the plan, and the moves if it settled the netting.
    fn record_leg(&mut self, signed: SignedPayment) -> Vec<(BankId, Cents)> {
        let number = signed.payment.window;
        // Only the step that settles it moves anything: a "paid" arriving after the last
        // confirmation moves nothing again.
        let before = self.windows[&number].netting_settled();
        self.record(number, signed);
        let window = &self.windows[&number];
        if !before && window.netting_settled() {
            tracing::info!(
                window = number,
                "every leg of the window's netting confirmed: its positions move"
            );
            window.netting_moves()
        } else {
            Vec::new()
        }
    }

    /// This bank's leg of the window's netting plan with `other` (this bank paying when `pays`),
    /// refused if the window is paid bilaterally here.
    fn my_leg(&self, number: u64, other: BankId, pays: bool) -> Result<Leg, SettlementError> {
        let window = self.window(number)?;
        let me = window.own.report.bank;
        let plan = window.plan()?;
        let (debtor, creditor) = if pays { (me, other) } else { (other, me) };
        let leg = plan
            .into_iter()
            .find(|l| l.debtor == debtor && l.creditor == creditor)
            .ok_or(SettlementError::NotALeg)?;
        if window.bilateral() {
            return Err(SettlementError::OtherWay {
                window: number,
                way: "bilateral steps",
            });
        }
        Ok(leg)
    }

    /// This bank, debtor of a leg of the window's netting plan to `creditor`, says it paid it:
    /// its signed step (the one signed before, if any), for every member.
    pub fn pay_leg(
        &mut self,
        number: u64,
        creditor: BankId,
        key: &BankKey,
    ) -> Result<SignedPayment, SettlementError> {
        let leg = self.my_leg(number, creditor, true)?;
        if let Some(done) = self.windows[&number].leg_step(Step::Paid, leg.debtor, leg.creditor) {
            return Ok(done.clone());
        }
        let signed = sign_payment(
            number,
            leg.debtor,
            leg.creditor,
            leg.amount,
            Step::Paid,
            true,
            key,
        );
        self.record(number, signed.clone());
        Ok(signed)
    }

    /// This bank, creditor of a leg of the window's netting plan from `debtor`, confirms it
    /// received it: its signed step, for every member, and the positions to move here if it
    /// was the last leg confirmed (see [`Windows::receive_payment`]).
    pub fn confirm_leg(
        &mut self,
        number: u64,
        debtor: BankId,
        key: &BankKey,
    ) -> Result<(SignedPayment, Vec<(BankId, Cents)>), SettlementError> {
        let leg = self.my_leg(number, debtor, false)?;
        if let Some(done) = self.windows[&number].leg_step(Step::Received, leg.debtor, leg.creditor)
        {
            return Ok((done.clone(), Vec::new()));
        }
        let signed = sign_payment(
            number,
            leg.debtor,
            leg.creditor,
            leg.amount,
            Step::Received,
            true,
            key,
        );
        let moves = self.record_leg(signed.clone());
        Ok((signed, moves))
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
    netting: bool,
    key: &BankKey,
) -> SignedPayment {
    let payment = Payment {
        window,
        debtor,
        creditor,
        amount,
        step,
        netting,
    };
    let sig = key.sign_statement(PAYMENT_TAG, &payment.message());
    SignedPayment { payment, sig }
}

/// One leg of a window's multilateral netting plan: `debtor` pays `creditor` `amount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    pub debtor: BankId,
    pub creditor: BankId,
    pub amount: Cents,
}

/// The multilateral netting plan of a window from every member's report (one per bank, any
/// order): refused unless every two reports agree about their pair. Net debtors (negative
/// multilateral) and net creditors (positive) are each taken in ascending order of bank; the
/// first debtor pays the first creditor as much as either still has to pay or receive, and so
/// on. Deterministic, at most (debtors + creditors - 1) legs, and each bank pays or receives in
/// all exactly its multilateral net. Empty when every multilateral net is zero.
pub fn netting_plan(reports: &[&SettlementReport]) -> Result<Vec<Leg>, SettlementError> {
    let mut sorted: Vec<&SettlementReport> = reports.to_vec();
    sorted.sort_by_key(|r| r.bank);
    if sorted.windows(2).any(|w| w[0].bank == w[1].bank) {
        return Err(SettlementError::NoPlan("two reports of one bank"));
    }
    if sorted.windows(2).any(|w| w[0].window != w[1].window) {
        return Err(SettlementError::NoPlan("reports of different windows"));
    }
    for (i, a) in sorted.iter().enumerate() {
        for b in &sorted[i + 1..] {
            if a.net_with(b.bank).get() != -b.net_with(a.bank).get() {
                return Err(SettlementError::NoPlan("two members' reports disagree"));
            }
        }
    }
    // With every pair agreed, the multilateral nets sum to zero (each pair's two nets cancel).
    let mut debtors: Vec<(BankId, i64)> = sorted
        .iter()
        .filter(|r| r.multilateral.get() < 0)
        .map(|r| (r.bank, -r.multilateral.get()))
        .collect();
    let mut creditors: Vec<(BankId, i64)> = sorted
        .iter()
        .filter(|r| r.multilateral.get() > 0)
        .map(|r| (r.bank, r.multilateral.get()))
        .collect();
    if debtors.iter().map(|d| d.1).sum::<i64>() != creditors.iter().map(|c| c.1).sum::<i64>() {
        return Err(SettlementError::NoPlan(
            "the multilateral nets do not sum to zero",
        ));
    }
    let mut legs = Vec::new();
    let (mut d, mut c) = (0, 0);
    while d < debtors.len() && c < creditors.len() {
        let amount = debtors[d].1.min(creditors[c].1);
        legs.push(Leg {
            debtor: debtors[d].0,
            creditor: creditors[c].0,
            amount: Cents::new(amount),
        });
        debtors[d].1 -= amount;
        creditors[c].1 -= amount;
        if debtors[d].1 == 0 {
            d += 1;
        }
        if creditors[c].1 == 0 {
            c += 1;
        }
    }
    Ok(legs)
}

#[cfg(test)]
mod tests;
