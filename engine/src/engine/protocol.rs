//! The engine's side of two-phase commit as a participant: phase one (prepare). A participant
//! trusts nothing of the coordinator's picture it can check itself: the coordinator's signed
//! plan must name it with the hash of exactly the parts it was sent, and every other bank its
//! parts name; each leg must make sense here on its own; a consent must allow each debit. Every
//! change is persisted with the batch it belongs to, before the vote that depends on it leaves
//! the engine (see `State::flush`). Phase two and the coordinator's log are in `decisions.rs`.

use super::{store_error, EngineError, EngineResult, State};
use crate::ledger::{LedgerError, PartKey};
use crate::store::{PartState, Participation, ProtocolChange};
use crate::twopc::proof::{Digest, Proof, SignedPlan};
use crate::twopc::{DebitSource, PartSpec, PrepareItem, Vote};
use domain::consent::ConsentId;
use domain::dto::MAX_PACKET_LEGS;
use domain::{AccountId, BankId, Cents, PixMessage, Refusal, TxId};
use std::collections::BTreeMap;

/// The furthest ahead a plan's deadline may be, from the participant's clock: a coordinator may
/// not pin a reservation for longer by promising to decide late.
pub const PLAN_HORIZON_MAX_MS: i64 = 5 * 60 * 1000;

impl State {
    /// This bank's record of `tx` as a participant, from the current batch or the store.
    pub(super) fn participation(&self, tx: &TxId) -> EngineResult<Option<Participation>> {
        if let Some(p) = self.participations_in_batch.get(tx) {
            return Ok(Some(*p));
        }
        self.store.participation(tx).map_err(store_error)
    }

    /// Records `tx`'s participation, with the signed plan prepared and the proof of the decision
    /// applied when there are (each stored once).
    pub(super) fn record_participation(
        &mut self,
        tx: &TxId,
        record: Participation,
        (plan, proof): (Option<&SignedPlan>, Option<&Proof>),
        now: i64,
    ) {
        self.participations_in_batch.insert(tx.clone(), record);
        self.protocol_changes.push(ProtocolChange::Participation {
            tx: tx.clone(),
            record,
            at_ms: now,
            plan: plan.map(|p| serde_json::to_string(p).expect("a plan serialises")),
            proof: proof.map(|p| serde_json::to_string(p).expect("a proof serialises")),
        });
    }

    /// Records `tx`'s new state, keeping what `previous` knew of it.
    pub(super) fn set_state(
        &mut self,
        tx: &TxId,
        previous: Participation,
        state: PartState,
        proof: Option<&Proof>,
        now: i64,
    ) {
        let record = Participation { state, ..previous };
        self.record_participation(tx, record, (None, proof), now);
    }

