use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;

#[component]
pub fn Landing() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.home).to_string()/>
        <section class="hero">
            <h1>{t!(i18n, landing.headline)}</h1>
            <p>{t!(i18n, landing.lead)}</p>
            <div class="actions">
                <a class="button primary" href="/signup">{t!(i18n, landing.open)}</a>
                <a class="button" href="/login">{t!(i18n, common.log_in)}</a>
                <a class="button" href="/banks">{t!(i18n, landing.other_bank)}</a>
            </div>
        </section>
    }
}
