//! Authentication between banks: every request and every answer is signed with its sender's own
//! Ed25519 key ([`crate::identity::BankKey`]) and verified with the public key the membership file
//! lists for the bank it claims to come from.
//!
//! A request's signature covers the protocol version, sender, receiver, method, path, time stamp,
//! a nonce and the SHA-256 of the body; an answer's covers the version, its sender (the bank
//! asked), receiver (the bank that asked), status, the request's nonce and the SHA-256 of its
//! body, a time stamp and its own body's hash. So a message meant for one bank is refused by
//! another, an answer belongs to one request and says what it was asked (a signed vote names the
//! parts voted on), and no bank can speak for another. A bank checks the headers (version, membership,
//! receiver, time window, nonce) before it reads a body at all.

use crate::identity::BankKey;
use domain::BankId;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

pub const HEADER_VERSION: &str = "x-consorcio-version";
pub const HEADER_FROM: &str = "x-consorcio-from";
pub const HEADER_TO: &str = "x-consorcio-to";
pub const HEADER_TIMESTAMP: &str = "x-consorcio-ts";
pub const HEADER_NONCE: &str = "x-consorcio-nonce";
pub const HEADER_SIGNATURE: &str = "x-consorcio-signature";
/// The SHA-256 of a request's body, in a header so that the signature (which covers it) is
/// checked before any of the body is read.
pub const HEADER_BODY_SHA256: &str = "x-consorcio-body-sha256";

/// Requests and answers older than this (by the sender's clock) are refused.
pub const WINDOW_MS: i64 = 30_000;
/// Requests and answers dated further ahead than this are refused: clocks differ by far less,
/// and a nonce is remembered only for the window after its time stamp.
pub const FUTURE_MS: i64 = 2_000;
/// Bound on remembered nonces of one sender; beyond it, that sender's requests are refused
/// (503) rather than memory grown, and no other sender's are.
const NONCES_PER_SENDER_MAX: usize = 50_000;
/// Longest nonce accepted.
const NONCE_MAX_CHARS: usize = 64;

/// The headers of one signed message, as sent or received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signed {
    pub version: String,
    pub from: String,
    pub to: String,
    pub ts: String,
    pub nonce: String,
    pub signature: String,
    /// A request's claimed body hash (empty on answers, whose receiver hashes the body itself).
    pub body_sha256: String,
}

impl Signed {
    /// As HTTP headers.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut h = vec![
            (HEADER_VERSION, self.version.as_str()),
            (HEADER_FROM, self.from.as_str()),
            (HEADER_TO, self.to.as_str()),
            (HEADER_TIMESTAMP, self.ts.as_str()),
            (HEADER_NONCE, self.nonce.as_str()),
            (HEADER_SIGNATURE, self.signature.as_str()),
        ];
        if !self.body_sha256.is_empty() {
            h.push((HEADER_BODY_SHA256, self.body_sha256.as_str()));
        }
        h
    }

    /// Read from HTTP headers (`get` looks one up); missing ones are empty, and refused later.
    pub fn from_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Signed {
        let h = |k| get(k).unwrap_or("").to_string();
        Signed {
            version: h(HEADER_VERSION),
            from: h(HEADER_FROM),
            to: h(HEADER_TO),
            ts: h(HEADER_TIMESTAMP),
            nonce: h(HEADER_NONCE),
            signature: h(HEADER_SIGNATURE),
            body_sha256: h(HEADER_BODY_SHA256),
        }
    }
}

/// The SHA-256 of a message body, in hex, as signatures cover it.
pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// What a request's signature covers: the headers `h` (all but the signature), the method, the
/// path and the body's hash (`body_sha256`, from [`sha256_hex`]).
pub fn request_message(h: &Signed, method: &str, path: &str, body_sha256: &str) -> Vec<u8> {
    let Signed {
        version,
        from,
        to,
        ts,
        nonce,
        ..
    } = h;
    format!(
        "consorcio-request\n{version}\n{from}\n{to}\n{method}\n{path}\n{ts}\n{nonce}\n{body_sha256}"
    )
    .into_bytes()
}

