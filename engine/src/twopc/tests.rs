use super::*;
use crate::proof::{BankKey, Keyring};
use domain::dto::LegState;
use proof::{Ballot, Digest, SignedBallot};

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
        receiver_key: CreditTo::Key(domain::PixKey::parse("111.444.777-35").unwrap()),
        amount: Cents::new(cents),
        receiver: cp("Beto", to),
        payer: cp("Ana", from),
        message: domain::PixMessage::none(),
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

fn key(n: u16) -> BankKey {
    BankKey::from_seed([n as u8; 32])
}

fn keys() -> Keyring {
    Keyring::new((1..=5).map(|n| (bank(n), key(n).public())).collect())
}

type Messages = Vec<(BankId, Vec<PrepareItem>)>;

/// Bank 1 coordinates a round of `plans`.
fn start(plans: Vec<PacketPlan>) -> (Round, Messages) {
    Round::start(plans, (bank(1), &key(1)), 1_000, 1)
}

/// `b`'s signed ballots on the items it was sent, voting `votes`.
fn ballots(messages: &Messages, b: u16, votes: Vec<Vote>) -> Vec<SignedBallot> {
    let (_, items) = messages.iter().find(|(to, _)| *to == bank(b)).unwrap();
    items
        .iter()
        .zip(votes)
        .map(|(item, vote)| {
            let ballot = Ballot {
                tx: item.tx.clone(),
                plan: item.plan.as_ref().unwrap().hash(),
                voter: bank(b),
                vote,
            };
            SignedBallot::sign(&key(b), ballot)
        })
        .collect()
}

/// `b`'s signed yes on every item it was sent.
fn yes(messages: &Messages, b: u16) -> Vec<SignedBallot> {
    let n = messages
        .iter()
        .find(|(to, _)| *to == bank(b))
        .unwrap()
        .1
        .len();
    ballots(messages, b, vec![Vote::Prepared; n])
}

#[test]
fn prepares_go_once_per_participant_with_all_its_parts() {
    let (_round, messages) = start(vec![packet(1), packet(2)]);
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
    // Every item of a packet carries one plan, signed by the coordinator, that names each
    // participant with the hash of exactly the parts it was sent.
    for (b, items) in &messages {
        let item = &items[0];
        let plan = item.plan.as_ref().unwrap();
        assert!(plan.verify(&keys()));
        assert_eq!(plan.plan.coordinator, bank(1));
        assert_eq!(plan.plan.parts_of(*b), Some(Digest(item.parts_sha256())));
        assert_eq!(
            plan.plan.participants().collect::<Vec<_>>(),
            vec![bank(1), bank(2), bank(3)]
        );
    }
}

#[test]
fn a_coordinator_without_parts_is_still_in_the_plan_and_signs_last() {
    let (round, messages) = Round::start(vec![packet(1)], (bank(4), &key(4)), 1_000, 1);
    assert_eq!(
        messages.iter().map(|(b, _)| *b).collect::<Vec<_>>(),
        vec![bank(1), bank(2), bank(3)],
        "nothing to prepare at bank 4"
    );
    let plan = messages[0].1[0].plan.clone().unwrap();
    assert_eq!(
        plan.plan.parts_of(bank(4)),
        Some(Digest(
            PrepareItem {
                tx: tx(1),
                parts: Vec::new(),
                plan: None,
            }
            .parts_sha256()
        ))
    );
    assert_eq!(
        round.waiting_for().collect::<Vec<_>>(),
        vec![bank(1), bank(2), bank(3)],
        "its own ballot is its decision"
    );
}

