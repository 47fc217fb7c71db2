//! Timestamps are Unix milliseconds (`i64`). Shown to clients in Brasília time (UTC-3, no daylight
//! saving since 2019), computed by hand so that the wasm build needs no time-zone database.

/// `26/11/2026 14:05` for a Unix-millisecond timestamp, in UTC-3.
pub fn format_brasilia(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000) - 3 * 3600;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{d:02}/{m:02}/{y:04} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// `yyyyMMddHHmm` in UTC, the timestamp part of a transaction id.
pub fn stamp_utc(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
        // 2024-02-29T12:00:00Z, a leap day
        assert_eq!(stamp_utc(1_709_208_000_000), "202402291200");
    }
}
