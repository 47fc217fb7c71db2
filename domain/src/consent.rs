//! Payment consents (as in Brazil's Open Finance): the owner of an account at one bank lets a named
//! account at another bank draw on it in Pix packets, within limits, until a date, revocable at any
//! time. A consent lives at the bank that holds the money; the other bank only keeps a link to it.

use crate::{AccountId, BankId, Cents};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A consent's id, made by the bank that holds the money: 24 letters or digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConsentId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed consent id")]
pub struct BadConsentId;

impl ConsentId {
    pub const LEN: usize = 24;

    pub fn parse(text: &str) -> Result<ConsentId, BadConsentId> {
        (text.len() == Self::LEN && text.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| ConsentId(text.to_string()))
            .ok_or(BadConsentId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ConsentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ConsentId, D::Error> {
        ConsentId::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ConsentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ConsentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConsentId({})", self.0)
    }
}

/// What a consent allows: at most `per_packet` drawn by one packet, at most `daily` (if set) per
/// day (Brasília time), until `expires_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentTerms {
    pub per_packet: Cents,
    pub daily: Option<Cents>,
    pub expires_ms: i64,
}

/// The longest a consent may run, in days, as in Open Finance: twelve months.
pub const CONSENT_MAX_DAYS: i64 = 365;
/// [`CONSENT_MAX_DAYS`] in milliseconds.
pub const CONSENT_MAX_MS: i64 = CONSENT_MAX_DAYS * 24 * 3_600 * 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TermsError {
    #[error("per-packet limit not positive or above the operation limit")]
    PerPacket,
    #[error("daily limit below the per-packet limit")]
    Daily,
    #[error("expiry in the past or beyond {CONSENT_MAX_DAYS} days")]
    Expiry,
}

impl ConsentTerms {
    /// Checked terms, as of `now_ms`.
    pub fn new(
        per_packet: Cents,
        daily: Option<Cents>,
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<ConsentTerms, TermsError> {
        if per_packet.get() <= 0 || per_packet > crate::money::MAX_OPERATION {
            return Err(TermsError::PerPacket);
        }
        if daily.is_some_and(|d| d < per_packet || d > crate::money::MAX_BALANCE) {
            return Err(TermsError::Daily);
        }
        if expires_ms <= now_ms || expires_ms > now_ms.saturating_add(CONSENT_MAX_MS) {
            return Err(TermsError::Expiry);
        }
        Ok(ConsentTerms {
            per_packet,
            daily,
            expires_ms,
        })
    }
}

/// Where a consent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentStatus {
    Active,
    Revoked,
    Expired,
}

/// A consent as its owner sees it at the bank that holds the money.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    pub id: ConsentId,
    pub grantee_bank: BankId,
    pub grantee_account: AccountId,
    pub terms: ConsentTerms,
    pub created_ms: i64,
    pub status: ConsentStatus,
    /// Drawn today (reserved or paid) under this consent.
    pub used_today: Cents,
}

/// What the bank that holds the money tells the bank a consent was given to, when its one-time
/// code is redeemed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub consent: ConsentId,
    /// The account drawn on (at the granting bank) and the name of its holder.
    pub account: AccountId,
    pub owner_name: String,
    pub terms: ConsentTerms,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_checked_and_ids_parsed() {
        let now = 1_000_000;
        let c = |v: i64| Cents::new(v);
        assert!(ConsentTerms::new(c(100), Some(c(1_000)), now + 1, now).is_ok());
        assert_eq!(
            ConsentTerms::new(c(0), None, now + 1, now),
            Err(TermsError::PerPacket)
        );
        assert_eq!(
            ConsentTerms::new(c(100), Some(c(99)), now + 1, now),
            Err(TermsError::Daily)
        );
        assert_eq!(
            ConsentTerms::new(c(100), None, now, now),
            Err(TermsError::Expiry)
        );
        assert_eq!(
            ConsentTerms::new(c(100), None, now + CONSENT_MAX_MS + 1, now),
            Err(TermsError::Expiry)
        );
        assert!(ConsentId::parse("abcdefghijklmnopqrstuvwx").is_ok());
        assert!(ConsentId::parse("abc").is_err());
        assert!(serde_json::from_str::<ConsentId>("\"abcdefghijklmnopqrstuvw!\"").is_err());
    }
}

/// Who holds the account that asks to draw on a client's account at another bank, as the
/// consent page names it: each holder's name masked (`Ana L.`; a company's in full), the first
/// holder's document masked. Told by the asking bank, only for a link its client started with
/// the bank that asks (see `engine::wire::HolderMsg`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkHolder {
    pub name: String,
    pub document: String,
}

impl LinkHolder {
    /// The most a bank's answer may carry: two holders' names at their longest, a document.
    pub const NAME_MAX_CHARS: usize = 2 * crate::input::NAME_MAX_CHARS + 3;
    pub const DOCUMENT_MAX_CHARS: usize = 18;

    /// Whether an answer from another bank is within those bounds (else it is not shown).
    pub fn plausible(&self) -> bool {
        (1..=Self::NAME_MAX_CHARS).contains(&self.name.chars().count())
            && (1..=Self::DOCUMENT_MAX_CHARS).contains(&self.document.chars().count())
    }
}
