use super::*;
use crate::ledger::Position;

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

fn close(w: &mut Windows, n: u64, me: u16, books: &Books) -> SignedReport {
    w.close(n, b(me), books, keyring().members(), &key(me as u8), 1_000)
        .unwrap()
        .clone()
}

#[test]
fn a_report_nets_each_peer_since_the_last_close_and_totals_them() {
    let mut w = Windows::default();
    // Bank 1: bank 2 owes it 500, it owes bank 3 200.
    let r1 = close(&mut w, 1, 1, &books(&[(2, 500), (3, -200)]));
    assert_eq!(r1.report.net_with(b(2)), Cents::new(500));
    assert_eq!(r1.report.net_with(b(3)), Cents::new(-200));
    assert_eq!(r1.report.owed_to_bank, Cents::new(500));
    assert_eq!(r1.report.owed_by_bank, Cents::new(200));
    assert_eq!(r1.report.multilateral, Cents::new(300));
    assert_eq!(r1.check(&keyring()), Ok(()));
    // Window 2 counts only what was decided since: 2 owes 100 more, 3 was paid 200 by transfers.
    let r2 = close(&mut w, 2, 1, &books(&[(2, 600), (3, 0)]));
    assert_eq!(r2.report.net_with(b(2)), Cents::new(100));
    assert_eq!(r2.report.net_with(b(3)), Cents::new(200));
    assert_eq!(r2.report.peers[0].through, Cents::new(600));
    // Closing the same window again answers the same report; skipping one is refused.
    assert_eq!(close(&mut w, 2, 1, &books(&[(2, 9_999)])), r2);
    assert_eq!(
        w.close(4, b(1), &books(&[]), keyring().members(), &key(1), 0)
            .unwrap_err(),
        SettlementError::NotNext { window: 4, last: 2 }
    );
    assert_eq!(w.take_changes().len(), 2);
    assert!(w.take_changes().is_empty());
}

#[test]
fn reports_that_negate_each_other_agree_and_a_forged_or_malformed_one_is_refused() {
    let (mut w1, mut w2) = (Windows::default(), Windows::default());
    let r1 = close(&mut w1, 1, 1, &books(&[(2, 500)]));
    let r2 = close(&mut w2, 1, 2, &books(&[(1, -500)]));
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
    let r2_next = close(&mut w2, 2, 2, &books(&[(1, -500)]));
    assert_eq!(
        w1.accept(r2_next, &keyring()).unwrap_err(),
        SettlementError::NotClosed(2)
    );
}

#[test]
fn a_false_report_is_kept_counted_and_blocks_paying_that_pair_only() {
    let keys = keyring();
    let (mut w1, mut w2, mut w3) = (Windows::default(), Windows::default(), Windows::default());
    let r1 = close(&mut w1, 1, 1, &books(&[(2, 500), (3, 70)]));
    close(&mut w3, 1, 3, &books(&[(1, -70)]));
    // Bank 2 owes 500 but signs that it owes 5.
    let mut lie = close(&mut w2, 1, 2, &books(&[(1, -5)])).report;
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
    let restored = Windows::restore(w1.take_changes());
    assert_eq!(restored.disagreements(), 2);
    assert_eq!(restored.get(1).unwrap().own, r1);
    assert_eq!(restored.get(1).unwrap().reports[0].report.bank, b(2));
}

