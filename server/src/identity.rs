//! This bank's identity: its own Ed25519 signing key, kept in a file of its data directory
//! (`bank.key`, mode 0600, hex of the 32-byte seed). Created by `bank-node keygen` or on first
//! start; never logged, never serialised. Every other bank knows only its public key, from the
//! membership file. The key type lives in the engine ([`engine::proof::BankKey`]), which signs
//! the statements other banks check on their own (votes, permits).

pub use engine::proof::BankKey;

/// The name of the key file in a bank's data directory.
pub const KEY_FILE_NAME: &str = "bank.key";
