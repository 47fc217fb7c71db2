//! A Pix key, as Brazil's instant payments define them: a CPF, a CNPJ, an e-mail address, a mobile
//! phone number (`+55`, area code, number) or an EVP (a random UUID the bank generates). One home
//! for the concept: parsed once from what a client types, written in one canonical form (the form
//! that crosses banks and is stored), shown masked.

use crate::input;
use crate::tax_id::{Cnpj, Cpf, TaxId, TaxIdError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The longest key the directory accepts (BCB's limit, set by e-mail keys).
pub const KEY_MAX_CHARS: usize = 77;
/// Keys an individual's account may have (BCB's rule).
pub const KEYS_PER_PERSON: usize = 5;
/// Keys a company's account may have.
pub const KEYS_PER_COMPANY: usize = 20;
/// Digits of the code that confirms an e-mail or phone key.
pub const CODE_DIGITS: u32 = 6;
/// How long such a code is good for.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1_000;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixKey {
    Cpf(Cpf),
    Cnpj(Cnpj),
    /// Lower-case.
    Email(String),
    /// `+55` followed by the area code and the number: 10 or 11 digits.
    Phone(String),
    /// A random UUID, lower-case, with its dashes.
    Evp(String),
}

/// The five kinds of key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyKind {
    Cpf,
    Cnpj,
    Email,
    Phone,
    Evp,
}

impl KeyKind {
    /// Every kind, in the order a client is offered them.
    pub const ALL: [KeyKind; 5] = [
        KeyKind::Cpf,
        KeyKind::Cnpj,
        KeyKind::Email,
        KeyKind::Phone,
        KeyKind::Evp,
    ];

    /// The kind's name, as forms and pages write it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Cpf => "cpf",
            KeyKind::Cnpj => "cnpj",
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
            KeyKind::Evp => "evp",
        }
    }

    /// The kind named `text` (see [`KeyKind::as_str`]).
    pub fn parse(text: &str) -> Option<KeyKind> {
        KeyKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// A holder's CPF or CNPJ.
    pub fn is_document(self) -> bool {
        matches!(self, KeyKind::Cpf | KeyKind::Cnpj)
    }
}

/// Why a text is not a Pix key (developer text; the app says it in the client's words).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PixKeyError {
    #[error("empty key")]
    Empty,
    #[error("key longer than {KEY_MAX_CHARS} characters")]
    TooLong,
    #[error("invalid e-mail key")]
    Email,
    #[error("invalid phone key")]
    Phone,
    #[error("invalid random key")]
    Evp,
    #[error("{0}")]
    TaxId(TaxIdError),
}

/// The digits of a phone number typed with the usual punctuation (spaces, dashes, one pair of
/// parentheses around the area code), or `None` when anything else is in it.
fn phone_digits(t: &str) -> Option<String> {
    let t = t.trim();
    let allowed = t.chars().all(|c| c.is_ascii_digit() || " ()-".contains(c));
    let parens = (t.matches('(').count(), t.matches(')').count());
    let paired = match parens {
        (0, 0) => true,
        (1, 1) => t.find('(') < t.find(')'),
        _ => false,
    };
    (allowed && paired).then(|| t.chars().filter(char::is_ascii_digit).collect())
}

/// Area code then number, as Brazil numbers phones: an area code (DDD) of two digits from 1 to
/// 9 (11 to 99; none has a 0), then a mobile number (nine digits starting with 9) or a landline
/// (eight digits starting with 2 to 5).
fn is_national_phone(digits: &str) -> bool {
    let b = digits.as_bytes();
    let ddd = b.len() >= 2 && (b'1'..=b'9').contains(&b[0]) && (b'1'..=b'9').contains(&b[1]);
    let number = match b.len() {
        11 => b[2] == b'9',
        10 => (b'2'..=b'5').contains(&b[2]),
        _ => false,
    };
    ddd && number
}

/// A phone number typed without the country code: its area code and number, when the text is
/// one.
fn national_phone(t: &str) -> Option<String> {
    phone_digits(t).filter(|d| is_national_phone(d))
}

