//! What banks say to each other: every inter-bank route and message body as a type, and the
//! protocol version they are spoken in. The node carries them over HTTP and the simulation over
//! its simulated network; both use these types, so a message cannot mean one thing in one and
//! another in the other.
//!
//! The ring's messages ([`crate::ring::Token`], [`crate::ring::Receipt`],
//! [`crate::ring::ProbeAnswer`]) and 2PC's items ([`crate::twopc::PrepareItem`],
//! [`crate::twopc::Vote`], [`crate::twopc::DecideItem`], [`crate::twopc::Resolution`]) live with
//! their state machines; this module gathers the envelopes.

use crate::twopc::proof::{SignedBallot, SignedPlan};
use crate::twopc::{DecideItem, PrepareItem, Question, Resolution};
use domain::consent::ConsentId;
use domain::{AccountId, BankId, Cents, TxId};
use serde::{Deserialize, Serialize};

/// The version of this protocol. Every request carries it; a bank answers a request of another
/// version with a clear refusal instead of guessing what it means.
/// Version 2: debits name their source (the coordinator's own client, or a consent), and the
/// account route and code redemption are about consents.
/// Version 3: key operations (`PartSpec::Key`) replicate the Pix-key directory, credits name a
/// key, an e-mail or phone key moves between banks by `KeyOp::Port` (the owning bank votes yes
/// only with its owner's permission), and a participant that cannot store refuses with
/// `Refusal::CannotStore`.
/// Version 4: an answer's signature also covers the SHA-256 of the request's body, so that a
/// bank's signed votes show what it was asked, not only the request's nonce.
/// Version 5: a key moves (`KeyOp::Port`) only with the owning bank's signed permit, asked of it
/// on [`Route::PortPermit`] and checked by every bank; a participant refuses a leg inside itself
/// whose debit and credit differ.
/// Version 6: decisions carry proof (issue 24). A prepare carries the coordinator's signed plan,
/// a vote is the participant's signed ballot on it, a decision carries every participant's
/// signed yes (commit) or a participant's signed no (abort), and a participant in doubt asks the
/// coordinator about its plan, then the other participants ([`Route::Terminate`]).
/// Version 7: a request carries its body's SHA-256 in a header (`x-consorcio-body-sha256`), which
/// its signature covers as before, so that the signature is checked before any of the body is
/// read; a time stamp may be at most 2 s ahead.
pub const PROTOCOL_VERSION: u16 = 7;

/// Every inter-bank route. All are POSTs with a JSON body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// Body [`crate::ring::Token`], answer [`crate::ring::Receipt`].
    Token,
    /// Body `null`, answer [`crate::ring::ProbeAnswer`].
    Probe,
    /// Body `null`, answer `null`: the sender has packets waiting for the token.
    Hurry,
    /// Body [`PrepareMsg`], answer [`PrepareAnswer`].
    Prepare,
    /// Body [`DecideMsg`], answer `Vec<TxId>` (the decisions acknowledged).
    Decide,
    /// Body [`ResolveMsg`], answer `Vec<Resolution>`, one per question.
    Resolve,
    /// Body [`TerminateMsg`], answer `Vec<crate::Termination>`, one per plan: another
    /// participant in doubt asks what this one knows (cooperative termination).
    Terminate,
    /// Body [`AccountMsg`], answer `Option<AccountAnswer>`.
    Account,
    /// Body [`RedeemMsg`], answer [`domain::consent::Grant`] (or a 4xx: no such code).
    Redeem,
    /// Body [`crate::directory::PortRequest`], answer [`PortPermitAnswer`]: the owning bank's
    /// signed permission to move one of its keys to the asking bank.
    PortPermit,
}

impl Route {
    pub const ALL: [Route; 10] = [
        Route::Token,
        Route::Probe,
        Route::Hurry,
        Route::Prepare,
        Route::Decide,
        Route::Resolve,
        Route::Terminate,
        Route::Account,
        Route::Redeem,
        Route::PortPermit,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Route::Token => "/interbank/token",
            Route::Probe => "/interbank/probe",
            Route::Hurry => "/interbank/hurry",
            Route::Prepare => "/interbank/prepare",
            Route::Decide => "/interbank/decide",
            Route::Resolve => "/interbank/resolve",
            Route::Terminate => "/interbank/terminate",
            Route::Account => "/interbank/account",
            Route::Redeem => "/interbank/consent/redeem",
            Route::PortPermit => "/interbank/key/permit",
        }
    }
}

/// Phase one for a batch of packets at one participant, with decisions of earlier packets
/// riding along (applied first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareMsg {
    pub items: Vec<PrepareItem>,
    #[serde(default)]
    pub decisions: Vec<DecideItem>,
}

/// The answer to a [`PrepareMsg`]: one signed ballot per item, and the riding decisions
/// acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareAnswer {
    pub votes: Vec<SignedBallot>,
    pub acked: Vec<TxId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideMsg {
    pub items: Vec<DecideItem>,
}

