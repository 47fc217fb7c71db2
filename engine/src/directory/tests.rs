use super::*;

fn bank(n: u16) -> BankId {
    BankId::try_from(n).unwrap()
}

fn tx(n: u32) -> TxId {
    TxId::parse(&format!("E00000001202611261705000000{n:05}")).unwrap()
}

fn key(text: &str) -> PixKey {
    PixKey::parse(text).unwrap()
}

fn claim(k: &str, account: i64) -> KeyOp {
    KeyOp::Claim {
        key: key(k),
        account: AccountId(account),
        name: "Ana Lima".into(),
        document: "***.982.247-**".into(),
    }
}

#[test]
fn one_reservation_per_key_so_one_winner() {
    let mut d = Directory::default();
    let me = bank(3);
    // Banks 1 and 2 claim the same e-mail: the first reservation holds the key.
    assert_eq!(
        d.prepare(me, &tx(1), bank(1), claim("ana@example.com", 7), 0),
        Ok(())
    );
    assert_eq!(
        d.prepare(me, &tx(2), bank(2), claim("ana@example.com", 9), 0),
        Err(Refusal::KeyBusy { bank: me })
    );
    // A repeated prepare of the same transaction is answered the same.
    assert_eq!(
        d.prepare(me, &tx(1), bank(1), claim("ana@example.com", 7), 0),
        Ok(())
    );
    assert!(d.decide(&tx(1), true, 5));
    let owner = d.owner(&key("ana@example.com")).unwrap();
    assert_eq!(
        (owner.bank, owner.account, owner.since_ms),
        (bank(1), AccountId(7), 5)
    );
    // Now taken, for anyone.
    assert_eq!(
        d.prepare(me, &tx(3), bank(2), claim("ana@example.com", 9), 0),
        Err(Refusal::KeyTaken { bank: me })
    );
    assert_eq!(d.keys_of(bank(1), AccountId(7)).len(), 1);
    assert!(
        !d.decide(&tx(3), true, 6),
        "nothing reserved for a refused claim"
    );
}

#[test]
fn only_the_owning_bank_releases_and_an_abort_changes_nothing() {
    let mut d = Directory::default();
    let me = bank(3);
    d.prepare(me, &tx(1), bank(1), claim("+5511987654321", 7), 0)
        .unwrap();
    d.decide(&tx(1), true, 1);
    let release = KeyOp::Release {
        key: key("+5511987654321"),
    };
    assert_eq!(
        d.prepare(me, &tx(2), bank(2), release.clone(), 2),
        Err(Refusal::KeyUnknown { bank: me }),
        "bank 2 cannot delete bank 1's key"
    );
    d.prepare(me, &tx(3), bank(1), release.clone(), 3).unwrap();
    assert_eq!(d.claims_in_flight(bank(1), AccountId(7)), 0);
    assert!(d.decide(&tx(3), false, 4));
    assert!(
        d.owner(&key("+5511987654321")).is_some(),
        "aborted: still there"
    );
    d.prepare(me, &tx(4), bank(1), release, 5).unwrap();
    d.decide(&tx(4), true, 6);
    assert!(d.owner(&key("+5511987654321")).is_none());
    assert_eq!(d.reserved_count(), 0);
}

#[test]
fn garbage_claims_are_refused_and_state_survives_a_restore() {
    let mut d = Directory::default();
    let me = bank(3);
    let long_name = KeyOp::Claim {
        key: key("b@example.com"),
        account: AccountId(1),
        name: "x".repeat(101),
        document: String::new(),
    };
    assert_eq!(
        d.prepare(me, &tx(1), bank(5), long_name, 0),
        Err(Refusal::InvalidParts { bank: me })
    );
    d.prepare(me, &tx(2), bank(1), claim("529.982.247-25", 7), 0)
        .unwrap();
    d.prepare(me, &tx(3), bank(1), claim("ana@example.com", 7), 0)
        .unwrap();
    d.decide(&tx(3), true, 1);
    assert_eq!(d.claims_in_flight(bank(1), AccountId(7)), 1);
    // What the store would hold: the entries and the open reservation.
    let entries: Vec<DirEntry> = d.read().values().cloned().collect();
    let open: Vec<Reservation> = d.reservations.values().cloned().collect();
    let mut back = Directory::restore(entries, open);
    assert!(back.holds(&tx(2)));
    assert!(back.decide(&tx(2), true, 2));
    assert_eq!(back.keys_of(bank(1), AccountId(7)).len(), 2);
}

fn port(k: &str, account: i64) -> KeyOp {
    KeyOp::Port {
        key: key(k),
        account: AccountId(account),
        name: "Ana Lima".into(),
        document: "***.982.247-**".into(),
        holders: vec![domain::TaxId::parse("529.982.247-25").unwrap()],
    }
}

#[test]
fn a_key_moves_to_another_bank_only_from_where_it_is() {
    let mut d = Directory::default();
    let me = bank(3);
    // Nothing to move yet.
    assert_eq!(
        d.prepare(me, &tx(1), bank(2), port("ana@example.com", 4), 0),
        Err(Refusal::KeyUnknown { bank: me })
    );
    d.prepare(me, &tx(2), bank(1), claim("ana@example.com", 7), 0)
        .unwrap();
    d.decide(&tx(2), true, 1);
    // Bank 1 already has it: not a move.
    assert_eq!(
        d.prepare(me, &tx(3), bank(1), port("ana@example.com", 8), 0),
        Err(Refusal::InvalidParts { bank: me })
    );
    // Bank 2 moves it; aborted, nothing changes; committed, it pays bank 2's account.
    d.prepare(me, &tx(4), bank(2), port("ana@example.com", 4), 0)
        .unwrap();
    assert_eq!(
        d.prepare(me, &tx(5), bank(4), claim("ana@example.com", 1), 0),
        Err(Refusal::KeyBusy { bank: me }),
        "reserved while the move is prepared"
    );
    d.decide(&tx(4), false, 2);
    assert_eq!(d.owner(&key("ana@example.com")).unwrap().bank, bank(1));
    d.prepare(me, &tx(6), bank(2), port("ana@example.com", 4), 0)
        .unwrap();
    d.decide(&tx(6), true, 3);
    let owner = d.owner(&key("ana@example.com")).unwrap();
    assert_eq!((owner.bank, owner.account), (bank(2), AccountId(4)));
    assert_eq!(d.keys_of(bank(1), AccountId(7)).len(), 0);
    assert_eq!(d.keys_of(bank(2), AccountId(4)).len(), 1);
    // A CPF key never moves this way: a document is no secret.
    d.prepare(me, &tx(7), bank(1), claim("529.982.247-25", 7), 0)
        .unwrap();
    d.decide(&tx(7), true, 4);
    assert_eq!(
        d.prepare(me, &tx(8), bank(2), port("529.982.247-25", 4), 0),
        Err(Refusal::InvalidParts { bank: me })
    );
}
