//! Linking an account at another bank, in the shape of an OAuth authorization-code flow (what
//! Brazil's Open Finance payment consents look like to a client):
//!
//! 1. at bank A, [`start_link`] keeps a `state` bound to the client's account and bank B, and sends
//!    the browser to B's own site: `/consent?bank=A&account=..&state=..`;
//! 2. at B, the client (logged in at B) reads what A's account will be allowed to do
//!    ([`consent_request`]), sets the limits and approves: [`approve_consent`] makes a one-time code
//!    bound to both accounts and sends the browser back to A: `/link/return?code=..&state=..`;
//! 3. at A, [`finish_link`] checks the `state` (once), redeems the code with B over the signed
//!    inter-bank channel and keeps the link.
//!
//! At B, [`get_consents`] lists the consents the client gave and [`revoke_consent`] ends one.

use crate::error::AppError;
use domain::consent::ConsentView;
use domain::dto::BankInfo;
use domain::{AccountId, Cents};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the consent page at the bank holding the money shows before approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentAsked {
    /// The account that would be drawn on (the client's, here) and its holders.
    pub account: AccountId,
    pub holders: String,
    pub available: Cents,
    /// The bank and account asking.
    pub grantee_bank: BankInfo,
    pub grantee_account: AccountId,
    /// Who holds that account, as the asking bank told it (names and document masked); `None`
    /// when it did not answer in time: the page then names the account only.
    pub grantee_holder: Option<domain::consent::LinkHolder>,
    /// Where "Cancel" sends the browser back to, at the asking bank.
    pub cancel_url: String,
    /// Dates as the date input holds them (Brasília): today, the proposed end and the latest
    /// allowed.
    pub today: String,
    pub default_expiry: String,
    pub max_expiry: String,
}

/// The consents the client gave at this bank, with the banks' names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentsPage {
    pub account: AccountId,
    pub consents: Vec<ConsentView>,
    pub banks: Vec<BankInfo>,
}

/// How long the consent page proposes, in days (the client may choose up to twelve months).
pub const DEFAULT_CONSENT_DAYS: i64 = 90;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::api::ssr::*;
    use crate::error::AppError;
    use crate::i18n::td_string;
    use domain::{AccountId, BankId};
    use engine::EngineHandle;
    use std::sync::Arc;

    /// Another bank of the consortium, typed in a form or a link.
    pub fn other_bank(
        text: &str,
        field: &str,
        engine: &EngineHandle,
    ) -> Result<(Arc<dyn engine::consortium::Consortium>, BankId), AppError> {
        let consortium = require_consortium()?;
        let bank = bank_id(Some(text), field, engine)?;
        if bank == engine.bank().id || !consortium.banks().iter().any(|b| b.id == bank) {
            return Err(AppError::field(
                field,
                td_string!(locale(), err.choose_other_bank),
            ));
        }
        Ok((consortium, bank))
    }

    /// An account number typed or carried in a link.
    pub fn account_number(text: &str, field: &str) -> Result<AccountId, AppError> {
        text.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(AccountId)
            .ok_or_else(|| AppError::field(field, td_string!(locale(), err.not_account_number)))
    }

    /// A `state` or a one-time code carried through the browser: letters and digits only, so
    /// that it goes into a URL as it is.
    pub fn opaque(text: &str, field: &str) -> Result<String, AppError> {
        if (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(text.to_string())
        } else {
            Err(AppError::field(
                field,
                td_string!(locale(), err.link_damaged),
            ))
        }
    }

    /// Bank `bank`'s address as browsers reach it, without a trailing slash.
    pub fn public_url(
        consortium: &dyn engine::consortium::Consortium,
        bank: BankId,
    ) -> Result<String, AppError> {
        consortium
            .public_url(bank)
            .map(|u| u.trim_end_matches('/').to_string())
            .ok_or_else(|| {
                AppError::Unavailable(
                    td_string!(
                        locale(),
                        err.no_public_url,
                        bank = crate::text::unnamed_bank(locale(), bank)
                    )
                    .to_string(),
                )
            })
    }
}

/// At the client's bank (A): starts linking the client's account at `bank` (B) and sends the
/// browser to B's consent page.
#[server(endpoint = "start_link")]
pub async fn start_link(bank: String) -> Result<(), AppError> {
    use crate::api::ssr::{current_account, engine, from_engine};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let (consortium, bank) = ssr::other_bank(&bank, "bank", &engine)?;
    let base = ssr::public_url(consortium.as_ref(), bank)?;
    let state = engine
        .start_link(account, bank)
        .await
        .map_err(from_engine)?;
    leptos_axum::redirect(&format!(
        "{base}/consent?bank={}&account={}&state={state}",
        engine.bank().id,
        account.0
    ));
    Ok(())
}

/// At the bank holding the money (B): what account `account` at `bank` asks for, shown to the
/// client logged in here before they approve.
#[server(endpoint = "consent_request")]
pub async fn consent_request(
    bank: String,
    account: String,
    state: String,
) -> Result<ConsentAsked, AppError> {
    use crate::api::ssr::{current_account, engine, from_engine, now_ms};
    let engine = engine()?;
    let (consortium, grantee_bank) = ssr::other_bank(&bank, "bank", &engine)?;
    let grantee_account = ssr::account_number(&account, "account")?;
    let state = ssr::opaque(&state, "state")?;
    let base = ssr::public_url(consortium.as_ref(), grantee_bank)?;
    let mine = current_account(&engine).await?;
    let view = engine.dashboard(mine).await.map_err(from_engine)?.account;
    // Signed, and bounded by the ring's patience: a bank that does not answer in time leaves
    // the account unnamed, never the page waiting.
    let grantee_holder = consortium
        .link_holder(grantee_bank, grantee_account, state.clone())
        .await;
    let now = now_ms();
    let day = 24 * 3_600 * 1_000;
    Ok(ConsentAsked {
        account: view.id,
        holders: view
            .holders
            .iter()
            .map(|h| h.name.clone())
            .collect::<Vec<_>>()
            .join(" & "),
        available: view.available,
        grantee_bank: crate::text::bank_info(
            crate::api::ssr::locale(),
            grantee_bank,
            &consortium.banks(),
        ),
        grantee_account,
        grantee_holder,
        cancel_url: format!("{base}/link/return?denied=1&state={state}"),
        today: domain::time_fmt::date_input(now),
        default_expiry: domain::time_fmt::date_input(now + DEFAULT_CONSENT_DAYS * day),
        max_expiry: domain::time_fmt::date_input(now + domain::consent::CONSENT_MAX_MS - day),
    })
}

