//! Validation of what a client types when opening an account. Each function returns the cleaned
//! value or why not (an error whose Display is developer text; the app says it in the client's
//! words, `app::text`).

use crate::tax_id::{TaxId, TaxIdError};
use serde::{Deserialize, Serialize};

pub const NAME_MAX_CHARS: usize = 100;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Bounded so that hashing a password is bounded too.
pub const PASSWORD_MAX_CHARS: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum InputError {
    #[error("name empty")]
    NameEmpty,
    #[error("name longer than {NAME_MAX_CHARS} characters")]
    NameTooLong,
    #[error("name has a character not allowed")]
    NameBadCharacter,
    #[error("invalid e-mail")]
    EmailInvalid,
    #[error("invalid phone")]
    PhoneInvalid,
    #[error("password shorter than {PASSWORD_MIN_CHARS} characters")]
    PasswordTooShort,
    #[error("password longer than {PASSWORD_MAX_CHARS} characters")]
    PasswordTooLong,
    #[error("common password")]
    PasswordCommon,
    #[error("{0}")]
    TaxId(#[from] TaxIdError),
    #[error("individual account needs a CPF")]
    IndividualNeedsCpf,
    #[error("company account needs a CNPJ")]
    CompanyNeedsCnpj,
    #[error("same holder twice")]
    SameHolderTwice,
}

/// A person's or company's name, trimmed, inner whitespace collapsed.
pub fn name(text: &str) -> Result<String, InputError> {
    let cleaned = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        return Err(InputError::NameEmpty);
    }
    if cleaned.chars().count() > NAME_MAX_CHARS {
        return Err(InputError::NameTooLong);
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '\'' | '.' | '-' | '&');
    if !cleaned.chars().all(allowed) {
        return Err(InputError::NameBadCharacter);
    }
    Ok(cleaned)
}

/// An e-mail address, lower-cased; deliberately simple: one `@`, a dotted domain, no spaces.
pub fn email(text: &str) -> Result<String, InputError> {
    let e = text.trim().to_lowercase();
    if e.is_empty() || e.chars().count() > EMAIL_MAX_CHARS {
        return Err(InputError::EmailInvalid);
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err(InputError::EmailInvalid);
    };
    let ok_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || "._%+-".contains(c))
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && ok_chars(domain);
    if local.is_empty() || !ok_chars(local) || !domain_ok {
        return Err(InputError::EmailInvalid);
    }
    Ok(e)
}

/// A phone number as its digits: 10 or 11 with the area code, an optional +55 country code.
pub fn phone(text: &str) -> Result<String, InputError> {
    let t = text.trim();
    if t.len() > 30 || !t.chars().all(|c| c.is_ascii_digit() || " ()-+".contains(c)) {
        return Err(InputError::PhoneInvalid);
    }
    let mut digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if t.starts_with('+') {
        digits = digits
            .strip_prefix("55")
            .ok_or(InputError::PhoneInvalid)?
            .to_string();
    }
    if !(10..=11).contains(&digits.len()) {
        return Err(InputError::PhoneInvalid);
    }
    Ok(digits)
}

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// A password as NIST SP 800-63B asks: 8 to 128 characters (any characters: spaces and
/// phrases are welcome), no composition rules, and not one of the commonest passwords (nor one
/// character repeated).
pub fn password(text: &str) -> Result<(), InputError> {
    let n = text.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(InputError::PasswordTooShort);
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(InputError::PasswordTooLong);
    }
    let lower = text.to_lowercase();
    let repeated = lower.chars().all(|c| lower.starts_with(c));
    let common = COMMON_PASSWORDS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l == lower);
    if repeated || common {
        return Err(InputError::PasswordCommon);
    }
    Ok(())
}

/// A holder's tax id, which must match the kind of account.
pub fn holder_tax_id(text: &str, company: bool) -> Result<TaxId, InputError> {
    let id = TaxId::parse(text)?;
    match (company, id.is_company()) {
        (false, true) => Err(InputError::IndividualNeedsCpf),
        (true, false) => Err(InputError::CompanyNeedsCnpj),
        _ => Ok(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name("  Maria   da  Silva ").unwrap(), "Maria da Silva");
        assert_eq!(name("João D'Ávila-Souza").unwrap(), "João D'Ávila-Souza");
        assert_eq!(name(""), Err(InputError::NameEmpty));
        assert_eq!(
            name("<script>alert(1)</script>"),
            Err(InputError::NameBadCharacter)
        );
        assert_eq!(name(&"a".repeat(101)), Err(InputError::NameTooLong));
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Ana@Example.COM ").unwrap(), "ana@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@com",
            "ana@x..com",
            "a b@x.com",
            "ana@x.com'--",
        ] {
            assert_eq!(email(bad), Err(InputError::EmailInvalid), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(phone("(11) 98765-4321").unwrap(), "11987654321");
        assert_eq!(phone("+55 11 3333-4444").unwrap(), "1133334444");
        assert_eq!(phone("123"), Err(InputError::PhoneInvalid));
        assert_eq!(phone("+1 212 555 0100"), Err(InputError::PhoneInvalid));
    }

    #[test]
    fn passwords() {
        assert!(password("correct horse 1").is_ok());
        assert_eq!(password("abc1"), Err(InputError::PasswordTooShort));
        assert!(password("abcdefghij").is_ok(), "no composition rules");
        assert!(password("minha senha longa").is_ok());
        assert_eq!(password("Password1"), Err(InputError::PasswordCommon));
        assert_eq!(password("senha123"), Err(InputError::PasswordCommon));
        assert_eq!(password("aaaaaaaaaa"), Err(InputError::PasswordCommon));
        assert_eq!(password(&"a1".repeat(65)), Err(InputError::PasswordTooLong));
    }

    #[test]
    fn holder_kind_must_match() {
        assert!(holder_tax_id("529.982.247-25", false).is_ok());
        assert_eq!(
            holder_tax_id("529.982.247-25", true),
            Err(InputError::CompanyNeedsCnpj)
        );
        assert_eq!(
            holder_tax_id("11.222.333/0001-81", false),
            Err(InputError::IndividualNeedsCpf)
        );
    }
}
