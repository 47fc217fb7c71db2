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
fn the_totals_of_the_largest_report_fit_in_an_i64() {
    // The most members a consortium may have, each owing the reporting bank the most a net may
    // be: the sums that `check_shape` adds without checks stay far inside i64.
    let members = i64::from(domain::BankId::MAX);
    assert!(NET_MAX
        .get()
        .checked_mul(members)
        .is_some_and(|t| t < i64::MAX / 4));
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
    assert_eq!(w1.receive_payment(paid.clone(), &keys), Ok(vec![]));

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
    let inflated = sign_payment(
        1,
        b(2),
        b(1),
        Cents::new(5_000),
        Step::Received,
        false,
        &key(1),
    );
    assert!(w2.receive_payment(inflated, &keys).is_err());
    let by_debtor = sign_payment(
        1,
        b(2),
        b(1),
        Cents::new(500),
        Step::Received,
        false,
        &key(2),
    );
    assert_eq!(
        w2.receive_payment(by_debtor, &keys),
        Err(SettlementError::BadSignature)
    );
    // The real one settles at the debtor once.
    assert_eq!(
        w2.receive_payment(received.clone(), &keys),
        Ok(vec![(b(1), Cents::new(-500))])
    );
    assert_eq!(w2.receive_payment(received, &keys), Ok(vec![]));
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
            w.cut_next(1_000);
            let nets = p.iter().map(|&(peer, net)| (b(peer), net)).collect();
            w.close(1, b(me), &nets, keys.members(), &key(me as u8), 1_000)
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

    /// Delivers `signed` to every bank in `to`, each taking it; what each moved.
    fn deliver(&mut self, signed: &SignedPayment, to: &[u16]) {
        for &bank in to {
            let keys = self.keys.clone();
            let moves = self.w(bank).receive_payment(signed.clone(), &keys).unwrap();
            self.apply(bank, moves);
        }
    }

    /// Every bank but the signer.
    fn others(&self, signer: BankId) -> Vec<u16> {
        (1..=self.windows.len() as u16)
            .filter(|i| b(*i) != signer)
            .collect()
    }

    fn deliver_to_all(&mut self, signed: &SignedPayment) {
        let to = self.others(signed.payment.signer());
        self.deliver(signed, &to);
    }

    fn pay_leg(&mut self, debtor: u16, creditor: u16) -> SignedPayment {
        let signed = self
            .w(debtor)
            .pay_leg(1, b(creditor), &key(debtor as u8))
            .unwrap();
        self.deliver_to_all(&signed);
        signed
    }

    fn confirm_leg(&mut self, creditor: u16, debtor: u16) -> SignedPayment {
        let (signed, moves) = self
            .w(creditor)
            .confirm_leg(1, b(debtor), &key(creditor as u8))
            .unwrap();
        self.apply(creditor, moves);
        self.deliver_to_all(&signed);
        signed
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
    let restored = Windows::restore(stored, 1);
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
            false,
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
            sign_payment(
                2,
                b(2),
                b(1),
                Cents::new(500),
                Step::Received,
                false,
                &key(1),
            ),
            SettlementError::NotClosed(2),
        ),
        // A netting leg that is no leg of the plan (bank 2 pays bank 1 directly in it, but the
        // plan is 2 -> 1 for 500 and 3 -> 1 for 70: the amount is wrong).
        (3, netting(2, 1, 400, 1), SettlementError::NotALeg),
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
    let r1 = close(&mut w1, 1, 1, &[(2, 500)]);
    let r2 = close(&mut w2, 1, 2, &[(1, -400)]);
    w1.accept(r2, &keyring()).unwrap();
    w2.accept(r1, &keyring()).unwrap();
    assert_eq!(
        w1.confirm(1, b(2), &key(1)).unwrap_err(),
        SettlementError::Disagree(b(2))
    );
    let real = sign_payment(
        1,
        b(2),
        b(1),
        Cents::new(500),
        Step::Received,
        false,
        &key(1),
    );
    assert_eq!(
        w2.receive_payment(real, &keyring()),
        Err(SettlementError::Disagree(b(1)))
    );
}

fn netting(debtor: u16, creditor: u16, amount: i64, signer: u8) -> SignedPayment {
    sign_payment(
        1,
        b(debtor),
        b(creditor),
        Cents::new(amount),
        Step::Received,
        true,
        &key(signer),
    )
}

