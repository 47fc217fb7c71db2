//! The banks: this one (its name and palette), and the consortium's with their live status.

use crate::error::AppError;
use domain::dto::{BankInfo, BankStatus};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

#[server(endpoint = "get_bank")]
pub async fn get_bank() -> Result<BankInfo, AppError> {
    Ok(ssr::engine()?.bank().clone())
}

/// The consortium's banks with their public address and live status (the bank selector and the
/// status page). Public: no session needed, nothing personal in it.
#[server(endpoint = "get_consortium")]
pub async fn get_consortium() -> Result<Vec<BankStatus>, AppError> {
    let engine = ssr::engine()?;
    Ok(match ssr::consortium() {
        Some(c) => c.status().await,
        None => vec![BankStatus {
            bank: engine.bank().clone(),
            url: String::new(),
            online: true,
            holding: false,
            epoch_counter: 0,
            epoch_origin: None,
            visits: 0,
            rotations_per_s: 0.0,
            packets_in_flight: 0,
            decisions_undelivered: 0,
        }],
    })
}
