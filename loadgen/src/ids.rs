//! Transaction ids unique to a run, in the shape Pix gives them.

use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};

/// Transaction ids unique to this run: `E` + bank code + stamp + run tag (4) + counter (7, base 36).
pub struct TxIds {
    /// Four random letters or digits naming the run (also in its e-mails and report).
    pub tag: String,
    next: AtomicU64,
}

impl TxIds {
    pub fn new(rng: &mut impl Rng) -> TxIds {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let tag = (0..4)
            .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
            .collect();
        TxIds {
            tag,
            next: AtomicU64::new(0),
        }
    }

    /// The next id, for a transaction that bank `bank` (1..=n) starts.
    pub fn make(&self, bank: usize) -> String {
        let mut n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut counter = [b'0'; 7];
        for c in counter.iter_mut().rev() {
            *c = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize];
            n /= 36;
        }
        let bank = u16::try_from(bank)
            .ok()
            .and_then(|b| domain::BankId::try_from(b).ok())
            .expect("a bank id of the consortium");
        let stamp = domain::time_fmt::stamp_brasilia(engine::wall_clock_ms());
        let suffix = format!(
            "{}{}",
            self.tag,
            std::str::from_utf8(&counter).expect("ascii")
        );
        domain::TxId::compose(bank, &stamp, &suffix)
            .expect("composed ids are well-formed")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn tx_ids_have_the_pix_shape() {
        let ids = TxIds::new(&mut StdRng::seed_from_u64(1));
        let a = ids.make(3);
        let b = ids.make(3);
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("E00000003"));
        assert!(
            a[1..21].bytes().all(|c| c.is_ascii_digit())
                && a[21..].bytes().all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(a, b);
    }
}
