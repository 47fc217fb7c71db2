//! Pix by code: the client's codes to receive (the "Receber" page: a QR code and its "Pix Copia
//! e Cola" text per key, with an optional amount and message) and paying a pasted code (read,
//! shown, confirmed). A code's key is looked up through [`lookup_receiver`](super::lookup_receiver)
//! and paid through [`send_pix`](super::send_pix), the same paths as a Pix by key, so every check
//! and limit on those applies to codes unchanged.
//!
//! A charge's code (dynamic: a location instead of a key) is resolved at the charge's bank
//! (through the signed inter-bank channel when that is another bank) and paid as a charge's
//! payment, which that bank reserves with its credit: a charge is paid once
//! ([`super::charges`]).

use crate::error::AppError;
use domain::dto::{CodePreview, ReceivePage, TransferReceipt};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// The city a code names: banks have no city of their own in their configuration, and BCB's
/// examples use the capital's.
pub const CITY: &str = "BRASILIA";
/// The longest message a client may put in her codes, in characters (after accents are taken
/// off). A code's merchant account field holds at most 99 characters, key included, so a long
/// key leaves less room: its code then carries the message shortened.
pub const MESSAGE_MAX_CHARS: usize = 40;

/// A code per key of the client's, for `amount` (empty: the payer chooses) with `message`.
#[server(endpoint = "receive_codes")]
pub async fn receive_codes(
    amount: Option<String>,
    message: Option<String>,
) -> Result<ReceivePage, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let amount = match amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(domain::Cents::parse_amount(a).map_err(|e| ssr::field("amount", e))?),
    };
    let message = receiving::message(message.as_deref())?;
    let view = engine.account(account).await.map_err(ssr::from_engine)?;
    let holder = view.holders.first().map(|h| h.name.as_str()).unwrap_or("");
    let name = receiving::merchant_name(holder, &engine.bank().name);
    let mut codes = Vec::new();
    for entry in engine.keys_of(account).await.map_err(ssr::from_engine)? {
        codes.push(receiving::code(
            &entry.key,
            &name,
            amount,
            message.as_deref(),
        )?);
    }
    Ok(ReceivePage { codes, amount })
}

/// Reads a pasted code and looks its key up: who it pays, how much (when it says), its message,
/// and a transaction id for paying it. Nothing moves.
#[server(endpoint = "read_code")]
pub async fn read_code(code: String) -> Result<CodePreview, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let (brcode, key) = match paying::read(&code)? {
        paying::Target::Key(brcode, key) => (brcode, key),
        paying::Target::Charge(brcode, bank, id) => {
            let info = paying::open_charge(account, bank, id).await?;
            let banks = ssr::consortium().map(|c| c.banks()).unwrap_or_default();
            return Ok(CodePreview {
                code: code.trim().to_string(),
                receiver: domain::dto::ReceiverPreview {
                    name: info.receiver.name,
                    key_masked: info.receiver.key_masked,
                    bank: crate::text::bank_info(ssr::locale(), info.receiver.bank, &banks),
                },
                amount: Some(info.amount),
                message: Some(info.description),
                merchant_name: brcode.merchant_name,
                tx_id: engine.new_tx_id(),
                charge_expires_ms: Some(info.expires_ms),
            });
        }
    };
    let receiver = paying::receiver(key).await?;
    Ok(CodePreview {
        code: code.trim().to_string(),
        receiver,
        amount: brcode.amount,
        message: brcode.info().map(str::to_string),
        merchant_name: brcode.merchant_name.clone(),
        tx_id: engine.new_tx_id(),
        charge_expires_ms: None,
    })
}

