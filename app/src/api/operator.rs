//! The operators' console (`/operator`): logging in with `OPERATOR_TOKEN` (typed once into a
//! form; it opens a short-lived session whose cookie is HttpOnly and SameSite=Strict, so the
//! token never goes into a URL nor back to the page), the ring with this bank's position and
//! limit with each member, the settlement windows with every signed report and whether each
//! pair agrees, the steps of paying a window (pair by pair, or by multilateral netting: the
//! window's plan, a leg per net debtor and net creditor), and the evidence kept about a
//! transaction.
//!
//! Every function but the login asks for an operator's session ([`AppError::NotLoggedIn`]
//! without one). What moves goes through the same engine commands and node calls as the JSON
//! API `/operator/settlement` (`engine::operator::OperatorPort`).

use crate::error::AppError;
use domain::dto::BankInfo;
use domain::{BankId, Cents};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything the console shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Console {
    pub bank: BankId,
    /// Every member, this bank included, in ring order.
    pub members: Vec<MemberRow>,
    pub last_window: u64,
    /// Pairs whose signed reports disagree, and contradicting reports, in every window kept.
    pub disagreements: u64,
    /// Contradicting ballots of one signer seen since start (kept as evidence).
    pub equivocations: u64,
    /// Newest first.
    pub windows: Vec<WindowRow>,
}

/// A member as the ring and this bank's books see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberRow {
    pub bank: BankInfo,
    pub me: bool,
    /// Answered its status just now.
    pub online: bool,
    /// Holds the ring's token now.
    pub holding: bool,
    /// What it still owes this bank from committed transfers once windows paid are counted
    /// (negative: what this bank owes it).
    pub outstanding: Cents,
    /// Its credits prepared here and not decided yet.
    pub pending: Cents,
    /// Paid by settlement windows (positive: it paid this bank).
    pub by_windows: Cents,
    /// What it may owe this bank (the membership file).
    pub limit: Cents,
    /// What it pledged, when its limit is derived from it.
    pub collateral: Option<Cents>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowRow {
    pub window: u64,
    /// This bank's report first, then the others' as they came.
    pub reports: Vec<ReportRow>,
    pub pairs: Vec<PairRow>,
    /// Second, different reports a bank signed for this window: evidence beside its first.
    pub contradicting: Vec<ReportRow>,
    /// The window's multilateral netting plan (`None` until every member's report is here and
    /// every pair agrees).
    pub netting: Option<NettingRow>,
}

/// A window's multilateral netting plan, as every bank computes it from the signed reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NettingRow {
    /// A netting step is held here: the window is paid by netting, not pair by pair.
    pub chosen: bool,
    /// Every leg confirmed by its creditor: the window's positions moved here.
    pub settled: bool,
    pub legs: Vec<LegRow>,
}

/// One leg of the plan: `debtor` pays `creditor` `amount`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LegRow {
    pub debtor: BankId,
    pub creditor: BankId,
    pub amount: Cents,
    /// The debtor signed "paid".
    pub paid: bool,
    /// The creditor signed "received".
    pub received: bool,
}

/// A signed report, as a table row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub bank: BankId,
    pub closed_ms: i64,
    /// Its net with each other member (positive: that member owes the reporting bank).
    pub nets: Vec<(BankId, Cents)>,
    pub multilateral: Cents,
    /// The signature's first and last hex digits.
    pub signature: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PairState {
    /// No report from the peer yet.
    Waiting,
    Agreed,
    Disagreed,
}

/// This bank and one peer in a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    pub peer: BankId,
    pub state: PairState,
    /// This bank's net with the peer (positive: the peer owes this bank).
    pub ours: Cents,
    /// The same as the peer's report says it (`None`: no report yet).
    pub theirs: Option<Cents>,
    /// The debtor signed "paid".
    pub paid: bool,
    /// The creditor signed "received": the positions moved.
    pub received: bool,
    /// The peer owes this bank this window and is past its deadline (`SETTLEMENT_DEADLINE_S`):
    /// its new debits to this bank are refused until "received" is confirmed.
    pub overdue: bool,
}

/// Logs an operator in with the bank's `OPERATOR_TOKEN` and goes back to the console. Failures
/// count against the client's address, as failed logins do.
#[server(endpoint = "operator_login")]
pub async fn operator_login(token: String) -> Result<(), AppError> {
    use crate::api::ssr;
    use crate::i18n::td_string;
    let engine = ssr::engine()?;
    let desk = ssr::operator_desk()?;
    let address = ssr::address_key();
    let guards = ssr::login_guards();
    if let Some(g) = &guards {
        if let Err(ms) = g.by_address.check(&[&address], ssr::now_ms()) {
            return Err(ssr::too_many_attempts(ms));
        }
    }
    if token.len() > 1_024 || !desk.token_matches(&token) {
        if let Some(g) = &guards {
            g.by_address.failed(&[&address], ssr::now_ms());
        }
        return Err(AppError::field(
            "token",
            td_string!(ssr::locale(), operator.bad_token),
        ));
    }
    ssr::start_operator_session(&engine)?;
    leptos_axum::redirect("/operator");
    Ok(())
}

