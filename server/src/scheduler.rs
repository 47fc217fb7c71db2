//! Runs scheduled Pix (Pix agendado) when their day comes: every `SCHEDULE_EVERY_MS`, the
//! engine hands over the ones due, each under the id it keeps ([`EngineHandle::due_scheduled`]);
//! each is sent like a Pix sent now (inside this bank, or as a one-leg packet through the token
//! ring and 2PC) and its end recorded: done, or failed and why. One that could not be sent at
//! all now (the bank busy, the consortium unreachable) stays running and goes again at the next
//! turn, under the same id, so it is paid at most once.

use domain::dto::{PacketLeg, TxStatus};
use domain::packet::Packet;
use domain::schedule::ScheduleFailure;
use engine::consortium::Consortium;
use engine::schedule::Due;
use engine::{EngineError, EngineHandle, LedgerError};
use std::sync::Arc;
use std::time::Duration;

/// Until the engine stops, sends what is due every `every`.
pub async fn run(engine: EngineHandle, consortium: Option<Arc<dyn Consortium>>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while engine.is_running() {
        tick.tick().await;
        let due = match engine.due_scheduled().await {
            Ok(due) => due,
            Err(e) => {
                tracing::debug!(error = %e, "scheduled Pix: the engine cannot say what is due");
                continue;
            }
        };
        for d in due {
            let Some(result) = send(&engine, consortium.as_deref(), &d).await else {
                continue;
            };
            if let Err(e) = &result {
                tracing::info!(id = d.id, tx = %d.tx, why = ?e, "a scheduled Pix was not sent");
            }
            if let Err(e) = engine.finish_scheduled(d.id, result).await {
                tracing::warn!(id = d.id, error = %e, "recording how a scheduled Pix ended");
            }
        }
    }
}

/// Sends `d`: `Some` with how it ended, `None` to try again later.
async fn send(
    engine: &EngineHandle,
    consortium: Option<&dyn Consortium>,
    d: &Due,
) -> Option<Result<(), ScheduleFailure>> {
    let me = engine.bank().id;
    let receiver_bank = match consortium {
        Some(c) => match c.lookup(d.key.clone()).await {
            Ok(found) => found.bank.id,
            Err(EngineError::Ledger(LedgerError::UnknownAccount)) => {
                return Some(Err(ScheduleFailure::NoReceiver))
            }
            Err(_) => return None,
        },
        None => me,
    };
    if receiver_bank == me {
        return match engine
            .pix_with(
                d.tx.clone(),
                d.account,
                (d.key.clone(), d.amount),
                d.message.clone(),
            )
            .await
        {
            Ok(r) if r.status == TxStatus::Committed => Some(Ok(())),
            Ok(_) => Some(Err(ScheduleFailure::NotDelivered)),
            Err(EngineError::Refused(refusal)) => Some(Err(ScheduleFailure::Refused { refusal })),
            Err(EngineError::Ledger(e)) => Some(Err(ledger_failure(e, me))),
            Err(_) => None,
        };
    }
    let c = consortium?;
    let members: Vec<_> = c.banks().iter().map(|b| b.id).collect();
    let leg = PacketLeg {
        source_bank: me,
        receiver_key: d.key.clone(),
        receiver_bank,
        amount: d.amount,
        message: d.message.clone(),
    };
    let packet = match Packet::new(vec![leg], &members) {
        Ok(p) => p,
        Err(_) => return Some(Err(ScheduleFailure::NoReceiver)),
    };
    match c.submit(d.account, d.tx.clone(), packet).await {
        Ok(outcome) if outcome.status == TxStatus::Committed => Some(Ok(())),
        Ok(outcome) => Some(Err(match outcome.failure() {
            Some((_, refusal)) => ScheduleFailure::Refused { refusal },
            None => ScheduleFailure::NotDelivered,
        })),
        Err(_) => None,
    }
}

/// A ledger's refusal of a Pix inside this bank, as the client reads it: the refusal a vote
/// would carry ([`engine::engine::protocol::refusal`]), but a key that pays nobody and a Pix that
/// never ran are said as such.
fn ledger_failure(e: LedgerError, me: domain::BankId) -> ScheduleFailure {
    match e {
        LedgerError::UnknownAccount => ScheduleFailure::NoReceiver,
        LedgerError::UnknownTx
        | LedgerError::TxIdConflict
        | LedgerError::DuplicateTaxId
        | LedgerError::DuplicateEmail
        | LedgerError::InvalidLogins => ScheduleFailure::NotDelivered,
        LedgerError::InsufficientFunds
        | LedgerError::BalanceLimit
        | LedgerError::SelfTransfer
        | LedgerError::InvalidAmount => ScheduleFailure::Refused {
            refusal: engine::engine::protocol::refusal(e, me),
        },
    }
}
