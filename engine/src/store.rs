//! Durable storage: one SQLite database per bank, WAL mode, `synchronous = FULL` so that a commit
//! is on disk before the engine acknowledges anything in it.
//!
//! The engine owns the only writing connection. It persists each batch's [`Change`]s in a single
//! transaction (group commit: one fsync for many operations). Reads of history use the same
//! connection on the engine thread, so they see exactly what has been acknowledged.

use crate::auth::{PasswordHash, TokenHash};
use crate::consent::{Consent, ConsentChange, Consents, Link};
use crate::directory::{DirChange, DirEntry, Directory, Reservation};
use crate::ledger::{Account, Books, Change, Entry, Ledger, Login, Position, PreparedPart, Side};
use crate::schedule::Scheduled;
use crate::twopc::proof::{Digest, Proof, SignedPlan};
use crate::twopc::InDoubt;
use crate::twopc::Unacked;
use domain::consent::{ConsentId, ConsentTerms, Grant};
use domain::dto::{AccountKind, Counterparty, DepositMethod, EntryKind, Holder, TxStatus};
use domain::pix_limits::{LimitSettings, PixLimits};
use domain::{AccountId, BankId, Cents, PixKey, PixMessage, TaxId, TxId};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::Path;

/// The store's file in a bank's data directory.
pub const DB_FILE_NAME: &str = "bank.sqlite3";

mod protocol;
mod rows;
mod schema;

use protocol::apply_protocol_change;
pub use protocol::{PartState, Participation, ProtocolChange, StoredDecision, EQUIVOCATIONS_MAX};
use rows::*;
use schema::{upgrade_from, SCHEMA_VERSION};

pub type StoreResult<T> = Result<T, rusqlite::Error>;

/// Everything one batch changed, persisted in one transaction.
pub struct Batch<'a> {
    pub ledger: &'a [Change],
    pub sessions: &'a [SessionChange],
    pub protocol: &'a [ProtocolChange],
    pub consents: &'a [ConsentChange],
    pub directory: &'a [DirChange],
    /// Settlement windows changed, each written whole.
    pub settlement: &'a [crate::settlement::Window],
    /// The last settlement window cut here, if it moved.
    pub settlement_cut: Option<u64>,
    /// Scheduled Pix added or changed, each written whole.
    pub schedules: &'a [Scheduled],
    /// Charges created, changed or forgotten.
    pub charges: &'a [crate::charges::ChargeChange],
    /// Accounts' receivers to pay again, each account's written whole.
    pub contacts: &'a [(AccountId, domain::contacts::Contacts)],
}

/// A session row as restored at start-up.
pub struct StoredSession {
    pub token: TokenHash,
    pub account: AccountId,
    /// Which of the account's holders logged in.
    pub holder: u8,
    pub expires_ms: i64,
}

