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
use crate::proof::{BankKey, Keyring};
use domain::consent::ConsentId;
use domain::dto::{Counterparty, LegOutcome, LegState, PacketOutcome, TxStatus};
use domain::{AccountId, BankId, Cents, PixKey, PixMessage, Refusal, TxId};
use proof::{Ballot, Digest, Plan, Proof, SignedBallot, SignedPlan};
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
        /// The payer's message on this leg (protocol version 15), shown in the payer's
        /// statement. Left out when empty, so a part without one is written, hashed and signed
        /// as before version 15; a participant reads only a well-formed one ([`PixMessage`]'s
        /// deserialisation refuses anything else, and with it the whole request).
        #[serde(default, skip_serializing_if = "PixMessage::is_empty")]
        message: PixMessage,
    },
    /// A pending credit of `amount` to the account whose Pix key is `key`.
    Credit {
        key: PixKey,
        amount: Cents,
        from: Counterparty,
        /// The payer's message on this leg, shown in the receiver's statement (see `Debit`).
        #[serde(default, skip_serializing_if = "PixMessage::is_empty")]
        message: PixMessage,
    },
    /// A change to the key directory, proposed by the coordinating bank for one of its accounts
    /// (see [`crate::directory`]); sent to every member bank, alone in its item.
    Key(KeyOp),
    /// A devolução's debit (protocol version 8): `amount` of the submitter's own `account`,
    /// which received leg `leg` of Pix `original`, going back to its payer. Only the
    /// coordinator names it, for its own client, and checks it against what the account
    /// received, what it already returned, and the date.
    ReturnDebit {
        account: AccountId,
        original: TxId,
        leg: u16,
        amount: Cents,
        to: Counterparty,
    },
    /// A devolução's credit (protocol version 8): `amount` back to the account of this bank
    /// that paid leg `leg` of Pix `original` to the bank `from` names. No account is named: the
    /// participant finds it in its own history, and credits it only up to what it paid there,
    /// less what came back already, so a coordinator can do with it less than with a credit by
    /// key.
    ReturnCredit {
        original: TxId,
        leg: u16,
        amount: Cents,
        from: Counterparty,
    },
    /// A charge's payment (protocol version 9): `amount` to the account whose charge `charge`
    /// is. No account is named: the bank holding the charge credits the charge's own account,
    /// only while the charge is open and unexpired and for exactly its amount, and reserves the
    /// charge for this transaction with the credit (see [`crate::charges`]).
    ChargeCredit {
        charge: domain::charge::ChargeId,
        amount: Cents,
        from: Counterparty,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareItem {
    pub tx: TxId,
    /// (leg number, part) for every part of this packet at the receiving bank.
    pub parts: Vec<(u16, PartSpec)>,
    /// The coordinator's signed plan of the whole transaction (see [`proof`]): required by every
    /// participant but the coordinator itself.
    #[serde(default)]
    pub plan: Option<SignedPlan>,
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
                PartSpec::ReturnDebit { amount, to, .. } => debit.replace((*amount, to.bank)),
                PartSpec::ReturnCredit { amount, from, .. } => credit.replace((*amount, from.bank)),
                PartSpec::ChargeCredit { amount, from, .. } => credit.replace((*amount, from.bank)),
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
        // A devolução's debit and credit go together, on a leg of their own: a return cannot
        // pay a key, nor a debit by key be counted as a return.
        let returning = |wanted: bool| {
            self.parts.iter().filter_map(move |(leg, spec)| {
                let is_return = matches!(
                    spec,
                    PartSpec::ReturnDebit { .. } | PartSpec::ReturnCredit { .. }
                );
                (is_return == wanted).then_some(*leg)
            })
        };
        let return_legs: BTreeSet<u16> = returning(true).collect();
        if let Some(leg) = returning(false).find(|leg| return_legs.contains(leg)) {
            return Err(invalid(leg));
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
    /// What proves the decision: every participant checks it before applying it (`None` only
    /// for a transaction prepared before protocol version 6, or a bank's own part).
    #[serde(default)]
    pub proof: Option<Proof>,
}

impl DecideItem {
    /// The decision `proof` proves.
    pub fn proved(proof: Proof) -> DecideItem {
        DecideItem {
            tx: proof.tx().clone(),
            commit: proof.commit(),
            proof: Some(proof),
        }
    }
}

/// A question about a transaction in doubt: its id, and the plan the asker prepared (`None`
/// for one prepared before protocol version 6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub tx: TxId,
    pub plan: Option<SignedPlan>,
}

/// An answer about one transaction to a participant in doubt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// Decided, with the proof.
    Decided(Box<Proof>),
    /// Decided before decisions carried proof (protocol version 5 and earlier).
    Unproven { commit: bool },
    /// Still being decided, or not known here; ask again later.
    Pending,
}

