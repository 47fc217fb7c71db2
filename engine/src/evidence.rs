//! Evidence: the signed messages other banks sent this bank about transactions (their prepares,
//! decisions, votes and answers), with the requests of this bank they answered, kept so that in a
//! dispute a bank can show what another bank signed. One SQLite file of its own
//! (`evidence.sqlite3`), written by a thread of its own in batches, off the engine's path; bounded
//! by age and size (the oldest messages go first). The server verifies signatures; this module
//! only keeps bytes.

use domain::{BankId, TxId};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Messages waiting for the writer, at most; beyond, new ones are dropped (and counted).
const QUEUE_MAX: usize = 4_096;
/// Messages written per transaction, at most.
const BATCH_MAX: usize = 512;

/// Who signed a message, and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A request (`from` signed it, to `to`).
    Request,
    /// An answer (`from`, the bank asked, signed it for `to`, with the request's nonce).
    Answer,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Answer => "answer",
        }
    }
}

/// One signed message, as received or sent, with everything its signature covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub kept_ms: i64,
    pub kind: Kind,
    /// The request's path (for an answer: the path of the request it answers).
    pub path: String,
    /// For an answer, its HTTP status.
    pub status: Option<u16>,
    pub from: BankId,
    pub to: BankId,
    pub version: String,
    pub ts: String,
    pub nonce: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// The transactions it is about.
    pub txs: Vec<TxId>,
}

/// How much evidence is kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub max_age_ms: i64,
    pub max_bytes: u64,
}

