//! A bank as the coordinator of two-phase commit, as one pure state machine (sans-IO): the packet
//! ids it has claimed, the queue waiting for the token, the rounds voting, phase two's deliveries,
//! the acknowledgements to record, and whether the ring needs hurrying. The node
//! (`server::consortium`) and the simulation (`tests/sim.rs`) drive this same code; they only
//! carry out its I/O (engine calls, messages) and feed the results back.
//!
//! # A packet's life here
//! 1. [`Coordinator::claim`]: the id is claimed for its submitter before anything reads it. The
//!    driver then reads the stored decision (answering from it and [releasing](Coordinator::release)
//!    the claim) or plans the packet and [queues](Coordinator::enqueue) it.
//! 2. [`Coordinator::start_batch`] (while this bank holds the token): packets that waited past the
//!    deadline are refused; up to `batch_max` others start a [`Round`]: one [`PrepareMsg`] per
//!    participant, decisions for that bank riding along.
//! 3. [`Coordinator::on_prepare_answer`] per participant, then [`Coordinator::finish_round`]:
//!    the decisions to store.
//! 4. [`Coordinator::concluded`] once they are stored: the clients are answered, the claims
//!    released, and each decision goes to the banks it is for ([`Deliveries`]) until acknowledged;
//!    completed deliveries are recorded every `acks_recorded_every_ms`.
//!
//! `W` is whatever the driver uses to answer a waiting client (a channel in the node, a request
//! number in the simulation); this module only keeps and returns it.

use crate::error::{ConsortiumError, EngineError, EngineResult};
use crate::ledger::LedgerError;
use crate::proof::Signing;
use crate::twopc::{Decision, Deliveries, DeliveryConfig, Logged, PacketPlan, PrepareItem, Round};
use crate::twopc::{Unacked, Vote};
use crate::wire::{PrepareAnswer, PrepareMsg};
use domain::dto::{LegState, PacketOutcome, PacketProgress};
use domain::{AccountId, BankId, TxId};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Packets kept in the progress log, at most (the oldest are forgotten first).
pub const PROGRESS_MAX: usize = 10_000;

#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    pub me: BankId,
    /// Packets waiting for the token, at most (then [`EngineError::Busy`]).
    pub queue_capacity: usize,
    /// Packets prepared per token visit, at most.
    pub batch_max: usize,
    /// A packet that waited this long for the token is refused; nothing was reserved.
    pub queue_deadline_ms: u64,
    pub delivery: DeliveryConfig,
    /// Decisions every participant has acknowledged are recorded as such at most this often:
    /// until then a restart only sends them again (participants acknowledge duplicates), which
    /// saves a durable write per acknowledgement.
    pub acks_recorded_every_ms: u64,
    /// A plan is to be decided within this long of its round's start (its `decide_by_ms`); a
    /// participant holding it longer without a decision may abort it on its own, after a grace.
    pub decide_within_ms: i64,
}

/// What claiming a packet id found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The id was free and is now claimed: the driver reads its stored decision, then plans it.
    Fresh,
    /// The same client's packet with this id is in flight; the waiter will hear its outcome.
    Joined,
    /// Another client's packet has this id; the waiter was not kept.
    NotYours,
}

/// Clients waiting for one packet, and what to tell them.
#[derive(Debug)]
pub struct Answer<W> {
    pub tx: TxId,
    pub waiters: Vec<W>,
    pub result: EngineResult<PacketOutcome>,
}

/// A round started by [`Coordinator::start_batch`]: the messages to send.
#[derive(Debug)]
pub struct RoundStart {
    pub id: RoundId,
    /// This bank's own items, for its engine (no message, no riding decisions).
    pub own: Option<Vec<PrepareItem>>,
    /// One prepare message per other participant.
    pub prepares: Vec<(BankId, PrepareMsg)>,
}

/// What one token visit found to do.
#[derive(Debug)]
pub struct Batch<W> {
    /// Packets that waited past the deadline, refused before anything was reserved.
    pub expired: Vec<Answer<W>>,
    pub round: Option<RoundStart>,
}

