//! The engine's side of two-phase commit: participant prepare/decide and the coordinator's
//! decision log. Every change here is persisted with the batch it belongs to, before the answer
//! that depends on it leaves the engine (see `State::flush`).

use super::{store_error, EngineError, EngineResult, State};
use crate::ledger::{LedgerError, PartKey};
use crate::store::{PartState, Participation, ProtocolChange, StoredDecision};
use crate::twopc::{DebitSource, DecideItem, Decision, PartSpec, PrepareItem, Vote};
use domain::consent::ConsentId;
use domain::dto::MAX_PACKET_LEGS;
use domain::dto::{LegOutcome, PacketOutcome, TxStatus};
use domain::{AccountId, BankId, Cents, Refusal, TxId};
use std::collections::BTreeMap;

impl State {
    /// This bank's record of `tx` as a participant, from the current batch or the store.
    pub(super) fn participation(&self, tx: &TxId) -> EngineResult<Option<Participation>> {
        if let Some(p) = self.participations_in_batch.get(tx) {
            return Ok(Some(*p));
        }
        self.store.participation(tx).map_err(store_error)
    }

    /// Records `tx`'s new state; the parts hash, once known, is kept.
    fn set_participation(
        &mut self,
        tx: &TxId,
        coordinator: BankId,
        state: PartState,
        parts: Option<[u8; 32]>,
        now: i64,
    ) {
        let record = Participation {
            coordinator,
            state,
            parts,
        };
        self.participations_in_batch.insert(tx.clone(), record);
        self.protocol_changes.push(ProtocolChange::Participation {
            tx: tx.clone(),
            record,
            at_ms: now,
        });
    }

    /// Phase one at this bank: reserves every part of `item`, or none and says why.
    ///
    /// A transaction id names exactly one set of parts: a prepare for an id this bank already
    /// knows is answered from its record only if the parts are the same (a retry); with other
    /// parts it is refused, whatever state the id is in, and nothing changes.
    pub(super) fn prepare_item(
        &mut self,
        coordinator: BankId,
        item: PrepareItem,
        now: i64,
    ) -> Vote {
        let me = self.config.bank.id;
        let refuse = |reason: Refusal| Vote::Refused { leg: 0, reason };
        let parts = item.parts_sha256();
        let tx = item.tx.clone();
        match self.participation(&tx) {
            Err(_) => return refuse(Refusal::RecordsUnreadable { bank: me }),
            Ok(Some(p)) if p.coordinator != coordinator => {
                return refuse(Refusal::TxIdInUse { bank: me })
            }
            Ok(Some(p)) if p.state == PartState::Aborted => {
                return refuse(Refusal::AlreadyCancelled { bank: me })
            }
            Ok(Some(p)) if p.parts != Some(parts) => {
                return refuse(Refusal::TxIdReused { bank: me })
            }
            // A repeated prepare of the same parts (the coordinator retried, or restarted and
            // retried the packet).
            Ok(Some(_)) => return Vote::Prepared,
            Ok(None) => {}
        }
        match self.previous_use(&tx) {
            Ok(None) => {}
            Ok(Some(_)) => return refuse(Refusal::TxIdInUse { bank: me }),
            Err(_) => return refuse(Refusal::RecordsUnreadable { bank: me }),
        }
        if item.parts.is_empty() || item.parts.len() > 2 * MAX_PACKET_LEGS {
            self.set_participation(&tx, coordinator, PartState::Aborted, Some(parts), now);
            return refuse(Refusal::InvalidParts { bank: me });
        }
        // A key operation: alone in its item, reserved in the directory.
        if let [(0, PartSpec::Key(op))] = item.parts.as_slice() {
            let keys = self.config.keyring.clone();
            let reserved = self.check_own_claim(coordinator, op).and_then(|()| {
                self.directory
                    .prepare((me, &keys), &tx, coordinator, op.clone(), now)
            });
            return match reserved {
                Ok(()) => {
                    self.set_participation(&tx, coordinator, PartState::Prepared, Some(parts), now);
                    Vote::Prepared
                }
                Err(reason) => {
                    self.set_participation(&tx, coordinator, PartState::Aborted, Some(parts), now);
                    refuse(reason)
                }
            };
        }
        // The item must make sense here on its own before anything is drawn or reserved.
        let intra = match item.legs_here(me) {
            Ok(intra) => intra,
            Err((leg, reason)) => {
                self.set_participation(&tx, coordinator, PartState::Aborted, Some(parts), now);
                return Vote::Refused { leg, reason };
            }
        };
        // Every consent this item draws on is checked, and counted for its total, before
        // anything is reserved: a refusal reserves nothing.
        let consent_owners = match self.draw_consents(coordinator, &item.parts, now) {
            Ok(owners) => owners,
            Err((leg, reason)) => {
                self.set_participation(&tx, coordinator, PartState::Aborted, Some(parts), now);
                return Vote::Refused { leg, reason };
            }
        };
        let mut debits: Vec<(u16, AccountId)> = Vec::new();
        for ((leg, spec), intra) in item.parts.into_iter().zip(intra) {
            if let Err(reason) = self.prepare_part(
                &tx,
                coordinator,
                (leg, spec),
                (intra, &consent_owners),
                &mut debits,
                now,
            ) {
                // Undo what this item reserved and drew: the entries stay in history as aborted.
                if self.ledger.prepared(&tx).is_some() {
                    self.ledger
                        .abort(&tx, now)
                        .expect("parts were just prepared");
                }
                for (consent, (_, total)) in &consent_owners {
                    self.consents.release(consent, *total, now);
                }
                self.set_participation(&tx, coordinator, PartState::Aborted, Some(parts), now);
                return Vote::Refused { leg, reason };
            }
        }
        self.set_participation(&tx, coordinator, PartState::Prepared, Some(parts), now);
        Vote::Prepared
    }

