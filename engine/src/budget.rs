//! Budgets for what a client may ask of a bank, so that a stranger with a free account cannot
//! harvest it: token buckets per key (a client's account, a source address), modelled on the
//! anti-scan policy of the BCB's Pix key directory (DICT): each lookup of a key takes tokens
//! from the asker's bucket, a lookup that ends in a payment gives one back, a lookup of a key
//! that does not exist takes more; buckets refill at a steady rate up to their size.
//!
//! Pure and clock-injected (every call takes `now_ms`), so tests need no waiting; bounded
//! memory (at most `max_keys` buckets, the least recently touched forgotten first: a forgotten
//! bucket comes back full, which only ever favours a client who stayed away longest).
//!
//! [`ClientBudgets`] gathers every budget a bank applies to its clients, with the numbers the
//! README gives.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A kind of bucket: how many tokens it holds, and how fast it refills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketConfig {
    /// Tokens a full bucket holds (the largest burst).
    pub capacity: u32,
    /// One token comes back every this many milliseconds.
    pub refill_every_ms: i64,
    /// Buckets kept at most.
    pub max_keys: usize,
}

/// One key's bucket: its tokens in thousandths (so that refills stay whole numbers) when last
/// touched.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    milli_tokens: i64,
    at_ms: i64,
}

#[derive(Default)]
struct Inner {
    buckets: HashMap<String, Bucket>,
    /// Keys by last touch (`(at_ms, sequence)` keeps the order total), for forgetting the stalest.
    by_touch: BTreeMap<(i64, u64), String>,
    touched: HashMap<String, (i64, u64)>,
    sequence: u64,
}

/// A token bucket per key.
pub struct Buckets {
    config: BucketConfig,
    inner: Mutex<Inner>,
}