/// Pays a code: read again here (the browser's copy of what it says is not trusted), for the
/// amount it fixes (an `amount` sent along must be that one) or, when it fixes none, for
/// `amount`; then sent as a Pix to its key. Retrying with the same `tx_id` pays once.
#[server(endpoint = "pay_code")]
pub async fn pay_code(
    code: String,
    amount: Option<String>,
    tx_id: String,
) -> Result<TransferReceipt, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let (brcode, key) = match paying::read(&code)? {
        paying::Target::Key(brcode, key) => (brcode, key),
        paying::Target::Charge(_, bank, id) => {
            return paying::pay_charge(&engine, account, (bank, id), amount, tx_id).await
        }
    };
    let typed = amount
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| domain::Cents::parse_amount(a).map_err(|e| ssr::field("amount", e)))
        .transpose()?;
    let amount = match (brcode.amount, typed) {
        (Some(fixed), Some(typed)) if typed != fixed => {
            return Err(AppError::field(
                "amount",
                crate::i18n::td_string!(
                    ssr::locale(),
                    paycode.amount_fixed_err,
                    amount = fixed.to_brl()
                ),
            ))
        }
        (Some(fixed), _) => fixed,
        (None, Some(typed)) => typed,
        (None, None) => return Err(ssr::field("amount", domain::MoneyError::Empty)),
    };
    // The key is looked up again there: nobody at it is an error about the code.
    match super::send_pix(key.canonical(), amount.to_input(), tx_id, None, None).await {
        Err(AppError::NotFound(_)) => Err(AppError::field(
            "code",
            crate::i18n::td_string!(ssr::locale(), paycode.no_key),
        )),
        other => other,
    }
}

/// A code's receiver name and QR code, for charges' codes too.
#[cfg(feature = "ssr")]
pub(crate) use receiving::{merchant_name, qr_svg};

/// The "Receber" page's codes (server only: the QR code is drawn here, never in the browser).
#[cfg(feature = "ssr")]
mod receiving {
    use crate::api::ssr;
    use crate::error::AppError;
    use crate::i18n::td_string;
    use domain::brcode::{ascii_text, BrCode, Initiation, PixAccount, NAME_MAX_CHARS};
    use domain::dto::ReceiveCode;
    use domain::{Cents, PixKey};

    /// The message typed, as codes carry it; refused when too long.
    pub fn message(typed: Option<&str>) -> Result<Option<String>, AppError> {
        let Some(typed) = typed.map(str::trim).filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        // Bounded before any work: a form field is no place for a book.
        let text = ascii_text(typed, 4 * super::MESSAGE_MAX_CHARS);
        if typed.chars().count() > 4 * super::MESSAGE_MAX_CHARS
            || text.len() > super::MESSAGE_MAX_CHARS
        {
            return Err(AppError::field(
                "message",
                td_string!(
                    ssr::locale(),
                    receive.message_long,
                    max = super::MESSAGE_MAX_CHARS
                ),
            ));
        }
        Ok(Some(text).filter(|t| !t.is_empty()))
    }

    /// The name a code gives for its receiver: the first holder's, in upper case without
    /// accents, at most 25 characters; the bank's when nothing of it is left.
    pub fn merchant_name(holder: &str, bank: &str) -> String {
        [holder, bank, "PIX"]
            .into_iter()
            .map(|n| ascii_text(n, NAME_MAX_CHARS).to_ascii_uppercase())
            .find(|n| !n.is_empty())
            .unwrap_or_default()
    }

    /// The code paying `key`, as text and as a QR code.
    pub fn code(
        key: &PixKey,
        name: &str,
        amount: Option<Cents>,
        message: Option<&str>,
    ) -> Result<ReceiveCode, AppError> {
        let brcode = |info: Option<String>| BrCode {
            initiation: Some(Initiation::Static),
            account: PixAccount::Key {
                key: key.canonical(),
                info,
            },
            category: domain::brcode::NO_CATEGORY.to_string(),
            amount,
            merchant_name: name.to_string(),
            merchant_city: super::CITY.to_string(),
            txid: None,
        };
        // The message shortened until the code's merchant account field has room for it.
        let mut info = message.map(str::to_string);
        let text = loop {
            match brcode(info.clone()).encode() {
                Ok(text) => break text,
                Err(domain::BrCodeError::TooLong(26)) if info.is_some() => {
                    info = info
                        .map(|mut m| {
                            m.pop();
                            m.truncate(m.trim_end().len());
                            m
                        })
                        .filter(|m| !m.is_empty());
                }
                Err(e) => {
                    tracing::error!(error = %e, "a key's code could not be written");
                    return Err(AppError::Unexpected);
                }
            }
        };
        Ok(ReceiveCode {
            key_shown: key.to_string(),
            key: key.canonical(),
            kind: key.kind(),
            svg: qr_svg(&text)?,
            text,
            message: info,
        })
    }

