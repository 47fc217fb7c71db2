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
        d.prepare(
            (me, &keys()),
            &tx(1),
            bank(1),
            claim("ana@example.com", 7),
            0
        ),
        Ok(())
    );
    assert_eq!(
        d.prepare(
            (me, &keys()),
            &tx(2),
            bank(2),
            claim("ana@example.com", 9),
            0
        ),
        Err(Refusal::KeyBusy { bank: me })
    );
    // A repeated prepare of the same transaction is answered the same.
    assert_eq!(
        d.prepare(
            (me, &keys()),
            &tx(1),
            bank(1),
            claim("ana@example.com", 7),
            0
        ),
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
        d.prepare(
            (me, &keys()),
            &tx(3),
            bank(2),
            claim("ana@example.com", 9),
            0
        ),
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
    d.prepare(
        (me, &keys()),
        &tx(1),
        bank(1),
        claim("+5511987654321", 7),
        0,
    )
    .unwrap();
    d.decide(&tx(1), true, 1);
    let release = KeyOp::Release {
        key: key("+5511987654321"),
    };
    assert_eq!(
        d.prepare((me, &keys()), &tx(2), bank(2), release.clone(), 2),
        Err(Refusal::KeyUnknown { bank: me }),
        "bank 2 cannot delete bank 1's key"
    );
    d.prepare((me, &keys()), &tx(3), bank(1), release.clone(), 3)
        .unwrap();
    assert_eq!(d.claims_in_flight(bank(1), AccountId(7)), 0);
    assert!(d.decide(&tx(3), false, 4));
    assert!(
        d.owner(&key("+5511987654321")).is_some(),
        "aborted: still there"
    );
    d.prepare((me, &keys()), &tx(4), bank(1), release, 5)
        .unwrap();
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
        d.prepare((me, &keys()), &tx(1), bank(5), long_name, 0),
        Err(Refusal::InvalidParts { bank: me })
    );
    d.prepare(
        (me, &keys()),
        &tx(2),
        bank(1),
        claim("529.982.247-25", 7),
        0,
    )
    .unwrap();
    d.prepare(
        (me, &keys()),
        &tx(3),
        bank(1),
        claim("ana@example.com", 7),
        0,
    )
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

/// Bank `n`'s key in these tests.
fn signer(n: u8) -> crate::proof::BankKey {
    crate::proof::BankKey::from_seed([n; 32])
}

/// The public keys of banks 1 to 5.
fn keys() -> Keyring {
    Keyring::new(
        (1..=5)
            .map(|n| (bank(n.into()), signer(n).public()))
            .collect(),
    )
}

/// A move of `k` to `account` at bank `to`, as bank `from` permits it (signed by `signer`).
fn port_by(k: &str, (from, to): (u16, u16), account: i64, signer: &crate::proof::BankKey) -> KeyOp {
    KeyOp::Port {
        permit: PortPermit::sign(
            signer,
            (key(k), bank(from), bank(to)),
            AccountId(account),
            "Ana Lima".into(),
            "***.982.247-**".into(),
            1_000,
        ),
    }
}

/// A move of `k` from bank 1, which signs it, to `account` at bank `to`.
fn port(k: &str, to: u16, account: i64) -> KeyOp {
    port_by(k, (1, to), account, &signer(1))
}