#[test]
fn only_the_creditors_signed_confirmation_settles_and_only_once_on_each_side() {
    let keys = keyring();
    let (mut w1, mut w2) = (Windows::default(), Windows::default());
    let r1 = close(&mut w1, 1, 1, &books(&[(2, 500)]));
    let r2 = close(&mut w2, 1, 2, &books(&[(1, -500)]));
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

// ---------------------------------------------------------------------------------------------
// Several banks, each with its windows and its books: what one signs is delivered to others by
// hand, as the node would, and every bank's books are checked after each step.

use crate::ledger::Ledger;

/// Banks 1..=n, each with window 1 closed from its own books and every other bank's report.
struct Banks {
    keys: Keyring,
    windows: Vec<Windows>,
    ledgers: Vec<Ledger>,
    /// Each bank's `held - explained` at the start: it must never change.
    gaps: Vec<i128>,
}

fn gap(l: &Ledger) -> i128 {
    let (held, explained) = l.balance_sheet();
    held - explained
}

impl Banks {
    fn new(positions: &[&[(u16, i64)]]) -> Banks {
        let n = positions.len() as u16;
        let keys = Keyring::new((1..=n).map(|i| (b(i), key(i as u8).public())).collect());
        let mut windows: Vec<Windows> = Vec::new();
        for (i, p) in positions.iter().enumerate() {
            let mut w = Windows::default();
            let me = i as u16 + 1;
            w.close(1, b(me), &books(p), keys.members(), &key(me as u8), 1_000)
                .unwrap();
            windows.push(w);
        }
        let owns: Vec<SignedReport> = windows
            .iter()
            .map(|w| w.get(1).unwrap().own.clone())
            .collect();
        for (i, w) in windows.iter_mut().enumerate() {
            for (j, own) in owns.iter().enumerate() {
                if i != j {
                    assert!(matches!(
                        w.accept(own.clone(), &keys).unwrap().pair,
                        Pair::Agreed { .. }
                    ));
                }
            }
            w.take_changes();
        }
        let ledgers: Vec<Ledger> = positions
            .iter()
            .map(|p| {
                // No clients: an opening that makes what explains their (zero) balances zero,
                // so that `Ledger::check_invariants` holds as it does at a real bank.
                let mut books = books(p);
                books.opening = -p.iter().map(|(_, settled)| settled).sum::<i64>();
                Ledger::restore(Vec::new(), Vec::new(), books)
            })
            .collect();
        let gaps = ledgers.iter().map(gap).collect();
        Banks {
            keys,
            windows,
            ledgers,
            gaps,
        }
    }

    fn w(&mut self, bank: u16) -> &mut Windows {
        &mut self.windows[bank as usize - 1]
    }

    fn window(&self, bank: u16) -> &Window {
        self.windows[bank as usize - 1].get(1).unwrap()
    }

    fn apply(&mut self, bank: u16, moves: Vec<(BankId, Cents)>) {
        for (peer, amount) in moves {
            self.ledgers[bank as usize - 1]
                .settle_window(peer, amount.get())
                .unwrap();
        }
    }

    /// Delivers `signed` to every bank in `to`, each taking it and moving what it settles.
    fn deliver(&mut self, signed: &SignedPayment, to: &[u16]) {
        for &bank in to {
            let keys = self.keys.clone();
            let settle = self.w(bank).receive_payment(signed.clone(), &keys).unwrap();
            if let Some(amount) = settle {
                self.apply(
                    bank,
                    vec![(signed.payment.creditor, Cents::new(-amount.get()))],
                );
            }
        }
    }

    /// What bank `bank` still owes or is owed by `peer` (positive: `peer` owes it).
    fn outstanding(&self, bank: u16, peer: u16) -> i64 {
        self.ledgers[bank as usize - 1]
            .position(b(peer))
            .outstanding()
    }

    /// Every bank's books balance, and, once every step is delivered, both sides of every pair
    /// cancel: the consortium's positions plus settled windows sum to zero.
    fn assert_books(&self) {
        for (i, l) in self.ledgers.iter().enumerate() {
            assert_eq!(gap(l), self.gaps[i], "bank {} books", i + 1);
            l.check_invariants().unwrap();
        }
        let n = self.ledgers.len() as u16;
        for x in 1..=n {
            for y in x + 1..=n {
                assert_eq!(
                    self.outstanding(x, y) + self.outstanding(y, x),
                    0,
                    "pair {x}-{y}"
                );
            }
        }
    }

    fn by_windows(&self, bank: u16) -> Vec<i64> {
        let n = self.ledgers.len() as u16;
        (1..=n)
            .filter(|p| *p != bank)
            .map(|p| self.ledgers[bank as usize - 1].position(b(p)).by_windows)
            .collect()
    }
}

/// Bank 2 owes bank 1 R$ 5,00 and bank 3 owes it R$ 0,70 in window 1; 2 and 3 owe each other
/// nothing.
fn three_banks() -> Banks {
    Banks::new(&[&[(2, 500), (3, 70)], &[(1, -500)], &[(1, -70)]])
}

/// A creditor that signs "received" without having been paid (careless or lying) gives up its
/// own claim and nothing else: the debtor's books and its own move by the same amount, every
/// book still balances, the other pairs are untouched, and the signed step is kept on both
/// sides as evidence of what it said.
#[test]
fn a_creditor_that_confirms_what_it_did_not_receive_forgives_only_its_own_claim() {
    let mut banks = three_banks();
    // Bank 2 never said it paid; bank 1 confirms anyway.
    assert!(banks.window(1).payment(Step::Paid, b(2), b(1)).is_none());
    let (received, moves) = banks.w(1).confirm(1, b(2), &key(1)).unwrap();
    assert_eq!(moves, Some(Cents::new(500)));
    banks.apply(1, vec![(b(2), Cents::new(500))]);
    banks.deliver(&received, &[2]);
    banks.assert_books();
    assert_eq!((banks.outstanding(1, 2), banks.outstanding(2, 1)), (0, 0));
    // Only its own claim: bank 3 still owes bank 1 the same, on both sides, and is still
    // overdue there once the deadline passes; bank 2 and 3 moved nothing between them.
    assert_eq!(
        (banks.outstanding(1, 3), banks.outstanding(3, 1)),
        (70, -70)
    );
    assert_eq!(banks.by_windows(3), vec![0, 0]);
    assert_eq!(banks.w(1).overdue(b(3), 10, 2_000), Some(1));
    assert_eq!(banks.w(1).overdue(b(2), 10, 2_000), None);
    // The evidence: the signed step, kept at both, verifies as bank 1's word.
    for bank in [1, 2] {
        let kept = banks
            .window(bank)
            .payment(Step::Received, b(2), b(1))
            .unwrap();
        assert_eq!(kept, &received);
        assert_eq!(kept.check(&banks.keys), Ok(()));
    }
    // Kept across a restart.
    let stored = banks.w(2).take_changes();
    let restored = Windows::restore(stored);
    assert_eq!(
        restored.get(1).unwrap().payment(Step::Received, b(2), b(1)),
        Some(&received)
    );
}

/// A "received" signed by the debtor, for a pair the receiving bank is not in, for the wrong
/// direction, for another amount than both reports agreed, or for a pair whose reports disagree,
/// is refused and changes nothing: no step kept, no position moved.
#[test]
fn a_received_step_forged_by_the_debtor_for_another_pair_or_amount_is_refused_and_changes_nothing()
{
    let mut banks = three_banks();
    let forged = |debtor: u16, creditor: u16, amount: i64, signer: u8| {
        sign_payment(
            1,
            b(debtor),
            b(creditor),
            Cents::new(amount),
            Step::Received,
            &key(signer),
        )
    };
    let cases = [
        // The debtor signs its creditor's confirmation.
        (2, forged(2, 1, 500, 2), SettlementError::BadSignature),
        // The debtor signs a confirmation as if it were the creditor (the direction turned).
        (
            1,
            forged(1, 2, 500, 2),
            SettlementError::Malformed("not the amount both reports agreed"),
        ),
        // Bank 3 confirms for a pair bank 1 is not in...
        (
            1,
            forged(2, 3, 500, 3),
            SettlementError::WrongSide("debtor"),
        ),
        // ...or that owes nothing.
        (2, forged(2, 3, 500, 3), SettlementError::NothingOwed(b(3))),
        // The creditor confirms more or less than both reports agreed.
        (
            2,
            forged(2, 1, 5_000, 1),
            SettlementError::Malformed("not the amount both reports agreed"),
        ),
        (
            2,
            forged(2, 1, 499, 1),
            SettlementError::Malformed("not the amount both reports agreed"),
        ),
        // Another window.
        (
            2,
            sign_payment(2, b(2), b(1), Cents::new(500), Step::Received, &key(1)),
            SettlementError::NotClosed(2),
        ),
    ];
    for (i, (to, signed, why)) in cases.into_iter().enumerate() {
        let keys = banks.keys.clone();
        assert_eq!(
            banks.w(to).receive_payment(signed, &keys),
            Err(why),
            "case {i}"
        );
        assert!(banks.w(to).take_changes().is_empty(), "case {i}");
        assert!(banks.window(to).payments.is_empty(), "case {i}");
    }
    banks.assert_books();
    assert_eq!(banks.by_windows(1), vec![0, 0]);
    assert_eq!(banks.by_windows(2), vec![0, 0]);

    // Reports that disagree: not even the real creditor's confirmation is taken.
    let mut w1 = Windows::default();
    let mut w2 = Windows::default();
    let r1 = close(&mut w1, 1, 1, &books(&[(2, 500)]));
    let r2 = close(&mut w2, 1, 2, &books(&[(1, -400)]));
    w1.accept(r2, &keyring()).unwrap();
    w2.accept(r1, &keyring()).unwrap();
    assert_eq!(
        w1.confirm(1, b(2), &key(1)).unwrap_err(),
        SettlementError::Disagree(b(2))
    );
    let real = sign_payment(1, b(2), b(1), Cents::new(500), Step::Received, &key(1));
    assert_eq!(
        w2.receive_payment(real, &keyring()),
        Err(SettlementError::Disagree(b(1)))
    );
}
