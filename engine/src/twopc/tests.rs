use super::*;
use domain::dto::LegState;

fn bank(n: u16) -> BankId {
    BankId::try_from(n).unwrap()
}

fn tx(n: u32) -> TxId {
    TxId::parse(&format!("E00000001202611261200{n:011}")).unwrap()
}

fn cp(name: &str, b: u16) -> Counterparty {
    Counterparty {
        name: name.into(),
        key_masked: "***.444.777-**".into(),
        bank: bank(b),
    }
}

fn leg(from: u16, to: u16, cents: i64) -> LegPlan {
    LegPlan {
        source_bank: bank(from),
        source: crate::twopc::DebitSource::Own {
            account: AccountId(1),
        },
        receiver_bank: bank(to),
        receiver_key: domain::PixKey::parse("111.444.777-35").unwrap(),
        amount: Cents::new(cents),
        receiver: cp("Beto", to),
        payer: cp("Ana", from),
    }
}

/// A three-leg packet from banks 1 and 2 to banks 2 and 3.
fn packet(n: u32) -> PacketPlan {
    PacketPlan {
        tx: tx(n),
        submitter: domain::AccountId(1),
        legs: vec![leg(1, 2, 100), leg(2, 3, 200), leg(1, 3, 300)],
        key_op: None,
    }
}

#[test]
fn prepares_go_once_per_participant_with_all_its_parts() {
    let (_round, messages) = Round::start(vec![packet(1), packet(2)]);
    let banks: Vec<_> = messages.iter().map(|(b, _)| *b).collect();
    assert_eq!(banks, vec![bank(1), bank(2), bank(3)]);
    let (_, to_bank2) = &messages[1];
    assert_eq!(
        to_bank2.len(),
        2,
        "one item per packet, both packets in one message"
    );
    let legs: Vec<u16> = to_bank2[0].parts.iter().map(|(l, _)| *l).collect();
    assert_eq!(legs, vec![0, 1], "bank 2 receives leg 0 and pays leg 1");
    assert!(matches!(to_bank2[0].parts[0].1, PartSpec::Credit { .. }));
    assert!(matches!(to_bank2[0].parts[1].1, PartSpec::Debit { .. }));
}

#[test]
fn all_prepared_commits_every_leg() {
    let (mut round, messages) = Round::start(vec![packet(1)]);
    for (b, items) in messages {
        assert!(!round.is_complete());
        round.on_votes(b, Some(vec![Vote::Prepared; items.len()]));
    }
    let decisions = round.decisions();
    assert_eq!(decisions.len(), 1);
    assert!(decisions[0].commit);
    assert_eq!(decisions[0].participants, vec![bank(1), bank(2), bank(3)]);
    assert!(decisions[0]
        .outcome
        .legs
        .iter()
        .all(|l| l.status == TxStatus::Committed && l.error.is_none()));
}

#[test]
fn one_refused_leg_aborts_the_packet_and_names_the_leg() {
    let (mut round, _) = Round::start(vec![packet(1), packet(2)]);
    round.on_votes(bank(1), Some(vec![Vote::Prepared, Vote::Prepared]));
    assert_eq!(
        round.progress()[0].1,
        vec![LegState::Waiting; 3],
        "no leg is prepared before both its banks voted"
    );
    round.on_votes(
        bank(2),
        Some(vec![
            Vote::Refused {
                leg: 1,
                reason: Refusal::InsufficientFunds,
            },
            Vote::Prepared,
        ]),
    );
    assert_eq!(
        round.progress()[0].1,
        vec![LegState::Prepared, LegState::Refused, LegState::Waiting]
    );
    round.on_votes(bank(3), Some(vec![Vote::Prepared, Vote::Prepared]));
    let d = round.decisions();
    assert!(!d[0].commit, "packet 1 had a refusal");
    assert!(d[0]
        .outcome
        .legs
        .iter()
        .all(|l| l.status == TxStatus::Aborted));
    assert_eq!(
        d[0].outcome.failure(),
        Some((1, Refusal::InsufficientFunds))
    );
    assert!(d[1].commit, "packet 2 is independent of packet 1");
}

#[test]
fn a_silent_or_garbled_participant_counts_as_a_no() {
    let (mut round, _) = Round::start(vec![packet(1)]);
    round.on_votes(bank(1), Some(vec![Vote::Prepared]));
    round.on_votes(bank(2), Some(vec![Vote::Prepared, Vote::Prepared])); // wrong length
    round.on_votes(bank(3), None);
    let d = round.decisions();
    assert!(!d[0].commit);
    let (leg, reason) = d[0].outcome.failure().unwrap();
    assert_eq!(leg, 0, "bank 2 takes part in leg 0");
    assert_eq!(reason, Refusal::NoAnswer { bank: bank(2) });
}

