//! The operators' console's side of the engine: the port through which the web app reaches what
//! only the node can do for an operator (exchange a window's reports, deliver a payment step,
//! read the evidence files, check the operator's token), and the operators' sessions.
//!
//! The node implements [`OperatorPort`] (`server::operator::Desk`); the app only sees the trait,
//! as with [`crate::consortium::Consortium`]. [`OperatorSessions`] is pure and clock-injected:
//! a session is a random token whose SHA-256 alone is kept, in memory (a restart logs operators
//! out, which is what a short-lived session should do anyway).

use crate::auth::{SessionToken, TokenHash};
use crate::consortium::BoxFuture;
use crate::engine::Settled;
use crate::settlement::{SignedPayment, SignedReport};
use crate::EngineResult;
use domain::{BankId, Cents, TxId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// How long an operator's session lasts from its login, whatever it does: short, since it can
/// move settlement money's records.
pub const OPERATOR_SESSION_MS: i64 = 30 * 60_000;
/// Operator sessions kept at most; a login beyond drops the oldest.
pub const OPERATOR_SESSIONS_MAX: usize = 32;

/// What happened with one member when a window's reports were exchanged.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Exchange {
    pub bank: BankId,
    /// `None`: its report came back and was kept; otherwise why not (unreachable, refused...).
    pub error: Option<String>,
}

/// A window closed (or sent again) and how the exchange of its reports went.
pub type Exchanged = Settled<(SignedReport, Vec<Exchange>)>;

pub trait OperatorPort: Send + Sync + 'static {
    /// Whether `typed` is this bank's operator token (`false` when none is set: the console
    /// then has no way in). Takes the same time whatever part of it was right.
    fn token_matches(&self, typed: &str) -> bool;

    /// The membership file's limit of each member: what it may owe this bank.
    fn limits(&self) -> BTreeMap<BankId, Cents>;

    /// The collateral of each member whose limit the membership file derives from it.
    fn collateral(&self) -> BTreeMap<BankId, Cents>;

    /// `SETTLEMENT_DEADLINE_S`, in milliseconds (see `crate::engine::EngineConfig`).
    fn settlement_deadline_ms(&self) -> Option<i64>;

    /// Closes the next window here and exchanges reports with every member.
    fn close_window(&self) -> BoxFuture<'_, EngineResult<Exchanged>>;

    /// Sends this bank's report for `window`, closed before, to every member again.
    fn resend_report(&self, window: u64) -> BoxFuture<'_, EngineResult<Exchanged>>;

    /// Delivers a payment step to the other bank of its pair (a netting leg's step to every
    /// member): `None` when it was taken, else why not (it is retried in the background for a
    /// while).
    fn deliver(&self, payment: SignedPayment) -> BoxFuture<'_, Option<String>>;

    /// The evidence this bank kept about `tx` (signed messages, each re-verified, and any
    /// equivocation), as the `bank-node evidence` command prints it.
    fn evidence(&self, tx: TxId) -> BoxFuture<'_, Result<String, String>>;
}

/// The operators' sessions: token hash to its end, bounded.
#[derive(Default)]
pub struct OperatorSessions {
    /// A std mutex held for one lookup or insertion, never across an await.
    ends_ms: Mutex<HashMap<TokenHash, i64>>,
}

impl OperatorSessions {
    /// A new session from `now_ms`, for a login whose token matched: its cookie's value.
    pub fn open(&self, now_ms: i64) -> SessionToken {
        let token = SessionToken::generate();
        let mut ends = self.ends_ms.lock().unwrap_or_else(|e| e.into_inner());
        ends.retain(|_, end| *end > now_ms);
        while ends.len() >= OPERATOR_SESSIONS_MAX {
            let oldest = ends.iter().min_by_key(|(_, end)| **end).map(|(h, _)| *h);
            match oldest {
                Some(h) => ends.remove(&h),
                None => break,
            };
        }
        ends.insert(token.hash(), now_ms + OPERATOR_SESSION_MS);
        token
    }

    /// Whether `token` is a session still on at `now_ms`.
    pub fn is_on(&self, token: &SessionToken, now_ms: i64) -> bool {
        let ends = self.ends_ms.lock().unwrap_or_else(|e| e.into_inner());
        ends.get(&token.hash()).is_some_and(|end| *end > now_ms)
    }

    pub fn end(&self, token: &SessionToken) {
        let mut ends = self.ends_ms.lock().unwrap_or_else(|e| e.into_inner());
        ends.remove(&token.hash());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lasts_its_lifetime_and_no_longer_and_ends_on_logout() {
        let sessions = OperatorSessions::default();
        let token = sessions.open(1_000);
        assert!(sessions.is_on(&token, 1_000 + OPERATOR_SESSION_MS - 1));
        assert!(!sessions.is_on(&token, 1_000 + OPERATOR_SESSION_MS));
        let other = SessionToken::generate();
        assert!(!sessions.is_on(&other, 1_000), "a token never opened");
        sessions.end(&token);
        assert!(!sessions.is_on(&token, 1_001));
    }

    #[test]
    fn sessions_are_bounded_and_the_oldest_goes_first() {
        let sessions = OperatorSessions::default();
        let first = sessions.open(0);
        let rest: Vec<SessionToken> = (1..OPERATOR_SESSIONS_MAX as i64)
            .map(|t| sessions.open(t))
            .collect();
        let newest = sessions.open(1_000);
        assert!(!sessions.is_on(&first, 1_000));
        assert!(rest.iter().all(|t| sessions.is_on(t, 1_000)));
        assert!(sessions.is_on(&newest, 1_000));
    }
}
