use crate::api::CreateAccount;
use crate::pages::{error_banner, field_error, last_result};
use leptos::prelude::*;

#[component]
pub fn SignUp() -> impl IntoView {
    let create = ServerAction::<CreateAccount>::new();
    let value = last_result(create.value());
    let company = RwSignal::new(false);
    let joint = RwSignal::new(false);
    let id_label = move || if company.get() { "CNPJ" } else { "CPF" };
    view! {
        <section class="card narrow">
            <h1>"Open an account"</h1>
            <ActionForm action=create attr:class="form">
                <fieldset class="choice">
                    <legend>"Account type"</legend>
                    <label><input type="radio" name="kind" value="individual" checked on:change=move |_| company.set(false)/>" Individual (CPF)"</label>
                    <label><input type="radio" name="kind" value="company" on:change=move |_| company.set(true)/>" Company (CNPJ)"</label>
                    <label><input type="checkbox" name="joint" value="yes" on:change=move |ev| joint.set(event_target_checked(&ev))/>" Joint account (two holders)"</label>
                    {field_error(value, "kind")}
                </fieldset>
                <label>"Holder's full name" <input name="name1" autocomplete="name" required maxlength="100"/></label>
                {field_error(value, "name1")}
                <label>{id_label} <input name="tax_id1" inputmode="numeric" required maxlength="20"/></label>
                {field_error(value, "tax_id1")}
                <div class="second-holder" class:hidden=move || !joint.get()>
                    <label>"Second holder's full name" <input name="name2" maxlength="100"/></label>
                    {field_error(value, "name2")}
                    <label>"Second holder's " {id_label} <input name="tax_id2" inputmode="numeric" maxlength="20"/></label>
                    {field_error(value, "tax_id2")}
                </div>
                <label>"E-mail" <input type="email" name="email" autocomplete="email" required maxlength="254"/></label>
                {field_error(value, "email")}
                <label>"Phone" <input type="tel" name="phone" autocomplete="tel" required maxlength="30" placeholder="(11) 98765-4321"/></label>
                {field_error(value, "phone")}
                <label>"Password" <input type="password" name="password" autocomplete="new-password" required minlength="8" maxlength="128"/></label>
                <span class="hint">"At least 8 characters, with a letter and a digit."</span>
                {field_error(value, "password")}
                {error_banner(value)}
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Open account"</button>
            </ActionForm>
            <p class="muted">"Already a client? " <a href="/login">"Log in"</a></p>
        </section>
    }
}