impl<W> Batch<W> {
    /// Whether the visit found any packet at all (the ring holds the token only after a full
    /// rotation of visits that found none).
    pub fn worked(&self) -> bool {
        !self.expired.is_empty() || self.round.is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoundId(u64);

struct Claimed<W> {
    submitter: AccountId,
    waiters: Vec<W>,
}

struct Queued {
    plan: PacketPlan,
    enqueued_ms: u64,
}

/// What this bank's latest token visit tells about the next one.
#[derive(Default)]
struct VisitState {
    /// The latest visit found packets to run. The token then comes back without being held
    /// anywhere (holders keep it only after a full idle rotation), so nobody needs hurrying.
    worked: bool,
    /// The ring has been hurried since the latest visit; once is enough until the next.
    hinted: bool,
}

/// Recent packets' progress, for the client's live view. Bounded.
#[derive(Default)]
struct ProgressLog {
    by_tx: HashMap<TxId, (AccountId, PacketProgress)>,
    order: VecDeque<TxId>,
}

impl ProgressLog {
    fn start(&mut self, account: AccountId, tx: &TxId, legs: usize) {
        if self.by_tx.contains_key(tx) {
            return;
        }
        if self.order.len() >= PROGRESS_MAX {
            if let Some(old) = self.order.pop_front() {
                self.by_tx.remove(&old);
            }
        }
        let progress = PacketProgress {
            tx_id: tx.clone(),
            legs: vec![LegState::Waiting; legs],
            done: false,
        };
        self.by_tx.insert(tx.clone(), (account, progress));
        self.order.push_back(tx.clone());
    }

    fn update(&mut self, tx: &TxId, legs: Vec<LegState>, done: bool) {
        if let Some((_, p)) = self.by_tx.get_mut(tx) {
            if p.legs.len() == legs.len() {
                p.legs = legs;
            }
            p.done = done;
        }
    }

    fn end(&mut self, tx: &TxId, state: LegState) {
        let legs = self.by_tx.get(tx).map_or(0, |(_, p)| p.legs.len());
        self.update(tx, vec![state; legs], true);
    }
}

pub struct Coordinator<W> {
    config: CoordinatorConfig,
    /// This bank's key, which signs its plans, and the members' keys, which check their ballots.
    signing: Signing,
    claims: HashMap<TxId, Claimed<W>>,
    queue: VecDeque<Queued>,
    rounds: BTreeMap<RoundId, Round>,
    next_round: u64,
    deliveries: Deliveries,
    /// Decisions every participant has acknowledged, not yet recorded as such.
    delivered: Vec<TxId>,
    recorded_at_ms: u64,
    visit: VisitState,
    progress: ProgressLog,
}

impl<W> Coordinator<W> {
    pub fn new(config: CoordinatorConfig, signing: Signing) -> Coordinator<W> {
        Coordinator {
            deliveries: Deliveries::new(config.delivery.clone()),
            config,
            signing,
            claims: HashMap::new(),
            queue: VecDeque::new(),
            rounds: BTreeMap::new(),
            next_round: 0,
            delivered: Vec::new(),
            recorded_at_ms: 0,
            visit: VisitState::default(),
            progress: ProgressLog::default(),
        }
    }

    /// Claims `tx` for `submitter`'s packet, in one step: before anything reads its stored
    /// decision, so two submissions of one id can never both plan. `waiter` hears the outcome
    /// (unless the id is another client's).
    pub fn claim(&mut self, tx: &TxId, submitter: AccountId, waiter: W) -> Claim {
        match self.claims.get_mut(tx) {
            // The same client again (a double click, a retry, or other legs under the same id):
            // it hears the first packet's outcome.
            Some(c) if c.submitter == submitter => {
                c.waiters.push(waiter);
                Claim::Joined
            }
            Some(_) => Claim::NotYours,
            None => {
                self.claims.insert(
                    tx.clone(),
                    Claimed {
                        submitter,
                        waiters: vec![waiter],
                    },
                );
                Claim::Fresh
            }
        }
    }

    /// Whether `tx` is claimed (a participant asking about it hears "pending").
    pub fn in_flight(&self, tx: &TxId) -> bool {
        self.claims.contains_key(tx)
    }

    /// Releases a claim that ends before its packet was queued (answered from the stored
    /// decision, refused while planning, or its driver gave up): the waiters to answer.
    pub fn release(&mut self, tx: &TxId, result: EngineResult<PacketOutcome>) -> Answer<W> {
        let waiters = self
            .claims
            .remove(tx)
            .map(|c| c.waiters)
            .unwrap_or_default();
        Answer {
            tx: tx.clone(),
            waiters,
            result,
        }
    }

    /// Queues a planned packet whose id this bank has claimed. `Ok(true)` when the ring should be
    /// hurried (the token may be held idle on its way here); at most once per token visit, and
    /// never after a visit that found work (the token then comes back without holds). A full
    /// queue releases the claim: the answer says the bank is busy.
    pub fn enqueue(&mut self, plan: PacketPlan, now_ms: u64) -> Result<bool, Answer<W>> {
        if self.queue.len() >= self.config.queue_capacity {
            return Err(self.release(&plan.tx, Err(EngineError::Busy)));
        }
        match self.claims.get(&plan.tx) {
            Some(c) if c.submitter == plan.submitter => {}
            // Only claimed packets are queued: anything else is the driver's bug.
            _ => {
                return Err(Answer {
                    tx: plan.tx.clone(),
                    waiters: Vec::new(),
                    result: Err(EngineError::Unexpected),
                })
            }
        }
        self.progress
            .start(plan.submitter, &plan.tx, plan.legs.len());
        self.queue.push_back(Queued {
            plan,
            enqueued_ms: now_ms,
        });
        let hurry = !self.visit.worked && !self.visit.hinted;
        self.visit.hinted |= hurry;
        Ok(hurry)
    }

    /// This bank holds the token: refuses packets that waited past the deadline and starts a
    /// round for up to `batch_max` others, whose plans are to be decided within
    /// `decide_within_ms` of `wall_ms` (this bank's clock, which participants compare theirs
    /// with).
    pub fn start_batch(&mut self, now_ms: u64, wall_ms: i64, window: u64) -> Batch<W> {
        let take = self.queue.len().min(self.config.batch_max);
        let jobs: Vec<Queued> = self.queue.drain(..take).collect();
        self.visit = VisitState {
            worked: !jobs.is_empty(),
            hinted: false,
        };
        let mut expired = Vec::new();
        let mut plans = Vec::new();
        for job in jobs {
            if now_ms.saturating_sub(job.enqueued_ms) >= self.config.queue_deadline_ms {
                self.progress.end(&job.plan.tx, LegState::Aborted);
                let tx = job.plan.tx;
                expired.push(self.release(&tx, Err(ConsortiumError::Expired.into())));
            } else {
                plans.push(job.plan);
            }
        }
        if plans.is_empty() {
            return Batch {
                expired,
                round: None,
            };
        }
        let (round, messages) = Round::start(
            plans,
            (self.config.me, &self.signing.key),
            wall_ms.saturating_add(self.config.decide_within_ms),
            window,
        );
        let id = RoundId(self.next_round);
        self.next_round += 1;
        self.rounds.insert(id, round);
        let mut own = None;
        let mut prepares = Vec::new();
        for (bank, items) in messages {
            if bank == self.config.me {
                own = Some(items);
            } else {
                let decisions = self.deliveries.take_for(bank, now_ms);
                prepares.push((bank, PrepareMsg { items, decisions }));
            }
        }
        Batch {
            expired,
            round: Some(RoundStart { id, own, prepares }),
        }
    }

    /// `bank`'s answer to the prepare of round `round` that carried the decisions `sent`
    /// (`None`: no answer in time, or one that made no sense: every packet it is in aborts).
    /// Returns whether phase two has something new to do (a retry, or acknowledgements to record).
    pub fn on_prepare_answer(
        &mut self,
        round: RoundId,
        bank: BankId,
        sent: &[TxId],
        answer: Option<PrepareAnswer>,
    ) -> bool {
        let (votes, acked) = match answer {
            Some(a) => (Some(a.votes), a.acked),
            None => (None, Vec::new()),
        };
        let wake = if sent.is_empty() {
            false
        } else {
            self.settle(bank, sent, acked)
        };
        if let Some(r) = self.rounds.get_mut(&round) {
            r.on_votes(bank, votes, &self.signing.keys);
            for (tx, legs) in r.progress() {
                self.progress.update(&tx, legs, false);
            }
        }
        wake
    }

    /// This bank's own engine's votes on its own items of `round` (`None`: it could not vote).
    pub fn on_own_votes(&mut self, round: RoundId, votes: Option<Vec<Vote>>) {
        if let Some(r) = self.rounds.get_mut(&round) {
            r.on_own_votes(votes);
            for (tx, legs) in r.progress() {
                self.progress.update(&tx, legs, false);
            }
        }
    }

    /// Whether every participant of `round` has voted (or been given up on).
    pub fn round_complete(&self, round: RoundId) -> bool {
        self.rounds.get(&round).is_none_or(Round::is_complete)
    }

    /// Ends phase one of `round`: banks that have not voted vote no. The decisions to store
    /// before anyone hears them; the packets stay claimed until [`Coordinator::concluded`].
    pub fn finish_round(&mut self, round: RoundId) -> Vec<Decision> {
        let Some(mut r) = self.rounds.remove(&round) else {
            return Vec::new();
        };
        let silent: Vec<BankId> = r.waiting_for().collect();
        for bank in silent {
            r.on_votes(bank, None, &self.signing.keys);
        }
        r.decisions()
    }

    /// The decisions of a round are stored (`logged`, in the order they were given): answers
    /// every waiting client, releases the claims, and starts delivering each decision to the
    /// banks it is for.
    pub fn concluded(&mut self, logged: Vec<Logged>, now_ms: u64) -> Vec<Answer<W>> {
        let mut answers = Vec::with_capacity(logged.len());
        for l in logged {
            self.deliveries
                .add(l.tx.clone(), (l.commit, l.proof), &l.tell, now_ms);
            self.progress.end(
                &l.tx,
                if l.commit {
                    LegState::Committed
                } else {
                    LegState::Aborted
                },
            );
            let tx = l.tx.clone();
            answers.push(self.release(&tx, Ok(l.outcome)));
        }
        answers
    }

    /// Storing a round's decisions failed: nothing was decided, so every participant will
    /// resolve these ids to abort (presumed abort). Their clients hear so.
    pub fn conclude_failed(&mut self, txs: &[TxId]) -> Vec<Answer<W>> {
        txs.iter()
            .map(|tx| {
                self.progress.end(tx, LegState::Aborted);
                self.release(tx, Err(ConsortiumError::NotConfirmed.into()))
            })
            .collect()
    }

    /// Decisions stored before a restart that some bank has not acknowledged: delivered again.
    pub fn resume(&mut self, unacked: Vec<Unacked>, now_ms: u64) {
        for u in unacked {
            self.deliveries
                .add(u.tx, (u.commit, u.proof), &u.banks, now_ms);
        }
    }

    /// Decisions due for delivery now, one message per bank (this bank's own included).
    pub fn due(&mut self, now_ms: u64) -> Vec<(BankId, Vec<crate::twopc::DecideItem>)> {
        self.deliveries.due(now_ms)
    }

    /// The attempt that carried decisions `sent` to `bank` ended with `acked` acknowledged (only
    /// those sent count: a bank cannot acknowledge for others); the rest are retried after their
    /// backoff. Returns whether phase two has something new to do.
    /// Whether some participant has yet to acknowledge `tx`'s decision.
    pub fn delivering(&self, tx: &TxId) -> bool {
        self.deliveries.is_pending(tx)
    }

    pub fn settle(&mut self, bank: BankId, sent: &[TxId], acked: Vec<TxId>) -> bool {
        let acked: Vec<TxId> = acked.into_iter().filter(|t| sent.contains(t)).collect();
        let missing: Vec<TxId> = sent
            .iter()
            .filter(|t| !acked.contains(t))
            .cloned()
            .collect();
        self.deliveries.failed(bank, &missing);
        let completed = self.deliveries.acked(bank, &acked);
        let first_delivered = !completed.is_empty() && self.delivered.is_empty();
        self.delivered.extend(completed);
        !missing.is_empty() || first_delivered
    }

    /// Decisions acknowledged everywhere, to record now (at most every
    /// `acks_recorded_every_ms`); the driver stores them as having nobody left to tell.
    pub fn acks_to_record(&mut self, now_ms: u64) -> Vec<TxId> {
        if self.delivered.is_empty()
            || now_ms < self.recorded_at_ms + self.config.acks_recorded_every_ms
        {
            return Vec::new();
        }
        self.recorded_at_ms = now_ms;
        std::mem::take(&mut self.delivered)
    }

    /// When [`Coordinator::due`] or [`Coordinator::acks_to_record`] will next have something.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let record = (!self.delivered.is_empty())
            .then_some(self.recorded_at_ms + self.config.acks_recorded_every_ms);
        self.deliveries
            .next_deadline_ms()
            .into_iter()
            .chain(record)
            .min()
    }

    /// Where `account`'s packet `tx` stands (recent packets only; another client's is unknown).
    pub fn progress(&self, account: AccountId, tx: &TxId) -> Option<PacketProgress> {
        self.progress
            .by_tx
            .get(tx)
            .filter(|(owner, _)| *owner == account)
            .map(|(_, p)| p.clone())
    }

    /// Packet ids claimed, and decisions not yet acknowledged everywhere: for `/status`.
    pub fn load(&self) -> (usize, usize) {
        (self.claims.len(), self.deliveries.len())
    }

    /// Nothing queued, voting, claimed or undelivered (for the simulation's quiescence check).
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.rounds.is_empty()
            && self.claims.is_empty()
            && self.deliveries.is_empty()
    }
}

/// The id another client's packet holds, as the claimant is told.
pub fn not_yours() -> EngineError {
    LedgerError::TxIdConflict.into()
}

#[cfg(test)]
mod tests;