/// What an answer's signature covers: its headers `h` (whose nonce is the request's), its status,
/// the SHA-256 of the request's body and its own body's hash. `request_sha256` is `None` only for
/// answers signed under protocol version 3, which did not name their request's body (kept as
/// evidence from before version 4).
pub fn answer_message(
    h: &Signed,
    status: u16,
    request_sha256: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let Signed {
        version,
        from,
        to,
        ts,
        nonce,
        ..
    } = h;
    let body = sha256_hex(body);
    match request_sha256 {
        Some(request) => format!(
            "consorcio-answer\n{version}\n{from}\n{to}\n{status}\n{nonce}\n{request}\n{ts}\n{body}"
        ),
        None => {
            format!("consorcio-answer\n{version}\n{from}\n{to}\n{status}\n{nonce}\n{ts}\n{body}")
        }
    }
    .into_bytes()
}

/// Signs what this bank sends.
pub struct Signer {
    me: BankId,
    key: std::sync::Arc<BankKey>,
}

impl Signer {
    pub fn new(me: BankId, key: std::sync::Arc<BankKey>) -> Signer {
        Signer { me, key }
    }

    pub fn me(&self) -> BankId {
        self.me
    }

    /// The headers of a request to bank `to`.
    pub fn request(&self, to: BankId, method: &str, path: &str, ts_ms: i64, body: &[u8]) -> Signed {
        self.request_hashed(to, method, path, ts_ms, &sha256_hex(body))
    }

    /// [`Signer::request`] for a body whose hash the caller has already (it needs it again to
    /// check the answer).
    pub fn request_hashed(
        &self,
        to: BankId,
        method: &str,
        path: &str,
        ts_ms: i64,
        body_sha256: &str,
    ) -> Signed {
        use rand::distr::{Alphanumeric, SampleString};
        let nonce = Alphanumeric.sample_string(&mut rand::rng(), 24);
        let mut h = self.unsigned(to, ts_ms, nonce);
        h.body_sha256 = body_sha256.to_string();
        h.signature = hex::encode(
            self.key
                .sign(&request_message(&h, method, path, body_sha256)),
        );
        h
    }

    /// The headers of this bank's answer, with `status` and `body`, to the request `nonce` from
    /// bank `to`, whose body hashed to `request_sha256`.
    pub fn answer(
        &self,
        to: BankId,
        status: u16,
        nonce: &str,
        request_sha256: &str,
        ts_ms: i64,
        body: &[u8],
    ) -> Signed {
        let mut h = self.unsigned(to, ts_ms, nonce.to_string());
        let message = answer_message(&h, status, Some(request_sha256), body);
        h.signature = hex::encode(self.key.sign(&message));
        h
    }

