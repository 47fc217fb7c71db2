//! Consents between banks, as a pure state machine beside the ledger (owned by the engine
//! thread, persisted with the same batch as the ledger's changes).
//!
//! At the bank that holds the money (B):
//! - a client logged in at B approves terms for a named account at another bank A:
//!   [`Consents::grant_code`] gives a one-time code, short-lived, bound to both accounts and A;
//! - A redeems it over the authenticated inter-bank channel: [`Consents::redeem`] makes the
//!   consent, durably (a code is worth nothing after one use, or after [`CODE_TTL_MS`]);
//! - every debit A asks for names a consent: [`Consents::draw`] checks the grantee, expiry,
//!   revocation, the limit per packet and per day *before* anything is reserved, and counts what
//!   is reserved against the day; [`Consents::release`] gives back what an aborted packet took;
//! - the owner lists and revokes consents at B ([`Consents::given`], [`Consents::revoke`]).
//!
//! At the bank the consent is given to (A): a link start hands out a `state` bound to the client's
//! account and B ([`Consents::start_link`], checked once on return: [`Consents::take_state`]), and
//! the links made from redeemed codes are kept ([`Consents::save_link`], [`Consents::links`]).

use domain::consent::{ConsentId, ConsentStatus, ConsentTerms, ConsentView, Grant};
use domain::{AccountId, BankId, Cents, Refusal};
use rand::distr::{Alphanumeric, SampleString};
use std::collections::{BTreeMap, HashMap};

/// A one-time code is good for this long after its approval.
pub const CODE_TTL_MS: i64 = 5 * 60 * 1_000;
/// A link started at the grantee bank must come back within this long.
pub const STATE_TTL_MS: i64 = 15 * 60 * 1_000;
/// Codes and link states waiting at once, at most (then the oldest expired go; then refused).
pub const PENDING_MAX: usize = 10_000;
/// Consents one account may have given, at most.
pub const CONSENTS_PER_ACCOUNT_MAX: usize = 50;
/// Codes (at the bank holding the money) or link states (at the bank asking) one account may
/// have waiting at once; a new one past it drops that account's oldest.
pub const PENDING_PER_ACCOUNT: usize = 5;

/// A consent given at this bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub id: ConsentId,
    pub owner: AccountId,
    pub grantee_bank: BankId,
    pub grantee_account: AccountId,
    pub terms: ConsentTerms,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
    /// The Brasília day (days since 1970) `used` counts, and what was drawn that day.
    pub used_day: i64,
    pub used: Cents,
}

impl Consent {
    fn status(&self, now_ms: i64) -> ConsentStatus {
        match (self.revoked_ms, now_ms >= self.terms.expires_ms) {
            (Some(_), _) => ConsentStatus::Revoked,
            (None, true) => ConsentStatus::Expired,
            (None, false) => ConsentStatus::Active,
        }
    }

    fn used_on(&self, day: i64) -> Cents {
        if self.used_day == day {
            self.used
        } else {
            Cents::ZERO
        }
    }

    pub fn view(&self, now_ms: i64) -> ConsentView {
        ConsentView {
            id: self.id.clone(),
            grantee_bank: self.grantee_bank,
            grantee_account: self.grantee_account,
            terms: self.terms,
            created_ms: self.created_ms,
            status: self.status(now_ms),
            used_today: self.used_on(brasilia_day(now_ms)),
        }
    }
}

/// A link at the grantee bank: its client's account may draw on an account at `bank`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub account: AccountId,
    pub bank: BankId,
    pub grant: Grant,
    pub created_ms: i64,
}

/// Terms approved at this bank, waiting for the grantee bank to redeem their code.
#[derive(Clone, Debug)]
struct Pending {
    owner: AccountId,
    grantee_bank: BankId,
    grantee_account: AccountId,
    terms: ConsentTerms,
    expires_ms: i64,
}

/// A link started here, waiting for the client to come back from the other bank.
#[derive(Clone, Debug)]
struct LinkState {
    account: AccountId,
    bank: BankId,
    expires_ms: i64,
}

