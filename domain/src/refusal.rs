//! Why a transfer (or one leg of a packet) was refused: a typed code that crosses banks in votes
//! and reaches the browser in outcomes. Banks never send each other sentences; the app puts a
//! code into the client's words (`app::text`), in the client's language.

use crate::BankId;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    /// The paying account's available balance does not cover the amount.
    InsufficientFunds,
    /// The receiving account would go over its balance limit.
    BalanceLimit,
    /// Zero, negative, or over the limit per operation.
    InvalidAmount,
    /// Payer and receiver are the same account.
    SelfTransfer,
    /// The client has no account at `bank` to pay this leg from.
    NoSourceAccount { bank: BankId },
    /// No account with the receiver's key at `bank`.
    UnknownReceiver { bank: BankId },
    /// The transaction id was already used at `bank` for other transfers.
    TxIdReused { bank: BankId },
    /// The transaction id is in use at `bank` for a different operation.
    TxIdInUse { bank: BankId },
    /// `bank` had already cancelled this transaction.
    AlreadyCancelled { bank: BankId },
    /// The request named no valid part, or too many, for `bank`.
    InvalidParts { bank: BankId },
    /// `bank` could not read its own records; nothing was reserved there.
    RecordsUnreadable { bank: BankId },
    /// `bank` cannot store new operations now (its disk is full, say); nothing was reserved.
    CannotStore { bank: BankId },
    /// `bank` did not answer in time (or its answer was not understood).
    NoAnswer { bank: BankId },
    /// `bank` cannot be reached right now.
    Unreachable { bank: BankId },
    /// The receiving bank refused a credit that would take `bank`'s net debt to it beyond the
    /// limit the consortium gives `bank`.
    LimitExceeded { bank: BankId },
    /// The packet waited too long for its turn; nothing was sent.
    Expired,
    /// The client has not linked an account at `bank` (no consent to draw on it).
    NoConsent { bank: BankId },
    /// `bank` knows no such consent for this account of the coordinating bank.
    ConsentUnknown { bank: BankId },
    /// The consent was revoked at `bank`.
    ConsentRevoked { bank: BankId },
    /// The consent at `bank` has expired.
    ConsentExpired { bank: BankId },
    /// The packet draws more from `bank` than the consent allows per packet.
    ConsentPacketLimit { bank: BankId },
    /// The packet would take today's draws from `bank` beyond the consent's daily limit.
    ConsentDailyLimit { bank: BankId },
    /// The Pix key already belongs to an account (at `bank`'s copy of the directory).
    KeyTaken { bank: BankId },
    /// Another operation on this Pix key is in progress at `bank`.
    KeyBusy { bank: BankId },
    /// `bank` knows no such key of the bank asking to delete it.
    KeyUnknown { bank: BankId },
    /// The bank asking owns as many keys as the directory takes from one bank.
    KeyLimit { bank: BankId },
    /// The account has as many keys as it may.
    TooManyKeys,
    /// The owner of the key at `bank` has not allowed it to move (or the permission expired).
    PortNotAllowed { bank: BankId },
    /// A devolução of a Pix the account did not receive (or that is not committed yet).
    NotReceived,
    /// A devolução that would take the returns of one Pix beyond the amount it brought.
    ReturnExceeds,
    /// A devolução asked for more than [`RETURN_DAYS_MAX`] days after the Pix was received.
    ReturnTooLate,
    /// The debit would take what the account at `bank` paid by Pix in this `period` beyond
    /// its limit for it; `remaining` is what it may still pay until the period ends.
    PixLimit {
        bank: BankId,
        period: crate::pix_limits::Period,
        remaining: crate::Cents,
    },
    /// No such charge at the receiver's bank.
    ChargeUnknown,
    /// The charge was paid already.
    ChargePaid,
    /// The charge was cancelled by its receiver.
    ChargeCancelled,
    /// The charge expired.
    ChargeExpired,
    /// Another payment of the charge is in flight.
    ChargeBusy,
    /// A payment of a charge for another amount than the charge's.
    ChargeAmount,
    /// The receiving bank refused a credit: `bank` has not paid it a settlement window by its
    /// deadline (refused until the receiving bank confirms the payment).
    SettlementOverdue { bank: BankId },
}

/// How long after receiving a Pix its receiver may still return it (devolução), in days.
pub const RETURN_DAYS_MAX: i64 = 90;

impl Refusal {
    /// The bank the refusal is about, if it is about one.
    pub fn bank(self) -> Option<BankId> {
        match self {
            Refusal::NoSourceAccount { bank }
            | Refusal::UnknownReceiver { bank }
            | Refusal::TxIdReused { bank }
            | Refusal::TxIdInUse { bank }
            | Refusal::AlreadyCancelled { bank }
            | Refusal::InvalidParts { bank }
            | Refusal::RecordsUnreadable { bank }
            | Refusal::CannotStore { bank }
            | Refusal::NoAnswer { bank }
            | Refusal::Unreachable { bank }
            | Refusal::LimitExceeded { bank }
            | Refusal::NoConsent { bank }
            | Refusal::ConsentUnknown { bank }
            | Refusal::ConsentRevoked { bank }
            | Refusal::ConsentExpired { bank }
            | Refusal::ConsentPacketLimit { bank }
            | Refusal::ConsentDailyLimit { bank }
            | Refusal::KeyTaken { bank }
            | Refusal::KeyBusy { bank }
            | Refusal::KeyUnknown { bank }
            | Refusal::KeyLimit { bank }
            | Refusal::PortNotAllowed { bank }
            | Refusal::PixLimit { bank, .. }
            | Refusal::SettlementOverdue { bank } => Some(bank),
            Refusal::InsufficientFunds
            | Refusal::BalanceLimit
            | Refusal::InvalidAmount
            | Refusal::SelfTransfer
            | Refusal::TooManyKeys
            | Refusal::Expired
            | Refusal::NotReceived
            | Refusal::ReturnExceeds
            | Refusal::ReturnTooLate
            | Refusal::ChargeUnknown
            | Refusal::ChargePaid
            | Refusal::ChargeCancelled
            | Refusal::ChargeExpired
            | Refusal::ChargeBusy
            | Refusal::ChargeAmount => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_cross_the_wire_as_codes() {
        let bank = BankId::try_from(3).unwrap();
        let json = serde_json::to_string(&Refusal::NoSourceAccount { bank }).unwrap();
        assert_eq!(json, r#"{"code":"no_source_account","bank":3}"#);
        let back: Refusal = serde_json::from_str(&json).unwrap();
        assert_eq!(back.bank(), Some(bank));
        assert_eq!(
            serde_json::to_string(&Refusal::InsufficientFunds).unwrap(),
            r#"{"code":"insufficient_funds"}"#
        );
        assert!(
            serde_json::from_str::<Refusal>(r#"{"code":"be_nice"}"#).is_err(),
            "unknown codes are refused"
        );
    }
}
