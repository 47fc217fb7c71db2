//! Timestamps are Unix milliseconds (`i64`). Shown to clients in Brasília time (UTC-3, no daylight
//! saving since 2019), a fixed offset, so that the wasm build needs no time-zone database.

use time::macros::{format_description, offset};
use time::OffsetDateTime;

fn at(unix_ms: i64) -> OffsetDateTime {
    let nanos = i128::from(unix_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `26/11/2026 14:05` for a Unix-millisecond timestamp, in UTC-3.
pub fn format_brasilia(unix_ms: i64) -> String {
    let local = at(unix_ms).to_offset(offset!(-3));
    local
        .format(format_description!("[day]/[month]/[year] [hour]:[minute]"))
        .unwrap_or_default()
}

/// `14:05`: the Brasília time of day of a timestamp.
pub fn format_brasilia_time(unix_ms: i64) -> String {
    let local = at(unix_ms).to_offset(offset!(-3));
    local
        .format(format_description!("[hour]:[minute]"))
        .unwrap_or_default()
}

/// `yyyyMMddHHmm` in Brasília time, the timestamp part of a transaction id.
pub fn stamp_brasilia(unix_ms: i64) -> String {
    at(unix_ms)
        .to_offset(offset!(-3))
        .format(format_description!("[year][month][day][hour][minute]"))
        .unwrap_or_default()
}

/// The instant a `yyyyMMddHHmm` Brasília stamp names (its minute's first millisecond), or `None`
/// when it is no real minute.
pub fn stamp_brasilia_ms(text: &str) -> Option<i64> {
    if text.len() != 12 {
        return None;
    }
    let at = time::PrimitiveDateTime::parse(
        text,
        format_description!("[year][month][day][hour][minute]"),
    )
    .ok()?
    .assume_offset(offset!(-3));
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `26/11/2026`: the Brasília date of a timestamp.
pub fn format_brasilia_date(unix_ms: i64) -> String {
    let local = at(unix_ms).to_offset(offset!(-3));
    local
        .format(format_description!("[day]/[month]/[year]"))
        .unwrap_or_default()
}

/// `2026-11-26`: the Brasília date of a timestamp as an HTML date input holds it.
pub fn date_input(unix_ms: i64) -> String {
    let local = at(unix_ms).to_offset(offset!(-3));
    local
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// The last millisecond of the Brasília day `yyyy-mm-dd` (what an HTML date input sends), or
/// `None` when the text is not such a date.
pub fn end_of_brasilia_day(text: &str) -> Option<i64> {
    let date = time::Date::parse(text.trim(), format_description!("[year]-[month]-[day]")).ok()?;
    let next = date.next_day()?.midnight().assume_offset(offset!(-3));
    let nanos = next.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(nanos).ok().map(|ms| ms - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_brasilia(0), "31/12/1969 21:00");
        // 2026-11-26T17:05:00Z
        assert_eq!(format_brasilia(1_795_712_700_000), "26/11/2026 14:05");
        assert_eq!(format_brasilia_time(1_795_712_700_000), "14:05");
        assert_eq!(format_brasilia_time(0), "21:00");
        assert_eq!(stamp_brasilia(1_795_712_700_000), "202611261405");
        // 2024-02-29T12:00:00Z, a leap day; 2000-02-29, a leap century
        assert_eq!(stamp_brasilia(1_709_208_000_000), "202402290900");
        assert_eq!(stamp_brasilia(951_782_400_000), "200002282100");
        assert_eq!(stamp_brasilia(0), "196912312100");
    }

    #[test]
    fn dates_round_trip_in_brasilia_time() {
        // 2026-11-26T02:00:00Z is still the 25th in Brasília.
        assert_eq!(date_input(1_795_658_400_000), "2026-11-25");
        assert_eq!(format_brasilia_date(1_795_658_400_000), "25/11/2026");
        let end = end_of_brasilia_day("2026-11-25").unwrap();
        // 2026-11-26T03:00:00Z minus one millisecond.
        assert_eq!(end, 1_795_662_000_000 - 1);
        assert_eq!(date_input(end), "2026-11-25");
        assert_eq!(date_input(end + 1), "2026-11-26");
        assert_eq!(end_of_brasilia_day("2026-02-30"), None);
        assert_eq!(end_of_brasilia_day("26/11/2026"), None);
        assert_eq!(end_of_brasilia_day(""), None);
    }
}
