//! Durable storage: one SQLite database per bank, WAL mode, `synchronous = FULL` so that a commit
//! is on disk before the engine acknowledges anything in it.
//!
//! The engine owns the only writing connection. It persists each batch's [`Change`]s in a single
//! transaction (group commit: one fsync for many operations). Reads of history use the same
//! connection on the engine thread, so they see exactly what has been acknowledged.

use crate::auth::{PasswordHash, TokenHash};
use crate::consent::{Consent, ConsentChange, Consents, Link};
use crate::coordinator::Unacked;
use crate::directory::{DirChange, DirEntry, Directory, Reservation};
use crate::ledger::{Account, Books, Change, Entry, Ledger, Position, PreparedPart, Side};
use crate::twopc::proof::{Digest, Proof, SignedPlan};
use crate::twopc::InDoubt;
use domain::consent::{ConsentId, ConsentTerms, Grant};
use domain::dto::{AccountKind, Counterparty, EntryKind, Holder, TxStatus};
use domain::{AccountId, BankId, Cents, PixKey, TaxId, TxId};
use rusqlite::{params, Connection, Transaction};
use std::path::Path;

pub type StoreResult<T> = Result<T, rusqlite::Error>;

const SCHEMA_VERSION: i64 = 9;

// CHECK constraints list allowed words with OR, not IN: SQLite builds a temporary b-tree for an
// IN list of three or more values at every insert or update it checks (about 5 % of the engine's
// time before schema version 3).

/// Append-only history: rows are added and their status moves pending -> committed | aborted;
/// never deleted. As of schema version 3 (version 2 added `leg`; 3 rewrote the CHECKs).
const ENTRIES_TABLE: &str = "
    id                 INTEGER PRIMARY KEY,
    tx_id              TEXT    NOT NULL,
    leg                INTEGER NOT NULL DEFAULT 0,
    account_id         INTEGER NOT NULL REFERENCES accounts(id),
    kind               TEXT    NOT NULL CHECK (kind = 'deposit' OR kind = 'pix_out' OR kind = 'pix_in'),
    amount_cents       INTEGER NOT NULL CHECK (amount_cents > 0),
    status             TEXT    NOT NULL CHECK (status = 'pending' OR status = 'committed' OR status = 'aborted'),
    counterparty_name  TEXT,
    counterparty_key   TEXT,
    counterparty_bank  INTEGER,
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL,
    UNIQUE (tx_id, leg, account_id, kind)";

const ENTRIES_INDEXES: &str = "
CREATE INDEX entries_by_account ON entries(account_id, id);
CREATE INDEX entries_by_status ON entries(status) WHERE status = 'pending';";

/// This bank as a 2PC participant: one row per cross-bank transaction it was asked to prepare.
/// 'prepared' rows are in doubt until the coordinator's decision arrives; an 'aborted' row with no
/// entries is a refusal or a presumed abort, kept so that a late prepare is refused.
const PARTICIPATIONS_TABLE: &str = "
    tx_id       TEXT    PRIMARY KEY,
    coordinator INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state = 'prepared' OR state = 'committed' OR state = 'aborted'),
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL";

/// Added by schema version 4: the SHA-256 of the parts a participant was asked to prepare, so that
/// a transaction id names exactly one set of parts (NULL for rows older than version 4, and for
/// aborts recorded from a decision without a prepare).
const PARTICIPATIONS_4: &str = "ALTER TABLE participations ADD COLUMN parts_sha256 BLOB;";

const PARTICIPATIONS_INDEXES: &str = "
CREATE INDEX participations_in_doubt ON participations(state) WHERE state = 'prepared';";

/// Accounts and sessions (unchanged since schema version 1).
const ACCOUNTS_AND_SESSIONS: &str = "
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('individual', 'company')),
    email           TEXT    NOT NULL UNIQUE,
    phone           TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    available_cents INTEGER NOT NULL CHECK (available_cents >= 0),
    blocked_cents   INTEGER NOT NULL CHECK (blocked_cents >= 0),
    incoming_cents  INTEGER NOT NULL CHECK (incoming_cents >= 0),
    created_ms      INTEGER NOT NULL
);
CREATE TABLE holders (
    tax_id     TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    position   INTEGER NOT NULL,
    name       TEXT    NOT NULL
);
CREATE INDEX holders_by_account ON holders(account_id);
CREATE TABLE sessions (
    token_sha256 BLOB    PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    expires_ms   INTEGER NOT NULL
);";

