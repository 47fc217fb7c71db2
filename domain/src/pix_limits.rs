//! Pix limits as the Banco Central sets them (Resolução BCB nº 1/2020, art. 20, and the
//! nighttime rules added in 2021): each client has a limit per *period*, one for the daytime
//! (06:00–20:00, Brasília) and one for the nighttime (20:00–06:00). What the client's Pix debits
//! in a period add up to may not pass that period's limit.
//!
//! - For individuals the nighttime limit is R$ 1.000,00 unless the client asks otherwise.
//! - Lowering a limit takes effect at once; raising one takes effect only [`RAISE_DELAY_MS`]
//!   after the request (the rule gives banks 24 to 48 hours; this bank takes 24).
//! - The nighttime limit may not be above the daytime one.
//!
//! Everything here is pure: the caller passes the time.

use crate::money::Cents;
use serde::{Deserialize, Serialize};

/// How long a raised limit waits before it counts: 24 hours.
pub const RAISE_DELAY_MS: i64 = 24 * 3_600 * 1_000;

/// Brasília is UTC−3 all year (no daylight saving since 2019).
const BRASILIA_OFFSET_MS: i64 = -3 * 3_600 * 1_000;
const HOUR_MS: i64 = 3_600 * 1_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The daytime runs from this hour to [`NIGHT_STARTS_HOUR`].
pub const DAY_STARTS_HOUR: i64 = 6;
pub const NIGHT_STARTS_HOUR: i64 = 20;

/// The highest limit a client may ask for, per period: R$ 1.000.000,00 (the bank's ceiling;
/// above it the client talks to the bank).
pub const CEILING: Cents = Cents::new(100_000_000);

/// What a bank gives each kind of client until it sets its own limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    pub individual: PixLimits,
    pub company: PixLimits,
}

impl Defaults {
    /// Individuals: R$ 10.000,00 by day, R$ 1.000,00 by night (the BCB's nighttime default);
    /// companies, to whom the nighttime rule does not apply: R$ 100.000,00 in either period.
    pub const STANDARD: Defaults = Defaults {
        individual: PixLimits {
            day: Cents::new(1_000_000),
            night: Cents::new(100_000),
        },
        company: PixLimits {
            day: Cents::new(10_000_000),
            night: Cents::new(10_000_000),
        },
    };

    /// No limit a sum of Pix could reach: for a bank that leaves limits to another layer, and
    /// for tests and benchmarks about something else.
    pub const UNLIMITED: Defaults = Defaults {
        individual: PixLimits {
            day: crate::money::MAX_BALANCE,
            night: crate::money::MAX_BALANCE,
        },
        company: PixLimits {
            day: crate::money::MAX_BALANCE,
            night: crate::money::MAX_BALANCE,
        },
    };
}

/// Which of the two periods a moment falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Night,
}

/// The period a moment falls in, with when it started and when it ends (Unix ms). A night
/// starting at 20:00 runs to 06:00 the next day and is one period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodAt {
    pub period: Period,
    pub starts_ms: i64,
    pub ends_ms: i64,
}

impl PeriodAt {
    /// The period `unix_ms` falls in.
    pub fn of(unix_ms: i64) -> PeriodAt {
        let local = unix_ms + BRASILIA_OFFSET_MS;
        let midnight = local.div_euclid(DAY_MS) * DAY_MS;
        let hour = (local - midnight) / HOUR_MS;
        let utc = |local_ms: i64| local_ms - BRASILIA_OFFSET_MS;
        let (period, starts, ends) = if hour < DAY_STARTS_HOUR {
            (
                Period::Night,
                midnight - DAY_MS + NIGHT_STARTS_HOUR * HOUR_MS,
                midnight + DAY_STARTS_HOUR * HOUR_MS,
            )
        } else if hour < NIGHT_STARTS_HOUR {
            (
                Period::Day,
                midnight + DAY_STARTS_HOUR * HOUR_MS,
                midnight + NIGHT_STARTS_HOUR * HOUR_MS,
            )
        } else {
            (
                Period::Night,
                midnight + NIGHT_STARTS_HOUR * HOUR_MS,
                midnight + DAY_MS + DAY_STARTS_HOUR * HOUR_MS,
            )
        };
        PeriodAt {
            period,
            starts_ms: utc(starts),
            ends_ms: utc(ends),
        }
    }
}

