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
    #[error("the second holder's e-mail is the first holder's")]
    SameEmailTwice,
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

/// A mask that rewrites a field as the client types it (the browser applies it once the page is
/// interactive; the bank parses whatever arrives, masked or not). A mask never changes what the
/// field means to the bank's parser: the masked text parses to what the typed text did (or to
/// something, where the typed text did not parse yet, such as `12.` becoming `R$ 12,`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// A CPF as `000.000.000-00`, a CNPJ (more than 11 digits) as `00.000.000/0000-00`.
    Document,
    /// A Brazilian phone as `(21) 99876-5432` (a landline `(21) 3456-7890`); a leading `+55` or
    /// `55` before 12 or more digits is the country code and goes.
    Phone,
    /// An amount in reais as `R$ 1.234,56`: the comma is the decimal separator, dots group
    /// thousands; a last dot the client typed, followed by at most two digits, stays as typed
    /// (a decimal point, as [`crate::Cents::parse_amount`] reads it, unless a third digit makes
    /// it a group), except while the client deletes.
    Amount,
}

/// Most digits an amount's whole reais keep (beyond the largest amount, so that the bank, not
/// the mask, says it is too large).
const AMOUNT_DIGITS_MAX: usize = 13;

impl Mask {
    /// `typed` rewritten; `deleting`: the client just deleted (then the dots are taken as the
    /// grouping this mask wrote, never as a decimal point).
    pub fn apply(self, typed: &str, deleting: bool) -> String {
        match self {
            Mask::Document => mask_document(typed),
            Mask::Phone => mask_phone(typed),
            Mask::Amount => mask_amount(typed, deleting),
        }
    }

    /// What the field shows once the client leaves it: an amount the bank reads is written the
    /// one way Brazilians write it (`R$ 1.234,56`, so `R$ 1.234.56` or `12.5` no longer looks
    /// like something else); anything the bank would refuse stays as typed, for its message.
    pub fn tidy(self, typed: &str) -> String {
        match self {
            Mask::Amount => match crate::Cents::parse_limit(typed) {
                Ok(cents) if !typed.trim().is_empty() => cents.to_brl(),
                _ => typed.to_string(),
            },
            mask => mask.apply(typed, false),
        }
    }
}

fn digits(text: &str, max: usize) -> String {
    text.chars()
        .filter(char::is_ascii_digit)
        .take(max)
        .collect()
}

/// `digits` with `separators[i]` put before the digit at position `at[i]`, when there is one.
fn place(digits: &str, marks: &[(usize, &str)]) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    for (i, c) in digits.chars().enumerate() {
        if let Some((_, mark)) = marks.iter().find(|(at, _)| *at == i) {
            out.push_str(mark);
        }
        out.push(c);
    }
    out
}

fn mask_document(typed: &str) -> String {
    let d = digits(typed, 14);
    if d.len() <= 11 {
        place(&d, &[(3, "."), (6, "."), (9, "-")])
    } else {
        place(&d, &[(2, "."), (5, "."), (8, "/"), (12, "-")])
    }
}

fn mask_phone(typed: &str) -> String {
    let t = typed.trim_start();
    let mut d: String = t.chars().filter(char::is_ascii_digit).collect();
    if (t.starts_with('+') || d.len() > 11) && d.starts_with("55") {
        d = d[2..].to_string();
    }
    let d: String = d.chars().take(11).collect();
    if d.is_empty() {
        return String::new();
    }
    let dash = if d.len() == 11 { 7 } else { 6 };
    let body = place(&d, &[(2, ") "), (dash, "-")]);
    format!("({body}")
}