/// This bank as a 2PC coordinator: the decision, durable before any participant hears it. The
/// first decision stored for a transaction is final. `unacked` lists the banks still to
/// acknowledge it. (Unchanged since schema version 2.)
const DECISIONS: &str = "
CREATE TABLE decisions (
    tx_id      TEXT    PRIMARY KEY,
    commit_    INTEGER NOT NULL CHECK (commit_ IN (0, 1)),
    outcome    TEXT    NOT NULL,
    unacked    TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX decisions_unacked ON decisions(unacked) WHERE unacked <> '';";

/// Added by schema version 4: the banks a decision is for (NULL before version 4: unknown), and
/// the account that submitted the packet (NULL for a presumed abort): its outcome is told to that
/// client alone.
const DECISIONS_4: &str = "
ALTER TABLE decisions ADD COLUMN participants TEXT;
ALTER TABLE decisions ADD COLUMN submitter INTEGER;";

/// Added by schema version 5: settlement positions and the books. Entries of cross-bank parts
/// name the bank their position is with; the books start from what a bank of an older version
/// already held: its deposits, and an opening balance for the rest (its net transfers with other
/// banks before positions were kept). Parts still pending at the upgrade have their position with
/// the bank on the other side of the transfer.
const BOOKS_5: &str = "
ALTER TABLE entries ADD COLUMN peer INTEGER;
UPDATE entries SET peer = counterparty_bank WHERE status = 'pending' AND kind <> 'deposit';
CREATE TABLE positions (
    peer          INTEGER PRIMARY KEY,
    settled_cents INTEGER NOT NULL,
    pending_cents INTEGER NOT NULL CHECK (pending_cents >= 0)
);
INSERT INTO positions (peer, settled_cents, pending_cents)
    SELECT peer, 0, SUM(amount_cents) FROM entries
    WHERE status = 'pending' AND kind = 'pix_in' AND peer IS NOT NULL GROUP BY peer;
CREATE TABLE books (
    name  TEXT    PRIMARY KEY CHECK (name = 'deposits' OR name = 'opening'),
    cents INTEGER NOT NULL
);
INSERT INTO books (name, cents)
    SELECT 'deposits', COALESCE(SUM(amount_cents), 0) FROM entries WHERE kind = 'deposit' AND status = 'committed';
INSERT INTO books (name, cents)
    SELECT 'opening', (SELECT COALESCE(SUM(available_cents + blocked_cents), 0) FROM accounts)
                    - (SELECT cents FROM books WHERE name = 'deposits');";

/// Added by schema version 6: consents given at this bank (to accounts of other banks), links of
/// this bank's clients to consents given at other banks, and the consent a pending debit drew on.
const CONSENTS_6: &str = "
ALTER TABLE entries ADD COLUMN consent TEXT;
CREATE TABLE consents (
    id              TEXT    PRIMARY KEY,
    owner           INTEGER NOT NULL REFERENCES accounts(id),
    grantee_bank    INTEGER NOT NULL,
    grantee_account INTEGER NOT NULL,
    per_packet      INTEGER NOT NULL CHECK (per_packet > 0),
    daily           INTEGER,
    expires_ms      INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    revoked_ms      INTEGER,
    used_day        INTEGER NOT NULL,
    used_cents      INTEGER NOT NULL CHECK (used_cents >= 0)
);
CREATE INDEX consents_by_owner ON consents(owner);
CREATE TABLE links (
    account    INTEGER NOT NULL REFERENCES accounts(id),
    bank       INTEGER NOT NULL,
    consent    TEXT    NOT NULL,
    remote     INTEGER NOT NULL,
    owner_name TEXT    NOT NULL,
    per_packet INTEGER NOT NULL,
    daily      INTEGER,
    expires_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account, bank)
);";

/// Added by schema version 7: this bank's copy of the consortium's Pix-key directory, and the
/// keys reserved by key operations prepared here.
const DIRECTORY_7: &str = "
CREATE TABLE pix_keys (
    key       TEXT    PRIMARY KEY,
    bank      INTEGER NOT NULL,
    account   INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    document  TEXT    NOT NULL,
    since_ms  INTEGER NOT NULL
);
CREATE INDEX pix_keys_by_account ON pix_keys(bank, account);
CREATE TABLE key_reservations (
    key          TEXT    PRIMARY KEY,
    tx_id        TEXT    NOT NULL UNIQUE,
    coordinator  INTEGER NOT NULL,
    op           TEXT    NOT NULL,
    at_ms        INTEGER NOT NULL
);";

/// Schema version 8 (protocol version 5): a key moves only with its owning bank's signed permit,
/// which a move prepared under version 4 does not carry. Such a move, prepared here and not yet
/// decided, is refused now, as it would be if it arrived now: its reservation goes and its
/// participation is aborted (a commit of it later is logged as contradicting, and acknowledged).
const PORT_PERMITS_8: &str = "
UPDATE participations SET state = 'aborted'
    WHERE state = 'prepared' AND tx_id IN (
        SELECT tx_id FROM key_reservations
        WHERE op LIKE '{\"Port\":%' AND op NOT LIKE '%\"permit\":%');
DELETE FROM key_reservations WHERE op LIKE '{\"Port\":%' AND op NOT LIKE '%\"permit\":%';";

