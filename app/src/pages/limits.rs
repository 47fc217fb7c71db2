//! "Limites Pix": the client's daytime (06:00–20:00) and nighttime (20:00–06:00) limits, what it
//! may still send in the period it is in, and the form to change them. Lowering counts at once;
//! a raise counts 24 hours later, as the Banco Central requires, and the page says from when.
//! The form posts before the page's script has loaded.

use crate::api::{pix_limits, SetPixLimits};
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use crate::pages::{error_banner, field_error, last_result};
use domain::pix_limits::{LimitsView, Period};
use domain::time_fmt::{format_brasilia, format_brasilia_time};
use leptos::prelude::*;

/// The period now and what remains of it, as a sentence.
fn now_line(l: Locale, v: &LimitsView) -> String {
    let (remaining, used) = (v.remaining.to_brl(), v.used.to_brl());
    let until = format_brasilia_time(v.period_ends_ms);
    match v.period {
        Period::Day => td_string!(
            l,
            limits.now_day,
            remaining = remaining,
            used = used,
            until = until
        ),
        Period::Night => td_string!(
            l,
            limits.now_night,
            remaining = remaining,
            used = used,
            until = until
        ),
    }
    .to_string()
}

/// A raise waiting for its time, as a sentence.
fn raise_line(l: Locale, v: &LimitsView) -> Option<String> {
    v.settings.raise.map(|(raised, from_ms)| {
        td_string!(
            l,
            limits.raise_pending,
            day = raised.day.to_brl(),
            night = raised.night.to_brl(),
            at = format_brasilia(from_ms)
        )
        .to_string()
    })
}

#[component]
pub fn LimitsPage() -> impl IntoView {
    let i18n = use_i18n();
    let save = ServerAction::<SetPixLimits>::new();
    let result = last_result(save.value());
    let page = Resource::new(move || save.version().get(), |_| pix_limits());
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.limits).to_string()/>
        <Suspense fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(v) => {
                        let l = i18n.get_locale_untracked();
                        let current = v.settings.current;
                        view! {
                            <section class="card narrow" id="limits">
                                <h1>{t!(i18n, limits.title)}</h1>
                                <p class="muted">{t!(i18n, limits.lead)}</p>
                                <p id="limits-now">{now_line(l, &v)}</p>
                                <dl class="limits">
                                    <dt>{t!(i18n, limits.day)}</dt><dd id="limit-day">{current.day.to_brl()}</dd>
                                    <dt>{t!(i18n, limits.night)}</dt><dd id="limit-night">{current.night.to_brl()}</dd>
                                </dl>
                                {raise_line(l, &v).map(|text| view! { <p class="notice" id="limits-raise">{text}</p> })}
                                {move || matches!(result.get(), Some(Ok(_))).then(|| view! {
                                    <p class="ok" role="status" id="limits-saved">{t!(i18n, limits.saved)}</p>
                                })}
                                <ActionForm action=save attr:class="form" attr:id="limits-form">
                                    <label>{t!(i18n, limits.day)}
                                        <input name="day" required inputmode="decimal" autocomplete="off" maxlength="40" value=current.day.to_input() on:input=crate::pages::masked(domain::input::Mask::Amount) on:blur=crate::pages::tidied(domain::input::Mask::Amount)/>
                                    </label>
                                    {field_error(result, "day")}
                                    <label>{t!(i18n, limits.night)}
                                        <input name="night" required inputmode="decimal" autocomplete="off" maxlength="40" value=current.night.to_input() on:input=crate::pages::masked(domain::input::Mask::Amount) on:blur=crate::pages::tidied(domain::input::Mask::Amount)/>
                                    </label>
                                    {field_error(result, "night")}
                                    <p class="muted">{t!(i18n, limits.rules)}</p>
                                    {error_banner(result)}
                                    <button type="submit" class="primary" disabled=move || save.pending().get()>{t!(i18n, limits.save)}</button>
                                </ActionForm>
                                <p><a href="/dashboard">{t!(i18n, common.back_to_account)}</a></p>
                            </section>
                        }.into_any()
                    }
                    Err(e) if e.needs_login() => view! {
                        <section class="card narrow">
                            <h1>{t!(i18n, limits.title)}</h1>
                            <a class="button primary" href="/login?next=/limits">{t!(i18n, common.log_in)}</a>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <section class="card"><p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p></section> }.into_any(),
                }
            })}
        </Suspense>
    }
}
