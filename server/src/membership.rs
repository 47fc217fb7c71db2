//! The consortium's membership file: every bank with its id, name, inter-bank URL, public URL,
//! public key, and the limit of its net debt to any one other bank, stated as such or derived
//! from the collateral it pledged. Every bank loads the same file; it is what makes a signature
//! mean "this bank said so".
//!
//! A bank with `collateral_cents` instead of `limit_cents` may owe any one other bank its
//! collateral divided among the other members (rounded down): owing every one of them its
//! limit at once, its debts are still covered by what it pledged.
//!
//! ```json
//! { "banks": [
//!   { "id": 1, "name": "Eleven", "url": "http://10.0.0.1:8081", "public_url": "https://eleven.example",
//!     "public_key": "<64 hex digits>", "limit_cents": 100000000000 }
//! ] }
//! ```

use domain::{BankId, Cents};
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One bank of the consortium, as every other bank knows it.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: BankId,
    pub name: String,
    /// Where other banks reach its inter-bank API.
    pub url: String,
    /// Where a browser reaches its app.
    pub public_url: String,
    pub key: VerifyingKey,
    /// The most this bank may owe any one other bank, net: a bank refuses a credit that would
    /// take this bank's debt to it beyond this.
    pub limit: Cents,
    /// What it pledged, when the file states it (its limit is then derived from it).
    pub collateral: Option<Cents>,
}

#[derive(Clone, Debug)]
pub struct Membership {
    members: BTreeMap<BankId, Member>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    banks: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: u16,
    name: String,
    url: String,
    public_url: Option<String>,
    public_key: String,
    /// One of the two: the limit itself, or the collateral it is derived from.
    limit_cents: Option<i64>,
    collateral_cents: Option<i64>,
}

/// Most banks a membership file may list (bank ids are 1..=`BankId::MAX`).
const MEMBERS_MAX: usize = BankId::MAX as usize;

impl Membership {
    pub fn load(path: &std::path::Path) -> Result<Membership, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Membership::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Membership, String> {
        let file: File =
            serde_json::from_str(text).map_err(|e| format!("not a membership file: {e}"))?;
        if file.banks.is_empty() || file.banks.len() > MEMBERS_MAX {
            return Err(format!("a consortium has from 1 to {MEMBERS_MAX} banks"));
        }
        let others = i64::try_from(file.banks.len().saturating_sub(1).max(1)).unwrap_or(1);
        let mut members = BTreeMap::new();
        for e in file.banks {
            let id = BankId::try_from(e.id)
                .map_err(|_| format!("bank id {} is not 1..={}", e.id, BankId::MAX))?;
            let at = |what: &str| format!("bank {id}: {what}");
            let name = domain::input::name(&e.name).map_err(|m| at(&format!("name: {m}")))?;
            let url = http_url(&e.url).ok_or_else(|| at("url is not an http(s) URL"))?;
            let public_url = match e.public_url {
                Some(u) => http_url(&u).ok_or_else(|| at("public_url is not an http(s) URL"))?,
                None => url.clone(),
            };
            let bytes: [u8; 32] = hex::decode(e.public_key.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| at("public_key is not 64 hex digits"))?;
            let key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| at("public_key is not an Ed25519 public key"))?;
            let amount = |cents: i64, what: &str| {
                (0..=domain::money::MAX_BALANCE.get())
                    .contains(&cents)
                    .then_some(Cents::new(cents))
                    .ok_or_else(|| at(&format!("{what} is negative or beyond any balance")))
            };
            let (limit, collateral) = match (e.limit_cents, e.collateral_cents) {
                (Some(limit), None) => (amount(limit, "limit_cents")?, None),
                (None, Some(collateral)) => {
                    let collateral = amount(collateral, "collateral_cents")?;
                    (Cents::new(collateral.get() / others), Some(collateral))
                }
                _ => return Err(at("give either limit_cents or collateral_cents")),
            };
            let member = Member {
                id,
                name,
                url,
                public_url,
                key,
                limit,
                collateral,
            };
            if members.insert(id, member).is_some() {
                return Err(format!("bank {id} is listed twice"));
            }
        }
        let mut keys: Vec<[u8; 32]> = members.values().map(|m| m.key.to_bytes()).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.len() != members.len() {
            return Err("two banks have the same public key".into());
        }
        Ok(Membership { members })
    }

    pub fn get(&self, id: BankId) -> Option<&Member> {
        self.members.get(&id)
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn ids(&self) -> Vec<BankId> {
        self.members.keys().copied().collect()
    }

    /// Every member's limit, for the engine's checks.
    pub fn limits(&self) -> BTreeMap<BankId, Cents> {
        self.members.values().map(|m| (m.id, m.limit)).collect()
    }

    /// Every member's public key.
    pub fn keys(&self) -> BTreeMap<BankId, VerifyingKey> {
        self.members.values().map(|m| (m.id, m.key)).collect()
    }
}

