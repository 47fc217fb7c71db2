//! The operators' API for settlement, behind `OPERATOR_TOKEN` (`Authorization: Bearer <it>`, as
//! `/metrics` and `/status`'s totals): list the windows with their signed reports, close the
//! next window, mark a window paid (this bank the debtor), confirm it received (this bank the
//! creditor), or pay it by multilateral netting (`/netting/paid`, `/netting/received`: a leg
//! of the window's plan, this bank its debtor or its creditor). JSON in, JSON out; a bad input is a 4xx and changes nothing. Without a consortium
//! (a bank alone) there is nothing to settle: 404.

use crate::config::OperatorToken;
use crate::twopc_driver::Node;
use axum::extract::Extension;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::BankId;
use engine::settlement::{Leg, Pair, SignedPayment, SignedReport, Step, Window};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The routes, under `/operator/settlement`.
pub fn router(token: Option<OperatorToken>, node: Option<Arc<Node>>) -> Router {
    let Some(node) = node else {
        return Router::new();
    };
    Router::new()
        .route("/operator/settlement", get(list))
        .route("/operator/settlement/close", post(close))
        .route("/operator/settlement/paid", post(paid))
        .route("/operator/settlement/received", post(received))
        .route("/operator/settlement/netting/paid", post(netting_paid))
        .route(
            "/operator/settlement/netting/received",
            post(netting_received),
        )
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let allowed = crate::http::operator(token.as_ref(), request.headers());
                async move {
                    if allowed {
                        next.run(request).await
                    } else {
                        unauthorized()
                    }
                }
            },
        ))
        .layer(Extension(node))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "an operator token is required",
    )
        .into_response()
}

/// A window as an operator sees it: this bank's signed report, the others' signed reports, and
/// where each pair stands with its signed payment steps.
#[derive(Serialize)]
pub struct WindowView {
    pub window: u64,
    pub own: SignedReport,
    pub reports: Vec<SignedReport>,
    pub pairs: Vec<PairView>,
    /// Second, different reports a bank signed for this window: evidence beside its first.
    pub contradicting: Vec<SignedReport>,
    /// The window's multilateral netting plan (`None` until every member's report is here and
    /// every pair agrees).
    pub netting: Option<NettingView>,
}

/// A window's multilateral netting plan as this bank holds it.
#[derive(Serialize)]
pub struct NettingView {
    /// A netting step is held here: this bank signs no bilateral step for the window.
    pub chosen: bool,
    /// Every leg is confirmed: the positions moved here.
    pub settled: bool,
    pub legs: Vec<LegView>,
}

#[derive(Serialize)]
pub struct LegView {
    #[serde(flatten)]
    pub leg: Leg,
    pub paid: Option<SignedPayment>,
    pub received: Option<SignedPayment>,
}

#[derive(Serialize)]
pub struct PairView {
    pub peer: BankId,
    pub state: Pair,
    pub paid: Option<SignedPayment>,
    pub received: Option<SignedPayment>,
}

impl WindowView {
    fn of(w: Window) -> WindowView {
        let me = w.own.report.bank;
        let pairs = w
            .own
            .report
            .peers
            .iter()
            .map(|p| {
                let (debtor, creditor) = if p.net.get() < 0 {
                    (me, p.peer)
                } else {
                    (p.peer, me)
                };
                PairView {
                    peer: p.peer,
                    state: w.pair(p.peer),
                    paid: w.payment(Step::Paid, debtor, creditor).cloned(),
                    received: w.payment(Step::Received, debtor, creditor).cloned(),
                }
            })
            .collect();
        let netting = w.plan().ok().map(|legs| NettingView {
            chosen: w.netted(),
            settled: w.netting_settled(),
            legs: legs
                .into_iter()
                .map(|leg| LegView {
                    paid: w.leg_step(Step::Paid, leg.debtor, leg.creditor).cloned(),
                    received: w
                        .leg_step(Step::Received, leg.debtor, leg.creditor)
                        .cloned(),
                    leg,
                })
                .collect(),
        });
        WindowView {
            window: w.number(),
            own: w.own,
            reports: w.reports,
            pairs,
            contradicting: w.contradicting,
            netting,
        }
    }
}

#[derive(Serialize)]
struct Listing {
    last_window: u64,
    disagreements: u64,
    windows: Vec<WindowView>,
}

async fn list(Extension(node): Extension<Arc<Node>>) -> Response {
    match node
        .engine()
        .windows(engine::engine::WINDOWS_LISTED_MAX)
        .await
    {
        Ok(windows) => {
            // Read after the windows: the engine publishes its snapshot before it answers, so
            // the counts are at least as new as the windows listed (read before, they could
            // lag them by a batch).
            let snapshot = node.engine().snapshot().settlement;
            Json(Listing {
                last_window: snapshot.last_window,
                disagreements: snapshot.disagreements,
                windows: windows.into_iter().map(WindowView::of).collect(),
            })
            .into_response()
        }
        Err(e) => crate::interbank::engine_unavailable(e),
    }
}

#[derive(Serialize)]
struct ClosedView {
    report: SignedReport,
    exchanged: Vec<crate::settlement::Exchange>,
}

/// `{}`: close the next window. `{"window": n}`: send this bank's report for window `n`, closed
/// before, to every member again (for a bank that missed it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseForm {
    window: Option<u64>,
}

async fn close(Extension(node): Extension<Arc<Node>>, Json(form): Json<CloseForm>) -> Response {
    let done = match form.window {
        None => crate::settlement::close(&node).await,
        Some(window) => crate::settlement::resend(&node, window).await,
    };
    match done {
        Ok(Ok((report, exchanged))) => Json(ClosedView { report, exchanged }).into_response(),
        Ok(Err(e)) => crate::interbank::settlement_refused(e),
        Err(e) => crate::interbank::engine_unavailable(e),
    }
}

