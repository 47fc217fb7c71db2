//! Phase two: decisions delivered to every participant, batched per peer, retried with backoff
//! until each acknowledged them (see the protocol in [`super`]).

use super::proof::Proof;
use super::{DecideItem, MAX_ITEMS_PER_MESSAGE};
use domain::{BankId, TxId};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub first_retry_ms: u64,
    pub max_retry_ms: u64,
    /// An attempt still in flight is not repeated before this long (the caller's request
    /// timeout), unless the caller reports it failed: a slow answer must not multiply messages.
    pub in_flight_ms: u64,
    /// A new decision waits up to this long for a prepare message to the same peer to ride on
    /// before it is sent on its own. Decisions for `me` (the coordinator's own engine, reached
    /// without a message) are due at once.
    pub linger_ms: u64,
    pub me: BankId,
}

/// One decision's delivery to one bank.
#[derive(Clone, Copy)]
struct Slot {
    next_ms: u64,
    backoff_ms: u64,
    busy_until_ms: u64,
}

struct Pending {
    commit: bool,
    /// What proves the decision to each participant (`None`: a decision stored before protocol
    /// version 6, delivered as it was made).
    proof: Option<Proof>,
    unacked: BTreeMap<BankId, Slot>,
}

/// Puts a decision into an attempt unless an earlier attempt is still in flight; the next
/// attempt is then due after the backoff, which doubles.
fn send(
    tx: &TxId,
    (commit, proof): (bool, &Option<Proof>),
    slot: &mut Slot,
    items: &mut Vec<DecideItem>,
    now_ms: u64,
    config: &DeliveryConfig,
) {
    if slot.busy_until_ms > now_ms {
        return;
    }
    items.push(DecideItem {
        tx: tx.clone(),
        commit,
        proof: proof.clone(),
    });
    slot.busy_until_ms = now_ms + config.in_flight_ms;
    slot.next_ms = now_ms + slot.backoff_ms;
    slot.backoff_ms = (slot.backoff_ms * 2).min(config.max_retry_ms);
}

/// Phase two: decisions to deliver until every participant has acknowledged them.
pub struct Deliveries {
    config: DeliveryConfig,
    pending: BTreeMap<TxId, Pending>,
}

impl Deliveries {
    pub fn new(config: DeliveryConfig) -> Deliveries {
        Deliveries {
            config,
            pending: BTreeMap::new(),
        }
    }

    /// A durable decision to deliver to `banks`: to this bank at once, to the others on the next
    /// prepare message to them or after `linger_ms`.
    pub fn add(
        &mut self,
        tx: TxId,
        (commit, proof): (bool, Option<Proof>),
        banks: &[BankId],
        now_ms: u64,
    ) {
        if banks.is_empty() {
            return;
        }
        let slot = |bank: BankId| Slot {
            next_ms: if bank == self.config.me {
                now_ms
            } else {
                now_ms + self.config.linger_ms
            },
            backoff_ms: self.config.first_retry_ms,
            busy_until_ms: 0,
        };
        let unacked = banks.iter().map(|b| (*b, slot(*b))).collect();
        self.pending.insert(
            tx,
            Pending {
                commit,
                proof,
                unacked,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether some participant has not acknowledged `tx`'s decision yet.
    pub fn is_pending(&self, tx: &TxId) -> bool {
        self.pending.contains_key(tx)
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The messages due now, at most [`MAX_ITEMS_PER_MESSAGE`] items each, one per bank. Each item
    /// sent is in flight until acknowledged, reported [failed](Deliveries::failed) or
    /// `in_flight_ms` passes; it is retried after its backoff, which then doubles (up to the
    /// maximum).
    pub fn due(&mut self, now_ms: u64) -> Vec<(BankId, Vec<DecideItem>)> {
        let mut out: BTreeMap<BankId, Vec<DecideItem>> = BTreeMap::new();
        for (tx, p) in &mut self.pending {
            for (bank, slot) in &mut p.unacked {
                let items = out.entry(*bank).or_default();
                if slot.next_ms <= now_ms && items.len() < MAX_ITEMS_PER_MESSAGE {
                    send(tx, (p.commit, &p.proof), slot, items, now_ms, &self.config);
                }
            }
        }
        out.into_iter()
            .filter(|(_, items)| !items.is_empty())
            .collect()
    }

    /// Every decision `bank` has yet to acknowledge that is not in flight, due or not (at most
    /// [`MAX_ITEMS_PER_MESSAGE`]): to ride on a message about to go to that bank. They count as an
    /// attempt, exactly as if [`Deliveries::due`] had returned them.
    pub fn take_for(&mut self, bank: BankId, now_ms: u64) -> Vec<DecideItem> {
        let mut items = Vec::new();
        for (tx, p) in &mut self.pending {
            if items.len() >= MAX_ITEMS_PER_MESSAGE {
                break;
            }
            if let Some(slot) = p.unacked.get_mut(&bank) {
                send(
                    tx,
                    (p.commit, &p.proof),
                    slot,
                    &mut items,
                    now_ms,
                    &self.config,
                );
            }
        }
        items
    }

    /// The attempt carrying `txs` to `bank` ended without an acknowledgement (no answer, or the
    /// bank did not ack these): they may be retried once their backoff has passed.
    pub fn failed(&mut self, bank: BankId, txs: &[TxId]) {
        for tx in txs {
            if let Some(slot) = self
                .pending
                .get_mut(tx)
                .and_then(|p| p.unacked.get_mut(&bank))
            {
                slot.busy_until_ms = 0;
            }
        }
    }

    /// `bank` acknowledged `txs`. Returns the transactions this completed (every participant has
    /// acknowledged), for the caller to persist. Partial acknowledgements are kept in memory only:
    /// after a restart the decision goes to every participant again, and they acknowledge a
    /// duplicate; this spares the coordinator a write per acknowledgement.
    pub fn acked(&mut self, bank: BankId, txs: &[TxId]) -> Vec<TxId> {
        let mut out = Vec::new();
        for tx in txs {
            if let Some(p) = self.pending.get_mut(tx) {
                if p.unacked.remove(&bank).is_some() && p.unacked.is_empty() {
                    self.pending.remove(tx);
                    out.push(tx.clone());
                }
            }
        }
        out
    }

    /// When [`Deliveries::due`] will next have something to send.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.pending
            .values()
            .flat_map(|p| p.unacked.values().map(|s| s.next_ms.max(s.busy_until_ms)))
            .min()
    }
}