    /// `text` as a QR code, an SVG document: error correction level M (15% of the code may be
    /// unreadable, as bank apps print them), a quiet zone, at least 240 px wide.
    pub fn qr_svg(text: &str) -> Result<String, AppError> {
        use qrcode::render::svg;
        use qrcode::{EcLevel, QrCode};
        let qr = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
            tracing::error!(error = %e, "a code could not be drawn");
            AppError::Unexpected
        })?;
        let svg = qr
            .render::<svg::Color>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build();
        // Without the XML declaration: it goes inside a page.
        Ok(match svg.find("<svg") {
            Some(at) => svg[at..].to_string(),
            None => svg,
        })
    }
}

/// Reading a code to pay (server only).
#[cfg(feature = "ssr")]
mod paying {
    use crate::api::ssr;
    use crate::error::AppError;
    use crate::i18n::td_string;
    use domain::brcode::{Initiation, PixAccount};
    use domain::charge::{ChargeId, ChargeInfo, ChargeStatus};
    use domain::dto::{ReceiverPreview, TransferReceipt, TxStatus};
    use domain::{AccountId, BankId, BrCode, PixKey};
    use engine::EngineHandle;

    /// What a code pays: a key, or a charge at a bank of the consortium.
    pub enum Target {
        Key(BrCode, PixKey),
        Charge(BrCode, BankId, ChargeId),
    }

    /// The code and what it pays; one whose key is no Pix key, or whose location is no charge
    /// of a member bank, is refused with the reason (field `code`, 400).
    pub fn read(text: &str) -> Result<Target, AppError> {
        let code = BrCode::decode(text).map_err(|e| ssr::field("code", e))?;
        let location = match &code.account {
            PixAccount::Key { key, .. } => {
                let key = PixKey::parse(key).map_err(|_| {
                    AppError::field("code", td_string!(ssr::locale(), paycode.bad_key))
                })?;
                return Ok(Target::Key(code, key));
            }
            PixAccount::Location { url } => url.clone(),
        };
        let unknown = || AppError::field("code", td_string!(ssr::locale(), paycode.charge_unknown));
        // A location is paid once: only a dynamic code may carry one.
        if code.initiation != Some(Initiation::Dynamic) {
            return Err(unknown());
        }
        let consortium = ssr::require_consortium()?;
        let (bank, id) = consortium
            .banks()
            .iter()
            .find_map(|b| {
                let url = consortium.public_url(b.id)?;
                domain::charge::charge_at(&location, &url).map(|id| (b.id, id))
            })
            .ok_or_else(unknown)?;
        Ok(Target::Charge(code, bank, id))
    }

    /// Charge `id` as bank `bank` describes it, if it may be paid now; refused with why not:
    /// unknown (400), paid, cancelled or expired (422).
    pub async fn open_charge(
        account: AccountId,
        bank: BankId,
        id: ChargeId,
    ) -> Result<ChargeInfo, AppError> {
        let info = charge_info(account, bank, id).await?;
        if_open(info)
    }

    /// `info` if its charge is open, else why it may not be paid (422).
    fn if_open(info: ChargeInfo) -> Result<ChargeInfo, AppError> {
        let refused = |r: domain::Refusal| {
            Err(AppError::Refused(crate::text::refusal(
                ssr::locale(),
                r,
                &[],
            )))
        };
        match info.status {
            ChargeStatus::Open => Ok(info),
            ChargeStatus::Paid => refused(domain::Refusal::ChargePaid),
            ChargeStatus::Cancelled => refused(domain::Refusal::ChargeCancelled),
            ChargeStatus::Expired => refused(domain::Refusal::ChargeExpired),
        }
    }

