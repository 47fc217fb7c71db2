//! Charges (cobrança imediata): a request to be paid once, for a fixed amount, before it
//! expires, made by a client at her bank and paid through a dynamic BR Code that carries the
//! charge's location instead of a key (issue 28). The bank holding the charge is the only one
//! that decides whether it is open; these are the shapes and limits both sides share.

use crate::dto::Counterparty;
use crate::{Cents, TxId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Shortest and longest charge id, as BCB's `txid` of an immediate charge (26 to 35 letters or
/// digits).
pub const ID_MIN_CHARS: usize = 26;
pub const ID_MAX_CHARS: usize = 35;
/// Longest description of a charge, in characters (BCB's `solicitacaoPagador`).
pub const DESCRIPTION_MAX_CHARS: usize = 140;
/// Shortest and longest life of a charge, in minutes (a minute to a week).
pub const EXPIRY_MIN_MINUTES: i64 = 1;
pub const EXPIRY_MAX_MINUTES: i64 = 7 * 24 * 60;
/// Most charges an account keeps at its bank; at the limit, creating one forgets the oldest
/// charge that is no longer open, or is refused while all are.
pub const CHARGES_PER_ACCOUNT_MAX: usize = 100;
/// The path of a charge's location under its bank's public address: `<host>/cob/<id>`.
pub const LOCATION_PATH: &str = "/cob/";

/// A charge's id: 26 to 35 ASCII letters or digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChargeId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed charge id")]
pub struct BadChargeId;

impl ChargeId {
    pub fn parse(text: &str) -> Result<ChargeId, BadChargeId> {
        let ok = (ID_MIN_CHARS..=ID_MAX_CHARS).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(ChargeId(text.to_string()))
        } else {
            Err(BadChargeId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ChargeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ChargeId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ChargeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChargeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChargeId({})", self.0)
    }
}

/// Where a charge stands, as its receiver and a payer see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// May be paid (a payment may be in flight: it is paid once that commits).
    Open,
    Paid,
    Expired,
    Cancelled,
}

/// A charge's location, as a dynamic BR Code carries it: the bank's public address without its
/// scheme, then [`LOCATION_PATH`] and the id.
pub fn location(public_url: &str, id: &ChargeId) -> String {
    let host = public_url
        .trim_end_matches('/')
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    format!("{host}{LOCATION_PATH}{id}")
}

/// The charge a location names, if it is one of `public_url`'s (a bank's public address).
pub fn charge_at(location: &str, public_url: &str) -> Option<ChargeId> {
    let host = public_url
        .trim_end_matches('/')
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let id = location.strip_prefix(host)?.strip_prefix(LOCATION_PATH)?;
    ChargeId::parse(id).ok()
}

/// A charge as its receiver's bank tells a payer (its own client, or another bank's over the
/// signed channel): what is to be paid, to whom, and whether it still may be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeInfo {
    pub id: ChargeId,
    pub amount: Cents,
    pub description: String,
    pub status: ChargeStatus,
    pub expires_ms: i64,
    /// The receiver: first holder's name, masked document, and the bank holding the charge.
    pub receiver: Counterparty,
}

/// A charge as its receiver sees it on her page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeView {
    pub id: ChargeId,
    pub amount: Cents,
    pub description: String,
    pub status: ChargeStatus,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// The payment that paid it.
    pub paid_by: Option<TxId>,
    /// Its dynamic code ("Pix Copia e Cola") and the same as a QR code (SVG drawn by the bank),
    /// while it is open; empty once it is not.
    pub code: String,
    pub svg: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_to_35_letters_or_digits() {
        assert!(ChargeId::parse(&"a".repeat(26)).is_ok());
        assert!(ChargeId::parse(&"Z9".repeat(17)).is_ok());
        assert!(ChargeId::parse(&"a".repeat(25)).is_err());
        assert!(ChargeId::parse(&"a".repeat(36)).is_err());
        assert!(ChargeId::parse(&format!("{}-", "a".repeat(26))).is_err());
        assert!(ChargeId::parse(&format!("{}é", "a".repeat(26))).is_err());
        assert!(serde_json::from_str::<ChargeId>("\"short\"").is_err());
    }

    #[test]
    fn a_location_names_its_bank_and_charge() {
        let id = ChargeId::parse("abcdefghijklmnopqrstuvwxyz0").unwrap();
        let url = location("http://127.0.0.1:8001/", &id);
        assert_eq!(url, "127.0.0.1:8001/cob/abcdefghijklmnopqrstuvwxyz0");
        assert_eq!(charge_at(&url, "http://127.0.0.1:8001"), Some(id.clone()));
        assert_eq!(charge_at(&url, "http://127.0.0.1:8002"), None);
        assert_eq!(
            charge_at("127.0.0.1:8001/cob/short", "http://127.0.0.1:8001"),
            None
        );
        assert_eq!(
            charge_at(
                "127.0.0.1:8001/x/abcdefghijklmnopqrstuvwxyz0",
                "http://127.0.0.1:8001"
            ),
            None
        );
    }
}
