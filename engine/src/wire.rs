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
/// Version 8: a devolução (Pix return) travels as its own parts, `PartSpec::ReturnDebit` and
/// `PartSpec::ReturnCredit` (the payer's bank finds the account to credit in its history), which
/// a bank of version 7 could not read.
/// Version 9: a vote may refuse a debit for the payer's Pix limit of the period
/// (`Refusal::PixLimit`, issue 27), a code a bank of version 8 could not read.
/// Version 10: charges (cobranças). A payer's bank asks the charge's bank what a charge is
/// ([`Route::Charge`]), and pays it with a `PartSpec::ChargeCredit`, which the charge's bank
/// reserves with the credit (a charge is paid once).
/// Version 11: a vote may refuse a credit with `Refusal::SettlementOverdue` (the payer's bank is
/// past its deadline to pay a settlement window), which a bank of version 10 could not read.
/// Version 12: settlement windows are cut by the token ring. A plan names its window
/// (`Plan::window`, in the signed statement: a bank of version 11 would check its signature
/// over a statement without it), and the token carries the open window
/// (`crate::ring::Token::window`).
/// Version 13: a settlement payment step may be a leg of a window's multilateral netting plan
/// (`Payment::netting`), sent to every member, which a bank of version 12 could not check.
/// Version 14: the bank holding the money asks the asking bank who holds the account a link is
/// for ([`Route::LinkHolder`]), to name it on the consent page.
/// Version 15: a debit or credit may carry the payer's message (`PartSpec::Debit::message`,
/// `PartSpec::Credit::message`, at most 140 characters, no control character, issue 27), left
/// out when empty so a part without one is written, hashed and signed exactly as before; a
/// participant reads a prepare only if every message in it is well formed.
pub const PROTOCOL_VERSION: u16 = 15;

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
    /// Body [`crate::settlement::SignedReport`] (the sender's, for a window), answer the
    /// receiver's own signed report for that window, which it closes first if it is its next.
    SettlementReport,
    /// Body [`crate::settlement::SignedPayment`], answer `null`: a debtor's "paid" to its
    /// creditor, or a creditor's "received" to its debtor (which then settles it).
    SettlementPayment,
    /// Body [`ChargeMsg`], answer `Option<domain::charge::ChargeInfo>`: what a charge of the
    /// receiver's is (its amount, description, status and receiver), for a payer.
    Charge,
    /// Body [`HolderMsg`], answer `Option<domain::consent::LinkHolder>`: who holds the account
    /// a link waiting at the receiver is for, told only to the bank the link was started with.
    LinkHolder,
}

impl Route {
    pub const ALL: [Route; 14] = [
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
        Route::SettlementReport,
        Route::SettlementPayment,
        Route::Charge,
        Route::LinkHolder,
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
            Route::SettlementReport => "/interbank/settlement/report",
            Route::SettlementPayment => "/interbank/settlement/payment",
            Route::Charge => "/interbank/charge",
            Route::LinkHolder => "/interbank/consent/holder",
        }
    }
}

/// The largest inter-bank message (request or answer) a bank reads: the worst prepare (256
/// packets of 16 legs, every name at its longest in four-byte characters, with 256 decisions and
/// their proofs riding along) fits, as a test checks.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// An inter-bank request: the route it goes to and the answer it gets. Callers send any of these
/// (`server::peers::Peers::call`) and get its answer's type back, so a caller cannot pick the
/// wrong one, and a new message is guided by the compiler: its body, its answer and its route
/// are declared here, together.
pub trait Call: Serialize {
    const ROUTE: Route;
    type Answer: serde::de::DeserializeOwned + Serialize;
}

/// Asks a peer whether it is alive and when it last saw the token (body `null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeMsg;

/// Tells a peer this bank has packets waiting for the token (body `null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HurryMsg;

impl Call for crate::ring::Token {
    const ROUTE: Route = Route::Token;
    type Answer = crate::ring::Receipt;
}

impl Call for ProbeMsg {
    const ROUTE: Route = Route::Probe;
    type Answer = crate::ring::ProbeAnswer;
}