    /// Charge `id` as bank `bank` describes it, whatever its status (unknown: 400). Each ask
    /// costs the client what a key lookup does.
    async fn charge_info(
        account: AccountId,
        bank: BankId,
        id: ChargeId,
    ) -> Result<ChargeInfo, AppError> {
        use engine::budget::{LookupCost, LOOKUP_FOUND_COST, LOOKUP_MISSING_COST};
        let (account_key, address_key) = (ssr::account_key(account), ssr::address_key());
        if let Some(budgets) = ssr::budgets() {
            budgets
                .lookup(
                    &account_key,
                    &address_key,
                    LookupCost::Missing,
                    ssr::now_ms(),
                )
                .map_err(|ms| ssr::spent(ssr::Spent::Lookups, ms))?;
        }
        let consortium = ssr::require_consortium()?;
        let asked = consortium.charge(bank, id).await;
        let back = match &asked {
            Ok(Some(_)) => Some(LOOKUP_MISSING_COST - LOOKUP_FOUND_COST),
            Ok(None) => None,
            Err(_) => Some(LOOKUP_MISSING_COST),
        };
        if let (Some(back), Some(budgets)) = (back, ssr::budgets()) {
            budgets.lookup_refund(&account_key, &address_key, back, ssr::now_ms());
        }
        asked.map_err(ssr::from_engine)?.ok_or_else(|| {
            AppError::field("code", td_string!(ssr::locale(), paycode.charge_unknown))
        })
    }

    /// Pays charge `id` at `bank` from `account`, for the charge's amount (an `amount` sent
    /// along must be that one), as a one-leg packet whose credit the charge's bank checks and
    /// reserves. A charge that is not open is refused before anything is sent, unless `tx_id`
    /// is a payment of this client's still known here: a retry after the charge was paid by it
    /// hears that payment's outcome again.
    pub async fn pay_charge(
        engine: &EngineHandle,
        account: AccountId,
        (bank, id): (BankId, ChargeId),
        amount: Option<String>,
        tx_id: String,
    ) -> Result<TransferReceipt, AppError> {
        let tx = ssr::tx_id(&tx_id, engine)?;
        let info = charge_info(account, bank, id).await?;
        let consortium = ssr::require_consortium()?;
        let info = match consortium.progress(account, &tx) {
            Some(_) => info,
            None => if_open(info)?,
        };
        let typed = amount
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| domain::Cents::parse_amount(a).map_err(|e| ssr::field("amount", e)))
            .transpose()?;
        if typed.is_some_and(|t| t != info.amount) {
            return Err(AppError::field(
                "amount",
                td_string!(
                    ssr::locale(),
                    paycode.amount_fixed_err,
                    amount = info.amount.to_brl()
                ),
            ));
        }
        let banks = consortium.banks();
        let payment = engine::twopc::ChargePayment {
            charge: info.id.clone(),
            amount: info.amount,
            receiver: info.receiver.clone(),
        };
        let outcome = consortium
            .submit_charge(account, tx, payment)
            .await
            .map_err(ssr::from_engine)?;
        if let Some((_, reason)) = outcome.failure() {
            return Err(AppError::Refused(crate::text::refusal(
                ssr::locale(),
                reason,
                &banks,
            )));
        }
        if outcome.status != TxStatus::Committed {
            return Err(AppError::Refused(
                td_string!(ssr::locale(), err.transfer_cancelled).to_string(),
            ));
        }
        Ok(TransferReceipt {
            tx_id: outcome.tx_id,
            status: outcome.status,
            amount: info.amount,
            receiver: ReceiverPreview {
                name: info.receiver.name,
                key_masked: info.receiver.key_masked,
                bank: crate::text::bank_info(ssr::locale(), info.receiver.bank, &banks),
            },
        })
    }

    /// Who `key` pays, through the same server function as a Pix by key (and so under the same
    /// limits); nobody is an error about the code.
    pub async fn receiver(key: PixKey) -> Result<ReceiverPreview, AppError> {
        match crate::api::lookup_receiver(key.canonical(), None).await {
            Err(AppError::NotFound(_)) | Err(AppError::BadInput { .. }) => Err(AppError::field(
                "code",
                td_string!(ssr::locale(), paycode.no_key),
            )),
            other => other,
        }
    }
}
