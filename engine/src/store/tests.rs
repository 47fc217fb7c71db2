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
        ana.logins
            .iter()
            .map(|l| (l.holder, l.email.as_str(), l.password_hash.as_stored()))
            .collect::<Vec<_>>(),
        vec![(0, "ana@example.com", "hash")],
        "the account's login is its first holder's"
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
                   ALTER TABLE positions DROP COLUMN windows_cents;
                   DROP TABLE settlement_windows;
                   DROP TABLE pix_limits;
                   DROP TABLE scheduled_pix;
                   DROP INDEX entries_returning;
                   ALTER TABLE entries DROP COLUMN returned_for;
                   ALTER TABLE entries DROP COLUMN deposit_method;
                   ALTER TABLE entries DROP COLUMN message;
                   DROP TABLE charges;
                   DROP TABLE window_nets;
                   DROP TABLE settlement_cut;
                   DROP TABLE pix_contacts;
                   DROP TABLE logins;
                   ALTER TABLE sessions DROP COLUMN holder;
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

/// Schema version 16: a version 15 database (no messages) is upgraded in place; its entries keep
/// no message, and a message written after the upgrade is read back.
#[test]
fn a_version_15_database_gains_messages_on_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.sqlite3");
    let tx = "E00000002202611262359abcdefghijk";
    {
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch(&format!(
                "ALTER TABLE entries DROP COLUMN message;
                 ALTER TABLE scheduled_pix DROP COLUMN message;
                 ALTER TABLE scheduled_pix DROP COLUMN packet;
                 DROP TABLE logins;
                 ALTER TABLE sessions DROP COLUMN holder;
                 INSERT INTO accounts VALUES (1, 'individual', 'ana@example.com', '11987654321', 'hash', 700, 0, 0, 5);
                 INSERT INTO holders VALUES ('52998224725', 1, 0, 'Ana Lima');
                 INSERT INTO entries (tx_id, leg, account_id, kind, amount_cents, status, created_ms, updated_ms)
                     VALUES ('{tx}', 0, 1, 'deposit', 700, 'committed', 6, 6);
                 PRAGMA user_version = 15;"
            ))
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let old = store.recent_entries(AccountId(1), 10).unwrap();
    assert_eq!(old.len(), 1);
    assert!(old[0].message.is_empty(), "an older entry has no message");
    store
        .conn
        .execute(
            "UPDATE entries SET message = 'Aluguel de março' WHERE tx_id = ?1",
            [tx],
        )
        .unwrap();
    let entries = store.entries_of_tx(&TxId::parse(tx).unwrap()).unwrap();
    assert_eq!(entries[0].message.as_str(), "Aluguel de março");
    assert_eq!(entries[0].account, AccountId(1));
    // A message the engine would never write (say, edited by hand) is an error, not shown.
    store
        .conn
        .execute("UPDATE entries SET message = 'a\nb' WHERE tx_id = ?1", [tx])
        .unwrap();
    assert!(store.recent_entries(AccountId(1), 10).is_err());
}

/// Schema version 17 (after 16's messages) moves each account's e-mail and password hash into `logins`, as its first
/// holder's login (a joint account's second holder has none until given one), takes the hash out
/// of `accounts`, and keeps each session as its first holder's.
#[test]
fn an_accounts_login_moves_to_its_first_holder_at_version_17() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.sqlite3");
    {
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch(
                "DROP TABLE logins;
                 ALTER TABLE sessions DROP COLUMN holder;
                 ALTER TABLE entries DROP COLUMN message;
                 ALTER TABLE scheduled_pix DROP COLUMN message;
                 ALTER TABLE scheduled_pix DROP COLUMN packet;
                 INSERT INTO accounts VALUES (1, 'individual', 'ana@example.com', '11987654321', 'hash-ana', 0, 0, 0, 5);
                 INSERT INTO holders VALUES ('52998224725', 1, 0, 'Ana Lima');
                 INSERT INTO holders VALUES ('11144477735', 1, 1, 'Beto Reis');
                 INSERT INTO accounts VALUES (2, 'individual', 'dora@example.com', '11987654321', 'hash-dora', 0, 0, 0, 5);
                 INSERT INTO holders VALUES ('12345678909', 2, 0, 'Dora Dias');
                 INSERT INTO sessions VALUES (x'0101010101010101010101010101010101010101010101010101010101010101', 1, 9000000000000);
                 PRAGMA user_version = 15;",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let ledger = store.load_ledger().unwrap();
    let logins = |id: i64| {
        ledger
            .account(AccountId(id))
            .unwrap()
            .logins
            .iter()
            .map(|l| {
                (
                    l.holder,
                    l.email.clone(),
                    l.password_hash.as_stored().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        logins(1),
        vec![(0, "ana@example.com".into(), "hash-ana".into())],
        "the joint account's login is its first holder's; the second has none yet"
    );
    assert_eq!(
        logins(2),
        vec![(0, "dora@example.com".into(), "hash-dora".into())]
    );
    let (account, login) = ledger.by_email("ana@example.com").unwrap();
    assert_eq!((account.id, login.holder), (AccountId(1), 0));
    let left: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM accounts WHERE password_hash <> ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "no hash is kept twice");
    let sessions = store.load_sessions(0).unwrap();
    assert_eq!(
        sessions
            .iter()
            .map(|s| (s.account, s.holder))
            .collect::<Vec<_>>(),
        vec![(AccountId(1), 0)]
    );
    let dup = "INSERT INTO logins VALUES ('dora@example.com', 1, 1, 'x')";
    assert!(
        store.conn.execute(dup, []).is_err(),
        "an e-mail is one login"
    );
}

/// A scheduled Pix kept by schema version 15 (before packets could be scheduled) reads back as
/// the same Pix after the upgrade to 18, which gives the table its `packet` column.
#[test]
fn a_scheduled_pix_of_version_15_reads_back_after_the_upgrade_to_18() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.sqlite3");
    {
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch(
                "INSERT INTO accounts VALUES (1, 'individual', 'ana@example.com', '11987654321', 'hash', 700, 0, 0, 5);
                 ALTER TABLE scheduled_pix DROP COLUMN packet;
                 ALTER TABLE scheduled_pix DROP COLUMN message;
                 ALTER TABLE entries DROP COLUMN message;
                 DROP TABLE logins;
                 ALTER TABLE sessions DROP COLUMN holder;
                 INSERT INTO scheduled_pix (id, account_id, pix_key, amount_cents, day, receiver_name, receiver_bank, status, created_ms)
                     VALUES (3, 1, '11144477735', 2500, 20800, 'Beto Reis', 2, 'waiting', 6);
                 PRAGMA user_version = 15;",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let schedules = store.load_schedules().unwrap();
    let open = schedules.open_of(AccountId(1));
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].id, open[0].day), (3, 20800));
    assert_eq!(
        open[0].order,
        crate::schedule::Order::Pix {
            key: domain::PixKey::parse("111.444.777-35").unwrap(),
            amount: Cents::new(2_500),
            receiver_name: "Beto Reis".into(),
            receiver_bank: BankId::try_from(2).unwrap(),
        }
    );
    let packets: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM scheduled_pix WHERE packet IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(packets, 1, "the column is there, empty for a Pix");
}
