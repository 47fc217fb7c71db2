//! Two-phase commit's commands: what the participant (`protocol.rs`, `decisions.rs`) and the
//! coordinator's log do, reached through the handle, which checks signatures and signs ballots on
//! the caller's thread so that the engine thread only compares.

use super::*;

/// Each item with whether its plan's signature held (checked before it was queued).
pub(super) struct Prepare {
    coordinator: BankId,
    items: Vec<(PrepareItem, bool)>,
}

impl Request for Prepare {
    type Answer = Vec<Vote>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Vec<Vote>> {
        let Prepare { coordinator, items } = self;
        let votes = items
            .into_iter()
            .map(|item| state.prepare_item(coordinator, item, now))
            .collect();
        Ok(votes)
    }
}

/// Each decision with whether its proof's signatures held (checked before it was queued).
pub(super) struct Decide {
    from: BankId,
    items: Vec<(DecideItem, bool)>,
}

impl Request for Decide {
    type Answer = Vec<TxId>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Vec<TxId>> {
        let Decide { from, items } = self;
        state.decide_items(from, items, now)
    }
}

pub(super) struct DecideThenPrepare {
    coordinator: BankId,
    decisions: Vec<(DecideItem, bool)>,
    items: Vec<(PrepareItem, bool)>,
}

impl Request for DecideThenPrepare {
    type Answer = (Vec<TxId>, Vec<Vote>);

    fn run(self, state: &mut State, now: i64) -> EngineResult<(Vec<TxId>, Vec<Vote>)> {
        let DecideThenPrepare {
            coordinator,
            decisions,
            items,
        } = self;
        let acked = state.decide_items(coordinator, decisions, now)?;
        let votes = items
            .into_iter()
            .map(|item| state.prepare_item(coordinator, item, now))
            .collect();
        Ok((acked, votes))
    }
}

pub(super) struct LogDecisions {
    decisions: Vec<Decision>,
}

impl Request for LogDecisions {
    type Answer = Vec<crate::twopc::Logged>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Vec<crate::twopc::Logged>> {
        let LogDecisions { decisions } = self;
        state.log_decisions(decisions, now)
    }
}

pub(super) struct DecisionAcked {
    updates: Vec<(TxId, Vec<BankId>)>,
}

impl Request for DecisionAcked {
    type Answer = ();

    fn run(self, state: &mut State, now: i64) -> EngineResult<()> {
        let DecisionAcked { updates } = self;
        for (tx, unacked) in updates {
            state.protocol_changes.push(ProtocolChange::Unacked {
                tx,
                unacked,
                at_ms: now,
            });
        }
        Ok(())
    }
}

/// The answer to bank `from` in doubt about a transaction this bank coordinates; with no
/// decision stored, an abort is stored and returned (presumed abort) for a plan this bank
/// signed (checked before it was queued).
pub(super) struct Resolve {
    from: BankId,
    question: (Question, bool),
}

impl Request for Resolve {
    type Answer = Resolution;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Resolution> {
        let Resolve { from, question } = self;
        state.resolve(from, question, now)
    }
}

/// Another participant's question about a plan this bank shares (cooperative termination).
pub(super) struct Terminate {
    plan: (SignedPlan, bool),
}

impl Request for Terminate {
    type Answer = Termination;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Termination> {
        let Terminate { plan } = self;
        state.terminate(plan, now)
    }
}

/// Gives up transactions held without proof long past their plan's deadline.
pub(super) struct Expire;

impl Request for Expire {
    type Answer = Vec<TxId>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Vec<TxId>> {
        let grace = state.config.expiry_grace_ms;
        state.expire(grace, now)
    }
}

pub(super) struct DecisionOf {
    tx: TxId,
}

impl Request for DecisionOf {
    type Answer = Option<StoredDecision>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Option<StoredDecision>> {
        let DecisionOf { tx } = self;
        state.stored_decision(&tx)
    }
}

pub(super) struct UnackedDecisions;

impl Request for UnackedDecisions {
    type Answer = Vec<Unacked>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Vec<Unacked>> {
        state.store.unacked_decisions().map_err(store_error)
    }
}

pub(super) struct ListInDoubt;

impl Request for ListInDoubt {
    type Answer = Vec<InDoubt>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Vec<InDoubt>> {
        state.store.in_doubt().map_err(store_error)
    }
}

pub(super) struct ParticipationOf {
    tx: TxId,
}

impl Request for ParticipationOf {
    type Answer = Option<Participation>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Option<Participation>> {
        let ParticipationOf { tx } = self;
        state.participation(&tx)
    }
}

impl EngineHandle {
    /// Checks each item's plan signature here, on the caller's thread (signatures are the
    /// costly part, and need no state), so the engine thread only compares.
    fn check_plans(&self, items: Vec<PrepareItem>) -> Vec<(PrepareItem, bool)> {
        items
            .into_iter()
            .map(|item| {
                let signed = item.plan.as_ref().is_some_and(|p| p.verify(&self.keyring));
                (item, signed)
            })
            .collect()
    }

    /// Checks each decision's proof here, on the caller's thread; this bank's own ballot in it
    /// is not checked again.
    fn check_proofs(&self, items: Vec<DecideItem>) -> Vec<(DecideItem, bool)> {
        items
            .into_iter()
            .map(|item| {
                let proved = item
                    .proof
                    .as_ref()
                    .is_some_and(|p| p.check(&item.tx, &self.keyring, Some(self.bank.id)).is_ok());
                (item, proved)
            })
            .collect()
    }

