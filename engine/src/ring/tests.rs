use super::*;
use crate::proof::{BankKey, Keyring};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn b(id: u16) -> BankId {
    BankId::try_from(id).unwrap()
}

fn config(me: u16) -> RingConfig {
    RingConfig {
        me: b(me),
        members: (1..=5).map(b).collect(),
        token_timeout_ms: 300,
        stagger_ms: 50,
        idle_hold_ms: 1,
        idle_hold_max_ms: 1,
        retry_ms: 100,
        starved_after_ms: 10_000,
        sealing: None,
    }
}

/// A bank that has started and learned (from two peers' answers to its first probe) that no
/// token exists yet: it accepts tokens from now on.
fn joined(config: RingConfig) -> Ring {
    let mut ring = Ring::new(config, 0);
    assert_eq!(
        ring.tick(0),
        vec![Effect::Probe],
        "a starting bank probes at once"
    );
    let none = |n| ProbeAnswer {
        from: b(n),
        seen: None,
        seen_ago_ms: None,
    };
    assert!(ring.probe_result(&[none(4), none(5)], 0).is_empty());
    ring
}

/// Five rings on a deterministic network: a manual clock, and banks that are up or down and
/// reachable or not. Messages are delivered at once; a down or unreachable bank never answers.
struct Net {
    now: u64,
    rings: BTreeMap<BankId, Ring>,
    down: BTreeSet<BankId>,
    /// Banks cut off from all others.
    isolated: BTreeSet<BankId>,
    /// Every (epoch, holder) that ran a batch: checks at most one holder per epoch.
    batches: Vec<(Epoch, BankId, u64)>,
    /// Banks whose batch is running; each batch takes a millisecond and finds no work.
    running: Vec<(BankId, Visit)>,
}

impl Net {
    fn new() -> Net {
        let mut net = Net {
            now: 0,
            rings: BTreeMap::new(),
            down: BTreeSet::new(),
            isolated: BTreeSet::new(),
            batches: Vec::new(),
            running: Vec::new(),
        };
        for id in 1..=5 {
            net.rings.insert(b(id), Ring::new(config(id), 0));
        }
        net
    }

    fn reachable(&self, from: BankId, to: BankId) -> bool {
        !self.down.contains(&to) && !self.isolated.contains(&to) && !self.isolated.contains(&from)
    }

    fn apply(&mut self, at: BankId, effects: Vec<Effect>) {
        for effect in effects {
            if self.down.contains(&at) {
                return;
            }
            let now = self.now;
            let more = match effect {
                Effect::RunBatch => {
                    let ring = &self.rings[&at];
                    assert!(ring.may_work());
                    self.batches.push((ring.seen().unwrap().epoch, at, now));
                    self.running.push((at, ring.visit().unwrap()));
                    Vec::new()
                }
                Effect::Send { to, token } => {
                    let receipt = if self.reachable(at, to) {
                        let (receipt, effects) =
                            self.rings.get_mut(&to).unwrap().receive(token, now);
                        self.apply(to, effects);
                        Some(receipt)
                    } else {
                        None
                    };
                    self.rings
                        .get_mut(&at)
                        .unwrap()
                        .pass_result(to, receipt, now)
                }
                Effect::Probe => {
                    let answers: Vec<ProbeAnswer> = self
                        .rings
                        .iter()
                        .filter(|(id, _)| **id != at && self.reachable(at, **id))
                        .map(|(_, r)| r.probe_answer(now))
                        .collect();
                    self.rings.get_mut(&at).unwrap().probe_result(&answers, now)
                }
            };
            self.apply(at, more);
        }
    }

    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += 1;
            for (at, visit) in std::mem::take(&mut self.running) {
                if !self.down.contains(&at) {
                    let effects = self
                        .rings
                        .get_mut(&at)
                        .unwrap()
                        .batch_done(visit, false, self.now);
                    self.apply(at, effects);
                }
            }
            let ids: Vec<BankId> = self.rings.keys().copied().collect();
            for id in ids {
                if self.down.contains(&id) {
                    continue;
                }
                let effects = self.rings.get_mut(&id).unwrap().tick(self.now);
                self.apply(id, effects);
            }
        }
    }

    fn holders(&self) -> Vec<BankId> {
        self.rings
            .iter()
            .filter(|(id, r)| r.holding() && !self.down.contains(id))
            .map(|(id, _)| *id)
            .collect()
    }

    fn crash(&mut self, id: BankId) {
        self.down.insert(id);
    }

    /// A restarted bank comes back empty-handed and waits for the token.
    fn restart(&mut self, id: BankId) {
        self.down.remove(&id);
        self.rings
            .insert(id, Ring::new(config(u16::from(id)), self.now));
    }

    /// At most one bank ran a batch for any one epoch at any one instant, and an epoch's batches
    /// never interleave between two banks out of ring order.
    fn assert_one_holder_per_epoch(&self) {
        let mut by_time: BTreeMap<(Epoch, u64), BTreeSet<BankId>> = BTreeMap::new();
        for (epoch, bank, t) in &self.batches {
            by_time.entry((*epoch, *t)).or_default().insert(*bank);
        }
        for ((epoch, t), banks) in by_time {
            assert!(banks.len() <= 1, "epoch {epoch:?} held by {banks:?} at {t}");
        }
    }
}