impl Call for HurryMsg {
    const ROUTE: Route = Route::Hurry;
    type Answer = ();
}

impl Call for PrepareMsg {
    const ROUTE: Route = Route::Prepare;
    type Answer = PrepareAnswer;
}

impl Call for DecideMsg {
    const ROUTE: Route = Route::Decide;
    /// The decisions acknowledged.
    type Answer = Vec<TxId>;
}

impl Call for ResolveMsg {
    const ROUTE: Route = Route::Resolve;
    type Answer = ResolveAnswer;
}

impl Call for TerminateMsg {
    const ROUTE: Route = Route::Terminate;
    type Answer = TerminateAnswer;
}

impl Call for AccountMsg {
    const ROUTE: Route = Route::Account;
    type Answer = Option<AccountAnswer>;
}

impl Call for RedeemMsg {
    const ROUTE: Route = Route::Redeem;
    type Answer = domain::consent::Grant;
}

impl Call for crate::settlement::SignedReport {
    const ROUTE: Route = Route::SettlementReport;
    /// The receiver's own signed report for the same window.
    type Answer = crate::settlement::SignedReport;
}

impl Call for crate::settlement::SignedPayment {
    const ROUTE: Route = Route::SettlementPayment;
    type Answer = ();
}

impl Call for ChargeMsg {
    const ROUTE: Route = Route::Charge;
    type Answer = Option<domain::charge::ChargeInfo>;
}

impl Call for HolderMsg {
    const ROUTE: Route = Route::LinkHolder;
    type Answer = Option<domain::consent::LinkHolder>;
}

impl Call for crate::directory::PortRequest {
    const ROUTE: Route = Route::PortPermit;
    type Answer = PortPermitAnswer;
}

/// Phase one for a batch of packets at one participant, with decisions of earlier packets
/// riding along (applied first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareMsg {
    pub items: Vec<PrepareItem>,
    #[serde(default)]
    pub decisions: Vec<DecideItem>,
}

impl PrepareMsg {
    /// Every transaction the message is about, the items' then the riding decisions' (what its
    /// evidence is filed under, on both sides).
    pub fn txs(&self) -> Vec<TxId> {
        let items = self.items.iter().map(|i| i.tx.clone());
        items
            .chain(self.decisions.iter().map(|d| d.tx.clone()))
            .collect()
    }
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

/// The bank holding the money asks who holds `account` at the receiver, for the link `state`
/// that account started with it (carried by the browser to the consent page). Bounded: a
/// state is at most 64 characters, checked when the body is read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderMsg {
    pub state: String,
    pub account: AccountId,
}

/// A payer's bank asks about charge `charge` (the id is checked when the body is read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeMsg {
    pub charge: domain::charge::ChargeId,
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
    /// Whether available + blocked = deposits + opening + what peers still owe + what
    /// settlement windows brought in (`Books::explained`).
    #[serde(default)]
    pub books_balance: bool,
    /// The last settlement window closed, and pairs whose signed reports disagreed.
    #[serde(default)]
    pub settlement: SettlementStatus,
}

/// Settlement windows at one bank (see [`crate::settlement`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementStatus {
    pub last_window: u64,
    pub disagreements: u64,
}