/// Changes to sessions, persisted in the same transaction as the ledger's changes.
#[derive(Clone, Debug)]
pub enum SessionChange {
    Created {
        token: TokenHash,
        account: AccountId,
        holder: u8,
        expires_ms: i64,
    },
    Deleted {
        token: TokenHash,
    },
    ExpiredBefore {
        now_ms: i64,
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
        let mut logins = self.load_logins()?;
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, phone, available_cents, blocked_cents, incoming_cents, created_ms
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
                    logins: logins.remove(&id).unwrap_or_default(),
                    phone: r.get(2)?,
                    available: Cents::new(r.get(3)?),
                    blocked: Cents::new(r.get(4)?),
                    incoming: Cents::new(r.get(5)?),
                    created_ms: r.get(6)?,
                })
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT tx_id, account_id, kind, amount_cents, leg, peer, consent, created_ms, returned_for FROM entries WHERE status = 'pending' ORDER BY id")?;
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
                        returns: r
                            .get::<_, Option<String>>(8)?
                            .map(|t| parse_tx(&t))
                            .transpose()?,
                    },
                ))
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        let mut ledger = Ledger::restore(accounts, prepared, self.load_books()?);
        ledger.restore_returns(self.load_returns()?);
        ledger.restore_limits(self.load_limits()?);
        Ok(ledger)
    }

    /// Every login, per account, in holder order.
    fn load_logins(&self) -> StoreResult<std::collections::HashMap<i64, Vec<Login>>> {
        let mut stmt = self.conn.prepare(
            "SELECT account_id, holder, email, password_hash FROM logins ORDER BY account_id, holder",
        )?;
        let mut logins: std::collections::HashMap<i64, Vec<Login>> = Default::default();
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Login::new(r.get(1)?, r.get(2)?, PasswordHash::from_stored(r.get(3)?)),
            ))
        })?;
        for row in rows {
            let (account, login) = row?;
            logins.entry(account).or_default().push(login);
        }
        Ok(logins)
    }

    /// The Pix limits clients set.
    fn load_limits(&self) -> StoreResult<Vec<(AccountId, LimitSettings)>> {
        let mut stmt = self.conn.prepare(
            "SELECT account_id, day_cents, night_cents, raise_day_cents, raise_night_cents, raise_from_ms
             FROM pix_limits",
        )?;
        let rows = stmt.query_map([], |r| {
            let limits = |day: i64, night: i64| PixLimits {
                day: Cents::new(day),
                night: Cents::new(night),
            };
            let raise = match (
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ) {
                (Some(day), Some(night), Some(from)) => Some((limits(day, night), from)),
                _ => None,
            };
            Ok((
                AccountId(r.get(0)?),
                LimitSettings {
                    current: limits(r.get(1)?, r.get(2)?),
                    raise,
                },
            ))
        })?;
        rows.collect()
    }

    /// What `account`'s Pix debits (pending or committed; devoluções aside) add up to since
    /// `since_ms`.
    pub fn pix_debits_since(&self, account: AccountId, since_ms: i64) -> StoreResult<Cents> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(SUM(amount_cents), 0) FROM entries
             WHERE account_id = ?1 AND kind = 'pix_out' AND status <> 'aborted'
               AND returned_for IS NULL AND created_ms >= ?2",
        )?;
        stmt.query_row(params![account.0, since_ms], |r| Ok(Cents::new(r.get(0)?)))
    }

    /// What has been returned of each Pix, per account, pending or committed.
    fn load_returns(&self) -> StoreResult<Vec<((TxId, AccountId), Cents)>> {
        let mut stmt = self.conn.prepare(
            "SELECT returned_for, account_id, SUM(amount_cents) FROM entries
             WHERE returned_for IS NOT NULL AND status <> 'aborted'
             GROUP BY returned_for, account_id",
        )?;
        let rows = stmt.query_map([], |r| {
            let original: String = r.get(0)?;
            Ok((
                (parse_tx(&original)?, AccountId(r.get(1)?)),
                Cents::new(r.get(2)?),
            ))
        })?;
        rows.collect()
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

    /// The newest settlement windows, as closed here (see `crate::settlement`).
    pub fn load_windows(&self) -> StoreResult<crate::settlement::Windows> {
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM settlement_windows ORDER BY window DESC LIMIT ?1")?;
        let kept = i64::try_from(crate::settlement::WINDOWS_KEPT).unwrap_or(i64::MAX);
        let mut windows = Vec::new();
        for body in stmt.query_map([kept], |r| r.get::<_, String>(0))? {
            let body = body?;
            let window = serde_json::from_str(&body).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
            })?;
            windows.push(window);
        }
        let cut: Option<i64> = self
            .conn
            .query_row("SELECT cut FROM settlement_cut WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let cut = cut.and_then(|c| u64::try_from(c).ok()).unwrap_or(0);
        Ok(crate::settlement::Windows::restore(windows, cut))
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
            .prepare("SELECT peer, settled_cents, pending_cents, windows_cents FROM positions")?;
        for row in stmt.query_map([], |r| {
            Ok((
                parse_bank(r.get(0)?)?,
                Position {
                    settled: r.get(1)?,
                    pending: r.get(2)?,
                    by_windows: r.get(3)?,
                },
            ))
        })? {
            let (peer, position) = row?;
            books.positions.insert(peer, position);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT window, peer, net_cents FROM window_nets")?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                parse_bank(r.get(1)?)?,
                r.get::<_, i64>(2)?,
            ))
        })? {
            let (window, peer, net) = row?;
            let window = u64::try_from(window).unwrap_or(0);
            books.window_nets.insert((window, peer), net);
        }
        Ok(books)
    }

    pub fn load_sessions(&self, now_ms: i64) -> StoreResult<Vec<StoredSession>> {
        let mut stmt = self.conn.prepare(
            "SELECT token_sha256, account_id, expires_ms, holder FROM sessions WHERE expires_ms > ?1",
        )?;
        let rows = stmt.query_map([now_ms], |r| {
            let bytes: Vec<u8> = r.get(0)?;
            let token: [u8; 32] = bytes.try_into().map_err(|_| {
                rusqlite::Error::InvalidColumnType(0, "token".into(), rusqlite::types::Type::Blob)
            })?;
            Ok(StoredSession {
                token: TokenHash(token),
                account: AccountId(r.get(1)?),
                holder: r.get(3)?,
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
        if let Some(cut) = batch.settlement_cut {
            tx.prepare_cached(
                "INSERT INTO settlement_cut (id, cut) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET cut = excluded.cut",
            )?
            .execute(params![window_number(cut)?])?;
        }
        for window in batch.settlement {
            let body = serde_json::to_string(window).expect("a window serialises");
            tx.prepare_cached(
                "INSERT INTO settlement_windows (window, body) VALUES (?1, ?2)
                 ON CONFLICT (window) DO UPDATE SET body = excluded.body",
            )?
            .execute(params![window_number(window.number())?, body])?;
        }
        for scheduled in batch.schedules {
            apply_schedule(&tx, scheduled)?;
        }
        for change in batch.charges {
            use crate::charges::ChargeChange;
            match change {
                ChargeChange::Put(charge) => {
                    let body = serde_json::to_string(charge).expect("a charge serialises");
                    tx.prepare_cached(
                        "INSERT INTO charges (id, account_id, body) VALUES (?1, ?2, ?3)
                         ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                    )?
                    .execute(params![
                        charge.id.as_str(),
                        charge.account.0,
                        body
                    ])?;
                }
                ChargeChange::Forget(id) => {
                    tx.prepare_cached("DELETE FROM charges WHERE id = ?1")?
                        .execute([id.as_str()])?;
                }
            }
        }
        for (account, book) in batch.contacts {
            let body = serde_json::to_string(book).expect("receivers serialise");
            tx.prepare_cached(
                "INSERT INTO pix_contacts (account_id, body) VALUES (?1, ?2)
                 ON CONFLICT (account_id) DO UPDATE SET body = excluded.body",
            )?
            .execute(params![account.0, body])?;
        }
        tx.commit()
    }

    /// Every account's receivers to pay again (see [`crate::contacts`]).
    pub fn load_contacts(&self) -> StoreResult<crate::contacts::AddressBook> {
        let mut stmt = self
            .conn
            .prepare("SELECT account_id, body FROM pix_contacts")?;
        let books = stmt
            .query_map([], |r| {
                let body: String = r.get(1)?;
                let book = serde_json::from_str(&body).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                Ok((AccountId(r.get(0)?), book))
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(crate::contacts::AddressBook::restore(books))
    }

    /// Scheduled Pix still open (waiting or running), and the highest id ever given.
    pub fn load_schedules(&self) -> StoreResult<crate::schedule::Schedules> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM scheduled_pix WHERE status = 'waiting' OR status = 'running'"
        ))?;
        let open = stmt
            .query_map([], row_to_scheduled)?
            .collect::<StoreResult<Vec<_>>>()?;
        let last: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM scheduled_pix", [], |r| {
                    r.get(0)
                })?;
        Ok(crate::schedule::Schedules::restore(
            open,
            u64::try_from(last).unwrap_or(0),
        ))
    }

    /// `account`'s newest `limit` scheduled Pix that ended (done, failed, cancelled).
    pub fn ended_schedules(&self, account: AccountId, limit: u32) -> StoreResult<Vec<Scheduled>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM scheduled_pix
             WHERE account_id = ?1 AND status <> 'waiting' AND status <> 'running'
             ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![account.0, limit], row_to_scheduled)?;
        rows.collect()
    }

    /// Every charge kept here (see [`crate::charges`]).
    pub fn load_charges(&self) -> StoreResult<crate::charges::Charges> {
        let mut stmt = self.conn.prepare("SELECT body FROM charges")?;
        let charges = stmt
            .query_map([], |r| {
                let body: String = r.get(0)?;
                serde_json::from_str(&body).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })
            })?
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(crate::charges::Charges::restore(charges))
    }

    /// The newest `limit` entries of an account's statement. A credit shows only once it
    /// arrived: a pending one may still be aborted, and an aborted one never was money for this
    /// account (issue 27: a receiver never sees a transfer that did not arrive).
    pub fn recent_entries(&self, account: AccountId, limit: u32) -> StoreResult<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tx_id, kind, amount_cents, status, counterparty_name, counterparty_key, counterparty_bank, created_ms, leg, peer, returned_for, deposit_method, message
             FROM entries WHERE account_id = ?1 AND (kind <> 'pix_in' OR status = 'committed')
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![account.0, limit], |r| row_to_entry(r, account))?;
        rows.collect()
    }

    /// Entries of a transaction at this bank, to answer a retried request with its first outcome.
    pub fn entries_of_tx(&self, tx_id: &TxId) -> StoreResult<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tx_id, kind, amount_cents, status, counterparty_name, counterparty_key, counterparty_bank, created_ms, leg, peer, returned_for, deposit_method, message, account_id
             FROM entries WHERE tx_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([tx_id.as_str()], |r| row_to_entry(r, AccountId(r.get(13)?)))?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests;

/// A window's number as SQLite stores it (an i64).
fn window_number(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}
