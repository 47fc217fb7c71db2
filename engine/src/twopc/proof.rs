//! Decisions that carry proof (issue 24): what a coordinator signs, what each participant signs,
//! and what every bank checks on its own before it applies a decision.
//!
//! - A [`Plan`] is the coordinator's whole picture of a transaction: its id, every participant
//!   (the coordinator always among them) with the SHA-256 of the parts that participant is asked
//!   to prepare, and the time by which it will be decided. The coordinator signs it
//!   ([`SignedPlan`]); every prepare carries it, so a participant checks its own parts against
//!   its hash and sees who else takes part.
//! - A [`Ballot`] is one participant's vote on one plan (by its hash), signed by that
//!   participant ([`SignedBallot`]). A participant's yes is final for that plan; the
//!   coordinator signs its own ballot last, when it decides: yes only once every other
//!   participant's yes is in, no otherwise.
//! - A [`Proof`] of a decision: a commit carries the plan and every participant's signed yes
//!   for it (a *certificate*: anyone who holds it may finish the commit, with or without the
//!   coordinator); an abort carries the plan and a signed no of one participant.
//!
//! Signing two conflicting ballots for one plan is *equivocation*; the two signed ballots prove
//! it to anyone ([`Proof::contradicts`]).
//!
//! Checking a proof is pure: it needs only the consortium's public keys ([`Keyring`]).

use super::Vote;
use crate::proof::{BankKey, Keyring, Sig};
use domain::{BankId, TxId};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, carried as 64 hex digits in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}…", hex::encode(&self.0[..6]))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.as_bytes(), &mut bytes)
            .map_err(|_| serde::de::Error::custom("a digest is 64 hex digits"))?;
        Ok(Digest(bytes))
    }
}

/// The kinds of statement, as their signatures name them.
const PLAN_TAG: &str = "consorcio-plan/v1";
const BALLOT_TAG: &str = "consorcio-ballot/v1";

/// Most participants a plan may name: every member of the largest consortium a bank id allows.
pub const PLAN_PARTICIPANTS_MAX: usize = domain::BankId::MAX as usize;

/// The coordinator's whole picture of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub tx: TxId,
    pub coordinator: BankId,
    /// Every participant, in ascending order, with the SHA-256 of its parts
    /// ([`super::PrepareItem::parts_sha256`]); the coordinator is always one of them.
    pub parts: Vec<(BankId, Digest)>,
    /// The coordinator decides by then (its clock), or aborts. Past it, and a grace the
    /// participant's engine sets, a participant that holds no proof may abort on its own.
    pub decide_by_ms: i64,
    /// The settlement window the transfer counts in, on both sides, whenever phase two arrives:
    /// the one open at the coordinator when it signed (it learned it from the token; see
    /// `crate::settlement`). 0 from a coordinator of protocol version 11 or older: the window open
    /// here when it is prepared. Absent from the JSON when 0, so that an older plan hashes as
    /// it was signed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub window: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Plan {
    fn statement(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a plan serialises")
    }

    /// What ballots and proofs name the plan by.
    pub fn hash(&self) -> Digest {
        Digest::of(&crate::proof::tagged(PLAN_TAG, &self.statement()))
    }

    /// The participants, in ascending order.
    pub fn participants(&self) -> impl Iterator<Item = BankId> + '_ {
        self.parts.iter().map(|(b, _)| *b)
    }

    /// The hash of `bank`'s parts, if it takes part.
    pub fn parts_of(&self, bank: BankId) -> Option<Digest> {
        self.parts.iter().find(|(b, _)| *b == bank).map(|(_, d)| *d)
    }

    /// Whether the plan is well formed: participants ascending and distinct, at most
    /// [`PLAN_PARTICIPANTS_MAX`], the coordinator among them.
    pub fn well_formed(&self) -> bool {
        self.parts.len() <= PLAN_PARTICIPANTS_MAX
            && self.parts.windows(2).all(|w| w[0].0 < w[1].0)
            && self.parts_of(self.coordinator).is_some()
    }
}

/// A plan with its coordinator's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPlan {
    pub plan: Plan,
    pub sig: Sig,
}

impl SignedPlan {
    pub fn sign(key: &BankKey, plan: Plan) -> SignedPlan {
        let sig = key.sign_statement(PLAN_TAG, &plan.statement());
        SignedPlan { plan, sig }
    }

    /// Whether its coordinator signed it and it is well formed.
    pub fn verify(&self, keys: &Keyring) -> bool {
        self.plan.well_formed()
            && keys.verify(
                self.plan.coordinator,
                PLAN_TAG,
                &self.plan.statement(),
                &self.sig,
            )
    }

    pub fn hash(&self) -> Digest {
        self.plan.hash()
    }
}

/// One participant's vote on one plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    pub tx: TxId,
    pub plan: Digest,
    pub voter: BankId,
    pub vote: Vote,
}

impl Ballot {
    fn statement(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a ballot serialises")
    }

    pub fn yes(&self) -> bool {
        self.vote == Vote::Prepared
    }
}

/// A ballot with its voter's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBallot {
    pub ballot: Ballot,
    pub sig: Sig,
}

impl SignedBallot {
    pub fn sign(key: &BankKey, ballot: Ballot) -> SignedBallot {
        let sig = key.sign_statement(BALLOT_TAG, &ballot.statement());
        SignedBallot { ballot, sig }
    }

