//! The database's tables, as a new database gets them, and the upgrade from each older schema
//! version (each upgrade runs in one transaction, at start).

pub(super) const SCHEMA_VERSION: i64 = 18;

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

/// Added by schema version 10: settlement windows. What windows paid with each peer (on the
/// creditor's signed confirmation), and each window as this bank closed it: its own signed
/// report, the peers' signed reports and the signed payment steps, kept whole as JSON (a
/// window is written as one, read back at start, and is evidence as it stands).
const SETTLEMENT_10: &str = "
ALTER TABLE positions ADD COLUMN windows_cents INTEGER NOT NULL DEFAULT 0;
CREATE TABLE settlement_windows (
    window INTEGER PRIMARY KEY CHECK (window > 0),
    body   TEXT    NOT NULL
);";

/// Added by schema version 11 (issue 28): a devolução's entries (on both sides) name the Pix they
/// return, so that what is left to return of a Pix survives a restart; a deposit's entry says how
/// its money came in (`cash`, `boleto`, `qr`; none before).
const RETURNS_11: &str = "
ALTER TABLE entries ADD COLUMN returned_for TEXT;
ALTER TABLE entries ADD COLUMN deposit_method TEXT;
CREATE INDEX entries_returning ON entries(returned_for) WHERE returned_for IS NOT NULL;";

/// Added by schema version 12 (issue 27): the Pix limits a client set (an account with no row
/// has its kind's default), with a raise waiting for its time, if any; and scheduled Pix, every
/// one kept (`status`: waiting, running, done, failed or cancelled; `tx_id` once it ran;
/// `failure`, why not, as JSON).
const EVERYDAY_12: &str = "
CREATE TABLE pix_limits (
    account_id        INTEGER PRIMARY KEY REFERENCES accounts(id),
    day_cents         INTEGER NOT NULL CHECK (day_cents >= 0),
    night_cents       INTEGER NOT NULL CHECK (night_cents >= 0),
    raise_day_cents   INTEGER,
    raise_night_cents INTEGER,
    raise_from_ms     INTEGER
);
CREATE TABLE scheduled_pix (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    pix_key       TEXT    NOT NULL,
    amount_cents  INTEGER NOT NULL CHECK (amount_cents > 0),
    day           INTEGER NOT NULL,
    receiver_name TEXT    NOT NULL,
    receiver_bank INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    tx_id         TEXT,
    failure       TEXT,
    created_ms    INTEGER NOT NULL
);
CREATE INDEX scheduled_open ON scheduled_pix(status) WHERE status = 'waiting' OR status = 'running';
CREATE INDEX scheduled_by_account ON scheduled_pix(account_id, id);";

/// Added by schema version 13 (issue 28): charges (cobrança imediata), each kept whole as JSON
/// (`engine::charges::Charge`), with its account for listing.
const CHARGES_13: &str = "
CREATE TABLE charges (
    id         TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL,
    body       TEXT    NOT NULL
);";

/// Added by schema version 14 (issue 29): settlement windows cut by the token ring. What
/// transfers committed with each peer in each window not yet reported (a transfer counts in the
/// window its signed plan names, whenever it is decided here), and the last window cut here
/// (one row; the next window is the one plans are signed for).
const WINDOW_CUT_14: &str = "
CREATE TABLE window_nets (
    window    INTEGER NOT NULL CHECK (window > 0),
    peer      INTEGER NOT NULL,
    net_cents INTEGER NOT NULL,
    PRIMARY KEY (window, peer)
);
CREATE TABLE settlement_cut (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    cut INTEGER NOT NULL CHECK (cut >= 0)
);";

/// Added by schema version 15 (issue 27): each account's receivers to pay again, the recent
/// ones and the favourites (`domain::contacts::Contacts`), kept whole as JSON.
const CONTACTS_15: &str = "
CREATE TABLE pix_contacts (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    body       TEXT    NOT NULL
);";

/// Added by schema version 16 (issue 27, protocol version 15): the payer's message on a Pix, on
/// both sides' entries (NULL: none; at most 140 characters, `domain::PixMessage`), and on a
/// scheduled Pix, which carries it on its day.
const MESSAGES_16: &str = "
ALTER TABLE entries ADD COLUMN message TEXT;
ALTER TABLE scheduled_pix ADD COLUMN message TEXT;";

/// Added by schema version 17 (issue 27): each holder of a joint account has a login of their own.
/// A login is an e-mail (unique among every login of the bank) and a password hash, opening one
/// account as one of its holders (`holder`: the holder's position); a session remembers which
/// holder logged in. An older account's e-mail and hash move in as its first holder's login: the
/// hash leaves `accounts` (emptied, not dropped: SQLite cannot drop the UNIQUE `email`, and
/// rebuilding the table a dozen others reference is not worth it for two columns), and
/// `accounts.email` keeps the first holder's e-mail, read from `logins` only.
const LOGINS_17: &str = "
CREATE TABLE logins (
    email         TEXT    PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    holder        INTEGER NOT NULL CHECK (holder >= 0),
    password_hash TEXT    NOT NULL,
    UNIQUE (account_id, holder)
);
INSERT INTO logins (email, account_id, holder, password_hash)
    SELECT email, id, 0, password_hash FROM accounts;
UPDATE accounts SET password_hash = '';
ALTER TABLE sessions ADD COLUMN holder INTEGER NOT NULL DEFAULT 0 CHECK (holder >= 0);";

/// Added by schema version 18 (issue 27): a scheduled entry may be a whole Pix packet, its legs
/// kept as JSON (`packet`; NULL for one Pix). A packet's row keeps in the older columns its total
/// (`amount_cents`) and its first leg's key and receiver bank, with no receiver name, so that the
/// columns' constraints hold unchanged.
const SCHEDULED_PACKETS_18: &str = "
ALTER TABLE scheduled_pix ADD COLUMN packet TEXT;";

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
{PROOFS_9}
{SETTLEMENT_10}
{RETURNS_11}
{EVERYDAY_12}
{CHARGES_13}
{WINDOW_CUT_14}
{CONTACTS_15}
{MESSAGES_16}
{LOGINS_17}
{SCHEDULED_PACKETS_18}"
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
pub(super) fn upgrade_from(version: i64) -> Option<String> {
    let steps: [(i64, String); 17] = [
        (1, migrate_1()),
        (2, migrate_2()),
        (3, migrate_3()),
        (4, BOOKS_5.to_string()),
        (5, CONSENTS_6.to_string()),
        (6, DIRECTORY_7.to_string()),
        (7, PORT_PERMITS_8.to_string()),
        (8, PROOFS_9.to_string()),
        (9, SETTLEMENT_10.to_string()),
        (10, RETURNS_11.to_string()),
        (11, EVERYDAY_12.to_string()),
        (12, CHARGES_13.to_string()),
        (13, WINDOW_CUT_14.to_string()),
        (14, CONTACTS_15.to_string()),
        (15, MESSAGES_16.to_string()),
        (16, LOGINS_17.to_string()),
        (17, SCHEDULED_PACKETS_18.to_string()),
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