/// A participant in doubt asks the coordinator about the plans it prepared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveMsg {
    pub questions: Vec<Question>,
}

/// A participant in doubt asks another participant about plans they share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateMsg {
    pub plans: Vec<SignedPlan>,
}

/// The answer to a [`TerminateMsg`].
pub type TerminateAnswer = Vec<crate::Termination>;

/// The answer to a [`ResolveMsg`].
pub type ResolveAnswer = Vec<Resolution>;

/// The account consent `consent` lets `grantee` (an account of the asking bank) see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMsg {
    pub consent: ConsentId,
    pub grantee: AccountId,
}

/// The part of an account a consent lets another bank see: for its client's linked accounts.
/// `None` instead when the consent is not (or no longer) active for that account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountAnswer {
    pub account: AccountId,
    pub available: Cents,
    pub blocked: Cents,
}

/// The asking bank redeems a one-time consent code for its account `grantee`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemMsg {
    pub code: String,
    pub grantee: AccountId,
}

/// The answer to a [`Route::PortPermit`] request: the permit, or why the owning bank gives none.
pub type PortPermitAnswer = Result<crate::directory::PortPermit, domain::Refusal>;

/// `GET /status` of a bank: public, for operators, the status page and the benchmark. Totals
/// only; no account is identified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub bank: Option<BankId>,
    pub name: String,
    pub ring: Option<RingStatus>,
    pub twopc: Option<TwoPcStatus>,
    pub audit: Option<AuditStatus>,
    pub engine: Option<EngineStats>,
}

/// The ring at one bank.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RingStatus {
    pub holding: bool,
    pub epoch_counter: u64,
    pub epoch_origin: Option<BankId>,
    pub hop: u64,
    /// Times this bank has received (or generated) the token since start.
    pub visits: u64,
    /// Token visits per second here over the last measured window (about a second).
    pub rotations_per_s: f64,
    /// Milliseconds since this bank last held or passed the token, as of the ring's latest event.
    pub last_seen_ago_ms: u64,
    /// Token deliveries this bank made, and their round trips in all (microseconds).
    pub passes: u64,
    pub pass_us: u64,
    /// Tokens this bank generated since start because the token was lost.
    #[serde(default)]
    pub regenerations: u64,
}

/// Two-phase commit at one bank as a coordinator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoPcStatus {
    /// Packet ids claimed: being planned, queued, prepared or decided.
    pub packets_in_flight: u64,
    /// Decisions some participant has not acknowledged yet.
    pub decisions_undelivered: u64,
    pub timings: PhaseTimings,
    /// Evidence messages not kept: the evidence writer could not keep up, or a write failed.
    #[serde(default)]
    pub evidence_dropped: u64,
}

/// Totals since start of the phases of cross-bank work (the benchmark divides the growth of each
/// sum by the growth of its count over a window).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTimings {
    /// Token visits that ran a round, and the time from taking the queue to the last vote.
    pub rounds: u64,
    pub round_votes_us: u64,
    /// Prepares sent to other banks, and their round trips.
    pub prepares_sent: u64,
    pub prepare_rtt_us: u64,
    /// Prepares this bank answered as a participant, and the time its engine took.
    pub prepares_served: u64,
    pub prepare_engine_us: u64,
    /// Rounds concluded, and the time to store the decisions and answer the clients.
    pub concludes: u64,
    pub conclude_us: u64,
}

/// The bank's audit totals: what conservation of money is checked with, and its books.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStatus {
    pub accounts: u64,
    pub total_available: i128,
    pub total_blocked: i128,
    pub total_incoming: i128,
    pub prepared_transactions: u64,
    /// Deposits so far, and the balances held before positions were kept. (Defaults: read from
    /// a bank of a version that kept no books.)
    #[serde(default)]
    pub deposits: i64,
    #[serde(default)]
    pub opening: i64,
    /// The position with each peer (positive: the peer owes this bank), and its limit.
    #[serde(default)]
    pub positions: Vec<PositionStatus>,
    /// Whether available + blocked = deposits + opening + settled positions.
    #[serde(default)]
    pub books_balance: bool,
}

/// This bank's position with one peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionStatus {
    pub peer: BankId,
    /// From committed transfers; positive when the peer owes this bank.
    pub settled: i64,
    /// Credits from the peer prepared here and not yet decided.
    pub pending: i64,
    /// The most the peer may owe this bank, net (membership file).
    pub limit: i64,
}

/// The engine's group commit: commands executed and durable commits made since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    pub commands: u64,
    pub commits: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_distinct_interbank_paths() {
        let mut paths: Vec<&str> = Route::ALL.iter().map(|r| r.path()).collect();
        assert!(paths.iter().all(|p| p.starts_with("/interbank/")));
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), Route::ALL.len());
    }
}