    /// Whether its voter signed it.
    pub fn verify(&self, keys: &Keyring) -> bool {
        keys.verify(
            self.ballot.voter,
            BALLOT_TAG,
            &self.ballot.statement(),
            &self.sig,
        )
    }

    /// Whether it is `voter`'s signed ballot on `plan` (of transaction `tx`).
    pub fn is_for(&self, tx: &TxId, plan: Digest, voter: BankId, keys: &Keyring) -> bool {
        self.ballot.tx == *tx
            && self.ballot.plan == plan
            && self.ballot.voter == voter
            && self.verify(keys)
    }
}

/// Why a proof was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the plan is not signed by its coordinator, or malformed")]
    Plan,
    #[error("a ballot is missing, not a yes, or not signed by its participant")]
    Ballots,
    #[error("the refusal is not a participant's signed no for this plan")]
    Refusal,
    #[error("the proof is about another transaction")]
    OtherTransaction,
}

/// A decision and what proves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proof {
    /// Every participant of `plan` voted yes: the transaction commits. The votes are in the
    /// plan's order of participants.
    Commit {
        plan: SignedPlan,
        votes: Vec<SignedBallot>,
    },
    /// A participant of `plan` refused it: the transaction aborts.
    Abort {
        plan: SignedPlan,
        refusal: SignedBallot,
    },
}

impl Proof {
    pub fn commit(&self) -> bool {
        matches!(self, Proof::Commit { .. })
    }

    pub fn plan(&self) -> &SignedPlan {
        match self {
            Proof::Commit { plan, .. } | Proof::Abort { plan, .. } => plan,
        }
    }

    pub fn tx(&self) -> &TxId {
        &self.plan().plan.tx
    }

    /// Who signed the refusal an abort rests on.
    pub fn refused_by(&self) -> Option<BankId> {
        match self {
            Proof::Abort { refusal, .. } => Some(refusal.ballot.voter),
            Proof::Commit { .. } => None,
        }
    }

    /// Checks every signature against the consortium's keys (`skip`: a bank whose ballot the
    /// checker knows already, its own, whose signature it need not check again).
    pub fn check(&self, tx: &TxId, keys: &Keyring, skip: Option<BankId>) -> Result<(), ProofError> {
        let plan = self.plan();
        if plan.plan.tx != *tx {
            return Err(ProofError::OtherTransaction);
        }
        if !plan.verify(keys) {
            return Err(ProofError::Plan);
        }
        let hash = plan.hash();
        match self {
            Proof::Commit { votes, .. } => {
                let all = votes.len() == plan.plan.parts.len()
                    && plan.plan.participants().zip(votes).all(|(bank, v)| {
                        v.ballot.yes()
                            && if Some(bank) == skip {
                                v.ballot.tx == *tx
                                    && v.ballot.plan == hash
                                    && v.ballot.voter == bank
                            } else {
                                v.is_for(tx, hash, bank, keys)
                            }
                    });
                if all {
                    Ok(())
                } else {
                    Err(ProofError::Ballots)
                }
            }
            Proof::Abort { refusal, .. } => {
                let voter = refusal.ballot.voter;
                if plan.plan.parts_of(voter).is_some()
                    && !refusal.ballot.yes()
                    && refusal.is_for(tx, hash, voter, keys)
                {
                    Ok(())
                } else {
                    Err(ProofError::Refusal)
                }
            }
        }
    }

    /// The two signed ballots that prove `self` and `other` cannot both be true, if one signer
    /// contradicted itself: a yes and a no of one participant on one plan, or a coordinator's
    /// yes on two plans of one id (an honest coordinator commits an id once). Two aborts never
    /// contradict, nor do a commit of one plan and an abort of another (a coordinator may plan
    /// an id again after a crash, and refuses the plan it did not commit).
    pub fn contradicts(&self, other: &Proof) -> Option<(SignedBallot, SignedBallot)> {
        if self.tx() != other.tx() {
            return None;
        }
        let ballot_of = |p: &Proof, bank: BankId| -> Option<SignedBallot> {
            match p {
                Proof::Commit { votes, .. } => {
                    votes.iter().find(|v| v.ballot.voter == bank).cloned()
                }
                Proof::Abort { refusal, .. } => {
                    (refusal.ballot.voter == bank).then(|| refusal.clone())
                }
            }
        };
        let same_plan = self.plan().hash() == other.plan().hash();
        match (self, other) {
            (Proof::Abort { .. }, Proof::Abort { .. }) => None,
            (Proof::Commit { .. }, Proof::Commit { .. }) => {
                let coordinator = self.plan().plan.coordinator;
                if same_plan || other.plan().plan.coordinator != coordinator {
                    return None;
                }
                Some((
                    ballot_of(self, coordinator)?,
                    ballot_of(other, coordinator)?,
                ))
            }
            _ if !same_plan => None,
            _ => {
                let (commit, abort) = if self.commit() {
                    (self, other)
                } else {
                    (other, self)
                };
                let refuser = abort.refused_by()?;
                Some((ballot_of(commit, refuser)?, ballot_of(abort, refuser)?))
            }
        }
    }
}

#[cfg(test)]
mod tests;