impl Resolution {
    /// What a participant in doubt applies on the `answers` to its `questions`: the decided
    /// ones (nothing while pending); nothing at all from an answer of the wrong length.
    pub fn apply(questions: Vec<Question>, answers: Vec<Resolution>) -> Vec<DecideItem> {
        if answers.len() != questions.len() {
            return Vec::new();
        }
        questions
            .into_iter()
            .zip(answers)
            .filter_map(|(q, r)| r.decide(q.tx))
            .collect()
    }

    /// What a participant in doubt applies for `tx` on this answer: nothing while it is pending,
    /// or if the proof is about another transaction.
    pub fn decide(self, tx: TxId) -> Option<DecideItem> {
        match self {
            Resolution::Decided(proof) if *proof.tx() == tx => Some(DecideItem::proved(*proof)),
            Resolution::Decided(_) | Resolution::Pending => None,
            Resolution::Unproven { commit } => Some(DecideItem {
                tx,
                commit,
                proof: None,
            }),
        }
    }
}

/// What a participant answers another one about a plan they share (cooperative termination).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Termination {
    /// The decision this bank applied, with its proof.
    Decided(Box<Proof>),
    /// This bank's signed no: it refused the plan, or never prepared it and never will (its
    /// deadline has passed).
    Refuses(SignedBallot),
    /// This bank voted yes and knows no decision yet, or cannot tell now.
    Pending,
}

impl Termination {
    /// What a bank in doubt about `plan` may decide on this answer of another participant, at
    /// `now`: a proof it holds for that transaction; or, past the plan's deadline, its signed no
    /// (then no certificate can ever exist unless that participant contradicts itself, which its
    /// two signatures would prove). Nothing while it is pending.
    pub fn decide(self, plan: SignedPlan, now: i64) -> Option<DecideItem> {
        match self {
            Termination::Decided(proof) if proof.tx() == &plan.plan.tx => {
                Some(DecideItem::proved(*proof))
            }
            Termination::Refuses(no) if now > plan.plan.decide_by_ms => {
                Some(DecideItem::proved(Proof::Abort { plan, refusal: no }))
            }
            _ => None,
        }
    }
}

/// A transaction a participant holds in doubt: who coordinates it, since when, and its plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InDoubt {
    pub tx: TxId,
    pub coordinator: BankId,
    pub since_ms: i64,
    pub plan: Option<SignedPlan>,
}

/// A participant's transactions in doubt that are older than `cutoff_ms`, grouped by the
/// coordinator to ask, at most [`MAX_ITEMS_PER_MESSAGE`] each.
pub fn in_doubt_by_coordinator(
    in_doubt: Vec<InDoubt>,
    cutoff_ms: i64,
) -> BTreeMap<BankId, Vec<Question>> {
    let mut out: BTreeMap<BankId, Vec<Question>> = BTreeMap::new();
    for d in in_doubt {
        if d.since_ms > cutoff_ms {
            continue;
        }
        let list = out.entry(d.coordinator).or_default();
        if list.len() < MAX_ITEMS_PER_MESSAGE {
            list.push(Question {
                tx: d.tx,
                plan: d.plan,
            });
        }
    }
    out
}

/// Which account a leg credits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreditTo {
    /// The account the Pix key pays.
    Key(PixKey),
    /// A devolução: the account at the receiver's bank that paid leg `leg` of Pix `original`.
    Payer { original: TxId, leg: u16 },
    /// A charge's payment: the account whose charge it is, at the receiver's bank.
    Charge(domain::charge::ChargeId),
}

