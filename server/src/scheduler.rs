//! Runs scheduled Pix and packets (Pix agendado) when their day comes: every
//! `SCHEDULE_EVERY_MS`, the engine hands over the ones due, each under the id it keeps
//! ([`EngineHandle::due_scheduled`]); each is sent like one sent now (a Pix inside this bank, or
//! as a one-leg packet through the token ring and 2PC; a packet, checked again against the
//! consortium of the day, through the same ring and 2PC, all or nothing) and its end recorded:
//! done, or failed and why. One that could not be sent at all now (the bank busy, the consortium
//! unreachable) stays running and goes again at the next turn, under the same id, so it is paid
//! at most once (the coordinator answers an id it decided with its first outcome).

use domain::contacts::Contact;
use domain::dto::{PacketLeg, PacketOutcome, TxStatus};
use domain::packet::Packet;
use domain::schedule::ScheduleFailure;
use domain::{AccountId, Cents, PixKey, PixMessage, TxId};
use engine::consortium::Consortium;
use engine::schedule::{Due, Order, PacketOrder};
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
    match &d.order {
        Order::Pix { key, amount, .. } => {
            let pix = (key, *amount, &d.message);
            send_pix(engine, consortium, (d.account, d.tx.clone()), pix).await
        }
        Order::Packet(packet) => {
            send_packet(engine, consortium?, (d.account, d.tx.clone()), packet).await
        }
    }
}

/// A scheduled packet, checked again as a packet sent now is (its banks still members), then
/// submitted whole under its id: `Some` with how it ended, `None` to try again later.
async fn send_packet(
    engine: &EngineHandle,
    c: &dyn Consortium,
    (account, tx): (AccountId, TxId),
    order: &PacketOrder,
) -> Option<Result<(), ScheduleFailure>> {
    let members: Vec<_> = c.banks().iter().map(|b| b.id).collect();
    let Ok(packet) = Packet::new(order.legs().to_vec(), &members) else {
        return Some(Err(ScheduleFailure::NoReceiver));
    };
    match c.submit(account, tx, packet).await {
        Ok(outcome) => {
            let keys = order.legs().iter().map(|l| &l.receiver_key);
            for contact in domain::contacts::paid_in(keys, &outcome) {
                keep_contact(engine, account, contact).await;
            }
            Some(packet_result(&outcome, order))
        }
        Err(_) => None,
    }
}

/// How a scheduled packet ended, as its client reads it: the transfer that was refused, and the
/// bank of the account that was to pay it.
fn packet_result(outcome: &PacketOutcome, order: &PacketOrder) -> Result<(), ScheduleFailure> {
    if outcome.status == TxStatus::Committed {
        return Ok(());
    }
    let Some((leg, refusal)) = outcome.failure() else {
        return Err(ScheduleFailure::NotDelivered);
    };
    match (order.legs().get(leg), u16::try_from(leg)) {
        (Some(l), Ok(n)) => Err(ScheduleFailure::LegRefused {
            leg: n,
            source_bank: l.source_bank,
            refusal,
        }),
        _ => Err(ScheduleFailure::Refused { refusal }),
    }
}

/// A scheduled Pix from `account` under `tx`: `Some` with how it ended, `None` to try again.
async fn send_pix(
    engine: &EngineHandle,
    consortium: Option<&dyn Consortium>,
    (account, tx): (AccountId, TxId),
    (key, amount, message): (&PixKey, Cents, &PixMessage),
) -> Option<Result<(), ScheduleFailure>> {
    let me = engine.bank().id;
    let found = match consortium {
        Some(c) => match c.lookup(key.clone()).await {
            Ok(found) => Some(found),
            Err(EngineError::Ledger(LedgerError::UnknownAccount)) => {
                return Some(Err(ScheduleFailure::NoReceiver))
            }
            Err(_) => return None,
        },
        None => None,
    };
    let receiver_bank = found.as_ref().map_or(me, |f| f.bank.id);
    // Once paid, the receiver is the newest to pay again, as after a Pix sent now.
    let paid = || async {
        if let Some(f) = &found {
            let contact = Contact::new(key, &f.name, &f.key_masked, f.bank.id);
            keep_contact(engine, account, contact).await;
        }
        Some(Ok(()))
    };
    if receiver_bank == me {
        return match engine
            .pix_with(tx, account, (key.clone(), amount), message.clone())
            .await
        {
            Ok(r) if r.status == TxStatus::Committed => paid().await,
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
        receiver_key: key.clone(),
        receiver_bank,
        amount,
        message: message.clone(),
    };
    let packet = match Packet::new(vec![leg], &members) {
        Ok(p) => p,
        Err(_) => return Some(Err(ScheduleFailure::NoReceiver)),
    };
    match c.submit(account, tx, packet).await {
        Ok(outcome) if outcome.status == TxStatus::Committed => paid().await,
        Ok(outcome) => Some(Err(match outcome.failure() {
            Some((_, refusal)) => ScheduleFailure::Refused { refusal },
            None => ScheduleFailure::NotDelivered,
        })),
        Err(_) => None,
    }
}

/// Keeps `contact` as `account`'s newest receiver to pay again; a failure costs the client only
/// that shortcut, never the Pix.
async fn keep_contact(engine: &EngineHandle, account: AccountId, contact: Contact) {
    if let Err(e) = engine.used_contact(account, contact).await {
        tracing::warn!(error = %e, "keeping a scheduled Pix's receiver to pay again");
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

#[cfg(test)]
mod tests {
    use super::*;
    use domain::dto::LegOutcome;
    use domain::{BankId, Refusal};

    fn bank(n: u16) -> BankId {
        BankId::try_from(n).unwrap()
    }

    /// A two-leg packet paid from banks 1 and 2, and an outcome whose leg `refused` (if any)
    /// carries `InsufficientFunds`.
    fn case(status: TxStatus, refused: Option<usize>) -> (PacketOutcome, PacketOrder) {
        let legs: Vec<PacketLeg> = [1, 2]
            .map(|source| PacketLeg {
                source_bank: bank(source),
                receiver_key: PixKey::parse("111.444.777-35").unwrap(),
                receiver_bank: bank(3),
                amount: Cents::new(100),
                message: PixMessage::none(),
            })
            .into();
        let members = [bank(1), bank(2), bank(3)];
        let order = PacketOrder::from(Packet::new(legs, &members).unwrap());
        let outcome = PacketOutcome {
            tx_id: TxId::compose(bank(1), "202612080600", "abcdefghijk").unwrap(),
            status,
            legs: (0..2)
                .map(|i| LegOutcome {
                    status,
                    error: (refused == Some(i)).then_some(Refusal::InsufficientFunds),
                    receiver: None,
                    amount: Cents::new(100),
                })
                .collect(),
        };
        (outcome, order)
    }

    #[test]
    fn a_refused_packet_names_the_transfer_and_the_bank_of_the_account_that_was_to_pay() {
        let (outcome, order) = case(TxStatus::Aborted, Some(1));
        assert_eq!(
            packet_result(&outcome, &order),
            Err(ScheduleFailure::LegRefused {
                leg: 1,
                source_bank: bank(2),
                refusal: Refusal::InsufficientFunds
            })
        );
        let (outcome, order) = case(TxStatus::Aborted, None);
        assert_eq!(
            packet_result(&outcome, &order),
            Err(ScheduleFailure::NotDelivered),
            "aborted, no transfer to blame"
        );
        let (outcome, order) = case(TxStatus::Committed, None);
        assert_eq!(packet_result(&outcome, &order), Ok(()));
    }
}