fn is_uuid(t: &str) -> bool {
    t.len() == 36
        && t.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl PixKey {
    /// A key as a client types it: the kind is recognised from its shape (an `@` makes an
    /// e-mail, a leading `+` or an area code in parentheses a phone, a UUID a random key, digits
    /// a CPF or CNPJ). Digits alone are read as Brazilians type them: eleven digits that make a
    /// valid CPF are that CPF; otherwise a mobile number (`21998765432`, `21 99876-5432`) or a
    /// landline with its area code is a phone.
    pub fn parse(text: &str) -> Result<PixKey, PixKeyError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(PixKeyError::Empty);
        }
        if t.chars().count() > KEY_MAX_CHARS {
            return Err(PixKeyError::TooLong);
        }
        if t.contains('@') {
            return input::email(t)
                .map(PixKey::Email)
                .map_err(|_| PixKeyError::Email);
        }
        let phone_shaped = t.chars().all(|c| c.is_ascii_digit() || " ()-".contains(c));
        if t.starts_with('+') || (t.contains(['(', ')']) && phone_shaped) {
            return PixKey::parse_phone(t);
        }
        if is_uuid(t) {
            return Ok(PixKey::Evp(t.to_ascii_lowercase()));
        }
        if t.len() == 36 && t.contains('-') && t.chars().filter(|c| *c == '-').count() == 4 {
            return Err(PixKeyError::Evp);
        }
        match TaxId::parse(t) {
            Ok(id) => Ok(PixKey::from(id)),
            Err(e) => match national_phone(t) {
                Some(national) => Ok(PixKey::Phone(format!("+55{national}"))),
                None => Err(PixKeyError::TaxId(e)),
            },
        }
    }

    /// A phone key typed in any of the usual Brazilian ways, when the client said it is a phone:
    /// `+55 21 99876-5432`, `+5521998765432`, `(21) 99876-5432`, `21 99876-5432`,
    /// `21998765432` (even where those eleven digits also make a valid CPF). Normalised to
    /// `+55` followed by the area code and the number.
    pub fn parse_phone(text: &str) -> Result<PixKey, PixKeyError> {
        let t = text.trim();
        let national = match t.strip_prefix('+') {
            // With the country code, any 10 or 11 digits after it, as keys were always read
            // (other banks and stored directories hold them so).
            Some(rest) => {
                let digits = phone_digits(rest).ok_or(PixKeyError::Phone)?;
                let national = digits.strip_prefix("55").ok_or(PixKeyError::Phone)?;
                (10..=11)
                    .contains(&national.len())
                    .then(|| national.to_string())
                    .ok_or(PixKeyError::Phone)?
            }
            None => national_phone(t).ok_or(PixKeyError::Phone)?,
        };
        Ok(PixKey::Phone(format!("+55{national}")))
    }

    /// A random key from 16 random bytes (the caller's randomness: this crate does no I/O), as a
    /// version-4 UUID.
    pub fn evp_from(mut bytes: [u8; 16]) -> PixKey {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        PixKey::Evp(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            PixKey::Cpf(_) => KeyKind::Cpf,
            PixKey::Cnpj(_) => KeyKind::Cnpj,
            PixKey::Email(_) => KeyKind::Email,
            PixKey::Phone(_) => KeyKind::Phone,
            PixKey::Evp(_) => KeyKind::Evp,
        }
    }

    /// The document, for a CPF or CNPJ key.
    pub fn tax_id(&self) -> Option<TaxId> {
        match self {
            PixKey::Cpf(c) => Some(TaxId::Cpf(*c)),
            PixKey::Cnpj(c) => Some(TaxId::Cnpj(*c)),
            _ => None,
        }
    }

    /// The canonical form: digits for a CPF or CNPJ, the lower-case e-mail, `+55…`, the UUID.
    pub fn canonical(&self) -> String {
        match self {
            PixKey::Cpf(c) => TaxId::Cpf(*c).digits(),
            PixKey::Cnpj(c) => TaxId::Cnpj(*c).digits(),
            PixKey::Email(e) | PixKey::Phone(e) | PixKey::Evp(e) => e.clone(),
        }
    }

    /// How a payer sees the key of someone else: a CPF as `***.444.777-**`, an e-mail as
    /// `a***@example.com`, a phone as `+55 11 *****-4321`; a CNPJ (a company's, public) and a
    /// random key (it says nothing about anyone) in full.
    pub fn masked(&self) -> String {
        match self {
            PixKey::Cpf(c) => c.masked(),
            PixKey::Cnpj(c) => c.to_string(),
            PixKey::Email(e) => {
                let (local, domain) = e.split_once('@').unwrap_or((e, ""));
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            PixKey::Phone(p) => {
                let national = &p[3..];
                let last: String = national[national.len() - 4..].to_string();
                format!("+55 {} *****-{last}", &national[..2])
            }
            PixKey::Evp(u) => u.clone(),
        }
    }
}

