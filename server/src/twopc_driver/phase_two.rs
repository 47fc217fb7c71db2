//! Phase two and recovery: decisions delivered until every participant acknowledged them, and
//! transactions this bank has had prepared too long resolved with their coordinators and the
//! other participants (and, as a coordinator, the answers to such questions).

use super::Node;
use domain::{BankId, TxId};
use engine::twopc::proof::SignedPlan;
use engine::twopc::{in_doubt_by_coordinator, DecideItem, Question, Resolution};
use engine::wire::{DecideMsg, ResolveMsg, Route, TerminateMsg};
use std::collections::BTreeMap;
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
            .call_within(bank, &DecideMsg { items }, timeout)
            .await
            .ok()
    }

    /// Recovery, forever: resolves transactions this bank has had prepared for too long. It asks
    /// each coordinator about the plans it holds; about those still undecided after
    /// [`ASK_OTHERS_AFTER`] rounds of asking, it asks the plan's other participants too
    /// (cooperative termination: any of them may hold the proof). A proof from anyone decides;
    /// past the plan's deadline a participant's signed no does too. Whatever is still held
    /// without proof long after its deadline is given up (`EngineHandle::expire`).
    pub(super) async fn recover_forever(self: Arc<Self>) {
        let period = Duration::from_millis(self.settings.in_doubt_after_ms.max(10));
        let patience = i64::try_from(self.settings.in_doubt_after_ms).unwrap_or(i64::MAX);
        loop {
            tokio::time::sleep(period).await;
            let Ok(in_doubt) = self.engine.in_doubt().await else {
                continue;
            };
            let now = self.engine.now_ms();
            let long_ago = now.saturating_sub(patience.saturating_mul(ASK_OTHERS_AFTER));
            let long: Vec<SignedPlan> = in_doubt
                .iter()
                .filter(|d| d.since_ms <= long_ago)
                .filter_map(|d| d.plan.clone())
                .collect();
            for (coordinator, questions) in in_doubt_by_coordinator(in_doubt, now - patience) {
                let answers = if coordinator == self.me {
                    Some(self.resolve_many(self.me, questions.clone()).await)
                } else {
                    self.ask_coordinator(coordinator, questions.clone()).await
                };
                let items = Resolution::apply(questions, answers.unwrap_or_default());
                self.apply_found(coordinator, items, "its coordinator")
                    .await;
            }
            if !long.is_empty() {
                self.ask_participants(long, now).await;
            }
            match self.engine.expire().await {
                Ok(expired) if !expired.is_empty() => {
                    tracing::warn!(
                        count = expired.len(),
                        "gave up transactions held without proof past their deadline"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "giving up expired transactions"),
            }
        }
    }

    /// Applies decisions found for transactions in doubt (each is checked against its proof).
    async fn apply_found(&self, from: BankId, items: Vec<DecideItem>, whom: &str) {
        if items.is_empty() {
            return;
        }
        tracing::info!(count = items.len(), %from, "resolving in-doubt transactions, asked of {whom}");
        if let Err(e) = self.engine.decide(from, items).await {
            tracing::warn!(error = %e, "applying resolved decisions");
        }
    }

    /// Cooperative termination: asks every other participant of `plans` (but their
    /// coordinators, asked already) what it knows of them.
    async fn ask_participants(&self, plans: Vec<SignedPlan>, now: i64) {
        let mut by_bank: BTreeMap<BankId, Vec<SignedPlan>> = BTreeMap::new();
        for plan in plans {
            for bank in plan.plan.participants() {
                if bank == self.me || bank == plan.plan.coordinator {
                    continue;
                }
                let list = by_bank.entry(bank).or_default();
                if list.len() < engine::twopc::MAX_ITEMS_PER_MESSAGE {
                    list.push(plan.clone());
                }
            }
        }
        for (bank, plans) in by_bank {
            let msg = TerminateMsg {
                plans: plans.clone(),
            };
            let Ok(answers) = self.peers.call(bank, &msg).await else {
                continue;
            };
            if answers.len() != plans.len() {
                continue;
            }
            let items = plans
                .into_iter()
                .zip(answers)
                .filter_map(|(plan, answer)| answer.decide(plan, now))
                .collect();
            self.apply_found(bank, items, "another participant").await;
        }
    }

    /// Asks `coordinator` how it decided the plans of `questions`; its signed answer is kept as
    /// evidence.
    async fn ask_coordinator(
        &self,
        coordinator: BankId,
        questions: Vec<Question>,
    ) -> Option<Vec<Resolution>> {
        let txs = questions.iter().map(|q| q.tx.clone()).collect();
        let msg = ResolveMsg { questions };
        let (request, sent, answer) = self.peers.signed_call(coordinator, &msg, None).await.ok()?;
        let (log, path) = (self.evidence.as_ref(), Route::Resolve.path());
        crate::evidence::keep_exchange(log, path, &request, &sent, &answer, txs);
        serde_json::from_slice(&answer.body).ok()
    }

    /// The coordinator's answer to participant `from` in doubt. A packet still claimed is
    /// pending; otherwise the decision with its proof, or this bank's no to a plan it signed and
    /// never committed (stored as a presumed abort when it decided nothing).
    pub async fn resolve_many(&self, from: BankId, questions: Vec<Question>) -> Vec<Resolution> {
        let mut out = Vec::with_capacity(questions.len());
        for q in questions {
            if self.coordinator().in_flight(&q.tx) {
                out.push(Resolution::Pending);
                continue;
            }
            out.push(
                self.engine
                    .resolve(from, q)
                    .await
                    .unwrap_or(Resolution::Pending),
            );
        }
        out
    }
}

/// Rounds of asking the coordinator alone before the other participants are asked too.
const ASK_OTHERS_AFTER: i64 = 3;
