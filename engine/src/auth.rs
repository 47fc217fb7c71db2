//! Passwords (Argon2id) and session tokens.
//!
//! Hashing is CPU-bound on purpose; callers run [`hash_password`] and [`verify_password`] on the
//! [`PasswordWorkers`], never on the engine thread or an async worker.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Argon2id parameters, chosen explicitly (OWASP's 2023 minimum: 19 MiB, 2 passes, 1 lane).
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// How long a session lasts at most, however busy: the engine ends it, and the cookie's Max-Age
/// says the same. Banks' apps ask for the password again within minutes to hours; two hours
/// covers a working session.
pub const SESSION_TTL_MS: i64 = 2 * 3_600 * 1_000;

/// A session nobody used for this long ends (a phone or a computer left unlocked).
pub const SESSION_IDLE_MS: i64 = 10 * 60 * 1_000;

/// A PHC-format Argon2id hash. A secret: explicitly not Serialize/Deserialize, and its Debug
/// output hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// Wraps a hash read back from storage.
    pub fn from_stored(phc: String) -> PasswordHash {
        PasswordHash(phc)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

/// A password as typed. Not Serialize, not Debug-printable.
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Password {
        Password(text)
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &Password) -> PasswordHash {
    let salt = SaltString::generate(&mut OsRng);
    let phc = hasher()
        .hash_password(password.0.as_bytes(), &salt)
        .expect("Argon2id hashing with valid parameters");
    PasswordHash(phc.to_string())
}

/// Checks a password. With `None` (no such user) it verifies against a fixed dummy hash so that
/// the time taken does not tell whether the e-mail exists, then returns false.
pub fn verify_password(stored: Option<&PasswordHash>, password: &Password) -> bool {
    static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password(&Password::new("dummy password 0".into())));
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy, false),
    };
    let Ok(parsed) = argon2::password_hash::PasswordHash::new(&hash.0) else {
        return false;
    };
    hasher()
        .verify_password(password.0.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// A session token as sent in the cookie: 32 random bytes, hex. A secret: not Serialize.
pub struct SessionToken(String);

/// What the server stores for a session: the SHA-256 of the token, so that a copy of the database
/// does not hand out live sessions.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

impl SessionToken {
    pub fn generate() -> SessionToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        SessionToken(hex::encode(bytes))
    }

    /// Parses a token from a cookie; anything but 64 hex digits is not a token.
    pub fn parse(text: &str) -> Option<SessionToken> {
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| SessionToken(text.to_ascii_lowercase()))
    }

    pub fn as_cookie_value(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

mod workers;
pub use workers::PasswordWorkers;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password(&Password::new("s3cret password".into()));
        assert!(h.as_stored().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(
            Some(&h),
            &Password::new("s3cret password".into())
        ));
        assert!(!verify_password(
            Some(&h),
            &Password::new("s3cret passworD".into())
        ));
        assert!(
            !verify_password(None, &Password::new("dummy password 0".into())),
            "no user, no login"
        );
        assert!(!verify_password(
            Some(&PasswordHash::from_stored("garbage".into())),
            &Password::new("x".into())
        ));
        assert_eq!(format!("{h:?}"), "PasswordHash(<redacted>)");
    }

    #[test]
    fn session_tokens_parse_strictly() {
        let t = SessionToken::generate();
        let back = SessionToken::parse(t.as_cookie_value()).unwrap();
        assert_eq!(back.hash(), t.hash());
        assert!(SessionToken::parse("abc").is_none());
        assert!(SessionToken::parse(&"g".repeat(64)).is_none());
    }
}
