//! What this bank keeps as evidence of what other banks signed (stored by
//! [`engine::evidence::EvidenceLog`]), and the operator's command that prints and verifies the
//! evidence of one transaction: `bank-node evidence <tx id>`.
//!
//! Kept: every prepare and decide another bank sent here (signed requests), and every answer
//! another bank gave to this bank's prepares and questions about transactions in doubt (signed
//! answers), with this bank's own request that each answer is bound to.

use crate::membership::Membership;
use crate::peer_auth::{answer_message, request_message, sha256_hex, verify, Signed};
use crate::peers::SignedAnswer;
use domain::{BankId, TxId};
use engine::evidence::{Evidence, EvidenceLog, Kind};
use std::path::Path;

/// The evidence directory in a bank's data directory.
pub const DIR_NAME: &str = "evidence";
/// Where versions before the segment files kept evidence; moved into [`DIR_NAME`] at start.
pub const LEGACY_FILE_NAME: &str = "evidence.sqlite3";

/// A signed message as evidence about `txs` (`request_sha256`: for an answer, the hash of the
/// request's body it answers).
fn evidence(
    kind: Kind,
    path: &str,
    status: Option<u16>,
    request_sha256: Option<String>,
    signed: &Signed,
    body: &[u8],
    txs: Vec<TxId>,
) -> Option<Evidence> {
    let bank = |text: &str| {
        text.parse::<u16>()
            .ok()
            .and_then(|n| BankId::try_from(n).ok())
    };
    Some(Evidence {
        kept_ms: engine::wall_clock_ms(),
        kind,
        path: path.to_string(),
        status,
        request_sha256,
        from: bank(&signed.from)?,
        to: bank(&signed.to)?,
        version: signed.version.clone(),
        ts: signed.ts.clone(),
        nonce: signed.nonce.clone(),
        signature: signed.signature.clone(),
        body: body.to_vec(),
        txs,
    })
}

/// Keeps a signed request another bank sent to `path`, when this bank keeps evidence.
pub fn keep_request(
    log: Option<&EvidenceLog>,
    path: &str,
    signed: &Signed,
    body: &[u8],
    txs: Vec<TxId>,
) {
    if let (Some(log), Some(e)) = (
        log,
        evidence(Kind::Request, path, None, None, signed, body, txs),
    ) {
        log.record(e);
    }
}

/// Keeps this bank's request to `path` (headers `request`, body `sent`) and the other bank's
/// signed answer, which names the request's body by its hash: together they show what the other
/// bank was asked and what it signed in reply.
pub fn keep_exchange(
    log: Option<&EvidenceLog>,
    path: &str,
    request: &Signed,
    sent: &[u8],
    answer: &SignedAnswer,
    txs: Vec<TxId>,
) {
    let Some(log) = log else { return };
    let request = evidence(Kind::Request, path, None, None, request, sent, txs.clone());
    let answer = evidence(
        Kind::Answer,
        path,
        Some(answer.status),
        Some(answer.request_sha256.clone()),
        &answer.signed,
        &answer.body,
        txs,
    );
    for e in request.into_iter().chain(answer) {
        log.record(e);
    }
}

/// Whether `e` carries a valid signature of the bank it says signed it.
pub fn verify_evidence(e: &Evidence, membership: &Membership) -> Result<(), String> {
    let key = membership
        .get(e.from)
        .ok_or_else(|| format!("bank {} is not in the membership file", e.from))?
        .key;
    let signed = Signed {
        version: e.version.clone(),
        from: e.from.to_string(),
        to: e.to.to_string(),
        ts: e.ts.clone(),
        nonce: e.nonce.clone(),
        signature: e.signature.clone(),
        body_sha256: String::new(),
    };
    let message = match (e.kind, e.status) {
        (Kind::Request, _) => request_message(&signed, "POST", &e.path, &sha256_hex(&e.body)),
        (Kind::Answer, None) => return Err("an answer without its status".into()),
        // Version 3 answers did not name their request's body.
        (Kind::Answer, Some(status)) if e.version == "3" => {
            answer_message(&signed, status, None, &e.body)
        }
        (Kind::Answer, Some(status)) => {
            let Some(request) = e.request_sha256.as_deref() else {
                return Err("an answer kept without the hash of the request it answers".into());
            };
            answer_message(&signed, status, Some(request), &e.body)
        }
    };
    verify(&key, &message, &e.signature).map_err(|err| err.to_string())
}

/// For an answer that names its request's body by hash: whether `kept` holds that request (this
/// bank's, to the bank that answered, with the same nonce) with that very body.
fn answered_request(e: &Evidence, kept: &[Evidence]) -> Option<&'static str> {
    let (Kind::Answer, Some(hash)) = (e.kind, &e.request_sha256) else {
        return None;
    };
    let asked = kept.iter().find(|r| {
        r.kind == Kind::Request && r.nonce == e.nonce && r.from == e.to && r.to == e.from
    });
    Some(match asked {
        Some(r) if sha256_hex(&r.body) == *hash => {
            "it answers the request kept here with its nonce (the body's hash matches)"
        }
        Some(_) => "the request kept here with its nonce has ANOTHER body than it answers",
        None => "the request it answers is not kept here",
    })
}

