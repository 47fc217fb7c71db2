use super::*;
use crate::ledger::{Books, Position};

fn b(n: u16) -> BankId {
    BankId::try_from(n).unwrap()
}

fn key(n: u8) -> BankKey {
    BankKey::from_seed([n; 32])
}

fn keyring() -> Keyring {
    Keyring::new((1..=3).map(|n| (b(n.into()), key(n).public())).collect())
}

/// Books holding these positions from committed transfers.
fn books(settled: &[(u16, i64)]) -> Books {
    Books {
        positions: settled
            .iter()
            .map(|&(peer, settled)| {
                (
                    b(peer),
                    Position {
                        settled,
                        ..Position::default()
                    },
                )
            })
            .collect(),
        ..Books::default()
    }
}

/// Closes window `n` at bank `me` with these nets of the window (cutting it first if need be).
fn close(w: &mut Windows, n: u64, me: u16, nets: &[(u16, i64)]) -> SignedReport {
    while w.cut() < n {
        w.cut_next(1_000);
    }
    let nets = nets.iter().map(|&(peer, net)| (b(peer), net)).collect();
    w.close(n, b(me), &nets, keyring().members(), &key(me as u8), 1_000)
        .unwrap()
        .clone()
}

#[test]
fn a_report_nets_each_peer_since_the_last_close_and_totals_them() {
    let mut w = Windows::default();
    // Bank 1: bank 2 owes it 500, it owes bank 3 200.
    let r1 = close(&mut w, 1, 1, &[(2, 500), (3, -200)]);
    assert_eq!(r1.report.net_with(b(2)), Cents::new(500));
    assert_eq!(r1.report.net_with(b(3)), Cents::new(-200));
    assert_eq!(r1.report.owed_to_bank, Cents::new(500));
    assert_eq!(r1.report.owed_by_bank, Cents::new(200));
    assert_eq!(r1.report.multilateral, Cents::new(300));
    assert_eq!(r1.check(&keyring()), Ok(()));
    // Window 2 counts only its own transfers: 2 owes 100 more, 3 was paid 200 by transfers.
    let r2 = close(&mut w, 2, 1, &[(2, 100), (3, 200)]);
    assert_eq!(r2.report.net_with(b(2)), Cents::new(100));
    assert_eq!(r2.report.net_with(b(3)), Cents::new(200));
    assert_eq!(r2.report.peers[0].through, Cents::new(600));
    // Closing the same window again answers the same report; skipping one is refused.
    assert_eq!(close(&mut w, 2, 1, &[(2, 9_999)]), r2);
    assert_eq!(
        w.close(4, b(1), &BTreeMap::new(), keyring().members(), &key(1), 0)
            .unwrap_err(),
        SettlementError::NotNext { window: 4, last: 2 }
    );
    // The next window is still open here: it is cut before it can be closed.
    assert_eq!((w.cut(), w.open()), (2, 3));
    assert_eq!(
        w.close(3, b(1), &BTreeMap::new(), keyring().members(), &key(1), 0)
            .unwrap_err(),
        SettlementError::NotCut(3)
    );
    assert_eq!(w.take_cut_change(), Some(2));
    assert_eq!(w.take_cut_change(), None);
    assert_eq!(w.take_changes().len(), 2);
    assert!(w.take_changes().is_empty());
}

#[test]
fn reports_that_negate_each_other_agree_and_a_forged_or_malformed_one_is_refused() {
    let (mut w1, mut w2) = (Windows::default(), Windows::default());
    let r1 = close(&mut w1, 1, 1, &[(2, 500)]);
    let r2 = close(&mut w2, 1, 2, &[(1, -500)]);
    let got = w1.accept(r2.clone(), &keyring()).unwrap();
    assert_eq!(
        got.pair,
        Pair::Agreed {
            net: Cents::new(500)
        }
    );
    assert_eq!(got.own, r1);
    assert_eq!(
        w2.accept(r1.clone(), &keyring()).unwrap().pair,
        Pair::Agreed {
            net: Cents::new(-500)
        }
    );
    // The same report again changes nothing.
    assert!(w1.accept(r2.clone(), &keyring()).is_ok());
    assert_eq!(w1.disagreements(), 0);

    // A report changed after signing, a changed amount, and totals that lie: refused.
    let mut forged = r2.clone();
    forged.report.closed_ms += 1;
    assert_eq!(
        w1.accept(forged, &keyring()).unwrap_err(),
        SettlementError::BadSignature
    );
    let mut changed = r2.clone();
    changed.report.peers[0].net = Cents::new(-1);
    assert!(w1.accept(changed, &keyring()).is_err());
    let mut lying = r2.report.clone();
    lying.owed_by_bank = Cents::new(1);
    assert_eq!(
        w1.accept(lying.sign(&key(2)), &keyring()).unwrap_err(),
        SettlementError::Malformed("totals are not the sums of the nets")
    );
    // A report for a window this bank has not closed is refused (the caller closes it first).
    let r2_next = close(&mut w2, 2, 2, &[]);
    assert_eq!(
        w1.accept(r2_next, &keyring()).unwrap_err(),
        SettlementError::NotClosed(2)
    );
}

