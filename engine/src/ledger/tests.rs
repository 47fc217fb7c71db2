use super::*;
use crate::auth::PasswordHash;
use domain::BankId;
use proptest::prelude::*;

/// A stored hash no password matches (accounts here never log in; a real hash would cost
/// an Argon2id run each).
const NO_PASSWORD: &str = "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA";

const CPFS: [&str; 4] = [
    "529.982.247-25",
    "111.444.777-35",
    "123.456.789-09",
    "935.411.347-80",
];

fn tx(n: u32) -> TxId {
    TxId::compose(
        BankId::try_from(1).unwrap(),
        "202611261705",
        &format!("T{n:010}"),
    )
    .unwrap()
}

fn cp() -> Counterparty {
    Counterparty {
        name: "Other".into(),
        key_masked: "***".into(),
        bank: BankId::try_from(1).unwrap(),
    }
}

fn open(ledger: &mut Ledger, i: usize) -> AccountId {
    let new = NewAccount {
        kind: AccountKind::Individual,
        holders: vec![Holder {
            name: format!("Holder {i}"),
            tax_id: TaxId::parse(CPFS[i]).unwrap(),
        }],
        logins: vec![login(0, &format!("h{i}@example.com"))],
        phone: "11987654321".into(),
    };
    ledger.open_account(new, 0).unwrap()
}

fn c(v: i64) -> Cents {
    Cents::new(v)
}

#[test]
fn pix_inside_the_bank_reserves_then_commits() {
    let mut l = Ledger::new();
    let (a, b) = (open(&mut l, 0), open(&mut l, 1));
    l.deposit(tx(1), a, (c(10_000), None), 0).unwrap();
    l.prepare_debit(&tx(2), PartKey::single(a), c(2_500), cp(), 0)
        .unwrap();
    l.prepare_credit(&tx(2), PartKey::single(b), c(2_500), cp(), 0)
        .unwrap();
    assert_eq!(
        (
            l.account(a).unwrap().available,
            l.account(a).unwrap().blocked
        ),
        (c(7_500), c(2_500))
    );
    assert_eq!(l.account(b).unwrap().incoming, c(2_500));
    l.check_invariants().unwrap();
    l.commit(&tx(2), 0, 1).unwrap();
    assert_eq!(
        (
            l.account(a).unwrap().available,
            l.account(a).unwrap().blocked
        ),
        (c(7_500), c(0))
    );
    assert_eq!(
        (
            l.account(b).unwrap().available,
            l.account(b).unwrap().incoming
        ),
        (c(2_500), c(0))
    );
    assert_eq!(l.total_held(), 10_000);
    l.check_invariants().unwrap();
}

/// Bank 2 pays this bank's client R$ 300,00 and this bank's client pays bank 3's R$ 100,00; then
/// settlement windows: bank 2 pays its R$ 300,00 (confirmed here), this bank pays bank 3 its
/// R$ 100,00 (confirmed by bank 3). No client's balance moves, nothing is owed any more, and the
/// books balance at every step through their settled-by-window term.
#[test]
fn a_settled_window_pays_positions_down_and_the_books_still_balance() {
    let mut l = Ledger::new();
    let (a, b) = (open(&mut l, 0), open(&mut l, 1));
    let (two, three) = (BankId::try_from(2).unwrap(), BankId::try_from(3).unwrap());
    let from = |peer| PartKey {
        peer: Some(peer),
        ..PartKey::single(a)
    };
    l.deposit(tx(1), b, (c(1_000), None), 0).unwrap();
    l.prepare_credit(&tx(2), from(two), c(30_000), cp(), 0)
        .unwrap();
    l.commit(&tx(2), 0, 1).unwrap();
    let to_three = PartKey {
        peer: Some(three),
        ..PartKey::single(b)
    };
    l.prepare_debit(&tx(3), to_three, c(100), cp(), 0).unwrap();
    l.commit(&tx(3), 0, 1).unwrap();
    l.check_invariants().unwrap();
    let held = l.balance_sheet().0;
    assert_eq!(l.position(two).outstanding(), 30_000);
    assert_eq!(l.position(three).outstanding(), -100);

    l.settle_window(two, 30_000).unwrap();
    l.settle_window(three, -100).unwrap();
    l.check_invariants().unwrap();
    assert_eq!(
        l.balance_sheet(),
        (held, held),
        "clients hold what they held"
    );
    assert_eq!(
        (
            l.position(two).outstanding(),
            l.position(three).outstanding()
        ),
        (0, 0)
    );
    assert_eq!(l.position(two).settled, 30_000, "transfers stay history");
    assert_eq!(
        l.books().explained(),
        i128::from(l.books().deposits) + 30_000 - 100,
        "deposits + what windows brought in, net"
    );
    // A sum that would overflow is refused and changes nothing.
    assert_eq!(
        l.settle_window(two, i64::MAX),
        Err(LedgerError::BalanceLimit)
    );
    assert_eq!(l.position(two).by_windows, 30_000);
}

