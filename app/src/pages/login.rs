use crate::api::Login as LoginFn;
use crate::pages::{error_banner, last_result};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Login() -> impl IntoView {
    let login = ServerAction::<LoginFn>::new();
    // Where to go after logging in (a page that asked for a session); the bank checks it is one
    // of its own paths.
    let next = use_query_map()
        .read_untracked()
        .get("next")
        .unwrap_or_default();
    view! {
        <crate::pages::PageTitle text="Log in"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=login attr:class="form">
                <input type="hidden" name="next" value=next/>
                <label>"E-mail" <input type="email" name="email" autocomplete="username" required/></label>
                <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                {error_banner(last_result(login.value()))}
                <button type="submit" class="primary" disabled=move || login.pending().get()>"Log in"</button>
            </ActionForm>
            <p class="muted">"New here? " <a href="/signup">"Open an account"</a></p>
        </section>
    }
}