fn mask_amount(typed: &str, deleting: bool) -> String {
    let t = typed.trim();
    let t = t.strip_prefix("R$").unwrap_or(t).trim();
    // The whole reais, and what follows them: a decimal comma and its digits, or a last dot the
    // client typed that may yet be a decimal point (`12.5`) or the start of a group (`1.234`):
    // kept as typed until a third digit after it shows it was a group.
    let (whole, tail) = match t.split_once(',') {
        Some((w, f)) => (w, Some((',', f))),
        None => match t.rfind('.') {
            Some(dot)
                if !deleting && t[dot + 1..].chars().filter(char::is_ascii_digit).count() < 3 =>
            {
                (&t[..dot], Some(('.', &t[dot + 1..])))
            }
            _ => (t, None),
        },
    };
    let whole = digits(whole, usize::MAX);
    let whole: String = whole
        .trim_start_matches('0')
        .chars()
        .take(AMOUNT_DIGITS_MAX)
        .collect();
    let tail = tail.map(|(mark, f)| (mark, digits(f, 2)));
    if whole.is_empty() && tail.is_none() {
        return if t.contains('0') {
            "R$ 0".to_string()
        } else {
            String::new()
        };
    }
    let whole = if whole.is_empty() {
        "0".to_string()
    } else {
        whole
    };
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    match tail {
        Some((mark, f)) => format!("R$ {grouped}{mark}{f}"),
        None => format!("R$ {grouped}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_documents_phones_and_amounts_as_typed() {
        let doc = |t| Mask::Document.apply(t, false);
        assert_eq!(doc("1234"), "123.4");
        assert_eq!(doc("52998224725"), "529.982.247-25");
        assert_eq!(doc("529.982.247-25"), "529.982.247-25");
        assert_eq!(doc("112223330001810"), "11.222.333/0001-81");
        assert_eq!(doc("abc"), "");
        let phone = |t| Mask::Phone.apply(t, false);
        assert_eq!(phone("21"), "(21");
        assert_eq!(phone("2199"), "(21) 99");
        assert_eq!(phone("21998765432"), "(21) 99876-5432");
        assert_eq!(phone("2134567890"), "(21) 3456-7890");
        assert_eq!(phone("+55 21 99876-5432"), "(21) 99876-5432");
        assert_eq!(phone("5521998765432"), "(21) 99876-5432");
        let amount = |t| Mask::Amount.apply(t, false);
        assert_eq!(amount("1"), "R$ 1");
        assert_eq!(amount("1234"), "R$ 1.234");
        assert_eq!(amount("R$ 1.2345"), "R$ 12.345");
        assert_eq!(amount("1234,5"), "R$ 1.234,5");
        assert_eq!(amount("1234,567"), "R$ 1.234,56");
        assert_eq!(amount("12.5"), "R$ 12.5");
        assert_eq!(amount("12."), "R$ 12.");
        assert_eq!(amount("R$ 1.234.5"), "R$ 1.234.5");
        assert_eq!(amount("R$ 1.234.567"), "R$ 1.234.567");
        assert_eq!(amount(",5"), "R$ 0,5");
        assert_eq!(amount("0"), "R$ 0");
        assert_eq!(amount(""), "");
        assert_eq!(amount("R$ "), "");
        // Deleting the last digit of `R$ 1.234` leaves grouping, not a decimal point.
        assert_eq!(Mask::Amount.apply("R$ 1.23", true), "R$ 123");
    }

    #[test]
    fn an_amount_is_tidied_when_the_client_leaves_the_field_and_still_reads_the_same() {
        use crate::Cents;
        let tidy = |t| Mask::Amount.tidy(t);
        assert_eq!(tidy("R$ 1.234.56"), "R$ 1.234,56");
        assert_eq!(tidy("R$ 12.5"), "R$ 12,50");
        assert_eq!(tidy("R$ 1.234,5"), "R$ 1.234,50");
        assert_eq!(tidy("R$ 1.234"), "R$ 1.234,00");
        assert_eq!(tidy("R$ 0"), "R$ 0,00");
        assert_eq!(tidy(""), "", "an empty field stays empty");
        assert_eq!(
            tidy("abc"),
            "abc",
            "what the bank refuses stays, for its message"
        );
        for typed in [
            "R$ 1.234.56",
            "12.5",
            "1.234,56",
            "R$ 99",
            "0,5",
            "1.234.567,89",
        ] {
            assert_eq!(
                Cents::parse_amount(&tidy(typed)),
                Cents::parse_amount(typed),
                "{typed}"
            );
        }
        assert_eq!(Mask::Phone.tidy("21998765432"), "(21) 99876-5432");
    }

    #[test]
    fn a_masked_field_parses_as_it_was_typed() {
        use crate::Cents;
        for typed in [
            "150,00",
            "1234.56",
            "12.5",
            "1.234,56",
            "R$ 99",
            "0,5",
            "1000000",
            "1.234.567,89",
            "25",
        ] {
            let mut field = String::new();
            for c in typed.chars() {
                field.push(c);
                field = Mask::Amount.apply(&field, false);
            }
            assert_eq!(
                Cents::parse_amount(&field),
                Cents::parse_amount(typed),
                "{typed} became {field}"
            );
        }
        for typed in ["529.982.247-25", "52998224725", "11.222.333/0001-81"] {
            let masked = Mask::Document.apply(typed, false);
            assert_eq!(TaxId::parse(&masked), TaxId::parse(typed));
        }
        for typed in ["(21) 99876-5432", "21998765432", "+55 21 99876-5432"] {
            let masked = Mask::Phone.apply(typed, false);
            assert_eq!(phone(&masked), phone(typed));
        }
    }

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
