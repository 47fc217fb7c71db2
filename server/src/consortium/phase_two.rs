//! Phase two and recovery: decisions delivered until every participant acknowledged them, and
//! transactions this bank has had prepared too long resolved with their coordinators (and, as a
//! coordinator, the answers to such questions).

use super::Node;
use domain::{BankId, TxId};
use engine::twopc::{in_doubt_by_coordinator, DecideItem, Resolution};
use engine::wire::{DecideMsg, ResolveMsg, Route};
use std::sync::Arc;
use std::time::Duration;

impl Node {
    /// Phase two, forever: sends due decisions, records acknowledgements.
    pub(super) async fn deliver_forever(self: Arc<Self>) {
        match self.engine.unacked_decisions().await {
            Ok(list) => self.coordinator().resume(list, self.now_ms()),
            Err(e) => tracing::error!(error = %e, "loading unacknowledged decisions"),
        }
        loop {
            let now = self.now_ms();
            let (due, record, next) = {
                let mut c = self.coordinator();
                (c.due(now), c.acks_to_record(now), c.next_deadline_ms())
            };
            for (bank, items) in due {
                let node = self.clone();
                tokio::spawn(async move {
                    let sent: Vec<TxId> = items.iter().map(|i| i.tx.clone()).collect();
                    let acked = node.send_decide(bank, items).await.unwrap_or_default();
                    if node.coordinator().settle(bank, &sent, acked) {
                        node.delivery_wake.notify_one();
                    }
                });
            }
            if !record.is_empty() {
                let engine = self.engine.clone();
                tokio::spawn(async move {
                    // Nobody is left to acknowledge these. Should this fail, they are sent again
                    // after a restart and acknowledged again.
                    let updates = record.into_iter().map(|tx| (tx, Vec::new())).collect();
                    if let Err(e) = engine.decision_acked(updates).await {
                        tracing::warn!(error = %e, "recording acknowledgements");
                    }
                });
            }
            let sleep = match next {
                Some(at) => Duration::from_millis(at.saturating_sub(self.now_ms()).max(1)),
                None => Duration::from_secs(3_600),
            };
            tokio::select! {
                _ = self.delivery_wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    async fn send_decide(&self, bank: BankId, items: Vec<DecideItem>) -> Option<Vec<TxId>> {
        if bank == self.me {
            return self.engine.decide(self.me, items).await.ok();
        }
        let timeout = Some(Duration::from_millis(self.settings.prepare_timeout_ms));
        self.peers
            .call_within(bank, Route::Decide, &DecideMsg { items }, timeout)
            .await
            .ok()
    }

    /// Recovery, forever: resolves transactions this bank has had prepared for too long.
    pub(super) async fn recover_forever(self: Arc<Self>) {
        let period = Duration::from_millis(self.settings.in_doubt_after_ms.max(10));
        let patience = i64::try_from(self.settings.in_doubt_after_ms).unwrap_or(i64::MAX);
        loop {
            tokio::time::sleep(period).await;
            let Ok(in_doubt) = self.engine.in_doubt().await else {
                continue;
            };
            let cutoff = engine::wall_clock_ms().saturating_sub(patience);
            for (coordinator, txs) in in_doubt_by_coordinator(in_doubt, cutoff) {
                let answers = if coordinator == self.me {
                    Some(self.resolve_many(self.me, txs.clone()).await)
                } else {
                    self.ask_coordinator(coordinator, txs.clone()).await
                };
                let items = Resolution::apply(txs, answers.unwrap_or_default());
                if !items.is_empty() {
                    tracing::info!(count = items.len(), %coordinator, "resolving in-doubt transactions");
                    if let Err(e) = self.engine.decide(coordinator, items).await {
                        tracing::warn!(error = %e, "applying resolved decisions");
                    }
                }
            }
        }
    }

    /// Asks `coordinator` how it decided `txs`; its signed answer is kept as evidence.
    async fn ask_coordinator(
        &self,
        coordinator: BankId,
        txs: Vec<TxId>,
    ) -> Option<Vec<Resolution>> {
        let msg = ResolveMsg { txs: txs.clone() };
        let (request, sent, answer) = self
            .peers
            .signed_call(coordinator, Route::Resolve, &msg, None)
            .await
            .ok()?;
        let (log, path) = (self.evidence.as_ref(), Route::Resolve.path());
        crate::evidence::keep_exchange(log, path, &request, &sent, &answer, txs);
        serde_json::from_slice(&answer.body).ok()
    }

    /// The coordinator's answer to participant `from` in doubt. A packet still claimed is
    /// pending; otherwise the stored decision (a commit only to the banks it is for), or a stored
    /// presumed abort.
    pub async fn resolve_many(&self, from: BankId, txs: Vec<TxId>) -> Vec<Resolution> {
        let mut out = Vec::with_capacity(txs.len());
        for tx in txs {
            if self.coordinator().in_flight(&tx) {
                out.push(Resolution::Pending);
                continue;
            }
            out.push(match self.engine.resolve(tx).await {
                Ok(d) => Resolution::for_bank(&d, from),
                Err(_) => Resolution::Pending,
            });
        }
        out
    }
}