#[server(endpoint = "operator_logout")]
pub async fn operator_logout() -> Result<(), AppError> {
    let engine = crate::api::ssr::engine()?;
    crate::api::ssr::end_operator_session(&engine);
    leptos_axum::redirect("/operator");
    Ok(())
}

/// The console's data.
#[server(endpoint = "operator_console")]
pub async fn operator_console() -> Result<Console, AppError> {
    let (engine, _) = ssr::operator()?;
    let desk = crate::api::ssr::operator_desk()?;
    let consortium = crate::api::ssr::require_consortium()?;
    let windows = engine
        .windows(engine::engine::WINDOWS_LISTED_MAX)
        .await
        .map_err(crate::api::ssr::from_engine)?;
    let snapshot = engine.snapshot();
    let statuses = consortium.status().await;
    let limits = desk.limits();
    let collateral = desk.collateral();
    let me = engine.bank().id;
    let members = statuses
        .into_iter()
        .map(|s| {
            let p = snapshot
                .audit
                .books
                .positions
                .get(&s.bank.id)
                .copied()
                .unwrap_or_default();
            MemberRow {
                me: s.bank.id == me,
                limit: limits.get(&s.bank.id).copied().unwrap_or_default(),
                collateral: collateral.get(&s.bank.id).copied(),
                bank: s.bank,
                online: s.online,
                holding: s.holding,
                outstanding: Cents::new(p.outstanding()),
                pending: Cents::new(p.pending),
                by_windows: Cents::new(p.by_windows),
            }
        })
        .collect();
    Ok(Console {
        bank: me,
        members,
        last_window: snapshot.settlement.last_window,
        disagreements: snapshot.settlement.disagreements,
        equivocations: snapshot.equivocations,
        windows: windows
            .into_iter()
            .map(|w| ssr::window_row(w, desk.settlement_deadline_ms(), engine.now_ms()))
            .collect(),
    })
}

/// Closes the open window: cut at this bank's next token visit (the token carries the cut to
/// every bank), then this bank signs its report and exchanges it with every member. Answers
/// what happened, in the operator's words.
#[server(endpoint = "operator_close")]
pub async fn operator_close() -> Result<String, AppError> {
    ssr::operator()?;
    let desk = crate::api::ssr::operator_desk()?;
    let done = desk
        .close_window()
        .await
        .map_err(crate::api::ssr::from_engine)?;
    ssr::exchanged(done)
}

/// Sends this bank's report for `window` to every member again (one that missed it).
#[server(endpoint = "operator_resend")]
pub async fn operator_resend(window: u64) -> Result<String, AppError> {
    ssr::operator()?;
    let desk = crate::api::ssr::operator_desk()?;
    let done = desk
        .resend_report(window)
        .await
        .map_err(crate::api::ssr::from_engine)?;
    ssr::exchanged(done)
}

/// This bank (the debtor) paid bank `creditor` what it owed for `window`, outside the
/// consortium: signs "paid" and sends it to the creditor.
#[server(endpoint = "operator_paid")]
pub async fn operator_paid(window: u64, creditor: u16) -> Result<String, AppError> {
    use crate::i18n::td_string;
    let (engine, l) = ssr::operator()?;
    let creditor = ssr::bank(creditor)?;
    let payment = engine
        .mark_paid(window, creditor)
        .await
        .map_err(crate::api::ssr::from_engine)?
        .map_err(|e| ssr::refused(e, l))?;
    ssr::deliver(payment, creditor, l, |amount| {
        td_string!(
            l,
            operator.paid_done,
            window = window,
            bank = creditor.to_string(),
            amount = amount
        )
        .to_string()
    })
    .await
}

/// This bank (the creditor) received what bank `debtor` owed it for `window`: signs
/// "received", which moves the positions here, and sends it to the debtor.
#[server(endpoint = "operator_received")]
pub async fn operator_received(window: u64, debtor: u16) -> Result<String, AppError> {
    use crate::i18n::td_string;
    let (engine, l) = ssr::operator()?;
    let debtor = ssr::bank(debtor)?;
    let payment = engine
        .confirm_received(window, debtor)
        .await
        .map_err(crate::api::ssr::from_engine)?
        .map_err(|e| ssr::refused(e, l))?;
    ssr::deliver(payment, debtor, l, |amount| {
        td_string!(
            l,
            operator.received_done,
            window = window,
            bank = debtor.to_string(),
            amount = amount
        )
        .to_string()
    })
    .await
}