/// A charge's payment as the payer's bank runs it: which charge, its amount and its receiver as
/// the charge's bank described them (that bank checks them again when it prepares).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargePayment {
    pub charge: domain::charge::ChargeId,
    pub amount: Cents,
    pub receiver: Counterparty,
}

/// A devolução as the bank of the account returning it runs it: which leg of which Pix, how
/// much, and its payer as the returning account saw it (its bank is where the money goes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Devolution {
    pub original: TxId,
    pub leg: u16,
    pub amount: Cents,
    pub payer: Counterparty,
}

/// One leg as the coordinator plans it, after resolving the receiver's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegPlan {
    pub source_bank: BankId,
    pub source: DebitSource,
    pub receiver_bank: BankId,
    pub receiver_key: CreditTo,
    pub amount: Cents,
    /// The receiver as the payer sees it, and the payer as the receiver sees it.
    pub receiver: Counterparty,
    pub payer: Counterparty,
    /// The payer's message, carried by the leg's debit and credit (empty: none).
    pub message: PixMessage,
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

    /// A devolução by the client `submitter` at coordinator `me`, whose account's first holder
    /// (`holder`) names it to the payer: one leg, from that account back to the payer's bank.
    pub fn devolution(
        (tx, me, submitter): (TxId, BankId, AccountId),
        holder: &domain::dto::Holder,
        devolution: Devolution,
    ) -> PacketPlan {
        let Devolution {
            original,
            leg,
            amount,
            payer,
        } = devolution;
        PacketPlan {
            tx,
            submitter,
            legs: vec![LegPlan {
                source_bank: me,
                source: DebitSource::Own { account: submitter },
                receiver_bank: payer.bank,
                receiver_key: CreditTo::Payer { original, leg },
                amount,
                receiver: payer,
                payer: Counterparty {
                    name: holder.name.clone(),
                    key_masked: holder.tax_id.masked(),
                    bank: me,
                },
                message: PixMessage::none(),
            }],
            key_op: None,
        }
    }

    /// A charge's payment by the client `submitter` at coordinator `me`, whose account's first
    /// holder (`holder`) names it to the receiver: one leg, from that account to the charge.
    pub fn charge_payment(
        (tx, me, submitter): (TxId, BankId, AccountId),
        holder: &domain::dto::Holder,
        payment: ChargePayment,
    ) -> PacketPlan {
        let ChargePayment {
            charge,
            amount,
            receiver,
        } = payment;
        PacketPlan {
            tx,
            submitter,
            legs: vec![LegPlan {
                source_bank: me,
                source: DebitSource::Own { account: submitter },
                receiver_bank: receiver.bank,
                receiver_key: CreditTo::Charge(charge),
                amount,
                receiver,
                payer: Counterparty {
                    name: holder.name.clone(),
                    key_masked: holder.tax_id.masked(),
                    bank: me,
                },
                message: PixMessage::none(),
            }],
            key_op: None,
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
                plan: None,
            };
        }
        let mut parts = Vec::new();
        for (i, leg) in self.legs.iter().enumerate() {
            let n = i as u16;
            if let CreditTo::Payer {
                original,
                leg: paid,
            } = &leg.receiver_key
            {
                parts.extend(self.return_parts(bank, n, leg, (original, *paid)));
                continue;
            }
            if leg.source_bank == bank {
                parts.push((
                    n,
                    PartSpec::Debit {
                        source: leg.source.clone(),
                        amount: leg.amount,
                        to: leg.receiver.clone(),
                        message: leg.message.clone(),
                    },
                ));
            }
            if leg.receiver_bank == bank {
                let (amount, from) = (leg.amount, leg.payer.clone());
                parts.push((
                    n,
                    match &leg.receiver_key {
                        CreditTo::Key(key) => PartSpec::Credit {
                            key: key.clone(),
                            amount,
                            from,
                            message: leg.message.clone(),
                        },
                        CreditTo::Charge(charge) => PartSpec::ChargeCredit {
                            charge: charge.clone(),
                            amount,
                            from,
                        },
                        CreditTo::Payer { .. } => unreachable!("returns are planned above"),
                    },
                ));
            }
        }
        PrepareItem {
            tx: self.tx.clone(),
            parts,
            plan: None,
        }
    }

    /// The parts at `bank` of leg `n`, a devolução of leg `paid` of Pix `original`: its debit
    /// draws on the submitter's own account (only the coordinator's own part may).
    fn return_parts(
        &self,
        bank: BankId,
        n: u16,
        leg: &LegPlan,
        (original, paid): (&TxId, u16),
    ) -> Vec<(u16, PartSpec)> {
        let mut parts = Vec::new();
        if leg.source_bank == bank {
            parts.push((
                n,
                PartSpec::ReturnDebit {
                    account: self.submitter,
                    original: original.clone(),
                    leg: paid,
                    amount: leg.amount,
                    to: leg.receiver.clone(),
                },
            ));
        }
        if leg.receiver_bank == bank {
            parts.push((
                n,
                PartSpec::ReturnCredit {
                    original: original.clone(),
                    leg: paid,
                    amount: leg.amount,
                    from: leg.payer.clone(),
                },
            ));
        }
        parts
    }

    /// The plan as coordinator `me` signs it, deciding by `decide_by_ms`, in settlement window
    /// `window`, and the item for each of its participants (every bank a leg touches, and
    /// `me`), each carrying the plan.
    pub fn sign(
        &self,
        (me, key): (BankId, &BankKey),
        decide_by_ms: i64,
        window: u64,
    ) -> (SignedPlan, Vec<(BankId, PrepareItem)>) {
        let mut banks = self.participants();
        if !banks.contains(&me) {
            banks.push(me);
            banks.sort();
        }
        let mut items: Vec<(BankId, PrepareItem)> =
            banks.iter().map(|b| (*b, self.item_for(*b))).collect();
        let plan = SignedPlan::sign(
            key,
            Plan {
                tx: self.tx.clone(),
                coordinator: me,
                parts: items
                    .iter()
                    .map(|(b, item)| (*b, Digest(item.parts_sha256())))
                    .collect(),
                decide_by_ms,
                window,
            },
        );
        for (_, item) in &mut items {
            item.plan = Some(plan.clone());
        }
        (plan, items)
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
                    receiver_key: CreditTo::Key(leg.receiver_key.clone()),
                    amount: leg.amount,
                    receiver,
                    payer: Counterparty {
                        name: first.name.clone(),
                        key_masked: first.tax_id.masked(),
                        bank: leg.source_bank,
                    },
                    message: leg.message.clone(),
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
    /// The signed plan and the other participants' signed yes votes, in the plan's order (all
    /// of them when `commit`): the coordinator adds its own ballot when it stores the decision
    /// (`State::log_decisions`), which makes the proof. `None` only in tests of a bank's log.
    pub ballots: Option<(SignedPlan, Vec<SignedBallot>)>,
    /// The first refusal heard, as the coordinator's own no names it.
    pub refusal: Option<(u16, Refusal)>,
}