#[test]
fn duplicate_and_unexpected_votes_are_ignored() {
    let (mut round, _) = Round::start(vec![packet(1)]);
    round.on_votes(bank(1), Some(vec![Vote::Prepared]));
    // A second answer from bank 1 cannot turn its yes into a no, nor count twice.
    round.on_votes(
        bank(1),
        Some(vec![Vote::Refused {
            leg: 0,
            reason: Refusal::Expired,
        }]),
    );
    round.on_votes(bank(4), None);
    assert_eq!(
        round.waiting_for().collect::<Vec<_>>(),
        vec![bank(2), bank(3)]
    );
    round.on_votes(bank(2), Some(vec![Vote::Prepared]));
    round.on_votes(bank(3), Some(vec![Vote::Prepared]));
    assert!(round.decisions()[0].commit);
}

fn deliveries() -> Deliveries {
    Deliveries::new(DeliveryConfig {
        first_retry_ms: 100,
        max_retry_ms: 800,
        in_flight_ms: 2_000,
        linger_ms: 0,
        me: bank(1),
    })
}

#[test]
fn decisions_are_batched_per_peer_and_retried_with_backoff_until_acked() {
    let mut d = deliveries();
    d.add(tx(1), true, &[bank(1), bank(2)], 0);
    d.add(tx(2), false, &[bank(2)], 0);
    let due = d.due(0);
    assert_eq!(due.len(), 2);
    assert_eq!(
        due[1],
        (
            bank(2),
            vec![
                DecideItem {
                    tx: tx(1),
                    commit: true
                },
                DecideItem {
                    tx: tx(2),
                    commit: false
                }
            ]
        )
    );
    assert!(d.due(50).is_empty(), "in flight until the backoff passes");
    assert!(
        d.acked(bank(1), &[tx(1)]).is_empty(),
        "bank 2 has yet to ack tx 1"
    );
    // Bank 2 never answers: retries at 100, 300 (backoff 200), 700 (400), 1500 (800), 2300 (cap).
    d.failed(bank(2), &[tx(1), tx(2)]);
    let mut sent_at = Vec::new();
    for t in (0..=2_300).step_by(50) {
        if let Some((to, items)) = d.due(t).pop() {
            sent_at.push(t);
            let txs: Vec<TxId> = items.into_iter().map(|i| i.tx).collect();
            d.failed(to, &txs); // no answer
        }
    }
    assert_eq!(sent_at, vec![100, 300, 700, 1_500, 2_300]);
    assert_eq!(d.acked(bank(2), &[tx(1), tx(2)]), vec![tx(1), tx(2)]);
    assert!(d.is_empty());
    assert_eq!(d.next_deadline_ms(), None);
}

#[test]
fn a_duplicate_ack_changes_nothing() {
    let mut d = deliveries();
    d.add(tx(1), true, &[bank(1), bank(2)], 0);
    d.due(0);
    assert!(d.acked(bank(1), &[tx(1)]).is_empty());
    assert!(d.acked(bank(1), &[tx(1)]).is_empty());
    assert!(d.acked(bank(3), &[tx(1), tx(9)]).is_empty());
    assert_eq!(d.len(), 1);
    // Bank 1's duplicate did not count for bank 2, whose attempt failed: it is retried.
    d.failed(bank(2), &[tx(1)]);
    assert_eq!(
        d.due(100),
        vec![(
            bank(2),
            vec![DecideItem {
                tx: tx(1),
                commit: true
            }]
        )]
    );
    assert_eq!(d.acked(bank(2), &[tx(1)]), vec![tx(1)]);
    assert!(d.is_empty());
}

#[test]
fn messages_are_bounded() {
    let mut d = deliveries();
    for n in 0..(MAX_ITEMS_PER_MESSAGE as u32 + 10) {
        d.add(tx(n), true, &[bank(2)], 0);
    }
    let due = d.due(0);
    assert_eq!(due[0].1.len(), MAX_ITEMS_PER_MESSAGE);
    assert_eq!(d.due(0)[0].1.len(), 10, "the rest go in the next message");
}

#[test]
fn an_attempt_in_flight_is_not_repeated_until_it_fails_or_times_out() {
    let mut d = deliveries();
    d.add(tx(1), true, &[bank(2)], 0);
    assert_eq!(d.due(0).len(), 1);
    // The answer is slow: past the 100 ms backoff, nothing is sent again while it is in flight.
    assert!(d.due(500).is_empty());
    assert_eq!(d.next_deadline_ms(), Some(2_000), "the in-flight limit");
    // The attempt failed: retried at once (its backoff has passed).
    d.failed(bank(2), &[tx(1)]);
    assert_eq!(d.due(500).len(), 1);
    // No report at all: after the in-flight limit it is sent again.
    assert!(d.due(2_400).is_empty());
    assert_eq!(d.due(2_500).len(), 1);
}