#[test]
fn a_false_report_is_kept_counted_and_blocks_paying_that_pair_only() {
    let keys = keyring();
    let (mut w1, mut w2, mut w3) = (Windows::default(), Windows::default(), Windows::default());
    let r1 = close(&mut w1, 1, 1, &[(2, 500), (3, 70)]);
    close(&mut w3, 1, 3, &[(1, -70)]);
    // Bank 2 owes 500 but signs that it owes 5.
    let mut lie = close(&mut w2, 1, 2, &[(1, -5)]).report;
    lie.closed_ms = 7;
    let lie = lie.sign(&key(2));
    let r3 = w3.get(1).unwrap().own.clone();
    assert_eq!(
        w1.accept(lie.clone(), &keys).unwrap().pair,
        Pair::Disagreed {
            ours: Cents::new(500),
            theirs: Cents::new(5)
        }
    );
    w1.accept(r3, &keys).unwrap();
    assert_eq!(w1.disagreements(), 1);
    assert_eq!(w1.get(1).unwrap().disagreements(), 1);
    // A second, different report from bank 2 for the window is refused: the first stands.
    let mut other = lie.report.clone();
    other.closed_ms = 8;
    let other = other.sign(&key(2));
    assert_eq!(
        w1.accept(other.clone(), &keys).unwrap_err(),
        SettlementError::ReportAgain(b(2))
    );
    // ...and kept beside the first: it signed two things.
    assert_eq!(w1.get(1).unwrap().contradicting, vec![other]);
    assert_eq!(w1.disagreements(), 2);
    // Bank 1 cannot confirm what bank 2 owes; bank 3's pair is unaffected.
    assert_eq!(
        w1.confirm(1, b(2), &key(1)).unwrap_err(),
        SettlementError::Disagree(b(2))
    );
    let (_, settle) = w1.confirm(1, b(3), &key(1)).unwrap();
    assert_eq!(settle, Some(Cents::new(70)));
    // Kept across a restart, with the count.
    let restored = Windows::restore(w1.take_changes(), 0);
    assert_eq!(restored.disagreements(), 2);
    assert_eq!(restored.get(1).unwrap().own, r1);
    assert_eq!(restored.get(1).unwrap().reports[0].report.bank, b(2));
}

#[test]
fn only_the_creditors_signed_confirmation_settles_and_only_once_on_each_side() {
    let keys = keyring();
    let (mut w1, mut w2) = (Windows::default(), Windows::default());
    let r1 = close(&mut w1, 1, 1, &[(2, 500)]);
    let r2 = close(&mut w2, 1, 2, &[(1, -500)]);
    w1.accept(r2, &keys).unwrap();
    w2.accept(r1, &keys).unwrap();

    // Only the debtor marks paid; only the creditor confirms.
    assert_eq!(
        w1.mark_paid(1, b(2), &key(1)).unwrap_err(),
        SettlementError::WrongSide("debtor")
    );
    assert_eq!(
        w2.confirm(1, b(1), &key(2)).unwrap_err(),
        SettlementError::WrongSide("creditor")
    );
    let paid = w2.mark_paid(1, b(1), &key(2)).unwrap();
    assert_eq!(paid.payment.amount, Cents::new(500));
    assert_eq!(w2.mark_paid(1, b(1), &key(2)).unwrap(), paid, "signed once");
    // The debtor's "paid" moves nothing at the creditor.
    assert_eq!(w1.receive_payment(paid.clone(), &keys), Ok(None));

    let (received, settle) = w1.confirm(1, b(2), &key(1)).unwrap();
    assert_eq!(settle, Some(Cents::new(500)));
    assert_eq!(
        w1.confirm(1, b(2), &key(1)).unwrap(),
        (received.clone(), None)
    );
    // A confirmation the creditor did not sign, or for another amount, moves nothing.
    let mut forged = received.clone();
    forged.payment.amount = Cents::new(5_000);
    assert_eq!(
        w2.receive_payment(forged, &keys),
        Err(SettlementError::BadSignature)
    );
    let inflated = sign_payment(1, b(2), b(1), Cents::new(5_000), Step::Received, &key(1));
    assert!(w2.receive_payment(inflated, &keys).is_err());
    let by_debtor = sign_payment(1, b(2), b(1), Cents::new(500), Step::Received, &key(2));
    assert_eq!(
        w2.receive_payment(by_debtor, &keys),
        Err(SettlementError::BadSignature)
    );
    // The real one settles at the debtor once.
    assert_eq!(
        w2.receive_payment(received.clone(), &keys),
        Ok(Some(Cents::new(500)))
    );
    assert_eq!(w2.receive_payment(received, &keys), Ok(None));
}

#[test]
fn a_confirmed_window_leaves_both_books_balanced_and_nothing_owed() {
    use crate::ledger::Ledger;
    // Bank 1 is owed 500 by bank 2 on its books; clients hold the deposits plus that.
    let mut creditor = Ledger::restore(Vec::new(), Vec::new(), books(&[(2, 500)]));
    let mut debtor = Ledger::restore(Vec::new(), Vec::new(), books(&[(1, -500)]));
    // (No accounts: the held side is 0, so give each an opening that makes it balance.)
    let balanced = |l: &Ledger| {
        let (held, explained) = l.balance_sheet();
        held - explained
    };
    let (c0, d0) = (balanced(&creditor), balanced(&debtor));
    creditor.settle_window(b(2), 500).unwrap();
    debtor.settle_window(b(1), -500).unwrap();
    assert_eq!(creditor.position(b(2)).outstanding(), 0);
    assert_eq!(debtor.position(b(1)).outstanding(), 0);
    assert_eq!(
        creditor.position(b(2)).settled,
        500,
        "transfers are history"
    );
    // The settled-by-window term keeps each side's equation where it was.
    assert_eq!((balanced(&creditor), balanced(&debtor)), (c0, d0));
    // Across the two banks, what is owed sums to zero before and after.
    assert_eq!(
        creditor.position(b(2)).outstanding() + debtor.position(b(1)).outstanding(),
        0
    );
    assert_eq!(creditor.take_changes().len(), 1);
}
