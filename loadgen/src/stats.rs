//! Measurement: counts and latencies per kind of operation, percentiles, and the process's own
//! CPU time.

use crate::http::short;
use crate::operations::Outcome;
use std::collections::HashMap;
use std::time::Duration;

/// The kinds of operation, in the order of `--mix` and of the report.
pub const KINDS: [&str; 4] = ["deposit", "pix_intra", "pix_inter", "packet"];

#[derive(Default)]
pub struct KindStats {
    pub ok: u64,
    pub refused: u64,
    pub unavailable: u64,
    pub errors: u64,
    pub resends: u64,
    /// Latency of each successful operation (first send to final answer), in microseconds.
    pub latencies_us: Vec<u64>,
    pub reasons: HashMap<String, u64>,
}

impl KindStats {
    /// One `KindStats` per kind.
    pub fn per_kind() -> Vec<KindStats> {
        (0..4).map(|_| KindStats::default()).collect()
    }

    pub fn merge(&mut self, other: KindStats) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.unavailable += other.unavailable;
        self.errors += other.errors;
        self.resends += other.resends;
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.reasons {
            *self.reasons.entry(k).or_default() += v;
        }
    }

    /// Counts one operation that took `elapsed` and `resends` re-sends.
    pub fn record(&mut self, outcome: Outcome, resends: u32, elapsed: Duration) {
        self.resends += u64::from(resends);
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                self.latencies_us.push(elapsed.as_micros() as u64);
            }
            Outcome::Refused(why) => {
                self.refused += 1;
                self.reason("refused", why);
            }
            Outcome::Unavailable(why) => {
                self.unavailable += 1;
                self.reason("503", why);
            }
            Outcome::Error(why) => {
                self.errors += 1;
                self.reason("error", why);
            }
        }
    }

    /// Counts a reason, keeping at most 64 distinct ones.
    fn reason(&mut self, what: &str, msg: String) {
        let key = format!("{what}: {}", short(&msg));
        if self.reasons.len() < 64 || self.reasons.contains_key(&key) {
            *self.reasons.entry(key).or_default() += 1;
        }
    }
}

/// The `p`th percentile (nearest rank) of `sorted`; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// This process's CPU time so far (user + system), in clock ticks, from `/proc/self/stat` (Linux
/// only; `None` elsewhere). Fields after the command name, which is in parentheses and may hold
/// spaces: utime and stime are the 12th and 13th.
pub fn own_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 99.0), 4);
    }
}
