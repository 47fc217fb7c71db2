//! The conservation audit: the money available at every bank once they have settled,
//! before the run and after it, against every deposit that went through.

use crate::http::{get_json, post, Answer, Body};
use crate::shared::Shared;
use domain::Cents;
use engine::wire::StatusReport;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub struct Totals {
    pub available: Cents,
    pub settled: bool,
    pub per_bank: Vec<Value>,
}

/// The audit after the workload.
pub struct Conservation {
    /// Available at every bank before the run, in cents.
    pub before: Cents,
    pub after: Totals,
    /// Sum and count of the deposits the banks confirmed.
    pub deposited: Cents,
    pub deposits_ok: u64,
    /// `before` + `deposited`: what `after` must show.
    pub expected: Cents,
    /// Deposits still without a sure answer.
    pub unresolved: usize,
    pub pass: bool,
}

/// The money already in the banks (an earlier run, a demo), from which the audit counts; an
/// error when they do not settle within `--settle-secs`.
pub async fn money_before(shared: &Shared, http: &reqwest::Client) -> Result<Cents, String> {
    let before = settled_totals(shared, http, shared.args.settle).await?;
    if !before.settled {
        return Err(
            "the banks did not settle before the run (something is blocked, incoming or prepared)"
                .into(),
        );
    }
    Ok(before.available)
}

/// Settles the unsure deposits, waits for the banks to settle, and compares.
pub async fn check_conservation(
    shared: &Shared,
    http: &reqwest::Client,
    before: Cents,
) -> Result<Conservation, String> {
    let unresolved = settle_unknown_deposits(shared, shared.args.settle).await;
    let after = settled_totals(shared, http, shared.args.settle).await?;
    let (deposited, deposits_ok) = {
        let l = shared.ledger.lock().unwrap();
        (l.deposited, l.deposits_ok)
    };
    let expected =
        crate::money::sum([before, deposited]).ok_or("the expected total is out of range")?;
    let pass = after.settled && unresolved == 0 && after.available == expected;
    Ok(Conservation {
        before,
        after,
        deposited,
        deposits_ok,
        expected,
        unresolved,
        pass,
    })
}

async fn totals(shared: &Shared, http: &reqwest::Client) -> Result<Totals, String> {
    let mut t = Totals {
        available: Cents::ZERO,
        settled: true,
        per_bank: Vec::new(),
    };
    for bank in 1..=shared.args.banks.len() {
        let status = get_json(http, &shared.url(bank, "/status")).await?;
        let report: StatusReport =
            serde_json::from_value(status).map_err(|e| format!("bank {bank}'s /status: {e}"))?;
        if report.bank.map(u16::from) != u16::try_from(bank).ok() {
            return Err(format!(
                "{} says it is bank {:?}, expected {bank}",
                shared.args.banks[bank - 1],
                report.bank
            ));
        }
        let Some(audit) = report.audit else {
            t.settled = false;
            t.per_bank.push(json!({ "bank": bank, "audit": null }));
            continue;
        };
        let out_of_range = || format!("bank {bank}: total out of range");
        let available = i64::try_from(audit.total_available)
            .map(Cents::new)
            .map_err(|_| out_of_range())?;
        t.available = t
            .available
            .checked_add(available)
            .ok_or_else(out_of_range)?;
        t.settled &= audit.total_blocked == 0
            && audit.total_incoming == 0
            && audit.prepared_transactions == 0;
        t.per_bank.push(json!({
            "bank": bank, "total_available": available, "total_blocked": audit.total_blocked,
            "total_incoming": audit.total_incoming, "prepared_transactions": audit.prepared_transactions,
            "accounts": audit.accounts, "ring": report.ring, "twopc": report.twopc,
        }));
    }
    Ok(t)
}

/// Polls until every bank is settled (nothing blocked, incoming or prepared), or `limit` passes.
async fn settled_totals(
    shared: &Shared,
    http: &reqwest::Client,
    limit: Duration,
) -> Result<Totals, String> {
    let deadline = Instant::now() + limit;
    loop {
        match totals(shared, http).await {
            Ok(t) if t.settled => return Ok(t),
            Ok(t) if Instant::now() >= deadline => return Ok(t),
            Err(e) if Instant::now() >= deadline => return Err(e),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Re-sends every deposit whose answer was lost, with the same id, until each has a sure answer.
async fn settle_unknown_deposits(shared: &Shared, limit: Duration) -> usize {
    let pending = std::mem::take(&mut shared.ledger.lock().unwrap().unknown);
    let deadline = Instant::now() + limit;
    let mut still = Vec::new();
    for d in pending {
        let body = Body::Form(vec![
            ("amount", d.amount.to_input()),
            ("tx_id", d.tx_id.clone()),
        ]);
        loop {
            match post(&d.http, &shared.url(d.bank, "/api/deposit"), &body, 0)
                .await
                .0
            {
                Answer::Final(200, text)
                    if text.trim().parse::<i64>().ok() == Some(d.amount.get()) =>
                {
                    shared.ledger.lock().unwrap().credit(d.amount);
                    break;
                }
                Answer::Final(s, _) if (400..500).contains(&s) && s != 401 => break, // refused: nothing moved
                _ if Instant::now() >= deadline => {
                    still.push(d.tx_id.clone());
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
    if !still.is_empty() {
        eprintln!(
            "loadgen: {} deposits still without a sure answer: {:?}",
            still.len(),
            &still[..still.len().min(5)]
        );
    }
    still.len()
}