    /// Phase one at this bank: reserves every part of `item`, or none and says why.
    /// `plan_signed` says whether the item's plan carries its coordinator's valid signature
    /// (checked off the engine thread, by [`super::EngineHandle::prepare`]).
    ///
    /// A transaction id names exactly one plan here: a prepare for an id this bank already knows
    /// is answered from its record only if it is the same plan (a retry); another plan is
    /// refused, whatever state the id is in, and nothing changes.
    pub(super) fn prepare_item(
        &mut self,
        coordinator: BankId,
        (item, plan_signed): (PrepareItem, bool),
        now: i64,
    ) -> Vote {
        let me = self.config.bank.id;
        let refuse = |reason: Refusal| Vote::Refused { leg: 0, reason };
        let parts = item.parts_sha256();
        let tx = item.tx.clone();
        let plan = item.plan.as_ref().map(|p| (p.hash(), p.plan.decide_by_ms));
        if let Some(answer) = self.known_id(coordinator, &tx, parts, plan) {
            return answer;
        }
        let record = Participation {
            coordinator,
            state: PartState::Aborted,
            parts: Some(parts),
            plan,
        };
        let abort = |state: &mut State, vote: Vote| {
            state.record_participation(&tx, record, (item.plan.as_ref(), None), now);
            vote
        };
        if coordinator != me {
            if let Err(reason) = self.check_plan(coordinator, &item, plan_signed, now) {
                return abort(self, refuse(reason));
            }
        }
        if item.parts.is_empty() || item.parts.len() > 2 * MAX_PACKET_LEGS {
            return abort(self, refuse(Refusal::InvalidParts { bank: me }));
        }
        let window = match self.plan_window(item.plan.as_ref().map_or(0, |p| p.plan.window), now) {
            Ok(window) => window,
            Err(reason) => return abort(self, refuse(reason)),
        };
        let reserved = match item.parts.as_slice() {
            // A key operation: alone in its item, reserved in the directory.
            [(0, PartSpec::Key(op))] => self
                .check_own_claim(coordinator, op)
                .and_then(|()| {
                    let keys = self.config.keyring.clone();
                    self.directory
                        .prepare((me, &keys), &tx, coordinator, op.clone(), now)
                })
                .map_err(refuse),
            _ => self.reserve_parts(coordinator, &item, now),
        };
        match reserved {
            Ok(()) => {
                let prepared = Participation {
                    state: PartState::Prepared,
                    ..record
                };
                self.record_participation(&tx, prepared, (item.plan.as_ref(), None), now);
                if self.ledger.prepared(&tx).is_some() {
                    self.window_tags.insert(tx, window);
                }
                Vote::Prepared
            }
            Err(vote) => abort(self, vote),
        }
    }

    /// The answer to a prepare of an id this bank already knows (or cannot tell whether it
    /// does): its vote again for the same plan, a refusal for anything else; `None` for a new
    /// id, the only kind that reserves anything.
    fn known_id(
        &self,
        coordinator: BankId,
        tx: &TxId,
        parts: [u8; 32],
        plan: Option<(Digest, i64)>,
    ) -> Option<Vote> {
        let me = self.config.bank.id;
        let refuse = |reason: Refusal| Some(Vote::Refused { leg: 0, reason });
        match self.participation(tx) {
            Err(_) => return refuse(Refusal::RecordsUnreadable { bank: me }),
            Ok(Some(p)) if p.coordinator != coordinator => {
                return refuse(Refusal::TxIdInUse { bank: me })
            }
            Ok(Some(p)) if p.state == PartState::Aborted => {
                return refuse(Refusal::AlreadyCancelled { bank: me })
            }
            Ok(Some(p)) if p.parts != Some(parts) || (p.plan.is_some() && p.plan != plan) => {
                return refuse(Refusal::TxIdReused { bank: me })
            }
            // A repeated prepare of the same plan (the coordinator retried, or restarted and
            // retried the packet).
            Ok(Some(_)) => return Some(Vote::Prepared),
            Ok(None) => {}
        }
        if plan.is_some_and(|(hash, _)| self.refused_plans.contains_key(&hash)) {
            return refuse(Refusal::AlreadyCancelled { bank: me });
        }
        match self.previous_use(tx) {
            Ok(None) => None,
            Ok(Some(_)) => refuse(Refusal::TxIdInUse { bank: me }),
            Err(_) => refuse(Refusal::RecordsUnreadable { bank: me }),
        }
    }

    /// Reserves every money part of `item` here, consents drawn first, or none (what was
    /// reserved or drawn undone) and says which leg failed and why.
    fn reserve_parts(
        &mut self,
        coordinator: BankId,
        item: &PrepareItem,
        now: i64,
    ) -> Result<(), Vote> {
        let refused = |(leg, reason): (u16, Refusal)| Vote::Refused { leg, reason };
        // The item must make sense here on its own before anything is drawn or reserved.
        let intra = item.legs_here(self.config.bank.id).map_err(refused)?;
        // Every consent this item draws on is checked, and counted for its total, before
        // anything is reserved: a refusal reserves nothing.
        let consent_owners = self
            .draw_consents(coordinator, &item.parts, now)
            .map_err(refused)?;
        let mut debits: Vec<(u16, AccountId)> = Vec::new();
        for ((leg, spec), intra) in item.parts.iter().cloned().zip(intra) {
            if let Err(reason) = self.prepare_part(
                &item.tx,
                coordinator,
                (leg, spec),
                (intra, &consent_owners),
                &mut debits,
                now,
            ) {
                // Undo what this item reserved and drew: the entries stay in history as aborted.
                if self.ledger.prepared(&item.tx).is_some() {
                    self.ledger
                        .abort(&item.tx, now)
                        .expect("parts were just prepared");
                }
                for (consent, (_, total)) in &consent_owners {
                    self.consents.release(consent, *total, now);
                }
                // A charge this item reserved is open again.
                self.charges.settle(&item.tx, false, now);
                return Err(Vote::Refused { leg, reason });
            }
        }
        Ok(())
    }