struct Voting {
    plan: PacketPlan,
    signed: SignedPlan,
    waiting: BTreeSet<BankId>,
    /// First refusal heard: (leg, reason).
    refusals: Vec<(u16, Refusal)>,
    /// The signed yes votes heard, by voter.
    yes: BTreeMap<BankId, SignedBallot>,
}

/// Phase one for a batch of packets started during one token visit.
pub struct Round {
    me: BankId,
    packets: Vec<Voting>,
    waiting: BTreeSet<BankId>,
}

impl Round {
    /// Starts phase one: signs each plan as coordinator `me` (to be decided by
    /// `decide_by_ms`, in settlement window `window`); returns the round and the prepare
    /// messages, one per participant (this bank's own among them when it has parts).
    pub fn start(
        plans: Vec<PacketPlan>,
        (me, key): (BankId, &BankKey),
        decide_by_ms: i64,
        window: u64,
    ) -> (Round, Vec<(BankId, Vec<PrepareItem>)>) {
        let mut messages: BTreeMap<BankId, Vec<PrepareItem>> = BTreeMap::new();
        let mut packets = Vec::with_capacity(plans.len());
        for plan in plans {
            let (signed, items) = plan.sign((me, key), decide_by_ms, window);
            let mut waiting = BTreeSet::new();
            for (bank, item) in items {
                // The coordinator's own empty part needs no engine: its ballot is its decision.
                if bank == me && item.parts.is_empty() {
                    continue;
                }
                waiting.insert(bank);
                messages.entry(bank).or_default().push(item);
            }
            packets.push(Voting {
                plan,
                signed,
                waiting,
                refusals: Vec::new(),
                yes: BTreeMap::new(),
            });
        }
        let waiting = messages.keys().copied().collect();
        (
            Round {
                me,
                packets,
                waiting,
            },
            messages.into_iter().collect(),
        )
    }

