use super::*;

const MINUTE_MS: i64 = 60_000;

fn id(n: usize) -> ChargeId {
    ChargeId::parse(&format!("{n:0>26}")).unwrap()
}

fn tx(n: u32) -> TxId {
    TxId::parse(&format!("E00000001202601011200{n:0>11}")).unwrap()
}

fn new(n: usize, account: i64, amount: i64) -> NewCharge {
    NewCharge {
        id: id(n),
        account: AccountId(account),
        amount: Cents::new(amount),
        description: format!("pedido {n}"),
        lifetime_ms: 10 * MINUTE_MS,
    }
}

#[test]
fn a_charge_is_open_until_it_expires() {
    let mut charges = Charges::default();
    let c = charges.create(new(1, 1, 500), 1_000).unwrap();
    assert_eq!(c.expires_ms, 1_000 + 10 * MINUTE_MS);
    assert_eq!(c.status(c.expires_ms - 1), ChargeStatus::Open);
    assert_eq!(c.status(c.expires_ms), ChargeStatus::Expired);
    // Expired: neither paid nor cancelled.
    let late = c.expires_ms;
    assert_eq!(
        charges.reserve(&id(1), &tx(1), Cents::new(500), late),
        Err(Refusal::ChargeExpired)
    );
    assert_eq!(
        charges.cancel(AccountId(1), &id(1), late),
        Err(ChargeError::NotOpen(Refusal::ChargeExpired))
    );
}

#[test]
fn a_charge_is_paid_once_and_an_abort_opens_it_again() {
    let mut charges = Charges::default();
    charges.create(new(1, 1, 500), 0).unwrap();
    assert_eq!(
        charges.reserve(&id(1), &tx(1), Cents::new(499), 1),
        Err(Refusal::ChargeAmount)
    );
    assert_eq!(
        charges.reserve(&id(1), &tx(1), Cents::new(500), 1),
        Ok(AccountId(1))
    );
    // A second payment while the first is in flight, even of the same transaction.
    assert_eq!(
        charges.reserve(&id(1), &tx(2), Cents::new(500), 2),
        Err(Refusal::ChargeBusy)
    );
    assert_eq!(
        charges.reserve(&id(1), &tx(1), Cents::new(500), 2),
        Err(Refusal::ChargeBusy)
    );
    assert_eq!(
        charges.cancel(AccountId(1), &id(1), 2),
        Err(ChargeError::NotOpen(Refusal::ChargeBusy))
    );
    // The first aborts: open again, and the second may pay.
    charges.settle(&tx(1), false, 3);
    assert_eq!(charges.get(&id(1)).unwrap().state, ChargeState::Open);
    charges.reserve(&id(1), &tx(2), Cents::new(500), 4).unwrap();
    // A decision about a transaction that reserved nothing changes nothing.
    charges.settle(&tx(1), true, 5);
    charges.settle(&tx(2), true, 5);
    let paid = charges.get(&id(1)).unwrap();
    assert_eq!(paid.status(6), ChargeStatus::Paid);
    assert_eq!(paid.paid_by(), Some(&tx(2)));
    // Paid stays paid, past its expiry too.
    assert_eq!(paid.status(i64::MAX), ChargeStatus::Paid);
    assert_eq!(
        charges.reserve(&id(1), &tx(3), Cents::new(500), 7),
        Err(Refusal::ChargePaid)
    );
    assert_eq!(
        charges.cancel(AccountId(1), &id(1), 7),
        Err(ChargeError::NotOpen(Refusal::ChargePaid))
    );
}

#[test]
fn only_its_receiver_cancels_it_and_then_nobody_pays_it() {
    let mut charges = Charges::default();
    charges.create(new(1, 1, 500), 0).unwrap();
    assert_eq!(
        charges.cancel(AccountId(2), &id(1), 1),
        Err(ChargeError::Unknown)
    );
    let c = charges.cancel(AccountId(1), &id(1), 1).unwrap();
    assert_eq!(c.status(2), ChargeStatus::Cancelled);
    // Again: nothing changes.
    charges.take_changes();
    assert_eq!(charges.cancel(AccountId(1), &id(1), 2).unwrap(), c);
    assert!(charges.take_changes().is_empty());
    assert_eq!(
        charges.reserve(&id(1), &tx(1), Cents::new(500), 3),
        Err(Refusal::ChargeCancelled)
    );
    assert_eq!(
        charges.reserve(&id(9), &tx(1), Cents::new(500), 3),
        Err(Refusal::ChargeUnknown)
    );
}

#[test]
fn an_id_names_one_charge() {
    let mut charges = Charges::default();
    let first = charges.create(new(1, 1, 500), 0).unwrap();
    // The same charge asked again: the same answer, nothing new.
    charges.take_changes();
    assert_eq!(charges.create(new(1, 1, 500), 5).unwrap(), first);
    assert!(charges.take_changes().is_empty());
    // Other terms, or another account: refused.
    assert_eq!(charges.create(new(1, 1, 501), 5), Err(ChargeError::IdInUse));
    assert_eq!(charges.create(new(1, 2, 500), 5), Err(ChargeError::IdInUse));
}

#[test]
fn an_account_keeps_a_bounded_number_of_charges() {
    let mut charges = Charges::default();
    for n in 0..CHARGES_PER_ACCOUNT_MAX {
        charges.create(new(n, 1, 100), n as i64).unwrap();
    }
    // All open: one more is refused, for this account only.
    let n = CHARGES_PER_ACCOUNT_MAX;
    assert_eq!(
        charges.create(new(n, 1, 100), 1_000),
        Err(ChargeError::TooMany)
    );
    charges.create(new(n + 1, 2, 100), 1_000).unwrap();
    // One cancelled: it is forgotten to make room.
    charges.cancel(AccountId(1), &id(7), 1_001).unwrap();
    charges.take_changes();
    charges.create(new(n, 1, 100), 1_002).unwrap();
    assert!(charges.get(&id(7)).is_none());
    assert!(charges
        .take_changes()
        .contains(&ChargeChange::Forget(id(7))));
    assert_eq!(charges.of(AccountId(1)).len(), CHARGES_PER_ACCOUNT_MAX);
    assert_eq!(charges.of(AccountId(1))[0].id, id(n));
}

#[test]
fn a_reservation_survives_a_restore() {
    let mut charges = Charges::default();
    charges.create(new(1, 1, 500), 0).unwrap();
    charges.reserve(&id(1), &tx(1), Cents::new(500), 1).unwrap();
    let stored: Vec<Charge> = charges.of(AccountId(1)).into_iter().cloned().collect();
    let mut back = Charges::restore(stored);
    assert_eq!(
        back.reserve(&id(1), &tx(2), Cents::new(500), 2),
        Err(Refusal::ChargeBusy)
    );
    back.settle(&tx(1), true, 3);
    assert_eq!(back.get(&id(1)).unwrap().paid_by(), Some(&tx(1)));
}
