//! The consortium's membership file: every bank with its id, name, inter-bank URL, public URL,
//! public key, and the limit of its net debt to any one other bank. Every bank loads the same
//! file; it is what makes a signature mean "this bank said so".
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
    limit_cents: i64,
}

/// Most banks a membership file may list (bank ids are 1..=99).
const MEMBERS_MAX: usize = 99;

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
        let mut members = BTreeMap::new();
        for e in file.banks {
            let id =
                BankId::try_from(e.id).map_err(|_| format!("bank id {} is not 1..=99", e.id))?;
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
            if !(0..=domain::money::MAX_BALANCE.get()).contains(&e.limit_cents) {
                return Err(at("limit_cents is negative or beyond any balance"));
            }
            let member = Member {
                id,
                name,
                url,
                public_url,
                key,
                limit: Cents::new(e.limit_cents),
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
    fn bad_membership_files_are_refused_by_what_is_wrong() {
        for (text, expected) in [
            ("{", "not a membership file".to_string()),
            (&file(""), "from 1 to 99".to_string()),
            (
                &file(&format!("{},{}", bank(1, &key(1)), bank(1, &key(2)))),
                "listed twice".to_string(),
            ),
            (
                &file(&format!("{},{}", bank(1, &key(1)), bank(2, &key(1)))),
                "same public key".to_string(),
            ),
            (&file(&bank(1, "abc")), "64 hex digits".to_string()),
            (&file(&bank(100, &key(1))), "not 1..=99".to_string()),
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
