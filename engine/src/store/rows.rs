//! How the store reads rows into the engine's types and writes a batch's changes back.

use super::*;

/// Where a statement query puts `message` (after the columns every entry query reads).
pub(super) const MESSAGE_COLUMN: usize = 12;

pub(super) fn row_to_entry(r: &rusqlite::Row<'_>, account: AccountId) -> rusqlite::Result<Entry> {
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
        returned_for: r
            .get::<_, Option<String>>(10)?
            .map(|t| parse_tx(&t))
            .transpose()?,
        method: r
            .get::<_, Option<String>>(11)?
            .map(|m| DepositMethod::parse(&m).ok_or_else(|| bad_column(11, "deposit_method")))
            .transpose()?,
        message: r
            .get::<_, Option<String>>(MESSAGE_COLUMN)?
            .map(|m| PixMessage::try_from(m).map_err(|_| bad_column(MESSAGE_COLUMN, "message")))
            .transpose()?
            .unwrap_or_default(),
    })
}

pub(super) fn apply_change(tx: &Transaction<'_>, change: &Change, now_ms: i64) -> StoreResult<()> {
    match change {
        Change::AccountCreated(a) => {
            let kind = match a.kind {
                AccountKind::Individual => "individual",
                AccountKind::Company => "company",
            };
            // The hashes live in `logins` only; `accounts.password_hash` stays empty (schema 17).
            tx.prepare_cached(
                "INSERT INTO accounts (id, kind, email, phone, password_hash, available_cents, blocked_cents, incoming_cents, created_ms)
                 VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                a.id.0,
                kind,
                a.email(),
                a.phone,
                a.available.get(),
                a.blocked.get(),
                a.incoming.get(),
                a.created_ms
            ])?;
            for (position, h) in a.holders.iter().enumerate() {
                tx.prepare_cached("INSERT INTO holders (tax_id, account_id, position, name) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![h.tax_id.digits(), a.id.0, position as i64, h.name])?;
            }
            for login in &a.logins {
                tx.prepare_cached("INSERT INTO logins (email, account_id, holder, password_hash) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![login.email, a.id.0, login.holder, login.password_hash.as_stored()])?;
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
                                      counterparty_bank, created_ms, updated_ms, leg, peer, consent, returned_for, deposit_method, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
                e.consent.as_ref().map(ConsentId::as_str),
                e.returned_for.as_ref().map(TxId::as_str),
                e.method.map(DepositMethod::as_str),
                e.message.shown()
            ])?;
        }
        Change::Deposits(cents) => {
            tx.prepare_cached("INSERT INTO books (name, cents) VALUES ('deposits', ?1) ON CONFLICT (name) DO UPDATE SET cents = excluded.cents")?
                .execute(params![cents])?;
        }
        Change::Position { peer, position } => {
            tx.prepare_cached(
                "INSERT INTO positions (peer, settled_cents, pending_cents, windows_cents) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (peer) DO UPDATE SET settled_cents = excluded.settled_cents, pending_cents = excluded.pending_cents,
                 windows_cents = excluded.windows_cents",
            )?
            .execute(params![
                u16::from(*peer),
                position.settled,
                position.pending,
                position.by_windows
            ])?;
        }
        Change::WindowNet { window, peer, net } => {
            tx.prepare_cached(
                "INSERT INTO window_nets (window, peer, net_cents) VALUES (?1, ?2, ?3)
                 ON CONFLICT (window, peer) DO UPDATE SET net_cents = excluded.net_cents",
            )?
            .execute(params![window_number(*window)?, u16::from(*peer), net])?;
        }
        Change::WindowReported(window) => {
            tx.prepare_cached("DELETE FROM window_nets WHERE window = ?1")?
                .execute(params![window_number(*window)?])?;
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
        Change::PixLimits { account, settings } => {
            let raise = settings.raise;
            tx.prepare_cached(
                "INSERT INTO pix_limits (account_id, day_cents, night_cents, raise_day_cents, raise_night_cents, raise_from_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (account_id) DO UPDATE SET day_cents = excluded.day_cents, night_cents = excluded.night_cents,
                 raise_day_cents = excluded.raise_day_cents, raise_night_cents = excluded.raise_night_cents,
                 raise_from_ms = excluded.raise_from_ms",
            )?
            .execute(params![
                account.0,
                settings.current.day.get(),
                settings.current.night.get(),
                raise.map(|(l, _)| l.day.get()),
                raise.map(|(l, _)| l.night.get()),
                raise.map(|(_, from)| from)
            ])?;
        }
    }
    Ok(())
}

pub(super) fn apply_session_change(
    tx: &Transaction<'_>,
    change: &SessionChange,
) -> StoreResult<()> {
    match change {
        SessionChange::Created {
            token,
            account,
            holder,
            expires_ms,
        } => {
            tx.prepare_cached(
                "INSERT INTO sessions (token_sha256, account_id, holder, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![&token.0[..], account.0, holder, expires_ms])?;
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

pub(super) fn apply_consent_change(
    tx: &Transaction<'_>,
    change: &ConsentChange,
) -> StoreResult<()> {
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

pub(super) fn apply_directory_change(tx: &Transaction<'_>, change: &DirChange) -> StoreResult<()> {
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

pub(super) fn parse_key(text: &str) -> rusqlite::Result<PixKey> {
    PixKey::parse(text).map_err(|_| bad_column(0, "key"))
}

pub(super) fn parse_consent(text: &str) -> rusqlite::Result<ConsentId> {
    ConsentId::parse(text).map_err(|_| bad_column(0, "consent"))
}

pub(super) fn banks_text(banks: &[BankId]) -> String {
    banks
        .iter()
        .map(|b| u16::from(*b).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn parse_banks(text: &str) -> rusqlite::Result<Vec<BankId>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_bank(s.parse().map_err(|_| bad_column(0, "bank"))?))
        .collect()
}

pub(super) fn parse_bank(n: u16) -> rusqlite::Result<BankId> {
    BankId::try_from(n).map_err(|_| bad_column(0, "bank"))
}

pub(super) fn bad_column(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(i, what.into(), rusqlite::types::Type::Text)
}

pub(super) fn parse_tax(text: &str) -> rusqlite::Result<TaxId> {
    TaxId::parse(text).map_err(|_| bad_column(0, "tax_id"))
}

pub(super) fn parse_tx(text: &str) -> rusqlite::Result<TxId> {
    TxId::parse(text).map_err(|_| bad_column(0, "tx_id"))
}

/// The columns [`row_to_scheduled`] reads, in order.
pub(super) const SCHEDULE_COLUMNS: &str =
    "id, account_id, pix_key, amount_cents, day, receiver_name, receiver_bank, status, tx_id, failure, created_ms, message, packet";

pub(super) fn row_to_scheduled(r: &rusqlite::Row<'_>) -> rusqlite::Result<Scheduled> {
    use crate::schedule::{Order, PacketOrder};
    use domain::schedule::{ScheduleFailure, ScheduleStatus};
    let key: String = r.get(2)?;
    let status: String = r.get(7)?;
    let failure: Option<String> = r.get(9)?;
    let packet: Option<String> = r.get(12)?;
    let status = match status.as_str() {
        "waiting" => ScheduleStatus::Waiting,
        "running" => ScheduleStatus::Running,
        "done" => ScheduleStatus::Done,
        "cancelled" => ScheduleStatus::Cancelled,
        "failed" => ScheduleStatus::Failed {
            why: failure
                .and_then(|f| serde_json::from_str::<ScheduleFailure>(&f).ok())
                .ok_or_else(|| bad_column(9, "failure"))?,
        },
        _ => return Err(bad_column(7, "status")),
    };
    let order = match packet {
        Some(legs) => Order::Packet(
            serde_json::from_str(&legs)
                .ok()
                .and_then(PacketOrder::restore)
                .ok_or_else(|| bad_column(12, "packet"))?,
        ),
        None => Order::Pix {
            key: PixKey::parse(&key).map_err(|_| bad_column(2, "pix_key"))?,
            amount: Cents::new(r.get(3)?),
            receiver_name: r.get(5)?,
            receiver_bank: parse_bank(r.get(6)?)?,
        },
    };
    Ok(Scheduled {
        id: u64::try_from(r.get::<_, i64>(0)?).map_err(|_| bad_column(0, "id"))?,
        account: AccountId(r.get(1)?),
        order,
        day: r.get(4)?,
        status,
        tx: r
            .get::<_, Option<String>>(8)?
            .map(|t| parse_tx(&t))
            .transpose()?,
        created_ms: r.get(10)?,
        message: r
            .get::<_, Option<String>>(11)?
            .map(|m| PixMessage::try_from(m).map_err(|_| bad_column(11, "message")))
            .transpose()?
            .unwrap_or_default(),
    })
}

pub(super) fn apply_schedule(tx: &Transaction<'_>, s: &Scheduled) -> StoreResult<()> {
    use crate::schedule::Order;
    use domain::schedule::ScheduleStatus;
    let (status, failure) = match s.status {
        ScheduleStatus::Waiting => ("waiting", None),
        ScheduleStatus::Running => ("running", None),
        ScheduleStatus::Done => ("done", None),
        ScheduleStatus::Cancelled => ("cancelled", None),
        ScheduleStatus::Failed { why } => (
            "failed",
            Some(serde_json::to_string(&why).expect("a failure serialises")),
        ),
    };
    // A packet fills the older columns with its first leg and its total (see the schema).
    let (key, receiver_name, receiver_bank, packet) = match &s.order {
        Order::Pix {
            key,
            receiver_name,
            receiver_bank,
            ..
        } => (key, receiver_name.as_str(), *receiver_bank, None),
        Order::Packet(p) => {
            let first = p.legs().first().expect("a packet order has a leg");
            let legs = serde_json::to_string(p.legs()).expect("legs serialise");
            (&first.receiver_key, "", first.receiver_bank, Some(legs))
        }
    };
    tx.prepare_cached(
        "INSERT INTO scheduled_pix (id, account_id, pix_key, amount_cents, day, receiver_name, receiver_bank, status, tx_id, failure, created_ms, message, packet)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, tx_id = excluded.tx_id, failure = excluded.failure",
    )?
    .execute(params![
        i64::try_from(s.id).unwrap_or(i64::MAX),
        s.account.0,
        key.canonical(),
        s.order.amount().get(),
        s.day,
        receiver_name,
        u16::from(receiver_bank),
        status,
        s.tx.as_ref().map(TxId::as_str),
        failure,
        s.created_ms,
        s.message.shown(),
        packet
    ])?;
    Ok(())
}
