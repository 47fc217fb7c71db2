//! The 2PC records: this bank's participations (with the plan it prepared and the proof of the
//! decision it applied), its decisions as a coordinator (with their proofs), and the
//! equivocations it has seen.

use super::*;

/// Equivocations kept at most: each is a member's proof against itself, so a rogue member could
/// otherwise fill the disk with its own contradictions.
pub const EQUIVOCATIONS_MAX: i64 = 10_000;

/// A 2PC participant's state for one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartState {
    Prepared,
    Committed,
    Aborted,
}

impl PartState {
    fn as_str(self) -> &'static str {
        match self {
            PartState::Prepared => "prepared",
            PartState::Committed => "committed",
            PartState::Aborted => "aborted",
        }
    }

    fn parse(text: &str) -> Option<PartState> {
        match text {
            "prepared" => Some(PartState::Prepared),
            "committed" => Some(PartState::Committed),
            "aborted" => Some(PartState::Aborted),
            _ => None,
        }
    }
}

/// A coordinator's durable decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDecision {
    pub commit: bool,
    /// What proves it to the participants (`None`: stored before protocol version 6, or a
    /// refusal at planning, which no participant heard of).
    pub proof: Option<Proof>,
    /// The packet's outcome as the client saw it (JSON), to answer a retry with it.
    pub outcome: String,
    /// Banks that have not yet acknowledged the decision, as last stored: the node stores it when
    /// the decision is made and when every bank has acknowledged (empty), not at each
    /// acknowledgement, so after a restart some banks may hear it again (and ack a duplicate).
    pub unacked: Vec<BankId>,
    /// The banks the decision is for: a bank outside them that asks about this id prepared
    /// something the decision is not about (`None`: stored before schema version 4, unknown).
    pub participants: Option<Vec<BankId>>,
    /// The client account that submitted the packet; `None` for a presumed abort.
    pub submitter: Option<AccountId>,
}

/// This bank's record of its part in a cross-bank transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Participation {
    pub coordinator: BankId,
    pub state: PartState,
    /// SHA-256 of the parts it was asked to prepare (`None` for an abort heard without a prepare,
    /// or a row older than schema version 4).
    pub parts: Option<[u8; 32]>,
    /// The hash of the coordinator's signed plan it prepared, and the plan's deadline (`None`:
    /// prepared before protocol version 6, or never prepared).
    pub plan: Option<(Digest, i64)>,
}

/// Changes to the 2PC records, persisted in the same transaction as the ledger's changes.
#[derive(Clone, Debug)]
pub enum ProtocolChange {
    Participation {
        tx: TxId,
        record: Participation,
        at_ms: i64,
        /// The signed plan (JSON), set once by the prepare; the proof of the decision applied
        /// (JSON), set once by the decision.
        plan: Option<String>,
        proof: Option<String>,
    },
    /// Two signed statements of `signer` about `tx` that contradict each other.
    Equivocation {
        tx: TxId,
        signer: BankId,
        first: String,
        second: String,
        at_ms: i64,
    },
    /// Inserted once: the first decision for a transaction is final.
    Decision {
        tx: TxId,
        decision: Box<StoredDecision>,
        at_ms: i64,
    },
    Unacked {
        tx: TxId,
        unacked: Vec<BankId>,
        at_ms: i64,
    },
}

