//! When the WAN proxy delivers each chunk of a connection's bytes, a pure, seeded schedule: the
//! one-way delay, a jitter around it, and now and then a loss, which TCP would repair by sending
//! the chunk again a retransmission timeout later. Chunks keep their order (a later chunk is
//! never delivered before an earlier one, as on one TCP connection).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A link between two banks, one way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    pub delay_ms: u64,
    /// Each chunk's delay is `delay_ms` plus or minus up to this, uniformly (never below zero).
    pub jitter_ms: u64,
    /// The probability that a chunk is lost once (and arrives `rto_ms` later).
    pub loss: f64,
    pub rto_ms: u64,
}

impl Default for Link {
    /// Issue 30's WAN: 10 ms one way, 2 ms of jitter, 1 % loss, Linux's minimum RTO of 200 ms.
    fn default() -> Link {
        Link {
            delay_ms: 10,
            jitter_ms: 2,
            loss: 0.01,
            rto_ms: 200,
        }
    }
}

/// The most of any delay a link may state (a minute).
pub const DELAY_MAX_MS: u64 = 60_000;

impl Link {
    /// Whether the settings make sense: delays within a minute, a loss of at most one half.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.delay_ms > DELAY_MAX_MS
            || self.jitter_ms > DELAY_MAX_MS
            || self.rto_ms > DELAY_MAX_MS
        {
            return Err("a delay beyond a minute");
        }
        if !(0.0..=0.5).contains(&self.loss) {
            return Err("a loss outside 0 to 0.5");
        }
        Ok(())
    }
}

/// The delivery times of one direction of one connection.
pub struct Schedule {
    link: Link,
    rng: StdRng,
    last_ms: u64,
    lost: u64,
}

impl Schedule {
    pub fn new(link: Link, seed: u64) -> Schedule {
        Schedule {
            link,
            rng: StdRng::seed_from_u64(seed),
            last_ms: 0,
            lost: 0,
        }
    }

    /// When a chunk read at `now_ms` is delivered: after the delay and its jitter, a
    /// retransmission timeout later if it is lost, and never before the chunk read before it.
    pub fn deliver_at(&mut self, now_ms: u64) -> u64 {
        let l = &self.link;
        let jitter = if l.jitter_ms == 0 {
            0
        } else {
            self.rng.random_range(0..=2 * l.jitter_ms) as i64 - l.jitter_ms as i64
        };
        let mut delay = (l.delay_ms as i64 + jitter).max(0) as u64;
        if l.loss > 0.0 && self.rng.random_bool(l.loss) {
            self.lost += 1;
            delay += l.rto_ms;
        }
        let at = now_ms.saturating_add(delay).max(self.last_ms);
        self.last_ms = at;
        at
    }

    /// Chunks lost (and delivered late) so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_arrive_after_the_delay_within_the_jitter_and_in_order() {
        let link = Link {
            loss: 0.0,
            ..Link::default()
        };
        let mut s = Schedule::new(link, 7);
        let mut last = 0;
        for now in (0..10_000).step_by(3) {
            let at = s.deliver_at(now);
            assert!(at >= last, "in order");
            assert!(
                at >= now + 8,
                "{now} -> {at}: at least the delay less the jitter"
            );
            // A chunk waits for the one before it, at most one jitter's span later than its own.
            assert!(at <= now.max(last) + 12, "{now} -> {at}");
            last = at;
        }
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn about_the_stated_share_of_chunks_is_lost_and_arrives_a_timeout_late() {
        let mut s = Schedule::new(Link::default(), 1);
        let n = 100_000u64;
        let mut late = 0;
        for i in 0..n {
            // Far apart, so that no chunk waits for another.
            let now = i * 1_000;
            if s.deliver_at(now) >= now + 200 {
                late += 1;
            }
        }
        assert_eq!(late, s.lost());
        // 1 % of 100,000: 1,000, with a standard deviation of about 31.
        assert!((850..=1_150).contains(&late), "{late} lost");
    }

    #[test]
    fn a_schedule_is_the_same_for_the_same_seed_and_bad_links_are_refused() {
        let times = |seed| {
            let mut s = Schedule::new(Link::default(), seed);
            (0..1_000).map(|i| s.deliver_at(i)).collect::<Vec<_>>()
        };
        assert_eq!(times(3), times(3));
        assert_ne!(times(3), times(4));
        assert!(Link::default().check().is_ok());
        let bad = [
            Link {
                loss: 0.9,
                ..Link::default()
            },
            Link {
                loss: -0.1,
                ..Link::default()
            },
            Link {
                delay_ms: DELAY_MAX_MS + 1,
                ..Link::default()
            },
        ];
        for link in bad {
            assert!(link.check().is_err(), "{link:?}");
        }
    }
}