/// This bank, a net debtor of `window`, paid bank `creditor` its leg of the window's
/// multilateral netting plan, outside the consortium: signs "paid" and sends it to every member.
#[server(endpoint = "operator_netting_paid")]
pub async fn operator_netting_paid(window: u64, creditor: u16) -> Result<String, AppError> {
    use crate::i18n::td_string;
    let (engine, l) = ssr::operator()?;
    let creditor = ssr::bank(creditor)?;
    let payment = engine
        .pay_leg(window, creditor)
        .await
        .map_err(crate::api::ssr::from_engine)?
        .map_err(|e| ssr::refused(e, l))?;
    ssr::deliver(payment, creditor, l, |amount| {
        td_string!(
            l,
            operator.leg_paid_done,
            window = window,
            bank = creditor.to_string(),
            amount = amount
        )
        .to_string()
    })
    .await
}

/// This bank, a net creditor of `window`, received bank `debtor`'s leg of the window's netting
/// plan: signs "received" and sends it to every member; the last leg confirmed moves every
/// bank's positions for the window.
#[server(endpoint = "operator_netting_received")]
pub async fn operator_netting_received(window: u64, debtor: u16) -> Result<String, AppError> {
    use crate::i18n::td_string;
    let (engine, l) = ssr::operator()?;
    let debtor = ssr::bank(debtor)?;
    let payment = engine
        .confirm_leg(window, debtor)
        .await
        .map_err(crate::api::ssr::from_engine)?
        .map_err(|e| ssr::refused(e, l))?;
    ssr::deliver(payment, debtor, l, |amount| {
        td_string!(
            l,
            operator.leg_received_done,
            window = window,
            bank = debtor.to_string(),
            amount = amount
        )
        .to_string()
    })
    .await
}

