//! Pix agendado: a Pix scheduled for a later day, run by the bank on that day from 06:00
//! (Brasília) through the same paths as a Pix sent now; listed with how it ended, cancelled
//! while it waits.

use crate::error::AppError;
use domain::schedule::ScheduledView;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// Schedules a Pix of `amount` to `key` for `date` (`yyyy-mm-dd`, a later day in Brasília,
/// within a year). The receiver is looked up now, as for a Pix sent now (and again on the day).
#[server(endpoint = "schedule_pix")]
pub async fn schedule_pix(
    key: String,
    amount: String,
    date: String,
    bank: Option<String>,
    message: Option<String>,
) -> Result<ScheduledView, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let key = ssr::pix_key(&key, "key")?;
    let amount = domain::Cents::parse_amount(&amount).map_err(|e| ssr::field("amount", e))?;
    let message = ssr::pix_message(message.as_deref(), "message")?;
    let day = domain::time_fmt::end_of_brasilia_day(&date)
        .map(domain::schedule::day_of)
        .ok_or_else(|| {
            AppError::field(
                "date",
                crate::i18n::td_string!(ssr::locale(), err.schedule_date).to_string(),
            )
        })?;
    let receiver =
        crate::api::money::lookup::receiver(&engine, account, key.clone(), bank.as_deref()).await?;
    let new = engine::schedule::NewSchedule {
        account,
        key,
        amount,
        day,
        receiver_name: receiver.name,
        receiver_bank: receiver.bank.id,
        message,
    };
    engine
        .schedule_pix(new)
        .await
        .map_err(ssr::from_engine)?
        .map_err(|e| AppError::field("date", crate::text::Say::say(&e, ssr::locale())))
}

/// The client's scheduled Pix: those waiting or running, soonest first, then the newest ended.
#[server(endpoint = "scheduled_pix")]
pub async fn scheduled_pix() -> Result<Vec<ScheduledView>, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account_quietly(&engine).await?;
    engine.scheduled(account).await.map_err(ssr::from_engine)
}

/// Cancels the client's scheduled Pix `id` while it waits for its day.
#[server(endpoint = "cancel_scheduled")]
pub async fn cancel_scheduled(id: String) -> Result<ScheduledView, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let id: u64 = id.trim().parse().map_err(|_| {
        AppError::NotFound(crate::text::Say::say(
            &domain::schedule::ScheduleError::NotWaiting,
            ssr::locale(),
        ))
    })?;
    engine
        .cancel_scheduled(account, id)
        .await
        .map_err(ssr::from_engine)?
        .map_err(|e| AppError::NotFound(crate::text::Say::say(&e, ssr::locale())))
}
