//! One run, phase by phase: the money already in the banks, accounts, logins, the workload, the
//! conservation audit and the report.

use crate::audit::{check_conservation, money_before};
use crate::http::status_client;
use crate::options::Args;
use crate::report::report;
use crate::setup::{log_in_clients, open_accounts};
use crate::shared::Shared;
use crate::workload::run_workload;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Runs everything; `Ok(false)` when conservation fails.
pub async fn run(args: Args) -> Result<bool, String> {
    let shared = Arc::new(Shared::new(args));
    let plain = status_client()?;
    let before = money_before(&shared, &plain).await?;
    let args = &shared.args;
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| format!("C={}", args.clients));
    eprintln!(
        "loadgen [{label}]: run {} seed {}; {} people, {} accounts per bank; R$ {} already in the banks",
        shared.ids.tag,
        args.seed,
        shared.people.len(),
        args.accounts,
        before.to_input()
    );

    // 1. Accounts, each funded.
    let setup_started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.setup_concurrency));
    let opened = open_accounts(&shared, &gate).await?;
    eprintln!(
        "loadgen [{label}]: opened and funded {opened} accounts in {:.1} s",
        setup_started.elapsed().as_secs_f64()
    );

    // 2. Clients: people with two accounts, logged in at both banks.
    let clients = log_in_clients(&shared, &gate).await?;
    eprintln!(
        "loadgen [{label}]: {} clients logged in; workload starts",
        clients.len()
    );

    // 3. The workload.
    let workload = run_workload(&shared, clients).await?;
    // The benchmark script reads this count: the process may be gone before it could look itself.
    let cpu = match workload.cpu_ticks {
        Some(ticks) => format!(", {ticks} CPU ticks of its own"),
        None => String::new(),
    };
    eprintln!(
        "loadgen [{label}]: workload done in {:.1} s{cpu}; checking conservation",
        workload.elapsed_s
    );

    // 4. Conservation, then the report.
    let audit = check_conservation(&shared, &plain, before).await?;
    report(&shared, &label, workload, &audit)?;
    Ok(audit.pass)
}
