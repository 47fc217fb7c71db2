//! The comprovante of one transaction (`/receipt/<E2E id>`): its id, when, how much, who paid and
//! who received (name, masked document, bank), its status, the payer's message if any and, when
//! it was not concluded, why.
//! Reached from a Pix's or a packet's outcome and from every statement row. Only a party to the
//! transfer gets it (the bank answers 404 to anyone else). Printed, or saved as a PDF, by the
//! browser's own print dialog: the stylesheet's print rules leave only the comprovante.

use crate::api::{get_receipt, ReceiptPage};
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use domain::dto::{BankInfo, Counterparty, EntryKind, ReceiptLine, TxStatus};
use domain::time_fmt::format_brasilia;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The address of the comprovante of transaction `tx` (its E2E id, which names no person).
pub fn href(tx: &str) -> String {
    format!("/receipt/{tx}")
}

#[component]
pub fn ReceiptView() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let tx = move || params.read().get("tx").unwrap_or_default();
    let page = Resource::new(tx, get_receipt);
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.receipt).to_string()/>
        <Suspense fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Comprovante page=p/> }.into_any(),
                    Err(e) if e.needs_login() => {
                        let next = format!("/login?next={}", href(&tx()));
                        view! {
                            <section class="card narrow">
                                <h1>{t!(i18n, receipt.title)}</h1>
                                <p>{t!(i18n, receipt.login)}</p>
                                <a class="button primary" href=next>{t!(i18n, common.log_in)}</a>
                            </section>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <section class="card narrow" id="receipt-missing">
                            <h1>{t!(i18n, receipt.title)}</h1>
                            <p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p>
                            <a href="/dashboard">{t!(i18n, receipt.back)}</a>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Comprovante(page: ReceiptPage) -> impl IntoView {
    let i18n = use_i18n();
    let ReceiptPage { receipt, banks } = page;
    let tx = receipt.tx_id.to_string();
    let print = move |_| {
        // Only in the browser (an event handler never runs on the server).
        if let Err(e) = window().print() {
            leptos::logging::warn!("print: {e:?}");
        }
    };
    view! {
        <section class="card receipt" id="receipt" data-tx=tx.clone()>
            <h1>{t!(i18n, receipt.title)}</h1>
            <dl class="facts">
                <dt>{t!(i18n, receipt.e2e)}</dt>
                <dd class="e2e" id="receipt-e2e">{tx.clone()}</dd>
            </dl>
            {receipt.lines.into_iter().map(|line| view! { <Line line banks=banks.clone()/> }).collect_view()}
            <div class="actions no-print">
                <button type="button" class="primary" id="print-receipt" on:click=print>{t!(i18n, receipt.print)}</button>
                <a class="button" href="/dashboard">{t!(i18n, receipt.back)}</a>
            </div>
        </section>
    }
}

/// A transfer's status as the comprovante and the statement name it: a transfer the client sent
/// that was cancelled is "not concluded" (nothing left the account).
pub fn status_label(l: Locale, kind: EntryKind, status: TxStatus) -> String {
    match (kind, status) {
        (_, TxStatus::Pending) => td_string!(l, history.pending).to_string(),
        (_, TxStatus::Committed) => td_string!(l, history.committed).to_string(),
        (EntryKind::PixOut, TxStatus::Aborted) => td_string!(l, history.not_concluded).to_string(),
        (_, TxStatus::Aborted) => td_string!(l, history.aborted).to_string(),
    }
}

/// The class of a status badge: a transfer not concluded is neutral (no money moved), not an
/// alarm.
pub fn status_class(status: TxStatus) -> &'static str {
    match status {
        TxStatus::Pending => "badge pending",
        TxStatus::Committed => "badge committed",
        TxStatus::Aborted => "badge not-concluded",
    }
}

#[component]
fn Line(line: ReceiptLine, banks: Vec<BankInfo>) -> impl IntoView {
    let i18n = use_i18n();
    let l = i18n.get_locale_untracked();
    let what = match line.kind {
        EntryKind::Deposit => td_string!(l, history.deposit),
        EntryKind::PixOut => td_string!(l, receipt.pix_sent),
        EntryKind::PixIn => td_string!(l, receipt.pix_received),
    };
    let reason = line
        .reason
        .map(|r| crate::text::refusal(l, r, &banks))
        .filter(|_| line.status == TxStatus::Aborted);
    let party = |title: String, p: Counterparty, class: &'static str| {
        let bank = crate::text::bank_name(l, p.bank, &banks);
        view! {
            <div class=format!("party {class}")>
                <h2>{title}</h2>
                <p class="party-name">{p.name}</p>
                <p class="muted">{format!("{} · {bank}", p.key_masked)}</p>
            </div>
        }
    };
    view! {
        <div class="receipt-line" data-kind=line.kind.as_str() data-status=line.status.as_str()>
            <p class="receipt-amount"><strong>{line.amount.to_brl()}</strong>" "<span class="muted">{what}</span></p>
            <dl class="facts">
                <dt>{t!(i18n, receipt.when)}</dt>
                <dd class="receipt-when">{td_string!(l, receipt.brasilia_time, when = format_brasilia(line.created_ms)).to_string()}</dd>
                <dt>{t!(i18n, common.status)}</dt>
                <dd><span class=status_class(line.status)>{status_label(l, line.kind, line.status)}</span></dd>
                {reason.map(|r| view! {
                    <dt>{t!(i18n, receipt.reason)}</dt>
                    <dd class="receipt-reason">{r}</dd>
                })}
                {line.message.shown().map(|m| view! {
                    <dt>{t!(i18n, pix.message_shown)}</dt>
                    <dd class="receipt-message">{m.to_string()}</dd>
                })}
            </dl>
            <div class="parties">
                {line.payer.map(|p| party(td_string!(l, receipt.payer).to_string(), p, "payer"))}
                {party(td_string!(l, receipt.receiver).to_string(), line.receiver, "receiver")}
            </div>
        </div>
    }
}