/// A client's two limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixLimits {
    pub day: Cents,
    pub night: Cents,
}

impl PixLimits {
    /// The limit of `period`.
    pub fn of(self, period: Period) -> Cents {
        match period {
            Period::Day => self.day,
            Period::Night => self.night,
        }
    }

    /// Limits a client may ask for: none negative, none above [`CEILING`], the night's not
    /// above the day's.
    pub fn checked(self) -> Result<PixLimits, LimitError> {
        if self.day.get() < 0 || self.night.get() < 0 {
            return Err(LimitError::Negative);
        }
        if self.day > CEILING || self.night > CEILING {
            return Err(LimitError::AboveCeiling);
        }
        if self.night > self.day {
            return Err(LimitError::NightAboveDay);
        }
        Ok(self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum LimitError {
    #[error("a limit below zero")]
    Negative,
    #[error("a limit above the bank's ceiling")]
    AboveCeiling,
    #[error("the nighttime limit above the daytime one")]
    NightAboveDay,
}

/// What an account's limits are: the ones in force, and a raise waiting for its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitSettings {
    pub current: PixLimits,
    /// Limits asked for that raise at least one of the two, in force from the given time.
    pub raise: Option<(PixLimits, i64)>,
}

impl LimitSettings {
    pub fn new(current: PixLimits) -> LimitSettings {
        LimitSettings {
            current,
            raise: None,
        }
    }

    /// The limits in force at `now_ms`.
    pub fn effective(&self, now_ms: i64) -> PixLimits {
        match self.raise {
            Some((raised, from_ms)) if now_ms >= from_ms => raised,
            _ => self.current,
        }
    }

    /// The same settings with a raise whose time came folded into the current limits.
    pub fn settled(self, now_ms: i64) -> LimitSettings {
        LimitSettings::new(self.effective(now_ms)).with_raise(match self.raise {
            Some((_, from_ms)) if now_ms >= from_ms => None,
            raise => raise,
        })
    }

    fn with_raise(mut self, raise: Option<(PixLimits, i64)>) -> LimitSettings {
        self.raise = raise;
        self
    }

    /// The client asks for `wanted` at `now_ms`. Each limit lowered (or kept) takes effect at
    /// once; if either is raised, the whole request waits [`RAISE_DELAY_MS`], while what was
    /// lowered already counts (a raise asked for earlier and not yet in force is replaced).
    pub fn request(self, wanted: PixLimits, now_ms: i64) -> Result<LimitSettings, LimitError> {
        let wanted = wanted.checked()?;
        let now = self.settled(now_ms).current;
        let at_once = PixLimits {
            day: wanted.day.min(now.day),
            night: wanted.night.min(now.night),
        };
        Ok(if at_once == wanted {
            LimitSettings::new(wanted)
        } else {
            LimitSettings {
                current: at_once,
                raise: Some((wanted, now_ms.saturating_add(RAISE_DELAY_MS))),
            }
        })
    }
}

/// What a client sees of its limits at a moment: the settings, the period it is in and until
/// when, and how much its Pix debits may still take in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsView {
    pub settings: LimitSettings,
    pub period: Period,
    pub period_ends_ms: i64,
    pub used: Cents,
    pub remaining: Cents,
}

impl LimitsView {
    pub fn at(settings: LimitSettings, used: Cents, now_ms: i64) -> LimitsView {
        let at = PeriodAt::of(now_ms);
        let limit = settings.effective(now_ms).of(at.period);
        LimitsView {
            settings: settings.settled(now_ms),
            period: at.period,
            period_ends_ms: at.ends_ms,
            used,
            remaining: Cents::new((limit.get() - used.get()).max(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 00:00 in Brasília, as Unix ms (03:00 UTC).
    const MIDNIGHT: i64 = 1_796_612_400_000;

    fn at(hour: i64, minute: i64) -> i64 {
        MIDNIGHT + hour * HOUR_MS + minute * 60_000
    }

    fn limits(day: i64, night: i64) -> PixLimits {
        PixLimits {
            day: Cents::new(day),
            night: Cents::new(night),
        }
    }

    #[test]
    fn the_midnight_constant_is_brasilia_midnight() {
        assert_eq!(
            crate::time_fmt::format_brasilia(MIDNIGHT),
            "07/12/2026 00:00"
        );
    }

    #[test]
    fn periods_turn_at_six_and_at_eight_in_brasilia() {
        assert_eq!(PeriodAt::of(at(5, 59)).period, Period::Night);
        assert_eq!(PeriodAt::of(at(6, 0)).period, Period::Day);
        assert_eq!(PeriodAt::of(at(19, 59)).period, Period::Day);
        assert_eq!(PeriodAt::of(at(20, 0)).period, Period::Night);
        // One night from 20:00 to 06:00 the next day, across midnight.
        let evening = PeriodAt::of(at(23, 30));
        let small_hours = PeriodAt::of(at(24 + 2, 0));
        assert_eq!(evening, small_hours);
        assert_eq!(evening.starts_ms, at(20, 0));
        assert_eq!(evening.ends_ms, at(24 + 6, 0));
        let day = PeriodAt::of(at(12, 0));
        assert_eq!((day.starts_ms, day.ends_ms), (at(6, 0), at(20, 0)));
    }

    #[test]
    fn lowering_counts_at_once_and_raising_after_24_hours() {
        let start = LimitSettings::new(limits(500_000, 100_000));
        let now = at(21, 0);
        let lower = start.request(limits(500_000, 20_000), now).unwrap();
        assert_eq!(lower.effective(now), limits(500_000, 20_000));
        assert_eq!(lower.raise, None);

        // Night raised, day lowered: the day counts at once, the night waits.
        let raise = lower.request(limits(300_000, 200_000), now).unwrap();
        assert_eq!(raise.effective(now), limits(300_000, 20_000));
        assert_eq!(
            raise.effective(now + RAISE_DELAY_MS - 1).night.get(),
            20_000
        );
        assert_eq!(
            raise.effective(now + RAISE_DELAY_MS),
            limits(300_000, 200_000)
        );
        assert_eq!(
            raise.settled(now + RAISE_DELAY_MS),
            LimitSettings::new(limits(300_000, 200_000))
        );

        // Asking again before then replaces the raise; lowering is never delayed by it.
        let again = raise.request(limits(300_000, 10_000), now + 1).unwrap();
        assert_eq!(again, LimitSettings::new(limits(300_000, 10_000)));
    }

    #[test]
    fn impossible_limits_are_refused() {
        let start = LimitSettings::new(limits(500_000, 100_000));
        assert_eq!(
            start.request(limits(100, 200), 0),
            Err(LimitError::NightAboveDay)
        );
        assert_eq!(start.request(limits(-1, 0), 0), Err(LimitError::Negative));
        assert_eq!(
            start.request(limits(CEILING.get() + 1, 0), 0),
            Err(LimitError::AboveCeiling)
        );
        assert!(
            start.request(limits(0, 0), 0).is_ok(),
            "a client may block Pix"
        );
    }

    #[test]
    fn the_view_says_what_remains_in_the_period() {
        let settings = LimitSettings::new(limits(500_000, 100_000));
        let night = LimitsView::at(settings, Cents::new(80_000), at(22, 0));
        assert_eq!(night.period, Period::Night);
        assert_eq!(night.remaining.get(), 20_000);
        assert_eq!(night.period_ends_ms, at(24 + 6, 0));
        let over = LimitsView::at(settings, Cents::new(150_000), at(22, 0));
        assert_eq!(over.remaining, Cents::ZERO, "lowered below what was used");
    }
}
