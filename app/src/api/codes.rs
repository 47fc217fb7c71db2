//! Pix by code: the client's codes to receive (the "Receber" page: a QR code and its "Pix Copia
//! e Cola" text per key, with an optional amount and message) and paying a pasted code (read,
//! shown, confirmed). A code's key is looked up through [`lookup_receiver`](super::lookup_receiver)
//! and paid through [`send_pix`](super::send_pix), the same paths as a Pix by key, so every check
//! and limit on those applies to codes unchanged.
//!
//! Charges (dynamic codes, a location instead of a key) are refused for now.

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
    ssr::current_account(&engine).await?;
    let (brcode, key) = paying::read(&code)?;
    let receiver = paying::receiver(key).await?;
    Ok(CodePreview {
        code: code.trim().to_string(),
        receiver,
        amount: brcode.amount,
        message: brcode.info().map(str::to_string),
        merchant_name: brcode.merchant_name.clone(),
        tx_id: engine.new_tx_id(),
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
    ssr::current_account(&engine).await?;
    let (brcode, key) = paying::read(&code)?;
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
    match super::send_pix(key.canonical(), amount.to_input(), tx_id, None).await {
        Err(AppError::NotFound(_)) => Err(AppError::field(
            "code",
            crate::i18n::td_string!(ssr::locale(), paycode.no_key),
        )),
        other => other,
    }
}

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
    fn qr_svg(text: &str) -> Result<String, AppError> {
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
    use domain::dto::ReceiverPreview;
    use domain::{BrCode, PixKey};

    /// The code and the key it pays; a charge's code, or one whose key is no Pix key, is
    /// refused with the reason (field `code`, 400).
    pub fn read(text: &str) -> Result<(BrCode, PixKey), AppError> {
        let code = BrCode::decode(text).map_err(|e| ssr::field("code", e))?;
        let Some(key) = code.key() else {
            return Err(AppError::field(
                "code",
                td_string!(ssr::locale(), paycode.charge_refused),
            ));
        };
        let key = PixKey::parse(key)
            .map_err(|_| AppError::field("code", td_string!(ssr::locale(), paycode.bad_key)))?;
        Ok((code, key))
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