/// An http(s) URL without a trailing slash, at most 200 characters, of only letters, digits and
/// `.-_:/[]` (a host, a port, a path): it goes into links, redirects and the
/// Content-Security-Policy header as it is.
pub fn http_url(text: &str) -> Option<String> {
    let url = text.trim().trim_end_matches('/');
    ((url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 200
        && url
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:/[]".contains(&b)))
    .then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> String {
        hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[n; 32])
                .verifying_key()
                .to_bytes(),
        )
    }

    fn file(banks: &str) -> String {
        format!(r#"{{ "banks": [{banks}] }}"#)
    }

    fn bank(id: u16, key: &str) -> String {
        format!(
            r#"{{ "id": {id}, "name": "Bank {id}", "url": "http://h:{id}/", "public_key": "{key}", "limit_cents": 500 }}"#
        )
    }

    #[test]
    fn a_membership_file_parses_into_checked_members() {
        let m = Membership::parse(&file(&format!("{},{}", bank(1, &key(1)), bank(2, &key(2)))))
            .unwrap();
        let one = m.get(BankId::try_from(1).unwrap()).unwrap();
        assert_eq!(
            (one.url.as_str(), one.public_url.as_str(), one.limit),
            ("http://h:1", "http://h:1", Cents::new(500))
        );
        assert_eq!(m.ids().len(), 2);
    }

    #[test]
    fn a_limit_is_derived_from_collateral_split_among_the_other_members() {
        let pledged = |id: u16, cents: i64| {
            bank(id, &key(id as u8)).replace(
                r#""limit_cents": 500"#,
                &format!(r#""collateral_cents": {cents}"#),
            )
        };
        let m = Membership::parse(&file(&format!(
            "{},{},{}",
            pledged(1, 1_000_001),
            bank(2, &key(2)),
            bank(3, &key(3))
        )))
        .unwrap();
        let one = m.get(BankId::try_from(1).unwrap()).unwrap();
        // Owing both others its limit at once is covered by what it pledged.
        assert_eq!(
            (one.limit, one.collateral),
            (Cents::new(500_000), Some(Cents::new(1_000_001)))
        );
        let two = m.get(BankId::try_from(2).unwrap()).unwrap();
        assert_eq!((two.limit, two.collateral), (Cents::new(500), None));
        for both_or_none in [
            bank(1, &key(1)).replace(
                r#""limit_cents": 500"#,
                r#""limit_cents": 500, "collateral_cents": 9"#,
            ),
            bank(1, &key(1)).replace(r#", "limit_cents": 500"#, ""),
        ] {
            let e = Membership::parse(&file(&both_or_none)).unwrap_err();
            assert!(e.contains("either limit_cents or collateral_cents"), "{e}");
        }
        let e = Membership::parse(&file(&pledged(1, -1))).unwrap_err();
        assert!(e.contains("collateral_cents is negative"), "{e}");
    }

    #[test]
    fn bad_membership_files_are_refused_by_what_is_wrong() {
        for (text, expected) in [
            ("{", "not a membership file".to_string()),
            (&file(""), "from 1 to 200".to_string()),
            (
                &file(&format!("{},{}", bank(1, &key(1)), bank(1, &key(2)))),
                "listed twice".to_string(),
            ),
            (
                &file(&format!("{},{}", bank(1, &key(1)), bank(2, &key(1)))),
                "same public key".to_string(),
            ),
            (&file(&bank(1, "abc")), "64 hex digits".to_string()),
            (&file(&bank(201, &key(1))), "not 1..=200".to_string()),
            (
                &file(&bank(1, &key(1)).replace("http://h:1/", "ftp://x")),
                "url".to_string(),
            ),
            (
                &file(&bank(1, &key(1)).replace("500", "-1")),
                "limit_cents".to_string(),
            ),
            (
                &file(
                    &bank(1, &key(1)).replace("\"limit_cents\"", "\"extra\": 1, \"limit_cents\""),
                ),
                "unknown field".to_string(),
            ),
        ] {
            let err = Membership::parse(text).unwrap_err();
            assert!(err.contains(&expected), "{err} (expected {expected})");
        }
    }
}
