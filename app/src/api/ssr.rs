//! Server-only helpers of the server functions: the engine and the consortium from context,
//! typed input read from a form, and engine errors turned into an [`AppError`] in the client's
//! words. The session's helpers ([`super::session`]) are re-exported here, so that one import
//! brings them all.

use crate::error::AppError;
use crate::i18n::td_string;
use crate::text::Say;
use domain::packet::PacketError;
use engine::charges::ChargeError;
use engine::consent::ConsentError;
use engine::consortium::Consortium;
use engine::{ConsortiumError, EngineError, EngineHandle, LedgerError};
use leptos::prelude::*;
use std::sync::Arc;

pub use super::session::{
    account_key, address_key, budgets, clear_session_cookie, client_address, current_account,
    current_account_quietly, current_login, current_login_quietly, end_operator_session, locale,
    login_guards, now_ms, operator_on, session_token, start_operator_session, start_session,
    Lockout, SiteSecurity, LOCALE_COOKIE,
};

pub fn engine() -> Result<EngineHandle, AppError> {
    use_context::<EngineHandle>().ok_or_else(|| {
        tracing::error!("engine handle missing from context");
        AppError::Unexpected
    })
}

/// The consortium, when this bank is part of one.
pub fn consortium() -> Option<Arc<dyn Consortium>> {
    use_context::<Arc<dyn Consortium>>()
}

/// The operators' console's port, when this bank is part of a consortium.
pub fn operator_desk() -> Result<Arc<dyn engine::operator::OperatorPort>, AppError> {
    use_context::<Arc<dyn engine::operator::OperatorPort>>()
        .ok_or_else(|| AppError::Unavailable(td_string!(locale(), err.no_consortium).to_string()))
}

pub fn require_consortium() -> Result<Arc<dyn Consortium>, AppError> {
    consortium()
        .ok_or_else(|| AppError::Unavailable(td_string!(locale(), err.no_consortium).to_string()))
}

/// A field's error, in the client's words.
pub fn field(name: &str, e: impl Say) -> AppError {
    AppError::field(name, e.say(locale()))
}

/// Locked out for `ms` more milliseconds, in words.
pub fn too_many_attempts(ms: i64) -> AppError {
    let minutes = (ms + 59_999) / 60_000;
    AppError::TooManyAttempts(
        td_string!(locale(), err.too_many_attempts, count = minutes).to_string(),
    )
}

/// Which budget a request found spent.
#[derive(Clone, Copy, Debug)]
pub enum Spent {
    Lookups,
    Codes,
    CodesLocked,
    Signups,
}

/// A spent budget, refilled in `ms` more milliseconds, in words (429).
pub fn spent(which: Spent, ms: i64) -> AppError {
    let minutes = (ms + 59_999) / 60_000;
    let l = locale();
    AppError::TooManyAttempts(
        match which {
            Spent::Lookups => td_string!(l, err.lookups_spent, minutes = minutes),
            Spent::Codes => td_string!(l, err.codes_spent, minutes = minutes),
            Spent::CodesLocked => td_string!(l, err.codes_locked, minutes = minutes),
            Spent::Signups => td_string!(l, err.signups_spent, minutes = minutes),
        }
        .to_string(),
    )
}

/// `next` when it is a path of this site: starts with one `/` (not `//`, another host), and
/// holds only printable ASCII without backslashes (which browsers read as `/`).
pub fn local_path(next: Option<&str>) -> Option<&str> {
    next.filter(|p| {
        p.starts_with('/')
            && !p.starts_with("//")
            && p.len() <= 2_048
            && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    })
}

/// A bank id typed in a form; empty means this bank.
pub fn bank_id(
    text: Option<&str>,
    field: &str,
    engine: &EngineHandle,
) -> Result<domain::BankId, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(engine.bank().id),
        Some(t) => t
            .parse::<u16>()
            .ok()
            .and_then(|n| domain::BankId::try_from(n).ok())
            .ok_or_else(|| AppError::field(field, td_string!(locale(), err.choose_bank))),
    }
}

/// A Pix key typed in a form.
pub fn pix_key(text: &str, field: &str) -> Result<domain::PixKey, AppError> {
    domain::PixKey::parse(text).map_err(|e| self::field(field, e))
}

/// The payer's message on a Pix, from a form (left out or blank: none).
pub fn pix_message(text: Option<&str>, field: &str) -> Result<domain::PixMessage, AppError> {
    domain::PixMessage::parse(text.unwrap_or_default()).map_err(|e| self::field(field, e))
}

