//! Load generator for the N banks of the consortium (two or more; five in the demo), over their
//! public HTTP API only.
//!
//! 1. Opens `--accounts` accounts at each bank. Person k holds an account at bank (k mod N)+1 and
//!    another at ((k+1) mod N)+1 (same CPF), so that packets can draw from two source banks; each
//!    account is funded with a deposit.
//! 2. Runs `--clients` concurrent clients (one session, one cookie jar, per client and bank; each
//!    client links its two accounts both ways, approving the consent at the other bank) doing
//!    deposits, Pix inside a bank, Pix between banks and 3-leg packets from two source banks, each
//!    with a client-chosen transaction id; a 503 or a transport error is retried with the same id.
//! 3. Prints throughput and latency per kind (and writes them as JSON with `--json`).
//! 4. Checks conservation: once every bank has nothing blocked, incoming or prepared, the money
//!    available at the banks equals what was there before plus every deposit that succeeded.
//!    Exits non-zero when it does not.

mod audit;
mod chart;
mod http;
mod ids;
mod money;
mod operations;
mod options;
mod people;
mod report;
mod run;
mod setup;
mod shared;
mod stats;
mod workload;

use options::{parse_args, USAGE};

/// Exit status: 0 when conservation holds, 1 when it does not, 2 for bad arguments or a run
/// that could not finish.
#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("loadgen: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    match run::run(args).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    }
}