/// Four banks. Bank 1 owes 2 R$ 3,00 and 3 R$ 2,00; bank 2 owes 3 R$ 1,00; bank 4 owes 2 R$
/// 0,50 and is owed as much by 3. Multilateral: 1 pays 5,00; 2 receives 2,50; 3 receives
/// 2,50; 4 nets to zero.
fn four_banks() -> Banks {
    Banks::new(&[
        &[(2, -300), (3, -200)],
        &[(1, 300), (3, -100), (4, 50)],
        &[(1, 200), (2, 100), (4, -50)],
        &[(2, -50), (3, 50)],
    ])
}

fn leg(debtor: u16, creditor: u16, amount: i64) -> Leg {
    Leg {
        debtor: b(debtor),
        creditor: b(creditor),
        amount: Cents::new(amount),
    }
}

#[test]
fn every_bank_computes_the_same_netting_plan_and_each_pays_or_receives_its_multilateral_net() {
    let banks = four_banks();
    let plan = banks.window(1).plan().unwrap();
    assert_eq!(plan, vec![leg(1, 2, 250), leg(1, 3, 250)]);
    for bank in 2..=4 {
        assert_eq!(banks.window(bank).plan().unwrap(), plan, "bank {bank}");
    }

    // Several debtors and creditors, reports in any order: greedy by ascending bank, the same
    // plan, and what each bank pays minus what it receives is its multilateral net.
    // Nets (row owes column positive = column owes row):
    let nets: [[i64; 5]; 5] = [
        [0, -700, 300, -100, 0],
        [700, 0, -50, 0, -400],
        [-300, 50, 0, -20, 90],
        [100, 0, 20, 0, -600],
        [0, 400, -90, 600, 0],
    ];
    let reports: Vec<SettlementReport> = (0..5)
        .map(|i| {
            let peers: Vec<PeerNet> = (0..5)
                .filter(|j| *j != i)
                .map(|j| PeerNet {
                    peer: b(j as u16 + 1),
                    net: Cents::new(nets[i][j]),
                    through: Cents::new(nets[i][j]),
                })
                .collect();
            let to: i64 = peers.iter().map(|p| p.net.get().max(0)).sum();
            let by: i64 = peers.iter().map(|p| (-p.net.get()).max(0)).sum();
            SettlementReport {
                window: 1,
                bank: b(i as u16 + 1),
                closed_ms: 0,
                peers,
                owed_to_bank: Cents::new(to),
                owed_by_bank: Cents::new(by),
                multilateral: Cents::new(to - by),
            }
        })
        .collect();
    let in_order: Vec<&SettlementReport> = reports.iter().collect();
    let mut shuffled = in_order.clone();
    shuffled.reverse();
    shuffled.swap(0, 2);
    let plan = netting_plan(&in_order).unwrap();
    assert_eq!(netting_plan(&shuffled).unwrap(), plan);
    // Multilateral: 1: -500, 2: +250, 3: -180, 4: -480, 5: +910.
    assert_eq!(
        plan,
        vec![
            leg(1, 2, 250),
            leg(1, 5, 250),
            leg(3, 5, 180),
            leg(4, 5, 480)
        ]
    );
    assert!(plan.len() < 5, "at most debtors + creditors - 1 legs");
    for r in &reports {
        let received: i64 = plan
            .iter()
            .filter(|l| l.creditor == r.bank)
            .map(|l| l.amount.get())
            .sum();
        let paid: i64 = plan
            .iter()
            .filter(|l| l.debtor == r.bank)
            .map(|l| l.amount.get())
            .sum();
        assert_eq!(received - paid, r.multilateral.get(), "bank {}", r.bank);
    }
    // One pair's reports disagree: no plan.
    let mut lying = reports[3].clone();
    lying.peers[0].net = Cents::new(99);
    let mut with_lie = in_order.clone();
    with_lie[3] = &lying;
    assert_eq!(
        netting_plan(&with_lie),
        Err(SettlementError::NoPlan("two members' reports disagree"))
    );
    // Nothing owed multilaterally: an empty plan.
    let zero: Vec<SettlementReport> = reports
        .iter()
        .map(|r| SettlementReport {
            peers: r
                .peers
                .iter()
                .map(|p| PeerNet {
                    net: Cents::ZERO,
                    ..p.clone()
                })
                .collect(),
            owed_to_bank: Cents::ZERO,
            owed_by_bank: Cents::ZERO,
            multilateral: Cents::ZERO,
            ..r.clone()
        })
        .collect();
    assert_eq!(netting_plan(&zero.iter().collect::<Vec<_>>()), Ok(vec![]));

    // A bank missing a report has no plan yet.
    let mut w1 = Windows::default();
    close(&mut w1, 1, 1, &[(2, 500)]);
    assert_eq!(
        w1.get(1).unwrap().plan(),
        Err(SettlementError::NoReport(b(2)))
    );
}