#[test]
fn all_prepared_commits_every_leg() {
    let (mut round, messages) = start(vec![packet(1)]);
    for (b, _) in &messages {
        assert!(!round.is_complete());
        round.on_votes(*b, Some(yes(&messages, u16::from(*b))), &keys());
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
    let (mut round, m) = start(vec![packet(1), packet(2)]);
    round.on_votes(bank(1), Some(yes(&m, 1)), &keys());
    assert_eq!(
        round.progress()[0].1,
        vec![LegState::Waiting; 3],
        "no leg is prepared before both its banks voted"
    );
    let refused = Vote::Refused {
        leg: 1,
        reason: Refusal::InsufficientFunds,
    };
    round.on_votes(
        bank(2),
        Some(ballots(&m, 2, vec![refused, Vote::Prepared])),
        &keys(),
    );
    assert_eq!(
        round.progress()[0].1,
        vec![LegState::Prepared, LegState::Refused, LegState::Waiting]
    );
    round.on_votes(bank(3), Some(yes(&m, 3)), &keys());
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
    assert_eq!(d[0].refusal, Some((1, Refusal::InsufficientFunds)));
    assert!(d[1].commit, "packet 2 is independent of packet 1");
    // The commit carries the others' signed yes votes for its plan, in the plan's order; the
    // coordinator adds its own when it stores the decision.
    let (plan, votes) = d[1].ballots.clone().unwrap();
    assert_eq!(
        votes.iter().map(|v| v.ballot.voter).collect::<Vec<_>>(),
        vec![bank(2), bank(3)]
    );
    assert!(votes.iter().all(|v| v.ballot.plan == plan.hash()));
}

#[test]
fn a_silent_or_garbled_participant_counts_as_a_no() {
    let (mut round, m) = start(vec![packet(1)]);
    round.on_votes(bank(1), Some(yes(&m, 1)), &keys());
    let mut two = yes(&m, 2);
    two.push(two[0].clone());
    round.on_votes(bank(2), Some(two), &keys()); // wrong length
    round.on_votes(bank(3), None, &keys());
    let d = round.decisions();
    assert!(!d[0].commit);
    let (leg, reason) = d[0].outcome.failure().unwrap();
    assert_eq!(leg, 0, "bank 2 takes part in leg 0");
    assert_eq!(reason, Refusal::NoAnswer { bank: bank(2) });
}

#[test]
fn a_yes_counts_only_as_its_voters_signed_ballot_on_that_plan() {
    let forged = |m: &Messages| {
        let mut v = yes(m, 3);
        v[0] = SignedBallot::sign(&key(5), v[0].ballot.clone());
        v
    };
    let for_another_plan = |_: &Messages| {
        let (_, other) = Round::start(vec![packet(1)], (bank(1), &key(1)), 2_000, 1);
        yes(&other, 3)
    };
    let as_bank_two = |m: &Messages| yes(m, 2);
    for bad in [forged, for_another_plan, as_bank_two] {
        let (mut round, m) = start(vec![packet(1)]);
        round.on_votes(bank(1), Some(yes(&m, 1)), &keys());
        round.on_votes(bank(2), Some(yes(&m, 2)), &keys());
        round.on_votes(bank(3), Some(bad(&m)), &keys());
        let d = round.decisions();
        assert!(!d[0].commit);
        assert_eq!(
            d[0].outcome.failure().map(|(_, r)| r),
            Some(Refusal::NoAnswer { bank: bank(3) })
        );
    }
}

#[test]
fn duplicate_and_unexpected_votes_are_ignored() {
    let (mut round, m) = start(vec![packet(1)]);
    round.on_votes(bank(1), Some(yes(&m, 1)), &keys());
    // A second answer from bank 1 cannot turn its yes into a no, nor count twice.
    let refused = Vote::Refused {
        leg: 0,
        reason: Refusal::Expired,
    };
    round.on_votes(bank(1), Some(ballots(&m, 1, vec![refused])), &keys());
    round.on_votes(bank(4), None, &keys());
    assert_eq!(
        round.waiting_for().collect::<Vec<_>>(),
        vec![bank(2), bank(3)]
    );
    round.on_votes(bank(2), Some(yes(&m, 2)), &keys());
    round.on_votes(bank(3), Some(yes(&m, 3)), &keys());
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
    d.add(tx(1), (true, None), &[bank(1), bank(2)], 0);
    d.add(tx(2), (false, None), &[bank(2)], 0);
    let due = d.due(0);
    assert_eq!(due.len(), 2);
    assert_eq!(
        due[1],
        (
            bank(2),
            vec![
                DecideItem {
                    tx: tx(1),
                    commit: true,
                    proof: None,
                },
                DecideItem {
                    tx: tx(2),
                    commit: false,
                    proof: None,
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
    d.add(tx(1), (true, None), &[bank(1), bank(2)], 0);
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
                commit: true,
                proof: None,
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
        d.add(tx(n), (true, None), &[bank(2)], 0);
    }
    let due = d.due(0);
    assert_eq!(due[0].1.len(), MAX_ITEMS_PER_MESSAGE);
    assert_eq!(d.due(0)[0].1.len(), 10, "the rest go in the next message");
}

#[test]
fn an_attempt_in_flight_is_not_repeated_until_it_fails_or_times_out() {
    let mut d = deliveries();
    d.add(tx(1), (true, None), &[bank(2)], 0);
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
    d.add(tx(1), (true, None), &[bank(1), bank(2), bank(3)], 0);
    d.add(tx(2), (false, None), &[bank(2)], 5);
    // This bank's own engine at once; the peers only after the linger.
    assert_eq!(
        d.due(0),
        vec![(
            bank(1),
            vec![DecideItem {
                tx: tx(1),
                commit: true,
                proof: None,
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
                commit: true,
                proof: None,
            },
            DecideItem {
                tx: tx(2),
                commit: false,
                proof: None,
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
                commit: true,
                proof: None,
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
                commit: false,
                proof: None,
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
        message: domain::PixMessage::none(),
    };
    let credit = |cents: i64, from: u16| PartSpec::Credit {
        key: domain::PixKey::parse("111.444.777-35").unwrap(),
        amount: Cents::new(cents),
        from: cp("Ana", from),
        message: domain::PixMessage::none(),
    };
    let shape = |parts: Vec<(u16, PartSpec)>| {
        PrepareItem {
            tx: tx(1),
            parts,
            plan: None,
        }
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