impl Store {
    /// This bank's part in a cross-bank transaction: its coordinator, state and parts.
    pub fn participation(&self, tx_id: &TxId) -> StoreResult<Option<Participation>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT coordinator, state, parts_sha256, plan_sha256, decide_by_ms FROM participations WHERE tx_id = ?1",
        )?;
        let mut rows = stmt.query([tx_id.as_str()])?;
        match rows.next()? {
            None => Ok(None),
            Some(r) => {
                let state: String = r.get(1)?;
                let parts: Option<Vec<u8>> = r.get(2)?;
                let parts = match parts {
                    None => None,
                    Some(bytes) => Some(
                        <[u8; 32]>::try_from(bytes).map_err(|_| bad_column(2, "parts_sha256"))?,
                    ),
                };
                let plan: Option<Vec<u8>> = r.get(3)?;
                let plan = match (plan, r.get::<_, Option<i64>>(4)?) {
                    (Some(bytes), Some(by)) => Some((
                        Digest(<[u8; 32]>::try_from(bytes).map_err(|_| bad_column(3, "plan"))?),
                        by,
                    )),
                    _ => None,
                };
                Ok(Some(Participation {
                    coordinator: parse_bank(r.get(0)?)?,
                    state: PartState::parse(&state).ok_or_else(|| bad_column(1, "state"))?,
                    parts,
                    plan,
                }))
            }
        }
    }
    /// Transactions this bank has prepared and not yet seen decided, with their plans.
    pub fn in_doubt(&self) -> StoreResult<Vec<InDoubt>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tx_id, coordinator, created_ms, plan FROM participations WHERE state = 'prepared'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(InDoubt {
                tx: parse_tx(&r.get::<_, String>(0)?)?,
                coordinator: parse_bank(r.get(1)?)?,
                since_ms: r.get(2)?,
                plan: r
                    .get::<_, Option<String>>(3)?
                    .map(|t| serde_json::from_str(&t).map_err(|_| bad_column(3, "plan")))
                    .transpose()?,
            })
        })?;
        rows.collect()
    }
    /// The signed plan and the decision's proof this bank keeps for `tx` as a participant.
    pub fn plan_and_proof(&self, tx_id: &TxId) -> StoreResult<(Option<SignedPlan>, Option<Proof>)> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT plan, proof FROM participations WHERE tx_id = ?1")?;
        let mut rows = stmt.query([tx_id.as_str()])?;
        let Some(r) = rows.next()? else {
            return Ok((None, None));
        };
        let plan = r
            .get::<_, Option<String>>(0)?
            .map(|t| serde_json::from_str(&t).map_err(|_| bad_column(0, "plan")))
            .transpose()?;
        let proof = r
            .get::<_, Option<String>>(1)?
            .map(|t| serde_json::from_str(&t).map_err(|_| bad_column(1, "proof")))
            .transpose()?;
        Ok((plan, proof))
    }
    /// The equivocations kept about `tx`: (signer, first statement, second), as JSON.
    pub fn equivocations(&self, tx_id: &TxId) -> StoreResult<Vec<(BankId, String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT signer, first, second FROM equivocations WHERE tx_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([tx_id.as_str()], |r| {
            Ok((parse_bank(r.get(0)?)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect()
    }
    /// How many equivocations are kept.
    pub fn equivocation_count(&self) -> StoreResult<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM equivocations", [], |r| r.get(0))
    }
    pub fn decision(&self, tx_id: &TxId) -> StoreResult<Option<StoredDecision>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT commit_, outcome, unacked, participants, submitter, proof FROM decisions WHERE tx_id = ?1")?;
        let mut rows = stmt.query([tx_id.as_str()])?;
        match rows.next()? {
            None => Ok(None),
            Some(r) => Ok(Some(StoredDecision {
                commit: r.get(0)?,
                outcome: r.get(1)?,
                unacked: parse_banks(&r.get::<_, String>(2)?)?,
                participants: r
                    .get::<_, Option<String>>(3)?
                    .map(|t| parse_banks(&t))
                    .transpose()?,
                submitter: r.get::<_, Option<i64>>(4)?.map(AccountId),
                proof: r
                    .get::<_, Option<String>>(5)?
                    .map(|t| serde_json::from_str(&t).map_err(|_| bad_column(5, "proof")))
                    .transpose()?,
            })),
        }
    }
    /// Decisions some participant has not acknowledged yet: phase two still to deliver.
    pub fn unacked_decisions(&self) -> StoreResult<Vec<Unacked>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tx_id, commit_, unacked, proof FROM decisions WHERE unacked <> ''",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Unacked {
                tx: parse_tx(&r.get::<_, String>(0)?)?,
                commit: r.get(1)?,
                banks: parse_banks(&r.get::<_, String>(2)?)?,
                proof: r
                    .get::<_, Option<String>>(3)?
                    .map(|t| serde_json::from_str(&t).map_err(|_| bad_column(3, "proof")))
                    .transpose()?,
            })
        })?;
        rows.collect()
    }
}

pub(super) fn apply_protocol_change(
    tx: &Transaction<'_>,
    change: &ProtocolChange,
) -> StoreResult<()> {
    match change {
        ProtocolChange::Participation {
            tx: id,
            record,
            at_ms,
            plan,
            proof,
        } => {
            // The parts and the plan are set once, by the prepare; a later state change keeps
            // them; the proof is set by the decision.
            tx.prepare_cached(
                "INSERT INTO participations (tx_id, coordinator, state, created_ms, updated_ms, parts_sha256,
                                             plan_sha256, decide_by_ms, plan, proof)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (tx_id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms,
                                                   proof = COALESCE(excluded.proof, proof)",
            )?
            .execute(params![
                id.as_str(),
                u16::from(record.coordinator),
                record.state.as_str(),
                at_ms,
                record.parts.as_ref().map(|p| &p[..]),
                record.plan.as_ref().map(|(h, _)| &h.0[..]),
                record.plan.map(|(_, by)| by),
                plan,
                proof
            ])?;
        }
        ProtocolChange::Equivocation {
            tx: id,
            signer,
            first,
            second,
            at_ms,
        } => {
            tx.prepare_cached(
                "INSERT INTO equivocations (tx_id, signer, first, second, at_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE (SELECT COUNT(*) FROM equivocations) < ?6",
            )?
            .execute(params![
                id.as_str(),
                u16::from(*signer),
                first,
                second,
                at_ms,
                EQUIVOCATIONS_MAX
            ])?;
        }
        ProtocolChange::Decision {
            tx: id,
            decision,
            at_ms,
        } => {
            let proof = decision
                .proof
                .as_ref()
                .map(|p| serde_json::to_string(p).expect("a proof serialises"));
            tx.prepare_cached(
                "INSERT INTO decisions (tx_id, commit_, outcome, unacked, created_ms, updated_ms, participants, submitter, proof)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id.as_str(),
                decision.commit,
                decision.outcome,
                banks_text(&decision.unacked),
                at_ms,
                decision.participants.as_deref().map(banks_text),
                decision.submitter.map(|a| a.0),
                proof
            ])?;
        }
        ProtocolChange::Unacked {
            tx: id,
            unacked,
            at_ms,
        } => {
            tx.prepare_cached(
                "UPDATE decisions SET unacked = ?2, updated_ms = ?3 WHERE tx_id = ?1",
            )?
            .execute(params![id.as_str(), banks_text(unacked), at_ms])?;
        }
    }
    Ok(())
}
