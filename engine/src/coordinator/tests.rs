use super::*;
use crate::proof::{BankKey, Keyring, Signing};
use crate::twopc::{DecideItem, LegPlan, Vote};
use domain::dto::{Counterparty, TxStatus};
use domain::{Cents, TaxId};
use std::sync::Arc;

fn bank(n: u16) -> BankId {
    BankId::try_from(n).unwrap()
}

fn tx(n: u32) -> TxId {
    TxId::parse(&format!("E00000001202611261200{n:011}")).unwrap()
}

const ANA: AccountId = AccountId(1);
const MALLORY: AccountId = AccountId(2);

fn config() -> CoordinatorConfig {
    CoordinatorConfig {
        me: bank(1),
        queue_capacity: 3,
        batch_max: 2,
        queue_deadline_ms: 1_000,
        delivery: DeliveryConfig {
            first_retry_ms: 100,
            max_retry_ms: 1_000,
            in_flight_ms: 500,
            linger_ms: 50,
            me: bank(1),
        },
        acks_recorded_every_ms: 200,
        decide_within_ms: 30_000,
    }
}

fn signing() -> Signing {
    Signing {
        key: Arc::new(key(1)),
        keys: Arc::new(Keyring::new(
            (1..=3).map(|n| (bank(n), key(n).public())).collect(),
        )),
    }
}

fn key(n: u16) -> BankKey {
    BankKey::from_seed([n as u8; 32])
}

/// Bank `b`'s signed yes on every item of a prepare.
fn yes(b: u16, items: &[PrepareItem]) -> Vec<crate::twopc::proof::SignedBallot> {
    items
        .iter()
        .map(|item| {
            let ballot = crate::twopc::proof::Ballot {
                tx: item.tx.clone(),
                plan: item.plan.as_ref().unwrap().hash(),
                voter: bank(b),
                vote: Vote::Prepared,
            };
            crate::twopc::proof::SignedBallot::sign(&key(b), ballot)
        })
        .collect()
}

/// A one-leg packet from this bank (1) to bank `to`.
fn plan(n: u32, submitter: AccountId, to: u16) -> PacketPlan {
    let cp = |b: u16| Counterparty {
        name: "X".into(),
        key_masked: "***".into(),
        bank: bank(b),
    };
    PacketPlan {
        tx: tx(n),
        submitter,
        legs: vec![LegPlan {
            source_bank: bank(1),
            source: crate::twopc::DebitSource::Own {
                account: AccountId(1),
            },
            receiver_bank: bank(to),
            receiver_key: crate::twopc::CreditTo::Key(
                TaxId::parse("111.444.777-35").unwrap().into(),
            ),
            amount: Cents::new(100),
            receiver: cp(to),
            payer: cp(1),
            message: domain::PixMessage::none(),
        }],
        key_op: None,
    }
}

fn claimed(c: &mut Coordinator<&'static str>, n: u32, who: AccountId) {
    assert_eq!(c.claim(&tx(n), who, "first"), Claim::Fresh);
    assert_eq!(
        c.enqueue(plan(n, who, 2), 0)
            .map(|_| ())
            .map_err(|a| a.result),
        Ok(())
    );
}

#[test]
fn an_id_is_claimed_once_the_same_client_joins_and_another_is_refused() {
    let mut c: Coordinator<&str> = Coordinator::new(config(), signing());
    assert_eq!(c.claim(&tx(1), ANA, "a"), Claim::Fresh);
    assert_eq!(c.claim(&tx(1), ANA, "a again, other legs"), Claim::Joined);
    assert_eq!(c.claim(&tx(1), MALLORY, "m"), Claim::NotYours);
    assert!(c.in_flight(&tx(1)));
    // Answered from the stored decision: both of Ana's waiters hear it, Mallory's was not kept.
    let answer = c.release(&tx(1), Err(EngineError::Busy));
    assert_eq!(answer.waiters, vec!["a", "a again, other legs"]);
    assert!(!c.in_flight(&tx(1)));
    assert_eq!(
        c.claim(&tx(1), MALLORY, "m"),
        Claim::Fresh,
        "a released id can be claimed (its stored decision then decides)"
    );
}

#[test]
fn only_a_claimed_packet_is_queued_and_a_full_queue_is_busy() {
    let mut c: Coordinator<&str> = Coordinator::new(config(), signing());
    let unclaimed = c.enqueue(plan(9, ANA, 2), 0).unwrap_err();
    assert_eq!(
        (unclaimed.waiters.len(), unclaimed.result),
        (0, Err(EngineError::Unexpected))
    );
    assert_eq!(c.claim(&tx(8), ANA, "a"), Claim::Fresh);
    assert!(
        c.enqueue(plan(8, MALLORY, 2), 0).is_err(),
        "a plan under someone else's claim is refused"
    );
    for n in 1..=3 {
        claimed(&mut c, n, ANA);
    }
    assert_eq!(c.claim(&tx(4), ANA, "fourth"), Claim::Fresh);
    let busy = c.enqueue(plan(4, ANA, 2), 0).unwrap_err();
    assert_eq!(
        (busy.waiters, busy.result),
        (vec!["fourth"], Err(EngineError::Busy))
    );
    assert!(!c.in_flight(&tx(4)), "the claim went with the refusal");
}