#[test]
fn abort_returns_the_reservation() {
    let mut l = Ledger::new();
    let (a, b) = (open(&mut l, 0), open(&mut l, 1));
    l.deposit(tx(1), a, (c(1_000), None), 0).unwrap();
    l.prepare_debit(&tx(2), PartKey::single(a), c(1_000), cp(), 0)
        .unwrap();
    l.prepare_credit(&tx(2), PartKey::single(b), c(1_000), cp(), 0)
        .unwrap();
    l.abort(&tx(2), 0).unwrap();
    assert_eq!(l.account(a).unwrap().available, c(1_000));
    assert_eq!(l.account(b).unwrap().available, c(0));
    assert_eq!(l.prepared_count(), 0);
    assert_eq!(
        l.abort(&tx(2), 0),
        Err(LedgerError::UnknownTx),
        "a decision applies once"
    );
    l.check_invariants().unwrap();
}

#[test]
fn failures_change_nothing() {
    let mut l = Ledger::new();
    let a = open(&mut l, 0);
    l.deposit(tx(1), a, (c(500), None), 0).unwrap();
    l.take_changes();
    assert_eq!(
        l.prepare_debit(&tx(2), PartKey::single(a), c(501), cp(), 0),
        Err(LedgerError::InsufficientFunds)
    );
    assert_eq!(
        l.deposit(tx(3), AccountId(99), (c(1), None), 0),
        Err(LedgerError::UnknownAccount)
    );
    assert_eq!(
        l.deposit(tx(4), a, (MAX_BALANCE, None), 0),
        Err(LedgerError::BalanceLimit)
    );
    assert!(l.take_changes().is_empty());
    assert_eq!(l.account(a).unwrap().available, c(500));
    assert_eq!(l.prepared_count(), 0);
}

#[test]
fn the_same_tax_id_or_email_opens_one_account_per_bank() {
    let mut l = Ledger::new();
    open(&mut l, 0);
    let mut dup = NewAccount {
        kind: AccountKind::Individual,
        holders: vec![Holder {
            name: "X".into(),
            tax_id: TaxId::parse(CPFS[0]).unwrap(),
        }],
        logins: vec![login(0, "other@example.com")],
        phone: "11987654321".into(),
    };
    assert_eq!(
        l.open_account(dup.clone(), 0),
        Err(LedgerError::DuplicateTaxId)
    );
    dup.holders[0].tax_id = TaxId::parse(CPFS[1]).unwrap();
    dup.logins[0].email = "h0@example.com".into();
    assert_eq!(l.open_account(dup, 0), Err(LedgerError::DuplicateEmail));
    assert_eq!(l.accounts().count(), 1);
}

fn login(holder: u8, email: &str) -> Login {
    Login::new(
        holder,
        email.into(),
        PasswordHash::from_stored(NO_PASSWORD.into()),
    )
}

/// Each holder of a joint account has a login of their own; every e-mail opens one login of
/// the whole bank, and logins that do not fit the holders are refused, changing nothing.
#[test]
fn each_holder_of_a_joint_account_logs_in_with_their_own_email() {
    let mut l = Ledger::new();
    open(&mut l, 0);
    let joint = |logins: Vec<Login>| NewAccount {
        kind: AccountKind::Individual,
        holders: vec![
            Holder {
                name: "Ana".into(),
                tax_id: TaxId::parse(CPFS[1]).unwrap(),
            },
            Holder {
                name: "Beto".into(),
                tax_id: TaxId::parse(CPFS[2]).unwrap(),
            },
        ],
        logins,
        phone: "11987654321".into(),
    };
    let refused = [
        (
            vec![login(1, "beto@example.com")],
            LedgerError::InvalidLogins,
        ),
        (
            vec![login(0, "ana@example.com"), login(2, "x@example.com")],
            LedgerError::InvalidLogins,
        ),
        (
            vec![login(0, "ana@example.com"), login(0, "x@example.com")],
            LedgerError::InvalidLogins,
        ),
        (
            vec![login(0, "ana@example.com"), login(1, "ana@example.com")],
            LedgerError::DuplicateEmail,
        ),
        (
            vec![login(0, "ana@example.com"), login(1, "h0@example.com")],
            LedgerError::DuplicateEmail,
        ),
    ];
    for (logins, error) in refused {
        assert_eq!(l.open_account(joint(logins), 0), Err(error));
    }
    assert_eq!(l.accounts().count(), 1, "nothing opened");
    assert!(l.by_email("ana@example.com").is_none());
    let id = l
        .open_account(
            joint(vec![
                login(0, "ana@example.com"),
                login(1, "beto@example.com"),
            ]),
            0,
        )
        .unwrap();
    for (email, holder) in [("ana@example.com", 0), ("beto@example.com", 1)] {
        let (account, found) = l.by_email(email).unwrap();
        assert_eq!((account.id, found.holder), (id, holder));
    }
    assert_eq!(l.account(id).unwrap().email(), "ana@example.com");
    let text = format!("{:?}", l.account(id).unwrap());
    assert!(
        !text.contains("argon2"),
        "Debug shows no password hash: {text}"
    );
}