#[test]
fn a_key_moves_to_another_bank_only_from_where_it_is() {
    let mut d = Directory::default();
    let me = bank(3);
    // Nothing to move yet.
    assert_eq!(
        d.prepare(
            (me, &keys()),
            &tx(1),
            bank(2),
            port("ana@example.com", 2, 4),
            0
        ),
        Err(Refusal::KeyUnknown { bank: me })
    );
    d.prepare(
        (me, &keys()),
        &tx(2),
        bank(1),
        claim("ana@example.com", 7),
        0,
    )
    .unwrap();
    d.decide(&tx(2), true, 1);
    // Bank 1 already has it: not a move.
    assert_eq!(
        d.prepare(
            (me, &keys()),
            &tx(3),
            bank(1),
            port("ana@example.com", 1, 8),
            0
        ),
        Err(Refusal::InvalidParts { bank: me })
    );
    // Bank 2 moves it; aborted, nothing changes; committed, it pays bank 2's account.
    d.prepare(
        (me, &keys()),
        &tx(4),
        bank(2),
        port("ana@example.com", 2, 4),
        0,
    )
    .unwrap();
    assert_eq!(
        d.prepare(
            (me, &keys()),
            &tx(5),
            bank(4),
            claim("ana@example.com", 1),
            0
        ),
        Err(Refusal::KeyBusy { bank: me }),
        "reserved while the move is prepared"
    );
    d.decide(&tx(4), false, 2);
    assert_eq!(d.owner(&key("ana@example.com")).unwrap().bank, bank(1));
    d.prepare(
        (me, &keys()),
        &tx(6),
        bank(2),
        port("ana@example.com", 2, 4),
        0,
    )
    .unwrap();
    d.decide(&tx(6), true, 3);
    let owner = d.owner(&key("ana@example.com")).unwrap();
    assert_eq!((owner.bank, owner.account), (bank(2), AccountId(4)));
    assert_eq!(d.keys_of(bank(1), AccountId(7)).len(), 0);
    assert_eq!(d.keys_of(bank(2), AccountId(4)).len(), 1);
    // A CPF key never moves this way: a document is no secret.
    d.prepare(
        (me, &keys()),
        &tx(7),
        bank(1),
        claim("529.982.247-25", 7),
        0,
    )
    .unwrap();
    d.decide(&tx(7), true, 4);
    assert_eq!(
        d.prepare(
            (me, &keys()),
            &tx(8),
            bank(2),
            port("529.982.247-25", 2, 4),
            0
        ),
        Err(Refusal::InvalidParts { bank: me })
    );
}

#[test]
fn a_key_moves_only_with_its_owning_banks_signed_permit() {
    let mut d = Directory::default();
    let me = bank(3);
    let k = "ana@example.com";
    d.prepare((me, &keys()), &tx(1), bank(1), claim(k, 7), 0)
        .unwrap();
    d.decide(&tx(1), true, 1);
    let refused = |d: &mut Directory, n: u32, op: KeyOp, now: i64| {
        let r = d.prepare((me, &keys()), &tx(n), bank(5), op, now);
        assert_eq!(r, Err(Refusal::PortNotAllowed { bank: bank(1) }), "{n}");
    };
    // The confirmed attack: bank 5 moves bank 1's client's key to itself. Signed by bank 5
    // (its own valid key), or by bank 1 for bank 2, or expired, or altered after signing:
    // every bank refuses it, whether or not bank 1 was asked.
    refused(&mut d, 2, port_by(k, (1, 5), 9, &signer(5)), 0);
    refused(&mut d, 3, port_by(k, (5, 5), 9, &signer(5)), 0);
    refused(&mut d, 4, port(k, 2, 9), 0);
    refused(&mut d, 5, port(k, 5, 9), 1_001);
    let KeyOp::Port { mut permit } = port(k, 5, 9) else {
        unreachable!()
    };
    permit.account = AccountId(10);
    refused(&mut d, 6, KeyOp::Port { permit }, 0);
    assert_eq!(d.reserved_count(), 0, "nothing reserved");
    assert_eq!(d.owner(&key(k)).unwrap().bank, bank(1));
    // Bank 1's permit for bank 5 moves it.
    d.prepare((me, &keys()), &tx(7), bank(5), port(k, 5, 9), 1_000)
        .unwrap();
    d.decide(&tx(7), true, 2);
    let owner = d.owner(&key(k)).unwrap();
    assert_eq!((owner.bank, owner.account), (bank(5), AccountId(9)));
    // Used: the key is bank 5's now, so the same permit cannot move it again from elsewhere.
    assert_eq!(
        d.prepare((me, &keys()), &tx(8), bank(5), port(k, 5, 9), 0),
        Err(Refusal::InvalidParts { bank: me })
    );
}
