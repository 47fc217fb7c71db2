//! Charges at the bank holding them (issue 28): a charge is reserved with its payment's credit
//! at prepare, so of two payments from two banks one is refused; it is paid on commit, open
//! again on abort, expires by the engine's clock, and is cancelled only while open.

use super::*;
use crate::charges::{ChargeError, ChargeState, NewCharge};
use domain::charge::{ChargeId, ChargeStatus};

fn id(text: &str) -> ChargeId {
    ChargeId::parse(&format!("{text:0>26}")).unwrap()
}

/// Beto's charge `name` of `cents`, open for `lifetime_ms`.
async fn charge(engine: &EngineHandle, beto: AccountId, name: &str, cents: i64, lifetime_ms: i64) {
    let new = NewCharge {
        id: id(name),
        account: beto,
        amount: Cents::new(cents),
        description: format!("pedido {name}"),
        lifetime_ms,
    };
    let (charge, status) = engine.create_charge(new).await.unwrap();
    assert_eq!((charge.account, status), (beto, ChargeStatus::Open));
}

/// Coordinator `c`'s payment `tx` of `cents` to charge `name` at this bank.
fn payment(tx: &TxId, name: &str, cents: i64, c: u16) -> PrepareItem {
    PrepareItem {
        tx: tx.clone(),
        parts: vec![(
            0,
            PartSpec::ChargeCredit {
                charge: id(name),
                amount: Cents::new(cents),
                from: Counterparty {
                    bank: bank(c),
                    ..cp("Payer")
                },
            },
        )],
        plan: None,
    }
}

fn tx_of(c: u16) -> TxId {
    let suffix = rand::distr::Alphanumeric.sample_string(&mut rand::rng(), 11);
    TxId::compose(bank(c), "202611261705", &suffix).unwrap()
}

fn refused(votes: Vec<Vote>) -> Refusal {
    match &votes[..] {
        [Vote::Refused { reason, .. }] => *reason,
        other => panic!("not refused: {other:?}"),
    }
}

async fn status(engine: &EngineHandle, beto: AccountId, name: &str) -> ChargeStatus {
    let all = engine.charges_of(beto).await.unwrap();
    all.into_iter()
        .find(|(c, _)| c.id == id(name))
        .map(|(_, s)| s)
        .expect("the charge is listed")
}

#[tokio::test]
async fn a_charge_is_paid_once_whichever_banks_pay_it() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let (_ana, beto) = funded(&engine).await;
    charge(&engine, beto, "a", 500, 60_000).await;

    // Bank 1's payment reserves the charge with its credit; bank 3's, at the same time, is
    // refused and reserves nothing.
    let first = tx_of(1);
    assert_eq!(
        prepare(&engine, 1, vec![payment(&first, "a", 500, 1)]).await,
        vec![Vote::Prepared]
    );
    let second = tx_of(3);
    assert_eq!(
        refused(prepare(&engine, 3, vec![payment(&second, "a", 500, 3)]).await),
        Refusal::ChargeBusy
    );
    assert_eq!(status(&engine, beto, "a").await, ChargeStatus::Open);
    assert_eq!(
        engine.cancel_charge(beto, id("a")).await,
        Err(EngineError::Charge(ChargeError::NotOpen(
            Refusal::ChargeBusy
        )))
    );
    // Bank 1's aborts: open again, and bank 3 pays it.
    engine
        .decide(bank(1), vec![decision(&first, false)])
        .await
        .unwrap();
    let third = tx_of(3);
    assert_eq!(
        prepare(&engine, 3, vec![payment(&third, "a", 500, 3)]).await,
        vec![Vote::Prepared]
    );
    engine
        .decide(bank(3), vec![decision(&third, true)])
        .await
        .unwrap();
    assert_eq!(balances(&engine, beto).await, (500, 0));
    assert_eq!(status(&engine, beto, "a").await, ChargeStatus::Paid);
    let (paid, _) = engine.charges_of(beto).await.unwrap().remove(0);
    assert_eq!(paid.paid_by(), Some(&third));

    // Paid, it stays paid across a restart, and nobody pays it again.
    drop(engine);
    thread.join().unwrap();
    let (engine, _thread) = start(&dir);
    assert_eq!(status(&engine, beto, "a").await, ChargeStatus::Paid);
    assert_eq!(
        refused(prepare(&engine, 1, vec![payment(&tx_of(1), "a", 500, 1)]).await),
        Refusal::ChargePaid
    );
    assert_eq!(balances(&engine, beto).await, (500, 0));
}

#[tokio::test]
async fn a_charge_is_paid_only_for_its_amount_and_with_the_rest_of_its_item() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _thread) = start(&dir);
    let (_ana, beto) = funded(&engine).await;
    charge(&engine, beto, "b", 500, 60_000).await;
    assert_eq!(
        refused(prepare(&engine, 1, vec![payment(&tx_of(1), "b", 499, 1)]).await),
        Refusal::ChargeAmount
    );
    assert_eq!(
        refused(prepare(&engine, 1, vec![payment(&tx_of(1), "nope", 500, 1)]).await),
        Refusal::ChargeUnknown
    );
    // Two payments of the charge in one item: the second leg is refused, and the item with it.
    let tx = tx_of(1);
    let mut twice = payment(&tx, "b", 500, 1);
    twice.parts.push((1, twice.parts[0].1.clone()));
    assert_eq!(
        refused(prepare(&engine, 1, vec![twice]).await),
        Refusal::ChargeBusy
    );
    // A payment beside a credit that fails: nothing is reserved, the charge stays open.
    let tx = tx_of(1);
    let mut beside = payment(&tx, "b", 500, 1);
    beside.parts.push((
        1,
        PartSpec::Credit {
            key: key("nobody@example.com"),
            amount: Cents::new(1),
            from: cp("Payer"),
            message: domain::PixMessage::none(),
        },
    ));
    assert_eq!(
        refused(prepare(&engine, 1, vec![beside]).await),
        Refusal::UnknownReceiver { bank: bank(2) }
    );
    assert_eq!(status(&engine, beto, "b").await, ChargeStatus::Open);
    let ok = tx_of(1);
    assert_eq!(
        prepare(&engine, 1, vec![payment(&ok, "b", 500, 1)]).await,
        vec![Vote::Prepared]
    );
    assert_eq!(engine.audit().await.unwrap().total_incoming, 500);
}