impl Default for Retention {
    /// 90 days, at most 256 MiB of message bodies.
    fn default() -> Retention {
        Retention {
            max_age_ms: 90 * 24 * 3_600 * 1_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The handle that records evidence (cheap to clone).
#[derive(Clone)]
pub struct EvidenceLog {
    queue: SyncSender<Evidence>,
    dropped: Arc<AtomicU64>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS evidence (
    id        INTEGER PRIMARY KEY,
    kept_ms   INTEGER NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind = 'request' OR kind = 'answer'),
    path      TEXT    NOT NULL,
    status    INTEGER,
    from_bank INTEGER NOT NULL,
    to_bank   INTEGER NOT NULL,
    version   TEXT    NOT NULL,
    ts        TEXT    NOT NULL,
    nonce     TEXT    NOT NULL,
    signature TEXT    NOT NULL,
    body      BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_txs (
    tx_id       TEXT    NOT NULL,
    evidence_id INTEGER NOT NULL REFERENCES evidence(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS evidence_by_tx ON evidence_txs(tx_id);
CREATE INDEX IF NOT EXISTS evidence_txs_by_message ON evidence_txs(evidence_id);";

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Evidence is kept for disputes, not for money: a crash may lose the last moments of it.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

impl EvidenceLog {
    /// Opens (or creates) the evidence file and starts its writer thread.
    pub fn start(
        path: PathBuf,
        retention: Retention,
        clock: Arc<dyn crate::Clock>,
    ) -> Result<EvidenceLog, String> {
        let conn = open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let (queue, rx) = sync_channel(QUEUE_MAX);
        std::thread::Builder::new()
            .name("evidence".into())
            .spawn(move || write_forever(conn, rx, retention, clock))
            .map_err(|e| e.to_string())?;
        Ok(EvidenceLog {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Keeps `e`, unless the writer is this far behind (then it is dropped, and counted).
    pub fn record(&self, e: Evidence) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(e) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages dropped since start because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Every message kept about `tx`, oldest first (for the operator's `bank-node evidence`).
    pub fn read(path: &Path, tx: &TxId) -> Result<Vec<Evidence>, String> {
        let conn = open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let mut stmt = conn
            .prepare(
                "SELECT e.id, kept_ms, kind, path, status, from_bank, to_bank, version, ts, nonce, signature, body
                 FROM evidence e JOIN evidence_txs t ON t.evidence_id = e.id WHERE t.tx_id = ?1 ORDER BY e.id",
            )
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([tx.as_str()], |r| {
                let kind: String = r.get(2)?;
                let bank = |i: usize| -> rusqlite::Result<BankId> {
                    BankId::try_from(r.get::<_, u16>(i)?).map_err(|_| {
                        rusqlite::Error::InvalidColumnType(
                            i,
                            "bank".into(),
                            rusqlite::types::Type::Integer,
                        )
                    })
                };
                Ok(Evidence {
                    kept_ms: r.get(1)?,
                    kind: if kind == "answer" {
                        Kind::Answer
                    } else {
                        Kind::Request
                    },
                    path: r.get(3)?,
                    status: r.get(4)?,
                    from: bank(5)?,
                    to: bank(6)?,
                    version: r.get(7)?,
                    ts: r.get(8)?,
                    nonce: r.get(9)?,
                    signature: r.get(10)?,
                    body: r.get(11)?,
                    txs: vec![tx.clone()],
                })
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| e.to_string())
    }
}

fn write_forever(
    mut conn: Connection,
    rx: Receiver<Evidence>,
    retention: Retention,
    clock: Arc<dyn crate::Clock>,
) {
    let mut kept_bytes: u64 = conn
        .query_row(
            "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM evidence",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| u64::try_from(n).unwrap_or(0))
        .unwrap_or(0);
    let mut since_prune = 0usize;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        match write(&mut conn, &batch) {
            Ok(bytes) => kept_bytes = kept_bytes.saturating_add(bytes),
            Err(e) => tracing::warn!(error = %e, count = batch.len(), "evidence not written"),
        }
        since_prune += batch.len();
        if since_prune >= 1_000 || kept_bytes > retention.max_bytes {
            since_prune = 0;
            match prune(&conn, retention, clock.now_ms()) {
                Ok(left) => kept_bytes = left,
                Err(e) => tracing::warn!(error = %e, "pruning evidence"),
            }
        }
    }
}

fn write(conn: &mut Connection, batch: &[Evidence]) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut bytes = 0u64;
    for e in batch {
        tx.prepare_cached(
            "INSERT INTO evidence (kept_ms, kind, path, status, from_bank, to_bank, version, ts, nonce, signature, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            e.kept_ms,
            e.kind.as_str(),
            e.path,
            e.status,
            u16::from(e.from),
            u16::from(e.to),
            e.version,
            e.ts,
            e.nonce,
            e.signature,
            e.body
        ])?;
        let id = tx.last_insert_rowid();
        for t in &e.txs {
            tx.prepare_cached("INSERT INTO evidence_txs (tx_id, evidence_id) VALUES (?1, ?2)")?
                .execute(params![t.as_str(), id])?;
        }
        bytes = bytes.saturating_add(u64::try_from(e.body.len()).unwrap_or(u64::MAX));
    }
    tx.commit()?;
    Ok(bytes)
}

/// Drops messages older than the retention's age, then the oldest until under its size. The
/// bytes left.
fn prune(conn: &Connection, retention: Retention, now_ms: i64) -> rusqlite::Result<u64> {
    conn.execute(
        "DELETE FROM evidence WHERE kept_ms < ?1",
        [now_ms.saturating_sub(retention.max_age_ms)],
    )?;
    let mut kept = conn
        .query_row(
            "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM evidence",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| u64::try_from(n).unwrap_or(0))?;
    while kept > retention.max_bytes {
        // A tenth of what is kept at a time, oldest first.
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM evidence", [], |r| r.get(0))?;
        if n == 0 {
            break;
        }
        conn.execute(
            "DELETE FROM evidence WHERE id IN (SELECT id FROM evidence ORDER BY id LIMIT ?1)",
            [(n / 10).max(1)],
        )?;
        kept = conn
            .query_row(
                "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM evidence",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))?;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(i64);
    impl crate::Clock for Fixed {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    fn evidence(n: u8, tx: &TxId, kept_ms: i64, size: usize) -> Evidence {
        Evidence {
            kept_ms,
            kind: if n.is_multiple_of(2) {
                Kind::Request
            } else {
                Kind::Answer
            },
            path: "/interbank/prepare".into(),
            status: (n % 2 == 1).then_some(200),
            from: BankId::try_from(u16::from(n % 5) + 1).unwrap(),
            to: BankId::try_from(3).unwrap(),
            version: "1".into(),
            ts: kept_ms.to_string(),
            nonce: format!("nonce{n}"),
            signature: "ab".repeat(64),
            body: vec![b'x'; size],
            txs: vec![tx.clone()],
        }
    }

    /// Records `messages` the way the node does, then runs the writer on this thread until it
    /// has written them all (its queue closes): deterministic, no waiting on another thread.
    fn write_all(path: &Path, retention: Retention, messages: Vec<Evidence>) -> u64 {
        let (queue, rx) = sync_channel(QUEUE_MAX);
        let log = EvidenceLog {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        for m in messages {
            log.record(m);
        }
        let dropped = log.dropped();
        drop(log);
        write_forever(open(path).unwrap(), rx, retention, Arc::new(Fixed(5_000)));
        dropped
    }

    #[test]
    fn evidence_is_kept_per_transaction_and_bounded_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evidence.sqlite3");
        let (t1, t2) = (
            TxId::parse("E00000001202611261705aaaaaaaaaaa").unwrap(),
            TxId::parse("E00000001202611261705bbbbbbbbbbb").unwrap(),
        );
        let retention = Retention {
            max_age_ms: 1_000_000,
            max_bytes: 10_000,
        };
        let dropped = write_all(
            &path,
            retention,
            vec![evidence(0, &t1, 1_000, 100), evidence(1, &t1, 1_001, 100)],
        );
        let kept = EvidenceLog::read(&path, &t1).unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(
            (kept[0].kind, kept[1].kind, kept[1].status),
            (Kind::Request, Kind::Answer, Some(200))
        );
        assert_eq!(kept[0].body.len(), 100);
        // Far more than the size bound: the oldest go, the newest stay.
        let dropped = dropped
            + write_all(
                &path,
                retention,
                (0..40)
                    .map(|n| evidence(n, &t2, 2_000 + i64::from(n), 1_000))
                    .collect(),
            );
        let left = EvidenceLog::read(&path, &t2).unwrap();
        assert!(!left.is_empty() && left.len() < 40, "{} left", left.len());
        assert!(
            EvidenceLog::read(&path, &t1).unwrap().is_empty(),
            "the oldest went first"
        );
        assert!(left.iter().map(|e| e.body.len()).sum::<usize>() <= 10_000 + 1_000 * BATCH_MAX);
        assert_eq!(left.last().unwrap().nonce, "nonce39", "the newest are kept");
        assert_eq!(dropped, 0);
    }
}
