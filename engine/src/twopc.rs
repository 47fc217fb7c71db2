//! Two-phase commit across banks, as pure state machines (sans-IO) plus the messages banks send.
//!
//! A *packet* is a list of legs (source account at some bank -> receiver key at some bank); a
//! single inter-bank Pix is a packet of one leg. The bank where the client is logged in
//! coordinates; every bank named by a leg (the coordinator too) is a participant.
//!
//! # Protocol
//! 1. Prepare (only while the coordinator holds the token): [`Round`] sends each participant one
//!    [`PrepareItem`] per packet with all the packet's parts at that bank. The participant reserves
//!    them all (debits move `available` to `blocked`, credits become `incoming`) and stores them and
//!    a *prepared* record in one durable transaction before it votes [`Vote::Prepared`]; or it
//!    reserves nothing and votes [`Vote::Refused`]. Votes for many packets travel in one message per
//!    peer. A peer that does not answer in time votes no.
//! 2. Decide: commit if every part of a packet was prepared, else abort. The coordinator stores the
//!    decision durably (the first decision stored for a transaction is final) before anyone hears it.
//! 3. Deliver: [`Deliveries`] sends each decision to each participant, batched per peer, retrying
//!    with exponential backoff until every one acknowledged it (a decision for something the
//!    participant never prepared is acknowledged too, and recorded so that a late prepare is refused).
//!    Decisions for a peer ride on the next prepare message to it when there is one within
//!    `linger_ms` ([`Deliveries::take_for`]); the participant applies them before the new items, in
//!    the same durable transaction, and acknowledges them with its votes. Otherwise they go on their
//!    own.
//!
//! Recovery: a coordinator restarts with its unacknowledged decisions and delivers them again. A
//! participant with a transaction prepared for longer than a timeout asks its coordinator; a
//! coordinator with no decision and no packet in flight for that id answers *abort* and stores that
//! answer as its decision (presumed abort), so a later attempt with the same id cannot commit.
//!
//! Safety does not rest on the token: reservations are per account and decisions are durable and
//! final, so even two holders at once (a partition) cannot create, lose or double-spend money.

use crate::directory::KeyOp;
use domain::consent::ConsentId;
use domain::dto::{Counterparty, LegOutcome, LegState, PacketOutcome, TxStatus};
use domain::{AccountId, BankId, Cents, PixKey, Refusal, TxId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most transactions in one prepare or decide message.
pub const MAX_ITEMS_PER_MESSAGE: usize = 256;

/// Which account a debit draws on. Nothing is debited by CPF/CNPJ: either the client's own
/// account at the coordinator, or an account whose owner gave the client's account a consent at
/// the bank that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DebitSource {
    /// The submitter's own account; only the coordinator itself may name it (its own part).
    Own { account: AccountId },
    /// The account consent `consent` lets `grantee` (the submitter's account at the coordinator)
    /// draw on; the bank holding it checks the consent before anything is reserved.
    Consent {
        consent: ConsentId,
        grantee: AccountId,
    },
}

/// One part of a packet at one bank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartSpec {
    /// Reserve `amount` of the account `source` names.
    Debit {
        source: DebitSource,
        amount: Cents,
        to: Counterparty,
    },
    /// A pending credit of `amount` to the account whose Pix key is `key`.
    Credit {
        key: PixKey,
        amount: Cents,
        from: Counterparty,
    },
    /// A change to the key directory, proposed by the coordinating bank for one of its accounts
    /// (see [`crate::directory`]); sent to every member bank, alone in its item.
    Key(KeyOp),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareItem {
    pub tx: TxId,
    /// (leg number, part) for every part of this packet at the receiving bank.
    pub parts: Vec<(u16, PartSpec)>,
}

impl PrepareItem {
    /// SHA-256 of the parts (their JSON, which serde writes in one fixed order): what a
    /// participant remembers so that a transaction id names exactly one set of parts.
    pub fn parts_sha256(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(&self.parts).expect("parts serialise");
        Sha256::digest(json).into()
    }

