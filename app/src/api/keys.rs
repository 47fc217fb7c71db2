//! The client's Pix keys: list, register (a CPF/CNPJ of a holder, an e-mail or phone once its
//! code is confirmed, or a random key) and delete. A key belongs to one account in the whole
//! consortium: registering or deleting one runs at every bank (see `engine::directory`).

use crate::error::AppError;
use domain::KeyKind;
use serde::{Deserialize, Serialize};

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{api::ssr::locale, i18n::td_string};

/// One of the client's keys, as the keys page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    /// The key as its owner sees it (`+55 11 98765-4321`), and in canonical form (what a delete
    /// sends back).
    pub shown: String,
    pub canonical: String,
    pub kind: KeyKind,
    pub since_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysPage {
    pub keys: Vec<KeyView>,
    /// How many keys this account may have ([`domain::pix_key::KEYS_PER_PERSON`] for a person,
    /// [`domain::pix_key::KEYS_PER_COMPANY`] for a company).
    pub limit: usize,
    /// The holders' documents (formatted), the CPF/CNPJ keys this account may register.
    pub documents: Vec<String>,
    /// The other banks of the consortium, where a key of this account may be allowed to move.
    pub banks: Vec<domain::dto::BankInfo>,
}

/// The `kind` a key request names for a holder's document, CPF or CNPJ, whichever it is (the
/// other kinds go by [`KeyKind::as_str`]).
pub const DOCUMENT: &str = "document";

/// What a key request led to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRequest {
    /// Registered now (a document or a random key).
    Registered { shown: String },
    /// A code was sent to the address or number; confirming it registers the key.
    CodeSent {
        canonical: String,
        shown: String,
        /// Whether the client asked to bring the key from another bank (carried to the
        /// confirmation).
        port: bool,
    },
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::api::ssr::*;
    use crate::error::AppError;
    #[allow(unused_imports)]
    use crate::i18n::td_string;
    use domain::AccountId;
    use engine::directory::{KeyClaim, KeyOp};
    use engine::EngineHandle;

    /// Runs `op` for `account`: at every bank of the consortium, or at this bank alone.
    pub async fn run_key_op(
        engine: &EngineHandle,
        account: AccountId,
        op: KeyOp,
    ) -> Result<(), AppError> {
        let tx = engine.new_tx_id();
        let refused = match consortium() {
            Some(c) => {
                let outcome = c
                    .submit_key_op(account, tx, op)
                    .await
                    .map_err(from_engine)?;
                if outcome.status == domain::dto::TxStatus::Committed {
                    return Ok(());
                }
                let reason = outcome
                    .failure()
                    .map(|(_, r)| r)
                    .unwrap_or(domain::Refusal::Expired);
                (reason, c.banks())
            }
            None => match engine.key_op_alone(tx, op).await.map_err(from_engine)? {
                Ok(()) => return Ok(()),
                Err(reason) => (reason, vec![engine.bank().clone()]),
            },
        };
        Err(AppError::Refused(crate::text::refusal(
            locale(),
            refused.0,
            &refused.1,
        )))
    }

    /// Registers `key` for `account`, checked as its bank checks a claim; with `port`, a key
    /// of the same person's at another bank is moved here (portability).
    pub async fn register(
        engine: &EngineHandle,
        account: AccountId,
        key: domain::PixKey,
        port: bool,
    ) -> Result<(), AppError> {
        let op = match engine
            .key_claim(account, key, port)
            .await
            .map_err(from_engine)?
        {
            KeyClaim::Op(op) => op,
            // A move needs the owning bank's signed permit, which every bank checks.
            KeyClaim::Port { owner, request } => {
                let c = require_consortium()?;
                match c.port_permit(owner, request).await.map_err(from_engine)? {
                    Ok(permit) => KeyOp::Port { permit },
                    Err(reason) => {
                        return Err(AppError::Refused(crate::text::refusal(
                            locale(),
                            reason,
                            &c.banks(),
                        )))
                    }
                }
            }
        };
        run_key_op(engine, account, op).await
    }
}