/// The operator's report on `tx`: every message kept about it, and whether its signature holds.
pub fn report(tx: &TxId, data_dir: &Path, membership: &Membership) -> Result<String, String> {
    let kept = EvidenceLog::read(&data_dir.join(DIR_NAME), tx)?;
    let mut out = format!(
        "evidence of {tx} in {}: {} message(s)\n",
        data_dir.display(),
        kept.len()
    );
    for e in &kept {
        let what = match (e.kind, e.status) {
            (Kind::Request, _) => format!("request POST {}", e.path),
            (Kind::Answer, status) => format!("answer {} to {}", status.unwrap_or(0), e.path),
        };
        let mut verdict = match verify_evidence(e, membership) {
            Ok(()) => format!("signature of bank {} VALID", e.from),
            Err(why) => format!("signature of bank {} INVALID ({why})", e.from),
        };
        if let Some(binding) = answered_request(e, &kept) {
            verdict.push_str("; ");
            verdict.push_str(binding);
        }
        out.push_str(&format!(
            "- {what}, bank {} -> bank {}, signed at {} (nonce {}): {verdict}\n  {}\n",
            e.from,
            e.to,
            e.ts,
            e.nonce,
            String::from_utf8_lossy(&e.body)
        ));
    }
    out.push_str(&equivocations(tx, data_dir, membership)?);
    Ok(out)
}

/// The contradicting statements about `tx` this bank kept (issue 24), each re-checked against
/// its signer's public key: two ballots of one bank that cannot both be true.
fn equivocations(tx: &TxId, data_dir: &Path, membership: &Membership) -> Result<String, String> {
    let db = data_dir.join(engine::store::DB_FILE_NAME);
    if !db.exists() {
        return Ok(String::new());
    }
    let store = engine::store::Store::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
    let kept = store
        .equivocations(tx)
        .map_err(|e| format!("reading equivocations: {e}"))?;
    let keys = engine::proof::Keyring::new(membership.keys());
    let mut out = String::new();
    for (signer, first, second) in kept {
        let check =
            |json: &str| match serde_json::from_str::<engine::twopc::proof::SignedBallot>(json) {
                Ok(b) if b.verify(&keys) => "VALID",
                _ => "INVALID",
            };
        out.push_str(&format!(
            "- EQUIVOCATION by bank {signer}: two signed ballots that cannot both hold\n  \
             first (signature {}): {first}\n  second (signature {}): {second}\n",
            check(&first),
            check(&second)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::BankKey;
    use crate::peer_auth::Signer;
    use std::sync::Arc;

    fn b(id: u16) -> BankId {
        BankId::try_from(id).unwrap()
    }

    #[test]
    fn a_kept_vote_verifies_only_with_the_request_it_answered() {
        let dir = tempfile::tempdir().unwrap();
        let key = |n: u16| BankKey::load_or_create(&dir.path().join(format!("k{n}"))).unwrap();
        let (k1, k2) = (key(1), key(2));
        let entry = |id: u16, k: &BankKey| {
            format!(
                r#"{{ "id": {id}, "name": "B{id}", "url": "http://h:{id}", "public_key": "{}", "limit_cents": 1 }}"#,
                k.public_hex()
            )
        };
        let membership = Membership::parse(&format!(
            r#"{{ "banks": [{}, {}] }}"#,
            entry(1, &k1),
            entry(2, &k2)
        ))
        .unwrap();
        let (s1, s2) = (
            Signer::new(b(1), Arc::new(k1)),
            Signer::new(b(2), Arc::new(k2)),
        );
        let tx = TxId::parse("E00000001202611261705aaaaaaaaaaa").unwrap();
        let path = "/interbank/prepare";
        let asked = br#"{"items":[{"amount":100}]}"#;
        let request = s1.request(b(2), "POST", path, 1_000, asked);
        let vote = br#"[{"vote":"yes"}]"#;
        let answer = s2.answer(b(1), 200, &request.nonce, &sha256_hex(asked), 1_001, vote);
        let kept_request = evidence(
            Kind::Request,
            path,
            None,
            None,
            &request,
            asked,
            vec![tx.clone()],
        )
        .unwrap();
        let keep_answer = |hash: Option<String>| {
            evidence(
                Kind::Answer,
                path,
                Some(200),
                hash,
                &answer,
                vote,
                vec![tx.clone()],
            )
            .unwrap()
        };
        let kept_answer = keep_answer(Some(sha256_hex(asked)));
        assert_eq!(verify_evidence(&kept_request, &membership), Ok(()));
        assert_eq!(verify_evidence(&kept_answer, &membership), Ok(()));
        assert_eq!(
            answered_request(&kept_answer, std::slice::from_ref(&kept_request)),
            Some("it answers the request kept here with its nonce (the body's hash matches)")
        );
        // Bank 1 cannot claim bank 2 voted on other parts: not with another hash...
        let claimed = keep_answer(Some(sha256_hex(br#"{"items":[{"amount":999}]}"#)));
        assert!(verify_evidence(&claimed, &membership).is_err());
        assert!(verify_evidence(&keep_answer(None), &membership).is_err());
        // ...nor by keeping another request body under the nonce the vote names.
        let mut swapped = kept_request;
        swapped.body = br#"{"items":[{"amount":999}]}"#.to_vec();
        assert_eq!(
            answered_request(&kept_answer, &[swapped]),
            Some("the request kept here with its nonce has ANOTHER body than it answers")
        );
        assert_eq!(
            answered_request(&kept_answer, &[]),
            Some("the request it answers is not kept here")
        );
    }
}
