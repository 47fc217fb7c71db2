//! The workload: every client drawing operations by the mix until the run's end, each with its
//! own seeded random stream, and the counts they bring back.

use crate::money::random_amount;
use crate::operations::Outcome;
use crate::options::Args;
use crate::setup::Client;
use crate::shared::Shared;
use crate::stats::{own_cpu_ticks, KindStats};
use domain::Cents;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// When the workload ends: at an instant, or once so many operations were started.
enum Stop {
    At(Instant),
    Ops(AtomicU64, u64),
}

impl Stop {
    fn new(args: &Args) -> Stop {
        match (args.duration, args.ops) {
            (_, Some(k)) => Stop::Ops(AtomicU64::new(0), k),
            (Some(d), None) => Stop::At(Instant::now() + d),
            (None, None) => unreachable!(),
        }
    }

    /// Whether another operation may start (counting it, when counting).
    fn next(&self) -> bool {
        match self {
            Stop::At(t) => Instant::now() < *t,
            Stop::Ops(n, max) => n.fetch_add(1, Ordering::Relaxed) < *max,
        }
    }
}

/// What the workload came to.
pub struct Workload {
    /// Per kind, in the order of [`crate::stats::KINDS`].
    pub stats: Vec<KindStats>,
    pub elapsed_s: f64,
    /// CPU ticks this process used over the workload (`None` where it cannot tell).
    pub cpu_ticks: Option<u64>,
}

/// Runs every client until the stop condition, and sums what they counted.
pub async fn run_workload(shared: &Arc<Shared>, clients: Vec<Client>) -> Result<Workload, String> {
    let stop = Arc::new(Stop::new(&shared.args));
    let started = Instant::now();
    let cpu_before = own_cpu_ticks();
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let seed = shared.args.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            tokio::spawn(run_client(shared.clone(), c, stop.clone(), seed))
        })
        .collect();
    let mut stats = KindStats::per_kind();
    for w in workers {
        for (k, s) in w.await.map_err(|e| e.to_string())?.into_iter().enumerate() {
            stats[k].merge(s);
        }
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu_ticks = match (cpu_before, own_cpu_ticks()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Ok(Workload {
        stats,
        elapsed_s,
        cpu_ticks,
    })
}

/// Where an operation is sent from: the client's session at `bank`, and the client's other bank.
struct Sender<'a> {
    person: usize,
    bank: usize,
    other_bank: usize,
    http: &'a reqwest::Client,
}

async fn run_client(
    shared: Arc<Shared>,
    client: Client,
    stop: Arc<Stop>,
    seed: u64,
) -> Vec<KindStats> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats = KindStats::per_kind();
    while stop.next() {
        let kind = pick_kind(&mut rng, &shared.args.mix);
        let side = rng.random_range(0..client.sessions.len());
        let from = Sender {
            person: client.person,
            bank: client.sessions[side].0,
            other_bank: client.sessions[1 - side].0,
            http: &client.sessions[side].1,
        };
        let started = Instant::now();
        let (outcome, resends) = operation(&shared, &mut rng, kind, &from).await;
        stats[kind].record(outcome, resends, started.elapsed());
    }
    stats
}

/// A kind (index into `mix`) drawn with the weights of `mix`.
fn pick_kind(rng: &mut StdRng, mix: &[u32; 4]) -> usize {
    let total_weight: u32 = mix.iter().sum();
    let mut pick = rng.random_range(0..total_weight);
    let kind = (0..4).find(|&k| {
        if pick < mix[k] {
            true
        } else {
            pick -= mix[k];
            false
        }
    });
    kind.unwrap_or(0)
}

/// One operation of `kind`, with amounts and receivers drawn from `rng`.
async fn operation(
    shared: &Shared,
    rng: &mut StdRng,
    kind: usize,
    from: &Sender<'_>,
) -> (Outcome, u32) {
    let (http, bank) = (from.http, from.bank);
    match kind {
        0 => {
            shared
                .deposit(http, bank, Cents::new(rng.random_range(100..=5_000)))
                .await
        }
        1 => {
            let to = shared.receiver(rng, bank, from.person);
            let amount = random_amount(rng, 1_000);
            shared
                .pix(http, bank, &shared.key(to, bank), bank, amount)
                .await
        }
        2 => {
            let to_bank = loop {
                let b = rng.random_range(1..=shared.args.banks.len());
                if b != bank {
                    break b;
                }
            };
            let to = shared.receiver(rng, to_bank, from.person);
            let amount = random_amount(rng, 1_000);
            shared
                .pix(http, bank, &shared.key(to, to_bank), to_bank, amount)
                .await
        }
        _ => {
            let legs = packet_legs(shared, rng, from);
            shared.packet(http, bank, legs).await
        }
    }
}

/// Three legs paid from the client's accounts at two banks (coordinated by `from.bank`), each
/// to a random person at a random bank.
fn packet_legs(shared: &Shared, rng: &mut StdRng, from: &Sender<'_>) -> Vec<Value> {
    let (bank, other_bank) = (from.bank, from.other_bank);
    let sources = [
        bank,
        other_bank,
        if rng.random_bool(0.5) {
            bank
        } else {
            other_bank
        },
    ];
    sources
        .iter()
        .map(|&src| {
            let to_bank = rng.random_range(1..=shared.args.banks.len());
            let to = shared.receiver(rng, to_bank, from.person);
            json!({
                "source_bank": src.to_string(),
                "receiver_key": shared.key(to, to_bank),
                "receiver_bank": to_bank.to_string(),
                "amount": random_amount(rng, 500).to_input(),
            })
        })
        .collect()
}
