//! Confirmation codes for e-mail and phone keys: a client proves the address or number is theirs
//! by typing back a code the bank sent there. Pure and bounded: a code is single use, expires,
//! and allows a few attempts; at most [`PENDING_MAX`] wait at once. Codes live in memory (a bank
//! that restarts forgets them; the client asks for a new one).

use domain::{AccountId, PixKey};
use rand::Rng;
use std::collections::HashMap;

pub use domain::pix_key::{CODE_DIGITS, CODE_TTL_MS};
/// Wrong codes allowed before the code is void.
pub const ATTEMPTS_MAX: u32 = 5;
/// Codes waiting at once, at most (then the expired go; then new ones are refused).
pub const PENDING_MAX: usize = 10_000;
/// Codes one account may have waiting at once; a new one past it drops that account's oldest,
/// so that no client can fill the table for the others.
pub const PENDING_PER_ACCOUNT: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("wrong code")]
    Wrong,
    /// A wrong code that used up the last attempt: the code is void (what the address sending it
    /// is counted for).
    #[error("wrong code; attempts used up, the code is void")]
    Voided,
    #[error("code expired or attempts used up")]
    Expired,
    #[error("too many codes pending")]
    Busy,
}

struct Pending {
    code: String,
    expires_ms: i64,
    attempts: u32,
}

#[derive(Default)]
pub struct KeyCodes {
    pending: HashMap<(AccountId, PixKey), Pending>,
}

impl KeyCodes {
    /// A new code of [`CODE_DIGITS`] digits for `account` to confirm `key` (replacing any earlier one).
    pub fn issue(
        &mut self,
        account: AccountId,
        key: PixKey,
        now_ms: i64,
    ) -> Result<String, CodeError> {
        self.pending
            .retain(|(a, k), p| *a != account || *k == key || p.expires_ms > now_ms);
        let mut own: Vec<(i64, PixKey)> = self
            .pending
            .iter()
            .filter(|((a, k), _)| *a == account && *k != key)
            .map(|((_, k), p)| (p.expires_ms, k.clone()))
            .collect();
        if own.len() >= PENDING_PER_ACCOUNT {
            own.sort_unstable();
            let excess = own.len() + 1 - PENDING_PER_ACCOUNT;
            for (_, k) in own.into_iter().take(excess) {
                self.pending.remove(&(account, k));
            }
        }
        if self.pending.len() >= PENDING_MAX {
            self.pending.retain(|_, p| p.expires_ms > now_ms);
            if self.pending.len() >= PENDING_MAX {
                return Err(CodeError::Busy);
            }
        }
        let code = format!(
            "{:0width$}",
            rand::rng().random_range(0..10u32.pow(CODE_DIGITS)),
            width = CODE_DIGITS as usize
        );
        self.pending.insert(
            (account, key),
            Pending {
                code: code.clone(),
                expires_ms: now_ms + CODE_TTL_MS,
                attempts: 0,
            },
        );
        Ok(code)
    }

    /// Whether `code` confirms `key` for `account`. A right code is used up; a wrong one counts
    /// as an attempt, and the last allowed attempt voids the code.
    pub fn check(
        &mut self,
        account: AccountId,
        key: &PixKey,
        code: &str,
        now_ms: i64,
    ) -> Result<(), CodeError> {
        let id = (account, key.clone());
        let Some(p) = self.pending.get_mut(&id) else {
            return Err(CodeError::Expired);
        };
        if p.expires_ms <= now_ms || p.attempts >= ATTEMPTS_MAX {
            self.pending.remove(&id);
            return Err(CodeError::Expired);
        }
        if p.code != code.trim() {
            p.attempts += 1;
            if p.attempts >= ATTEMPTS_MAX {
                self.pending.remove(&id);
                return Err(CodeError::Voided);
            }
            return Err(CodeError::Wrong);
        }
        self.pending.remove(&id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_single_use_expires_and_allows_few_attempts() {
        let mut c = KeyCodes::default();
        let ana = AccountId(1);
        let key = PixKey::parse("ana@example.com").unwrap();
        let code = c.issue(ana, key.clone(), 0).unwrap();
        assert_eq!(code.len(), 6);
        assert_eq!(
            c.check(AccountId(2), &key, &code, 1),
            Err(CodeError::Expired),
            "another account"
        );
        assert_eq!(c.check(ana, &key, &code, 1), Ok(()));
        assert_eq!(
            c.check(ana, &key, &code, 2),
            Err(CodeError::Expired),
            "used up"
        );

        let code = c.issue(ana, key.clone(), 10).unwrap();
        assert_eq!(
            c.check(ana, &key, &code, 10 + CODE_TTL_MS),
            Err(CodeError::Expired)
        );

        let code = c.issue(ana, key.clone(), 20).unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for _ in 1..ATTEMPTS_MAX {
            assert_eq!(c.check(ana, &key, wrong, 21), Err(CodeError::Wrong));
        }
        assert_eq!(
            c.check(ana, &key, wrong, 21),
            Err(CodeError::Voided),
            "the last attempt voids it"
        );
        assert_eq!(
            c.check(ana, &key, &code, 22),
            Err(CodeError::Expired),
            "void after the attempts"
        );
    }

    #[test]
    fn one_account_keeps_a_few_codes_waiting_and_cannot_fill_the_table() {
        let mut c = KeyCodes::default();
        let (ana, beto) = (AccountId(1), AccountId(2));
        let key = |n: usize| PixKey::parse(&format!("k{n}@example.com")).unwrap();
        let beto_code = c.issue(beto, key(999), 0).unwrap();
        let mut codes = Vec::new();
        for n in 0..1_000 {
            codes.push(c.issue(ana, key(n), n as i64).unwrap());
        }
        assert_eq!(c.pending.len(), PENDING_PER_ACCOUNT + 1);
        assert_eq!(
            c.check(ana, &key(0), &codes[0], 2_000),
            Err(CodeError::Expired),
            "the oldest went"
        );
        assert_eq!(
            c.check(ana, &key(999), &codes[999], 2_000),
            Ok(()),
            "the newest stays"
        );
        assert_eq!(
            c.check(beto, &key(999), &beto_code, 2_000),
            Ok(()),
            "another client's stays"
        );
    }
}