/// What a batch changed, for the store.
#[derive(Clone, Debug)]
pub enum ConsentChange {
    Saved(Consent),
    Link(Link),
}

/// Why a debit under a consent is refused; the bank holding the money names itself in the
/// [`Refusal`] it votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawError {
    Unknown,
    Revoked,
    Expired,
    PacketLimit,
    DailyLimit,
}

impl DrawError {
    pub fn refusal(self, bank: BankId) -> Refusal {
        match self {
            DrawError::Unknown => Refusal::ConsentUnknown { bank },
            DrawError::Revoked => Refusal::ConsentRevoked { bank },
            DrawError::Expired => Refusal::ConsentExpired { bank },
            DrawError::PacketLimit => Refusal::ConsentPacketLimit { bank },
            DrawError::DailyLimit => Refusal::ConsentDailyLimit { bank },
        }
    }
}

/// Why a consent operation was refused (developer text; the app says it to the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("consent code unknown, used or expired")]
    BadCode,
    #[error("link state unknown or expired")]
    BadState,
    #[error("unknown consent")]
    Unknown,
    #[error("too many links pending")]
    Busy,
    #[error("consent limit reached for this account")]
    TooMany,
}

#[derive(Default)]
pub struct Consents {
    given: HashMap<ConsentId, Consent>,
    links: BTreeMap<(AccountId, BankId), Link>,
    codes: HashMap<String, Pending>,
    states: HashMap<String, LinkState>,
    changes: Vec<ConsentChange>,
}

/// Days since 1970-01-01 in Brasília (UTC-3): a consent's daily limit resets at local midnight.
pub fn brasilia_day(unix_ms: i64) -> i64 {
    (unix_ms - 3 * 3_600 * 1_000).div_euclid(86_400_000)
}

fn secret_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

impl Consents {
    pub fn restore(given: Vec<Consent>, links: Vec<Link>) -> Consents {
        Consents {
            given: given.into_iter().map(|c| (c.id.clone(), c)).collect(),
            links: links
                .into_iter()
                .map(|l| ((l.account, l.bank), l))
                .collect(),
            ..Consents::default()
        }
    }

