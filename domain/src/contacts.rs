//! Receivers a client pays again (issue 27): the recent ones, from the Pix the client sent, and
//! the favourites the client saved, as the dashboard's Pix card lists them. A receiver is kept
//! with its key (what the Pix form is filled with) and shown as every payer sees a receiver:
//! the name masked (first name and the last name's initial, a company's in full), the document
//! masked, the bank.

use crate::{BankId, PixKey, TaxId};
use serde::{Deserialize, Serialize};

/// Recent receivers kept per account (the newest first, one per key).
pub const RECENT_MAX: usize = 8;
/// Favourites an account may save.
pub const FAVOURITES_MAX: usize = 20;

/// A receiver to pay again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The key, canonical: what the Pix form is filled with.
    pub key: String,
    /// The key as a payer is shown it (masked like any receiver's).
    pub key_shown: String,
    /// The holder's name, masked ([`masked_name`]).
    pub name: String,
    /// The holder's document, masked (a CPF; a CNPJ is shown in full).
    pub document: String,
    pub bank: BankId,
}

impl Contact {
    /// The receiver of `key` as a lookup found it: `name` and `document` as the directory gives
    /// them (the document already masked for a person).
    pub fn new(key: &PixKey, name: &str, document: &str, bank: BankId) -> Contact {
        Contact {
            key: key.canonical(),
            key_shown: key.masked(),
            name: masked_name(name, is_company(document)),
            document: document.to_string(),
            bank,
        }
    }
}

/// The receivers a packet paid, to pay again: for a committed `outcome`, one per leg whose
/// receiver it names, with the key that leg was sent to (`keys`, in leg order); none otherwise.
pub fn paid_in<'a>(
    keys: impl IntoIterator<Item = &'a PixKey>,
    outcome: &crate::dto::PacketOutcome,
) -> Vec<Contact> {
    if outcome.status != crate::dto::TxStatus::Committed {
        return Vec::new();
    }
    keys.into_iter()
        .zip(&outcome.legs)
        .filter_map(|(key, leg)| {
            let to = leg.receiver.as_ref()?;
            Some(Contact::new(key, &to.name, &to.key_masked, to.bank))
        })
        .collect()
}

/// An account's receivers to pay again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    /// Newest first, one per key, at most [`RECENT_MAX`].
    pub recent: Vec<Contact>,
    /// In the order saved, one per key, at most [`FAVOURITES_MAX`].
    pub favourites: Vec<Contact>,
}

/// Why a favourite was not saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ContactError {
    #[error("favourites are full")]
    FavouritesFull,
}

/// A document shown in full is a company's (a CNPJ is public); a person's comes masked.
fn is_company(document: &str) -> bool {
    TaxId::parse(document).is_ok_and(|t| t.is_company())
}

/// How a payer is shown someone else's name: a person's as the first name and the last name's
/// initial (`Ana Maria Lima` → `Ana L.`, `Ana` → `Ana`); a company's (its razão social, public)
/// in full. Bounded like every name (at most 100 characters).
pub fn masked_name(name: &str, company: bool) -> String {
    let name = name.trim();
    if company {
        return name.chars().take(crate::input::NAME_MAX_CHARS).collect();
    }
    let mut words = name.split_whitespace();
    let first: String = words
        .next()
        .unwrap_or_default()
        .chars()
        .take(crate::input::NAME_MAX_CHARS)
        .collect();
    match words.last().and_then(|w| w.chars().next()) {
        Some(initial) => format!("{first} {}.", initial.to_uppercase()),
        None => first,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_committed_packet_gives_its_named_receivers_and_an_aborted_one_none() {
        use crate::dto::{Counterparty, LegOutcome, PacketOutcome, TxStatus};
        let bank = BankId::try_from(3).unwrap();
        let leg = |receiver: Option<&str>| LegOutcome {
            status: TxStatus::Committed,
            error: None,
            receiver: receiver.map(|name| Counterparty {
                name: name.into(),
                key_masked: "***.444.777-**".into(),
                bank,
            }),
            amount: crate::Cents::new(100),
        };
        let keys = [
            PixKey::parse("111.444.777-35").unwrap(),
            PixKey::parse("beto@example.com").unwrap(),
        ];
        let mut outcome = PacketOutcome {
            tx_id: crate::TxId::parse("E00000003202611261705abcDEF12345").unwrap(),
            status: TxStatus::Committed,
            legs: vec![leg(Some("Beto Reis")), leg(None)],
        };
        let paid = paid_in(&keys, &outcome);
        assert_eq!(paid.len(), 1, "a leg naming no receiver gives none");
        assert_eq!(
            (paid[0].key.as_str(), paid[0].name.as_str()),
            ("11144477735", "Beto R.")
        );
        outcome.status = TxStatus::Aborted;
        assert!(paid_in(&keys, &outcome).is_empty());
    }
    use super::*;

    #[test]
    fn names_are_masked_as_payers_see_them() {
        assert_eq!(masked_name("Ana Maria Lima", false), "Ana L.");
        assert_eq!(masked_name("  Bruno   souza ", false), "Bruno S.");
        assert_eq!(masked_name("Dora", false), "Dora");
        assert_eq!(masked_name("", false), "");
        assert_eq!(
            masked_name("Padaria Pão Quente Ltda", true),
            "Padaria Pão Quente Ltda"
        );
    }

    #[test]
    fn a_contact_keeps_the_key_and_shows_it_masked() {
        let key = PixKey::parse("ana@example.com").unwrap();
        let c = Contact::new(
            &key,
            "Ana Maria Lima",
            "***.456.789-**",
            BankId::try_from(2).unwrap(),
        );
        assert_eq!(c.key, "ana@example.com");
        assert_eq!(c.key_shown, "a***@example.com");
        assert_eq!(c.name, "Ana L.");
        let company = Contact::new(
            &PixKey::parse("11.222.333/0001-81").unwrap(),
            "Padaria Pão Quente Ltda",
            "11.222.333/0001-81",
            BankId::try_from(3).unwrap(),
        );
        assert_eq!(company.name, "Padaria Pão Quente Ltda");
    }
}