#[test]
fn decisions_for_peers_linger_for_a_prepare_to_ride_on() {
    let mut d = Deliveries::new(DeliveryConfig {
        first_retry_ms: 100,
        max_retry_ms: 800,
        in_flight_ms: 2_000,
        linger_ms: 30,
        me: bank(1),
    });
    d.add(tx(1), true, &[bank(1), bank(2), bank(3)], 0);
    d.add(tx(2), false, &[bank(2)], 5);
    // This bank's own engine at once; the peers only after the linger.
    assert_eq!(
        d.due(0),
        vec![(
            bank(1),
            vec![DecideItem {
                tx: tx(1),
                commit: true
            }]
        )]
    );
    assert!(d.due(29).is_empty());
    // A prepare goes to bank 2 at 10 ms: both its decisions ride on it, and count as an attempt.
    let riding = d.take_for(bank(2), 10);
    assert_eq!(
        riding,
        vec![
            DecideItem {
                tx: tx(1),
                commit: true
            },
            DecideItem {
                tx: tx(2),
                commit: false
            }
        ]
    );
    assert!(
        d.take_for(bank(2), 11).is_empty(),
        "in flight: not sent twice"
    );
    // Bank 3 had no prepare: its decision goes on its own after the linger.
    assert_eq!(
        d.due(30),
        vec![(
            bank(3),
            vec![DecideItem {
                tx: tx(1),
                commit: true
            }]
        )]
    );
    // The prepare's answer acknowledged only tx 1: tx 2 is retried after its backoff.
    d.acked(bank(2), &[tx(1)]);
    d.failed(bank(2), &[tx(2)]);
    assert!(d.due(100).is_empty());
    assert_eq!(
        d.due(110),
        vec![(
            bank(2),
            vec![DecideItem {
                tx: tx(2),
                commit: false
            }]
        )]
    );
}

#[test]
fn every_item_a_plan_makes_has_a_shape_its_participant_accepts() {
    let mut plan = packet(1);
    plan.legs.push(leg(2, 2, 50)); // a transfer inside bank 2
    for b in plan.participants() {
        let intra = plan.item_for(b).legs_here(b).expect("an honest item");
        let expected: Vec<bool> = plan
            .item_for(b)
            .parts
            .iter()
            .map(|(l, _)| *l == 3 && b == bank(2))
            .collect();
        assert_eq!(intra, expected, "bank {b}");
    }
}

#[test]
fn a_leg_inside_a_bank_needs_one_debit_and_one_credit_of_equal_amounts() {
    let debit = |cents: i64, to: u16| PartSpec::Debit {
        source: crate::twopc::DebitSource::Own {
            account: AccountId(1),
        },
        amount: Cents::new(cents),
        to: cp("Beto", to),
    };
    let credit = |cents: i64, from: u16| PartSpec::Credit {
        key: domain::PixKey::parse("111.444.777-35").unwrap(),
        amount: Cents::new(cents),
        from: cp("Ana", from),
    };
    let shape = |parts: Vec<(u16, PartSpec)>| {
        PrepareItem { tx: tx(1), parts }
            .legs_here(bank(2))
            .map_err(|(leg, _)| leg)
    };
    assert_eq!(
        shape(vec![(0, debit(5, 2)), (0, credit(5, 2))]),
        Ok(vec![true, true])
    );
    assert_eq!(
        shape(vec![(0, debit(5, 3)), (1, credit(9, 1))]),
        Ok(vec![false, false])
    );
    // The confirmed attack: R$ 0,01 out, R$ 1 bn in, under one leg number.
    assert_eq!(
        shape(vec![(0, debit(1, 2)), (0, credit(100_000_000_000, 2))]),
        Err(0)
    );
    assert_eq!(
        shape(vec![(1, credit(5, 2)), (1, credit(5, 2))]),
        Err(1),
        "two credits"
    );
    assert_eq!(
        shape(vec![(2, debit(5, 2)), (2, debit(5, 2))]),
        Err(2),
        "two debits"
    );
    assert_eq!(
        shape(vec![(0, debit(5, 3)), (0, credit(5, 2))]),
        Err(0),
        "a debit to another bank with a credit here"
    );
    assert_eq!(
        shape(vec![(4, credit(5, 2))]),
        Err(4),
        "a credit from this bank, paid by no one"
    );
    assert_eq!(
        shape(vec![(4, debit(5, 2))]),
        Err(4),
        "a debit to this bank, credited to no one"
    );
}
