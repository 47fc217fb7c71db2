//! Evidence: the signed messages other banks sent this bank about transactions (their prepares,
//! decisions, votes and answers), with the requests of this bank they answered, kept so that in a
//! dispute a bank can show what another bank signed. Kept in append-only segment files in a
//! directory of their own (`evidence/`), written by a thread of its own in batches, off the
//! engine's path: one `write` per batch, no index to keep, nothing rewritten. Bounded by age and
//! size: whole segments go, the oldest first, so pruning costs the same however much is kept.
//! Finding one transaction's messages reads the segments through (an operator's command, run
//! rarely: 256 MiB read in about a second). The server verifies signatures; this module only
//! keeps bytes.
//!
//! A segment is a sequence of records, each `u32` (little-endian) length + the message's fields as
//! JSON, then `u32` length + the body's bytes exactly as signed. A crash may cut the last record of
//! the segment being written; a reader stops at a cut record, and a restarted writer starts a new
//! segment rather than append after one.

use domain::{BankId, TxId};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Messages waiting for the writer, at most; beyond, new ones are dropped (and counted).
const QUEUE_MAX: usize = 4_096;
/// Messages written per batch, at most.
const BATCH_MAX: usize = 512;
/// Longest record part read back (bodies are bounded far below by the inter-bank limits).
const PART_MAX_BYTES: usize = 64 * 1024 * 1024;
/// A segment file's name ends so.
const SEGMENT_EXTENSION: &str = "evidence";

/// Who signed a message, and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A request (`from` signed it, to `to`).
    Request,
    /// An answer (`from`, the bank asked, signed it for `to`, with the request's nonce).
    Answer,
}

/// One signed message, as received or sent, with everything its signature covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub kept_ms: i64,
    pub kind: Kind,
    /// The request's path (for an answer: the path of the request it answers).
    pub path: String,
    /// For an answer, its HTTP status.
    pub status: Option<u16>,
    /// For an answer, the SHA-256 (hex) of the request's body it answers, which its signature
    /// covers (from protocol version 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<String>,
    pub from: BankId,
    pub to: BankId,
    pub version: String,
    pub ts: String,
    pub nonce: String,
    pub signature: String,
    /// Kept as raw bytes beside the JSON of the other fields.
    #[serde(skip)]
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
    /// 90 days, at most 256 MiB of records (plus the segment being written).
    fn default() -> Retention {
        Retention {
            max_age_ms: 90 * 24 * 3_600 * 1_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

impl Retention {
    /// A segment is closed once it holds this much: an eighth of the bound, so that pruning
    /// drops at most an eighth of what is kept at a time.
    fn segment_bytes(self) -> u64 {
        (self.max_bytes / 8).max(1)
    }

    /// ... or once it spans this long (three days for 90): the age bound is kept to that.
    fn segment_span_ms(self) -> i64 {
        (self.max_age_ms / 30).max(1)
    }
}

/// The handle that records evidence (cheap to clone).
#[derive(Clone)]
pub struct EvidenceLog {
    queue: SyncSender<Evidence>,
    dropped: Arc<AtomicU64>,
}

impl EvidenceLog {
    /// Opens (or creates) the evidence directory and starts its writer thread.
    pub fn start(
        dir: PathBuf,
        retention: Retention,
        clock: Arc<dyn crate::Clock>,
    ) -> Result<EvidenceLog, String> {
        let segments = Segments::open(dir, retention)?;
        let (queue, rx) = sync_channel(QUEUE_MAX);
        let dropped = Arc::new(AtomicU64::new(0));
        let lost = dropped.clone();
        std::thread::Builder::new()
            .name("evidence".into())
            .spawn(move || write_forever(segments, rx, clock, &lost))
            .map_err(|e| e.to_string())?;
        Ok(EvidenceLog { queue, dropped })
    }

    /// Keeps `e`, unless the writer is this far behind (then it is dropped, and counted).
    pub fn record(&self, e: Evidence) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(e) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages not kept since start: dropped because the writer could not keep up, or lost to
    /// a failed write.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Every message kept about `tx` in the directory `dir`, oldest first (for the operator's
    /// `bank-node evidence`). A missing directory holds nothing.
    pub fn read(dir: &Path, tx: &TxId) -> Result<Vec<Evidence>, String> {
        let mut found = Vec::new();
        for segment in list(dir)? {
            let bytes = std::fs::read(&segment.path)
                .map_err(|e| format!("reading {}: {e}", segment.path.display()))?;
            for e in decode(&bytes) {
                if e.txs.contains(tx) {
                    found.push(e);
                }
            }
        }
        Ok(found)
    }
}

/// One segment file: its order, when its first record was kept, its size.
#[derive(Debug)]
struct Segment {
    seq: u64,
    first_ms: i64,
    bytes: u64,
    path: PathBuf,
}

/// The segments of an evidence directory, oldest first, the last one being written.
struct Segments {
    dir: PathBuf,
    retention: Retention,
    closed: VecDeque<Segment>,
    current: Option<(Segment, File)>,
    next_seq: u64,
}

/// The directory's segments, oldest first (an absent directory has none; other files are left).
fn list(dir: &Path) -> Result<Vec<Segment>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("listing {}: {e}", dir.display())),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?;
        let name = entry.file_name();
        let Some((seq, first_ms)) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SEGMENT_EXTENSION)?.strip_suffix('.'))
            .and_then(|n| n.split_once('-'))
            .and_then(|(seq, ms)| Some((seq.parse().ok()?, ms.parse().ok()?)))
        else {
            continue;
        };
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        segments.push(Segment {
            seq,
            first_ms,
            bytes,
            path: entry.path(),
        });
    }
    segments.sort_by_key(|s| s.seq);
    Ok(segments)
}