impl Buckets {
    pub fn new(config: BucketConfig) -> Buckets {
        Buckets {
            config,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn config(&self) -> BucketConfig {
        self.config
    }

    /// Takes `cost` tokens from the bucket of every one of `keys`, or from none: `Err(ms)` when
    /// one of them has too few, `ms` being how long until it has enough.
    pub fn take(&self, keys: &[&str], cost: u32, now_ms: i64) -> Result<(), i64> {
        let mut inner = self.inner.lock().expect("budget lock");
        let need = i64::from(cost) * 1_000;
        let wait = keys
            .iter()
            .map(|k| self.level(&inner, k, now_ms))
            .filter(|have| *have < need)
            .map(|have| self.wait_ms(need - have))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in keys {
            let have = self.level(&inner, key, now_ms);
            self.set(&mut inner, key, have - need, now_ms);
        }
        Ok(())
    }

    /// Gives `amount` tokens back to every one of `keys` (never beyond a full bucket).
    pub fn refund(&self, keys: &[&str], amount: u32, now_ms: i64) {
        let mut inner = self.inner.lock().expect("budget lock");
        for key in keys {
            let have = self.level(&inner, key, now_ms);
            self.set(&mut inner, key, have + i64::from(amount) * 1_000, now_ms);
        }
    }

    /// Whole tokens in `key`'s bucket at `now_ms`.
    pub fn tokens(&self, key: &str, now_ms: i64) -> u32 {
        let inner = self.inner.lock().expect("budget lock");
        u32::try_from(self.level(&inner, key, now_ms) / 1_000).unwrap_or(0)
    }

    fn full(&self) -> i64 {
        i64::from(self.config.capacity) * 1_000
    }

    /// Thousandths of tokens in `key`'s bucket at `now_ms` (a bucket never seen is full).
    fn level(&self, inner: &Inner, key: &str, now_ms: i64) -> i64 {
        match inner.buckets.get(key) {
            None => self.full(),
            Some(b) => {
                let elapsed = (now_ms - b.at_ms).max(0);
                let refilled = elapsed.saturating_mul(1_000) / self.config.refill_every_ms.max(1);
                b.milli_tokens.saturating_add(refilled).min(self.full())
            }
        }
    }

    /// Milliseconds until `missing` thousandths of a token have come back.
    fn wait_ms(&self, missing: i64) -> i64 {
        let every = self.config.refill_every_ms.max(1);
        (missing * every + 999) / 1_000
    }

    fn set(&self, inner: &mut Inner, key: &str, milli_tokens: i64, now_ms: i64) {
        let milli_tokens = milli_tokens.min(self.full());
        if let Some(old) = inner.touched.remove(key) {
            inner.by_touch.remove(&old);
        } else {
            while inner.buckets.len() >= self.config.max_keys.max(1) {
                let Some((_, stalest)) = inner.by_touch.pop_first() else {
                    break;
                };
                inner.touched.remove(&stalest);
                inner.buckets.remove(&stalest);
            }
        }
        inner.sequence += 1;
        let stamp = (now_ms, inner.sequence);
        inner.by_touch.insert(stamp, key.to_string());
        inner.touched.insert(key.to_string(), stamp);
        inner.buckets.insert(
            key.to_string(),
            Bucket {
                milli_tokens,
                at_ms: now_ms,
            },
        );
    }
}

/// What a lookup of a Pix key costs, in tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupCost {
    /// The key exists: [`LOOKUP_FOUND_COST`], of which a payment to it gives
    /// [`LOOKUP_PAID_REFUND`] back.
    Found,
    /// No such key: [`LOOKUP_MISSING_COST`] (what someone guessing keys mostly does).
    Missing,
}

/// Tokens a lookup of an existing key takes.
pub const LOOKUP_FOUND_COST: u32 = 2;
/// Tokens a payment gives back: the payment's own lookup of its key and the review's before it
/// (the app shows the receiver before the client confirms). A lookup that ends in a payment
/// costs nothing in the end, as in the DICT.
pub const LOOKUP_PAID_REFUND: u32 = 2 * LOOKUP_FOUND_COST;
/// Tokens a lookup of a key that does not exist takes.
pub const LOOKUP_MISSING_COST: u32 = 10;

/// Every budget a bank holds its clients to. The numbers are the README's ("Budgets and caps").
/// Per-address budgets are multiplied by `address_scale` (`ADDRESS_BUDGET_SCALE`): 1 for clients
/// reaching the bank directly; more where many clients share one address (a load test from one
/// machine, every test of this repository, a carrier's NAT).
pub struct ClientBudgets {
    /// Key lookups per client account: 100 tokens, one back every 30 s (2 a minute).
    pub lookups_by_account: Buckets,
    /// Key lookups per source address: 300 tokens, one back every 6 s (10 a minute), for the
    /// clients behind one address together (one stranger with many free accounts).
    pub lookups_by_address: Buckets,
    /// Confirmation codes sent per account: 5 an hour and 10 a day.
    codes_by_account: [Buckets; 2],
    /// Confirmation codes asked from one address: 5 an hour and 10 a day.
    codes_by_address: [Buckets; 2],
    /// Codes voided by wrong guesses, per address: 3 allowed a day; then the address gets no
    /// more codes and checks none until the bucket refills.
    voided_codes: Buckets,
    /// Accounts opened per source address, successful or not: 3 an hour and 10 a day.
    signups: [Buckets; 2],
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Buckets of one kind kept at most (each a few dozen bytes).
const MAX_KEYS: usize = 100_000;

impl Default for ClientBudgets {
    fn default() -> ClientBudgets {
        ClientBudgets::with_address_scale(1)
    }
}

/// A bucket of `capacity` tokens that refills completely over `period_ms`.
fn per(capacity: u32, period_ms: i64) -> Buckets {
    Buckets::new(BucketConfig {
        capacity,
        refill_every_ms: period_ms / i64::from(capacity.max(1)),
        max_keys: MAX_KEYS,
    })
}

impl ClientBudgets {
    /// The budgets, with every per-address one `scale` times larger (at least 1).
    pub fn with_address_scale(scale: u32) -> ClientBudgets {
        let scale = scale.max(1);
        ClientBudgets {
            lookups_by_account: per(100, 100 * 30_000),
            lookups_by_address: per(300 * scale, 300 * 6_000),
            codes_by_account: [per(5, HOUR_MS), per(10, DAY_MS)],
            codes_by_address: [per(5 * scale, HOUR_MS), per(10 * scale, DAY_MS)],
            voided_codes: per(3 * scale, DAY_MS),
            signups: [per(3 * scale, HOUR_MS), per(10 * scale, DAY_MS)],
        }
    }

