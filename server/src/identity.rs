//! This bank's identity: its own Ed25519 signing key, kept in a file of its data directory
//! (`bank.key`, mode 0600, hex of the 32-byte seed). Created by `bank-node keygen` or on first
//! start; never logged, never serialised. Every other bank knows only its public key, from the
//! membership file.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use std::io::Write;
use std::path::Path;

/// The name of the key file in a bank's data directory.
pub const KEY_FILE_NAME: &str = "bank.key";

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_private_to_its_owner_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE_NAME);
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
