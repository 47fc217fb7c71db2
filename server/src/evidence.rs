//! What this bank keeps as evidence of what other banks signed (stored by
//! [`engine::evidence::EvidenceLog`]), and the operator's command that prints and verifies the
//! evidence of one transaction: `bank-node evidence <tx id>`.
//!
//! Kept: every prepare and decide another bank sent here (signed requests), and every answer
//! another bank gave to this bank's prepares and questions about transactions in doubt (signed
//! answers), with this bank's own request that each answer is bound to.

use crate::membership::Membership;
use crate::peer_auth::{answer_message, request_message, verify, Signed};
use domain::{BankId, TxId};
use engine::evidence::{Evidence, EvidenceLog, Kind};
use std::path::Path;

/// The evidence directory in a bank's data directory.
pub const DIR_NAME: &str = "evidence";
/// Where versions before the segment files kept evidence; moved into [`DIR_NAME`] at start.
pub const LEGACY_FILE_NAME: &str = "evidence.sqlite3";

/// A signed message as evidence about `txs`.
pub fn evidence(
    kind: Kind,
    path: &str,
    status: Option<u16>,
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

/// Keeps a signed message, when this bank keeps evidence.
pub fn keep(
    log: Option<&EvidenceLog>,
    kind: Kind,
    path: &str,
    status: Option<u16>,
    signed: &Signed,
    body: &[u8],
    txs: Vec<TxId>,
) {
    if let (Some(log), Some(e)) = (log, evidence(kind, path, status, signed, body, txs)) {
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
    };
    let message = match (e.kind, e.status) {
        (Kind::Request, _) => request_message(&signed, "POST", &e.path, &e.body),
        (Kind::Answer, Some(status)) => answer_message(&signed, status, &e.body),
        (Kind::Answer, None) => return Err("an answer without its status".into()),
    };
    verify(&key, &message, &e.signature).map_err(|err| err.to_string())
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
        let verdict = match verify_evidence(e, membership) {
            Ok(()) => format!("signature of bank {} VALID", e.from),
            Err(why) => format!("signature of bank {} INVALID ({why})", e.from),
        };
        out.push_str(&format!(
            "- {what}, bank {} -> bank {}, signed at {} (nonce {}): {verdict}\n  {}\n",
            e.from,
            e.to,
            e.ts,
            e.nonce,
            String::from_utf8_lossy(&e.body)
        ));
    }
    Ok(out)
}