    fn unsigned(&self, to: BankId, ts_ms: i64, nonce: String) -> Signed {
        Signed {
            version: engine::wire::PROTOCOL_VERSION.to_string(),
            from: self.me.to_string(),
            to: to.to_string(),
            ts: ts_ms.to_string(),
            nonce,
            signature: String::new(),
            body_sha256: String::new(),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerAuthError {
    #[error("inter-bank protocol version '{0}' is not spoken here; this bank speaks version {v}", v = engine::wire::PROTOCOL_VERSION)]
    Version(String),
    #[error("missing or malformed authentication headers")]
    Malformed,
    #[error("not a member of this consortium")]
    NotMember,
    #[error("addressed to another bank")]
    NotForMe,
    #[error("time stamp outside the accepted window")]
    Stale,
    #[error("already seen (replay)")]
    Replay,
    #[error("bad signature")]
    BadSignature,
    #[error("too many requests to remember; try again")]
    Overloaded,
    #[error("the body does not match the SHA-256 its signature covers")]
    BodyMismatch,
}

impl PeerAuthError {
    /// The HTTP status a request refused for this reason gets.
    pub fn status(&self) -> u16 {
        match self {
            PeerAuthError::Version(_) | PeerAuthError::BodyMismatch => 400,
            PeerAuthError::Overloaded => 503,
            _ => 401,
        }
    }
}

/// A request whose headers passed every check but the signature.
#[derive(Debug)]
pub struct Checked {
    pub from: BankId,
    pub ts_ms: i64,
    signed: Signed,
    key: VerifyingKey,
}

impl Checked {
    pub fn signed(&self) -> &Signed {
        &self.signed
    }

    /// Whether the body read, which hashed to `body_sha256`, is the one the signature covers.
    pub fn check_body(&self, body_sha256: &str) -> Result<(), PeerAuthError> {
        if self.signed.body_sha256.eq_ignore_ascii_case(body_sha256) {
            Ok(())
        } else {
            Err(PeerAuthError::BodyMismatch)
        }
    }
}

/// Checks signed requests and answers, and remembers request nonces for the length of the window.
pub struct Verifier {
    me: BankId,
    keys: BTreeMap<BankId, VerifyingKey>,
    seen: Mutex<NonceCache>,
}

/// Nonces seen inside the window, per sender: by nonce for lookup, by time for pruning in order,
/// and how many each sender has (each has its own quota, so that one member cannot fill the
/// cache for all).
#[derive(Default)]
struct NonceCache {
    by_nonce: HashMap<(BankId, String), i64>,
    by_time: BTreeMap<i64, Vec<(BankId, String)>>,
    per_sender: HashMap<BankId, usize>,
}

impl Verifier {
    pub fn new(me: BankId, keys: BTreeMap<BankId, VerifyingKey>) -> Verifier {
        Verifier {
            me,
            keys,
            seen: Mutex::new(NonceCache::default()),
        }
    }

    /// The members whose signatures this bank checks.
    pub fn members(&self) -> impl Iterator<Item = BankId> + '_ {
        self.keys.keys().copied()
    }

    /// Everything that can be checked before the signature: version, sender a member, receiver
    /// this bank, time window, a fresh nonce, a well-formed body hash.
    pub fn check_headers(&self, h: &Signed, now_ms: i64) -> Result<Checked, PeerAuthError> {
        if h.version != engine::wire::PROTOCOL_VERSION.to_string() {
            if h.version.is_empty() {
                return Err(PeerAuthError::Malformed);
            }
            return Err(PeerAuthError::Version(h.version.chars().take(16).collect()));
        }
        let (from, ts) = self.common(h, now_ms)?;
        if h.nonce.is_empty()
            || h.nonce.len() > NONCE_MAX_CHARS
            || !h.nonce.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(PeerAuthError::Malformed);
        }
        if h.body_sha256.len() != 64 || !h.body_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PeerAuthError::Malformed);
        }
        if self
            .seen
            .lock()
            .expect("nonce cache lock")
            .by_nonce
            .contains_key(&(from, h.nonce.clone()))
        {
            return Err(PeerAuthError::Replay);
        }
        let key = self.keys[&from];
        Ok(Checked {
            from,
            ts_ms: ts,
            signed: h.clone(),
            key,
        })
    }

    /// The signature over the request's headers, which name its body by hash (so that it is
    /// checked before any of the body is read), then the nonce is remembered (a second copy is a
    /// replay). The caller then checks the body against [`Signed::body_sha256`] (from [`Checked::signed`]).
    pub fn verify_request(
        &self,
        checked: &Checked,
        method: &str,
        path: &str,
        now_ms: i64,
    ) -> Result<BankId, PeerAuthError> {
        let h = &checked.signed;
        let message = request_message(h, method, path, &h.body_sha256);
        verify(&checked.key, &message, &h.signature)?;
        self.remember(checked.from, &h.nonce, checked.ts_ms, now_ms)?;
        Ok(checked.from)
    }

    /// An answer from bank `from` to this bank's request `nonce` (whose body hashed to
    /// `request_sha256`): signed by `from`, for this bank, for that request, recent.
    #[allow(clippy::too_many_arguments)]
    pub fn verify_answer(
        &self,
        from: BankId,
        nonce: &str,
        request_sha256: &str,
        status: u16,
        h: &Signed,
        body: &[u8],
        now_ms: i64,
    ) -> Result<(), PeerAuthError> {
        if h.version != engine::wire::PROTOCOL_VERSION.to_string() {
            return Err(PeerAuthError::Version(h.version.chars().take(16).collect()));
        }
        let (signer, _) = self.common(h, now_ms)?;
        if signer != from || h.nonce != nonce {
            return Err(PeerAuthError::BadSignature);
        }
        let message = answer_message(h, status, Some(request_sha256), body);
        verify(&self.keys[&from], &message, &h.signature)
    }

    /// Sender a member, receiver this bank, time stamp in the window.
    fn common(&self, h: &Signed, now_ms: i64) -> Result<(BankId, i64), PeerAuthError> {
        let bank = |text: &str| {
            text.parse::<u16>()
                .ok()
                .and_then(|n| BankId::try_from(n).ok())
                .ok_or(PeerAuthError::Malformed)
        };
        let (from, to) = (bank(&h.from)?, bank(&h.to)?);
        let ts: i64 = h.ts.parse().map_err(|_| PeerAuthError::Malformed)?;
        if !self.keys.contains_key(&from) {
            return Err(PeerAuthError::NotMember);
        }
        if to != self.me {
            return Err(PeerAuthError::NotForMe);
        }
        if now_ms
            .checked_sub(ts)
            .is_none_or(|age| !(-FUTURE_MS..=WINDOW_MS).contains(&age))
        {
            return Err(PeerAuthError::Stale);
        }
        Ok((from, ts))
    }

    /// Records a nonce; one already recorded is a replay. Nonces older than the window are
    /// forgotten: a request that old is refused as stale anyway.
    fn remember(
        &self,
        from: BankId,
        nonce: &str,
        ts: i64,
        now_ms: i64,
    ) -> Result<(), PeerAuthError> {
        let mut guard = self.seen.lock().expect("nonce cache lock");
        let NonceCache {
            by_nonce,
            by_time,
            per_sender,
        } = &mut *guard;
        while let Some(entry) = by_time.first_entry() {
            if *entry.key() >= now_ms.saturating_sub(WINDOW_MS) {
                break;
            }
            for n in entry.remove() {
                if by_nonce.remove(&n).is_some() {
                    if let Some(count) = per_sender.get_mut(&n.0) {
                        *count = count.saturating_sub(1);
                    }
                }
            }
        }
        let key = (from, nonce.to_string());
        if by_nonce.contains_key(&key) {
            return Err(PeerAuthError::Replay);
        }
        let count = per_sender.entry(from).or_default();
        if *count >= NONCES_PER_SENDER_MAX {
            return Err(PeerAuthError::Overloaded);
        }
        *count += 1;
        by_nonce.insert(key.clone(), ts);
        by_time.entry(ts).or_default().push(key);
        Ok(())
    }
}

