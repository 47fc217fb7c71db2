//! "Devolver": the receiver of a Pix returns it, in full or in part, to whoever paid it. The
//! page is reached with the Pix's id (`/return/<E2E id>`); the form works before the script has
//! loaded. The bank checks everything (received by this account, within what is left, within
//! 90 days) and says why it refuses.

use crate::api::ReturnPix;
use crate::i18n::{t, t_string, use_i18n};
use crate::pages::{error_banner, field_error, last_result};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ReturnPage() -> impl IntoView {
    let i18n = use_i18n();
    let action = ServerAction::<ReturnPix>::new();
    let result = last_result(action.value());
    let params = use_params_map();
    let original = move || params.read().get("tx").unwrap_or_default();
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.return_pix).to_string()/>
        <section class="card narrow" id="return-pix">
            <h1>{t!(i18n, returns.title)}</h1>
            <p class="muted">{t_string!(i18n, returns.lead, days = domain::refusal::RETURN_DAYS_MAX).to_string()}</p>
            <p><code id="return-original">{original}</code></p>
            {move || match result.get() {
                Some(Ok(r)) => Some(view! {
                    <p class="ok" role="status" id="return-done">{t_string!(i18n, returns.done, amount = r.amount.to_brl(), name = r.receiver.name.clone()).to_string()}</p>
                }),
                _ => None,
            }}
            {move || matches!(result.get(), Some(Err(e)) if e.needs_login()).then(|| view! {
                <p><a class="button primary" href="/login?next=/dashboard">{t!(i18n, common.log_in)}</a></p>
            })}
            // Once it went through, the form gives way to the way back: a second click cannot
            // return the same amount again.
            <Show
                when=move || !matches!(result.get(), Some(Ok(_)))
                fallback=move || view! { <p><a class="button" id="return-back" href="/dashboard">{t!(i18n, common.back_to_account)}</a></p> }
            >
            <ActionForm action attr:class="form" attr:id="return-form">
                <input type="hidden" name="original_tx" value=original/>
                <input type="hidden" name="tx_id" value=""/>
                <label>{t!(i18n, returns.amount)}
                    <input name="amount" required inputmode="decimal" autocomplete="off" placeholder="R$ 0,00" on:input=crate::pages::masked(domain::input::Mask::Amount) on:blur=crate::pages::tidied(domain::input::Mask::Amount)/>
                </label>
                {field_error(result, "amount")}
                {error_banner(result)}
                <button type="submit" disabled=move || action.pending().get()>{t!(i18n, returns.confirm)}</button>
            </ActionForm>
            </Show>
        </section>
    }
}
