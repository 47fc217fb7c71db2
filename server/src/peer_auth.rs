//! Authentication of inter-bank requests: HMAC-SHA256 with the consortium secret over the method,
//! path, a timestamp, a nonce and the body. A request outside the time window, with a nonce seen
//! before, from a non-member, or with a wrong signature is refused (401) before any handler runs.

use domain::BankId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

pub const HEADER_BANK: &str = "x-consorcio-bank";
pub const HEADER_TIMESTAMP: &str = "x-consorcio-ts";
pub const HEADER_NONCE: &str = "x-consorcio-nonce";
pub const HEADER_SIGNATURE: &str = "x-consorcio-signature";
/// The inter-bank protocol version the request is spoken in ([`engine::wire::PROTOCOL_VERSION`]).
pub const HEADER_VERSION: &str = "x-consorcio-version";

/// Requests older or newer than this (by the sender's clock) are refused.
pub const WINDOW_MS: i64 = 30_000;
/// Bound on remembered nonces; beyond it, requests are refused rather than memory grown.
const NONCES_MAX: usize = 200_000;

/// The consortium's shared secret. Explicitly not Serialize, and Debug hides it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// At least 32 characters, so that it cannot be guessed.
    pub fn parse(text: &str) -> Result<Secret, String> {
        if text.len() < 32 {
            return Err("must be at least 32 characters".into());
        }
        Ok(Secret(text.as_bytes().to_vec()))
    }

    fn mac(
        &self,
        method: &str,
        path: &str,
        ts_ms: i64,
        nonce: &str,
        sender: BankId,
        body: &[u8],
    ) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(format!("{method}\n{path}\n{ts_ms}\n{nonce}\n{sender}\n").as_bytes());
        mac.update(body);
        mac
    }

    /// The headers a sender attaches.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        sender: BankId,
        ts_ms: i64,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        use rand::distr::{Alphanumeric, SampleString};
        let nonce = Alphanumeric.sample_string(&mut rand::rng(), 24);
        let signature = hex::encode(
            self.mac(method, path, ts_ms, &nonce, sender, body)
                .finalize()
                .into_bytes(),
        );
        vec![
            (HEADER_BANK, sender.to_string()),
            (HEADER_TIMESTAMP, ts_ms.to_string()),
            (HEADER_NONCE, nonce),
            (HEADER_SIGNATURE, signature),
            (HEADER_VERSION, engine::wire::PROTOCOL_VERSION.to_string()),
        ]
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerAuthError {
    #[error("missing or malformed authentication headers")]
    Malformed,
    #[error("not a member of this consortium")]
    NotMember,
    #[error("request timestamp outside the accepted window")]
    Stale,
    #[error("request already seen (replay)")]
    Replay,
    #[error("bad signature")]
    BadSignature,
    #[error("too many requests to remember; try again")]
    Overloaded,
}

/// Checks signed requests and remembers nonces for the length of the window.
pub struct Verifier {
    secret: Secret,
    members: Vec<BankId>,
    seen: Mutex<NonceCache>,
}

/// Nonces seen inside the window: by nonce for lookup, by timestamp for pruning in order.
#[derive(Default)]
struct NonceCache {
    by_nonce: HashMap<String, i64>,
    by_time: BTreeMap<i64, Vec<String>>,
}