#[test]
fn the_ring_is_hurried_once_per_visit_and_not_after_a_visit_that_worked() {
    let mut c: Coordinator<&str> = Coordinator::new(config(), signing());
    assert_eq!(c.claim(&tx(1), ANA, "a"), Claim::Fresh);
    assert_eq!(
        c.enqueue(plan(1, ANA, 2), 0).ok(),
        Some(true),
        "first packet after an idle visit hurries"
    );
    assert_eq!(c.claim(&tx(2), ANA, "b"), Claim::Fresh);
    assert_eq!(
        c.enqueue(plan(2, ANA, 2), 0).ok(),
        Some(false),
        "once per visit"
    );
    assert!(c.start_batch(1, 0, 1).worked());
    assert_eq!(c.claim(&tx(3), ANA, "c"), Claim::Fresh);
    assert_eq!(
        c.enqueue(plan(3, ANA, 2), 2).ok(),
        Some(false),
        "the token comes back without holds after work"
    );
    assert!(c.start_batch(3, 0, 1).worked());
    assert!(!c.start_batch(4, 0, 1).worked());
    assert_eq!(c.claim(&tx(4), ANA, "d"), Claim::Fresh);
    assert_eq!(
        c.enqueue(plan(4, ANA, 2), 5).ok(),
        Some(true),
        "after an idle visit, hurry again"
    );
}

#[test]
fn packets_past_the_deadline_are_refused_and_a_batch_is_bounded() {
    let mut c: Coordinator<&str> = Coordinator::new(config(), signing());
    claimed(&mut c, 1, ANA);
    claimed(&mut c, 2, ANA);
    claimed(&mut c, 3, ANA);
    let batch = c.start_batch(1_000, 0, 1);
    assert_eq!(
        batch.expired.len(),
        2,
        "batch_max packets taken, both past the deadline"
    );
    assert!(batch
        .expired
        .iter()
        .all(|a| a.result == Err(ConsortiumError::Expired.into())));
    assert!(batch.round.is_none());
    assert_eq!(c.progress(ANA, &tx(1)).map(|p| p.done), Some(true));
    assert!(
        c.start_batch(1_000, 0, 1).worked(),
        "the third waited too, and is refused on the next visit"
    );
    assert!(c.is_idle());
}

#[test]
fn a_round_prepares_decides_answers_and_delivers_until_acknowledged() {
    let mut c: Coordinator<&str> = Coordinator::new(config(), signing());
    claimed(&mut c, 1, ANA);
    assert_eq!(c.claim(&tx(1), ANA, "retry"), Claim::Joined);
    let round = c.start_batch(10, 0, 1).round.unwrap();
    assert_eq!(
        round.own.as_ref().map(Vec::len),
        Some(1),
        "this bank pays the leg"
    );
    assert_eq!(round.prepares.len(), 1);
    let (to, msg) = &round.prepares[0];
    assert_eq!((*to, msg.items.len(), msg.decisions.len()), (bank(2), 1, 0));
    assert!(!c.round_complete(round.id));
    c.on_own_votes(round.id, Some(vec![Vote::Prepared]));
    assert_eq!(
        c.progress(ANA, &tx(1)).unwrap().legs,
        vec![LegState::Waiting]
    );
    assert_eq!(
        c.progress(MALLORY, &tx(1)),
        None,
        "another client's packet is unknown"
    );
    c.on_prepare_answer(
        round.id,
        bank(2),
        &[],
        Some(PrepareAnswer {
            votes: yes(2, &msg.items),
            acked: vec![],
        }),
    );
    assert!(c.round_complete(round.id));
    let decisions = c.finish_round(round.id);
    assert!(decisions[0].commit);
    assert!(c.in_flight(&tx(1)), "claimed until the decision is stored");
    let (plan, votes) = decisions[0].ballots.clone().unwrap();
    assert_eq!(
        votes.len(),
        1,
        "bank 2's yes, checked; this bank signs its own when it stores"
    );
    let logged = Logged {
        tx: tx(1),
        commit: true,
        outcome: decisions[0].outcome.clone(),
        tell: vec![bank(2)],
        proof: None,
    };
    assert!(plan.verify(&signing().keys));
    let answers = c.concluded(vec![logged], 20);
    assert_eq!(answers[0].waiters, vec!["first", "retry"]);
    assert_eq!(
        answers[0].result.as_ref().map(|o| o.status),
        Ok(TxStatus::Committed)
    );
    assert!(!c.in_flight(&tx(1)));
    // Phase two: the decision lingers for a prepare to ride on, then goes alone.
    assert!(c.due(20).is_empty());
    assert_eq!(c.next_deadline_ms(), Some(70));
    let due = c.due(70);
    assert_eq!(
        due,
        vec![(
            bank(2),
            vec![DecideItem {
                tx: tx(1),
                commit: true,
                proof: None,
            }]
        )]
    );
    assert!(
        c.settle(bank(2), &[tx(1)], vec![]),
        "not acknowledged: retried"
    );
    assert!(
        c.settle(bank(2), &[tx(1)], vec![tx(1), tx(7)]),
        "acknowledged (the stranger id is ignored)"
    );
    assert_eq!(
        c.acks_to_record(100),
        Vec::<TxId>::new(),
        "recorded at most every 200 ms"
    );
    assert_eq!(c.next_deadline_ms(), Some(200));
    assert_eq!(c.acks_to_record(200), vec![tx(1)]);
    assert!(c.is_idle());
}

#[test]
fn a_silent_participant_votes_no_and_a_failed_store_answers_not_confirmed() {
    let mut c: Coordinator<&str> = Coordinator::new(config(), signing());
    claimed(&mut c, 1, ANA);
    let round = c.start_batch(0, 0, 1).round.unwrap();
    c.on_own_votes(round.id, Some(vec![Vote::Prepared]));
    let decisions = c.finish_round(round.id);
    assert!(!decisions[0].commit, "bank 2 never answered");
    assert_eq!(
        decisions[0].outcome.failure(),
        Some((0, domain::Refusal::NoAnswer { bank: bank(2) }))
    );
    let answers = c.conclude_failed(&[tx(1)]);
    assert_eq!(answers[0].result, Err(ConsortiumError::NotConfirmed.into()));
    assert!(c.is_idle());
}
