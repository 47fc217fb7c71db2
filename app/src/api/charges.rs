//! Charges (cobranças imediatas): a client creates one (amount, description, how long it stays
//! open), gets its dynamic code (point of initiation 12, the charge's location under
//! `BR.GOV.BCB.PIX` instead of a key) as text and QR code, follows its status, and cancels it
//! while it is open. Paying one is `codes::pay_code` with its code: the charge's bank reserves
//! the charge with the payment's credit, so a charge is paid once (`engine::charges`).

use crate::error::AppError;
use domain::charge::ChargeView;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// Creates a charge of `amount` for `description`, open for `expires_minutes`. `charge_id`
/// (empty: a new one) is its id: sending the same charge again answers it as it stands, and an
/// id of another charge is refused (409).
#[server(endpoint = "create_charge")]
pub async fn create_charge(
    amount: String,
    description: String,
    expires_minutes: String,
    charge_id: Option<String>,
) -> Result<ChargeView, AppError> {
    use domain::charge::{ChargeId, EXPIRY_MAX_MINUTES, EXPIRY_MIN_MINUTES};
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let amount = domain::Cents::parse_amount(&amount).map_err(|e| ssr::field("amount", e))?;
    let description = charging::description(&description)?;
    let minutes = expires_minutes
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| (EXPIRY_MIN_MINUTES..=EXPIRY_MAX_MINUTES).contains(m))
        .ok_or_else(|| {
            AppError::field(
                "expires_minutes",
                crate::i18n::td_string!(
                    ssr::locale(),
                    charge.expiry_range,
                    min = EXPIRY_MIN_MINUTES,
                    max = EXPIRY_MAX_MINUTES
                ),
            )
        })?;
    let id = match charge_id
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        Some(text) => ChargeId::parse(text).map_err(|_| {
            AppError::field(
                "charge_id",
                crate::i18n::td_string!(ssr::locale(), charge.bad_id),
            )
        })?,
        None => engine.new_charge_id(),
    };
    let (charge, status) = engine
        .create_charge(engine::charges::NewCharge {
            id,
            account,
            amount,
            description,
            lifetime_ms: minutes * 60_000,
        })
        .await
        .map_err(ssr::from_engine)?;
    let codes = charging::Codes::of(&engine, account).await?;
    codes.view(charge, status, true)
}

/// The client's charges, newest first, each with its status now (without their QR codes:
/// this is what the page polls).
#[server(endpoint = "my_charges")]
pub async fn my_charges() -> Result<Vec<ChargeView>, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account_quietly(&engine).await?;
    let codes = charging::Codes::of(&engine, account).await?;
    engine
        .charges_of(account)
        .await
        .map_err(ssr::from_engine)?
        .into_iter()
        .map(|(charge, status)| codes.view(charge, status, false))
        .collect()
}

/// Cancels the client's charge `charge_id` while it is open; a paid or expired one is refused
/// and stays as it is.
#[server(endpoint = "cancel_charge")]
pub async fn cancel_charge(charge_id: String) -> Result<ChargeView, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let id = domain::charge::ChargeId::parse(charge_id.trim()).map_err(|_| {
        AppError::field(
            "charge_id",
            crate::i18n::td_string!(ssr::locale(), charge.bad_id),
        )
    })?;
    let (charge, status) = engine
        .cancel_charge(account, id)
        .await
        .map_err(ssr::from_engine)?;
    let codes = charging::Codes::of(&engine, account).await?;
    codes.view(charge, status, false)
}

/// Server only: a charge's input, id and code.
#[cfg(feature = "ssr")]
pub(crate) mod charging {
    use crate::api::ssr;
    use crate::error::AppError;
    use crate::i18n::td_string;
    use domain::brcode::{BrCode, Initiation, PixAccount};
    use domain::charge::{ChargeId, ChargeStatus, ChargeView, DESCRIPTION_MAX_CHARS};
    use domain::AccountId;
    use engine::charges::Charge;
    use engine::EngineHandle;

    /// A description as typed: trimmed, at most [`DESCRIPTION_MAX_CHARS`] characters, no
    /// control characters.
    pub fn description(typed: &str) -> Result<String, AppError> {
        let text = typed.trim();
        let long = text.chars().count() > DESCRIPTION_MAX_CHARS;
        if text.is_empty() || long || text.chars().any(char::is_control) {
            return Err(AppError::field(
                "description",
                td_string!(
                    ssr::locale(),
                    charge.description_bad,
                    max = DESCRIPTION_MAX_CHARS
                ),
            ));
        }
        Ok(text.to_string())
    }

    /// What every code of one client's charges shares: the receiver's name as codes give it,
    /// and this bank's public address, where its charges' locations are.
    pub struct Codes {
        name: String,
        url: String,
    }

    impl Codes {
        pub async fn of(engine: &EngineHandle, account: AccountId) -> Result<Codes, AppError> {
            let view = engine.account(account).await.map_err(ssr::from_engine)?;
            let holder = view.holders.first().map(|h| h.name.as_str()).unwrap_or("");
            let consortium = ssr::require_consortium()?;
            let url = consortium
                .public_url(engine.bank().id)
                .ok_or(AppError::Unexpected)?;
            Ok(Codes {
                name: crate::api::codes::merchant_name(holder, &engine.bank().name),
                url,
            })
        }

        /// The charge as its receiver sees it; with its code (and, `with_qr`, its QR code)
        /// while it is open.
        pub fn view(
            &self,
            charge: Charge,
            status: ChargeStatus,
            with_qr: bool,
        ) -> Result<ChargeView, AppError> {
            let (code, svg) = if status == ChargeStatus::Open {
                let text = self.code(&charge.id)?;
                let svg = if with_qr {
                    crate::api::codes::qr_svg(&text)?
                } else {
                    String::new()
                };
                (text, svg)
            } else {
                (String::new(), String::new())
            };
            Ok(ChargeView {
                paid_by: charge.paid_by().cloned(),
                id: charge.id,
                amount: charge.amount,
                description: charge.description,
                status,
                created_ms: charge.created_ms,
                expires_ms: charge.expires_ms,
                code,
                svg,
            })
        }

        /// The charge's dynamic code: point of initiation 12, its location under the GUI, the
        /// receiver's name; no amount and no txid of its own (`***`): the payer's bank asks the
        /// charge's bank for them, as BCB's manual has it for dynamic codes.
        fn code(&self, id: &ChargeId) -> Result<String, AppError> {
            let code = BrCode {
                initiation: Some(Initiation::Dynamic),
                account: PixAccount::Location {
                    url: domain::charge::location(&self.url, id),
                },
                category: domain::brcode::NO_CATEGORY.to_string(),
                amount: None,
                merchant_name: self.name.clone(),
                merchant_city: crate::api::codes::CITY.to_string(),
                txid: None,
            };
            code.encode().map_err(|e| {
                tracing::error!(error = %e, "a charge's code could not be written");
                AppError::Unexpected
            })
        }
    }
}
