//! What a bank can prove to another: its own Ed25519 key ([`BankKey`]), the consortium's public
//! keys ([`Keyring`]) and signed statements that any member can check on its own, whoever
//! forwards them. Pure: no clock, no I/O but reading and writing a bank's own key file.
//!
//! Every statement is signed over a tag naming what it is (`consorcio-port-permit/v1`, ...) and
//! its fields in one fixed encoding, so that a signature on one kind of statement can never be
//! read as another.

use domain::BankId;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// This bank's signing key. A secret: explicitly not Serialize, and its Debug hides it.
pub struct BankKey(SigningKey);

impl std::fmt::Debug for BankKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BankKey(public {})", self.public_hex())
    }
}

impl BankKey {
    /// The key in `path`, or a new one written there (0600) if there is none.
    pub fn load_or_create(path: &Path) -> Result<BankKey, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => BankKey::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BankKey::create(path),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        }
    }

    /// A new key written to `path`, which must not exist yet (a bank's identity is never
    /// overwritten by accident).
    pub fn create(path: &Path) -> Result<BankKey, String> {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let key = BankKey(SigningKey::from_bytes(&seed));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        writeln!(file, "{}", hex::encode(seed))
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(key)
    }

    /// A key from a 32-byte seed: for the simulation and tests, which need keys they can
    /// reproduce from a seed.
    pub fn from_seed(seed: [u8; 32]) -> BankKey {
        BankKey(SigningKey::from_bytes(&seed))
    }

    fn parse(text: &str) -> Result<BankKey, String> {
        let bytes =
            hex::decode(text.trim()).map_err(|_| "not a bank key (64 hex digits)".to_string())?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "not a bank key (64 hex digits)".to_string())?;
        Ok(BankKey(SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// The public key as the membership file writes it: 64 hex digits.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// A signature over statement `message` of kind `tag` (see [`tagged`]).
    pub fn sign_statement(&self, tag: &str, message: &[u8]) -> Sig {
        Sig(self.sign(&tagged(tag, message)))
    }
}

/// An Ed25519 signature, carried as 128 hex digits in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sig(pub [u8; 64]);

impl std::fmt::Debug for Sig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sig({}…)", hex::encode(&self.0[..6]))
    }
}

impl Serialize for Sig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Sig, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(text.as_bytes(), &mut bytes)
            .map_err(|_| serde::de::Error::custom("a signature is 128 hex digits"))?;
        Ok(Sig(bytes))
    }
}

/// The bytes a statement of kind `tag` is signed over: the tag, a newline, the statement.
pub fn tagged(tag: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + 1 + message.len());
    out.extend_from_slice(tag.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(message);
    out
}

/// A member's keys as its protocol cores use them: its own, which signs (plans, ballots, epoch
/// seals), and every member's, which check what the others signed.
#[derive(Clone, Debug)]
pub struct Signing {
    pub key: std::sync::Arc<BankKey>,
    pub keys: std::sync::Arc<Keyring>,
}

/// The consortium's public keys, from its membership file: whose signature is whose.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<BankId, VerifyingKey>,
}

impl Keyring {
    pub fn new(keys: BTreeMap<BankId, VerifyingKey>) -> Keyring {
        Keyring { keys }
    }

    /// Whether `bank` is a member.
    pub fn contains(&self, bank: BankId) -> bool {
        self.keys.contains_key(&bank)
    }

    /// The members, in ascending order.
    pub fn members(&self) -> impl Iterator<Item = BankId> + '_ {
        self.keys.keys().copied()
    }

    pub fn key(&self, bank: BankId) -> Option<&VerifyingKey> {
        self.keys.get(&bank)
    }

    /// Whether `sig` is `bank`'s signature over statement `message` of kind `tag` (strictly: no
    /// malleable encodings). A bank that is no member signs nothing.
    pub fn verify(&self, bank: BankId, tag: &str, message: &[u8], sig: &Sig) -> bool {
        self.keys.get(&bank).is_some_and(|key| {
            key.verify_strict(&tagged(tag, message), &Signature::from_bytes(&sig.0))
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(n: u16) -> BankId {
        BankId::try_from(n).unwrap()
    }

    #[test]
    fn a_statement_verifies_only_for_its_signer_its_kind_and_its_bytes() {
        let (k1, k2) = (BankKey::from_seed([1; 32]), BankKey::from_seed([2; 32]));
        let ring = Keyring::new([(b(1), k1.public()), (b(2), k2.public())].into());
        let sig = k1.sign_statement("consorcio-test/v1", b"hello");
        assert!(ring.verify(b(1), "consorcio-test/v1", b"hello", &sig));
        assert!(
            !ring.verify(b(2), "consorcio-test/v1", b"hello", &sig),
            "another signer"
        );
        assert!(
            !ring.verify(b(1), "consorcio-other/v1", b"hello", &sig),
            "another kind"
        );
        assert!(
            !ring.verify(b(1), "consorcio-test/v1", b"hellO", &sig),
            "other bytes"
        );
        assert!(
            !ring.verify(b(3), "consorcio-test/v1", b"hello", &sig),
            "no member"
        );
        let json = serde_json::to_string(&sig).unwrap();
        assert_eq!(serde_json::from_str::<Sig>(&json).unwrap(), sig);
        assert!(serde_json::from_str::<Sig>("\"abc\"").is_err());
    }

    #[test]
    fn a_key_is_created_once_private_to_its_owner_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("bank.key");
        let key = BankKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            BankKey::load_or_create(&path).unwrap().public_hex(),
            key.public_hex(),
            "read back, not replaced"
        );
        assert!(
            BankKey::create(&path).is_err(),
            "an identity is never overwritten"
        );
        assert!(
            !format!("{key:?}")
                .contains(&std::fs::read_to_string(&path).unwrap().trim().to_string()),
            "Debug shows no secret"
        );
        std::fs::write(&path, "not hex").unwrap();
        assert!(BankKey::load_or_create(&path)
            .unwrap_err()
            .contains("not a bank key"));
    }
}