#[test]
fn the_lowest_bank_starts_and_the_token_goes_round_in_order() {
    let mut net = Net::new();
    assert!(
        net.holders().is_empty(),
        "nobody holds a token before the first timeout"
    );
    // Every bank first probes to learn the live epoch (at 1 ms), then waits its timeout.
    net.run_for(300);
    assert!(net.holders().is_empty());
    net.run_for(1);
    assert_eq!(
        net.holders(),
        vec![b(1)],
        "the lowest bank's timeout is the shortest"
    );
    assert_eq!(
        net.rings[&b(1)].seen().unwrap().epoch,
        Epoch {
            counter: 1,
            origin: b(1)
        }
    );
    net.run_for(50);
    let order: Vec<u16> = net
        .batches
        .iter()
        .take(7)
        .map(|(_, bank, _)| u16::from(*bank))
        .collect();
    assert_eq!(order, vec![1, 2, 3, 4, 5, 1, 2]);
    assert!(
        net.rings.values().all(|r| r.visits >= 5),
        "everyone got the token"
    );
    assert_eq!(net.holders().len(), 1);
    net.assert_one_holder_per_epoch();
}

#[test]
fn a_stale_token_is_refused_and_its_sender_drops_it() {
    let mut ring = joined(config(3));
    let new = Token {
        epoch: Epoch {
            counter: 5,
            origin: b(2),
        },
        hop: 7,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert_eq!(ring.receive(new, 10).0, Receipt::Accepted);
    let old = Token {
        epoch: Epoch {
            counter: 4,
            origin: b(5),
        },
        hop: 100,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert_eq!(ring.receive(old, 11).0, Receipt::Stale { newer: new });
    // Same counter, lower origin: also older.
    let rival = Token {
        epoch: Epoch {
            counter: 5,
            origin: b(1),
        },
        hop: 100,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert!(matches!(ring.receive(rival, 12).0, Receipt::Stale { .. }));

    // The sender side: told its token is stale, it stops holding and learns the newer epoch.
    let mut sender = joined(config(1));
    let mine = Token {
        epoch: Epoch {
            counter: 4,
            origin: b(1),
        },
        hop: 0,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert_eq!(
        sender.receive(mine, 0),
        (Receipt::Accepted, vec![Effect::RunBatch])
    );
    let effects = sender.batch_done(sender.visit().unwrap(), true, 1);
    let Effect::Send { to, .. } = effects[0] else {
        panic!("{effects:?}")
    };
    sender.pass_result(to, Some(Receipt::Stale { newer: new }), 2);
    assert!(!sender.holding());
    assert_eq!(sender.seen(), Some(new));
}

#[test]
fn a_duplicated_delivery_is_refused() {
    let mut ring = joined(config(2));
    let t = Token {
        epoch: Epoch {
            counter: 1,
            origin: b(1),
        },
        hop: 1,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert_eq!(ring.receive(t, 1).0, Receipt::Accepted);
    ring.batch_done(ring.visit().unwrap(), true, 2);
    assert_eq!(
        ring.receive(t, 3).0,
        Receipt::Duplicate,
        "the same hop again, even after passing it on"
    );
    assert_eq!(ring.receive(Token { hop: 0, ..t }, 3).0, Receipt::Duplicate);
    assert_eq!(
        ring.receive(Token { hop: 6, ..t }, 4).0,
        Receipt::Accepted,
        "the next visit"
    );
}

#[test]
fn a_dead_successor_is_skipped() {
    let mut net = Net::new();
    net.crash(b(2));
    net.run_for(400);
    let visited: BTreeSet<u16> = net
        .batches
        .iter()
        .map(|(_, bank, _)| u16::from(*bank))
        .collect();
    assert_eq!(visited, [1, 3, 4, 5].into_iter().collect());
    net.assert_one_holder_per_epoch();
}

#[test]
fn a_crashed_holder_is_replaced_by_a_new_epoch_within_a_second() {
    let mut net = Net::new();
    net.run_for(320);
    let holder = net.holders()[0];
    let before = net.rings[&holder].seen().unwrap().epoch;
    net.crash(holder);
    let crashed_at = net.now;
    let batches_before = net.batches.len();
    // Advance until some other bank runs a batch again.
    while net.batches.len() == batches_before {
        net.run_for(1);
        assert!(net.now - crashed_at < 1_000, "no regeneration within 1 s");
    }
    eprintln!(
        "regenerated {} ms after the holder crashed",
        net.now - crashed_at
    );
    let (epoch, _, _) = *net.batches.last().unwrap();
    assert!(epoch > before, "regenerated with a higher epoch");
    assert_eq!(epoch.counter, before.counter + 1);
    net.run_for(200);
    assert_eq!(
        net.holders().len(),
        1,
        "exactly one token after regeneration"
    );
    net.assert_one_holder_per_epoch();

    // The crashed bank restarts; it rejoins without a token and gets the live one.
    net.restart(holder);
    let visits = net.rings[&holder].visits;
    net.run_for(100);
    assert!(net.rings[&holder].visits > visits);
    assert_eq!(net.holders().len(), 1);
}

#[test]
fn an_isolated_bank_stands_by_and_the_rest_go_on() {
    let mut net = Net::new();
    net.run_for(310);
    let cut_at = net.now;
    net.isolated.insert(b(4));
    net.run_for(2_000);
    // Bank 4 ran no cross-bank work while cut off: it could pass the token to no one.
    assert!(!net
        .batches
        .iter()
        .any(|(_, bank, t)| *bank == b(4) && *t > cut_at + 1));
    let others: BTreeSet<u16> = net
        .batches
        .iter()
        .filter(|(_, _, t)| *t > cut_at + 1_500)
        .map(|(_, bank, _)| u16::from(*bank))
        .collect();
    assert_eq!(
        others,
        [1, 2, 3, 5].into_iter().collect(),
        "the ring went on without bank 4"
    );
    // The partition heals: bank 4's stale token (if any) is refused and it rejoins the live ring.
    net.isolated.clear();
    net.run_for(2_000);
    let late: BTreeSet<u16> = net
        .batches
        .iter()
        .filter(|(_, _, t)| *t > cut_at + 3_500)
        .map(|(_, bank, _)| u16::from(*bank))
        .collect();
    assert_eq!(late, (1..=5).collect());
    assert_eq!(net.holders().len(), 1);
    net.assert_one_holder_per_epoch();
}

#[test]
fn a_probe_that_finds_a_recent_token_does_not_regenerate() {
    let mut ring = joined(config(3));
    assert_eq!(ring.tick(ring.timeout_ms()), vec![Effect::Probe]);
    let t = Token {
        epoch: Epoch {
            counter: 1,
            origin: b(1),
        },
        hop: 2,
        idle: 0,
        seal: None,
        window: 0,
    };
    let answers = [ProbeAnswer {
        from: b(2),
        seen: Some(t),
        seen_ago_ms: Some(10),
    }];
    assert!(ring.probe_result(&answers, 400).is_empty());
    assert!(!ring.holding());
    assert_eq!(ring.seen(), Some(t));
    // Nobody answers at all: cut off, so no regeneration either.
    assert_eq!(ring.tick(400 + ring.timeout_ms()), vec![Effect::Probe]);
    assert!(ring.probe_result(&[], 800).is_empty());
    assert!(!ring.holding());
    // Peers answer but saw nothing for long: regenerate above everything known.
    assert_eq!(ring.tick(800 + ring.timeout_ms()), vec![Effect::Probe]);
    let answers = [ProbeAnswer {
        from: b(2),
        seen: Some(t),
        seen_ago_ms: Some(5_000),
    }];
    assert_eq!(ring.probe_result(&answers, 1_200), vec![Effect::RunBatch]);
    assert_eq!(
        ring.seen().unwrap().epoch,
        Epoch {
            counter: 2,
            origin: b(3)
        }
    );
}

#[test]
fn a_long_idle_hold_is_not_mistaken_for_a_lost_token() {
    let mut net = Net::new();
    for r in net.rings.values_mut() {
        r.config.idle_hold_ms = 2_000; // far longer than the 300 ms token timeout
        r.config.idle_hold_max_ms = 2_000;
    }
    net.run_for(5_000);
    let epochs: BTreeSet<Epoch> = net.batches.iter().map(|(e, _, _)| *e).collect();
    assert_eq!(
        epochs.len(),
        1,
        "no regeneration while the holder is alive: {epochs:?}"
    );
    assert!(net.batches.len() >= 2, "the token still moves");
}

#[test]
fn a_probe_that_found_the_token_is_not_reported_as_a_sighting() {
    let mut ring = joined(config(3));
    let t = Token {
        epoch: Epoch {
            counter: 1,
            origin: b(1),
        },
        hop: 2,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert_eq!(ring.receive(t, 100).0, Receipt::Accepted);
    ring.batch_done(ring.visit().unwrap(), true, 100);
    ring.pass_result(b(4), Some(Receipt::Accepted), 100);
    // Much later a probe finds the token alive elsewhere; the wait restarts...
    assert_eq!(ring.tick(100 + ring.timeout_ms()), vec![Effect::Probe]);
    let alive = [ProbeAnswer {
        from: b(5),
        seen: Some(Token { hop: 9, ..t }),
        seen_ago_ms: Some(0),
    }];
    assert!(ring.probe_result(&alive, 1_000).is_empty());
    assert_eq!(ring.next_deadline_ms(), Some(1_000 + ring.timeout_ms()));
    // ...but what this bank tells other probers is its own last sighting, 900 ms ago.
    assert_eq!(ring.probe_answer(1_000).seen_ago_ms, Some(900));
}

#[test]
fn the_token_is_held_only_after_a_full_idle_rotation_and_a_hurry_makes_it_pass_at_once() {
    let config = RingConfig {
        me: b(1),
        members: vec![b(1), b(2)],
        token_timeout_ms: 300,
        stagger_ms: 50,
        idle_hold_ms: 2,
        idle_hold_max_ms: 16,
        retry_ms: 100,
        starved_after_ms: 10_000,
        sealing: None,
    };
    let mut ring = Ring::new(config, 0);
    assert_eq!(ring.tick(0), vec![Effect::Probe]);
    let none = ProbeAnswer {
        from: b(2),
        seen: None,
        seen_ago_ms: None,
    };
    assert!(
        ring.probe_result(&[none], 0).is_empty(),
        "in a ring of two, the one peer's answer is enough"
    );
    let mut now = 0;
    // The token arrives having made `idle` idle visits; this visit finds work or not. Returns the
    // hold (0: passed at once) and the idle count the token leaves with.
    let visit = |ring: &mut Ring, idle: u32, did_work: bool, now: &mut u64| -> (u64, u32) {
        let hop = ring.seen().map_or(0, |t| t.hop) + 1;
        let token = Token {
            epoch: Epoch {
                counter: 1,
                origin: b(2),
            },
            hop,
            idle,
            seal: None,
            window: 0,
        };
        assert_eq!(ring.receive(token, *now).1, vec![Effect::RunBatch]);
        let effects = ring.batch_done(ring.visit().unwrap(), did_work, *now);
        let hold = match effects[..] {
            [Effect::Send { token, .. }] => {
                assert_eq!(token.idle, ring.seen().unwrap().idle);
                0
            }
            [] => {
                let until = ring.next_deadline_ms().unwrap();
                let hold = until - *now;
                *now = until;
                assert!(matches!(ring.tick(*now)[..], [Effect::Send { .. }]));
                hold
            }
            _ => panic!("unexpected {effects:?}"),
        };
        ring.pass_result(b(2), Some(Receipt::Accepted), *now);
        (hold, ring.seen().unwrap().idle)
    };
    // The other bank just worked: no hold for the rest of the rotation.
    assert_eq!(visit(&mut ring, 0, false, &mut now), (0, 1));
    // A full idle rotation and more: the hold doubles per further idle rotation, capped.
    let holds: Vec<u64> = [2, 4, 6, 8, 10]
        .iter()
        .map(|idle| visit(&mut ring, *idle, false, &mut now).0)
        .collect();
    assert_eq!(holds, vec![2, 4, 8, 16, 16]);
    // Work here: passed at once, and the count starts again.
    assert_eq!(visit(&mut ring, 40, true, &mut now), (0, 0));

    // A bank with work waiting asks to hurry: the idle holder runs a batch now and passes.
    let hop = ring.seen().unwrap().hop + 1;
    ring.receive(
        Token {
            epoch: Epoch {
                counter: 1,
                origin: b(2),
            },
            hop,
            idle: 9,
            seal: None,
            window: 0,
        },
        now,
    );
    assert!(
        ring.batch_done(ring.visit().unwrap(), false, now)
            .is_empty(),
        "held"
    );
    assert_eq!(ring.hurry(), vec![Effect::RunBatch]);
    assert!(
        matches!(
            ring.batch_done(ring.visit().unwrap(), false, now + 1)[..],
            [Effect::Send { .. }]
        ),
        "passed at once"
    );
    ring.pass_result(b(2), Some(Receipt::Accepted), now + 1);
    // Hurried while not holding: the next idle visit passes at once, the one after holds again.
    assert!(ring.hurry().is_empty());
    assert_eq!(visit(&mut ring, 11, false, &mut now).0, 0);
    assert_eq!(visit(&mut ring, 13, false, &mut now).0, 16);
}

#[test]
fn a_token_from_a_peer_without_the_idle_count_reads_as_just_worked() {
    // A bank of the previous version sends no `idle`: zero, so at worst one rotation without holds.
    let old: Token = serde_json::from_str(r#"{"epoch":{"counter":3,"origin":2},"hop":7}"#).unwrap();
    assert_eq!(
        old,
        Token {
            epoch: Epoch {
                counter: 3,
                origin: b(2)
            },
            hop: 7,
            idle: 0,
            seal: None,
            window: 0,
        }
    );
    let new = Token { idle: 12, ..old };
    assert_eq!(
        serde_json::from_str::<Token>(&serde_json::to_string(&new).unwrap()).unwrap(),
        new
    );
}

#[test]
fn the_end_of_a_superseded_visits_batch_does_not_cut_the_next_visit_short() {
    let mut ring = joined(config(2));
    let old = Token {
        epoch: Epoch {
            counter: 1,
            origin: b(1),
        },
        hop: 1,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert_eq!(ring.receive(old, 1).1, vec![Effect::RunBatch]);
    let first = ring.visit().unwrap();
    // A round for the first visit is still voting when a newer token arrives (two banks
    // regenerated at once): this bank works again, for the new visit.
    let new = Token {
        epoch: Epoch {
            counter: 2,
            origin: b(4),
        },
        hop: 1,
        idle: 0,
        seal: None,
        window: 0,
    };
    assert_eq!(ring.receive(new, 2).1, vec![Effect::RunBatch]);
    assert!(
        ring.batch_done(first, true, 3).is_empty(),
        "the old round's end is not this visit's"
    );
    assert!(ring.may_work(), "the new visit is still running its batch");
    let effects = ring.batch_done(ring.visit().unwrap(), true, 4);
    assert!(matches!(effects[..], [Effect::Send { .. }]), "{effects:?}");
}

fn token(counter: u64, origin: u16, hop: u64) -> Token {
    Token {
        epoch: Epoch {
            counter,
            origin: b(origin),
        },
        hop,
        idle: 0,
        seal: None,
        window: 0,
    }
}

#[test]
fn absurd_or_far_ahead_tokens_are_refused_and_never_adopted() {
    let mut ring = joined(config(3));
    assert_eq!(ring.receive(token(7, 1, 1), 1).0, Receipt::Accepted);
    for wild in [
        token(u64::MAX, 5, 1),
        token(COUNTER_MAX, 5, 1),
        token(7 + MAX_EPOCH_JUMP + 1, 5, 1),
        token(8, 5, u64::MAX),
    ] {
        assert_eq!(
            ring.receive(wild, 2),
            (Receipt::Refused, vec![]),
            "{wild:?}"
        );
    }
    assert_eq!(
        ring.seen(),
        Some(token(7, 1, 1)),
        "nothing of them was learned"
    );
    assert_eq!(
        ring.receive(token(7 + MAX_EPOCH_JUMP, 5, 1), 3).0,
        Receipt::Accepted,
        "a jump within the bound is an honest one"
    );
    // Nor are they learned from a probe answer or a "stale" receipt.
    let mut ring = joined(config(3));
    assert_eq!(ring.tick(ring.timeout_ms()), vec![Effect::Probe]);
    let liar = ProbeAnswer {
        from: b(5),
        seen: Some(token(u64::MAX - 1, 5, 9)),
        seen_ago_ms: Some(0),
    };
    let silent = ProbeAnswer {
        from: b(2),
        seen: None,
        seen_ago_ms: None,
    };
    assert_eq!(
        ring.probe_result(&[liar, silent], 400),
        vec![Effect::RunBatch],
        "an implausible sighting holds nothing off"
    );
    assert_eq!(
        ring.seen().unwrap().epoch,
        Epoch {
            counter: 1,
            origin: b(3)
        },
        "regenerated above what is plausible only"
    );
    let effects = ring.batch_done(ring.visit().unwrap(), false, 401);
    let Effect::Send { to, .. } = effects[0] else {
        panic!("{effects:?}")
    };
    let effects = ring.pass_result(
        to,
        Some(Receipt::Stale {
            newer: token(u64::MAX, 5, 1),
        }),
        402,
    );
    assert!(
        matches!(effects[..], [Effect::Send { .. }]),
        "an absurd 'newer' token is no answer: try the next bank"
    );
    assert!(ring.seen().unwrap().epoch.counter < 10);
}

#[test]
fn a_starting_bank_learns_the_live_epoch_from_two_peers_not_one() {
    let mut ring = Ring::new(config(3), 0);
    assert_eq!(
        ring.receive(token(5, 1, 1), 0),
        (Receipt::Refused, vec![]),
        "nothing is accepted before the first probe"
    );
    assert_eq!(
        ring.tick(0),
        vec![Effect::Probe],
        "a starting bank probes at once"
    );
    let said = |n: u16, counter: u64| ProbeAnswer {
        from: b(n),
        seen: Some(token(counter, 1, 1)),
        seen_ago_ms: Some(10),
    };
    // One answer out of four peers is not enough: ask again after the retry.
    assert!(ring.probe_result(&[said(5, 40_000_000)], 1).is_empty());
    assert_eq!(ring.next_deadline_ms(), Some(101));
    assert_eq!(ring.tick(101), vec![Effect::Probe]);
    // A liar and two honest banks: the second highest is the honest live epoch.
    assert!(ring
        .probe_result(&[said(5, 40_000_000), said(1, 12), said(2, 11)], 101)
        .is_empty());
    assert_eq!(
        ring.receive(token(40_000_000, 5, 2), 102).0,
        Receipt::Refused,
        "the liar's epoch is far ahead of the floor"
    );
    assert_eq!(ring.receive(token(12, 1, 5), 103).0, Receipt::Accepted);
}

#[test]
fn claims_of_a_recent_sighting_hold_off_regeneration_only_until_the_bank_starves() {
    let mut ring = joined(config(3));
    let mut now;
    // A rogue bank answers every probe that it saw the token just now, with the same token.
    let claim = [ProbeAnswer {
        from: b(5),
        seen: Some(token(1, 5, 3)),
        seen_ago_ms: Some(0),
    }];
    loop {
        now = ring.next_deadline_ms().unwrap();
        assert_eq!(ring.tick(now), vec![Effect::Probe]);
        let effects = ring.probe_result(&claim, now);
        if !effects.is_empty() {
            assert_eq!(effects, vec![Effect::RunBatch]);
            break;
        }
        assert!(now < 10_000, "held off past starved_after_ms");
    }
    assert!(
        now >= 10_000,
        "an honest claim is believed for a while (here until {now} ms)"
    );
    assert_eq!(
        ring.seen().unwrap().epoch,
        Epoch {
            counter: 2,
            origin: b(3)
        }
    );
}

#[test]
fn a_bank_left_more_than_a_jump_behind_catches_up_from_two_peers_not_one() {
    // Bank 3 holds epoch 7; meanwhile a rogue bank has pushed the live epoch ahead twice.
    let live = 7 + 2 * MAX_EPOCH_JUMP;
    let mut ring = joined(config(3));
    assert_eq!(ring.receive(token(7, 1, 1), 1).0, Receipt::Accepted);
    assert_eq!(
        ring.receive(token(live, 4, 3), 1).0,
        Receipt::Refused,
        "too far ahead to believe"
    );
    // Every peer calls its token stale next to the live one: it is behind, not cut off.
    let mut effects = ring.batch_done(ring.visit().unwrap(), false, 2);
    for _ in 0..4 {
        let [Effect::Send { to, .. }] = effects[..] else {
            panic!("{effects:?}")
        };
        let stale = Receipt::Stale {
            newer: token(live, 4, 3),
        };
        effects = ring.pass_result(to, Some(stale), 3);
    }
    assert_eq!(effects, vec![Effect::Probe], "it stops passing and probes");
    assert!(!ring.holding());
    // A liar far ahead, two honest peers at the live epoch, one that knows nothing: the second
    // highest report is the live epoch.
    let said = |n: u16, counter: Option<u64>| ProbeAnswer {
        from: b(n),
        seen: counter.map(|c| token(c, 4, 3)),
        seen_ago_ms: counter.map(|_| 5),
    };
    let answers = [
        said(5, Some(live + 50 * MAX_EPOCH_JUMP)),
        said(1, Some(live)),
        said(2, Some(live)),
        said(4, None),
    ];
    assert!(
        ring.probe_result(&answers, 4).is_empty(),
        "the live token was seen just now: wait for it"
    );
    assert_eq!(ring.receive(token(live, 4, 5), 5).0, Receipt::Accepted);
    assert_eq!(
        ring.receive(token(live + 50 * MAX_EPOCH_JUMP, 5, 1), 6).0,
        Receipt::Refused,
        "the liar's epoch is still far ahead"
    );

    // One peer's word alone moves nothing.
    let mut ring = joined(config(3));
    assert_eq!(ring.receive(token(7, 1, 1), 1).0, Receipt::Accepted);
    let effects = ring.batch_done(ring.visit().unwrap(), false, 2);
    let [Effect::Send { to, .. }] = effects[..] else {
        panic!("{effects:?}")
    };
    ring.pass_result(to, Some(Receipt::Accepted), 3);
    assert_eq!(
        ring.tick(ring.next_deadline_ms().unwrap()),
        vec![Effect::Probe]
    );
    ring.probe_result(&[said(5, Some(live)), said(1, Some(7))], 400);
    assert_eq!(
        ring.receive(token(live, 5, 1), 401).0,
        Receipt::Refused,
        "one report far ahead is not believed"
    );
}

#[test]
fn a_bank_pushed_more_than_a_jump_ahead_forgets_the_token_nobody_takes() {
    // A rogue bank hands bank 3 two tokens in a row, each a jump ahead of the last.
    let mut ring = joined(config(3));
    assert_eq!(ring.receive(token(7, 1, 1), 1).0, Receipt::Accepted);
    let pushed = 7 + 2 * MAX_EPOCH_JUMP;
    assert_eq!(
        ring.receive(token(7 + MAX_EPOCH_JUMP, 5, 1), 2).0,
        Receipt::Accepted
    );
    assert_eq!(ring.receive(token(pushed, 5, 1), 2).0, Receipt::Accepted);
    // No peer takes it (to them it is too far ahead): it stops passing and probes.
    let mut effects = ring.batch_done(ring.visit().unwrap(), false, 3);
    for _ in 0..4 {
        let [Effect::Send { to, .. }] = effects[..] else {
            panic!("{effects:?}")
        };
        effects = ring.pass_result(to, Some(Receipt::Refused), 4);
    }
    assert_eq!(effects, vec![Effect::Probe]);
    // Every honest peer is at the live epoch; the rogue backs its own token.
    let said = |n: u16, counter: u64| ProbeAnswer {
        from: b(n),
        seen: Some(token(counter, 1, 3)),
        seen_ago_ms: Some(5),
    };
    let answers = [said(5, pushed), said(1, 9), said(2, 9), said(4, 8)];
    assert!(ring.probe_result(&answers, 5).is_empty());
    assert_eq!(
        ring.seen(),
        Some(token(9, 1, 3)),
        "it forgot the rogue's token"
    );
    assert_eq!(ring.receive(token(9, 1, 4), 6).0, Receipt::Accepted);
}

/// Issue 24: a token's epoch is tied to its origin by the origin's seal. With sealing on, a
/// bank adopts no token whose epoch names an origin that did not seal it: a member cannot hand out
/// epochs in another's name (which would make two holders of one honest epoch).
#[test]
fn only_an_epoch_its_origin_sealed_is_adopted() {
    let key = |n: u16| Arc::new(BankKey::from_seed([n as u8; 32]));
    let keys = Arc::new(Keyring::new(
        (1..=5).map(|n| (b(n), key(n).public())).collect(),
    ));
    let sealed_config = |me: u16| RingConfig {
        sealing: Some(Signing {
            key: key(me),
            keys: keys.clone(),
        }),
        ..config(me)
    };
    let mut ring = joined(sealed_config(3));
    let epoch = Epoch {
        counter: 7,
        origin: b(1),
    };
    let forged = |seal| Token {
        seal,
        ..token(7, 1, 2)
    };
    // Unsealed, or sealed by bank 5 in bank 1's name: refused, never adopted.
    for seal in [None, Some(epoch.seal(&key(5)))] {
        assert_eq!(ring.receive(forged(seal), 10).0, Receipt::Refused);
        assert_eq!(ring.seen(), None);
    }
    // Sealed by bank 1: taken.
    assert_eq!(
        ring.receive(forged(Some(epoch.seal(&key(1)))), 10).0,
        Receipt::Accepted
    );
    // The epoch a bank makes when it regenerates carries its own seal, which another bank
    // checks and takes.
    let mut maker = joined(sealed_config(2));
    let now = maker.next_deadline_ms().unwrap();
    assert_eq!(maker.tick(now), vec![Effect::Probe]);
    let idle = |n| ProbeAnswer {
        from: b(n),
        seen: None,
        seen_ago_ms: None,
    };
    assert_eq!(
        maker.probe_result(&[idle(4), idle(5)], now),
        vec![Effect::RunBatch]
    );
    let made = maker.seen().unwrap();
    assert_eq!(made.epoch.origin, b(2));
    assert_eq!(made.seal, Some(made.epoch.seal(&key(2))));
    let mut taker = joined(sealed_config(4));
    let passed = Token { hop: 1, ..made };
    assert_eq!(taker.receive(passed, now).0, Receipt::Accepted);
}

#[test]
fn the_token_carries_the_highest_settlement_window_on() {
    let mut ring = joined(config(3));
    let t = Token {
        epoch: Epoch {
            counter: 1,
            origin: b(1),
        },
        hop: 1,
        idle: 0,
        seal: None,
        window: 4,
    };
    assert_eq!(ring.receive(t, 1).1, vec![Effect::RunBatch]);
    let visit = ring.visit().unwrap();
    // This bank's batch ran with window 5 open (it cut 4): the pass carries 5.
    ring.raise_window(visit, 5);
    // Lower, or for another visit: ignored.
    ring.raise_window(visit, 3);
    ring.raise_window((visit.0, visit.1 + 1), 9);
    let passed = ring.batch_done(visit, true, 2);
    let Some(Effect::Send { token, .. }) = passed.first() else {
        panic!("passed at once after work: {passed:?}");
    };
    assert_eq!(token.window, 5);
    // A peer of the previous version sends no window: 0, and the holder raises it to its own.
    let old: Token = serde_json::from_str(r#"{"epoch":{"counter":3,"origin":2},"hop":7}"#).unwrap();
    assert_eq!(old.window, 0);
}

#[test]
fn rings_over_disjoint_groups_cover_every_member_and_refuse_each_others_tokens() {
    let all: Vec<BankId> = (1..=20).map(b).collect();
    let mut covered = BTreeSet::new();
    for me in &all {
        let group = ring_group(&all, *me, 4);
        assert!(group.contains(me));
        assert_eq!(group.len(), 5, "20 banks in 4 rings of 5");
        for other in &group {
            assert_eq!(ring_group(&all, *other, 4), group, "one ring per group");
        }
        covered.extend(group);
    }
    assert_eq!(covered.len(), 20, "every bank is in a ring");
    assert_eq!(ring_group(&all, b(7), 1), all, "one group: everyone");
    assert_eq!(
        ring_group(&all, b(7), 50).len(),
        1,
        "at most one ring per bank"
    );
    assert_eq!(
        ring_group(&all[..7], b(2), 3),
        vec![b(2), b(5)],
        "seven banks in three rings: 3, 2 and 2"
    );
    // Bank 1's ring with 4 groups is {1, 5, 9, 13, 17}: a token made by bank 2 (another ring) is
    // refused, one made by bank 5 accepted.
    let mut config = config(1);
    config.members = ring_group(&all, b(1), 4);
    let mut ring = Ring::new(config, 0);
    assert_eq!(ring.tick(0), vec![Effect::Probe]);
    let none = |n| ProbeAnswer {
        from: b(n),
        seen: None,
        seen_ago_ms: None,
    };
    // A probe answer with another ring's token teaches this bank nothing.
    let foreign = ProbeAnswer {
        from: b(5),
        seen: Some(token(40, 2, 3)),
        seen_ago_ms: Some(0),
    };
    assert!(ring.probe_result(&[foreign, none(9)], 0).is_empty());
    assert_eq!(ring.receive(token(41, 2, 1), 1), (Receipt::Refused, vec![]));
    assert_eq!(ring.receive(token(1, 5, 1), 2).0, Receipt::Accepted);
}
