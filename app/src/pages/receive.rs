//! "Receber": for each of the client's Pix keys, a QR code and its "Pix Copia e Cola" text,
//! optionally for an amount and with a message. The QR code is drawn by the bank (SVG); the
//! browser only shows it, and copies the text with the "Copiar" button. Below, charges
//! (`charges`): a code paid once, for a fixed amount, with its status live.

use crate::api::codes::MESSAGE_MAX_CHARS;
use crate::api::{receive_codes, ReceiveCodes};
use crate::i18n::{t, t_string, use_i18n};
use crate::pages::{error_banner, field_error, last_result};
use domain::dto::{ReceiveCode, ReceivePage};
use leptos::prelude::*;

#[component]
pub fn Receive() -> impl IntoView {
    let i18n = use_i18n();
    let initial = Resource::new(|| (), |_| receive_codes(None, None));
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.receive).to_string()/>
        <Suspense fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok(first) => view! { <Codes first/> <crate::pages::charges::Charges/> }.into_any(),
                    Err(e) if e.needs_login() => view! {
                        <section class="card narrow">
                            <h1>{t!(i18n, receive.title)}</h1>
                            <p>{t!(i18n, receive.login)}</p>
                            <a class="button primary" href="/login?next=/receive">{t!(i18n, common.log_in)}</a>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <section class="card"><p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p></section> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The form (amount, message) and a card per key; the codes follow the last form sent.
#[component]
fn Codes(first: ReceivePage) -> impl IntoView {
    let i18n = use_i18n();
    let make = ServerAction::<ReceiveCodes>::new();
    let value = last_result(make.value());
    let page = move || match value.get() {
        Some(Ok(p)) => p,
        _ => first.clone(),
    };
    view! {
        <section class="card" id="receive">
            <h1>{t!(i18n, receive.title)}</h1>
            <p class="muted">{t!(i18n, receive.lead)}</p>
            <ActionForm action=make attr:class="form" attr:id="receive-form">
                <label>{t!(i18n, receive.amount)}
                    <input name="amount" inputmode="decimal" maxlength="40" autocomplete="off" on:input=crate::pages::masked(domain::input::Mask::Amount) on:blur=crate::pages::tidied(domain::input::Mask::Amount)
                        placeholder=move || t_string!(i18n, receive.amount_placeholder).to_string()/>
                </label>
                {field_error(value, "amount")}
                <label>{t!(i18n, receive.message)}
                    <input name="message" maxlength=MESSAGE_MAX_CHARS autocomplete="off"/>
                </label>
                {field_error(value, "message")}
                {error_banner(value)}
                <button type="submit" class="primary" disabled=move || make.pending().get()>{t!(i18n, receive.submit)}</button>
            </ActionForm>
        </section>
        {move || {
            let p = page();
            let summary = match p.amount {
                Some(a) => t_string!(i18n, receive.for_amount, amount = a.to_brl()).to_string(),
                None => t_string!(i18n, receive.any_amount).to_string(),
            };
            if p.codes.is_empty() {
                view! {
                    <section class="card" id="receive-codes">
                        <p class="muted">{t!(i18n, receive.none)}</p>
                        <a class="button primary" href="/keys">{t!(i18n, receive.register)}</a>
                    </section>
                }.into_any()
            } else {
                view! {
                    <p class="muted" id="receive-summary">{summary}</p>
                    <div class="code-cards" id="receive-codes">
                        {p.codes.into_iter().map(|code| view! { <CodeCard code/> }).collect_view()}
                    </div>
                }.into_any()
            }
        }}
    }
}

/// One key's code: its QR code, its text (selectable) and a button that copies it.
#[component]
fn CodeCard(code: ReceiveCode) -> impl IntoView {
    let i18n = use_i18n();
    let copied = RwSignal::new(false);
    let text = code.text.clone();
    let shown = code.key_shown.clone();
    view! {
        <section class="card code-card" data-key=code.key.clone() data-kind=code.kind.as_str()>
            <h2 class="key-value">{code.key_shown.clone()}</h2>
            <div class="qr" role="img"
                aria-label=move || t_string!(i18n, receive.qr_label, key = shown.clone()).to_string()
                inner_html=code.svg.clone()></div>
            {code.message.clone().map(|m| view! { <p class="muted">{t_string!(i18n, receive.with_message, message = m).to_string()}</p> })}
            <label>{t!(i18n, receive.text_label)}
                <textarea class="copia-e-cola" readonly rows="4">{code.text.clone()}</textarea>
            </label>
            <button type="button" class="copy" on:click=move |_| {
                copy_to_clipboard(&text);
                copied.set(true);
            }>
                {move || if copied.get() { t_string!(i18n, receive.copied) } else { t_string!(i18n, receive.copy) }}
            </button>
        </section>
    }
}

/// Puts `text` on the clipboard (the browser asks nothing for a click's write).
#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    // The promise says whether it worked; the text stays selectable either way.
    let _ = window().navigator().clipboard().write_text(text);
}

/// The server renders the button; only the browser runs its handler.
#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}