    /// Whether each part's leg lies inside bank `me`, once the item's shape makes sense there on
    /// its own; otherwise the first leg that does not, and why.
    ///
    /// A participant trusts nothing of the coordinator's picture it can check itself. A leg
    /// counts as inside this bank only if exactly one debit and one credit share it, with equal
    /// amounts, each naming this bank as the other side: then no position moves and no limit
    /// applies, so a debit of R$ 0,01 beside a credit of R$ 1 bn on one leg would otherwise
    /// mint money. Any other leg has one part here, whose other side is another bank (its
    /// position is then with the coordinator, within its limit). Two debits or two credits on
    /// one leg are no leg at all.
    pub fn legs_here(&self, me: BankId) -> Result<Vec<bool>, (u16, Refusal)> {
        let invalid = |leg: u16| (leg, Refusal::InvalidParts { bank: me });
        // Per leg: its debit (amount, other side) and its credit, at most one of each.
        type Side = Option<(Cents, BankId)>;
        let mut legs: BTreeMap<u16, (Side, Side)> = BTreeMap::new();
        for (leg, spec) in &self.parts {
            let (debit, credit) = legs.entry(*leg).or_default();
            let slot = match spec {
                PartSpec::Debit { amount, to, .. } => debit.replace((*amount, to.bank)),
                PartSpec::Credit { amount, from, .. } => credit.replace((*amount, from.bank)),
                PartSpec::Key(_) => return Err(invalid(*leg)),
            };
            if slot.is_some() {
                return Err(invalid(*leg));
            }
        }
        for (leg, sides) in &legs {
            let fits = match *sides {
                (Some((paid, to)), Some((credited, from))) => {
                    paid == credited && to == me && from == me
                }
                (Some((_, to)), None) => to != me,
                (None, Some((_, from))) => from != me,
                (None, None) => false,
            };
            if !fits {
                return Err(invalid(*leg));
            }
        }
        Ok(self
            .parts
            .iter()
            .map(|(leg, _)| matches!(legs.get(leg), Some((Some(_), Some(_)))))
            .collect())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vote {
    Prepared,
    Refused { leg: u16, reason: Refusal },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideItem {
    pub tx: TxId,
    pub commit: bool,
}

/// A coordinator's answer about one transaction to a participant in doubt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    Commit,
    Abort,
    /// Still being decided; ask again later.
    Pending,
}

impl Resolution {
    /// The coordinator's stored decision, as an answer.
    pub fn decided(commit: bool) -> Resolution {
        if commit {
            Resolution::Commit
        } else {
            Resolution::Abort
        }
    }

    /// The coordinator's answer to bank `bank` about a transaction it has decided. A commit is
    /// told only to the banks it is for: anything another bank prepared under this id belongs
    /// to no committed plan, so that bank hears "abort". (A decision stored before participants
    /// were recorded is told as it is.)
    pub fn for_bank(decision: &crate::store::StoredDecision, bank: BankId) -> Resolution {
        let ours = decision
            .participants
            .as_ref()
            .is_none_or(|p| p.contains(&bank));
        Resolution::decided(decision.commit && ours)
    }

    /// What a participant in doubt applies on its coordinator's `answers` to `txs`: the decided
    /// ones (nothing while pending); nothing at all from an answer of the wrong length.
    pub fn apply(txs: Vec<TxId>, answers: Vec<Resolution>) -> Vec<DecideItem> {
        if answers.len() != txs.len() {
            return Vec::new();
        }
        txs.into_iter()
            .zip(answers)
            .filter_map(|(tx, r)| r.decide(tx))
            .collect()
    }

    /// What a participant in doubt applies for `tx` on this answer: nothing while it is pending.
    pub fn decide(self, tx: TxId) -> Option<DecideItem> {
        match self {
            Resolution::Commit => Some(DecideItem { tx, commit: true }),
            Resolution::Abort => Some(DecideItem { tx, commit: false }),
            Resolution::Pending => None,
        }
    }
}

/// A participant's transactions in doubt (`(tx, coordinator, prepared at)`) that are older than
/// `cutoff_ms`, grouped by the coordinator to ask, at most [`MAX_ITEMS_PER_MESSAGE`] each.
pub fn in_doubt_by_coordinator(
    in_doubt: Vec<(TxId, BankId, i64)>,
    cutoff_ms: i64,
) -> BTreeMap<BankId, Vec<TxId>> {
    let mut out: BTreeMap<BankId, Vec<TxId>> = BTreeMap::new();
    for (tx, coordinator, since) in in_doubt {
        if since > cutoff_ms {
            continue;
        }
        let list = out.entry(coordinator).or_default();
        if list.len() < MAX_ITEMS_PER_MESSAGE {
            list.push(tx);
        }
    }
    out
}

/// One leg as the coordinator plans it, after resolving the receiver's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegPlan {
    pub source_bank: BankId,
    pub source: DebitSource,
    pub receiver_bank: BankId,
    pub receiver_key: PixKey,
    pub amount: Cents,
    /// The receiver as the payer sees it, and the payer as the receiver sees it.
    pub receiver: Counterparty,
    pub payer: Counterparty,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketPlan {
    pub tx: TxId,
    /// The client account (at the coordinator) that submitted the packet: its outcome is theirs.
    pub submitter: AccountId,
    pub legs: Vec<LegPlan>,
    /// For a key operation instead of transfers: the operation, and every member bank (each
    /// keeps a copy of the directory, so each takes part).
    pub key_op: Option<(KeyOp, Vec<BankId>)>,
}

impl PacketPlan {
    /// A key operation of the client `submitter`, at every bank of `members`.
    pub fn key_op(tx: TxId, submitter: AccountId, op: KeyOp, members: Vec<BankId>) -> PacketPlan {
        PacketPlan {
            tx,
            submitter,
            legs: Vec::new(),
            key_op: Some((op, members)),
        }
    }

    /// The banks taking part, in ascending order.
    pub fn participants(&self) -> Vec<BankId> {
        let set: BTreeSet<BankId> = match &self.key_op {
            Some((_, members)) => members.iter().copied().collect(),
            None => self
                .legs
                .iter()
                .flat_map(|l| [l.source_bank, l.receiver_bank])
                .collect(),
        };
        set.into_iter().collect()
    }

    /// The parts at `bank`, as one prepare item.
    pub fn item_for(&self, bank: BankId) -> PrepareItem {
        if let Some((op, _)) = &self.key_op {
            return PrepareItem {
                tx: self.tx.clone(),
                parts: vec![(0, PartSpec::Key(op.clone()))],
            };
        }
        let mut parts = Vec::new();
        for (i, leg) in self.legs.iter().enumerate() {
            let n = i as u16;
            if leg.source_bank == bank {
                parts.push((
                    n,
                    PartSpec::Debit {
                        source: leg.source.clone(),
                        amount: leg.amount,
                        to: leg.receiver.clone(),
                    },
                ));
            }
            if leg.receiver_bank == bank {
                parts.push((
                    n,
                    PartSpec::Credit {
                        key: leg.receiver_key.clone(),
                        amount: leg.amount,
                        from: leg.payer.clone(),
                    },
                ));
            }
        }
        PrepareItem {
            tx: self.tx.clone(),
            parts,
        }
    }
}

/// A leg ready to prepare: where its money comes from and who receives it.
type PlannedLeg = (DebitSource, Counterparty);
/// A leg refused at planning, with its receiver when it was found.
type RefusedLeg = (Refusal, Option<Counterparty>);

impl PacketPlan {
    /// Plans `packet` for the client `submitter` at coordinator `me`, whose account's holders are
    /// `holders` (the first one names the payer), with `consents` (the submitter's links: a
    /// consent per other bank it may draw on), once each leg's receiver has been looked up at its
    /// bank (`receivers`, in leg order). A leg whose receiver could not be found, or that draws
    /// on a bank the client has no consent at, refuses the whole packet before anything is
    /// reserved: the outcome names each such leg.
    pub fn build(
        (tx, me, submitter): (TxId, BankId, AccountId),
        holders: &[domain::dto::Holder],
        consents: &BTreeMap<BankId, ConsentId>,
        packet: &domain::packet::Packet,
        receivers: Vec<Result<Counterparty, Refusal>>,
    ) -> Result<PacketPlan, PacketOutcome> {
        let legs = packet.legs();
        let source = |bank: BankId| -> Result<DebitSource, Refusal> {
            if bank == me {
                return Ok(DebitSource::Own { account: submitter });
            }
            let consent = consents
                .get(&bank)
                .cloned()
                .ok_or(Refusal::NoConsent { bank })?;
            Ok(DebitSource::Consent {
                consent,
                grantee: submitter,
            })
        };
        let planned: Vec<Result<PlannedLeg, RefusedLeg>> = legs
            .iter()
            .enumerate()
            .map(|(i, leg)| {
                let receiver = receivers.get(i).cloned().unwrap_or(Err(Refusal::NoAnswer {
                    bank: leg.receiver_bank,
                }));
                match (receiver, source(leg.source_bank)) {
                    (Ok(r), Ok(s)) => Ok((s, r)),
                    (Ok(r), Err(why)) => Err((why, Some(r))),
                    (Err(why), _) => Err((why, None)),
                }
            })
            .collect();
        if planned.iter().any(Result::is_err) || holders.is_empty() {
            let refused = legs
                .iter()
                .zip(planned)
                .map(|(leg, p)| {
                    let (error, receiver) = match p {
                        Ok((_, r)) => (None, Some(r)),
                        Err((why, r)) => (Some(why), r),
                    };
                    LegOutcome {
                        status: TxStatus::Aborted,
                        error,
                        receiver,
                        amount: leg.amount,
                    }
                })
                .collect();
            return Err(PacketOutcome {
                tx_id: tx,
                status: TxStatus::Aborted,
                legs: refused,
            });
        }
        let first = &holders[0];
        let legs = legs
            .iter()
            .zip(planned)
            .map(|(leg, p)| {
                let (source, receiver) = p.expect("checked above");
                LegPlan {
                    source_bank: leg.source_bank,
                    source,
                    receiver_bank: leg.receiver_bank,
                    receiver_key: leg.receiver_key.clone(),
                    amount: leg.amount,
                    receiver,
                    payer: Counterparty {
                        name: first.name.clone(),
                        key_masked: first.tax_id.masked(),
                        bank: leg.source_bank,
                    },
                }
            })
            .collect();
        Ok(PacketPlan {
            tx,
            submitter,
            legs,
            key_op: None,
        })
    }
}

/// The coordinator's decision on one packet, to be stored before it is delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub tx: TxId,
    pub commit: bool,
    pub participants: Vec<BankId>,
    pub submitter: AccountId,
    /// Every leg as (payer's bank, receiver's bank, amount): the coordinator's own positions
    /// move with the legs between two other banks.
    pub legs: Vec<(BankId, BankId, Cents)>,
    pub outcome: PacketOutcome,
}

struct Voting {
    plan: PacketPlan,
    waiting: BTreeSet<BankId>,
    /// First refusal heard: (leg, reason).
    refusals: Vec<(u16, Refusal)>,
}

/// Phase one for a batch of packets started during one token visit.
pub struct Round {
    packets: Vec<Voting>,
    waiting: BTreeSet<BankId>,
}

impl Round {
    /// Starts phase one; returns the round and the prepare messages, one per participant.
    pub fn start(plans: Vec<PacketPlan>) -> (Round, Vec<(BankId, Vec<PrepareItem>)>) {
        let mut messages: BTreeMap<BankId, Vec<PrepareItem>> = BTreeMap::new();
        let mut packets = Vec::with_capacity(plans.len());
        for plan in plans {
            let participants = plan.participants();
            for bank in &participants {
                messages
                    .entry(*bank)
                    .or_default()
                    .push(plan.item_for(*bank));
            }
            packets.push(Voting {
                plan,
                waiting: participants.into_iter().collect(),
                refusals: Vec::new(),
            });
        }
        let waiting = messages.keys().copied().collect();
        (Round { packets, waiting }, messages.into_iter().collect())
    }