impl From<TaxId> for PixKey {
    fn from(id: TaxId) -> PixKey {
        match id {
            TaxId::Cpf(c) => PixKey::Cpf(c),
            TaxId::Cnpj(c) => PixKey::Cnpj(c),
        }
    }
}

/// The key as its owner typed it, formatted: `529.982.247-25`, `+55 11 98765-4321`.
impl fmt::Display for PixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PixKey::Cpf(c) => write!(f, "{c}"),
            PixKey::Cnpj(c) => write!(f, "{c}"),
            PixKey::Phone(p) => {
                let n = &p[3..];
                let split = n.len() - 4;
                write!(f, "+55 {} {}-{}", &n[..2], &n[2..split], &n[split..])
            }
            PixKey::Email(e) | PixKey::Evp(e) => f.write_str(e),
        }
    }
}

impl fmt::Debug for PixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PixKey({})", self.masked())
    }
}

impl Serialize for PixKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.canonical())
    }
}

impl<'de> Deserialize<'de> for PixKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PixKey, D::Error> {
        let text = String::deserialize(d)?;
        PixKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_kind_is_recognised_and_canonical() {
        let cases = [
            (
                "529.982.247-25",
                KeyKind::Cpf,
                "52998224725",
                "***.982.247-**",
            ),
            (
                "11.222.333/0001-81",
                KeyKind::Cnpj,
                "11222333000181",
                "11.222.333/0001-81",
            ),
            (
                " Ana.Lima@Example.com ",
                KeyKind::Email,
                "ana.lima@example.com",
                "a***@example.com",
            ),
            (
                "+55 (11) 98765-4321",
                KeyKind::Phone,
                "+5511987654321",
                "+55 11 *****-4321",
            ),
            (
                "+551133334444",
                KeyKind::Phone,
                "+551133334444",
                "+55 11 *****-4444",
            ),
            (
                "123E4567-E89B-42D3-A456-426614174000",
                KeyKind::Evp,
                "123e4567-e89b-42d3-a456-426614174000",
                "123e4567-e89b-42d3-a456-426614174000",
            ),
        ];
        for (typed, kind, canonical, masked) in cases {
            let key = PixKey::parse(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(key.kind(), kind, "{typed}");
            assert_eq!(key.canonical(), canonical);
            assert_eq!(key.masked(), masked);
            assert_eq!(PixKey::parse(&key.canonical()), Ok(key.clone()));
            assert_eq!(PixKey::parse(&key.to_string()), Ok(key.clone()));
            let json = serde_json::to_string(&key).unwrap();
            assert_eq!(serde_json::from_str::<PixKey>(&json).unwrap(), key);
        }
        assert_eq!(
            PixKey::parse("+5511987654321").unwrap().to_string(),
            "+55 11 98765-4321"
        );
    }

    #[test]
    fn malformed_keys_of_each_kind_are_refused_with_their_reason() {
        assert_eq!(PixKey::parse("  "), Err(PixKeyError::Empty));
        assert_eq!(PixKey::parse("ana@"), Err(PixKeyError::Email));
        assert_eq!(PixKey::parse("ana@example"), Err(PixKeyError::Email));
        assert_eq!(
            PixKey::parse(&format!("{}@x.com", "a".repeat(80))),
            Err(PixKeyError::TooLong)
        );
        assert_eq!(PixKey::parse("+1 212 555 0100"), Err(PixKeyError::Phone));
        assert_eq!(PixKey::parse("+55 11 9876"), Err(PixKeyError::Phone));
        assert_eq!(PixKey::parse("+55 11 98765-4321+"), Err(PixKeyError::Phone));
        assert_eq!(
            PixKey::parse("123e4567-e89b-42d3-a456-42661417400g"),
            Err(PixKeyError::Evp)
        );
        assert_eq!(
            PixKey::parse("529.982.247-24"),
            Err(PixKeyError::TaxId(TaxIdError::BadCpf))
        );
        assert_eq!(PixKey::parse("(21) 9876"), Err(PixKeyError::Phone));
        assert_eq!(PixKey::parse("(21 99876-5432"), Err(PixKeyError::Phone));
        assert_eq!(PixKey::parse(")21( 99876-5432"), Err(PixKeyError::Phone));
        // Parentheses around anything but a phone's digits make no phone.
        assert_eq!(
            PixKey::parse("<script>alert(1)</script>"),
            Err(PixKeyError::TaxId(TaxIdError::BadCharacter))
        );
        // Eleven digits that are neither a valid CPF nor a mobile (no 9 after the area code).
        assert_eq!(
            PixKey::parse("21898765432"),
            Err(PixKeyError::TaxId(TaxIdError::BadCpf))
        );
        // An area code with a 0 is none.
        assert_eq!(
            PixKey::parse("20998765432"),
            Err(PixKeyError::TaxId(TaxIdError::BadCpf))
        );
        assert!(PixKey::parse("'; DROP TABLE keys;--").is_err());
        assert!(serde_json::from_str::<PixKey>("\"not a key\"").is_err());
    }

    /// Issue 27: a Brazilian mobile is typed in many ways; each is the Pix key `+55…`.
    #[test]
    fn mobiles_typed_the_brazilian_way_are_phone_keys() {
        for typed in [
            "(21) 99876-5432",
            "21 99876-5432",
            "+55 21 99876-5432",
            "21998765432",
            "+5521998765432",
            " (21)99876-5432 ",
            "+55 (21) 99876 5432",
        ] {
            let key = PixKey::parse(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(key.kind(), KeyKind::Phone, "{typed}");
            assert_eq!(key.canonical(), "+5521998765432", "{typed}");
            assert_eq!(PixKey::parse_phone(typed), Ok(key), "{typed}");
        }
        // A landline with its area code, typed without +55.
        assert_eq!(
            PixKey::parse("(21) 3333-4444").map(|k| k.canonical()),
            Ok("+552133334444".into())
        );
        assert_eq!(
            PixKey::parse("2133334444").map(|k| k.canonical()),
            Ok("+552133334444".into())
        );
    }

    /// Eleven digits that make a valid CPF are a CPF, even when they could be a mobile number;
    /// said to be a phone, they are that phone.
    #[test]
    fn eleven_digits_are_a_cpf_when_valid_and_a_phone_otherwise() {
        // 21998765432 is no valid CPF: a phone.
        assert!(crate::tax_id::Cpf::parse("21998765432").is_err());
        assert_eq!(PixKey::parse("21998765432").unwrap().kind(), KeyKind::Phone);
        // 11999999975 would be a mobile of area 11, and is a valid CPF: a CPF.
        let cpf = crate::tax_id::Cpf::parse("11999999975");
        assert!(cpf.is_ok(), "test data: a valid CPF shaped like a mobile");
        assert_eq!(PixKey::parse("11999999975").unwrap().kind(), KeyKind::Cpf);
        assert_eq!(
            PixKey::parse("119.999.999-75").unwrap().kind(),
            KeyKind::Cpf
        );
        assert_eq!(
            PixKey::parse_phone("11999999975").map(|k| k.canonical()),
            Ok("+5511999999975".into())
        );
        assert_eq!(
            PixKey::parse_phone("(11) 99999-9999").map(|k| k.canonical()),
            Ok("+5511999999999".into())
        );
        // The area code in parentheses says phone, never a document.
        assert_eq!(
            PixKey::parse("(11) 99999-9975").unwrap().kind(),
            KeyKind::Phone
        );
        assert_eq!(
            PixKey::parse_phone("529.982.247-25"),
            Err(PixKeyError::Phone)
        );
        assert_eq!(
            PixKey::parse_phone("ana@example.com"),
            Err(PixKeyError::Phone)
        );
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in KeyKind::ALL {
            assert_eq!(KeyKind::parse(kind.as_str()), Some(kind), "{kind:?}");
        }
        let mut names: Vec<&str> = KeyKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KeyKind::ALL.len(), "names are distinct");
        assert_eq!(KeyKind::parse("document"), None);
        assert_eq!(KeyKind::parse("CPF"), None);
    }

    #[test]
    fn random_keys_are_version_4_uuids() {
        let key = PixKey::evp_from([0xff; 16]);
        assert_eq!(key.kind(), KeyKind::Evp);
        assert_eq!(key.canonical(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(PixKey::parse(&key.canonical()), Ok(key));
    }

    proptest! {
        #[test]
        fn any_parsed_key_round_trips(text in "\\PC{0,90}") {
            if let Ok(key) = PixKey::parse(&text) {
                prop_assert_eq!(PixKey::parse(&key.canonical()), Ok(key.clone()));
                prop_assert!(key.canonical().chars().count() <= KEY_MAX_CHARS);
            }
        }

        #[test]
        fn every_evp_parses(bytes in proptest::array::uniform16(any::<u8>())) {
            let key = PixKey::evp_from(bytes);
            prop_assert_eq!(PixKey::parse(&key.canonical()), Ok(key));
        }

        #[test]
        fn phones_parse_whatever_their_punctuation(ddd in 11u32..=99, number in 20_000_000u32..=999_999_999) {
            let typed = format!("+55 ({ddd}) {number}");
            let key = PixKey::parse(&typed).unwrap();
            prop_assert_eq!(key.kind(), KeyKind::Phone);
            prop_assert_eq!(key.canonical(), format!("+55{ddd}{number}"));
        }

        /// Every usual way of typing a mobile number names the same key, whichever area code;
        /// eleven bare digits are a phone exactly when they are no valid CPF.
        #[test]
        fn mobiles_typed_the_brazilian_way(a in 1u32..=9, b in 1u32..=9, number in 0u32..=99_999_999) {
            let (ddd, number) = (format!("{a}{b}"), format!("9{number:08}"));
            let (head, tail) = number.split_at(5);
            let canonical = format!("+55{ddd}{number}");
            for typed in [
                format!("({ddd}) {head}-{tail}"),
                format!("({ddd}){number}"),
                format!("+55 {ddd} {head}-{tail}"),
                format!("+55{ddd}{number}"),
            ] {
                prop_assert_eq!(PixKey::parse(&typed).map(|k| k.canonical()), Ok(canonical.clone()), "{}", typed);
            }
            for typed in [format!("{ddd} {head}-{tail}"), format!("{ddd}{number}")] {
                prop_assert_eq!(PixKey::parse_phone(&typed).map(|k| k.canonical()), Ok(canonical.clone()));
                let guessed = PixKey::parse(&typed).unwrap();
                let is_cpf = crate::tax_id::Cpf::parse(&format!("{ddd}{number}")).is_ok();
                prop_assert_eq!(guessed.kind(), if is_cpf { KeyKind::Cpf } else { KeyKind::Phone });
            }
        }
    }
}