impl Segments {
    fn open(dir: PathBuf, retention: Retention) -> Result<Segments, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let closed: VecDeque<Segment> = list(&dir)?.into();
        // Number 0 is kept for evidence moved from an older version ([`migrate_sqlite`]).
        let next_seq = closed.back().map_or(1, |s| s.seq.saturating_add(1)).max(1);
        Ok(Segments {
            dir,
            retention,
            closed,
            current: None,
            next_seq,
        })
    }

    /// Appends `records` (encoded) kept at `now_ms`, in a new segment if the current one is full
    /// or old; then drops what the retention no longer keeps.
    fn append(&mut self, records: &[u8], now_ms: i64) -> std::io::Result<()> {
        let full = self.current.as_ref().is_some_and(|(s, _)| {
            s.bytes >= self.retention.segment_bytes()
                || now_ms.saturating_sub(s.first_ms) >= self.retention.segment_span_ms()
        });
        if full {
            if let Some((segment, _)) = self.current.take() {
                self.closed.push_back(segment);
            }
        }
        if self.current.is_none() {
            let seq = self.next_seq;
            self.next_seq = seq.saturating_add(1);
            let path = self
                .dir
                .join(format!("{seq:012}-{now_ms}.{SEGMENT_EXTENSION}"));
            let file = File::options().create_new(true).append(true).open(&path)?;
            let segment = Segment {
                seq,
                first_ms: now_ms,
                bytes: 0,
                path,
            };
            self.current = Some((segment, file));
        }
        let (segment, file) = self.current.as_mut().expect("a segment is open");
        let written = file.write_all(records);
        // Counted even when the write failed part-way: the file may hold some of it.
        segment.bytes = segment.bytes.saturating_add(records.len() as u64);
        if written.is_err() {
            // Whatever came after a cut record could not be read back: the next batch goes to a
            // new segment.
            if let Some((segment, _)) = self.current.take() {
                self.closed.push_back(segment);
            }
        }
        self.prune(now_ms);
        written
    }

    /// Drops closed segments whose every record is older than the age bound (the next segment
    /// began before it), then the oldest while all segments together hold more than the size
    /// bound. The segment being written stays.
    fn prune(&mut self, now_ms: i64) {
        let cutoff = now_ms.saturating_sub(self.retention.max_age_ms);
        let current = self.current.as_ref().map(|(s, _)| s);
        let mut total: u64 = self
            .closed
            .iter()
            .chain(current)
            .map(|s| s.bytes)
            .fold(0, u64::saturating_add);
        while let Some(oldest) = self.closed.front() {
            let newest_ms = self
                .closed
                .get(1)
                .or(current)
                .map_or(i64::MAX, |next| next.first_ms);
            if newest_ms >= cutoff && total <= self.retention.max_bytes {
                break;
            }
            if let Err(e) = std::fs::remove_file(&oldest.path) {
                tracing::warn!(error = %e, path = %oldest.path.display(), "removing old evidence");
                break;
            }
            total = total.saturating_sub(oldest.bytes);
            self.closed.pop_front();
        }
    }
}