/// The client's keys.
#[server(endpoint = "get_keys")]
pub async fn get_keys() -> Result<KeysPage, AppError> {
    use crate::api::ssr::{current_account, engine, from_engine};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let view = engine.account(account).await.map_err(from_engine)?;
    let keys = engine
        .keys_of(account)
        .await
        .map_err(from_engine)?
        .into_iter()
        .map(|e| KeyView {
            shown: e.key.to_string(),
            canonical: e.key.canonical(),
            kind: e.key.kind(),
            since_ms: e.since_ms,
        })
        .collect();
    let limit = match view.kind {
        domain::dto::AccountKind::Individual => engine::engine::KEYS_PER_PERSON,
        domain::dto::AccountKind::Company => engine::engine::KEYS_PER_COMPANY,
    };
    let me = engine.bank().id;
    let banks = crate::api::ssr::require_consortium()
        .map(|c| c.banks().into_iter().filter(|b| b.id != me).collect())
        .unwrap_or_default();
    Ok(KeysPage {
        keys,
        limit,
        documents: view.holders.iter().map(|h| h.tax_id.to_string()).collect(),
        banks,
    })
}

/// Asks for a key of `kind`: `document` (`value`: a holder's CPF or CNPJ) and `evp` (no value)
/// are registered now; `email`/`phone` get a code sent to them first. `port` ("on"): the key may
/// be the client's at another bank, and is then moved here once its bank confirms.
#[server(endpoint = "request_key")]
pub async fn request_key(
    kind: String,
    value: Option<String>,
    port: Option<String>,
) -> Result<KeyRequest, AppError> {
    use crate::api::ssr::{current_account, engine, from_engine, now_ms, pix_key};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let value = value.unwrap_or_default();
    let port = port.is_some_and(|p| p == "on" || p == "true");
    // "document": a holder's CPF or CNPJ, whichever it is.
    let kind = match kind.as_str() {
        DOCUMENT => pix_key(&value, "value")?.kind(),
        other => KeyKind::parse(other)
            .ok_or_else(|| AppError::field("kind", td_string!(locale(), err.choose_key_kind)))?,
    };
    let key = match kind {
        KeyKind::Evp => engine::directory::random_evp(),
        // Said to be a phone: read as one, however it is typed (eleven digits that would also
        // make a CPF included).
        KeyKind::Phone => {
            domain::PixKey::parse_phone(&value).map_err(|e| crate::api::ssr::field("value", e))?
        }
        _ => {
            let key = pix_key(&value, "value")?;
            if key.kind() != kind {
                return Err(AppError::field(
                    "value",
                    td_string!(locale(), err.wrong_kind),
                ));
            }
            key
        }
    };
    match kind {
        KeyKind::Email | KeyKind::Phone => {
            // Checked now, so that a code is not sent for a key that cannot be had.
            engine
                .key_claim(account, key.clone(), port)
                .await
                .map_err(from_engine)?;
            // Capped per account and per address (a code costs the receiver a message, and
            // every code is another chance to guess one).
            if let Some(b) = crate::api::ssr::budgets() {
                let address = crate::api::ssr::address_key();
                b.code(&crate::api::ssr::account_key(account), &address, now_ms())
                    .map_err(|ms| match b.voiding_allowed(&address, now_ms()) {
                        Err(ms) => crate::api::ssr::spent(crate::api::ssr::Spent::CodesLocked, ms),
                        Ok(()) => crate::api::ssr::spent(crate::api::ssr::Spent::Codes, ms),
                    })?;
            }
            let code = engine
                .key_code(account, key.clone())
                .await
                .map_err(from_engine)?;
            let no_codes = || AppError::Unavailable(td_string!(locale(), err.no_codes).to_string());
            let outbox =
                use_context::<std::sync::Arc<engine::outbox::Outbox>>().ok_or_else(no_codes)?;
            let minutes = engine::key_codes::CODE_TTL_MS / 60_000;
            let text =
                td_string!(locale(), keys.outbox_text, code = code, minutes = minutes).to_string();
            outbox
                .send(&key.canonical(), &text, now_ms())
                .map_err(|e| {
                    tracing::error!(error = %e, "writing the outbox");
                    no_codes()
                })?;
            tracing::info!(to = %key.masked(), "key confirmation code sent (see the outbox)");
            Ok(KeyRequest::CodeSent {
                canonical: key.canonical(),
                shown: key.to_string(),
                port,
            })
        }
        _ => {
            let shown = key.to_string();
            ssr::register(&engine, account, key, port).await?;
            Ok(KeyRequest::Registered { shown })
        }
    }
}

