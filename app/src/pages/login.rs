use crate::api::Login as LoginFn;
use crate::i18n::{t, t_string, use_i18n};
use crate::pages::{error_banner, last_result};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Login() -> impl IntoView {
    let i18n = use_i18n();
    let login = ServerAction::<LoginFn>::new();
    // Where to go after logging in (a page that asked for a session); the bank checks it is one
    // of its own paths.
    let next = use_query_map()
        .read_untracked()
        .get("next")
        .unwrap_or_default();
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.login).to_string()/>
        <section class="card narrow">
            <h1>{t!(i18n, common.log_in)}</h1>
            <ActionForm action=login attr:class="form">
                <input type="hidden" name="next" value=next/>
                <label>{t!(i18n, login.email)} <input type="email" name="email" autocomplete="username" required/></label>
                <label>{t!(i18n, login.password)} <input type="password" name="password" autocomplete="current-password" required/></label>
                {error_banner(last_result(login.value()))}
                <button type="submit" class="primary" disabled=move || login.pending().get()>{t!(i18n, common.log_in)}</button>
            </ActionForm>
            <p class="muted">{t!(i18n, login.new_here)} <a href="/signup">{t!(i18n, login.open)}</a></p>
        </section>
    }
}
