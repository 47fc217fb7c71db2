//! "Pagar com código": paste a "Pix Copia e Cola" code; the bank reads it and looks its key up,
//! and the page shows the receiver (name, masked document, bank), the amount and the message
//! before the client confirms. An amount the code fixes is shown, not offered for editing.
//! Both steps are forms, so the page works before its script has loaded.

use crate::api::{PayCode, ReadCode};
use crate::error::AppError;
use crate::i18n::{t, t_string, use_i18n};
use crate::pages::{error_banner, field_error, last_result};
use domain::dto::CodePreview;
use leptos::prelude::*;

#[component]
pub fn Pay() -> impl IntoView {
    let i18n = use_i18n();
    let read = ServerAction::<ReadCode>::new();
    let pay = ServerAction::<PayCode>::new();
    let read_value = last_result(read.value());
    let paid = last_result(pay.value());
    let needs_login = move || {
        matches!(read_value.get(), Some(Err(e)) if e.needs_login())
            || matches!(paid.get(), Some(Err(e)) if e.needs_login())
    };
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.pay).to_string()/>
        <section class="card" id="pay-code">
            <h1>{t!(i18n, paycode.title)}</h1>
            <p class="muted">{t!(i18n, paycode.lead)}</p>
            {move || match paid.get() {
                Some(Ok(r)) => Some(view! {
                    <p class="ok" role="status" id="code-paid">{t_string!(i18n, paycode.sent, amount = r.amount.to_brl(), name = r.receiver.name.clone()).to_string()}</p>
                }),
                _ => None,
            }}
            {move || needs_login().then(|| view! {
                <p><a class="button primary" href="/login?next=/pay">{t!(i18n, common.log_in)}</a></p>
            })}
            <ActionForm action=read attr:class="form" attr:id="read-code-form">
                <label>{t!(i18n, paycode.code)}
                    <textarea name="code" required rows="4" maxlength="600" autocomplete="off" spellcheck="false"></textarea>
                </label>
                {field_error(read_value, "code")}
                {error_banner(read_value)}
                <button type="submit" disabled=move || read.pending().get()>{t!(i18n, paycode.read)}</button>
            </ActionForm>
            {move || match read_value.get() {
                // Until this code is paid: the same transaction id pays once.
                Some(Ok(p)) if !matches!(paid.get(), Some(Ok(r)) if r.tx_id == p.tx_id) => {
                    Some(view! { <Confirm preview=p pay paid/> })
                }
                _ => None,
            }}
        </section>
    }
}

/// What the code pays, and the form that pays it.
#[component]
fn Confirm(
    preview: CodePreview,
    pay: ServerAction<PayCode>,
    paid: Signal<Option<Result<domain::dto::TransferReceipt, AppError>>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let r = preview.receiver.clone();
    view! {
        <div class="confirm" id="code-confirm">
            <p>
                {t!(i18n, paycode.paying)} " "
                {preview.amount.map(|a| view! { <strong id="code-amount">{a.to_brl()}</strong> " " })}
                {t!(i18n, paycode.to)}
            </p>
            <p class="receiver"><strong id="receiver-name">{r.name.clone()}</strong>
               <span class="muted">{format!(" · {} · {}", r.key_masked, r.bank.name)}</span></p>
            <p class="muted">{t_string!(i18n, paycode.code_name, name = preview.merchant_name.clone()).to_string()}</p>
            {match preview.charge_expires_ms {
                // A charge: its description, and until when it may be paid.
                Some(until) => view! {
                    {preview.message.clone().map(|m| view! { <p id="code-message">{t_string!(i18n, paycode.description, description = m).to_string()}</p> })}
                    <p class="muted" id="charge-until">{t_string!(i18n, paycode.charge_until, when = domain::time_fmt::format_brasilia(until)).to_string()}</p>
                }.into_any(),
                None => view! {
                    {preview.message.clone().map(|m| view! { <p id="code-message">{t_string!(i18n, paycode.message, message = m).to_string()}</p> })}
                }.into_any(),
            }}
            <ActionForm action=pay attr:class="form" attr:id="pay-code-form">
                <input type="hidden" name="code" value=preview.code.clone()/>
                <input type="hidden" name="tx_id" value=preview.tx_id.to_string()/>
                {match preview.amount {
                    Some(_) => view! { <p class="muted">{t!(i18n, paycode.amount_fixed)}</p> }.into_any(),
                    None => view! {
                        <p class="muted">{t!(i18n, paycode.amount_open)}</p>
                        <label>{t!(i18n, common.amount_brl)} <input name="amount" inputmode="decimal" required maxlength="40" autocomplete="off" placeholder="R$ 0,00" on:input=crate::pages::masked(domain::input::Mask::Amount) on:blur=crate::pages::tidied(domain::input::Mask::Amount)/></label>
                    }.into_any(),
                }}
                {field_error(paid, "amount")}
                {field_error(paid, "code")}
                {error_banner(paid)}
                <button type="submit" class="primary" disabled=move || pay.pending().get()>{t!(i18n, paycode.confirm)}</button>
            </ActionForm>
        </div>
    }
}
