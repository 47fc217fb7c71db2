//! Settlement windows between banks, as the node carries them out (the rules are the engine's,
//! `engine::settlement`): at each token visit the window open on the token is cut here if it is
//! ahead (or an operator or the schedule closes one), and each report this bank signs then goes
//! to every member, which answers with its own; a payment step goes to the other bank of its
//! pair. Every call is signed and bounded like any other peer call.

use crate::twopc_driver::Node;
use domain::BankId;
use engine::settlement::{SettlementError, SignedPayment, SignedReport};
use engine::EngineError;
use std::sync::Arc;

pub use engine::operator::Exchange;

/// How long an operator's close waits for this bank's report: the token's next visit here (the
/// ring is hurried) and the decisions of the window's transfers still in flight here.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Closes the open window (an operator's request): cut at this bank's next token visit, which
/// the token carries to every bank. Waits (bounded) for this bank's report, then exchanges it
/// with every member. If the report is not signed in time (a transfer of the window still in
/// doubt here), [`SettlementError::Pending`]: it is sent when it is.
pub async fn close(
    node: &Arc<Node>,
) -> Result<Result<(SignedReport, Vec<Exchange>), SettlementError>, EngineError> {
    let (cut, _) = node.engine().window_cut().await?;
    let window = cut + 1;
    node.request_close();
    let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
    loop {
        match node.engine().own_report(window).await? {
            Ok(own) => {
                let exchanged = exchange(node, &own, None).await;
                return Ok(Ok((own, exchanged)));
            }
            Err(SettlementError::NotClosed(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(SettlementError::NotClosed(_)) => {
                let (cut, _) = node.engine().window_cut().await?;
                return Ok(Err(if cut >= window {
                    SettlementError::Pending(window)
                } else {
                    SettlementError::NotCut(window)
                }));
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// A token visit, before its batch (`Work::run_batch`): cuts the window if the token is ahead,
/// or if an operator or the schedule (`SETTLEMENT_WINDOW_S`) asks to close one; sends every
/// report this bank signs on it to every member (in a task of its own, so the token moves
/// on). Returns the window open here, which the batch's plans name and the token carries on.
pub async fn visit(node: &Arc<Node>, token_window: u64) -> u64 {
    use engine::engine::Close;
    let asked = node.take_close_request();
    let close = match (asked, due(node)) {
        (true, _) => Close::Now,
        (false, Some(interval_start_ms)) => Close::UnlessCutSince(interval_start_ms),
        (false, None) => Close::No,
    };
    match node
        .engine()
        .window_visit(token_window, close, node.may_report())
        .await
    {
        Ok(Ok(visited)) => {
            send_reports(node, visited.reports, None);
            visited.open
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "settlement windows not seen to at this visit");
            token_window
        }
        Err(e) => {
            if asked {
                // Tried again at the next visit.
                node.request_close();
            }
            tracing::warn!(error = %e, "settlement windows not seen to at this visit");
            token_window
        }
    }
}

/// Sends each of `reports` (this bank's, oldest first) to every member but `skip`, in a task
/// of its own.
pub fn send_reports(node: &Arc<Node>, reports: Vec<SignedReport>, skip: Option<BankId>) {
    if reports.is_empty() {
        return;
    }
    let node = node.clone();
    tokio::spawn(async move {
        for report in reports {
            exchange(&node, &report, skip).await;
        }
    });
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
/// answer, that member's report for the same window, compared with this bank's. The answer is
/// each member's first attempt; a member not reached is tried again in the background
/// (`retry`), so that a bank down or slow at the close gets the report once it is back,
/// without an operator sending it again.
pub async fn exchange(node: &Arc<Node>, own: &SignedReport, skip: Option<BankId>) -> Vec<Exchange> {
    let mut calls = Vec::new();
    for bank in node.peers().others().filter(|b| Some(*b) != skip) {
        let (node, own) = (node.clone(), own.clone());
        calls.push((
            bank,
            tokio::spawn(async move {
                let failed = send(&node, bank, &own).await.err()?;
                let text = failed.text.clone();
                if !failed.last {
                    retry(move || {
                        let (node, own) = (node.clone(), own.clone());
                        async move { send(&node, bank, &own).await }
                    });
                }
                Some(text)
            }),
        ));
    }
    let mut out = Vec::with_capacity(calls.len());
    for (bank, call) in calls {
        let error = call.await.unwrap_or_else(|e| Some(e.to_string()));
        if let Some(error) = &error {
            tracing::warn!(%bank, window = own.report.window, %error, "settlement report not exchanged");
        }
        out.push(Exchange { bank, error });
    }
    out
}

async fn send(node: &Arc<Node>, bank: BankId, own: &SignedReport) -> Result<(), Failed> {
    let theirs = node
        .peers()
        .call(bank, own)
        .await
        .map_err(Failed::from_peer)?;
    if theirs.report.bank != bank || theirs.report.window != own.report.window {
        return Err(Failed::last(format!(
            "bank {bank} answered with bank {}'s report for window {}",
            theirs.report.bank, theirs.report.window
        )));
    }
    match node.engine().accept_report(theirs, node.may_report()).await {
        Ok(Ok(taken)) => {
            send_reports(node, taken.reports, None);
            taken
                .accepted
                .map(|_| ())
                .map_err(|e| Failed::last(e.to_string()))
        }
        Ok(Err(e)) => Err(Failed::last(e.to_string())),
        Err(e) => Err(Failed::last(e.to_string())),
    }
}

/// Attempts at a settlement call after the first failed, and the first and longest waits
/// between two: about two minutes in all, then the operator asks again (which sends it again).
const RETRIES_MAX: u32 = 8;
const RETRY_WAIT_FIRST: std::time::Duration = std::time::Duration::from_millis(500);
const RETRY_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a settlement call to another bank failed, and whether trying again could change it.
struct Failed {
    text: String,
    /// Refused for what the call is (a 4xx but 409), or refused here: the same call would be
    /// refused again.
    last: bool,
}

impl Failed {
    fn last(text: String) -> Failed {
        Failed { text, last: true }
    }

    /// A 409 is not final: the other bank cannot take the call *yet* (it has not closed the
    /// window, it misses an earlier window or a report), which a call from another bank can
    /// change. Timeouts, broken connections and 5xx are tried again too.
    fn from_peer(e: crate::peers::PeerError) -> Failed {
        let last = matches!(&e, crate::peers::PeerError::Refused { status, .. }
            if (400..500).contains(status) && *status != 409);
        Failed {
            text: e.to_string(),
            last,
        }
    }
}

/// Runs `attempt` again in the background, at most [`RETRIES_MAX`] times, waiting
/// [`RETRY_WAIT_FIRST`] then twice as long each time up to [`RETRY_WAIT_MAX`]; it stops at the
/// first success or final refusal. Every settlement call is idempotent (the same report or step
/// again changes nothing), so a call that did arrive but whose answer was lost is harmless.
fn retry<F, Fut>(attempt: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Failed>> + Send,
{
    tokio::spawn(async move {
        let mut wait = RETRY_WAIT_FIRST;
        for _ in 0..RETRIES_MAX {
            tokio::time::sleep(wait).await;
            match attempt().await {
                Ok(()) => return,
                Err(e) if e.last => return,
                Err(_) => wait = (wait * 2).min(RETRY_WAIT_MAX),
            }
        }
    });
}

/// Delivers a payment step to the other bank of its pair, or a netting leg's step to every
/// other member (each keeps it, and the last confirmation of the plan moves its books):
/// `None` when every one took it, otherwise why not. A step not delivered is kept here and
/// retried in the background (`retry`); a refusal (a 4xx but 409) is not retried: the other
/// bank will not change its mind.
pub async fn deliver(node: &Arc<Node>, signed: &SignedPayment) -> Option<String> {
    let me = node.engine().bank().id;
    let p = &signed.payment;
    let to: Vec<BankId> = if p.netting {
        node.peers().others().collect()
    } else if p.debtor == me {
        vec![p.creditor]
    } else {
        vec![p.debtor]
    };
    let mut calls = Vec::with_capacity(to.len());
    for bank in to {
        let (node, signed) = (node.clone(), signed.clone());
        calls.push(tokio::spawn(async move {
            let error = deliver_once(&node, bank, &signed).await.err()?;
            if !error.last {
                retry(move || {
                    let (node, signed) = (node.clone(), signed.clone());
                    async move { deliver_once(&node, bank, &signed).await }
                });
            }
            Some(format!("bank {bank}: {}", error.text))
        }));
    }
    let mut errors = Vec::new();
    for call in calls {
        if let Some(error) = call.await.unwrap_or_else(|e| Some(e.to_string())) {
            errors.push(error);
        }
    }
    (!errors.is_empty()).then(|| errors.join("; "))
}

async fn deliver_once(node: &Node, to: BankId, signed: &SignedPayment) -> Result<(), Failed> {
    let p = &signed.payment;
    node.peers().call(to, signed).await.map_err(|e| {
        tracing::warn!(bank = %to, window = p.window, error = %e, "settlement payment step not delivered");
        Failed::from_peer(e)
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

/// `SETTLEMENT_WINDOW_S`: at this bank's first visit in an interval, the start of the interval
/// (ms): the window is closed then unless this bank cut one since (another bank closed the
/// interval's window first, and its report or the token brought the cut here). Two banks whose
/// clocks differ could both close one in an interval's first moments (the second already in
/// the next interval by its clock): a second, nearly empty window, compared and paid like any.
fn due(node: &Arc<Node>) -> Option<i64> {
    use std::sync::atomic::Ordering;
    let every = node.settings().settlement_window_ms?;
    let current = slot(Some(every), node.engine().now_ms());
    if current <= node.settlement_slot().load(Ordering::Relaxed) {
        return None;
    }
    node.settlement_slot().store(current, Ordering::Relaxed);
    current.checked_mul(i64::try_from(every).ok()?)
}
