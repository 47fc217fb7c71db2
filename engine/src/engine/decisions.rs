//! Phase two and the coordinator's log (issue 24: decisions that carry proof).
//!
//! - As a participant, a bank applies a decision only with its proof ([`Proof`]): every
//!   participant's signed yes for the plan it prepared (commit), or a participant's signed no for
//!   that plan (abort). Whoever delivers it, the coordinator or another participant in
//!   cooperative termination, the proof is what counts. A decision that contradicts one already
//!   applied is kept as evidence of equivocation.
//! - As a coordinator, a bank stores each decision with its proof before anyone hears it: it adds
//!   its own signed ballot last (yes only if every other participant said yes, it is still
//!   within the plan's deadline and no payer bank passes its limit here; no otherwise). The
//!   first decision stored for an id is final.
//! - A participant in doubt asks the coordinator, which answers with the proof, or for a plan it
//!   signed and never committed, with its signed no (presumed abort); then the other
//!   participants. Past the plan's deadline and a grace, a participant with no proof at all
//!   aborts its part on its own: no reservation is pinned for ever.

use super::{store_error, EngineError, EngineResult, State};
use crate::store::{PartState, Participation, ProtocolChange, StoredDecision};
use crate::twopc::proof::{Ballot, Proof, SignedBallot, SignedPlan};
use crate::twopc::{DecideItem, Decision, Logged, Question, Resolution, Termination, Vote};
use domain::dto::{LegOutcome, PacketOutcome, TxStatus};
use domain::{BankId, Cents, Refusal, TxId};
use std::collections::BTreeMap;

/// Plans this bank learnt were aborted before it ever prepared them, kept (in memory, until
/// their deadline: a plan past it is refused anyway) so that a late prepare is refused.
pub const REFUSED_PLANS_MAX: usize = 100_000;

impl State {
    /// Signs `ballot` with this bank's key (a bank alone signs nothing, and needs nothing).
    fn sign(&self, ballot: Ballot) -> Option<SignedBallot> {
        let key = self.config.identity.as_ref()?;
        Some(SignedBallot::sign(key, ballot))
    }

    /// This bank's signed no to `plan`.
    fn refuse_plan(&self, plan: &SignedPlan, reason: Refusal) -> Option<SignedBallot> {
        self.sign(Ballot {
            tx: plan.plan.tx.clone(),
            plan: plan.hash(),
            voter: self.config.bank.id,
            vote: Vote::Refused { leg: 0, reason },
        })
    }

    /// Phase two at this bank: applies each decision its proof proves (`proved`: whether the
    /// proof's signatures held, checked off the engine thread by
    /// [`super::EngineHandle::decide`]). Acknowledges every decision it has applied, now or
    /// before, and every one about nothing it holds; not one whose proof fails.
    pub(super) fn decide_items(
        &mut self,
        from: BankId,
        items: Vec<(DecideItem, bool)>,
        now: i64,
    ) -> EngineResult<Vec<TxId>> {
        let me = self.config.bank.id;
        let mut acked = Vec::with_capacity(items.len());
        for (item, proved) in items {
            let tx = item.tx.clone();
            let proof = item
                .proof
                .as_ref()
                .filter(|p| proved && p.commit() == item.commit);
            match self.participation(&tx)? {
                // Prepared under a signed plan: only its proof decides it, whoever brings it.
                Some(p) if p.plan.is_some() && !(from == me && p.coordinator == me) => {
                    let (hash, _) = p.plan.expect("checked");
                    let Some(proof) = proof else {
                        tracing::warn!(%tx, %from, "a decision without a valid proof; not applied");
                        continue;
                    };
                    if proof.plan().hash() != hash {
                        // About another plan of this id (one this bank refused): nothing of it
                        // is held here.
                        acked.push(tx);
                        continue;
                    }
                    self.apply_decision(&tx, p, item.commit, Some(proof), now)?;
                    acked.push(tx);
                }
                // Prepared before decisions carried proof, or this bank's own part as the
                // coordinator: the recorded coordinator's word.
                Some(p) if p.coordinator != from => {
                    let coordinator = p.coordinator;
                    tracing::warn!(%tx, %from, %coordinator, "a decision from a bank that is not the coordinator; not applied");
                    acked.push(tx);
                }
                Some(p) => {
                    self.apply_decision(&tx, p, item.commit, proof, now)?;
                    acked.push(tx);
                }
                None => {
                    if item.commit {
                        tracing::error!(%tx, "a commit for a transaction this bank never prepared");
                    } else if let Some(proof) = proof {
                        // Never prepared here (the prepare was lost or is late): remembered until
                        // the plan's deadline, so that a late prepare is refused.
                        self.remember_refused(proof.plan(), now);
                    }
                    acked.push(tx);
                }
            }
        }
        Ok(acked)
    }

