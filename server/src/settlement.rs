//! Settlement windows between banks, as the node carries them out (the rules are the engine's,
//! `engine::settlement`): closing a window sends this bank's signed report to every member and
//! keeps each one's report, which it answers with; a payment step goes to the other bank of
//! its pair. Every call is signed and bounded like any other peer call.

use crate::twopc_driver::Node;
use domain::BankId;
use engine::settlement::{SettlementError, SignedPayment, SignedReport};
use engine::EngineError;
use std::sync::Arc;

pub use engine::operator::Exchange;

/// Closes the next window here (an operator's request) and exchanges reports with every member.
pub async fn close(
    node: &Arc<Node>,
) -> Result<Result<(SignedReport, Vec<Exchange>), SettlementError>, EngineError> {
    let closed = match node.engine().close_window().await? {
        Ok(closed) => closed,
        Err(e) => return Ok(Err(e)),
    };
    let exchanged = exchange(node, &closed.own, None).await;
    Ok(Ok((closed.own, exchanged)))
}

/// Sends this bank's report for `window`, closed before, to every member again: a bank that was
/// down or cut off at the close closes it then (a bank can close only the window after its
/// last, so one that missed several needs them again in order).
pub async fn resend(
    node: &Arc<Node>,
    window: u64,
) -> Result<Result<(SignedReport, Vec<Exchange>), SettlementError>, EngineError> {
    let own = match node.engine().own_report(window).await? {
        Ok(own) => own,
        Err(e) => return Ok(Err(e)),
    };
    let exchanged = exchange(node, &own, None).await;
    Ok(Ok((own, exchanged)))
}

/// Sends `own` to every other member (but `skip`, who sent its own already) and keeps each
/// answer, that member's report for the same window, compared with this bank's.
pub async fn exchange(node: &Arc<Node>, own: &SignedReport, skip: Option<BankId>) -> Vec<Exchange> {
    let mut calls = Vec::new();
    for bank in node.peers().others().filter(|b| Some(*b) != skip) {
        let (node, own) = (node.clone(), own.clone());
        calls.push((
            bank,
            tokio::spawn(async move { send(&node, bank, &own).await }),
        ));
    }
    let mut out = Vec::with_capacity(calls.len());
    for (bank, call) in calls {
        let error = match call.await {
            Ok(result) => result.err(),
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = &error {
            tracing::warn!(%bank, window = own.report.window, %error, "settlement report not exchanged");
        }
        out.push(Exchange { bank, error });
    }
    out
}

async fn send(node: &Node, bank: BankId, own: &SignedReport) -> Result<(), String> {
    let theirs = node
        .peers()
        .call(bank, own)
        .await
        .map_err(|e| e.to_string())?;
    if theirs.report.bank != bank || theirs.report.window != own.report.window {
        return Err(format!(
            "bank {bank} answered with bank {}'s report for window {}",
            theirs.report.bank, theirs.report.window
        ));
    }
    match node.engine().accept_report(theirs).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Attempts at delivering a payment step after the first failed, and the longest wait between
/// two: about two minutes in all, then the operator asks again (which sends it again).
const RETRIES_MAX: u32 = 8;
const RETRY_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// Delivers a payment step to the other bank of its pair: `None` when it took it, otherwise
/// why not. A step not delivered is kept here and retried in the background with backoff
/// (bounded); a refusal (4xx) is not retried: the other bank will not change its mind.
pub async fn deliver(node: &Arc<Node>, signed: &SignedPayment) -> Option<String> {
    let error = deliver_once(node, signed).await?;
    let (node, signed) = (node.clone(), signed.clone());
    if !error.refused {
        tokio::spawn(async move {
            let mut wait = std::time::Duration::from_millis(500);
            for _ in 0..RETRIES_MAX {
                tokio::time::sleep(wait).await;
                match deliver_once(&node, &signed).await {
                    None => return,
                    Some(e) if e.refused => return,
                    Some(_) => wait = (wait * 2).min(RETRY_WAIT_MAX),
                }
            }
        });
    }
    Some(error.text)
}

struct Undelivered {
    text: String,
    refused: bool,
}

async fn deliver_once(node: &Node, signed: &SignedPayment) -> Option<Undelivered> {
    let me = node.engine().bank().id;
    let p = &signed.payment;
    let to = if p.debtor == me { p.creditor } else { p.debtor };
    let e = node.peers().call(to, signed).await.err()?;
    tracing::warn!(bank = %to, window = p.window, error = %e, "settlement payment step not delivered");
    let refused = matches!(&e, crate::peers::PeerError::Refused { status, .. } if (400..500).contains(status));
    Some(Undelivered {
        text: e.to_string(),
        refused,
    })
}

/// The interval of length `every_ms` (counted from the Unix epoch) that `now_ms` falls in; 0
/// without a schedule.
pub fn slot(every_ms: Option<u64>, now_ms: i64) -> i64 {
    match every_ms
        .and_then(|ms| i64::try_from(ms).ok())
        .filter(|ms| *ms > 0)
    {
        Some(every) => now_ms.div_euclid(every),
        None => 0,
    }
}

/// `SETTLEMENT_WINDOW_S`: called by the ring's holder at each visit, before its batch. Once per
/// interval, the first holder that finds no window closed in it closes one and exchanges
/// reports (in a task of its own, so the token moves on); every other bank closes the same
/// window on its report, and finds it closed at its own next visit. Two banks whose clocks
/// differ could both close one in an interval's first moments (the second report arriving
/// after the next holder looked): a second, nearly empty window, compared and paid like any.
pub async fn close_if_due(node: &Arc<Node>) {
    use std::sync::atomic::Ordering;
    let every = node.settings().settlement_window_ms;
    let now = node.engine().now_ms();
    let current = slot(every, now);
    if every.is_none() || current <= node.settlement_slot().load(Ordering::Relaxed) {
        return;
    }
    node.settlement_slot().store(current, Ordering::Relaxed);
    let last_closed_ms = match node.engine().windows(1).await {
        Ok(windows) => windows.first().map(|w| w.own.report.closed_ms),
        Err(e) => {
            tracing::warn!(error = %e, "scheduled settlement window not checked");
            return;
        }
    };
    if last_closed_ms.is_some_and(|ms| slot(every, ms) >= current) {
        return;
    }
    match node.engine().close_window().await {
        Ok(Ok(closed)) => {
            tracing::info!(
                window = closed.own.report.window,
                "scheduled settlement window closed"
            );
            let node = node.clone();
            tokio::spawn(async move {
                exchange(&node, &closed.own, None).await;
            });
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "scheduled settlement window not closed"),
        Err(e) => tracing::warn!(error = %e, "scheduled settlement window not closed"),
    }
}
