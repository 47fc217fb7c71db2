//! Money is a whole number of cents in an `i64`. There is no float anywhere on the path from a
//! form field to the database: amounts typed by a client are parsed from text with [`Cents::parse_amount`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in cents (R$ 0,01). Serialised as a JSON integer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(i64);

/// Largest amount a single deposit or transfer may carry: R$ 1.000.000.000,00.
pub const MAX_OPERATION: Cents = Cents(100_000_000_000);
/// Largest balance an account may reach: R$ 10.000.000.000.000,00. Far below `i64::MAX`, so sums
/// of balances across a whole bank cannot overflow either.
pub const MAX_BALANCE: Cents = Cents(1_000_000_000_000_000);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum MoneyError {
    #[error("empty amount")]
    Empty,
    #[error("amount not a number")]
    NotANumber,
    #[error("amount has more than two decimals")]
    TooPrecise,
    #[error("amount not positive")]
    NotPositive,
    #[error("amount above the operation limit")]
    TooLarge,
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// Any integer number of cents; callers that accept client input use [`Cents::parse_amount`]
    /// or [`Cents::amount`], which also enforce the per-operation limits.
    pub const fn new(cents: i64) -> Cents {
        Cents(cents)
    }

    /// A positive amount no larger than [`MAX_OPERATION`]: what a deposit or transfer may carry.
    pub fn amount(cents: i64) -> Result<Cents, MoneyError> {
        if cents <= 0 {
            Err(MoneyError::NotPositive)
        } else if cents > MAX_OPERATION.0 {
            Err(MoneyError::TooLarge)
        } else {
            Ok(Cents(cents))
        }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }

    /// Parses an amount as a client types it and checks the per-operation limits.
    /// Accepts `1234,56`, `1.234,56`, `R$ 1.234,56`, `1234.56`, `1.234.56`, `1234`, `0,5`.
    /// Rejects negatives, zero, more than two decimals, letters, and amounts over [`MAX_OPERATION`].
    pub fn parse_amount(text: &str) -> Result<Cents, MoneyError> {
        let cents = parse_cents(text)?;
        Cents::amount(cents)
    }

    /// Parses a limit as a client types it: like [`Cents::parse_amount`], but zero is allowed
    /// (a client may block Pix in a period) and the caller checks the ceiling.
    pub fn parse_limit(text: &str) -> Result<Cents, MoneyError> {
        parse_cents(text).map(Cents)
    }

    /// Formats as Brazilian reais: `R$ 1.234,56`, `-R$ 0,50`.
    pub fn to_brl(self) -> String {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let reais = abs / 100;
        let cents = abs % 100;
        let digits = reais.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push('.');
            }
            grouped.push(ch);
        }
        let sign = if negative { "-" } else { "" };
        format!("{sign}R$ {grouped},{cents:02}")
    }

    /// The amount without currency symbol, as a client would type it back: `1234,56`.
    pub fn to_input(self) -> String {
        format!("{},{:02}", self.0 / 100, (self.0 % 100).abs())
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_brl())
    }
}

/// Text to cents. Comma is the decimal separator; dots group thousands. For convenience a last dot
/// followed by one or two digits (`12.5`, `1234.56`, `1.234.56`) is read as a decimal point, since
/// no grouping leaves fewer than three digits after a dot.
fn parse_cents(text: &str) -> Result<i64, MoneyError> {
    let trimmed = text.trim();
    let trimmed = trimmed.strip_prefix("R$").unwrap_or(trimmed).trim();
    if trimmed.is_empty() {
        return Err(MoneyError::Empty);
    }
    if trimmed.starts_with('-') {
        return Err(MoneyError::NotPositive);
    }
    if trimmed.len() > 40 {
        return Err(MoneyError::TooLarge);
    }
    let (integer, fraction) = split_decimal(trimmed)?;
    let integer_digits = ungroup(integer)?;
    if fraction.len() > 2 {
        return Err(MoneyError::TooPrecise);
    }
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return Err(MoneyError::NotANumber);
    }
    if integer_digits.is_empty() && fraction.is_empty() {
        return Err(MoneyError::NotANumber);
    }
    let reais: i64 = if integer_digits.is_empty() {
        0
    } else {
        integer_digits.parse().map_err(|_| MoneyError::TooLarge)?
    };
    let mut cents_part: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| MoneyError::NotANumber)?
    };
    if fraction.len() == 1 {
        cents_part *= 10;
    }
    reais
        .checked_mul(100)
        .and_then(|r| r.checked_add(cents_part))
        .ok_or(MoneyError::TooLarge)
}

