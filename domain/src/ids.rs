//! Identifiers: banks, accounts, transactions.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A consortium member. The demo has ids 1..=5; ids are small (at most [`BankId::MAX`]) and fixed by
/// configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct BankId(u8);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bank id not in 1..={}", BankId::MAX)]
pub struct BadBankId;

impl BankId {
    /// The highest bank id, and so the most members a consortium may have.
    pub const MAX: u8 = 200;
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u16> for BankId {
    type Error = BadBankId;
    fn try_from(v: u16) -> Result<BankId, BadBankId> {
        if (1..=BankId::MAX as u16).contains(&v) {
            Ok(BankId(v as u8))
        } else {
            Err(BadBankId)
        }
    }
}

impl From<BankId> for u16 {
    fn from(b: BankId) -> u16 {
        b.0 as u16
    }
}

impl fmt::Display for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An account's number inside its bank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// A transaction id in the shape of a Pix end-to-end id: `E`, the 8-digit code of the bank that
/// started it, `yyyyMMddHHmm`, and 11 letters or digits; 32 characters. Clients may choose it, so it
/// doubles as an idempotency key: the same id submitted twice is executed once.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TxId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed transaction id")]
pub struct BadTxId;

impl TxId {
    pub fn parse(text: &str) -> Result<TxId, BadTxId> {
        let b = text.as_bytes();
        let ok = b.len() == 32
            && b[0] == b'E'
            && b[1..21].iter().all(u8::is_ascii_digit)
            && b[21..].iter().all(u8::is_ascii_alphanumeric);
        if ok {
            Ok(TxId(text.to_string()))
        } else {
            Err(BadTxId)
        }
    }

    /// Builds an id from its parts; `stamp` is `yyyyMMddHHmm`, `suffix` 11 alphanumerics.
    pub fn compose(bank: BankId, stamp: &str, suffix: &str) -> Result<TxId, BadTxId> {
        TxId::parse(&format!("E{:08}{stamp}{suffix}", bank.get()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code of the bank that started it, as the id says.
    pub fn bank_code(&self) -> u32 {
        self.0[1..9].parse().unwrap_or(0)
    }

    /// Whether a client may give this id to `bank` at `now_ms`: it must be an id of that bank,
    /// stamped today in Brasília time and not after this minute, as a Pix end-to-end id is (or
    /// within the last [`TxId::CLIENT_GRACE_MS`], so that a form opened before midnight still
    /// sends). Ids from other banks' clients reach a bank only inside a coordinator's signed plan.
    pub fn check_client_given(&self, bank: BankId, now_ms: i64) -> Result<(), ForeignTxId> {
        if self.bank_code() != u32::from(bank.get()) {
            return Err(ForeignTxId::OtherBank);
        }
        let stamp = &self.0[9..21];
        let today = crate::time_fmt::stamp_brasilia(now_ms);
        let fits = crate::time_fmt::stamp_brasilia_ms(stamp).is_some_and(|at| {
            at <= now_ms && (stamp[..8] == today[..8] || now_ms - at <= Self::CLIENT_GRACE_MS)
        });
        if fits {
            Ok(())
        } else {
            Err(ForeignTxId::NotToday)
        }
    }

    /// How old a client's id stamped yesterday may be (a form left open over midnight).
    pub const CLIENT_GRACE_MS: i64 = 15 * 60_000;
}

/// Why a well-formed id given by a client is not one it may use here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForeignTxId {
    #[error("the transaction id names another bank")]
    OtherBank,
    #[error("the transaction id is not stamped today (Brasília time)")]
    NotToday,
}

impl<'de> Deserialize<'de> for TxId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TxId, D::Error> {
        let text = String::deserialize(d)?;
        TxId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TxId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_ids_have_the_pix_shape() {
        let id =
            TxId::compose(BankId::try_from(3).unwrap(), "202611261705", "abcDEF12345").unwrap();
        assert_eq!(id.as_str(), "E00000003202611261705abcDEF12345");
        assert!(TxId::parse("E0000000320261126170abcDEF12345").is_err());
        assert!(TxId::parse("X00000003202611261705abcDEF12345").is_err());
        assert!(TxId::parse("E00000003202611261705abcDEF1234-").is_err());
    }

    #[test]
    fn bank_ids_are_bounded() {
        assert!(BankId::try_from(0).is_err());
        assert!(BankId::try_from(100).is_ok(), "a consortium of 100 banks");
        assert!(BankId::try_from(200).is_ok());
        assert!(BankId::try_from(201).is_err());
        assert!(BankId::try_from(256).is_err(), "never wrapped into a u8");
        assert!(serde_json::from_str::<BankId>("5").is_ok());
        assert!(serde_json::from_str::<BankId>("500").is_err());
    }
}