/// Appends `e` as one record to `out`.
fn encode(e: &Evidence, out: &mut Vec<u8>) {
    let meta = serde_json::to_vec(e).expect("evidence fields serialise");
    for part in [meta.as_slice(), e.body.as_slice()] {
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(part);
    }
}

/// The records of one segment, up to the first cut or unreadable one.
fn decode(mut bytes: &[u8]) -> Vec<Evidence> {
    fn part<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        if len > PART_MAX_BYTES || len > rest.len() {
            return None;
        }
        let (part, rest) = rest.split_at(len);
        *bytes = rest;
        Some(part)
    }
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let Some((meta, body)) = part(&mut bytes).zip(part(&mut bytes)) else {
            break;
        };
        let Ok(mut e) = serde_json::from_slice::<Evidence>(meta) else {
            break;
        };
        e.body = body.to_vec();
        records.push(e);
    }
    records
}

/// Moves the evidence of an older version of this bank, kept in one SQLite file (`legacy`), into
/// a segment of `dir`, then removes that file: nothing kept is lost in the upgrade. Returns how
/// many messages moved (none when there is no such file). The segment is synced to disk before
/// the old file goes.
pub fn migrate_sqlite(legacy: &Path, dir: &Path) -> Result<usize, String> {
    if !legacy.exists() {
        return Ok(0);
    }
    let failed = |e: rusqlite::Error| format!("reading {}: {e}", legacy.display());
    let conn = rusqlite::Connection::open(legacy).map_err(failed)?;
    let mut stmt = conn
        .prepare(
            "SELECT kept_ms, kind, path, status, from_bank, to_bank, version, ts, nonce, signature, body,
                    (SELECT GROUP_CONCAT(tx_id, ' ') FROM evidence_txs t WHERE t.evidence_id = e.id)
             FROM evidence e ORDER BY id",
        )
        .map_err(failed)?;
    let mut records = Vec::new();
    let mut moved = 0usize;
    let mut first_ms = None;
    let mut rows = stmt.query([]).map_err(failed)?;
    while let Some(r) = rows.next().map_err(failed)? {
        let bank = |i: usize| -> Result<BankId, String> {
            let n: u16 = r.get(i).map_err(failed)?;
            BankId::try_from(n).map_err(|e| format!("{}: {e}", legacy.display()))
        };
        let kind: String = r.get(1).map_err(failed)?;
        let txs: Option<String> = r.get(11).map_err(failed)?;
        let e = Evidence {
            kept_ms: r.get(0).map_err(failed)?,
            kind: if kind == "answer" {
                Kind::Answer
            } else {
                Kind::Request
            },
            path: r.get(2).map_err(failed)?,
            status: r.get(3).map_err(failed)?,
            request_sha256: None,
            from: bank(4)?,
            to: bank(5)?,
            version: r.get(6).map_err(failed)?,
            ts: r.get(7).map_err(failed)?,
            nonce: r.get(8).map_err(failed)?,
            signature: r.get(9).map_err(failed)?,
            body: r.get(10).map_err(failed)?,
            txs: txs
                .unwrap_or_default()
                .split(' ')
                .filter_map(|t| TxId::parse(t).ok())
                .collect(),
        };
        first_ms.get_or_insert(e.kept_ms);
        encode(&e, &mut records);
        moved += 1;
    }
    drop(rows);
    drop(stmt);
    drop(conn);
    if moved > 0 {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        // Number 0, which the writer never uses: a migration cut short by a crash is simply
        // done again over it.
        let path = dir.join(format!(
            "{:012}-{}.{SEGMENT_EXTENSION}",
            0,
            first_ms.unwrap_or(0)
        ));
        let partial = path.with_extension("partial");
        let written = File::create(&partial).and_then(|mut file| {
            file.write_all(&records)?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)?;
            File::open(dir)?.sync_all()
        });
        written.map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = legacy.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", Path::new(&name).display())),
        }
    }
    Ok(moved)
}

