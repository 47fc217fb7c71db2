//! Pix agendado: a Pix, or a whole Pix packet, scheduled for a later day, run by the bank on that
//! day from 06:00 (Brasília) through the same paths as one sent now; listed with how it ended,
//! cancelled while it waits.

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
    let day = day(&date)?;
    let receiver =
        crate::api::money::lookup::receiver(&engine, account, key.clone(), bank.as_deref()).await?;
    let order = engine::schedule::Order::Pix {
        key,
        amount,
        receiver_name: receiver.name,
        receiver_bank: receiver.bank.id,
    };
    add(&engine, account, order, day, message).await
}

/// Schedules a Pix packet (every row or none, as [`crate::api::send_packet`] sends one now) for
/// `date` (`yyyy-mm-dd`, a later day in Brasília, within a year). Its rows are read and checked
/// now exactly as a packet sent now is (their number, keys, banks, amounts; field errors name the
/// row, `legs.<n>.<field>`), and again on its day, when the balances, limits and consents of
/// that day decide, all or nothing.
#[server(endpoint = "schedule_packet", input = leptos::server_fn::codec::Json)]
pub async fn schedule_packet(
    legs: Vec<crate::api::LegInput>,
    date: String,
) -> Result<ScheduledView, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let day = day(&date)?;
    let packet = crate::api::money::packets::packet(&engine, account, &legs).await?;
    let order = engine::schedule::Order::Packet(packet.into());
    // Each row carries its own message.
    add(&engine, account, order, day, domain::PixMessage::none()).await
}

/// The Brasília day a date input names, or the date field's error.
#[cfg(feature = "ssr")]
fn day(date: &str) -> Result<i64, AppError> {
    domain::time_fmt::end_of_brasilia_day(date)
        .map(domain::schedule::day_of)
        .ok_or_else(|| {
            AppError::field(
                "date",
                crate::i18n::td_string!(ssr::locale(), err.schedule_date).to_string(),
            )
        })
}

/// Schedules `order` for `day`; the engine's refusal (the day, too many waiting) on the date
/// field.
#[cfg(feature = "ssr")]
async fn add(
    engine: &engine::EngineHandle,
    account: domain::AccountId,
    order: engine::schedule::Order,
    day: i64,
    message: domain::PixMessage,
) -> Result<ScheduledView, AppError> {
    let new = engine::schedule::NewSchedule {
        account,
        order,
        day,
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
