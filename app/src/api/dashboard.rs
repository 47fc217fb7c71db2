//! The dashboard's data: balances, statement, linked accounts, keys and fresh transaction ids;
//! and the comprovante of each transfer in the statement.

use crate::error::AppError;
use domain::dto::{BankInfo, Dashboard, LinkedAccount, Receipt};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// The dashboard plus fresh transaction ids for its forms: submitting a form twice (a double
/// click, a retry after a timeout) reuses the id, so the bank executes it once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardPage {
    pub dashboard: Dashboard,
    /// The name of the holder logged in (each holder of a joint account has their own login):
    /// the one the page greets.
    pub holder_name: String,
    pub deposit_tx_id: String,
    pub pix_tx_id: String,
    pub packet_tx_id: String,
    /// Every bank of the consortium (just this one for a bank on its own).
    pub banks: Vec<BankInfo>,
    /// The client's links to accounts at other banks (each one a consent given at that bank),
    /// with balances from the banks that answered.
    pub linked: Vec<LinkedAccount>,
    /// The account's own Pix keys (canonical): a Pix to one of them is a Pix to oneself.
    pub keys: Vec<String>,
    /// The account's Pix limits and what remains of this period's: shown before confirming.
    pub limits: domain::pix_limits::LimitsView,
    /// The account's scheduled Pix: waiting or running, then the newest ended.
    pub scheduled: Vec<domain::schedule::ScheduledView>,
    /// The first day a Pix may be scheduled for (`yyyy-mm-dd`, Brasília): tomorrow.
    pub first_schedule_day: String,
    /// Receivers to pay again: the recent ones and the favourites.
    pub contacts: domain::contacts::Contacts,
}

#[server(endpoint = "get_dashboard")]
pub async fn get_dashboard() -> Result<DashboardPage, AppError> {
    let engine = ssr::engine()?;
    // Asked every few seconds by an open page: not a sign that anyone is there.
    let who = ssr::current_login_quietly(&engine).await?;
    let account = who.account;
    let dashboard = engine.dashboard(account).await.map_err(ssr::from_engine)?;
    let holders = &dashboard.account.holders;
    let holder_name = holders
        .get(usize::from(who.holder))
        .or(holders.first())
        .map(|h| h.name.clone())
        .unwrap_or_default();
    let (banks, linked) = match ssr::consortium() {
        Some(c) => (
            c.banks(),
            c.linked_accounts(account).await.map_err(ssr::from_engine)?,
        ),
        None => (vec![engine.bank().clone()], Vec::new()),
    };
    let keys = engine
        .keys_of(account)
        .await
        .map_err(ssr::from_engine)?
        .into_iter()
        .map(|e| e.key.canonical())
        .collect();
    let limits = engine.pix_limits(account).await.map_err(ssr::from_engine)?;
    let scheduled = engine.scheduled(account).await.map_err(ssr::from_engine)?;
    let contacts = engine.contacts(account).await.map_err(ssr::from_engine)?;
    Ok(DashboardPage {
        contacts,
        dashboard,
        holder_name,
        keys,
        limits,
        scheduled,
        first_schedule_day: domain::time_fmt::date_input(engine.now_ms() + 86_400_000),
        deposit_tx_id: engine.new_tx_id().to_string(),
        pix_tx_id: engine.new_tx_id().to_string(),
        packet_tx_id: engine.new_tx_id().to_string(),
        banks,
        linked,
    })
}

/// A comprovante, with the consortium's banks to name each party's bank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptPage {
    pub receipt: Receipt,
    pub banks: Vec<BankInfo>,
}

/// The comprovante of transaction `tx` for the logged-in client. An id that is malformed, unknown,
/// or of a transfer the client's account is no party to gets the same 404: nobody learns
/// whether others' transfers exist.
#[server(endpoint = "get_receipt")]
pub async fn get_receipt(tx: String) -> Result<ReceiptPage, AppError> {
    use crate::i18n::td_string;
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let not_found = || AppError::NotFound(td_string!(ssr::locale(), receipt.not_found).to_string());
    let tx = domain::TxId::parse(tx.trim()).map_err(|_| not_found())?;
    let receipt = engine
        .receipt(account, tx)
        .await
        .map_err(ssr::from_engine)?
        .ok_or_else(not_found)?;
    let banks = match ssr::consortium() {
        Some(c) => c.banks(),
        None => vec![engine.bank().clone()],
    };
    Ok(ReceiptPage { receipt, banks })
}