    /// A claim or move this bank coordinates is for one of its accounts, within that account's
    /// limit of keys (counting claims in flight): checked again at prepare, so that two claims
    /// sent at once cannot both pass the limit. Other banks' claims are theirs to check; a
    /// move's permit is checked by every bank alike ([`crate::directory::Directory::prepare`]).
    fn check_own_claim(
        &mut self,
        coordinator: BankId,
        op: &crate::directory::KeyOp,
    ) -> Result<(), Refusal> {
        use crate::directory::KeyOp;
        let me = self.config.bank.id;
        if coordinator != me {
            return Ok(());
        }
        let (account, key, port) = match op {
            KeyOp::Claim { key, account, .. } => (*account, key.clone(), false),
            KeyOp::Port { permit } => (permit.account, permit.key.clone(), true),
            KeyOp::Release { .. } => return Ok(()),
        };
        match self.key_claim(account, key, port) {
            Ok(_) => Ok(()),
            Err(EngineError::Key(crate::engine::KeyError::TooMany)) => Err(Refusal::TooManyKeys),
            Err(EngineError::Key(_)) => Err(Refusal::KeyTaken { bank: me }),
            Err(_) => Err(Refusal::InvalidParts { bank: me }),
        }
    }

    /// Draws on every consent the debits of `parts` name, each once for its total: the owner's
    /// account each lets the coordinator debit, and the total drawn. On a refusal, what was
    /// drawn is given back and the first leg drawing on the refused consent is named.
    fn draw_consents(
        &mut self,
        coordinator: BankId,
        parts: &[(u16, PartSpec)],
        now: i64,
    ) -> Result<BTreeMap<ConsentId, (AccountId, Cents)>, (u16, Refusal)> {
        let me = self.config.bank.id;
        let mut totals: BTreeMap<(ConsentId, AccountId), (u16, Cents)> = BTreeMap::new();
        for (leg, spec) in parts {
            if let PartSpec::Debit {
                source: DebitSource::Consent { consent, grantee },
                amount,
                ..
            } = spec
            {
                // A bad amount is refused here, before it could count against a consent.
                if amount.get() <= 0 || *amount > domain::money::MAX_OPERATION {
                    return Err((*leg, Refusal::InvalidAmount));
                }
                let entry = totals
                    .entry((consent.clone(), *grantee))
                    .or_insert((*leg, Cents::ZERO));
                entry.1 = entry
                    .1
                    .checked_add(*amount)
                    .ok_or((*leg, Refusal::InvalidAmount))?;
            }
        }
        let mut drawn = BTreeMap::new();
        for ((consent, grantee), (leg, total)) in totals {
            if drawn.contains_key(&consent) {
                // One consent for two grantee accounts in one item: not a packet anyone sends.
                self.release_all(&drawn, now);
                return Err((leg, Refusal::InvalidParts { bank: me }));
            }
            match self
                .consents
                .draw(&consent, coordinator, grantee, total, now)
            {
                Ok(owner) => {
                    drawn.insert(consent, (owner, total));
                }
                Err(e) => {
                    self.release_all(&drawn, now);
                    return Err((leg, e.refusal(me)));
                }
            }
        }
        Ok(drawn)
    }