/// `{"window": 1, "creditor": 2}`: this bank paid bank 2 what it owes it for window 1.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaidForm {
    window: u64,
    creditor: BankId,
}

/// `{"window": 1, "debtor": 1}`: this bank received what bank 1 owed it for window 1.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceivedForm {
    window: u64,
    debtor: BankId,
}

#[derive(Serialize)]
struct StepView {
    payment: SignedPayment,
    /// `None`: the other bank took it; otherwise why not (it is retried for about two minutes,
    /// and asking again sends it again).
    undelivered: Option<String>,
}

async fn paid(Extension(node): Extension<Arc<Node>>, Json(form): Json<PaidForm>) -> Response {
    match node.engine().mark_paid(form.window, form.creditor).await {
        Ok(Ok(payment)) => step(&node, payment).await,
        Ok(Err(e)) => crate::interbank::settlement_refused(e),
        Err(e) => crate::interbank::engine_unavailable(e),
    }
}

async fn received(
    Extension(node): Extension<Arc<Node>>,
    Json(form): Json<ReceivedForm>,
) -> Response {
    match node
        .engine()
        .confirm_received(form.window, form.debtor)
        .await
    {
        Ok(Ok(payment)) => step(&node, payment).await,
        Ok(Err(e)) => crate::interbank::settlement_refused(e),
        Err(e) => crate::interbank::engine_unavailable(e),
    }
}

/// `{"window": 1, "creditor": 2}`: this bank paid bank 2 its leg of window 1's netting plan.
async fn netting_paid(
    Extension(node): Extension<Arc<Node>>,
    Json(form): Json<PaidForm>,
) -> Response {
    match node.engine().pay_leg(form.window, form.creditor).await {
        Ok(Ok(payment)) => step(&node, payment).await,
        Ok(Err(e)) => crate::interbank::settlement_refused(e),
        Err(e) => crate::interbank::engine_unavailable(e),
    }
}

/// `{"window": 1, "debtor": 1}`: this bank received bank 1's leg of window 1's netting plan.
async fn netting_received(
    Extension(node): Extension<Arc<Node>>,
    Json(form): Json<ReceivedForm>,
) -> Response {
    match node.engine().confirm_leg(form.window, form.debtor).await {
        Ok(Ok(payment)) => step(&node, payment).await,
        Ok(Err(e)) => crate::interbank::settlement_refused(e),
        Err(e) => crate::interbank::engine_unavailable(e),
    }
}

async fn step(node: &Arc<Node>, payment: SignedPayment) -> Response {
    let undelivered = crate::settlement::deliver(node, &payment).await;
    Json(StepView {
        payment,
        undelivered,
    })
    .into_response()
}

/// The operators' console's port (`engine::operator::OperatorPort`): what the app's console asks
/// of the node. The same calls as the JSON API above, behind the console's own login.
pub struct Desk {
    node: Arc<Node>,
    /// `None`: no `OPERATOR_TOKEN`, and then no login to the console matches.
    token: Option<OperatorToken>,
    limits: std::collections::BTreeMap<BankId, domain::Cents>,
    /// Where the evidence files and the store are (`bank-node evidence` reads the same).
    data_dir: std::path::PathBuf,
    membership: crate::membership::Membership,
    settlement_deadline_ms: Option<i64>,
}

impl Desk {
    /// The console's port for a bank in a consortium (`None` for a bank alone).
    pub fn new(config: &crate::config::Config, node: Option<Arc<Node>>) -> Option<Desk> {
        let (node, membership) = (node?, config.membership.clone()?);
        Some(Desk {
            node,
            token: config.operator_token.clone(),
            limits: membership.limits(),
            data_dir: config.data_dir.clone(),
            membership,
            settlement_deadline_ms: config.engine.settlement_deadline_ms,
        })
    }
}

impl engine::operator::OperatorPort for Desk {
    fn token_matches(&self, typed: &str) -> bool {
        self.token.as_ref().is_some_and(|t| t.matches(typed))
    }

    fn limits(&self) -> std::collections::BTreeMap<BankId, domain::Cents> {
        self.limits.clone()
    }

    fn settlement_deadline_ms(&self) -> Option<i64> {
        self.settlement_deadline_ms
    }

    fn collateral(&self) -> std::collections::BTreeMap<BankId, domain::Cents> {
        self.membership
            .members()
            .filter_map(|m| m.collateral.map(|c| (m.id, c)))
            .collect()
    }

    fn close_window(
        &self,
    ) -> engine::consortium::BoxFuture<'_, engine::EngineResult<engine::operator::Exchanged>> {
        Box::pin(crate::settlement::close(&self.node))
    }

    fn resend_report(
        &self,
        window: u64,
    ) -> engine::consortium::BoxFuture<'_, engine::EngineResult<engine::operator::Exchanged>> {
        Box::pin(crate::settlement::resend(&self.node, window))
    }

    fn deliver(&self, payment: SignedPayment) -> engine::consortium::BoxFuture<'_, Option<String>> {
        Box::pin(async move { crate::settlement::deliver(&self.node, &payment).await })
    }

    fn evidence(
        &self,
        tx: domain::TxId,
    ) -> engine::consortium::BoxFuture<'_, Result<String, String>> {
        let (data_dir, membership) = (self.data_dir.clone(), self.membership.clone());
        // It reads files and the store: off the async threads, like the command line's run.
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                crate::evidence::report(&tx, &data_dir, &membership)
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}
