//! Pix limits per period (daytime 06:00–20:00, nighttime 20:00–06:00, Brasília), as the BCB
//! sets them: the client reads them with what remains now, lowers them at once, and raises
//! them with effect 24 hours later.

use crate::error::AppError;
use domain::pix_limits::LimitsView;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// The client's limits, the period now and what remains of it.
#[server(endpoint = "pix_limits")]
pub async fn pix_limits() -> Result<LimitsView, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account_quietly(&engine).await?;
    engine.pix_limits(account).await.map_err(ssr::from_engine)
}

/// Sets the client's daytime and nighttime limits (amounts as typed, `0` allowed): lowered
/// at once, raised 24 hours later. Impossible limits (the night above the day, above the
/// bank's ceiling) are refused and change nothing.
#[server(endpoint = "set_pix_limits")]
pub async fn set_pix_limits(day: String, night: String) -> Result<LimitsView, AppError> {
    use domain::pix_limits::PixLimits;
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let parse = |text: &str, field: &str| {
        domain::Cents::parse_limit(text).map_err(|e| ssr::field(field, e))
    };
    let wanted = PixLimits {
        day: parse(&day, "day")?,
        night: parse(&night, "night")?,
    };
    engine
        .set_pix_limits(account, wanted)
        .await
        .map_err(ssr::from_engine)
}