/// The authentication headers of one request, as received.
pub struct Signed<'a> {
    pub bank: Option<&'a str>,
    pub ts: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl Verifier {
    pub fn new(secret: Secret, members: Vec<BankId>) -> Verifier {
        Verifier {
            secret,
            members,
            seen: Mutex::new(NonceCache::default()),
        }
    }

    pub fn verify(
        &self,
        method: &str,
        path: &str,
        h: Signed<'_>,
        body: &[u8],
        now_ms: i64,
    ) -> Result<BankId, PeerAuthError> {
        let (Some(bank), Some(ts), Some(nonce), Some(sig)) = (h.bank, h.ts, h.nonce, h.signature)
        else {
            return Err(PeerAuthError::Malformed);
        };
        let bank: u16 = bank.parse().map_err(|_| PeerAuthError::Malformed)?;
        let bank = BankId::try_from(bank).map_err(|_| PeerAuthError::Malformed)?;
        let ts: i64 = ts.parse().map_err(|_| PeerAuthError::Malformed)?;
        if nonce.is_empty() || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(PeerAuthError::Malformed);
        }
        let sig = hex::decode(sig).map_err(|_| PeerAuthError::Malformed)?;
        if !self.members.contains(&bank) {
            return Err(PeerAuthError::NotMember);
        }
        if (now_ms - ts).abs() > WINDOW_MS {
            return Err(PeerAuthError::Stale);
        }
        self.secret
            .mac(method, path, ts, nonce, bank, body)
            .verify_slice(&sig)
            .map_err(|_| PeerAuthError::BadSignature)?;
        self.remember(nonce, ts, now_ms)?;
        Ok(bank)
    }

    /// Records a nonce; a nonce already recorded is a replay. Nonces older than the window are
    /// forgotten: a request that old is refused as stale anyway.
    fn remember(&self, nonce: &str, ts: i64, now_ms: i64) -> Result<(), PeerAuthError> {
        let mut guard = self.seen.lock().expect("nonce cache lock");
        let NonceCache { by_nonce, by_time } = &mut *guard;
        while let Some(entry) = by_time.first_entry() {
            if *entry.key() >= now_ms - WINDOW_MS {
                break;
            }
            for n in entry.remove() {
                by_nonce.remove(&n);
            }
        }
        if by_nonce.contains_key(nonce) {
            return Err(PeerAuthError::Replay);
        }
        if by_nonce.len() >= NONCES_MAX {
            return Err(PeerAuthError::Overloaded);
        }
        by_nonce.insert(nonce.to_string(), ts);
        by_time.entry(ts).or_default().push(nonce.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: u16) -> BankId {
        BankId::try_from(id).unwrap()
    }

    fn setup() -> (Secret, Verifier) {
        let secret = Secret::parse("a consortium secret of 32+ chars!").unwrap();
        (secret.clone(), Verifier::new(secret, vec![b(1), b(2)]))
    }

    fn check(
        v: &Verifier,
        headers: &[(&str, String)],
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
    ) -> Result<BankId, PeerAuthError> {
        let get = |k: &str| {
            headers
                .iter()
                .find(|(h, _)| *h == k)
                .map(|(_, v)| v.as_str())
        };
        let signed = Signed {
            bank: get(HEADER_BANK),
            ts: get(HEADER_TIMESTAMP),
            nonce: get(HEADER_NONCE),
            signature: get(HEADER_SIGNATURE),
        };
        v.verify(method, path, signed, body, now)
    }

    #[test]
    fn a_signed_request_verifies_once() {
        let (secret, v) = setup();
        let h = secret.sign("POST", "/interbank/token", b(2), 1_000_000, b"{}");
        assert_eq!(
            check(&v, &h, "POST", "/interbank/token", b"{}", 1_000_500),
            Ok(b(2))
        );
        assert_eq!(
            check(&v, &h, "POST", "/interbank/token", b"{}", 1_000_600),
            Err(PeerAuthError::Replay)
        );
    }

    #[test]
    fn tampering_is_detected() {
        let (secret, v) = setup();
        let h = secret.sign("POST", "/interbank/token", b(2), 1_000_000, b"{\"hop\":1}");
        assert_eq!(
            check(
                &v,
                &h,
                "POST",
                "/interbank/token",
                b"{\"hop\":2}",
                1_000_000
            ),
            Err(PeerAuthError::BadSignature)
        );
        assert_eq!(
            check(
                &v,
                &h,
                "POST",
                "/interbank/probe",
                b"{\"hop\":1}",
                1_000_000
            ),
            Err(PeerAuthError::BadSignature)
        );
        let mut other = h.clone();
        other[0].1 = "1".into(); // claims to be another member
        assert_eq!(
            check(
                &v,
                &other,
                "POST",
                "/interbank/token",
                b"{\"hop\":1}",
                1_000_000
            ),
            Err(PeerAuthError::BadSignature)
        );
        let forged = Secret::parse("not the consortium's secret, forged")
            .unwrap()
            .sign("POST", "/x", b(1), 1_000_000, b"");
        assert_eq!(
            check(&v, &forged, "POST", "/x", b"", 1_000_000),
            Err(PeerAuthError::BadSignature)
        );
    }

    #[test]
    fn strangers_stale_and_malformed_requests_are_refused() {
        let (secret, v) = setup();
        let h = secret.sign("POST", "/x", b(7), 1_000_000, b"");
        assert_eq!(
            check(&v, &h, "POST", "/x", b"", 1_000_000),
            Err(PeerAuthError::NotMember)
        );
        let h = secret.sign("POST", "/x", b(1), 1_000_000, b"");
        assert_eq!(
            check(&v, &h, "POST", "/x", b"", 1_000_000 + WINDOW_MS + 1),
            Err(PeerAuthError::Stale)
        );
        assert_eq!(
            check(&v, &[], "POST", "/x", b"", 1_000_000),
            Err(PeerAuthError::Malformed)
        );
        let mut bad = secret.sign("POST", "/x", b(1), 1_000_000, b"");
        bad[3].1 = "zz".into();
        assert_eq!(
            check(&v, &bad, "POST", "/x", b"", 1_000_000),
            Err(PeerAuthError::Malformed)
        );
        assert!(Secret::parse("short").is_err());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn old_nonces_are_forgotten_after_the_window() {
        let (secret, v) = setup();
        for i in 0..100 {
            let h = secret.sign("POST", "/x", b(1), i, b"");
            check(&v, &h, "POST", "/x", b"", i).unwrap();
        }
        let h = secret.sign("POST", "/x", b(1), 10 * WINDOW_MS, b"");
        check(&v, &h, "POST", "/x", b"", 10 * WINDOW_MS).unwrap();
        assert_eq!(
            v.seen.lock().unwrap().by_nonce.len(),
            1,
            "the 100 old nonces were pruned"
        );
    }
}