    pub fn take_changes(&mut self) -> Vec<ConsentChange> {
        std::mem::take(&mut self.changes)
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Makes room for one more code or link state of `account`: drops that account's oldest
    /// beyond [`PENDING_PER_ACCOUNT`] (so that no client can fill the table for the others), then
    /// everyone's past their time; refuses a new one when still full.
    fn make_room<T>(
        pending: &mut HashMap<String, T>,
        (owner, expires): (impl Fn(&T) -> AccountId, impl Fn(&T) -> i64),
        account: AccountId,
        now_ms: i64,
    ) -> Result<(), ConsentError> {
        let mut own: Vec<(i64, String)> = pending
            .iter()
            .filter(|(_, p)| owner(p) == account)
            .map(|(k, p)| (expires(p), k.clone()))
            .collect();
        if own.len() >= PENDING_PER_ACCOUNT {
            own.sort_unstable();
            let excess = own.len() + 1 - PENDING_PER_ACCOUNT;
            for (_, k) in own.into_iter().take(excess) {
                pending.remove(&k);
            }
        }
        if pending.len() >= PENDING_MAX {
            pending.retain(|_, p| expires(p) > now_ms);
        }
        if pending.len() >= PENDING_MAX {
            return Err(ConsentError::Busy);
        }
        Ok(())
    }

    // --- At the bank that holds the money ---------------------------------------------------

    /// The owner of `owner` approved `terms` for `grantee_account` at `grantee_bank`: a one-time
    /// code for that bank to redeem.
    pub fn grant_code(
        &mut self,
        owner: AccountId,
        grantee_bank: BankId,
        grantee_account: AccountId,
        terms: ConsentTerms,
        now_ms: i64,
    ) -> Result<String, ConsentError> {
        Self::make_room(
            &mut self.codes,
            (|p: &Pending| p.owner, |p: &Pending| p.expires_ms),
            owner,
            now_ms,
        )?;
        let given = self
            .given
            .values()
            .filter(|c| c.owner == owner && c.status(now_ms) == ConsentStatus::Active)
            .count();
        if given >= CONSENTS_PER_ACCOUNT_MAX {
            return Err(ConsentError::TooMany);
        }
        let code = secret_token();
        let pending = Pending {
            owner,
            grantee_bank,
            grantee_account,
            terms,
            expires_ms: now_ms + CODE_TTL_MS,
        };
        self.codes.insert(code.clone(), pending);
        Ok(code)
    }

    /// `grantee_bank` redeems `code` for its `grantee_account`: the consent, made now. The code is
    /// gone whatever the outcome (single use).
    pub fn redeem(
        &mut self,
        code: &str,
        grantee_bank: BankId,
        grantee_account: AccountId,
        now_ms: i64,
    ) -> Result<Consent, ConsentError> {
        let pending = self.codes.remove(code).ok_or(ConsentError::BadCode)?;
        if pending.expires_ms <= now_ms
            || pending.grantee_bank != grantee_bank
            || pending.grantee_account != grantee_account
        {
            return Err(ConsentError::BadCode);
        }
        let consent = Consent {
            id: ConsentId::parse(&secret_token()[..ConsentId::LEN]).expect("alphanumeric"),
            owner: pending.owner,
            grantee_bank,
            grantee_account,
            terms: pending.terms,
            created_ms: now_ms,
            revoked_ms: None,
            used_day: brasilia_day(now_ms),
            used: Cents::ZERO,
        };
        self.save(consent.clone());
        Ok(consent)
    }

    fn save(&mut self, consent: Consent) {
        self.changes.push(ConsentChange::Saved(consent.clone()));
        self.given.insert(consent.id.clone(), consent);
    }

    /// The consents `owner` has given, newest first.
    pub fn given(&self, owner: AccountId, now_ms: i64) -> Vec<ConsentView> {
        let mut out: Vec<&Consent> = self.given.values().filter(|c| c.owner == owner).collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.created_ms));
        out.into_iter().map(|c| c.view(now_ms)).collect()
    }

    /// `owner` revokes consent `id` (another account's consent is unknown to it).
    pub fn revoke(
        &mut self,
        owner: AccountId,
        id: &ConsentId,
        now_ms: i64,
    ) -> Result<(), ConsentError> {
        let mut consent = self
            .given
            .get(id)
            .filter(|c| c.owner == owner)
            .cloned()
            .ok_or(ConsentError::Unknown)?;
        if consent.revoked_ms.is_none() {
            consent.revoked_ms = Some(now_ms);
            self.save(consent);
        }
        Ok(())
    }

    /// An active consent `id` for `grantee_account` at `grantee_bank`, or why not.
    pub fn active(
        &self,
        id: &ConsentId,
        grantee_bank: BankId,
        grantee_account: AccountId,
        now_ms: i64,
    ) -> Result<&Consent, DrawError> {
        let consent = self
            .given
            .get(id)
            .filter(|c| c.grantee_bank == grantee_bank && c.grantee_account == grantee_account)
            .ok_or(DrawError::Unknown)?;
        match consent.status(now_ms) {
            ConsentStatus::Active => Ok(consent),
            ConsentStatus::Revoked => Err(DrawError::Revoked),
            ConsentStatus::Expired => Err(DrawError::Expired),
        }
    }

    /// A packet of `grantee_bank` draws `amount` in all on consent `id` for its
    /// `grantee_account`: checked against everything the consent says, and counted against
    /// today. The owner's account to debit.
    pub fn draw(
        &mut self,
        id: &ConsentId,
        grantee_bank: BankId,
        grantee_account: AccountId,
        amount: Cents,
        now_ms: i64,
    ) -> Result<AccountId, DrawError> {
        let consent = self.active(id, grantee_bank, grantee_account, now_ms)?;
        if amount > consent.terms.per_packet || amount.get() <= 0 {
            return Err(DrawError::PacketLimit);
        }
        let today = brasilia_day(now_ms);
        let used = consent
            .used_on(today)
            .checked_add(amount)
            .ok_or(DrawError::DailyLimit)?;
        if consent.terms.daily.is_some_and(|daily| used > daily) {
            return Err(DrawError::DailyLimit);
        }
        let mut consent = consent.clone();
        consent.used_day = today;
        consent.used = used;
        let owner = consent.owner;
        self.save(consent);
        Ok(owner)
    }

    /// An aborted packet gives back what it drew on consent `id` (on the day it drew it).
    pub fn release(&mut self, id: &ConsentId, amount: Cents, drawn_ms: i64) {
        let Some(mut consent) = self.given.get(id).cloned() else {
            return;
        };
        if consent.used_day == brasilia_day(drawn_ms) {
            consent.used = consent
                .used
                .checked_sub(amount)
                .filter(|u| u.get() >= 0)
                .unwrap_or(Cents::ZERO);
            self.save(consent);
        }
    }

    /// The account consent `id` lets `grantee_account` at `grantee_bank` see, while active.
    pub fn consented_account(
        &self,
        id: &ConsentId,
        grantee_bank: BankId,
        grantee_account: AccountId,
        now_ms: i64,
    ) -> Option<AccountId> {
        self.active(id, grantee_bank, grantee_account, now_ms)
            .ok()
            .map(|c| c.owner)
    }

    // --- At the bank the consent is given to ------------------------------------------------

    /// `account` starts linking an account at `bank`: the `state` its return must carry.
    pub fn start_link(
        &mut self,
        account: AccountId,
        bank: BankId,
        now_ms: i64,
    ) -> Result<String, ConsentError> {
        Self::make_room(
            &mut self.states,
            (|s: &LinkState| s.account, |s: &LinkState| s.expires_ms),
            account,
            now_ms,
        )?;
        let state = secret_token();
        self.states.insert(
            state.clone(),
            LinkState {
                account,
                bank,
                expires_ms: now_ms + STATE_TTL_MS,
            },
        );
        Ok(state)
    }

    /// Whether `state` is a live link of `account` started for `bank` (it stays, for the
    /// return): what lets this bank name the account's holder to that bank.
    pub fn state_is(&self, state: &str, account: AccountId, bank: BankId, now_ms: i64) -> bool {
        self.states
            .get(state)
            .is_some_and(|s| s.account == account && s.bank == bank && s.expires_ms > now_ms)
    }

    /// The return of `account`'s link with `state` (once): the bank it was started for.
    pub fn take_state(
        &mut self,
        account: AccountId,
        state: &str,
        now_ms: i64,
    ) -> Result<BankId, ConsentError> {
        match self.states.remove(state) {
            Some(s) if s.account == account && s.expires_ms > now_ms => Ok(s.bank),
            Some(s) if s.account != account => {
                // Not this client's: put it back for its owner.
                self.states.insert(state.to_string(), s);
                Err(ConsentError::BadState)
            }
            _ => Err(ConsentError::BadState),
        }
    }

    /// Keeps the link `account` now has to an account at `bank` (a newer one replaces it).
    pub fn save_link(
        &mut self,
        account: AccountId,
        bank: BankId,
        grant: Grant,
        now_ms: i64,
    ) -> Link {
        let link = Link {
            account,
            bank,
            grant,
            created_ms: now_ms,
        };
        self.links.insert((account, bank), link.clone());
        self.changes.push(ConsentChange::Link(link.clone()));
        link
    }

    /// `account`'s links, by bank.
    pub fn links(&self, account: AccountId) -> Vec<Link> {
        self.links
            .values()
            .filter(|l| l.account == account)
            .cloned()
            .collect()
    }

    /// `account`'s link to `bank`, if it has one.
    pub fn link(&self, account: AccountId, bank: BankId) -> Option<&Link> {
        self.links.get(&(account, bank))
    }
}

#[cfg(test)]
mod tests;