/// Confirms an e-mail or phone key with the code sent to it, and registers it.
#[server(endpoint = "confirm_key")]
pub async fn confirm_key(
    key: String,
    code: String,
    port: Option<String>,
) -> Result<String, AppError> {
    use crate::api::ssr::{current_account, engine, from_engine, pix_key};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let key = pix_key(&key, "key")?;
    if code.len() > 12 {
        return Err(AppError::field(
            "code",
            td_string!(
                locale(),
                err.code_digits,
                digits = engine::key_codes::CODE_DIGITS
            ),
        ));
    }
    // An address that voided too many codes checks no more for a while.
    let address = crate::api::ssr::address_key();
    let budgets = crate::api::ssr::budgets();
    if let Some(b) = &budgets {
        b.voiding_allowed(&address, crate::api::ssr::now_ms())
            .map_err(|ms| crate::api::ssr::spent(crate::api::ssr::Spent::CodesLocked, ms))?;
    }
    let checked = engine.check_key_code(account, key.clone(), code).await;
    if let (Err(engine::EngineError::KeyCode(engine::key_codes::CodeError::Voided)), Some(b)) =
        (&checked, &budgets)
    {
        b.voided(&address, crate::api::ssr::now_ms());
    }
    checked.map_err(from_engine)?;
    let shown = key.to_string();
    let port = port.is_some_and(|p| p == "on" || p == "true");
    ssr::register(&engine, account, key, port).await?;
    Ok(shown)
}

/// The owner of an e-mail or phone key here lets bank `bank` move it to an account of hers
/// there (portability) for 15 minutes; without it, this bank signs no permit for the move.
#[server(endpoint = "allow_port")]
pub async fn allow_port(key: String, bank: String) -> Result<String, AppError> {
    use crate::api::ssr::{bank_id, current_account, engine, from_engine, pix_key};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let key = pix_key(&key, "key")?;
    let to = bank_id(Some(&bank), "bank", &engine)?;
    engine
        .allow_port(account, key, to)
        .await
        .map_err(from_engine)?;
    let banks = crate::api::ssr::require_consortium()
        .map(|c| c.banks())
        .unwrap_or_default();
    let name = crate::text::bank_name(locale(), to, &banks);
    let minutes = engine::engine::PORT_ALLOWED_MS / 60_000;
    Ok(td_string!(locale(), keys.port_allowed, bank = name, minutes = minutes).to_string())
}

/// Deletes one of the client's keys (another account's key is unknown to it).
#[server(endpoint = "delete_key")]
pub async fn delete_key(key: String) -> Result<(), AppError> {
    use crate::api::ssr::{current_account, engine, from_engine, pix_key};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let key = pix_key(&key, "key")?;
    let mine = engine
        .keys_of(account)
        .await
        .map_err(from_engine)?
        .iter()
        .any(|e| e.key == key);
    if !mine {
        return Err(AppError::NotFound(
            td_string!(locale(), err.no_such_key).to_string(),
        ));
    }
    ssr::run_key_op(&engine, account, engine::directory::KeyOp::Release { key }).await
}
