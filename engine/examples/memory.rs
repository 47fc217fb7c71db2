//! Memory of one bank's engine at 100,000 accounts (issue 6's target: under 100 MB).
//!
//! Opens the accounts (password hashing is left out: it costs time, not memory), registers each
//! one's CPF as its Pix key (so the directory is in the figure), gives each a deposit and a Pix,
//! and prints the process's resident memory from /proc/self/status.
//! Run: `cargo run --release -p engine --example memory [accounts]`.

use domain::dto::{AccountKind, BankInfo, Holder};
use domain::{BankId, Cents, Cpf, TaxId};
use engine::auth::PasswordHash;
use engine::{EngineConfig, EngineHandle, NewAccount, SystemClock};
use std::sync::Arc;

/// A stored hash no password matches (accounts here never log in; a real hash would cost
/// an Argon2id run each).
const NO_PASSWORD: &str = "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA";

fn cpf(k: usize) -> TaxId {
    TaxId::Cpf(Cpf::completing(100_000_000 + k as u32).unwrap())
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let bank = BankInfo {
        id: BankId::try_from(1).unwrap(),
        name: "Eleven".into(),
    };
    let (engine, _thread) = EngineHandle::start(
        EngineConfig::new(bank, dir.path().join("bank.sqlite3")),
        Arc::new(SystemClock),
    )
    .unwrap();
    let before = rss_mib();
    let started = std::time::Instant::now();
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let calls = chunk.iter().map(|&k| {
            let engine = engine.clone();
            async move {
                let new = NewAccount {
                    kind: AccountKind::Individual,
                    holders: vec![Holder {
                        name: format!("Client Number {k}"),
                        tax_id: cpf(k),
                    }],
                    logins: vec![engine::ledger::Login::new(
                        0,
                        format!("client{k}@example.com"),
                        PasswordHash::from_stored(NO_PASSWORD.into()),
                    )],
                    phone: "11987654321".into(),
                };
                let id = engine.open_account(new).await.unwrap();
                // Each account's CPF is its Pix key (this bank alone holds the directory).
                let Ok(engine::directory::KeyClaim::Op(op)) =
                    engine.key_claim(id, cpf(k).into(), false).await
                else {
                    panic!("a holder's own CPF is a claim");
                };
                engine
                    .key_op_alone(engine.new_tx_id(), op)
                    .await
                    .unwrap()
                    .unwrap();
                id
            }
        });
        for handle in calls.map(tokio::spawn).collect::<Vec<_>>() {
            ids.push(handle.await.unwrap());
        }
    }
    for (i, id) in ids.iter().enumerate() {
        engine
            .deposit(engine.new_tx_id(), *id, Cents::new(10_000))
            .await
            .unwrap();
        if i > 0 {
            engine
                .pix(engine.new_tx_id(), *id, cpf(i - 1).into(), Cents::new(100))
                .await
                .unwrap();
        }
    }
    let audit = engine.audit().await.unwrap();
    println!(
        "{} accounts, {} deposits and {} Pix in {:.1} s; resident memory {:.1} MiB (engine: {:.1} MiB over the {:.1} MiB baseline)",
        audit.accounts,
        n,
        n - 1,
        started.elapsed().as_secs_f64(),
        rss_mib(),
        rss_mib() - before,
        before
    );
}