/// A transaction id from a form; empty: a new one. A client's own id must be an end-to-end id
/// of this bank stamped today in Brasília time ([`domain::TxId::check_client_given`]).
pub fn tx_id(text: &str, engine: &EngineHandle) -> Result<domain::TxId, AppError> {
    if text.is_empty() {
        return Ok(engine.new_tx_id());
    }
    let bad = |message: String| AppError::BadInput {
        field: None,
        message,
    };
    let id = domain::TxId::parse(text).map_err(|e| bad(e.say(locale())))?;
    let bank = engine.bank().id;
    id.check_client_given(bank, engine.now_ms())
        .map_err(|e| match e {
            domain::ForeignTxId::OtherBank => {
                let code = format!("{:08}", bank.get());
                bad(td_string!(locale(), err.tx_other_bank, code = code).to_string())
            }
            domain::ForeignTxId::NotToday => {
                bad(td_string!(locale(), err.tx_not_today).to_string())
            }
        })?;
    Ok(id)
}

/// An engine error as the client hears it: its HTTP kind, in the client's words.
pub fn from_engine(e: EngineError) -> AppError {
    let msg = e.say(locale());
    match e {
        EngineError::Ledger(l) => match l {
            LedgerError::UnknownAccount | LedgerError::UnknownTx => AppError::NotFound(msg),
            LedgerError::DuplicateTaxId => AppError::field("tax_id1", msg),
            LedgerError::DuplicateEmail => AppError::field("email", msg),
            LedgerError::InvalidLogins => AppError::field("email2", msg),
            LedgerError::TxIdConflict => AppError::Conflict(msg),
            LedgerError::InsufficientFunds
            | LedgerError::SelfTransfer
            | LedgerError::BalanceLimit => AppError::Refused(msg),
            LedgerError::InvalidAmount => AppError::field("amount", msg),
        },
        EngineError::Packet(p) => AppError::BadInput {
            field: packet_field(p),
            message: msg,
        },
        EngineError::Consortium(ConsortiumError::NoSuchBank(_)) => AppError::BadInput {
            field: None,
            message: msg,
        },
        EngineError::Busy
        | EngineError::Stopped
        | EngineError::NotStored
        | EngineError::Consortium(_) => AppError::Unavailable(msg),
        EngineError::Consent(c) => match c {
            ConsentError::BadCode | ConsentError::BadState => AppError::BadInput {
                field: None,
                message: msg,
            },
            ConsentError::Unknown => AppError::NotFound(msg),
            ConsentError::Busy => AppError::Unavailable(msg),
            ConsentError::TooMany => AppError::Refused(msg),
        },
        EngineError::KeyCode(_) => AppError::field("code", msg),
        EngineError::Key(_) => AppError::field("key", msg),
        EngineError::Refused(_) => AppError::Refused(msg),
        EngineError::Limits(_) => AppError::BadInput {
            field: None,
            message: msg,
        },
        EngineError::Charge(c) => match c {
            ChargeError::Unknown => AppError::NotFound(msg),
            ChargeError::IdInUse => AppError::Conflict(msg),
            ChargeError::TooMany | ChargeError::NotOpen(_) => AppError::Refused(msg),
        },
        EngineError::Unexpected => AppError::Unexpected,
    }
}

/// The form field a packet error is about (`legs.<n>.<field>`).
pub fn packet_field(e: PacketError) -> Option<String> {
    match e {
        PacketError::LegCount => None,
        PacketError::UnknownBank { leg, .. } => Some(format!("legs.{leg}.receiver_bank")),
        PacketError::InvalidAmount { leg } => Some(format!("legs.{leg}.amount")),
    }
}

/// Who `key` pays, from this bank's copy of the directory (404 when nobody).
pub async fn resolve_key(
    engine: &EngineHandle,
    key: domain::PixKey,
) -> Result<domain::dto::ReceiverPreview, AppError> {
    match consortium() {
        Some(c) => c.lookup(key).await.map_err(from_engine),
        None => {
            let entry = engine.lookup_key(key).await.map_err(from_engine)?;
            Ok(domain::dto::ReceiverPreview {
                name: entry.name,
                key_masked: entry.document,
                bank: engine.bank().clone(),
            })
        }
    }
}

/// Runs CPU-heavy password work on the engine's bounded password threads (see
/// [`engine::auth::PasswordWorkers`]).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    engine::auth::PasswordWorkers::shared()
        .run(f)
        .await
        .map_err(from_engine)
}