    /// The votes of `bank`, in the order of the items it was sent; `None` if it did not answer
    /// (timeout, refusal, garbage): every packet it takes part in then aborts.
    pub fn on_votes(&mut self, bank: BankId, votes: Option<Vec<Vote>>) {
        if !self.waiting.remove(&bank) {
            return; // not a participant, or a duplicate answer
        }
        let mut votes = votes.map(|v| v.into_iter());
        let expected = self
            .packets
            .iter()
            .filter(|p| p.waiting.contains(&bank))
            .count();
        if votes.as_ref().is_some_and(|v| v.len() != expected) {
            votes = None; // an answer of the wrong shape counts as no answer
        }
        for packet in self
            .packets
            .iter_mut()
            .filter(|p| p.waiting.contains(&bank))
        {
            packet.waiting.remove(&bank);
            match votes.as_mut().and_then(Iterator::next) {
                Some(Vote::Prepared) => {}
                Some(Vote::Refused { leg, reason }) => packet.refusals.push((leg, reason)),
                None => {
                    let leg = packet
                        .plan
                        .legs
                        .iter()
                        .position(|l| l.source_bank == bank || l.receiver_bank == bank)
                        .unwrap_or(0);
                    packet
                        .refusals
                        .push((leg as u16, Refusal::NoAnswer { bank }));
                }
            }
        }
    }