/// The positions move only when the creditors confirmed every leg, then at every bank at once
/// (bank 4, which pays and receives nothing, too), each pair by its agreed net; every book
/// balances after each step.
#[test]
fn netted_positions_move_only_once_every_leg_is_confirmed_and_the_books_balance_at_each_step() {
    let mut banks = four_banks();
    let all = |banks: &Banks| (1..=4).map(|i| banks.by_windows(i)).collect::<Vec<_>>();
    let nothing = all(&banks);
    // Before any step, bank 4 owes bank 2 bilaterally: overdue there past the deadline.
    assert_eq!(banks.w(2).overdue(b(4), 10, 2_000), Some(1));

    let paid = banks.pay_leg(1, 2);
    assert!(paid.payment.netting);
    assert_eq!(paid.payment.amount, Cents::new(250));
    assert_eq!(banks.pay_leg(1, 2), paid, "signed once");
    banks.assert_books();
    assert_eq!(all(&banks), nothing, "\"paid\" moves nothing");
    // Netting chosen: bank 4 has no leg, so it is not overdue at 2 any more; bank 1 is, at
    // every bank, bank 4 included, until its legs are confirmed.
    assert_eq!(banks.w(2).overdue(b(4), 10, 2_000), None);
    for bank in 2..=4 {
        assert_eq!(banks.w(bank).overdue(b(1), 10, 2_000), Some(1), "at {bank}");
    }

    banks.confirm_leg(2, 1);
    banks.assert_books();
    assert_eq!(all(&banks), nothing, "one leg of two confirmed");
    assert!(banks
        .windows
        .iter()
        .all(|w| !w.get(1).unwrap().netting_settled()));
    assert_eq!(banks.w(3).overdue(b(1), 10, 2_000), Some(1));

    // Bank 1's "paid" for its second leg reaches bank 4 only after everything else.
    let late = banks.w(1).pay_leg(1, b(3), &key(1)).unwrap();
    banks.deliver(&late, &[2, 3]);
    let last = banks.confirm_leg(3, 1);
    banks.assert_books();
    assert!(banks
        .windows
        .iter()
        .all(|w| w.get(1).unwrap().netting_settled()));
    let at_4 = banks.by_windows(4);
    banks.deliver(&late, &[4]);
    assert_eq!(
        banks.by_windows(4),
        at_4,
        "a late \"paid\" moves nothing again"
    );
    // Every pair paid down exactly by its agreed net, at both sides; nothing owed any more.
    assert_eq!(banks.by_windows(1), vec![-300, -200, 0]);
    assert_eq!(banks.by_windows(2), vec![300, -100, 50]);
    assert_eq!(banks.by_windows(3), vec![200, 100, -50]);
    assert_eq!(banks.by_windows(4), vec![0, -50, 50]);
    for x in 1..=4 {
        for y in (1..=4).filter(|y| *y != x) {
            assert_eq!(banks.outstanding(x, y), 0, "{x} with {y}");
        }
    }
    for bank in 2..=4 {
        assert_eq!(banks.w(bank).overdue(b(1), 10, 2_000), None);
    }
    // The same confirmation again moves nothing; neither does confirming again.
    let before = all(&banks);
    banks.deliver(&last, &[1, 2, 4]);
    let (again, moves) = banks.w(3).confirm_leg(1, b(1), &key(3)).unwrap();
    assert_eq!((again, moves), (last, vec![]));
    assert_eq!(all(&banks), before);
    banks.assert_books();
    // Kept across a restart: still settled, nothing to move again.
    let restored = Windows::restore(banks.w(4).take_changes(), 1);
    assert!(restored.get(1).unwrap().netting_settled());
}

