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
    /// Digits that make a valid phone number but no CPF: the "+55" is missing.
    #[error("invalid CPF, or a phone key without +55")]
    PhoneWithoutCountry,
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
    /// e-mail, a leading `+` a phone, a UUID a random key, digits a CPF or CNPJ).
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
        if t.starts_with('+') {
            let ok = t.chars().all(|c| c.is_ascii_digit() || " ()-+".contains(c))
                && t.matches('+').count() == 1;
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            return match digits.strip_prefix("55") {
                Some(national) if ok && (10..=11).contains(&national.len()) => {
                    Ok(PixKey::Phone(format!("+55{national}")))
                }
                _ => Err(PixKeyError::Phone),
            };
        }
        if is_uuid(t) {
            return Ok(PixKey::Evp(t.to_ascii_lowercase()));
        }
        if t.len() == 36 && t.contains('-') && t.chars().filter(|c| *c == '-').count() == 4 {
            return Err(PixKeyError::Evp);
        }
        match TaxId::parse(t) {
            Ok(id) => Ok(PixKey::from(id)),
            Err(TaxIdError::BadCpf) if input::phone(t).is_ok() => {
                Err(PixKeyError::PhoneWithoutCountry)
            }
            Err(e) => Err(PixKeyError::TaxId(e)),
        }
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
        assert_eq!(
            PixKey::parse("11987654321"),
            Err(PixKeyError::PhoneWithoutCountry)
        );
        assert!(PixKey::parse("'; DROP TABLE keys;--").is_err());
        assert!(serde_json::from_str::<PixKey>("\"not a key\"").is_err());
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
    }
}