/// Sign-up-like forms pass every field as an argument; see `api::signup`.
#[allow(clippy::too_many_arguments)]
mod approve {
    use super::*;

    /// At the bank holding the money (B): the client approves `account` at `bank` drawing on
    /// their account here within these limits until the end of `expires` (a date, Brasília);
    /// the browser goes back to the asking bank with a one-time code.
    #[server(endpoint = "approve_consent")]
    pub async fn approve_consent(
        bank: String,
        account: String,
        state: String,
        per_packet: String,
        daily: Option<String>,
        expires: String,
        password: String,
    ) -> Result<(), AppError> {
        use crate::api::ssr::{current_login, engine, from_engine, now_ms};
        use domain::consent::{ConsentTerms, TermsError};
        let engine = engine()?;
        // The holder logged in: their password is the one asked for again.
        let who = current_login(&engine).await?;
        let owner = who.account;
        let (consortium, grantee_bank) = ssr::other_bank(&bank, "bank", &engine)?;
        let grantee_account = ssr::account_number(&account, "account")?;
        let state = ssr::opaque(&state, "state")?;
        let base = ssr::public_url(consortium.as_ref(), grantee_bank)?;
        let per_packet = Cents::parse_amount(&per_packet)
            .map_err(|e| crate::api::ssr::field("per_packet", e))?;
        let daily = match daily.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => {
                Some(Cents::parse_amount(d).map_err(|e| crate::api::ssr::field("daily", e))?)
            }
        };
        let expires_ms = domain::time_fmt::end_of_brasilia_day(&expires).ok_or_else(|| {
            AppError::field(
                "expires",
                crate::i18n::td_string!(crate::api::ssr::locale(), err.choose_end_date),
            )
        })?;
        let terms = ConsentTerms::new(per_packet, daily, expires_ms, now_ms()).map_err(|e| {
            let field = match e {
                TermsError::PerPacket => "per_packet",
                TermsError::Daily => "daily",
                TermsError::Expiry => "expires",
            };
            crate::api::ssr::field(field, e)
        })?;
        // The terms are sound: now the password, asked again (issue 27), before any code.
        crate::api::accounts::confirm_password(&engine, who, password).await?;
        let code = engine
            .grant_code(engine::engine::GrantRequest {
                owner,
                grantee_bank,
                grantee_account,
                terms,
            })
            .await
            .map_err(from_engine)?;
        leptos_axum::redirect(&format!("{base}/link/return?code={code}&state={state}"));
        Ok(())
    }
}
pub use approve::*;

/// At the client's bank (A), back from B: checks `state` (once), redeems `code` with B and keeps
/// the link; the browser goes to the dashboard.
#[server(endpoint = "finish_link")]
pub async fn finish_link(code: String, state: String) -> Result<(), AppError> {
    use crate::api::ssr::{current_account, engine, from_engine, require_consortium};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let code = ssr::opaque(&code, "code")?;
    let state = ssr::opaque(&state, "state")?;
    let consortium = require_consortium()?;
    let bank = engine
        .take_link_state(account, state)
        .await
        .map_err(from_engine)?;
    let grant = consortium
        .redeem(bank, code, account)
        .await
        .map_err(from_engine)?;
    engine
        .save_link(account, bank, grant)
        .await
        .map_err(from_engine)?;
    leptos_axum::redirect(&format!("/dashboard?linked={bank}"));
    Ok(())
}

/// At the client's bank (A), back from B without approval: forgets the `state`.
#[server(endpoint = "cancel_link")]
pub async fn cancel_link(state: String) -> Result<(), AppError> {
    use crate::api::ssr::{current_account, engine};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let state = ssr::opaque(&state, "state")?;
    // Unknown or already used is fine: either way nothing is linked.
    let _ = engine.take_link_state(account, state).await;
    Ok(())
}

/// At the bank holding the money (B): the consents the client gave here.
#[server(endpoint = "get_consents")]
pub async fn get_consents() -> Result<ConsentsPage, AppError> {
    use crate::api::ssr::{consortium, current_account, engine, from_engine};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let consents = engine.consents_given(account).await.map_err(from_engine)?;
    let banks = consortium()
        .map(|c| c.banks())
        .unwrap_or_else(|| vec![engine.bank().clone()]);
    Ok(ConsentsPage {
        account,
        consents,
        banks,
    })
}

/// At the bank holding the money (B): ends consent `id` now. Packets already queued that draw
/// on it are refused when they reach this bank.
#[server(endpoint = "revoke_consent")]
pub async fn revoke_consent(id: String) -> Result<(), AppError> {
    use crate::api::ssr::{current_account, engine, from_engine};
    let engine = engine()?;
    let account = current_account(&engine).await?;
    let id = domain::consent::ConsentId::parse(&id).map_err(|e| crate::api::ssr::field("id", e))?;
    engine.revoke(account, id).await.map_err(from_engine)
}