fn write_forever(
    mut segments: Segments,
    rx: Receiver<Evidence>,
    clock: Arc<dyn crate::Clock>,
    lost: &AtomicU64,
) {
    let mut records = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut count = 1u64;
        records.clear();
        encode(&first, &mut records);
        while count < BATCH_MAX as u64 {
            match rx.try_recv() {
                Ok(e) => {
                    encode(&e, &mut records);
                    count += 1;
                }
                Err(_) => break,
            }
        }
        if let Err(e) = segments.append(&records, clock.now_ms()) {
            tracing::warn!(error = %e, count, "evidence not written");
            lost.fetch_add(count, Ordering::Relaxed);
        }
    }
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
            request_sha256: (n % 2 == 1).then(|| "cd".repeat(32)),
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
    fn write_all(dir: &Path, retention: Retention, now_ms: i64, messages: Vec<Evidence>) -> u64 {
        let (queue, rx) = sync_channel(QUEUE_MAX);
        let log = EvidenceLog {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        for m in messages {
            log.record(m);
        }
        drop(log.queue);
        let segments = Segments::open(dir.to_path_buf(), retention).unwrap();
        write_forever(segments, rx, Arc::new(Fixed(now_ms)), &log.dropped);
        log.dropped.load(Ordering::Relaxed)
    }

    fn tx(n: u8) -> TxId {
        TxId::parse(&format!("E00000001202611261705{n:011}")).unwrap()
    }

    #[test]
    fn evidence_is_kept_per_transaction_and_bounded_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("evidence");
        let (t1, t2) = (tx(1), tx(2));
        let retention = Retention {
            max_age_ms: 1_000_000,
            max_bytes: 10_000,
        };
        let dropped = write_all(
            &dir,
            retention,
            5_000,
            vec![evidence(0, &t1, 1_000, 100), evidence(1, &t1, 1_001, 100)],
        );
        let kept = EvidenceLog::read(&dir, &t1).unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(
            (kept[0].kind, kept[1].kind, kept[1].status),
            (Kind::Request, Kind::Answer, Some(200))
        );
        assert_eq!(kept[0], evidence(0, &t1, 1_000, 100), "kept exactly");
        // Far more than the size bound, in batches of one each: the oldest go, the newest stay.
        let mut dropped = dropped;
        for n in 0..40 {
            dropped += write_all(
                &dir,
                retention,
                5_000 + i64::from(n),
                vec![evidence(n, &t2, 2_000 + i64::from(n), 1_000)],
            );
        }
        let left = EvidenceLog::read(&dir, &t2).unwrap();
        assert!(!left.is_empty() && left.len() < 40, "{} left", left.len());
        assert!(
            EvidenceLog::read(&dir, &t1).unwrap().is_empty(),
            "the oldest went first"
        );
        let on_disk: u64 = list(&dir).unwrap().iter().map(|s| s.bytes).sum();
        assert!(
            on_disk <= retention.max_bytes + retention.segment_bytes() + 2_000,
            "{on_disk} bytes kept"
        );
        assert_eq!(left.last().unwrap().nonce, "nonce39", "the newest are kept");
        assert_eq!(dropped, 0);
    }

    #[test]
    fn segments_older_than_the_age_bound_go_whole() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("evidence");
        let retention = Retention {
            max_age_ms: 3_000,
            max_bytes: u64::MAX,
        };
        // One batch per 100 ms (each starts a segment: they span at most 100 ms), one tx each.
        for n in 0..60u8 {
            let at = 1_000 + 100 * i64::from(n);
            write_all(&dir, retention, at, vec![evidence(n, &tx(n), at, 10)]);
        }
        let now = 1_000 + 100 * 59;
        for n in 0..60u8 {
            let kept = !EvidenceLog::read(&dir, &tx(n)).unwrap().is_empty();
            let age = now - (1_000 + 100 * i64::from(n));
            // Kept while younger than the bound, plus at most one segment's span.
            assert_eq!(kept, age <= 3_100, "tx {n}, {age} ms old");
        }
    }

    #[test]
    fn a_record_cut_by_a_crash_hides_nothing_before_it_and_the_writer_starts_anew() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("evidence");
        let retention = Retention::default();
        let t = tx(7);
        write_all(
            &dir,
            retention,
            1_000,
            vec![evidence(0, &t, 1_000, 50), evidence(1, &t, 1_000, 50)],
        );
        // The crash: half of a third record at the end of the segment.
        let segment = list(&dir).unwrap().pop().unwrap().path;
        let mut cut = Vec::new();
        encode(&evidence(2, &t, 1_001, 50), &mut cut);
        let mut file = File::options().append(true).open(&segment).unwrap();
        file.write_all(&cut[..cut.len() / 2]).unwrap();
        drop(file);
        assert_eq!(EvidenceLog::read(&dir, &t).unwrap().len(), 2);
        write_all(&dir, retention, 2_000, vec![evidence(3, &t, 2_000, 50)]);
        let kept = EvidenceLog::read(&dir, &t).unwrap();
        assert_eq!(
            kept.iter().map(|e| e.nonce.as_str()).collect::<Vec<_>>(),
            ["nonce0", "nonce1", "nonce3"]
        );
        assert_eq!(
            list(&dir).unwrap().len(),
            2,
            "a new segment after the restart"
        );
    }

    #[test]
    fn evidence_of_the_sqlite_version_moves_into_a_segment() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("evidence.sqlite3");
        let conn = rusqlite::Connection::open(&legacy).unwrap();
        conn.execute_batch(
            "CREATE TABLE evidence (id INTEGER PRIMARY KEY, kept_ms INTEGER NOT NULL, kind TEXT NOT NULL,
                 path TEXT NOT NULL, status INTEGER, from_bank INTEGER NOT NULL, to_bank INTEGER NOT NULL,
                 version TEXT NOT NULL, ts TEXT NOT NULL, nonce TEXT NOT NULL, signature TEXT NOT NULL,
                 body BLOB NOT NULL);
             CREATE TABLE evidence_txs (tx_id TEXT NOT NULL, evidence_id INTEGER NOT NULL);",
        )
        .unwrap();
        let (t1, t2) = (tx(1), tx(2));
        let mut both = evidence(1, &t1, 1_001, 30);
        both.txs.push(t2.clone());
        // The SQLite version kept no request hash with its answers.
        both.request_sha256 = None;
        for (id, e) in [evidence(0, &t1, 1_000, 20), both.clone()]
            .iter()
            .enumerate()
        {
            conn.execute(
                "INSERT INTO evidence VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                rusqlite::params![
                    id as i64 + 1,
                    e.kept_ms,
                    if e.kind == Kind::Answer {
                        "answer"
                    } else {
                        "request"
                    },
                    e.path,
                    e.status,
                    u16::from(e.from),
                    u16::from(e.to),
                    e.version,
                    e.ts,
                    e.nonce,
                    e.signature,
                    e.body
                ],
            )
            .unwrap();
            for t in &e.txs {
                conn.execute(
                    "INSERT INTO evidence_txs VALUES (?1, ?2)",
                    rusqlite::params![t.as_str(), id as i64 + 1],
                )
                .unwrap();
            }
        }
        drop(conn);
        let segments = dir.path().join("evidence");
        assert_eq!(migrate_sqlite(&legacy, &segments), Ok(2));
        assert!(!legacy.exists(), "the old file is gone once moved");
        assert_eq!(migrate_sqlite(&legacy, &segments), Ok(0), "done once");
        assert_eq!(
            EvidenceLog::read(&segments, &t1).unwrap(),
            vec![evidence(0, &t1, 1_000, 20), both.clone()]
        );
        assert_eq!(EvidenceLog::read(&segments, &t2).unwrap(), vec![both]);
        // The writer goes on after the moved segment.
        write_all(
            &segments,
            Retention::default(),
            2_000,
            vec![evidence(2, &t2, 2_000, 10)],
        );
        assert_eq!(EvidenceLog::read(&segments, &t2).unwrap().len(), 2);
    }
}
