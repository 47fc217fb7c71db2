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

/// `yyyyMMddHHmm` in UTC, the timestamp part of a transaction id.
pub fn stamp_utc(unix_ms: i64) -> String {
    at(unix_ms)
        .format(format_description!("[year][month][day][hour][minute]"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_brasilia(0), "31/12/1969 21:00");
        // 2026-11-26T17:05:00Z
        assert_eq!(format_brasilia(1_795_712_700_000), "26/11/2026 14:05");
        assert_eq!(stamp_utc(1_795_712_700_000), "202611261705");
        // 2024-02-29T12:00:00Z, a leap day; 2000-02-29, a leap century
        assert_eq!(stamp_utc(1_709_208_000_000), "202402291200");
        assert_eq!(stamp_utc(951_782_400_000), "200002290000");
        assert_eq!(stamp_utc(0), "197001010000");
    }
}