    /// This bank's signed ballot for each vote on `items`, signed here, on the caller's thread.
    fn sign_votes(
        &self,
        items: &[PrepareItem],
        votes: Vec<Vote>,
    ) -> EngineResult<Vec<SignedBallot>> {
        let key = self.identity.as_ref().ok_or(EngineError::Unexpected)?;
        Ok(items
            .iter()
            .zip(votes)
            .map(|(item, vote)| {
                let ballot = Ballot {
                    tx: item.tx.clone(),
                    plan: item.plan.as_ref().map_or(Digest([0; 32]), |p| p.hash()),
                    voter: self.bank.id,
                    vote,
                };
                SignedBallot::sign(key, ballot)
            })
            .collect())
    }

    /// This bank's signed no to every item, for `reason` (each naming the item's first leg):
    /// what it answers a prepare it could not even store.
    pub fn refuse_all(
        &self,
        items: &[PrepareItem],
        reason: Refusal,
    ) -> EngineResult<Vec<SignedBallot>> {
        let votes = items
            .iter()
            .map(|i| Vote::Refused {
                leg: i.parts.first().map_or(0, |(leg, _)| *leg),
                reason,
            })
            .collect();
        self.sign_votes(items, votes)
    }

    /// 2PC participant, phase one, for another bank's plans: one signed ballot per item, its
    /// vote durable before it is returned.
    pub async fn prepare(
        &self,
        coordinator: BankId,
        items: Vec<PrepareItem>,
    ) -> EngineResult<Vec<SignedBallot>> {
        let checked = self.check_plans(items.clone());
        let votes = self
            .request_waiting(Prepare {
                coordinator,
                items: checked,
            })
            .await?;
        self.sign_votes(&items, votes)
    }

    /// Phase one of this bank's own parts, as their coordinator: its votes, unsigned (its
    /// ballot is its decision).
    pub async fn prepare_own(&self, items: Vec<PrepareItem>) -> EngineResult<Vec<Vote>> {
        let coordinator = self.bank.id;
        let items = items.into_iter().map(|i| (i, true)).collect();
        self.request_waiting(Prepare { coordinator, items }).await
    }

    /// 2PC participant, phase two: applies the decisions whose proofs hold, whoever (`from`)
    /// delivers them; returns the ids it acknowledges (durably applied, or already applied, or
    /// about nothing it holds).
    pub async fn decide(&self, from: BankId, items: Vec<DecideItem>) -> EngineResult<Vec<TxId>> {
        let items = self.check_proofs(items);
        self.request_waiting(Decide { from, items }).await
    }

    /// Both of the above in one step, decisions first (what they release can be reserved again
    /// by the new items), durable together: a prepare message with decisions riding on it.
    pub async fn decide_then_prepare(
        &self,
        coordinator: BankId,
        decisions: Vec<DecideItem>,
        items: Vec<PrepareItem>,
    ) -> EngineResult<(Vec<TxId>, Vec<SignedBallot>)> {
        let decisions = self.check_proofs(decisions);
        let checked = self.check_plans(items.clone());
        let (acked, votes) = self
            .request_waiting(DecideThenPrepare {
                coordinator,
                decisions,
                items: checked,
            })
            .await?;
        Ok((acked, self.sign_votes(&items, votes)?))
    }

    /// 2PC coordinator: stores decisions durably, and applies each to this bank's own part of
    /// the packet in the same batch (the stored list of banks still to acknowledge leaves this
    /// bank out). Returns the final decision of each (the first one ever stored for its id wins)
    /// with the outcome to report.
    pub async fn log_decisions(
        &self,
        decisions: Vec<Decision>,
    ) -> EngineResult<Vec<crate::twopc::Logged>> {
        self.request_waiting(LogDecisions { decisions }).await
    }

    pub async fn decision_acked(&self, updates: Vec<(TxId, Vec<BankId>)>) -> EngineResult<()> {
        self.request_waiting(DecisionAcked { updates }).await
    }

    /// As coordinator, the answer to bank `from` in doubt about `question` (see
    /// [`Resolution`]); the caller first checks the id is not in flight.
    pub async fn resolve(&self, from: BankId, question: Question) -> EngineResult<Resolution> {
        let me = self.bank.id;
        let signed = question
            .plan
            .as_ref()
            .is_some_and(|p| p.plan.coordinator == me && p.verify(&self.keyring));
        self.request_waiting(Resolve {
            from,
            question: (question, signed),
        })
        .await
    }

    /// As a participant, the answer to another participant in doubt about `plan`.
    pub async fn terminate(&self, plan: SignedPlan) -> EngineResult<Termination> {
        let signed = plan.verify(&self.keyring);
        self.request_waiting(Terminate {
            plan: (plan, signed),
        })
        .await
    }

    /// Gives up the transactions this bank has held without any proof of their decision for
    /// longer than its plan's deadline and the grace (`EngineConfig::expiry_grace_ms`).
    pub async fn expire(&self) -> EngineResult<Vec<TxId>> {
        self.request_waiting(Expire).await
    }

    pub async fn decision(&self, tx: TxId) -> EngineResult<Option<StoredDecision>> {
        self.request(DecisionOf { tx }).await
    }

    pub async fn unacked_decisions(&self) -> EngineResult<Vec<Unacked>> {
        self.request_waiting(UnackedDecisions).await
    }

    /// This bank's record of `tx` as a 2PC participant: its coordinator and state (for audits).
    pub async fn participation(&self, tx: TxId) -> EngineResult<Option<Participation>> {
        self.request_waiting(ParticipationOf { tx }).await
    }

    pub async fn in_doubt(&self) -> EngineResult<Vec<InDoubt>> {
        self.request_waiting(ListInDoubt).await
    }
}