/// This bank's position with one peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionStatus {
    pub peer: BankId,
    /// From committed transfers; positive when the peer owes this bank.
    pub settled: i64,
    /// Credits from the peer prepared here and not yet decided.
    pub pending: i64,
    /// Paid by settlement windows (positive: the peer paid this bank); `settled - by_windows`
    /// is still owed.
    #[serde(default)]
    pub by_windows: i64,
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

    /// Each route's message, by its position in [`Route::ALL`]: the match is exhaustive, so a new
    /// route cannot be left out of it, and each arm names the message whose `ROUTE` it is.
    fn message_route(route: Route) -> Route {
        match route {
            Route::Token => <crate::ring::Token as Call>::ROUTE,
            Route::Probe => ProbeMsg::ROUTE,
            Route::Hurry => HurryMsg::ROUTE,
            Route::Prepare => PrepareMsg::ROUTE,
            Route::Decide => DecideMsg::ROUTE,
            Route::Resolve => ResolveMsg::ROUTE,
            Route::Terminate => TerminateMsg::ROUTE,
            Route::Account => AccountMsg::ROUTE,
            Route::Redeem => RedeemMsg::ROUTE,
            Route::PortPermit => <crate::directory::PortRequest as Call>::ROUTE,
            Route::SettlementReport => <crate::settlement::SignedReport as Call>::ROUTE,
            Route::SettlementPayment => <crate::settlement::SignedPayment as Call>::ROUTE,
            Route::Charge => ChargeMsg::ROUTE,
            Route::LinkHolder => HolderMsg::ROUTE,
        }
    }

    /// The worst prepare a coordinator can send: [`MAX_ITEMS_PER_MESSAGE`] packets of
    /// [`MAX_PACKET_LEGS`] legs with both parts of each at this bank, every name at its
    /// longest in four-byte characters, keys at their longest, every leg's other side a bank of
    /// its own in the plan, every part's message at its longest in four-byte characters; and as
    /// many decisions riding along, each a commit proved by as many ballots. It must fit [`MAX_MESSAGE_BYTES`], or such a batch could never be prepared.
    #[test]
    fn the_worst_prepare_fits_the_message_limit() {
        use crate::twopc::proof::{Ballot, Digest, Plan, Proof, SignedBallot, SignedPlan};
        use crate::twopc::{DebitSource, PartSpec, Vote, MAX_ITEMS_PER_MESSAGE};
        use domain::dto::{Counterparty, MAX_PACKET_LEGS};
        let key = crate::proof::BankKey::from_seed([1; 32]);
        let bank = |n: usize| BankId::try_from(u16::try_from(n).unwrap()).unwrap();
        let name = "\u{1D400}".repeat(domain::input::NAME_MAX_CHARS);
        let party = |n: usize| Counterparty {
            name: name.clone(),
            key_masked: "x".repeat(domain::pix_key::KEY_MAX_CHARS),
            bank: bank(n),
        };
        let email = format!("{}@{}.example", "a".repeat(40), "b".repeat(28));
        let pix_key = domain::PixKey::parse(&email).unwrap();
        let message =
            domain::PixMessage::parse(&"🎉".repeat(domain::pix_message::MESSAGE_MAX_CHARS))
                .unwrap();
        let consent = domain::consent::ConsentId::parse(&"C".repeat(24)).unwrap();
        let tx = |n: usize| TxId::parse(&format!("E00000001202611261705{n:011}")).unwrap();
        let participants = 2 * MAX_PACKET_LEGS + 1;
        let plan = |n: usize| {
            let parts = (1..=participants)
                .map(|b| (bank(b), Digest::of(b"x")))
                .collect();
            SignedPlan::sign(
                &key,
                Plan {
                    tx: tx(n),
                    coordinator: bank(1),
                    parts,
                    decide_by_ms: i64::MAX,
                    window: 0,
                },
            )
        };
        let items = (0..MAX_ITEMS_PER_MESSAGE)
            .map(|n| {
                let parts = (0..MAX_PACKET_LEGS as u16)
                    .flat_map(|leg| {
                        let debit = PartSpec::Debit {
                            source: DebitSource::Consent {
                                consent: consent.clone(),
                                grantee: AccountId(i64::MAX),
                            },
                            amount: Cents::new(i64::MAX),
                            to: party(2 + 2 * usize::from(leg)),
                            message: message.clone(),
                        };
                        let credit = PartSpec::Credit {
                            key: pix_key.clone(),
                            amount: Cents::new(i64::MAX),
                            from: party(3 + 2 * usize::from(leg)),
                            message: message.clone(),
                        };
                        [(leg, debit), (leg, credit)]
                    })
                    .collect();
                PrepareItem {
                    tx: tx(n),
                    parts,
                    plan: Some(plan(n)),
                }
            })
            .collect();
        let decisions = (0..MAX_ITEMS_PER_MESSAGE)
            .map(|n| {
                let plan = plan(MAX_ITEMS_PER_MESSAGE + n);
                let votes = (1..=participants)
                    .map(|b| {
                        let ballot = Ballot {
                            tx: plan.plan.tx.clone(),
                            plan: plan.hash(),
                            voter: bank(b),
                            vote: Vote::Prepared,
                        };
                        SignedBallot::sign(&key, ballot)
                    })
                    .collect();
                DecideItem::proved(Proof::Commit { plan, votes })
            })
            .collect();
        let worst = serde_json::to_vec(&PrepareMsg { items, decisions }).unwrap();
        assert!(
            worst.len() <= MAX_MESSAGE_BYTES,
            "the worst prepare is {} bytes, over {MAX_MESSAGE_BYTES}",
            worst.len()
        );
        eprintln!(
            "the worst prepare: {} bytes of {MAX_MESSAGE_BYTES}",
            worst.len()
        );
    }

    /// Protocol version 15: a part without a message is written as before messages existed, so
    /// its hash, and the signatures over plans naming it, are unchanged; one with a message
    /// carries it.
    #[test]
    fn a_part_without_a_message_is_written_as_before_version_15() {
        use crate::twopc::PartSpec;
        let before = r#"{"Credit":{"key":"52998224725","amount":100,"from":{"name":"Ana","key_masked":"***","bank":1}}}"#;
        let part: PartSpec = serde_json::from_str(before).unwrap();
        assert_eq!(serde_json::to_string(&part).unwrap(), before);
        let with = before.replace("}}}", r#"},"message":"Aluguel"}}"#);
        let part: PartSpec = serde_json::from_str(&with).unwrap();
        match &part {
            PartSpec::Credit { message, .. } => assert_eq!(message.as_str(), "Aluguel"),
            other => panic!("not a credit: {other:?}"),
        }
        assert_eq!(serde_json::to_string(&part).unwrap(), with);
    }

    /// A participant reads another bank's prepare only if every message in it is one its own
    /// client could have typed: 141 characters, a line break, a terminal escape or a direction
    /// override refuse the whole request before anything is reserved (the node answers 400).
    #[test]
    fn a_prepare_with_a_bad_message_is_not_read() {
        let prepare = |message: &str| {
            serde_json::json!({ "items": [{ "tx": "E00000005202611262359abcdefghijk",
                "parts": [[0, { "Credit": { "key": "52998224725", "amount": 100,
                    "from": { "name": "Ana", "key_masked": "***", "bank": 5 },
                    "message": message } }]] }] })
            .to_string()
        };
        let good: PrepareMsg = serde_json::from_str(&prepare("Aluguel de março")).unwrap();
        assert_eq!(good.items.len(), 1);
        let long = "x".repeat(domain::pix_message::MESSAGE_MAX_CHARS + 1);
        let huge = "x".repeat(10_240);
        for bad in [
            long.as_str(),
            huge.as_str(),
            "linha\nnova",
            "\u{1b}[2J",
            "pago\u{202e}",
            " espaço",
        ] {
            let text = prepare(bad);
            assert!(
                serde_json::from_str::<PrepareMsg>(&text).is_err(),
                "read a prepare whose message is {bad:?}"
            );
        }
    }

    #[test]
    fn every_route_is_in_all_once_and_has_its_message() {
        for route in Route::ALL {
            assert_eq!(message_route(route), route, "{route:?}");
        }
        let distinct: std::collections::BTreeSet<&str> =
            Route::ALL.iter().map(|r| r.path()).collect();
        assert_eq!(distinct.len(), Route::ALL.len(), "one path per route");
        // Every variant is in ALL: the exhaustive match above has one arm per variant, and
        // this counts them.
        let variants = [
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
            Route::SettlementReport,
            Route::SettlementPayment,
            Route::Charge,
            Route::LinkHolder,
        ];
        assert!(variants.iter().all(|v| Route::ALL.contains(v)));
        assert_eq!(variants.len(), Route::ALL.len());
    }

    #[test]
    fn routes_are_distinct_interbank_paths() {
        let mut paths: Vec<&str> = Route::ALL.iter().map(|r| r.path()).collect();
        assert!(paths.iter().all(|p| p.starts_with("/interbank/")));
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), Route::ALL.len());
    }
}