    /// Whether `item`'s plan, from `coordinator`, makes sense at this bank: signed by that
    /// coordinator (`signed`), about this id, naming this bank with the hash of exactly these
    /// parts and every bank these parts name as their other side, to be decided soon but not
    /// already past; a key operation's plan names every member (each keeps a copy of the
    /// directory, so leaving one out, above all the key's owner, is refused by all).
    fn check_plan(
        &self,
        coordinator: BankId,
        item: &PrepareItem,
        signed: bool,
        now: i64,
    ) -> Result<(), Refusal> {
        let me = self.config.bank.id;
        let invalid = Refusal::InvalidParts { bank: me };
        let Some(p) = item.plan.as_ref().map(|p| &p.plan) else {
            return Err(invalid);
        };
        let takes_part = |bank: BankId| p.parts_of(bank).is_some();
        let others_named = item.parts.iter().all(|(_, spec)| match spec {
            PartSpec::Debit { to, .. } => takes_part(to.bank),
            PartSpec::Credit { from, .. } => takes_part(from.bank),
            PartSpec::ReturnDebit { to, .. } => takes_part(to.bank),
            PartSpec::ReturnCredit { from, .. } => takes_part(from.bank),
            PartSpec::ChargeCredit { from, .. } => takes_part(from.bank),
            PartSpec::Key(_) => p.participants().eq(self.config.keyring.members()),
        });
        let fits = signed
            && p.tx == item.tx
            && p.coordinator == coordinator
            && p.parts_of(me) == Some(Digest(item.parts_sha256()))
            && others_named;
        if !fits {
            return Err(invalid);
        }
        if p.decide_by_ms < now || p.decide_by_ms > now.saturating_add(PLAN_HORIZON_MAX_MS) {
            return Err(Refusal::Expired);
        }
        Ok(())
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
    pub(super) fn abort_parts(&mut self, tx: &TxId, now: i64) -> Result<(), crate::LedgerError> {
        let draws: Vec<(ConsentId, Cents, i64)> = self
            .ledger
            .prepared(tx)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.consent.clone().map(|c| (c, p.amount, p.prepared_ms)))
            .collect();
        self.ledger.abort(tx, now)?;
        self.window_tags.remove(tx);
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
            PartSpec::Debit {
                source,
                amount,
                to,
                message,
            } => {
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
                // The payer's limit for this period, own Pix or a draw on a consent alike.
                self.check_pix_limit(account, amount, now)?;
                let part = PartKey {
                    leg,
                    account,
                    peer: peer(to.bank),
                    consent,
                    returns: None,
                    message,
                };
                self.ledger
                    .prepare_debit(tx, part, amount, to, now)
                    .map_err(|e| refusal(e, me))?;
                debits.push((leg, account));
            }
            PartSpec::Credit {
                key,
                amount,
                from,
                message,
            } => {
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
                    returns: None,
                    message,
                };
                if let Some(peer) = part.peer {
                    self.check_limit(peer, amount)?;
                }
                self.ledger
                    .prepare_credit(tx, part, amount, from, now)
                    .map_err(|e| refusal(e, me))?;
            }
            PartSpec::ReturnDebit {
                account,
                original,
                leg: _,
                amount,
                to,
            } => {
                // The client's own account: only this bank, coordinating, names it.
                if coordinator != me || self.ledger.account(account).is_none() {
                    return Err(Refusal::NoSourceAccount { bank: me });
                }
                self.check_return(account, &original, amount, now)?;
                let part = PartKey {
                    leg,
                    account,
                    peer: peer(to.bank),
                    consent: None,
                    returns: Some(original),
                    message: PixMessage::none(),
                };
                self.ledger
                    .prepare_debit(tx, part, amount, to, now)
                    .map_err(|e| refusal(e, me))?;
                debits.push((leg, account));
            }
            PartSpec::ReturnCredit {
                original,
                leg: paid,
                amount,
                from,
            } => {
                let account = self.return_payer(&original, paid, from.bank, amount)?;
                if debits.contains(&(leg, account)) {
                    return Err(Refusal::SelfTransfer);
                }
                let part = PartKey {
                    leg,
                    account,
                    peer: peer(from.bank),
                    consent: None,
                    returns: Some(original),
                    message: PixMessage::none(),
                };
                if let Some(peer) = part.peer {
                    self.check_limit(peer, amount)?;
                }
                self.ledger
                    .prepare_credit(tx, part, amount, from, now)
                    .map_err(|e| refusal(e, me))?;
            }
            PartSpec::ChargeCredit {
                charge,
                amount,
                from,
            } => {
                // The charge's own account, while the charge is open, for its amount: reserved
                // for this transaction now, released if anything of the item fails (see
                // `reserve_parts`), paid or opened again by the decision.
                let account = self.charges.reserve(&charge, tx, amount, now)?;
                if debits.contains(&(leg, account)) {
                    return Err(Refusal::SelfTransfer);
                }
                if self.ledger.account(account).is_none() {
                    return Err(Refusal::UnknownReceiver { bank: me });
                }
                let part = PartKey {
                    leg,
                    account,
                    peer: peer(from.bank),
                    consent: None,
                    returns: None,
                    message: PixMessage::none(),
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

    /// Whether a credit of `amount` owed by `peer` keeps its net debt to this bank (outstanding
    /// and pending) within the limit the membership file gives it; a bank it does not list owes
    /// nothing here.
    /// A member past its deadline to pay a window it owes this bank may not owe it more (see
    /// [`crate::settlement::Windows::overdue`]), whatever its limit.
    pub(super) fn check_limit(&self, peer: BankId, amount: Cents) -> Result<(), Refusal> {
        if let Some(deadline_ms) = self.config.settlement_deadline_ms {
            let now = self.clock.now_ms();
            if let Some(window) = self.windows.overdue(peer, deadline_ms, now) {
                tracing::info!(bank = %peer, window, "a credit refused: the bank's window is overdue");
                return Err(Refusal::SettlementOverdue { bank: peer });
            }
        }
        let limit = self
            .config
            .limits
            .get(&peer)
            .copied()
            .unwrap_or(Cents::ZERO);
        let position = self.ledger.position(peer);
        // What settlement windows paid no longer counts: that is how a paid window unblocks.
        let exposure = i128::from(position.outstanding())
            + i128::from(position.pending)
            + i128::from(amount.get());
        if exposure > i128::from(limit.get()) {
            return Err(Refusal::LimitExceeded { bank: peer });
        }
        Ok(())
    }
}

/// What a ledger error while reserving a part means to the client.
pub fn refusal(e: LedgerError, me: BankId) -> Refusal {
    match e {
        LedgerError::InsufficientFunds => Refusal::InsufficientFunds,
        LedgerError::BalanceLimit => Refusal::BalanceLimit,
        LedgerError::InvalidAmount => Refusal::InvalidAmount,
        LedgerError::SelfTransfer => Refusal::SelfTransfer,
        LedgerError::TxIdConflict => Refusal::TxIdInUse { bank: me },
        LedgerError::UnknownAccount
        | LedgerError::UnknownTx
        | LedgerError::DuplicateEmail
        | LedgerError::InvalidLogins
        | LedgerError::DuplicateTaxId => Refusal::InvalidParts { bank: me },
    }
}
