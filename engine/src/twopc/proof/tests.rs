use super::*;
use domain::Refusal;

fn bank(n: u16) -> BankId {
    BankId::try_from(n).unwrap()
}

fn key(n: u16) -> BankKey {
    BankKey::from_seed([n as u8; 32])
}

fn keys() -> Keyring {
    Keyring::new((1..=5).map(|n| (bank(n), key(n).public())).collect())
}

fn tx() -> TxId {
    TxId::parse("E00000001202611261705proofproofp").unwrap()
}

/// Bank 1 coordinates a transaction with parts at banks 1, 2 and 3.
fn plan(decide_by_ms: i64) -> SignedPlan {
    let parts = [1, 2, 3]
        .map(|n| (bank(n), Digest::of(&[n as u8])))
        .to_vec();
    SignedPlan::sign(
        &key(1),
        Plan {
            tx: tx(),
            coordinator: bank(1),
            parts,
            decide_by_ms,
            window: 0,
        },
    )
}

fn ballot(plan: &SignedPlan, voter: u16, vote: Vote) -> SignedBallot {
    SignedBallot::sign(
        &key(voter),
        Ballot {
            tx: tx(),
            plan: plan.hash(),
            voter: bank(voter),
            vote,
        },
    )
}

fn no() -> Vote {
    Vote::Refused {
        leg: 0,
        reason: Refusal::InsufficientFunds,
    }
}

fn commit(plan: &SignedPlan) -> Proof {
    Proof::Commit {
        plan: plan.clone(),
        votes: [1, 2, 3].map(|n| ballot(plan, n, Vote::Prepared)).to_vec(),
    }
}

#[test]
fn a_plan_verifies_only_as_its_coordinator_signed_it() {
    let p = plan(1_000);
    assert!(p.verify(&keys()));
    let mut changed = p.clone();
    changed.plan.parts.pop();
    assert!(
        !changed.verify(&keys()),
        "a participant left out after signing"
    );
    let mut by_another = p.clone();
    by_another.plan.coordinator = bank(2);
    assert!(!by_another.verify(&keys()), "claims another coordinator");
    let mut unsorted = p.plan.clone();
    unsorted.parts.swap(0, 1);
    assert!(!SignedPlan::sign(&key(1), unsorted).verify(&keys()));
    let mut without_coordinator = p.plan.clone();
    without_coordinator.parts.remove(0);
    assert!(!SignedPlan::sign(&key(1), without_coordinator).verify(&keys()));
    assert_ne!(plan(1_000).hash(), plan(1_001).hash());
}

#[test]
fn a_commit_needs_every_participants_signed_yes_for_that_plan() {
    let p = plan(1_000);
    assert_eq!(commit(&p).check(&tx(), &keys(), None), Ok(()));
    let broken = |change: &dyn Fn(&mut Vec<SignedBallot>)| {
        let Proof::Commit { plan, mut votes } = commit(&p) else {
            unreachable!()
        };
        change(&mut votes);
        Proof::Commit { plan, votes }.check(&tx(), &keys(), None)
    };
    assert_eq!(
        broken(&|v| {
            v.pop();
        }),
        Err(ProofError::Ballots),
        "one missing"
    );
    assert_eq!(
        broken(&|v| v[2] = ballot(&p, 3, no())),
        Err(ProofError::Ballots),
        "a no"
    );
    assert_eq!(
        broken(&|v| v[2] = ballot(&plan(2_000), 3, Vote::Prepared)),
        Err(ProofError::Ballots),
        "a yes for another plan"
    );
    assert_eq!(
        broken(&|v| v[2] = SignedBallot::sign(&key(5), v[2].ballot.clone())),
        Err(ProofError::Ballots),
        "bank 3's ballot signed by bank 5"
    );
    assert_eq!(
        broken(&|v| v.swap(1, 2)),
        Err(ProofError::Ballots),
        "in the plan's order"
    );
    assert_eq!(
        commit(&p).check(
            &TxId::parse("E00000001202611261705otherotherx").unwrap(),
            &keys(),
            None
        ),
        Err(ProofError::OtherTransaction)
    );
    // A bank may skip checking its own ballot, not anyone else's.
    let Proof::Commit { plan, mut votes } = commit(&p) else {
        unreachable!()
    };
    votes[1].sig = votes[0].sig;
    let proof = Proof::Commit { plan, votes };
    assert_eq!(proof.check(&tx(), &keys(), Some(bank(2))), Ok(()));
    assert_eq!(
        proof.check(&tx(), &keys(), Some(bank(3))),
        Err(ProofError::Ballots)
    );
}

#[test]
fn an_abort_needs_a_participants_signed_no_for_that_plan() {
    let p = plan(1_000);
    let abort = |refusal| Proof::Abort {
        plan: p.clone(),
        refusal,
    };
    assert_eq!(
        abort(ballot(&p, 3, no())).check(&tx(), &keys(), None),
        Ok(())
    );
    assert_eq!(
        abort(ballot(&p, 3, Vote::Prepared)).check(&tx(), &keys(), None),
        Err(ProofError::Refusal),
        "a yes proves no abort"
    );
    assert_eq!(
        abort(ballot(&p, 5, no())).check(&tx(), &keys(), None),
        Err(ProofError::Refusal),
        "bank 5 takes no part"
    );
    assert_eq!(
        abort(ballot(&plan(2_000), 3, no())).check(&tx(), &keys(), None),
        Err(ProofError::Refusal),
        "a no to another plan"
    );
}

#[test]
fn contradictions_are_proved_by_the_two_ballots_of_one_signer() {
    let (a, b) = (plan(1_000), plan(2_000));
    let abort = |p: &SignedPlan, voter| Proof::Abort {
        plan: p.clone(),
        refusal: ballot(p, voter, no()),
    };
    // Bank 3 said yes to plan a (in the certificate) and no to it.
    let (yes, said_no) = commit(&a).contradicts(&abort(&a, 3)).expect("equivocation");
    assert_eq!((yes.ballot.voter, said_no.ballot.voter), (bank(3), bank(3)));
    assert!(yes.ballot.yes() && !said_no.ballot.yes());
    assert_eq!(
        abort(&a, 3)
            .contradicts(&commit(&a))
            .map(|(y, _)| y.ballot.yes()),
        Some(true)
    );
    // The coordinator committed two plans of one id.
    let (one, two) = commit(&a).contradicts(&commit(&b)).expect("two commits");
    assert_eq!((one.ballot.voter, two.ballot.voter), (bank(1), bank(1)));
    // Not contradictions: two refusals, one commit shown twice, a commit of one plan and the
    // refusal of another (a plan made again after a crash).
    assert!(abort(&a, 2).contradicts(&abort(&a, 3)).is_none());
    assert!(commit(&a).contradicts(&commit(&a)).is_none());
    assert!(commit(&b).contradicts(&abort(&a, 1)).is_none());
}