    fn release_all(&mut self, drawn: &BTreeMap<ConsentId, (AccountId, Cents)>, now: i64) {
        for (consent, (_, total)) in drawn {
            self.consents.release(consent, *total, now);
        }
    }

    /// Aborts `tx` at this bank, giving back what its debits drew on consents.
    fn abort_parts(&mut self, tx: &TxId, now: i64) -> Result<(), crate::LedgerError> {
        let draws: Vec<(ConsentId, Cents, i64)> = self
            .ledger
            .prepared(tx)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.consent.clone().map(|c| (c, p.amount, p.prepared_ms)))
            .collect();
        self.ledger.abort(tx, now)?;
        for (consent, amount, drawn_ms) in draws {
            self.consents.release(&consent, amount, drawn_ms);
        }
        Ok(())
    }

    /// Reserves one part. Its settlement position is with nobody when both sides of its leg are
    /// here (a transfer inside this bank), else with the coordinator, which answers for the other
    /// side; where this bank coordinates, with the leg's other bank. A credit is refused if it
    /// would take that bank's net debt to this one beyond its limit.
    fn prepare_part(
        &mut self,
        tx: &TxId,
        coordinator: BankId,
        (leg, spec): (u16, PartSpec),
        (intra, consent_owners): (bool, &BTreeMap<ConsentId, (AccountId, Cents)>),
        debits: &mut Vec<(u16, AccountId)>,
        now: i64,
    ) -> Result<(), Refusal> {
        let me = self.config.bank.id;
        if usize::from(leg) >= MAX_PACKET_LEGS {
            return Err(Refusal::InvalidParts { bank: me });
        }
        let peer = |other_side: BankId| match (intra, coordinator == me) {
            (true, _) => None,
            (false, false) => Some(coordinator),
            (false, true) => Some(other_side).filter(|b| *b != me),
        };
        match spec {
            PartSpec::Debit { source, amount, to } => {
                let (account, consent) = match source {
                    // The client's own account: only this bank, coordinating, names it.
                    DebitSource::Own { account }
                        if coordinator == me && self.ledger.account(account).is_some() =>
                    {
                        (account, None)
                    }
                    DebitSource::Own { .. } => return Err(Refusal::NoSourceAccount { bank: me }),
                    DebitSource::Consent { consent, .. } => {
                        let (owner, _) = consent_owners
                            .get(&consent)
                            .ok_or(Refusal::ConsentUnknown { bank: me })?;
                        (*owner, Some(consent))
                    }
                };
                let part = PartKey {
                    leg,
                    account,
                    peer: peer(to.bank),
                    consent,
                };
                self.ledger
                    .prepare_debit(tx, part, amount, to, now)
                    .map_err(|e| refusal(e, me))?;
                debits.push((leg, account));
            }
            PartSpec::Credit { key, amount, from } => {
                // The key pays the account the directory names, if it is one of this bank's.
                let account = self
                    .directory
                    .owner(&key)
                    .filter(|e| e.bank == me)
                    .map(|e| e.account)
                    .filter(|a| self.ledger.account(*a).is_some())
                    .ok_or(Refusal::UnknownReceiver { bank: me })?;
                if debits.contains(&(leg, account)) {
                    return Err(Refusal::SelfTransfer);
                }
                let part = PartKey {
                    leg,
                    account,
                    peer: peer(from.bank),
                    consent: None,
                };
                if let Some(peer) = part.peer {
                    self.check_limit(peer, amount)?;
                }
                self.ledger
                    .prepare_credit(tx, part, amount, from, now)
                    .map_err(|e| refusal(e, me))?;
            }
            // Key operations travel alone in their item (see `prepare_item`).
            PartSpec::Key(_) => return Err(Refusal::InvalidParts { bank: me }),
        }
        Ok(())
    }

    /// Whether a credit of `amount` owed by `peer` keeps its net debt to this bank (settled and
    /// pending) within the limit the membership file gives it; a bank it does not list owes
    /// nothing here.
    fn check_limit(&self, peer: BankId, amount: Cents) -> Result<(), Refusal> {
        let limit = self
            .config
            .limits
            .get(&peer)
            .copied()
            .unwrap_or(Cents::ZERO);
        let position = self.ledger.position(peer);
        let exposure =
            i128::from(position.settled) + i128::from(position.pending) + i128::from(amount.get());
        if exposure > i128::from(limit.get()) {
            return Err(Refusal::LimitExceeded { bank: peer });
        }
        Ok(())
    }

    /// Phase two at this bank. Acknowledges every decision it has applied now or before.
    pub(super) fn decide_items(
        &mut self,
        from: BankId,
        items: Vec<DecideItem>,
        now: i64,
    ) -> EngineResult<Vec<TxId>> {
        let mut acked = Vec::with_capacity(items.len());
        for DecideItem { tx, commit } in items {
            match self.participation(&tx)? {
                // This bank holds `tx` for another coordinator, so it holds nothing of `from`'s
                // under that id (it refused `from`'s prepare, if there was one): the decision is
                // not applied, and acknowledged as "nothing of yours here", or `from` (a bank
                // whose client reused the id) would retry it for ever. The simulation found this.
                Some(p) if p.coordinator != from => {
                    let coordinator = p.coordinator;
                    tracing::warn!(%tx, %from, %coordinator, "a decision from a bank that is not the coordinator; not applied");
                    acked.push(tx);
                }
                Some(p) if p.state == PartState::Prepared => {
                    let applied = if self.directory.decide(&tx, commit, now) {
                        Ok(())
                    } else if commit {
                        self.ledger.commit(&tx, now)
                    } else {
                        self.abort_parts(&tx, now)
                    };
                    if let Err(e) = applied {
                        // A prepared record always has its reservations; anything else is a bug.
                        tracing::error!(%tx, error = %e, "prepared transaction without reservations");
                        return Err(EngineError::Unexpected);
                    }
                    let state = if commit {
                        PartState::Committed
                    } else {
                        PartState::Aborted
                    };
                    self.set_participation(&tx, from, state, p.parts, now);
                    acked.push(tx);
                }
                Some(Participation { state, .. }) => {
                    if (state == PartState::Committed) != commit {
                        tracing::error!(%tx, ?state, commit, "a decision contradicting one already applied");
                    }
                    acked.push(tx);
                }
                None => {
                    // Never prepared here (the prepare was lost or refused before being recorded).
                    // Remember the abort so that a late prepare is refused.
                    if commit {
                        tracing::error!(%tx, "a commit for a transaction this bank never prepared");
                    } else {
                        self.set_participation(&tx, from, PartState::Aborted, None, now);
                    }
                    acked.push(tx);
                }
            }
        }
        Ok(acked)
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
            decision,
            at_ms: now,
        });
    }

    /// Stores each decision unless one is stored for its id already (the first is final), and
    /// decides this bank's own part in the same batch. Returns, per decision, the final decision
    /// with the outcome to report and the other banks to tell it to.
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
                None => {
                    let d = self.within_limits(d);
                    let decided_here =
                        d.participants.contains(&me) && self.decide_own_part(&d.tx, d.commit, now);
                    if d.commit {
                        self.settle_legs_between_others(&d);
                    }
                    let unacked = d
                        .participants
                        .iter()
                        .copied()
                        .filter(|b| *b != me || !decided_here)
                        .collect();
                    let outcome =
                        serde_json::to_string(&d.outcome).map_err(|_| EngineError::Unexpected)?;
                    let stored = StoredDecision {
                        commit: d.commit,
                        outcome,
                        unacked,
                        participants: Some(d.participants.clone()),
                        submitter: Some(d.submitter),
                    };
                    self.record_decision(&d.tx, stored, now);
                    Logged {
                        tx: d.tx.clone(),
                        commit: d.commit,
                        outcome: d.outcome,
                        tell: others,
                    }
                }
                // An abort stored first (a presumed abort, answered to a participant in doubt
                // while this bank had restarted) is final: every bank this round prepared at
                // hears it; no plan of this id can ever commit.
                Some(existing) if !existing.commit => {
                    if d.participants.contains(&me) {
                        self.decide_own_part(&d.tx, false, now);
                    }
                    Logged {
                        tx: d.tx.clone(),
                        commit: false,
                        outcome: presumed_abort_outcome(&d, &existing.outcome),
                        tell: others,
                    }
                }
                // A commit stored before this round was even planned cannot happen: a packet's id
                // is claimed before its stored decision is read, and released only after its
                // decision is stored. Should it happen, this round's parts are not the
                // decision's: nobody is told, and its participants stay in doubt (they hear
                // "abort" when they ask, being none of the decision's participants).
                Some(existing) => {
                    tracing::error!(tx = %d.tx, "a second round for a committed transaction id; its parts are left in doubt");
                    Logged {
                        tx: d.tx.clone(),
                        commit: true,
                        outcome: parse_outcome(&d.tx, true, &existing.outcome),
                        tell: Vec::new(),
                    }
                }
            };
            out.push(logged);
        }
        Ok(out)
    }

    /// `d`, or an abort in its place if it commits legs between two other banks that would take
    /// a payer's bank beyond its limit here. Each such leg makes the payer's bank owe this bank
    /// (see `settle_legs_between_others`), and no participant checks that: the
    /// receiver's bank checks only this bank's limit, and the payer's bank owes, it is not owed.
    /// Without this, a bank that votes yes to its debits (without reserving anything, if it is
    /// rogue) ran up any debt here through this bank's clients' packets: the consortium
    /// simulation's rogue bank found it (a R$ 900.000,00 leg against a limit of R$ 20.000,00).
    /// The decision is not stored yet, so nobody has heard a commit: aborting is still free.
    fn within_limits(&self, mut d: Decision) -> Decision {
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
        d.commit = false;
        d.outcome.status = TxStatus::Aborted;
        for (leg, outcome) in d.outcome.legs.iter_mut().enumerate() {
            outcome.status = TxStatus::Aborted;
            if leg == over {
                outcome.error = Some(refusal);
            }
        }
        d
    }

    /// The legs of a committed packet this bank coordinated between two other banks: each makes
    /// the payer's bank owe this one, and this one owe the receiver's.
    fn settle_legs_between_others(&mut self, d: &Decision) {
        let me = self.config.bank.id;
        for &(payer, receiver, amount) in &d.legs {
            if payer != me && receiver != me && payer != receiver {
                if let Err(e) = self.ledger.settle_leg(payer, receiver, amount) {
                    // Positions are bounded by balances and limits, far inside i64.
                    tracing::error!(tx = %d.tx, error = %e, "a position would overflow; leg not settled");
                }
            }
        }
    }

    /// Decides this bank's own part of `tx` in the current batch: no message, no second commit.
    /// Should that fail (it cannot, short of a bug), this bank stays among those to acknowledge,
    /// and its recovery task resolves the part later.
    fn decide_own_part(&mut self, tx: &TxId, commit: bool, now: i64) -> bool {
        let me = self.config.bank.id;
        match self.decide_items(
            me,
            vec![DecideItem {
                tx: tx.clone(),
                commit,
            }],
            now,
        ) {
            Ok(acked) => !acked.is_empty(),
            Err(e) => {
                tracing::error!(%tx, error = %e, "applying this bank's own part of a decision");
                false
            }
        }
    }

    pub(super) fn resolve(&mut self, tx: TxId, now: i64) -> EngineResult<StoredDecision> {
        if let Some(existing) = self.stored_decision(&tx)? {
            return Ok(existing);
        }
        let outcome = PacketOutcome {
            tx_id: tx.clone(),
            status: TxStatus::Aborted,
            legs: Vec::new(),
        };
        let decision = StoredDecision {
            commit: false,
            outcome: serde_json::to_string(&outcome).map_err(|_| EngineError::Unexpected)?,
            unacked: Vec::new(),
            participants: Some(Vec::new()),
            submitter: None,
        };
        self.record_decision(&tx, decision.clone(), now);
        Ok(decision)
    }
}

/// What a ledger error while reserving a part means to the client.
fn refusal(e: LedgerError, me: BankId) -> Refusal {
    match e {
        LedgerError::InsufficientFunds => Refusal::InsufficientFunds,
        LedgerError::BalanceLimit => Refusal::BalanceLimit,
        LedgerError::InvalidAmount => Refusal::InvalidAmount,
        LedgerError::SelfTransfer => Refusal::SelfTransfer,
        LedgerError::TxIdConflict => Refusal::TxIdInUse { bank: me },
        LedgerError::UnknownAccount
        | LedgerError::UnknownTx
        | LedgerError::DuplicateTaxId
        | LedgerError::DuplicateEmail => Refusal::InvalidParts { bank: me },
    }
}

/// A decision as logged: final, with the outcome to report and the banks to tell it to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    pub tx: TxId,
    pub commit: bool,
    pub outcome: PacketOutcome,
    /// The other banks the decision must reach (phase two).
    pub tell: Vec<BankId>,
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
