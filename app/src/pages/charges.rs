//! "Cobrança", on the Receber page: a charge of a fixed amount, with a description and a
//! validity, paid once. The new charge's QR code (drawn by the bank) and its "Pix Copia e Cola"
//! text are shown at once; the list of the client's charges follows their status live (the page
//! polls `my_charges` every 2 s), and an open charge can be cancelled there. Both forms work
//! before the script has loaded.

use crate::api::{my_charges, CancelCharge, CreateCharge};
use crate::i18n::{t, t_string, td_string, use_i18n};
use crate::pages::{error_banner, field_error, last_result};
use domain::charge::{ChargeStatus, ChargeView, DESCRIPTION_MAX_CHARS, EXPIRY_MAX_MINUTES};
use domain::time_fmt::format_brasilia;
use leptos::prelude::*;

/// How often the list asks for its charges' status.
const POLL_PERIOD: std::time::Duration = std::time::Duration::from_secs(2);

#[component]
pub fn Charges() -> impl IntoView {
    let i18n = use_i18n();
    let create = ServerAction::<CreateCharge>::new();
    let cancel = ServerAction::<CancelCharge>::new();
    let created = last_result(create.value());
    let cancelled = last_result(cancel.value());
    let tick = RwSignal::new(0u64);
    crate::pages::every(POLL_PERIOD, move || tick.update(|t| *t += 1));
    let list = Resource::new(
        move || (tick.get(), create.version().get(), cancel.version().get()),
        |_| my_charges(),
    );
    view! {
        <section class="card" id="charge">
            <h2>{t!(i18n, charge.title)}</h2>
            <p class="muted">{t!(i18n, charge.lead)}</p>
            <ActionForm action=create attr:class="form" attr:id="charge-form">
                <label>{t!(i18n, charge.amount)}
                    <input name="amount" inputmode="decimal" required maxlength="40" autocomplete="off" placeholder="R$ 0,00" on:input=crate::pages::masked(domain::input::Mask::Amount) on:blur=crate::pages::tidied(domain::input::Mask::Amount)/>
                </label>
                {field_error(created, "amount")}
                <label>{t!(i18n, charge.description)}
                    <input name="description" required maxlength=DESCRIPTION_MAX_CHARS autocomplete="off"/>
                </label>
                {field_error(created, "description")}
                <label>{t!(i18n, charge.expires)}
                    <input name="expires_minutes" type="number" min="1" max=EXPIRY_MAX_MINUTES value="60" required/>
                </label>
                {field_error(created, "expires_minutes")}
                {field_error(created, "charge_id")}
                {error_banner(created)}
                <button type="submit" class="primary" disabled=move || create.pending().get()>{t!(i18n, charge.submit)}</button>
            </ActionForm>
            {move || match created.get() {
                Some(Ok(c)) => {
                    // Its status as the list last heard it: the card follows it live.
                    let id = c.id.clone();
                    let status = Signal::derive(move || {
                        list.get()
                            .and_then(Result::ok)
                            .and_then(|l| l.into_iter().find(|x| x.id == id))
                            .map(|x| x.status)
                    });
                    Some(view! { <NewCharge charge=c status/> })
                }
                _ => None,
            }}
        </section>
        <section class="card" id="charges">
            <h2>{t!(i18n, charge.list)}</h2>
            {error_banner(cancelled)}
            <Transition fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(charges) if charges.is_empty() => view! { <p class="muted">{t!(i18n, charge.none)}</p> }.into_any(),
                        Ok(charges) => view! {
                            <ul class="charges">
                                {charges.into_iter().map(|c| view! { <ChargeRow charge=c cancel/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.message(i18n.get_locale())}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The charge just created: its status (live, from the list), and its QR code and its text
/// while it is open.
#[component]
fn NewCharge(charge: ChargeView, status: Signal<Option<ChargeStatus>>) -> impl IntoView {
    let i18n = use_i18n();
    let amount = charge.amount.to_brl();
    let open = move || matches!(status.get(), None | Some(ChargeStatus::Open));
    view! {
        <div class="code-card" id="new-charge" data-charge=charge.id.to_string()>
            <p class="ok" role="status">{t!(i18n, charge.created)}</p>
            <p><strong>{amount.clone()}</strong>" · "{charge.description.clone()}" "
                <span class="status charge-status" id="new-charge-status">
                    {move || label(i18n.get_locale(), status.get().unwrap_or(ChargeStatus::Open))}
                </span>
            </p>
            <div class:hidden=move || !open()>
                <div class="qr" role="img"
                    aria-label=move || t_string!(i18n, charge.qr_label, amount = amount.clone()).to_string()
                    inner_html=charge.svg.clone()></div>
                <label>{t!(i18n, receive.text_label)}
                    <textarea class="copia-e-cola" id="charge-code" readonly rows="4">{charge.code.clone()}</textarea>
                </label>
            </div>
        </div>
    }
}

/// A charge's status in one word, in the client's language.
fn label(l: crate::Locale, status: ChargeStatus) -> String {
    match status {
        ChargeStatus::Open => td_string!(l, charge.open).to_string(),
        ChargeStatus::Paid => td_string!(l, charge.paid).to_string(),
        ChargeStatus::Expired => td_string!(l, charge.expired).to_string(),
        ChargeStatus::Cancelled => td_string!(l, charge.cancelled).to_string(),
    }
}

/// One charge in the list: amount, description, status (live), validity, and "Cancelar" while
/// it is open.
#[component]
fn ChargeRow(charge: ChargeView, cancel: ServerAction<CancelCharge>) -> impl IntoView {
    let i18n = use_i18n();
    let status = charge.status;
    let label = move || label(i18n.get_locale(), status);
    let status_word = match status {
        ChargeStatus::Open => "open",
        ChargeStatus::Paid => "paid",
        ChargeStatus::Expired => "expired",
        ChargeStatus::Cancelled => "cancelled",
    };
    let until = format_brasilia(charge.expires_ms);
    let id = charge.id.to_string();
    let row_id = id.clone();
    view! {
        <li class="charge-row" data-charge=row_id data-status=status_word>
            <strong>{charge.amount.to_brl()}</strong>" · "{charge.description.clone()}" "
            <span class="status charge-status">{label}</span>
            {(status == ChargeStatus::Open).then(move || view! {
                <span class="muted">" · "{t_string!(i18n, charge.until, when = until.clone()).to_string()}</span>
                <ActionForm action=cancel attr:class="inline">
                    <input type="hidden" name="charge_id" value=id.clone()/>
                    <button type="submit" class="cancel-charge">{t!(i18n, charge.cancel)}</button>
                </ActionForm>
            })}
            {charge.paid_by.clone().map(|tx| view! {
                " "<a class="open-receipt" href=crate::pages::receipt::href(tx.as_str())>{t!(i18n, charge.paid_by)}</a>
            })}
        </li>
    }
}