fn split_decimal(text: &str) -> Result<(&str, &str), MoneyError> {
    if let Some((integer, fraction)) = text.split_once(',') {
        if fraction.contains(',') || fraction.contains('.') {
            return Err(MoneyError::NotANumber);
        }
        return Ok((integer, fraction));
    }
    if let Some(dot) = text.rfind('.') {
        let after = &text[dot + 1..];
        if text.matches('.').count() == 1 && !after.is_empty() && after.len() != 3 {
            return Ok((&text[..dot], after));
        }
        // Dots grouping the reais, then a decimal point (`1.234.56`, as the amount mask leaves
        // `1234.56` typed digit by digit): no group has one or two digits, so it is no group.
        if (1..=2).contains(&after.len()) {
            return Ok((&text[..dot], after));
        }
    }
    Ok((text, ""))
}

/// Removes thousands separators, insisting that they sit every three digits.
fn ungroup(integer: &str) -> Result<String, MoneyError> {
    if !integer.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(MoneyError::NotANumber);
    }
    if !integer.contains('.') {
        return Ok(integer.to_string());
    }
    let groups: Vec<&str> = integer.split('.').collect();
    let first_ok = !groups[0].is_empty() && groups[0].len() <= 3;
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    if !(first_ok && rest_ok) {
        return Err(MoneyError::NotANumber);
    }
    Ok(groups.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_ways_clients_type_amounts() {
        let cases = [
            ("1234,56", 123_456),
            ("1.234,56", 123_456),
            ("1.234.56", 123_456),
            ("R$ 1.234,56", 123_456),
            ("1234.56", 123_456),
            ("12.5", 1_250),
            ("0,5", 50),
            (",75", 75),
            ("1.000", 100_000),
            ("1.000.000", 100_000_000),
            ("7", 700),
            ("  10,00 ", 1_000),
        ];
        for (text, cents) in cases {
            assert_eq!(Cents::parse_amount(text), Ok(Cents(cents)), "{text}");
        }
    }

    #[test]
    fn rejects_bad_amounts_with_a_reason() {
        let cases = [
            ("", MoneyError::Empty),
            ("R$", MoneyError::Empty),
            ("0", MoneyError::NotPositive),
            ("0,00", MoneyError::NotPositive),
            ("-5", MoneyError::NotPositive),
            ("0,001", MoneyError::TooPrecise),
            ("abc", MoneyError::NotANumber),
            ("NaN", MoneyError::NotANumber),
            ("inf", MoneyError::NotANumber),
            ("1e5", MoneyError::NotANumber),
            ("1,2,3", MoneyError::NotANumber),
            ("12.34.5", MoneyError::NotANumber),
            ("1.23,4.5", MoneyError::NotANumber),
            ("99999999999999999999", MoneyError::TooLarge),
            ("1.000.000.000,01", MoneyError::TooLarge),
            (",", MoneyError::NotANumber),
        ];
        for (text, err) in cases {
            assert_eq!(Cents::parse_amount(text), Err(err), "{text}");
        }
        assert_eq!(Cents::parse_amount("1.000.000.000,00"), Ok(MAX_OPERATION));
    }

    #[test]
    fn formats_as_reais() {
        assert_eq!(Cents(0).to_brl(), "R$ 0,00");
        assert_eq!(Cents(5).to_brl(), "R$ 0,05");
        assert_eq!(Cents(123_456).to_brl(), "R$ 1.234,56");
        assert_eq!(Cents(100_000_000).to_brl(), "R$ 1.000.000,00");
        assert_eq!(Cents(-50).to_brl(), "-R$ 0,50");
        assert_eq!(Cents(i64::MIN).to_brl(), "-R$ 92.233.720.368.547.758,08");
    }

    #[test]
    fn serialises_as_an_integer() {
        assert_eq!(serde_json::to_string(&Cents(150)).unwrap(), "150");
        assert!(serde_json::from_str::<Cents>("1.5").is_err());
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_round_trips(cents in 1i64..=MAX_OPERATION.get()) {
            let shown = Cents(cents).to_brl();
            prop_assert_eq!(Cents::parse_amount(&shown), Ok(Cents(cents)));
            prop_assert_eq!(Cents::parse_amount(&Cents(cents).to_input()), Ok(Cents(cents)));
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,30}") {
            let _ = Cents::parse_amount(&text);
        }
    }
}