    /// Applies a decision to a transaction this bank holds (`p`), or, if it holds it decided
    /// already, checks the new proof against the one it applied: a contradiction is evidence.
    fn apply_decision(
        &mut self,
        tx: &TxId,
        p: Participation,
        commit: bool,
        proof: Option<&Proof>,
        now: i64,
    ) -> EngineResult<()> {
        if p.state != PartState::Prepared {
            if (p.state == PartState::Committed) != commit {
                tracing::error!(%tx, state = ?p.state, commit, "a decision contradicting one already applied");
            }
            if let Some(new) = proof {
                self.check_contradiction(tx, new, now)?;
            }
            return Ok(());
        }
        let applied = if self.directory.decide(tx, commit, now) {
            Ok(())
        } else if commit {
            let window = self.window_tags.remove(tx).unwrap_or(0);
            let window = self.counted_window(tx, window);
            self.ledger.commit(tx, now, window)
        } else {
            self.abort_parts(tx, now)
        };
        if let Err(e) = applied {
            // A prepared record always has its reservations; anything else is a bug.
            tracing::error!(%tx, error = %e, "prepared transaction without reservations");
            return Err(EngineError::Unexpected);
        }
        // A charge this transaction reserved is paid, or open again, with its credit.
        self.charges.settle(tx, commit, now);
        let state = if commit {
            PartState::Committed
        } else {
            PartState::Aborted
        };
        self.set_state(tx, p, state, proof, now);
        if let Some(proof) = proof {
            self.proofs_in_batch.insert(tx.clone(), proof.clone());
        }
        Ok(())
    }

    /// The proof this bank applied for `tx`, from the current batch or the store.
    fn applied_proof(&self, tx: &TxId) -> EngineResult<Option<Proof>> {
        if let Some(p) = self.proofs_in_batch.get(tx) {
            return Ok(Some(p.clone()));
        }
        Ok(self.store.plan_and_proof(tx).map_err(store_error)?.1)
    }

    /// Keeps `new` and the proof applied for `tx` as evidence if one signer contradicted itself
    /// between them, and raises the alarm.
    fn check_contradiction(&mut self, tx: &TxId, new: &Proof, now: i64) -> EngineResult<()> {
        let Some(old) = self.applied_proof(tx)? else {
            return Ok(());
        };
        if let Some((first, second)) = old.contradicts(new) {
            let signer = first.ballot.voter;
            tracing::error!(%tx, %signer, "EQUIVOCATION: bank {signer} signed two contradicting statements about {tx}; both kept as evidence");
            self.equivocations += 1;
            let json = |b: &SignedBallot| serde_json::to_string(b).expect("a ballot serialises");
            self.protocol_changes.push(ProtocolChange::Equivocation {
                tx: tx.clone(),
                signer,
                first: json(&first),
                second: json(&second),
                at_ms: now,
            });
        }
        Ok(())
    }

    /// Remembers that `plan` was aborted before this bank prepared it (bounded: plans past their
    /// deadline go first, and beyond the bound none is added, as a plan past its deadline is
    /// refused anyway).
    fn remember_refused(&mut self, plan: &SignedPlan, now: i64) {
        if self.refused_plans.len() >= REFUSED_PLANS_MAX {
            self.refused_plans.retain(|_, by| *by >= now);
        }
        if self.refused_plans.len() < REFUSED_PLANS_MAX {
            self.refused_plans
                .insert(plan.hash(), plan.plan.decide_by_ms);
        }
    }