/// Schema version 9 (protocol version 6): decisions carry proof. A participant keeps the plan it
/// prepared (its hash, its deadline, the signed plan) and the proof of the decision it applied;
/// a coordinator keeps the proof of each decision; and any two signed statements that
/// contradict each other are kept as evidence of equivocation (bounded).
const PROOFS_9: &str = "
ALTER TABLE participations ADD COLUMN plan_sha256 BLOB;
ALTER TABLE participations ADD COLUMN decide_by_ms INTEGER;
ALTER TABLE participations ADD COLUMN plan TEXT;
ALTER TABLE participations ADD COLUMN proof TEXT;
ALTER TABLE decisions ADD COLUMN proof TEXT;
CREATE TABLE equivocations (
    id        INTEGER PRIMARY KEY,
    tx_id     TEXT    NOT NULL,
    signer    INTEGER NOT NULL,
    first     TEXT    NOT NULL,
    second    TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX equivocations_by_tx ON equivocations(tx_id);";

/// Equivocations kept at most: each is a member's proof against itself, so a rogue member could
/// otherwise fill the disk with its own contradictions.
pub const EQUIVOCATIONS_MAX: i64 = 10_000;

/// A new database, at [`SCHEMA_VERSION`].
fn schema() -> String {
    format!(
        "{ACCOUNTS_AND_SESSIONS}
CREATE TABLE entries ({ENTRIES_TABLE});
{ENTRIES_INDEXES}
CREATE TABLE participations ({PARTICIPATIONS_TABLE});
{PARTICIPATIONS_INDEXES}
{DECISIONS}
{PARTICIPATIONS_4}
{DECISIONS_4}
{BOOKS_5}
{CONSENTS_6}
{DIRECTORY_7}
{PROOFS_9}"
    )
}

/// From version 1 (no packets, no 2PC): entries gain a leg number, and the protocol tables appear.
fn migrate_1() -> String {
    format!(
        "CREATE TABLE entries_new ({ENTRIES_TABLE});
INSERT INTO entries_new (id, tx_id, leg, account_id, kind, amount_cents, status, counterparty_name, counterparty_key,
                         counterparty_bank, created_ms, updated_ms)
    SELECT id, tx_id, 0, account_id, kind, amount_cents, status, counterparty_name, counterparty_key,
           counterparty_bank, created_ms, updated_ms FROM entries;
DROP TABLE entries;
ALTER TABLE entries_new RENAME TO entries;
{ENTRIES_INDEXES}
CREATE TABLE participations ({PARTICIPATIONS_TABLE});
{PARTICIPATIONS_INDEXES}
{DECISIONS}"
    )
}

/// From version 2: entries and participations are rebuilt with the OR-form CHECKs (SQLite cannot
/// change a constraint in place). Columns and rows are unchanged.
fn migrate_2() -> String {
    let mut sql = String::new();
    for (table, columns, indexes) in [
        ("entries", ENTRIES_TABLE, ENTRIES_INDEXES),
        (
            "participations",
            PARTICIPATIONS_TABLE,
            PARTICIPATIONS_INDEXES,
        ),
    ] {
        sql.push_str(&format!(
            "CREATE TABLE {table}_new ({columns});
INSERT INTO {table}_new SELECT * FROM {table};
DROP TABLE {table};
ALTER TABLE {table}_new RENAME TO {table};
{indexes}
"
        ));
    }
    sql
}

/// From version 3: participations remember the hash of their parts, decisions their participants
/// and submitter.
fn migrate_3() -> String {
    format!("{PARTICIPATIONS_4}\n{DECISIONS_4}\n")
}

/// The upgrade of a database at `version` (0: a new one) to [`SCHEMA_VERSION`], as one script:
/// each version's changes in order.
fn upgrade_from(version: i64) -> Option<String> {
    let steps: [(i64, String); 8] = [
        (1, migrate_1()),
        (2, migrate_2()),
        (3, migrate_3()),
        (4, BOOKS_5.to_string()),
        (5, CONSENTS_6.to_string()),
        (6, DIRECTORY_7.to_string()),
        (7, PORT_PERMITS_8.to_string()),
        (8, PROOFS_9.to_string()),
    ];
    match version {
        0 => Some(schema()),
        SCHEMA_VERSION => Some(String::new()),
        v if (1..SCHEMA_VERSION).contains(&v) => Some(
            steps
                .iter()
                // Version 1 is upgraded by rebuilding like version 2 is, so it skips step 2.
                .filter(|(from, _)| *from >= v && !(v == 1 && *from == 2))
                .map(|(_, sql)| format!("{sql}\n"))
                .collect(),
        ),
        _ => None,
    }
}

/// Everything one batch changed, persisted in one transaction.
pub struct Batch<'a> {
    pub ledger: &'a [Change],
    pub sessions: &'a [SessionChange],
    pub protocol: &'a [ProtocolChange],
    pub consents: &'a [ConsentChange],
    pub directory: &'a [DirChange],
}

/// A session row as restored at start-up.
pub struct StoredSession {
    pub token: TokenHash,
    pub account: AccountId,
    pub expires_ms: i64,
}

