//! Login throttling: failed logins are counted per key (an e-mail, a client address) in a sliding
//! window; past a threshold the key is locked for a while, the lock doubling with each further
//! failure up to a cap. Bounded memory: at most `max_keys` keys are tracked, the oldest forgotten
//! first. Pure and clock-injected, so tests need no waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// Failures allowed per window before a lock.
    pub free_failures: u32,
    pub window_ms: i64,
    /// First lock; doubles with each further failure.
    pub first_lock_ms: i64,
    pub max_lock_ms: i64,
    pub max_keys: usize,
}

#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    count: u32,
    window_start_ms: i64,
    locked_until_ms: i64,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<String, Failures>,
    order: VecDeque<String>,
}

pub struct LoginThrottle {
    config: ThrottleConfig,
    inner: Mutex<Inner>,
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// `Err(ms)`: one of `keys` is locked for `ms` more milliseconds.
    pub fn check(&self, keys: &[&str], now_ms: i64) -> Result<(), i64> {
        let inner = self.inner.lock().expect("throttle lock");
        let wait = keys
            .iter()
            .filter_map(|k| inner.by_key.get(*k))
            .map(|f| f.locked_until_ms - now_ms)
            .max()
            .unwrap_or(0);
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    /// Records a failed login against every key.
    pub fn failed(&self, keys: &[&str], now_ms: i64) {
        let c = &self.config;
        let mut inner = self.inner.lock().expect("throttle lock");
        for key in keys {
            if !inner.by_key.contains_key(*key) {
                while inner.by_key.len() >= c.max_keys {
                    match inner.order.pop_front() {
                        Some(old) => {
                            inner.by_key.remove(&old);
                        }
                        None => break,
                    }
                }
                inner.order.push_back(key.to_string());
            }
            let f = inner.by_key.entry(key.to_string()).or_default();
            if now_ms - f.window_start_ms > c.window_ms {
                *f = Failures {
                    count: 0,
                    window_start_ms: now_ms,
                    locked_until_ms: f.locked_until_ms,
                };
            }
            f.count += 1;
            if f.count > c.free_failures {
                let doublings = (f.count - c.free_failures - 1).min(20);
                let lock = (c.first_lock_ms << doublings).min(c.max_lock_ms);
                f.locked_until_ms = now_ms + lock;
            }
        }
    }

    /// A successful login clears the e-mail's count (not the address's: one good password does
    /// not excuse guessing at other accounts from the same place).
    pub fn succeeded(&self, key: &str) {
        self.inner.lock().expect("throttle lock").by_key.remove(key);
    }
}

/// The two throttles a login goes through: per e-mail (guessing one account's password) and per
/// client address (trying many accounts from one place); and the one sign-ups go through: per
/// client address, counting sign-ups refused because the CPF/CNPJ or e-mail is taken (what someone
/// probing who is a client here would see).
pub struct LoginGuards {
    pub by_email: LoginThrottle,
    pub by_address: LoginThrottle,
    pub signups: LoginThrottle,
}

impl Default for LoginGuards {
    fn default() -> LoginGuards {
        let base = ThrottleConfig {
            free_failures: 5,
            window_ms: 15 * 60_000,
            first_lock_ms: 30_000,
            max_lock_ms: 15 * 60_000,
            max_keys: 100_000,
        };
        LoginGuards {
            by_email: LoginThrottle::new(base.clone()),
            by_address: LoginThrottle::new(ThrottleConfig {
                free_failures: 50,
                ..base.clone()
            }),
            signups: LoginThrottle::new(ThrottleConfig {
                free_failures: 10,
                ..base
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            free_failures: 3,
            window_ms: 60_000,
            first_lock_ms: 1_000,
            max_lock_ms: 8_000,
            max_keys: 2,
        })
    }

    #[test]
    fn locks_after_the_free_failures_and_doubles_up_to_the_cap() {
        let t = throttle();
        for _ in 0..3 {
            assert!(t.check(&["a"], 0).is_ok());
            t.failed(&["a"], 0);
        }
        assert!(t.check(&["a"], 0).is_ok(), "three failures are free");
        t.failed(&["a"], 0);
        assert_eq!(t.check(&["a"], 0), Err(1_000));
        assert_eq!(t.check(&["a"], 999), Err(1));
        assert!(t.check(&["a"], 1_000).is_ok());
        t.failed(&["a"], 1_000);
        assert_eq!(t.check(&["a"], 1_000), Err(2_000), "doubles");
        for _ in 0..10 {
            t.failed(&["a"], 1_000);
        }
        assert_eq!(t.check(&["a"], 1_000), Err(8_000), "capped");
        assert_eq!(
            t.check(&["b", "a"], 1_000),
            Err(8_000),
            "any locked key locks the attempt"
        );
        t.succeeded("a");
        assert!(t.check(&["a"], 1_000).is_ok());
    }

    #[test]
    fn the_window_slides_and_memory_is_bounded() {
        let t = throttle();
        for _ in 0..3 {
            t.failed(&["a"], 0);
        }
        t.failed(&["a"], 60_001);
        assert!(t.check(&["a"], 60_001).is_ok(), "old failures expired");
        t.failed(&["b"], 0);
        t.failed(&["c"], 0);
        assert!(t.inner.lock().unwrap().by_key.len() <= 2);
    }
}