/// Verifies a hex signature over `message` with `key` (strictly: no malleable encodings).
pub fn verify(
    key: &VerifyingKey,
    message: &[u8],
    signature_hex: &str,
) -> Result<(), PeerAuthError> {
    let bytes: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(PeerAuthError::Malformed)?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| PeerAuthError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: u16) -> BankId {
        BankId::try_from(id).unwrap()
    }

    fn signer(id: u16) -> Signer {
        let dir = tempfile::tempdir().unwrap();
        Signer::new(
            b(id),
            std::sync::Arc::new(BankKey::load_or_create(&dir.path().join("k")).unwrap()),
        )
    }

    /// Banks 1, 2 and 3 with their keys; the verifier is bank 2's.
    fn setup() -> (Signer, Signer, Signer, Verifier) {
        let (s1, s2, s3) = (signer(1), signer(2), signer(3));
        let keys = [
            (b(1), s1.key.public()),
            (b(2), s2.key.public()),
            (b(3), s3.key.public()),
        ]
        .into_iter()
        .collect();
        (s1, s2, s3, Verifier::new(b(2), keys))
    }

    fn check(
        v: &Verifier,
        h: &Signed,
        path: &str,
        body: &[u8],
        now: i64,
    ) -> Result<BankId, PeerAuthError> {
        let checked = v.check_headers(h, now)?;
        let from = v.verify_request(&checked, "POST", path, now)?;
        checked.check_body(&sha256_hex(body))?;
        Ok(from)
    }

    #[test]
    fn a_signed_request_verifies_once_and_only_at_its_receiver() {
        let (s1, _, _, v) = setup();
        let h = s1.request(b(2), "POST", "/interbank/token", 1_000_000, b"{}");
        assert_eq!(
            check(&v, &h, "/interbank/token", b"{}", 1_000_500),
            Ok(b(1))
        );
        assert_eq!(
            check(&v, &h, "/interbank/token", b"{}", 1_000_600),
            Err(PeerAuthError::Replay)
        );
        let for_three = s1.request(b(3), "POST", "/interbank/token", 1_000_000, b"{}");
        assert_eq!(
            check(&v, &for_three, "/interbank/token", b"{}", 1_000_000),
            Err(PeerAuthError::NotForMe)
        );
    }

    #[test]
    fn no_bank_can_speak_for_another_and_tampering_is_detected() {
        let (_, _, s3, v) = setup();
        let h = s3.request(b(2), "POST", "/interbank/token", 1_000_000, b"{\"hop\":1}");
        let claims_one = Signed {
            from: "1".into(),
            ..h.clone()
        };
        assert_eq!(
            check(
                &v,
                &claims_one,
                "/interbank/token",
                b"{\"hop\":1}",
                1_000_000
            ),
            Err(PeerAuthError::BadSignature)
        );
        // Another body under the signed hash is caught once the body is read; another hash in
        // the header, by the signature, before.
        let fresh = || s3.request(b(2), "POST", "/interbank/token", 1_000_000, b"{\"hop\":1}");
        assert_eq!(
            check(&v, &fresh(), "/interbank/token", b"{\"hop\":2}", 1_000_000),
            Err(PeerAuthError::BodyMismatch)
        );
        let rehashed = Signed {
            body_sha256: sha256_hex(b"{\"hop\":2}"),
            ..fresh()
        };
        assert_eq!(
            check(&v, &rehashed, "/interbank/token", b"{\"hop\":2}", 1_000_000),
            Err(PeerAuthError::BadSignature)
        );
        assert_eq!(
            check(&v, &fresh(), "/interbank/probe", b"{\"hop\":1}", 1_000_000),
            Err(PeerAuthError::BadSignature)
        );
        let stranger = signer(7).request(b(2), "POST", "/x", 1_000_000, b"");
        assert_eq!(
            check(&v, &stranger, "/x", b"", 1_000_000),
            Err(PeerAuthError::NotMember)
        );
        assert_eq!(
            check(&v, &h, "/interbank/token", b"{\"hop\":1}", 1_000_000),
            Ok(b(3)),
            "the genuine one still passes"
        );
    }

    #[test]
    fn stale_malformed_and_other_versions_are_refused_before_the_body() {
        let (s1, _, _, v) = setup();
        let h = s1.request(b(2), "POST", "/x", 1_000_000, b"");
        assert_eq!(
            v.check_headers(&h, 1_000_000 + WINDOW_MS + 1).unwrap_err(),
            PeerAuthError::Stale
        );
        assert_eq!(
            v.check_headers(
                &Signed {
                    ts: i64::MIN.to_string(),
                    ..h.clone()
                },
                1_000_000
            )
            .unwrap_err(),
            PeerAuthError::Stale
        );
        assert_eq!(
            v.check_headers(
                &Signed {
                    ts: i64::MAX.to_string(),
                    ..h.clone()
                },
                1_000_000
            )
            .unwrap_err(),
            PeerAuthError::Stale
        );
        assert_eq!(
            v.check_headers(&Signed::default(), 1_000_000).unwrap_err(),
            PeerAuthError::Malformed
        );
        assert_eq!(
            v.check_headers(
                &Signed {
                    // A version this bank does not speak (the next one).
                    version: (engine::wire::PROTOCOL_VERSION + 1).to_string(),
                    ..h.clone()
                },
                1_000_000
            )
            .unwrap_err()
            .status(),
            400
        );
        assert_eq!(
            v.check_headers(
                &Signed {
                    nonce: "x y".into(),
                    ..h.clone()
                },
                1_000_000
            )
            .unwrap_err(),
            PeerAuthError::Malformed
        );
        let checked = v
            .check_headers(
                &Signed {
                    signature: "zz".into(),
                    ..h.clone()
                },
                1_000_000,
            )
            .unwrap();
        assert_eq!(
            v.verify_request(&checked, "POST", "/x", 1_000_000),
            Err(PeerAuthError::Malformed)
        );
    }

    #[test]
    fn an_answer_verifies_only_from_the_bank_asked_for_the_request_asked() {
        let (s1, s2, _, _) = setup();
        // Bank 1 asked bank 2 (nonce "abc"); bank 1's verifier checks bank 2's answer.
        let keys = [(b(1), s1.key.public()), (b(2), s2.key.public())]
            .into_iter()
            .collect();
        let v1 = Verifier::new(b(1), keys);
        let asked = sha256_hex(b"{\"asked\":1}");
        let a = s2.answer(b(1), 200, "abc", &asked, 1_000_000, b"[]");
        assert_eq!(
            v1.verify_answer(b(2), "abc", &asked, 200, &a, b"[]", 1_000_000),
            Ok(())
        );
        assert_eq!(
            v1.verify_answer(b(2), "xyz", &asked, 200, &a, b"[]", 1_000_000),
            Err(PeerAuthError::BadSignature),
            "another request"
        );
        assert_eq!(
            v1.verify_answer(b(2), "abc", &sha256_hex(b"{}"), 200, &a, b"[]", 1_000_000),
            Err(PeerAuthError::BadSignature),
            "the same nonce with another request body"
        );
        assert_eq!(
            v1.verify_answer(b(2), "abc", &asked, 500, &a, b"[]", 1_000_000),
            Err(PeerAuthError::BadSignature),
            "another status"
        );
        assert_eq!(
            v1.verify_answer(b(2), "abc", &asked, 200, &a, b"[1]", 1_000_000),
            Err(PeerAuthError::BadSignature),
            "another body"
        );
        assert_eq!(
            v1.verify_answer(b(3), "abc", &asked, 200, &a, b"[]", 1_000_000),
            Err(PeerAuthError::BadSignature),
            "asked another bank"
        );
    }

    #[test]
    fn old_nonces_are_forgotten_after_the_window() {
        let (s1, _, _, v) = setup();
        for i in 0..100 {
            let h = s1.request(b(2), "POST", "/x", i, b"");
            check(&v, &h, "/x", b"", i).unwrap();
        }
        let h = s1.request(b(2), "POST", "/x", 10 * WINDOW_MS, b"");
        check(&v, &h, "/x", b"", 10 * WINDOW_MS).unwrap();
        assert_eq!(
            v.seen.lock().unwrap().by_nonce.len(),
            1,
            "the 100 old nonces were pruned"
        );
    }

    #[test]
    fn a_time_stamp_more_than_two_seconds_ahead_is_refused() {
        let (s1, _, _, v) = setup();
        let ahead = |ms: i64| s1.request(b(2), "POST", "/x", 1_000_000 + ms, b"");
        assert_eq!(check(&v, &ahead(FUTURE_MS), "/x", b"", 1_000_000), Ok(b(1)));
        assert_eq!(
            check(&v, &ahead(FUTURE_MS + 1), "/x", b"", 1_000_000),
            Err(PeerAuthError::Stale),
            "29 s ahead was accepted once: a nonce is remembered only for the window after it"
        );
    }

    #[test]
    fn one_member_filling_its_nonce_quota_refuses_only_itself() {
        let (s1, _, s3, v) = setup();
        for i in 0..NONCES_PER_SENDER_MAX {
            v.remember(b(1), &format!("n{i}"), 1_000_000, 1_000_000)
                .unwrap();
        }
        let h = s1.request(b(2), "POST", "/x", 1_000_000, b"");
        assert_eq!(
            check(&v, &h, "/x", b"", 1_000_000),
            Err(PeerAuthError::Overloaded)
        );
        let h = s3.request(b(2), "POST", "/x", 1_000_000, b"");
        assert_eq!(
            check(&v, &h, "/x", b"", 1_000_000),
            Ok(b(3)),
            "bank 3 is not held up"
        );
        // Once the window has passed, bank 1's quota is free again.
        let later = 1_000_000 + WINDOW_MS + 1;
        let h = s1.request(b(2), "POST", "/x", later, b"");
        assert_eq!(check(&v, &h, "/x", b"", later), Ok(b(1)));
    }
}