    /// Per packet, where each leg stands: prepared once every bank of the leg voted yes, refused
    /// once one refused it (or did not answer).
    pub fn progress(&self) -> Vec<(TxId, Vec<LegState>)> {
        self.packets
            .iter()
            .map(|p| {
                let legs = p
                    .plan
                    .legs
                    .iter()
                    .enumerate()
                    .map(|(i, leg)| {
                        let refused = p.refusals.iter().any(|(l, _)| usize::from(*l) == i);
                        let waiting = p.waiting.contains(&leg.source_bank)
                            || p.waiting.contains(&leg.receiver_bank);
                        match (refused, waiting) {
                            (true, _) => LegState::Refused,
                            (false, true) => LegState::Waiting,
                            (false, false) => LegState::Prepared,
                        }
                    })
                    .collect();
                (p.plan.tx.clone(), legs)
            })
            .collect()
    }

    /// True once every participant has voted or been given up on.
    pub fn is_complete(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Banks whose votes are still missing.
    pub fn waiting_for(&self) -> impl Iterator<Item = BankId> + '_ {
        self.waiting.iter().copied()
    }

    /// The decisions, once [`Round::is_complete`].
    pub fn decisions(self) -> Vec<Decision> {
        assert!(self.waiting.is_empty(), "deciding before every vote is in");
        self.packets.into_iter().map(decide).collect()
    }
}

fn decide(packet: Voting) -> Decision {
    let commit = packet.refusals.is_empty();
    let status = if commit {
        TxStatus::Committed
    } else {
        TxStatus::Aborted
    };
    let mut legs: Vec<LegOutcome> = packet
        .plan
        .legs
        .iter()
        .enumerate()
        .map(|(i, leg)| LegOutcome {
            status,
            error: packet
                .refusals
                .iter()
                .find(|(l, _)| usize::from(*l) == i)
                .map(|(_, r)| *r),
            receiver: Some(leg.receiver.clone()),
            amount: leg.amount,
        })
        .collect();
    if packet.plan.key_op.is_some() {
        // A key operation is told as one leg of nothing, with the first refusal heard.
        legs.push(LegOutcome {
            status,
            error: packet.refusals.first().map(|(_, r)| *r),
            receiver: None,
            amount: Cents::ZERO,
        });
    }
    Decision {
        participants: packet.plan.participants(),
        submitter: packet.plan.submitter,
        legs: packet
            .plan
            .legs
            .iter()
            .map(|l| (l.source_bank, l.receiver_bank, l.amount))
            .collect(),
        tx: packet.plan.tx.clone(),
        commit,
        outcome: PacketOutcome {
            tx_id: packet.plan.tx,
            status,
            legs,
        },
    }
}

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub first_retry_ms: u64,
    pub max_retry_ms: u64,
    /// An attempt still in flight is not repeated before this long (the caller's request
    /// timeout), unless the caller reports it failed: a slow answer must not multiply messages.
    pub in_flight_ms: u64,
    /// A new decision waits up to this long for a prepare message to the same peer to ride on
    /// before it is sent on its own. Decisions for `me` (the coordinator's own engine, reached
    /// without a message) are due at once.
    pub linger_ms: u64,
    pub me: BankId,
}

