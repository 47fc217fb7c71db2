//! CPF (individuals, 11 digits) and CNPJ (companies, 14 digits), parsed with their check digits.
//! A parsed value holds only the digits; formatting is a view.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum TaxIdError {
    #[error("empty tax id")]
    Empty,
    #[error("tax id of {0} digits")]
    WrongLength(usize),
    #[error("tax id has a character not allowed")]
    BadCharacter,
    #[error("CPF check digits do not match")]
    BadCpf,
    #[error("CNPJ check digits do not match")]
    BadCnpj,
}

/// An individual's taxpayer number. Always 11 digits with valid check digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpf([u8; 11]);

/// A company's taxpayer number. Always 14 digits with valid check digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cnpj([u8; 14]);

/// Either kind of taxpayer number; this is also the Pix key of an account.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxId {
    Cpf(Cpf),
    Cnpj(Cnpj),
}

/// Keeps digits, drops the usual punctuation, rejects anything else.
fn digits_of(text: &str) -> Result<Vec<u8>, TaxIdError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TaxIdError::Empty);
    }
    if text.len() > 32 {
        return Err(TaxIdError::WrongLength(text.len()));
    }
    let mut digits = Vec::with_capacity(14);
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c as u8 - b'0'),
            '.' | '-' | '/' | ' ' => {}
            _ => return Err(TaxIdError::BadCharacter),
        }
    }
    Ok(digits)
}

/// Mod-11 check digit over `digits` with the given weights.
fn check_digit(digits: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(&d, &w)| d as u32 * w)
        .sum();
    let rest = sum % 11;
    if rest < 2 {
        0
    } else {
        (11 - rest) as u8
    }
}

fn all_same(digits: &[u8]) -> bool {
    digits.iter().all(|&d| d == digits[0])
}

const CPF_FIRST_WEIGHTS: [u32; 9] = [10, 9, 8, 7, 6, 5, 4, 3, 2];
const CPF_SECOND_WEIGHTS: [u32; 10] = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];

impl Cpf {
    pub fn parse(text: &str) -> Result<Cpf, TaxIdError> {
        let digits = digits_of(text)?;
        Cpf::from_digits(&digits)
    }

    fn from_digits(digits: &[u8]) -> Result<Cpf, TaxIdError> {
        let digits: [u8; 11] = digits
            .try_into()
            .map_err(|_| TaxIdError::WrongLength(digits.len()))?;
        if all_same(&digits) {
            return Err(TaxIdError::BadCpf);
        }
        let first = check_digit(&digits[..9], &CPF_FIRST_WEIGHTS);
        let second = check_digit(&digits[..10], &CPF_SECOND_WEIGHTS);
        if digits[9] != first || digits[10] != second {
            return Err(TaxIdError::BadCpf);
        }
        Ok(Cpf(digits))
    }

    /// The CPF whose nine base digits are `base` (zero-padded), completed with its check digits:
    /// for generating valid test and load data. Fails where no valid CPF exists (all digits equal).
    pub fn completing(base: u32) -> Result<Cpf, TaxIdError> {
        if base >= 1_000_000_000 {
            return Err(TaxIdError::WrongLength(10));
        }
        let mut digits = [0u8; 11];
        for (d, c) in digits.iter_mut().zip(format!("{base:09}").bytes()) {
            *d = c - b'0';
        }
        digits[9] = check_digit(&digits[..9], &CPF_FIRST_WEIGHTS);
        digits[10] = check_digit(&digits[..10], &CPF_SECOND_WEIGHTS);
        Cpf::from_digits(&digits)
    }

    /// `***.456.789-**`: the middle six digits, as Brazilian banks show a receiver's CPF.
    pub fn masked(&self) -> String {
        let d: String = self.0.iter().map(|d| (b'0' + d) as char).collect();
        format!("***.{}.{}-**", &d[3..6], &d[6..9])
    }
}

impl Cnpj {
    pub fn parse(text: &str) -> Result<Cnpj, TaxIdError> {
        let digits = digits_of(text)?;
        Cnpj::from_digits(&digits)
    }

    fn from_digits(digits: &[u8]) -> Result<Cnpj, TaxIdError> {
        let digits: [u8; 14] = digits
            .try_into()
            .map_err(|_| TaxIdError::WrongLength(digits.len()))?;
        if all_same(&digits) {
            return Err(TaxIdError::BadCnpj);
        }
        let first = check_digit(&digits[..12], &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
        let second = check_digit(&digits[..13], &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
        if digits[12] != first || digits[13] != second {
            return Err(TaxIdError::BadCnpj);
        }
        Ok(Cnpj(digits))
    }
}

impl TaxId {
    /// Parses a CPF or a CNPJ, telling them apart by their number of digits.
    pub fn parse(text: &str) -> Result<TaxId, TaxIdError> {
        let digits = digits_of(text)?;
        match digits.len() {
            11 => Cpf::from_digits(&digits).map(TaxId::Cpf),
            14 => Cnpj::from_digits(&digits).map(TaxId::Cnpj),
            n => Err(TaxIdError::WrongLength(n)),
        }
    }

    pub fn is_company(&self) -> bool {
        matches!(self, TaxId::Cnpj(_))
    }

    /// Only the digits: the canonical form stored in the database.
    pub fn digits(&self) -> String {
        let raw: &[u8] = match self {
            TaxId::Cpf(c) => &c.0,
            TaxId::Cnpj(c) => &c.0,
        };
        raw.iter().map(|d| (b'0' + d) as char).collect()
    }

    /// A CPF partly hidden (it identifies a person); a CNPJ in full (it is public).
    pub fn masked(&self) -> String {
        match self {
            TaxId::Cpf(c) => c.masked(),
            TaxId::Cnpj(c) => c.to_string(),
        }
    }
}

impl fmt::Display for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d: String = self.0.iter().map(|d| (b'0' + d) as char).collect();
        write!(f, "{}.{}.{}-{}", &d[0..3], &d[3..6], &d[6..9], &d[9..11])
    }
}