/// Changes to sessions, persisted in the same transaction as the ledger's changes.
#[derive(Clone, Debug)]
pub enum SessionChange {
    Created {
        token: TokenHash,
        account: AccountId,
        expires_ms: i64,
    },
    Deleted {
        token: TokenHash,
    },
    ExpiredBefore {
        now_ms: i64,
    },
}

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

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Lets the database grow by `pages` pages from its size now, then fails writes with
    /// SQLITE_FULL as a full disk would (fault injection for tests).
    pub fn limit_growth(&self, pages: u32) -> StoreResult<()> {
        let now: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))?;
        let max = now + i64::from(pages);
        let _: i64 = self
            .conn
            .query_row(&format!("PRAGMA max_page_count = {max}"), [], |r| r.get(0))?;
        Ok(())
    }

    pub fn open(path: &Path) -> StoreResult<Store> {
        let conn = Connection::open(path)?;
        // WAL: readers (an operator's backup, say) never block the writer. FULL: the WAL is
        // fsync'd at every commit, so an acknowledged batch survives a crash of the process or of
        // the machine.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_millis(5_000))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let Some(upgrade) = upgrade_from(version) else {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "database schema version {version}, this build knows {SCHEMA_VERSION}"
            )));
        };
        if !upgrade.is_empty() {
            // One transaction: a crash mid-upgrade leaves the old version, which upgrades again.
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(&upgrade)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        Ok(Store { conn })
    }

    /// Reads the whole ledger back: accounts with balances, and the parts of transactions that
    /// are still prepared (pending entries).
    pub fn load_ledger(&self) -> StoreResult<Ledger> {
        let mut holders_stmt = self.conn.prepare(
            "SELECT account_id, name, tax_id FROM holders ORDER BY account_id, position",
        )?;
        let mut holders: std::collections::HashMap<i64, Vec<Holder>> = Default::default();
        let rows = holders_stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (account, name, tax) = row?;
            holders.entry(account).or_default().push(Holder {
                name,
                tax_id: parse_tax(&tax)?,
            });
        }
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, email, phone, password_hash, available_cents, blocked_cents, incoming_cents, created_ms
             FROM accounts ORDER BY id",
        )?;
        let accounts = stmt
            .query_map([], |r| {
                let id: i64 = r.get(0)?;
                let kind: String = r.get(1)?;
                Ok(Account {
                    id: AccountId(id),
                    kind: if kind == "company" {
                        AccountKind::Company
                    } else {
                        AccountKind::Individual
                    },
                    holders: holders.remove(&id).unwrap_or_default(),
                    email: r.get(2)?,
                    phone: r.get(3)?,
                    password_hash: PasswordHash::from_stored(r.get(4)?),
                    available: Cents::new(r.get(5)?),
                    blocked: Cents::new(r.get(6)?),
                    incoming: Cents::new(r.get(7)?),
                    created_ms: r.get(8)?,
                })
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT tx_id, account_id, kind, amount_cents, leg, peer, consent, created_ms FROM entries WHERE status = 'pending' ORDER BY id")?;
        let prepared = stmt
            .query_map([], |r| {
                let tx: String = r.get(0)?;
                let kind: String = r.get(2)?;
                let side = if kind == "pix_out" {
                    Side::Debit
                } else {
                    Side::Credit
                };
                Ok((
                    parse_tx(&tx)?,
                    PreparedPart {
                        leg: r.get(4)?,
                        account: AccountId(r.get(1)?),
                        side,
                        amount: Cents::new(r.get(3)?),
                        peer: r.get::<_, Option<u16>>(5)?.map(parse_bank).transpose()?,
                        consent: r
                            .get::<_, Option<String>>(6)?
                            .map(|c| parse_consent(&c))
                            .transpose()?,
                        prepared_ms: r.get(7)?,
                    },
                ))
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Ledger::restore(accounts, prepared, self.load_books()?))
    }

    /// Consents given at this bank, and this bank's clients' links to consents elsewhere.
    pub fn load_consents(&self) -> StoreResult<Consents> {
        let mut stmt = self.conn.prepare(
            "SELECT id, owner, grantee_bank, grantee_account, per_packet, daily, expires_ms, created_ms, revoked_ms, used_day, used_cents
             FROM consents",
        )?;
        let given = stmt
            .query_map([], |r| {
                Ok(Consent {
                    id: parse_consent(&r.get::<_, String>(0)?)?,
                    owner: AccountId(r.get(1)?),
                    grantee_bank: parse_bank(r.get(2)?)?,
                    grantee_account: AccountId(r.get(3)?),
                    terms: ConsentTerms {
                        per_packet: Cents::new(r.get(4)?),
                        daily: r.get::<_, Option<i64>>(5)?.map(Cents::new),
                        expires_ms: r.get(6)?,
                    },
                    created_ms: r.get(7)?,
                    revoked_ms: r.get(8)?,
                    used_day: r.get(9)?,
                    used: Cents::new(r.get(10)?),
                })
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT account, bank, consent, remote, owner_name, per_packet, daily, expires_ms, created_ms FROM links")?;
        let links = stmt
            .query_map([], |r| {
                Ok(Link {
                    account: AccountId(r.get(0)?),
                    bank: parse_bank(r.get(1)?)?,
                    grant: Grant {
                        consent: parse_consent(&r.get::<_, String>(2)?)?,
                        account: AccountId(r.get(3)?),
                        owner_name: r.get(4)?,
                        terms: ConsentTerms {
                            per_packet: Cents::new(r.get(5)?),
                            daily: r.get::<_, Option<i64>>(6)?.map(Cents::new),
                            expires_ms: r.get(7)?,
                        },
                    },
                    created_ms: r.get(8)?,
                })
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Consents::restore(given, links))
    }

    /// This bank's copy of the key directory, with the reservations of operations prepared here.
    pub fn load_directory(&self) -> StoreResult<Directory> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, bank, account, name, document, since_ms FROM pix_keys")?;
        let entries = stmt
            .query_map([], |r| {
                Ok(DirEntry {
                    key: parse_key(&r.get::<_, String>(0)?)?,
                    bank: parse_bank(r.get(1)?)?,
                    account: AccountId(r.get(2)?),
                    name: r.get(3)?,
                    document: r.get(4)?,
                    since_ms: r.get(5)?,
                })
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT tx_id, coordinator, op, at_ms FROM key_reservations")?;
        let reservations = stmt
            .query_map([], |r| {
                Ok(Reservation {
                    tx: parse_tx(&r.get::<_, String>(0)?)?,
                    coordinator: parse_bank(r.get(1)?)?,
                    op: serde_json::from_str(&r.get::<_, String>(2)?)
                        .map_err(|_| bad_column(2, "op"))?,
                    at_ms: r.get(3)?,
                })
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Directory::restore(entries, reservations))
    }

    fn load_books(&self) -> StoreResult<Books> {
        let mut books = Books::default();
        let mut stmt = self.conn.prepare("SELECT name, cents FROM books")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            match row? {
                (name, cents) if name == "deposits" => books.deposits = cents,
                (_, cents) => books.opening = cents,
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT peer, settled_cents, pending_cents FROM positions")?;
        for row in stmt.query_map([], |r| {
            Ok((
                parse_bank(r.get(0)?)?,
                Position {
                    settled: r.get(1)?,
                    pending: r.get(2)?,
                },
            ))
        })? {
            let (peer, position) = row?;
            books.positions.insert(peer, position);
        }
        Ok(books)
    }

    pub fn load_sessions(&self, now_ms: i64) -> StoreResult<Vec<StoredSession>> {
        let mut stmt = self.conn.prepare(
            "SELECT token_sha256, account_id, expires_ms FROM sessions WHERE expires_ms > ?1",
        )?;
        let rows = stmt.query_map([now_ms], |r| {
            let bytes: Vec<u8> = r.get(0)?;
            let token: [u8; 32] = bytes.try_into().map_err(|_| {
                rusqlite::Error::InvalidColumnType(0, "token".into(), rusqlite::types::Type::Blob)
            })?;
            Ok(StoredSession {
                token: TokenHash(token),
                account: AccountId(r.get(1)?),
                expires_ms: r.get(2)?,
            })
        })?;
        rows.collect()
    }

    /// Persists one batch atomically. On error nothing of the batch is stored.
    pub fn persist(&mut self, batch: &Batch<'_>, now_ms: i64) -> StoreResult<()> {
        let tx = self.conn.transaction()?;
        for change in batch.ledger {
            apply_change(&tx, change, now_ms)?;
        }
        for change in batch.sessions {
            apply_session_change(&tx, change)?;
        }
        for change in batch.protocol {
            apply_protocol_change(&tx, change)?;
        }
        for change in batch.consents {
            apply_consent_change(&tx, change)?;
        }
        for change in batch.directory {
            apply_directory_change(&tx, change)?;
        }
        tx.commit()
    }

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

    /// The newest `limit` entries of an account.
    pub fn recent_entries(&self, account: AccountId, limit: u32) -> StoreResult<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tx_id, kind, amount_cents, status, counterparty_name, counterparty_key, counterparty_bank, created_ms, leg, peer
             FROM entries WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![account.0, limit], |r| row_to_entry(r, account))?;
        rows.collect()
    }

    /// Entries of a transaction at this bank, to answer a retried request with its first outcome.
    pub fn entries_of_tx(&self, tx_id: &TxId) -> StoreResult<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tx_id, kind, amount_cents, status, counterparty_name, counterparty_key, counterparty_bank, created_ms, leg, peer, account_id
             FROM entries WHERE tx_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([tx_id.as_str()], |r| row_to_entry(r, AccountId(r.get(10)?)))?;
        rows.collect()
    }
}

fn row_to_entry(r: &rusqlite::Row<'_>, account: AccountId) -> rusqlite::Result<Entry> {
    let tx: String = r.get(0)?;
    let kind: String = r.get(1)?;
    let status: String = r.get(3)?;
    let cp_name: Option<String> = r.get(4)?;
    let cp_key: Option<String> = r.get(5)?;
    let cp_bank: Option<u16> = r.get(6)?;
    let counterparty = match (
        cp_name,
        cp_key,
        cp_bank.and_then(|b| BankId::try_from(b).ok()),
    ) {
        (Some(name), Some(key_masked), Some(bank)) => Some(Counterparty {
            name,
            key_masked,
            bank,
        }),
        _ => None,
    };
    Ok(Entry {
        tx_id: parse_tx(&tx)?,
        leg: r.get(8)?,
        account,
        kind: EntryKind::parse(&kind).ok_or_else(|| bad_column(1, "kind"))?,
        amount: Cents::new(r.get(2)?),
        status: TxStatus::parse(&status).ok_or_else(|| bad_column(3, "status"))?,
        counterparty,
        created_ms: r.get(7)?,
        peer: r.get::<_, Option<u16>>(9)?.map(parse_bank).transpose()?,
        consent: None,
    })
}

fn apply_change(tx: &Transaction<'_>, change: &Change, now_ms: i64) -> StoreResult<()> {
    match change {
        Change::AccountCreated(a) => {
            let kind = match a.kind {
                AccountKind::Individual => "individual",
                AccountKind::Company => "company",
            };
            tx.prepare_cached(
                "INSERT INTO accounts (id, kind, email, phone, password_hash, available_cents, blocked_cents, incoming_cents, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                a.id.0,
                kind,
                a.email,
                a.phone,
                a.password_hash.as_stored(),
                a.available.get(),
                a.blocked.get(),
                a.incoming.get(),
                a.created_ms
            ])?;
            for (position, h) in a.holders.iter().enumerate() {
                tx.prepare_cached("INSERT INTO holders (tax_id, account_id, position, name) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![h.tax_id.digits(), a.id.0, position as i64, h.name])?;
            }
        }
        Change::Balances {
            account,
            available,
            blocked,
            incoming,
        } => {
            let n = tx
                .prepare_cached("UPDATE accounts SET available_cents = ?2, blocked_cents = ?3, incoming_cents = ?4 WHERE id = ?1")?
                .execute(params![account.0, available.get(), blocked.get(), incoming.get()])?;
            assert_eq!(n, 1, "balance update for a missing account {account}");
        }
        Change::EntryAdded(e) => {
            let cp = e.counterparty.as_ref();
            tx.prepare_cached(
                "INSERT INTO entries (tx_id, account_id, kind, amount_cents, status, counterparty_name, counterparty_key,
                                      counterparty_bank, created_ms, updated_ms, leg, peer, consent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                e.tx_id.as_str(),
                e.account.0,
                e.kind.as_str(),
                e.amount.get(),
                e.status.as_str(),
                cp.map(|c| c.name.as_str()),
                cp.map(|c| c.key_masked.as_str()),
                cp.map(|c| u16::from(c.bank)),
                e.created_ms,
                e.leg,
                e.peer.map(u16::from),
                e.consent.as_ref().map(ConsentId::as_str)
            ])?;
        }
        Change::Deposits(cents) => {
            tx.prepare_cached("INSERT INTO books (name, cents) VALUES ('deposits', ?1) ON CONFLICT (name) DO UPDATE SET cents = excluded.cents")?
                .execute(params![cents])?;
        }
        Change::Position { peer, position } => {
            tx.prepare_cached(
                "INSERT INTO positions (peer, settled_cents, pending_cents) VALUES (?1, ?2, ?3)
                 ON CONFLICT (peer) DO UPDATE SET settled_cents = excluded.settled_cents, pending_cents = excluded.pending_cents",
            )?
            .execute(params![u16::from(*peer), position.settled, position.pending])?;
        }
        Change::EntryStatus {
            tx_id,
            leg,
            account,
            kind,
            status,
            at_ms,
        } => {
            let n = tx
                .prepare_cached(
                    "UPDATE entries SET status = ?4, updated_ms = ?5
                     WHERE tx_id = ?1 AND account_id = ?2 AND kind = ?3 AND leg = ?6 AND status = 'pending'",
                )?
                .execute(params![tx_id.as_str(), account.0, kind.as_str(), status.as_str(), (*at_ms).max(now_ms), leg])?;
            assert_eq!(
                n, 1,
                "status change for an entry that is not pending: {tx_id}"
            );
        }
    }
    Ok(())
}

fn apply_session_change(tx: &Transaction<'_>, change: &SessionChange) -> StoreResult<()> {
    match change {
        SessionChange::Created {
            token,
            account,
            expires_ms,
        } => {
            tx.prepare_cached(
                "INSERT INTO sessions (token_sha256, account_id, expires_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![&token.0[..], account.0, expires_ms])?;
        }
        SessionChange::Deleted { token } => {
            tx.prepare_cached("DELETE FROM sessions WHERE token_sha256 = ?1")?
                .execute(params![&token.0[..]])?;
        }
        SessionChange::ExpiredBefore { now_ms } => {
            tx.prepare_cached("DELETE FROM sessions WHERE expires_ms <= ?1")?
                .execute(params![now_ms])?;
        }
    }
    Ok(())
}

fn apply_protocol_change(tx: &Transaction<'_>, change: &ProtocolChange) -> StoreResult<()> {
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

fn apply_consent_change(tx: &Transaction<'_>, change: &ConsentChange) -> StoreResult<()> {
    match change {
        ConsentChange::Saved(c) => {
            tx.prepare_cached(
                "INSERT INTO consents (id, owner, grantee_bank, grantee_account, per_packet, daily, expires_ms, created_ms,
                                       revoked_ms, used_day, used_cents)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO UPDATE SET revoked_ms = excluded.revoked_ms, used_day = excluded.used_day,
                                                used_cents = excluded.used_cents",
            )?
            .execute(params![
                c.id.as_str(),
                c.owner.0,
                u16::from(c.grantee_bank),
                c.grantee_account.0,
                c.terms.per_packet.get(),
                c.terms.daily.map(Cents::get),
                c.terms.expires_ms,
                c.created_ms,
                c.revoked_ms,
                c.used_day,
                c.used.get()
            ])?;
        }
        ConsentChange::Link(l) => {
            tx.prepare_cached(
                "INSERT INTO links (account, bank, consent, remote, owner_name, per_packet, daily, expires_ms, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (account, bank) DO UPDATE SET consent = excluded.consent, remote = excluded.remote,
                     owner_name = excluded.owner_name, per_packet = excluded.per_packet, daily = excluded.daily,
                     expires_ms = excluded.expires_ms, created_ms = excluded.created_ms",
            )?
            .execute(params![
                l.account.0,
                u16::from(l.bank),
                l.grant.consent.as_str(),
                l.grant.account.0,
                l.grant.owner_name,
                l.grant.terms.per_packet.get(),
                l.grant.terms.daily.map(Cents::get),
                l.grant.terms.expires_ms,
                l.created_ms
            ])?;
        }
    }
    Ok(())
}

fn apply_directory_change(tx: &Transaction<'_>, change: &DirChange) -> StoreResult<()> {
    match change {
        DirChange::Reserved(r) => {
            let op = serde_json::to_string(&r.op).map_err(|_| bad_column(2, "op"))?;
            tx.prepare_cached(
                "INSERT INTO key_reservations (key, tx_id, coordinator, op, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                r.op.key().canonical(),
                r.tx.as_str(),
                u16::from(r.coordinator),
                op,
                r.at_ms
            ])?;
        }
        DirChange::Decided { key, entry } => {
            tx.prepare_cached("DELETE FROM key_reservations WHERE key = ?1")?
                .execute([key.canonical()])?;
            match entry {
                None => {
                    tx.prepare_cached("DELETE FROM pix_keys WHERE key = ?1")?
                        .execute([key.canonical()])?;
                }
                Some(e) => {
                    tx.prepare_cached(
                        "INSERT INTO pix_keys (key, bank, account, name, document, since_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (key) DO UPDATE SET bank = excluded.bank, account = excluded.account,
                             name = excluded.name, document = excluded.document, since_ms = excluded.since_ms",
                    )?
                    .execute(params![
                        e.key.canonical(),
                        u16::from(e.bank),
                        e.account.0,
                        e.name,
                        e.document,
                        e.since_ms
                    ])?;
                }
            }
        }
    }
    Ok(())
}

fn parse_key(text: &str) -> rusqlite::Result<PixKey> {
    PixKey::parse(text).map_err(|_| bad_column(0, "key"))
}

fn parse_consent(text: &str) -> rusqlite::Result<ConsentId> {
    ConsentId::parse(text).map_err(|_| bad_column(0, "consent"))
}

fn banks_text(banks: &[BankId]) -> String {
    banks
        .iter()
        .map(|b| u16::from(*b).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_banks(text: &str) -> rusqlite::Result<Vec<BankId>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_bank(s.parse().map_err(|_| bad_column(0, "bank"))?))
        .collect()
}

fn parse_bank(n: u16) -> rusqlite::Result<BankId> {
    BankId::try_from(n).map_err(|_| bad_column(0, "bank"))
}

fn bad_column(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(i, what.into(), rusqlite::types::Type::Text)
}

fn parse_tax(text: &str) -> rusqlite::Result<TaxId> {
    TaxId::parse(text).map_err(|_| bad_column(0, "tax_id"))
}

fn parse_tx(text: &str) -> rusqlite::Result<TxId> {
    TxId::parse(text).map_err(|_| bad_column(0, "tx_id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema as schema version 2 left it, CHECKs with IN lists included.
    const VERSION_2: &str = "
    CREATE TABLE accounts (
        id              INTEGER PRIMARY KEY,
        kind            TEXT    NOT NULL CHECK (kind IN ('individual', 'company')),
        email           TEXT    NOT NULL UNIQUE,
        phone           TEXT    NOT NULL,
        password_hash   TEXT    NOT NULL,
        available_cents INTEGER NOT NULL CHECK (available_cents >= 0),
        blocked_cents   INTEGER NOT NULL CHECK (blocked_cents >= 0),
        incoming_cents  INTEGER NOT NULL CHECK (incoming_cents >= 0),
        created_ms      INTEGER NOT NULL
    );
    CREATE TABLE holders (
        tax_id     TEXT    PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        position   INTEGER NOT NULL,
        name       TEXT    NOT NULL
    );
    CREATE INDEX holders_by_account ON holders(account_id);
    -- Append-only history: rows are added and their status moves pending -> committed | aborted; never deleted.
    CREATE TABLE entries (
        id                 INTEGER PRIMARY KEY,
        tx_id              TEXT    NOT NULL,
        leg                INTEGER NOT NULL DEFAULT 0,
        account_id         INTEGER NOT NULL REFERENCES accounts(id),
        kind               TEXT    NOT NULL CHECK (kind IN ('deposit', 'pix_out', 'pix_in')),
        amount_cents       INTEGER NOT NULL CHECK (amount_cents > 0),
        status             TEXT    NOT NULL CHECK (status IN ('pending', 'committed', 'aborted')),
        counterparty_name  TEXT,
        counterparty_key   TEXT,
        counterparty_bank  INTEGER,
        created_ms         INTEGER NOT NULL,
        updated_ms         INTEGER NOT NULL,
        UNIQUE (tx_id, leg, account_id, kind)
    );
    CREATE INDEX entries_by_account ON entries(account_id, id);
    CREATE INDEX entries_by_status ON entries(status) WHERE status = 'pending';
    CREATE TABLE sessions (
        token_sha256 BLOB    PRIMARY KEY,
        account_id   INTEGER NOT NULL REFERENCES accounts(id),
        expires_ms   INTEGER NOT NULL
    );

    -- This bank as a 2PC participant: one row per cross-bank transaction it was asked to prepare.
    -- 'prepared' rows are in doubt until the coordinator's decision arrives; an 'aborted' row with no
    -- entries is a refusal or a presumed abort, kept so that a late prepare is refused.
    CREATE TABLE participations (
        tx_id       TEXT    PRIMARY KEY,
        coordinator INTEGER NOT NULL,
        state       TEXT    NOT NULL CHECK (state IN ('prepared', 'committed', 'aborted')),
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
    );
    CREATE INDEX participations_in_doubt ON participations(state) WHERE state = 'prepared';
    -- This bank as a 2PC coordinator: the decision, durable before any participant hears it. The first
    -- decision stored for a transaction is final. `unacked` lists the banks still to acknowledge it.
    CREATE TABLE decisions (
        tx_id      TEXT    PRIMARY KEY,
        commit_    INTEGER NOT NULL CHECK (commit_ IN (0, 1)),
        outcome    TEXT    NOT NULL,
        unacked    TEXT    NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX decisions_unacked ON decisions(unacked) WHERE unacked <> '';
";

    #[test]
    fn a_version_2_database_is_upgraded_with_its_rows_and_keeps_refusing_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bank.sqlite3");
        let tx = "E00000002202611262359abcdefghijk";
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(VERSION_2).unwrap();
            conn.execute_batch(&format!(
                "INSERT INTO accounts VALUES (1, 'individual', 'ana@example.com', '11987654321', 'hash', 700, 300, 0, 5);
                 INSERT INTO holders VALUES ('52998224725', 1, 0, 'Ana Lima');
                 INSERT INTO entries (tx_id, leg, account_id, kind, amount_cents, status, created_ms, updated_ms)
                     VALUES ('{tx}', 0, 1, 'pix_out', 300, 'pending', 6, 6);
                 INSERT INTO participations VALUES ('{tx}', 1, 'prepared', 6, 6);
                 INSERT INTO decisions VALUES ('{tx}', 1, '{{}}', '3', 6, 6);
                 PRAGMA user_version = 2;"
            ))
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let tx = TxId::parse(tx).unwrap();
        let ledger = store.load_ledger().unwrap();
        let ana = ledger.account(AccountId(1)).unwrap();
        assert_eq!(
            (ana.available, ana.blocked, ana.holders.len()),
            (Cents::new(700), Cents::new(300), 1)
        );
        assert_eq!(
            ledger.prepared(&tx).map(<[_]>::len),
            Some(1),
            "the pending debit is still prepared"
        );
        let part = store.participation(&tx).unwrap().unwrap();
        assert_eq!(
            (part.coordinator, part.state, part.parts),
            (BankId::try_from(1).unwrap(), PartState::Prepared, None)
        );
        assert_eq!(
            store.in_doubt().unwrap().len(),
            1,
            "the partial index answers again"
        );
        let decision = store.decision(&tx).unwrap().unwrap();
        assert_eq!(decision.unacked, vec![BankId::try_from(3).unwrap()]);
        assert_eq!(
            (decision.participants, decision.submitter),
            (None, None),
            "unknown before version 4"
        );
        for table in ["entries", "participations"] {
            let sql: String = store
                .conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(
                !sql.contains(" IN ("),
                "{table} still has an IN-list CHECK: {sql}"
            );
        }
        // The rewritten CHECKs still refuse what the old ones did.
        let bad_kind = "INSERT INTO entries (tx_id, account_id, kind, amount_cents, status, created_ms, updated_ms)
                        VALUES ('x', 1, 'gift', 1, 'pending', 7, 7)";
        let bad_state = "INSERT INTO participations VALUES ('y', 1, 'maybe', 7, 7)";
        for bad in [bad_kind, bad_state] {
            assert!(store.conn.execute(bad, []).is_err(), "accepted: {bad}");
        }
        drop(store);
        // Opening again finds the current version and changes nothing.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_ledger().unwrap().prepared_count(), 1);
    }

    /// A move of a key prepared under protocol version 4 (no permit) and still undecided at the
    /// upgrade is refused, as it would be now; a reservation of a claim stays.
    #[test]
    fn a_key_move_without_a_permit_does_not_survive_the_upgrade_to_version_8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bank.sqlite3");
        let (port, claim) = (
            "E00000005202611262359portportpor",
            "E00000002202611262359claimclaimc",
        );
        {
            let store = Store::open(&path).unwrap();
            store
                .conn
                .execute_batch(&format!(
                    r#"INSERT INTO participations (tx_id, coordinator, state, created_ms, updated_ms)
                           VALUES ('{port}', 5, 'prepared', 6, 6), ('{claim}', 2, 'prepared', 6, 6);
                       INSERT INTO key_reservations VALUES
                           ('dora@example.com', '{port}', 5, '{{"Port":{{"key":"dora@example.com","account":1,"name":"Dora","document":"***","holders":[]}}}}', 6),
                           ('eva@example.com', '{claim}', 2, '{{"Claim":{{"key":"eva@example.com","account":1,"name":"Eva","document":"***"}}}}', 6);
                       ALTER TABLE participations DROP COLUMN plan_sha256;
                       ALTER TABLE participations DROP COLUMN decide_by_ms;
                       ALTER TABLE participations DROP COLUMN plan;
                       ALTER TABLE participations DROP COLUMN proof;
                       ALTER TABLE decisions DROP COLUMN proof;
                       DROP TABLE equivocations;
                       PRAGMA user_version = 7;"#
                ))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let directory = store.load_directory().unwrap();
        assert!(!directory.holds(&TxId::parse(port).unwrap()));
        assert!(directory.holds(&TxId::parse(claim).unwrap()));
        let state = |tx: &str| {
            store
                .participation(&TxId::parse(tx).unwrap())
                .unwrap()
                .unwrap()
                .state
        };
        assert_eq!(state(port), PartState::Aborted);
        assert_eq!(state(claim), PartState::Prepared);
    }
}