/// One decision's delivery to one bank.
#[derive(Clone, Copy)]
struct Slot {
    next_ms: u64,
    backoff_ms: u64,
    busy_until_ms: u64,
}

struct Pending {
    commit: bool,
    unacked: BTreeMap<BankId, Slot>,
}

/// Puts a decision into an attempt unless an earlier attempt is still in flight; the next
/// attempt is then due after the backoff, which doubles.
fn send(
    tx: &TxId,
    commit: bool,
    slot: &mut Slot,
    items: &mut Vec<DecideItem>,
    now_ms: u64,
    config: &DeliveryConfig,
) {
    if slot.busy_until_ms > now_ms {
        return;
    }
    items.push(DecideItem {
        tx: tx.clone(),
        commit,
    });
    slot.busy_until_ms = now_ms + config.in_flight_ms;
    slot.next_ms = now_ms + slot.backoff_ms;
    slot.backoff_ms = (slot.backoff_ms * 2).min(config.max_retry_ms);
}

/// Phase two: decisions to deliver until every participant has acknowledged them.
pub struct Deliveries {
    config: DeliveryConfig,
    pending: BTreeMap<TxId, Pending>,
}

impl Deliveries {
    pub fn new(config: DeliveryConfig) -> Deliveries {
        Deliveries {
            config,
            pending: BTreeMap::new(),
        }
    }