/// A netting step that is not a leg of the plan, or that comes from the wrong bank, is refused
/// and changes nothing; a leg is paid only by its debtor, confirmed only by its creditor.
#[test]
fn a_netting_step_that_is_no_leg_of_the_plan_is_refused_and_changes_nothing() {
    let mut banks = four_banks();
    let keys = banks.keys.clone();
    // No leg from bank 4 (it nets to zero), none from 1 to 4, none from 2 to 1.
    assert_eq!(
        banks.w(4).pay_leg(1, b(2), &key(4)),
        Err(SettlementError::NotALeg)
    );
    assert_eq!(
        banks.w(1).pay_leg(1, b(4), &key(1)),
        Err(SettlementError::NotALeg)
    );
    assert_eq!(
        banks.w(1).confirm_leg(1, b(2), &key(1)).unwrap_err(),
        SettlementError::NotALeg
    );
    for (to, forged, why) in [
        // The right pair, another amount.
        (4, netting(1, 2, 300, 2), SettlementError::NotALeg),
        // A pair's bilateral net dressed as a leg.
        (1, netting(4, 2, 50, 2), SettlementError::NotALeg),
        // The debtor confirms its own leg.
        (4, netting(1, 2, 250, 1), SettlementError::BadSignature),
        // Sent back to its signer.
        (
            2,
            netting(1, 2, 250, 2),
            SettlementError::Malformed("this bank's own step"),
        ),
    ] {
        assert_eq!(
            banks.w(to).receive_payment(forged.clone(), &keys),
            Err(why),
            "{forged:?}"
        );
        assert!(banks.w(to).take_changes().is_empty());
    }
    assert!(banks
        .windows
        .iter()
        .all(|w| w.get(1).unwrap().payments.is_empty()));
    banks.assert_books();
    // Another window is refused (bank 4 closed only window 1).
    let other = sign_payment(
        2,
        b(1),
        b(2),
        Cents::new(250),
        Step::Received,
        true,
        &key(2),
    );
    assert_eq!(
        banks.w(4).receive_payment(other, &keys),
        Err(SettlementError::NotClosed(2))
    );
}

/// A bank signs steps of one way only per window: holding a bilateral step it signs no netting
/// leg, and holding a netting step it signs no bilateral one. Another bank's step of the other
/// way is still kept, and each pair moves once: a bilateral confirmation taken after the
/// netting settled moves nothing, and the netting skips a pair confirmed bilaterally before.
#[test]
fn bilateral_and_netted_payment_of_a_window_exclude_each_other_and_each_pair_moves_once() {
    // Bank 1 marks bank 2 paid bilaterally: it can then pay no netting leg.
    let mut banks = four_banks();
    banks.w(1).mark_paid(1, b(2), &key(1)).unwrap();
    banks.w(1).take_changes();
    assert_eq!(
        banks.w(1).pay_leg(1, b(2), &key(1)),
        Err(SettlementError::OtherWay {
            window: 1,
            way: "bilateral steps"
        })
    );
    assert!(banks.w(1).take_changes().is_empty());

    // Again, bank 1 choosing netting this time. Bank 4, before it hears of it, confirms that
    // bank 3 paid it bilaterally; that step is on its way to bank 3 (delivered below).
    let mut banks = four_banks();
    let (bilateral, moves) = banks.w(4).confirm(1, b(3), &key(4)).unwrap();
    assert_eq!(moves, Some(Cents::new(50)));
    banks.apply(4, vec![(b(3), Cents::new(50))]);
    banks.pay_leg(1, 2);
    // Bank 2 holds a netting step now: it signs no bilateral step.
    for refused in [
        banks.w(2).confirm(1, b(1), &key(2)).map(|_| ()),
        banks.w(2).mark_paid(1, b(3), &key(2)).map(|_| ()),
    ] {
        assert_eq!(
            refused,
            Err(SettlementError::OtherWay {
                window: 1,
                way: "netting"
            })
        );
    }
    // A bilateral "paid" bank 1 signed earlier, arriving now, is kept as what it is and moves
    // nothing.
    let keys = banks.keys.clone();
    let early = sign_payment(1, b(1), b(2), Cents::new(300), Step::Paid, false, &key(1));
    assert_eq!(banks.w(2).receive_payment(early, &keys), Ok(vec![]));
    banks.confirm_leg(2, 1);
    banks.pay_leg(1, 3);
    banks.confirm_leg(3, 1);
    // Bank 4 held its own bilateral confirmation: the netting moved only its pair with bank 2.
    assert_eq!(banks.by_windows(4), vec![0, -50, 50]);
    // Bank 3 settled by netting, its pair with 4 included; bank 4's bilateral confirmation
    // arrives now: kept, and moves nothing more.
    assert_eq!(banks.by_windows(3), vec![200, 100, -50]);
    banks.deliver(&bilateral, &[3]);
    assert_eq!(banks.by_windows(3), vec![200, 100, -50]);
    assert!(banks
        .window(3)
        .payment(Step::Received, b(3), b(4))
        .is_some());
    banks.assert_books();
}