    /// Takes what a lookup costs from the account's and the address's buckets (or from neither).
    pub fn lookup(
        &self,
        account: &str,
        address: &str,
        cost: LookupCost,
        now_ms: i64,
    ) -> Result<(), i64> {
        let tokens = match cost {
            LookupCost::Found => LOOKUP_FOUND_COST,
            LookupCost::Missing => LOOKUP_MISSING_COST,
        };
        take_all(
            &[
                (&self.lookups_by_account, &[account]),
                (&self.lookups_by_address, &[address]),
            ],
            tokens,
            now_ms,
        )
    }

    /// A payment to a looked-up key: part of the lookup's cost comes back.
    pub fn paid(&self, account: &str, address: &str, now_ms: i64) {
        self.lookup_refund(account, address, LOOKUP_PAID_REFUND, now_ms);
    }

    /// Gives `tokens` of lookups back to the account's and the address's buckets.
    pub fn lookup_refund(&self, account: &str, address: &str, tokens: u32, now_ms: i64) {
        self.lookups_by_account.refund(&[account], tokens, now_ms);
        self.lookups_by_address.refund(&[address], tokens, now_ms);
    }

    /// One code to be sent for `account` asked from `address`, within the hourly and the daily
    /// caps of both, and only while the address has not voided too many codes.
    pub fn code(&self, account: &str, address: &str, now_ms: i64) -> Result<(), i64> {
        self.voiding_allowed(address, now_ms)?;
        let [account_hour, account_day] = &self.codes_by_account;
        let [address_hour, address_day] = &self.codes_by_address;
        take_all(
            &[
                (account_hour, &[account]),
                (account_day, &[account]),
                (address_hour, &[address]),
                (address_day, &[address]),
            ],
            1,
            now_ms,
        )
    }

    /// Whether `address` may still check or ask for codes (`Err(ms)`: not before that long).
    pub fn voiding_allowed(&self, address: &str, now_ms: i64) -> Result<(), i64> {
        if self.voided_codes.tokens(address, now_ms) == 0 {
            return Err(self.voided_codes.config().refill_every_ms);
        }
        Ok(())
    }

    /// A code asked from `address` was voided by wrong guesses.
    pub fn voided(&self, address: &str, now_ms: i64) {
        // An empty bucket is the lock itself: nothing more to take.
        let _ = self.voided_codes.take(&[address], 1, now_ms);
    }

    /// One account opened from `address`, within the hourly and the daily caps.
    pub fn signup(&self, address: &str, now_ms: i64) -> Result<(), i64> {
        let [hour, day] = &self.signups;
        take_all(&[(hour, &[address]), (day, &[address])], 1, now_ms)
    }
}

/// Takes `tokens` from every bucket of every step, or from none (steps already taken are given
/// back when a later one cannot pay).
fn take_all(steps: &[(&Buckets, &[&str])], tokens: u32, now_ms: i64) -> Result<(), i64> {
    for (done, (buckets, keys)) in steps.iter().enumerate() {
        if let Err(wait) = buckets.take(keys, tokens, now_ms) {
            for (taken, keys) in &steps[..done] {
                taken.refund(keys, tokens, now_ms);
            }
            return Err(wait);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