    /// A durable decision to deliver to `banks`: to this bank at once, to the others on the next
    /// prepare message to them or after `linger_ms`.
    pub fn add(&mut self, tx: TxId, commit: bool, banks: &[BankId], now_ms: u64) {
        if banks.is_empty() {
            return;
        }
        let slot = |bank: BankId| Slot {
            next_ms: if bank == self.config.me {
                now_ms
            } else {
                now_ms + self.config.linger_ms
            },
            backoff_ms: self.config.first_retry_ms,
            busy_until_ms: 0,
        };
        let unacked = banks.iter().map(|b| (*b, slot(*b))).collect();
        self.pending.insert(tx, Pending { commit, unacked });
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether some participant has not acknowledged `tx`'s decision yet.
    pub fn is_pending(&self, tx: &TxId) -> bool {
        self.pending.contains_key(tx)
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The messages due now, at most [`MAX_ITEMS_PER_MESSAGE`] items each, one per bank. Each item
    /// sent is in flight until acknowledged, reported [failed](Deliveries::failed) or
    /// `in_flight_ms` passes; it is retried after its backoff, which then doubles (up to the
    /// maximum).
    pub fn due(&mut self, now_ms: u64) -> Vec<(BankId, Vec<DecideItem>)> {
        let mut out: BTreeMap<BankId, Vec<DecideItem>> = BTreeMap::new();
        for (tx, p) in &mut self.pending {
            for (bank, slot) in &mut p.unacked {
                let items = out.entry(*bank).or_default();
                if slot.next_ms <= now_ms && items.len() < MAX_ITEMS_PER_MESSAGE {
                    send(tx, p.commit, slot, items, now_ms, &self.config);
                }
            }
        }
        out.into_iter()
            .filter(|(_, items)| !items.is_empty())
            .collect()
    }

    /// Every decision `bank` has yet to acknowledge that is not in flight, due or not (at most
    /// [`MAX_ITEMS_PER_MESSAGE`]): to ride on a message about to go to that bank. They count as an
    /// attempt, exactly as if [`Deliveries::due`] had returned them.
    pub fn take_for(&mut self, bank: BankId, now_ms: u64) -> Vec<DecideItem> {
        let mut items = Vec::new();
        for (tx, p) in &mut self.pending {
            if items.len() >= MAX_ITEMS_PER_MESSAGE {
                break;
            }
            if let Some(slot) = p.unacked.get_mut(&bank) {
                send(tx, p.commit, slot, &mut items, now_ms, &self.config);
            }
        }
        items
    }

    /// The attempt carrying `txs` to `bank` ended without an acknowledgement (no answer, or the
    /// bank did not ack these): they may be retried once their backoff has passed.
    pub fn failed(&mut self, bank: BankId, txs: &[TxId]) {
        for tx in txs {
            if let Some(slot) = self
                .pending
                .get_mut(tx)
                .and_then(|p| p.unacked.get_mut(&bank))
            {
                slot.busy_until_ms = 0;
            }
        }
    }

    /// `bank` acknowledged `txs`. Returns the transactions this completed (every participant has
    /// acknowledged), for the caller to persist. Partial acknowledgements are kept in memory only:
    /// after a restart the decision goes to every participant again, and they acknowledge a
    /// duplicate; this spares the coordinator a write per acknowledgement.
    pub fn acked(&mut self, bank: BankId, txs: &[TxId]) -> Vec<TxId> {
        let mut out = Vec::new();
        for tx in txs {
            if let Some(p) = self.pending.get_mut(tx) {
                if p.unacked.remove(&bank).is_some() && p.unacked.is_empty() {
                    self.pending.remove(tx);
                    out.push(tx.clone());
                }
            }
        }
        out
    }

    /// When [`Deliveries::due`] will next have something to send.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.pending
            .values()
            .flat_map(|p| p.unacked.values().map(|s| s.next_ms.max(s.busy_until_ms)))
            .min()
    }
}

#[cfg(test)]
mod tests;