    pub(super) fn stored_decision(&self, tx: &TxId) -> EngineResult<Option<StoredDecision>> {
        if let Some(d) = self.decisions_in_batch.get(tx) {
            return Ok(Some(d.clone()));
        }
        self.store.decision(tx).map_err(store_error)
    }

    fn record_decision(&mut self, tx: &TxId, decision: StoredDecision, now: i64) {
        self.decisions_in_batch.insert(tx.clone(), decision.clone());
        self.protocol_changes.push(ProtocolChange::Decision {
            tx: tx.clone(),
            decision: Box::new(decision),
            at_ms: now,
        });
    }

    /// The proof of `d` as this bank, its coordinator, makes it: its own signed ballot added to
    /// the others' (yes only when `d` commits), in the plan's order.
    fn prove(&self, d: &Decision) -> Option<Proof> {
        let me = self.config.bank.id;
        let (plan, votes) = d.ballots.clone()?;
        let (leg, reason) = d.refusal.unwrap_or((0, Refusal::Expired));
        let own = self.sign(Ballot {
            tx: d.tx.clone(),
            plan: plan.hash(),
            voter: me,
            vote: if d.commit {
                Vote::Prepared
            } else {
                Vote::Refused { leg, reason }
            },
        })?;
        if !d.commit {
            return Some(Proof::Abort { plan, refusal: own });
        }
        let mut others = votes.into_iter();
        let votes = plan
            .plan
            .participants()
            .map(|b| {
                if b == me {
                    Some(own.clone())
                } else {
                    others.next().filter(|v| v.ballot.voter == b)
                }
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Proof::Commit { plan, votes })
    }

    /// Stores each decision unless one is stored for its id already (the first is final), and
    /// decides this bank's own part in the same batch. Returns, per decision, the final decision
    /// with the outcome to report, the other banks to tell it to, and its proof.
    pub(super) fn log_decisions(
        &mut self,
        decisions: Vec<Decision>,
        now: i64,
    ) -> EngineResult<Vec<Logged>> {
        let me = self.config.bank.id;
        let mut out = Vec::with_capacity(decisions.len());
        for d in decisions {
            let others: Vec<BankId> = d
                .participants
                .iter()
                .copied()
                .filter(|b| *b != me)
                .collect();
            let logged = match self.stored_decision(&d.tx)? {
                None => self.log_first_decision(d, others, now)?,
                // An abort stored first (a presumed abort, answered to a participant in doubt
                // while this bank had restarted) is final: every bank this round prepared at
                // hears it, with this bank's no to this round's plan; no plan of this id can
                // ever commit.
                Some(existing) if !existing.commit => {
                    let d = abort_instead(d, None, Refusal::Expired);
                    let proof = self.prove(&d);
                    if d.participants.contains(&me) {
                        self.decide_own_part(&d.tx, false, proof.as_ref(), now);
                    }
                    Logged {
                        tx: d.tx.clone(),
                        commit: false,
                        outcome: presumed_abort_outcome(&d, &existing.outcome),
                        tell: others,
                        proof,
                    }
                }
                // A commit stored before this round was even planned cannot happen: a packet's id
                // is claimed before its stored decision is read, and released only after its
                // decision is stored. Should it happen, this round's parts are not the
                // decision's: nobody is told, and its participants stay in doubt until they
                // ask (this bank refuses their plan then).
                Some(existing) => {
                    tracing::error!(tx = %d.tx, "a second round for a committed transaction id; its parts are left in doubt");
                    Logged {
                        tx: d.tx.clone(),
                        commit: true,
                        outcome: parse_outcome(&d.tx, true, &existing.outcome),
                        tell: Vec::new(),
                        proof: None,
                    }
                }
            };
            out.push(logged);
        }
        Ok(out)
    }

    /// Logs the first decision of `d`'s id: a commit past its deadline, or one that cannot be
    /// proved, becomes an abort; this bank's own part is decided in the same batch, legs
    /// between other banks settled, and the decision stored with its proof.
    fn log_first_decision(
        &mut self,
        d: Decision,
        others: Vec<BankId>,
        now: i64,
    ) -> EngineResult<Logged> {
        let me = self.config.bank.id;
        let mut d = self.within_limits(d);
        // Past its deadline a plan is not committed: a participant may already have given up on
        // it.
        let late = d
            .ballots
            .as_ref()
            .is_some_and(|(p, _)| now > p.plan.decide_by_ms);
        if d.commit && late {
            d = abort_instead(d, None, Refusal::Expired);
        }
        let mut proof = self.prove(&d);
        if d.commit && d.ballots.is_some() && proof.is_none() {
            // Every yes is checked as it arrives; a commit that cannot be proved is a bug, and
            // aborts.
            tracing::error!(tx = %d.tx, "a commit without every participant's yes; aborted");
            d = abort_instead(d, None, Refusal::Expired);
            proof = self.prove(&d);
        }
        let decided_here = d.participants.contains(&me)
            && self.decide_own_part(&d.tx, d.commit, proof.as_ref(), now);
        if d.commit {
            let window = d.ballots.as_ref().map_or(0, |(plan, _)| plan.plan.window);
            let window = self.counted_window(&d.tx, window);
            self.settle_legs_between_others(&d, window);
        }
        let unacked = d
            .participants
            .iter()
            .copied()
            .filter(|b| *b != me || !decided_here)
            .collect();
        let outcome = serde_json::to_string(&d.outcome).map_err(|_| EngineError::Unexpected)?;
        let stored = StoredDecision {
            commit: d.commit,
            proof: proof.clone(),
            outcome,
            unacked,
            participants: Some(d.participants.clone()),
            submitter: Some(d.submitter),
        };
        self.record_decision(&d.tx, stored, now);
        Ok(Logged {
            tx: d.tx.clone(),
            commit: d.commit,
            outcome: d.outcome,
            tell: others,
            proof,
        })
    }

    /// `d`, or an abort in its place if it commits legs between two other banks that would take
    /// a payer's bank beyond its limit here. Each such leg makes the payer's bank owe this bank
    /// (see `settle_legs_between_others`), and no participant checks that: the
    /// receiver's bank checks only this bank's limit, and the payer's bank owes, it is not owed.
    /// Without this, a bank that votes yes to its debits (without reserving anything, if it is
    /// rogue) ran up any debt here through this bank's clients' packets: the consortium
    /// simulation's rogue bank found it (a R$ 900.000,00 leg against a limit of R$ 20.000,00).
    /// The decision is not stored yet, so nobody has heard a commit: aborting is still free.
    fn within_limits(&self, d: Decision) -> Decision {
        let me = self.config.bank.id;
        if !d.commit {
            return d;
        }
        let mut owed: BTreeMap<BankId, Cents> = BTreeMap::new();
        let mut over = None;
        for (leg, &(payer, receiver, amount)) in d.legs.iter().enumerate() {
            if payer == me || receiver == me || payer == receiver {
                continue;
            }
            let total = owed.entry(payer).or_insert(Cents::ZERO);
            *total = total.checked_add(amount).unwrap_or(Cents::new(i64::MAX));
            if let Err(refusal) = self.check_limit(payer, *total) {
                over = Some((leg, refusal));
                break;
            }
        }
        let Some((over, refusal)) = over else {
            return d;
        };
        tracing::warn!(tx = %d.tx, ?refusal, "a payer's bank would pass its limit here; aborted");
        abort_instead(d, Some(over), refusal)
    }

    /// The legs of a committed packet this bank coordinated between two other banks: each makes
    /// the payer's bank owe this one, and this one owe the receiver's.
    fn settle_legs_between_others(&mut self, d: &Decision, window: u64) {
        let me = self.config.bank.id;
        for &(payer, receiver, amount) in &d.legs {
            if payer != me && receiver != me && payer != receiver {
                if let Err(e) = self.ledger.settle_leg(payer, receiver, amount, window) {
                    // Positions are bounded by balances and limits, far inside i64.
                    tracing::error!(tx = %d.tx, error = %e, "a position would overflow; leg not settled");
                }
            }
        }
    }

    /// Decides this bank's own part of `tx` in the current batch: no message, no second commit.
    /// Should that fail (it cannot, short of a bug), this bank stays among those to acknowledge,
    /// and its recovery task resolves the part later.
    fn decide_own_part(
        &mut self,
        tx: &TxId,
        commit: bool,
        proof: Option<&Proof>,
        now: i64,
    ) -> bool {
        let me = self.config.bank.id;
        let item = DecideItem {
            tx: tx.clone(),
            commit,
            proof: proof.cloned(),
        };
        match self.decide_items(me, vec![(item, true)], now) {
            Ok(acked) => !acked.is_empty(),
            Err(e) => {
                tracing::error!(%tx, error = %e, "applying this bank's own part of a decision");
                false
            }
        }
    }

    /// The answer, as coordinator, to bank `from` in doubt about `question`, whose plan (if
    /// any) carries this bank's valid signature (`signed`, checked off the engine thread). A
    /// commit is told only with its proof, to a bank it is about; any other plan of an id this
    /// bank signed is one it never committed, so it signs its no to it. An id with no decision
    /// and no packet in flight (the caller checks that) is presumed aborted: stored as such, so
    /// that it can never commit, but only for a plan this bank signed (an unsigned question
    /// creates nothing).
    pub(super) fn resolve(
        &mut self,
        from: BankId,
        (question, signed): (Question, bool),
        now: i64,
    ) -> EngineResult<Resolution> {
        let plan = question.plan.filter(|p| signed && p.plan.tx == question.tx);
        let existing = self.stored_decision(&question.tx)?;
        let refusal = |state: &State, plan: &SignedPlan| {
            state.refuse_plan(plan, Refusal::Expired).map(|no| {
                Resolution::Decided(Box::new(Proof::Abort {
                    plan: plan.clone(),
                    refusal: no,
                }))
            })
        };
        Ok(match (existing, plan) {
            (Some(d), Some(plan)) => match d.proof {
                Some(proof) if proof.plan().hash() == plan.hash() => {
                    Resolution::Decided(Box::new(proof))
                }
                Some(Proof::Commit { .. }) | None if d.commit => {
                    tracing::warn!(tx = %question.tx, %from, "asked about a plan this bank did not commit");
                    refusal(self, &plan).unwrap_or(Resolution::Pending)
                }
                _ => refusal(self, &plan).unwrap_or(Resolution::Pending),
            },
            // Before decisions carried proof: the stored decision, a commit told only to the
            // banks it is about.
            (Some(d), None) => Resolution::Unproven {
                commit: d.commit && d.participants.as_ref().is_none_or(|p| p.contains(&from)),
            },
            (None, Some(plan)) => {
                let Some(answer) = refusal(self, &plan) else {
                    return Ok(Resolution::Pending);
                };
                let Resolution::Decided(proof) = &answer else {
                    unreachable!("a refusal is a decision")
                };
                let outcome = PacketOutcome {
                    tx_id: question.tx.clone(),
                    status: TxStatus::Aborted,
                    legs: Vec::new(),
                };
                let decision = StoredDecision {
                    commit: false,
                    proof: Some(Proof::clone(proof)),
                    outcome: serde_json::to_string(&outcome)
                        .map_err(|_| EngineError::Unexpected)?,
                    unacked: Vec::new(),
                    participants: Some(Vec::new()),
                    submitter: None,
                };
                self.record_decision(&question.tx, decision, now);
                answer
            }
            // A question without a plan this bank signed: nothing to presume, nothing stored.
            (None, None) => Resolution::Unproven { commit: false },
        })
    }

    /// This bank's answer, as a participant, to another participant in doubt about `plan`
    /// (whose coordinator's signature held: `signed`). It forwards the proof it applied; or says
    /// no, if it refused the plan, holds another plan of the id, or never prepared it and its
    /// deadline has passed (past it, this bank refuses the plan anyway, so its no is for ever).
    pub(super) fn terminate(
        &mut self,
        (plan, signed): (SignedPlan, bool),
        now: i64,
    ) -> EngineResult<Termination> {
        let me = self.config.bank.id;
        if !signed || plan.plan.parts_of(me).is_none() {
            return Ok(Termination::Pending);
        }
        let tx = plan.plan.tx.clone();
        let refuses = |state: &State| {
            Ok(state
                .refuse_plan(&plan, Refusal::Expired)
                .map_or(Termination::Pending, Termination::Refuses))
        };
        match self.participation(&tx)? {
            Some(p) if p.plan.map(|(h, _)| h) == Some(plan.hash()) => {
                if let Some(proof) = self.applied_proof(&tx)? {
                    return Ok(Termination::Decided(Box::new(proof)));
                }
                if p.state == PartState::Aborted {
                    // Refused at prepare (or given up past the deadline): its no stands.
                    return refuses(self);
                }
                Ok(Termination::Pending)
            }
            // Another plan of this id, or the id used otherwise: this plan is refused here.
            Some(_) => refuses(self),
            None if now > plan.plan.decide_by_ms => refuses(self),
            None => Ok(Termination::Pending),
        }
    }

    /// Gives up, as a participant, every transaction prepared under a plan whose deadline passed
    /// more than `grace_ms` ago with no proof of its decision: its reservations are released
    /// (an abort on this bank's own authority, noted in the log). Returns their ids.
    pub(super) fn expire(&mut self, grace_ms: i64, now: i64) -> EngineResult<Vec<TxId>> {
        let stale: Vec<TxId> = self
            .store
            .in_doubt()
            .map_err(store_error)?
            .into_iter()
            .filter(|d| {
                d.plan
                    .as_ref()
                    .is_some_and(|p| p.plan.decide_by_ms.saturating_add(grace_ms) < now)
            })
            .map(|d| d.tx)
            .collect();
        let mut expired = Vec::new();
        for tx in stale {
            let Some(p) = self.participation(&tx)? else {
                continue;
            };
            if p.state != PartState::Prepared {
                continue;
            }
            tracing::warn!(%tx, coordinator = %p.coordinator, "no proof of a decision long after the plan's deadline; this bank's part is aborted");
            self.apply_decision(&tx, p, false, None, now)?;
            expired.push(tx);
        }
        Ok(expired)
    }
}

/// `d` as an abort: every leg cancelled, `leg` (when given) with `reason`.
fn abort_instead(mut d: Decision, leg: Option<usize>, reason: Refusal) -> Decision {
    d.commit = false;
    d.outcome.status = TxStatus::Aborted;
    for (i, outcome) in d.outcome.legs.iter_mut().enumerate() {
        outcome.status = TxStatus::Aborted;
        if Some(i) == leg || (leg.is_none() && outcome.error.is_none() && i == 0) {
            outcome.error = Some(reason);
        }
    }
    if d.refusal.is_none() {
        d.refusal = Some((leg.unwrap_or(0) as u16, reason));
    }
    d
}

/// A stored outcome; one that cannot be read back is reported as a plain commit or abort.
/// What the client of round `d` is told when an abort stored first (presumed, answered to a
/// participant in doubt) stands: the stored outcome if it names legs, else this round's legs, each
/// cancelled, those without a refusal of their own because the consortium could not confirm them
/// in time. A client is never told "cancelled" without a reason per leg.
fn presumed_abort_outcome(d: &Decision, stored: &str) -> PacketOutcome {
    let stored = parse_outcome(&d.tx, false, stored);
    if !stored.legs.is_empty() {
        return stored;
    }
    let legs = d
        .outcome
        .legs
        .iter()
        .map(|l| LegOutcome {
            status: TxStatus::Aborted,
            error: Some(l.error.unwrap_or(Refusal::Expired)),
            ..l.clone()
        })
        .collect();
    PacketOutcome {
        tx_id: d.tx.clone(),
        status: TxStatus::Aborted,
        legs,
    }
}

pub fn parse_outcome(tx: &TxId, commit: bool, text: &str) -> PacketOutcome {
    serde_json::from_str(text).unwrap_or_else(|_| PacketOutcome {
        tx_id: tx.clone(),
        status: if commit {
            TxStatus::Committed
        } else {
            TxStatus::Aborted
        },
        legs: Vec::<LegOutcome>::new(),
    })
}