    /// The votes of `bank`, in the order of the items it was sent; `None` if it did not answer
    /// (timeout, refusal, garbage): every packet it is in then aborts. Each vote of another bank
    /// must be its signed ballot on that packet's plan (checked with `keys`), or the whole answer
    /// counts as none. This bank's own engine votes unsigned (its ballot is its decision).
    pub fn on_votes(&mut self, bank: BankId, votes: Option<Vec<SignedBallot>>, keys: &Keyring) {
        if !self.waiting.contains(&bank) {
            return; // not a participant, or a duplicate answer
        }
        let mine = bank == self.me;
        let expected: Vec<&Voting> = self
            .packets
            .iter()
            .filter(|p| p.waiting.contains(&bank))
            .collect();
        let valid = votes.filter(|v| {
            v.len() == expected.len()
                && v.iter().zip(&expected).all(|(b, p)| {
                    if mine {
                        b.ballot.tx == p.signed.plan.tx && b.ballot.voter == bank
                    } else {
                        b.is_for(&p.signed.plan.tx, p.signed.hash(), bank, keys)
                    }
                })
        });
        self.record(bank, valid);
    }

    /// This bank's own engine's votes on its own items (unsigned).
    pub fn on_own_votes(&mut self, votes: Option<Vec<Vote>>) {
        let me = self.me;
        let ballots = votes.map(|votes| {
            self.packets
                .iter()
                .filter(|p| p.waiting.contains(&me))
                .zip(votes)
                .map(|(p, vote)| SignedBallot {
                    ballot: Ballot {
                        tx: p.signed.plan.tx.clone(),
                        plan: p.signed.hash(),
                        voter: me,
                        vote,
                    },
                    sig: crate::proof::Sig([0; 64]),
                })
                .collect::<Vec<_>>()
        });
        let expected = self
            .packets
            .iter()
            .filter(|p| p.waiting.contains(&me))
            .count();
        let ballots = ballots.filter(|b| b.len() == expected);
        self.record(me, ballots);
    }

    fn record(&mut self, bank: BankId, votes: Option<Vec<SignedBallot>>) {
        if !self.waiting.remove(&bank) {
            return;
        }
        let mut votes = votes.map(|v| v.into_iter());
        for packet in self
            .packets
            .iter_mut()
            .filter(|p| p.waiting.contains(&bank))
        {
            packet.waiting.remove(&bank);
            match votes.as_mut().and_then(Iterator::next) {
                Some(b) if b.ballot.yes() => {
                    packet.yes.insert(bank, b);
                }
                Some(SignedBallot {
                    ballot:
                        Ballot {
                            vote: Vote::Refused { leg, reason },
                            ..
                        },
                    ..
                }) => packet.refusals.push((leg, reason)),
                Some(_) => unreachable!("a ballot is a yes or a refusal"),
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
        let me = self.me;
        self.packets.into_iter().map(|p| decide(p, me)).collect()
    }
}

fn decide(packet: Voting, me: BankId) -> Decision {
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
    // The other participants' yes votes, in the plan's order; the coordinator's own ballot is
    // added when the decision is stored.
    let votes = packet
        .signed
        .plan
        .participants()
        .filter(|b| *b != me)
        .filter_map(|b| packet.yes.get(&b).cloned())
        .collect();
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
        refusal: packet.refusals.first().copied(),
        ballots: Some((packet.signed, votes)),
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
    /// What proves it to them (`None`: a decision without a signed plan).
    pub proof: Option<Proof>,
}

/// A stored decision some participants have not acknowledged yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unacked {
    pub tx: TxId,
    pub commit: bool,
    pub proof: Option<Proof>,
    pub banks: Vec<BankId>,
}

mod delivery;
pub use delivery::{Deliveries, DeliveryConfig};

pub mod proof;

#[cfg(test)]
mod tests;