#[test]
fn a_part_is_prepared_once() {
    let mut l = Ledger::new();
    let a = open(&mut l, 0);
    l.deposit(tx(1), a, (c(500), None), 0).unwrap();
    l.prepare_debit(&tx(2), PartKey::single(a), c(100), cp(), 0)
        .unwrap();
    assert_eq!(
        l.prepare_debit(&tx(2), PartKey::single(a), c(100), cp(), 0),
        Err(LedgerError::TxIdConflict)
    );
    assert_eq!(l.account(a).unwrap().blocked, c(100));
}

#[test]
fn restore_rebuilds_reservations() {
    let mut l = Ledger::new();
    let (a, b) = (open(&mut l, 0), open(&mut l, 1));
    l.deposit(tx(1), a, (c(900), None), 0).unwrap();
    l.prepare_debit(&tx(2), PartKey::single(a), c(300), cp(), 0)
        .unwrap();
    l.prepare_credit(&tx(2), PartKey::single(b), c(300), cp(), 0)
        .unwrap();
    let accounts: Vec<Account> = l.accounts().cloned().collect();
    let prepared = l
        .prepared(&tx(2))
        .unwrap()
        .iter()
        .map(|p| (tx(2), p.clone()))
        .collect();
    let mut r = Ledger::restore(accounts, prepared, l.books().clone());
    r.check_invariants().unwrap();
    r.commit(&tx(2), 0, 1).unwrap();
    assert_eq!(r.account(b).unwrap().available, c(300));
    assert_eq!(
        open(&mut r, 2),
        AccountId(3),
        "ids continue after the restored ones"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Deposit { acc: usize, amount: i64 },
    Prepare { from: usize, to: usize, amount: i64 },
    Commit { nth: usize },
    Abort { nth: usize },
}

fn op() -> impl Strategy<Value = Op> {
    // Amounts include zero, negatives and huge values: the ledger must refuse them unharmed.
    let amount = prop_oneof![
        1i64..5_000,
        -10i64..=0,
        Just(MAX_BALANCE.get()),
        Just(i64::MAX)
    ];
    prop_oneof![
        (0usize..4, amount.clone()).prop_map(|(acc, amount)| Op::Deposit { acc, amount }),
        (0usize..4, 0usize..4, amount).prop_map(|(from, to, amount)| Op::Prepare {
            from,
            to,
            amount
        }),
        (0usize..8).prop_map(|nth| Op::Commit { nth }),
        (0usize..8).prop_map(|nth| Op::Abort { nth }),
    ]
}

proptest! {
    /// No sequence of operations creates or destroys money or drives a balance below zero.
    #[test]
    fn money_is_conserved(ops in proptest::collection::vec(op(), 1..80)) {
        let mut l = Ledger::new();
        let ids: Vec<AccountId> = (0..4).map(|i| open(&mut l, i)).collect();
        let mut deposited: i128 = 0;
        let mut open_txs: Vec<TxId> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            let t = tx(n as u32 + 10);
            match op {
                Op::Deposit { acc, amount } => {
                    // Amounts reach the ledger only after Cents::amount validated them.
                    if let Ok(amount) = Cents::amount(amount) {
                        if l.deposit(t, ids[acc], (amount, None), 0).is_ok() {
                            deposited += amount.get() as i128;
                        }
                    }
                }
                Op::Prepare { from, to, amount } => {
                    let Ok(amount) = Cents::amount(amount) else { continue };
                    if from == to { continue }
                    if l.prepare_debit(&t, PartKey::single(ids[from]), amount, cp(), 0).is_ok() {
                        if l.prepare_credit(&t, PartKey::single(ids[to]), amount, cp(), 0).is_err() {
                            l.abort(&t, 0).unwrap();
                        } else {
                            open_txs.push(t);
                        }
                    }
                }
                Op::Commit { nth } | Op::Abort { nth } if !open_txs.is_empty() => {
                    let t = open_txs.remove(nth % open_txs.len());
                    if matches!(op, Op::Commit { .. }) { l.commit(&t, 0, 1).unwrap() } else { l.abort(&t, 0).unwrap() }
                }
                _ => {}
            }
            prop_assert_eq!(l.check_invariants(), Ok(()));
            prop_assert_eq!(l.total_held(), deposited);
        }
        for t in open_txs { l.abort(&t, 0).unwrap(); }
        prop_assert_eq!(l.prepared_count(), 0);
        prop_assert!(l.accounts().all(|a| a.blocked == Cents::ZERO && a.incoming == Cents::ZERO));
        prop_assert_eq!(l.total_held(), deposited);
    }
}