#[tokio::test]
async fn a_charge_expires_by_the_engines_clock_and_is_cancelled_only_while_open() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(NOW)));
    let (engine, _t) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let (_ana, beto) = funded(&engine).await;
    // A minute each, the shortest a charge lives (the test's plans are decided by then too).
    charge(&engine, beto, "c", 500, 60_000).await;
    charge(&engine, beto, "d", 500, 60_000).await;

    // One millisecond before its end it is open; at its end it is expired, and refused.
    clock.0.store(NOW + 59_999, SeqCst);
    assert_eq!(status(&engine, beto, "c").await, ChargeStatus::Open);
    clock.0.store(NOW + 60_000, SeqCst);
    assert_eq!(status(&engine, beto, "c").await, ChargeStatus::Expired);
    assert_eq!(
        refused(prepare(&engine, 1, vec![payment(&tx_of(1), "c", 500, 1)]).await),
        Refusal::ChargeExpired
    );
    assert_eq!(
        engine.cancel_charge(beto, id("c")).await,
        Err(EngineError::Charge(ChargeError::NotOpen(
            Refusal::ChargeExpired
        )))
    );

    // Cancelled while open: refused after, by its receiver only.
    clock.0.store(NOW + 1_000, SeqCst);
    assert_eq!(
        engine.cancel_charge(AccountId(999), id("d")).await,
        Err(EngineError::Charge(ChargeError::Unknown))
    );
    let (cancelled, s) = engine.cancel_charge(beto, id("d")).await.unwrap();
    assert_eq!(s, ChargeStatus::Cancelled);
    assert_eq!(cancelled.id, id("d"));
    assert_eq!(
        refused(prepare(&engine, 1, vec![payment(&tx_of(1), "d", 500, 1)]).await),
        Refusal::ChargeCancelled
    );
    // What a payer is told of it.
    let info = engine.charge(id("d")).await.unwrap().unwrap();
    assert_eq!(info.status, ChargeStatus::Cancelled);
    assert_eq!(info.receiver.name, "Beto Reis");
    assert_eq!(info.receiver.bank, bank(2));
    assert_eq!(engine.charge(id("none")).await.unwrap(), None);
    assert_eq!(balances(&engine, beto).await, (0, 0));
}

#[tokio::test]
async fn the_engine_keeps_charges_bounded_whoever_asks() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _thread) = start(&dir);
    let (_ana, beto) = funded(&engine).await;
    let new = |cents: i64, description: String, lifetime_ms: i64| NewCharge {
        id: id("e"),
        account: beto,
        amount: Cents::new(cents),
        description,
        lifetime_ms,
    };
    let week_ms = domain::charge::EXPIRY_MAX_MINUTES * 60_000;
    let long = "x".repeat(domain::charge::DESCRIPTION_MAX_CHARS + 1);
    for bad in [
        new(0, "ok".into(), 60_000),
        new(500, long, 60_000),
        new(500, "ok".into(), 59_999),
        new(500, "ok".into(), week_ms + 1),
    ] {
        assert_eq!(
            engine.create_charge(bad).await,
            Err(EngineError::Unexpected)
        );
    }
    let stranger = NewCharge {
        account: AccountId(999),
        ..new(500, "ok".into(), 60_000)
    };
    assert!(engine.create_charge(stranger).await.is_err());
    assert!(engine.charges_of(beto).await.unwrap().is_empty());
}

/// A coordinator that reserves a charge and never decides pins it no longer than any other
/// part: given up past its plan's deadline and the grace, the charge is open again.
#[tokio::test]
async fn a_charge_held_by_a_silent_coordinator_is_open_again_once_its_part_is_given_up() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(NOW)));
    let (engine, _t) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let (_ana, beto) = funded(&engine).await;
    charge(&engine, beto, "f", 500, 24 * 60 * 60_000).await;
    let pinned = tx_of(1);
    assert_eq!(
        prepare(&engine, 1, vec![payment(&pinned, "f", 500, 1)]).await,
        vec![Vote::Prepared]
    );
    assert_eq!(
        refused(prepare(&engine, 3, vec![payment(&tx_of(3), "f", 500, 3)]).await),
        Refusal::ChargeBusy
    );
    // Still within the grace: held.
    clock.0.store(NOW + 60_000 + EXPIRY_GRACE_MS, SeqCst);
    assert!(engine.expire().await.unwrap().is_empty());
    clock.0.store(NOW + 60_000 + EXPIRY_GRACE_MS + 1, SeqCst);
    assert_eq!(engine.expire().await.unwrap(), vec![pinned]);
    let (charge, status) = engine.charges_of(beto).await.unwrap().remove(0);
    assert_eq!(
        (charge.state, status),
        (ChargeState::Open, ChargeStatus::Open)
    );
    assert_eq!(balances(&engine, beto).await, (0, 0));
}