impl fmt::Display for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d: String = self.0.iter().map(|d| (b'0' + d) as char).collect();
        write!(
            f,
            "{}.{}.{}/{}-{}",
            &d[0..2],
            &d[2..5],
            &d[5..8],
            &d[8..12],
            &d[12..14]
        )
    }
}

impl fmt::Display for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaxId::Cpf(c) => c.fmt(f),
            TaxId::Cnpj(c) => c.fmt(f),
        }
    }
}

impl fmt::Debug for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpf({self})")
    }
}
impl fmt::Debug for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cnpj({self})")
    }
}
impl fmt::Debug for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// On the wire a tax id is its digits; deserialising re-checks them, so a peer or browser cannot
/// smuggle in an invalid one.
impl Serialize for TaxId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.digits())
    }
}

impl<'de> Deserialize<'de> for TaxId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TaxId, D::Error> {
        let text = String::deserialize(d)?;
        TaxId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a valid CPF from nine digits, the way the check digits are defined.
    fn cpf_from_base(base: [u8; 9]) -> String {
        let mut d = base.to_vec();
        d.push(check_digit(&d, &[10, 9, 8, 7, 6, 5, 4, 3, 2]));
        d.push(check_digit(&d, &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2]));
        d.iter().map(|x| (b'0' + x) as char).collect()
    }

    #[test]
    fn known_valid_numbers_parse_in_any_punctuation() {
        for text in ["529.982.247-25", "52998224725", " 529 982 247 25 "] {
            let id = TaxId::parse(text).unwrap();
            assert_eq!(id.to_string(), "529.982.247-25");
            assert_eq!(id.masked(), "***.982.247-**");
        }
        let cnpj = TaxId::parse("11.222.333/0001-81").unwrap();
        assert!(cnpj.is_company());
        assert_eq!(cnpj.digits(), "11222333000181");
        assert_eq!(cnpj.to_string(), "11.222.333/0001-81");
    }

    #[test]
    fn invalid_numbers_are_refused_with_the_reason() {
        assert_eq!(TaxId::parse("529.982.247-24"), Err(TaxIdError::BadCpf));
        assert_eq!(TaxId::parse("111.111.111-11"), Err(TaxIdError::BadCpf));
        assert_eq!(TaxId::parse("11.222.333/0001-82"), Err(TaxIdError::BadCnpj));
        assert_eq!(TaxId::parse("00000000000000"), Err(TaxIdError::BadCnpj));
        assert_eq!(TaxId::parse("1234"), Err(TaxIdError::WrongLength(4)));
        assert_eq!(
            TaxId::parse("529.982.247-2a"),
            Err(TaxIdError::BadCharacter)
        );
        assert_eq!(
            TaxId::parse("'; DROP TABLE accounts;--"),
            Err(TaxIdError::BadCharacter)
        );
        assert_eq!(TaxId::parse("  "), Err(TaxIdError::Empty));
        assert_eq!(
            Cpf::parse("11.222.333/0001-81"),
            Err(TaxIdError::WrongLength(14))
        );
    }

    #[test]
    fn wire_form_is_digits_and_is_rechecked() {
        let id = TaxId::parse("529.982.247-25").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"52998224725\"");
        assert!(serde_json::from_str::<TaxId>("\"52998224724\"").is_err());
    }

    proptest! {
        #[test]
        fn every_generated_cpf_parses_and_a_changed_check_digit_is_caught(
            base in proptest::array::uniform9(0u8..10), pos in 9usize..11, delta in 1u8..10
        ) {
            let text = cpf_from_base(base);
            prop_assume!(!all_same(text.as_bytes()));
            prop_assert!(Cpf::parse(&text).is_ok());
            let mut bytes = text.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(Cpf::parse(&changed).is_err());
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = TaxId::parse(&text);
        }
    }

    #[test]
    fn a_base_is_completed_with_its_check_digits() {
        assert_eq!(
            Cpf::completing(529_982_247).unwrap().to_string(),
            "529.982.247-25"
        );
        assert_eq!(
            Cpf::completing(111_444_777).unwrap().to_string(),
            "111.444.777-35"
        );
        assert_eq!(
            Cpf::completing(39_053_344).unwrap().to_string(),
            "039.053.344-02"
        );
        assert_eq!(Cpf::completing(222_222_222), Err(TaxIdError::BadCpf));
        assert!(Cpf::completing(1_000_000_000).is_err());
    }
}