/// The evidence this bank kept about transaction `tx`, every signature checked again: what
/// `bank-node evidence <tx>` prints.
#[server(endpoint = "operator_evidence")]
pub async fn operator_evidence(tx: String) -> Result<String, AppError> {
    ssr::operator()?;
    let desk = crate::api::ssr::operator_desk()?;
    let tx = domain::TxId::parse(tx.trim()).map_err(|e| crate::api::ssr::field("tx", e))?;
    desk.evidence(tx).await.map_err(|e| {
        tracing::warn!(error = %e, "evidence not read");
        AppError::Unexpected
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use crate::api::ssr::{locale, operator_desk, operator_on};
    use crate::i18n::{td_string, Locale};
    use engine::settlement::{Pair, SettlementError, SignedPayment, SignedReport, Step, Window};
    use engine::EngineHandle;

    /// The engine and the operator's language, for a request with an operator's session.
    pub fn operator() -> Result<(EngineHandle, Locale), AppError> {
        let engine = crate::api::ssr::engine()?;
        if !operator_on(&engine) {
            return Err(AppError::NotLoggedIn);
        }
        Ok((engine, locale()))
    }

    pub fn bank(id: u16) -> Result<BankId, AppError> {
        BankId::try_from(id)
            .map_err(|_| AppError::field("bank", td_string!(locale(), err.choose_bank).to_string()))
    }

    /// A settlement step refused, in the operator's words (409: nothing changed).
    pub fn refused(e: SettlementError, l: Locale) -> AppError {
        use SettlementError as E;
        AppError::Conflict(match e {
            E::NotClosed(w) | E::Forgotten(w) => {
                td_string!(l, operator.err_not_closed, window = w).to_string()
            }
            E::NotNext { last, .. } => {
                td_string!(l, operator.err_not_next, last = last).to_string()
            }
            E::Pending(w) => td_string!(l, operator.err_pending, window = w).to_string(),
            E::NotCut(w) => td_string!(l, operator.err_not_cut, window = w).to_string(),
            E::NoReport(b) => {
                td_string!(l, operator.err_no_report, bank = b.to_string()).to_string()
            }
            E::Disagree(b) => {
                td_string!(l, operator.err_disagree, bank = b.to_string()).to_string()
            }
            E::NothingOwed(b) => {
                td_string!(l, operator.err_nothing_owed, bank = b.to_string()).to_string()
            }
            E::WrongSide(_) => td_string!(l, operator.err_wrong_side).to_string(),
            E::OtherWay {
                window,
                way: "netting",
            } => td_string!(l, operator.err_netting_chosen, window = window).to_string(),
            E::OtherWay { window, .. } => {
                td_string!(l, operator.err_bilateral_chosen, window = window).to_string()
            }
            E::NotALeg => td_string!(l, operator.err_not_a_leg).to_string(),
            E::NoPlan(_) => td_string!(l, operator.err_no_plan).to_string(),
            other => td_string!(l, operator.err_other, reason = other.to_string()).to_string(),
        })
    }

    /// Delivers a signed payment step to `to`, the other bank of its pair (a netting leg's step
    /// to every member), and says it was done (`done`, given the step's amount in words), and
    /// whether it is still on its way.
    pub async fn deliver(
        payment: SignedPayment,
        to: BankId,
        l: Locale,
        done: impl FnOnce(String) -> String,
    ) -> Result<String, AppError> {
        let done = done(payment.payment.amount.to_string());
        let netting = payment.payment.netting;
        Ok(match operator_desk()?.deliver(payment).await {
            None => done,
            Some(why) if netting => {
                tracing::warn!(error = %why, "netting step not delivered to every member yet");
                let later = td_string!(l, operator.undelivered_some).to_string();
                format!("{done} {later}")
            }
            Some(why) => {
                tracing::warn!(bank = %to, error = %why, "settlement step not delivered yet");
                let later = td_string!(l, operator.undelivered, bank = to.to_string()).to_string();
                format!("{done} {later}")
            }
        })
    }

    /// A close's (or a resend's) outcome, in words.
    pub fn exchanged(done: engine::operator::Exchanged) -> Result<String, AppError> {
        let l = locale();
        let (report, exchanged) = done.map_err(|e| refused(e, l))?;
        let missed: Vec<String> = exchanged
            .iter()
            .filter(|e| e.error.is_some())
            .map(|e| e.bank.to_string())
            .collect();
        let total = exchanged.len();
        let mut text = td_string!(
            l,
            operator.closed_done,
            window = report.report.window,
            ok = total - missed.len(),
            total = total
        )
        .to_string();
        if !missed.is_empty() {
            text.push(' ');
            text.push_str(
                &td_string!(l, operator.closed_missing, banks = missed.join(", ")).to_string(),
            );
        }
        Ok(text)
    }

    fn report_row(r: &SignedReport) -> ReportRow {
        let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
        let sig = &r.sig.0;
        let signature = format!("{}…{}", hex(&sig[..4]), hex(&sig[sig.len() - 4..]));
        ReportRow {
            bank: r.report.bank,
            closed_ms: r.report.closed_ms,
            nets: r.report.peers.iter().map(|p| (p.peer, p.net)).collect(),
            multilateral: r.report.multilateral,
            signature,
        }
    }

    /// A window as the console shows it; `deadline_ms` and `now_ms` tell which pairs are overdue
    /// (the engine refuses those debtors' credits by the same rule, `Windows::overdue`).
    pub fn window_row(w: Window, deadline_ms: Option<i64>, now_ms: i64) -> WindowRow {
        let me = w.own.report.bank;
        let late = deadline_ms.is_some_and(|d| w.own.report.closed_ms.saturating_add(d) <= now_ms);
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
                let (state, theirs) = match w.pair(p.peer) {
                    Pair::Waiting => (PairState::Waiting, None),
                    Pair::Agreed { net } => (PairState::Agreed, Some(net)),
                    Pair::Disagreed { theirs, .. } => (PairState::Disagreed, Some(theirs)),
                };
                PairRow {
                    peer: p.peer,
                    state,
                    ours: p.net,
                    theirs,
                    paid: w.payment(Step::Paid, debtor, creditor).is_some(),
                    received: p.net.get() != 0 && w.pair_settled(p.peer),
                    overdue: late && p.net.get() > 0 && w.behind(p.peer),
                }
            })
            .collect();
        let reports = std::iter::once(&w.own)
            .chain(w.reports.iter())
            .map(report_row)
            .collect();
        let netting = w.plan().ok().map(|legs| NettingRow {
            chosen: w.netted(),
            settled: w.netting_settled(),
            legs: legs
                .into_iter()
                .map(|l| LegRow {
                    debtor: l.debtor,
                    creditor: l.creditor,
                    amount: l.amount,
                    paid: w.leg_step(Step::Paid, l.debtor, l.creditor).is_some(),
                    received: w.leg_step(Step::Received, l.debtor, l.creditor).is_some(),
                })
                .collect(),
        });
        WindowRow {
            window: w.number(),
            reports,
            pairs,
            contradicting: w.contradicting.iter().map(report_row).collect(),
            netting,
        }
    }
}
