use crate::api::CreateAccount;
use crate::error::AppError;
use crate::i18n::{t, t_string, use_i18n, Locale};
use crate::pages::{error_banner, last_result};
use crate::text::Say;
use domain::input::{self, Mask};
use leptos::prelude::*;

/// A field's check in the browser: `None` until the client leaves the field (or after a submit,
/// when the bank's own answer is shown instead), then the message of the browser-side check.
#[derive(Clone, Copy)]
struct Check {
    field: &'static str,
    live: RwSignal<Option<Option<String>>>,
}

impl Check {
    fn new(field: &'static str) -> Check {
        Check {
            field,
            live: RwSignal::new(None),
        }
    }

    /// Runs `validate` on the field's value when the client leaves it (change).
    fn on_change(
        self,
        validate: impl Fn(&str) -> Option<String> + 'static,
    ) -> impl Fn(leptos::ev::Event) + 'static {
        move |ev| self.live.set(Some(validate(&event_target_value(&ev))))
    }

    /// While typing, only takes a message away (once the value is valid): a message that appears
    /// or vanishes on leaving the field would move the button the client is about to click.
    fn on_input(
        self,
        validate: impl Fn(&str) -> Option<String> + 'static,
    ) -> impl Fn(leptos::ev::Event) + 'static {
        move |ev| {
            if validate(&event_target_value(&ev)).is_none() {
                self.live.set(Some(None));
            }
        }
    }

    /// The message under the field: the browser's check, or else the bank's answer to the submit.
    fn message(self, value: Signal<Option<Result<(), AppError>>>) -> impl IntoView {
        move || {
            let message = match self.live.get() {
                Some(live) => live,
                None => value
                    .get()
                    .and_then(|r| r.err())
                    .and_then(|e| e.for_field(self.field)),
            };
            message.map(|m| view! { <span class="field-error" role="alert" data-field=self.field>{m}</span> })
        }
    }
}

/// `then` after `mask` rewrote the field (see [`crate::pages::masked`]).
fn with_mask(
    mask: Mask,
    then: impl Fn(leptos::ev::Event) + 'static,
) -> impl Fn(leptos::ev::Event) + 'static {
    let mask = crate::pages::masked(mask);
    move |ev| {
        mask(ev.clone());
        then(ev)
    }
}

/// The check's message, in the client's words.
fn err<T, E: Say>(r: Result<T, E>, l: Locale) -> Option<String> {
    r.err().map(|e| e.say(l))
}

#[component]
pub fn SignUp() -> impl IntoView {
    let i18n = use_i18n();
    let l = move || i18n.get_locale_untracked();
    let create = ServerAction::<CreateAccount>::new();
    let value = last_result(create.value());
    let company = RwSignal::new(false);
    let joint = RwSignal::new(false);
    let id_label = move || if company.get() { "CNPJ" } else { "CPF" };
    let [kind, name1, tax1, name2, tax2, email, phone, password, email2, password2] = [
        "kind",
        "name1",
        "tax_id1",
        "name2",
        "tax_id2",
        "email",
        "phone",
        "password",
        "email2",
        "password2",
    ]
    .map(Check::new);
    // After each submit, the bank's answer is what the fields show.
    Effect::new(move |previous: Option<usize>| {
        let v = create.version().get();
        if previous.is_some_and(|p| p != v) {
            for c in [
                kind, name1, tax1, name2, tax2, email, phone, password, email2, password2,
            ] {
                c.live.set(None);
            }
        }
        v
    });
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.signup).to_string()/>
        <section class="card narrow">
            <h1>{t!(i18n, signup.title)}</h1>
            <ActionForm action=create attr:class="form">
                <fieldset class="choice">
                    <legend>{t!(i18n, signup.kind)}</legend>
                    <label><input type="radio" name="kind" value="individual" checked on:change=move |_| company.set(false)/>{t!(i18n, signup.individual)}</label>
                    <label><input type="radio" name="kind" value="company" on:change=move |_| company.set(true)/>{t!(i18n, signup.company)}</label>
                    <label><input type="checkbox" name="joint" value="yes" on:change=move |ev| joint.set(event_target_checked(&ev))/>{t!(i18n, signup.joint)}</label>
                    {kind.message(value)}
                </fieldset>
                <label>{move || if company.get() { t_string!(i18n, signup.company_name) } else { t_string!(i18n, signup.name1) }} <input name="name1" autocomplete=move || if company.get() { "organization" } else { "name" } required maxlength=input::NAME_MAX_CHARS on:change=name1.on_change(move |v| err(input::name(v), l())) on:input=name1.on_input(move |v| err(input::name(v), l()))/></label>
                {name1.message(value)}
                <label>{id_label} <input name="tax_id1" inputmode="numeric" required maxlength="20" placeholder=move || if company.get() { "00.000.000/0000-00" } else { "000.000.000-00" }
                    on:change=tax1.on_change(move |v| err(input::holder_tax_id(v, company.get_untracked()), l())) on:input=with_mask(Mask::Document, tax1.on_input(move |v| err(input::holder_tax_id(v, company.get_untracked()), l())))/></label>
                {tax1.message(value)}
                <div class="second-holder" class:hidden=move || !joint.get()>
                    <label>{t!(i18n, signup.name2)} <input name="name2" maxlength=input::NAME_MAX_CHARS on:change=name2.on_change(move |v| err(input::name(v), l())) on:input=name2.on_input(move |v| err(input::name(v), l()))/></label>
                    {name2.message(value)}
                    <label>{t!(i18n, signup.second)} {id_label} <input name="tax_id2" inputmode="numeric" maxlength="20" placeholder=move || if company.get() { "00.000.000/0000-00" } else { "000.000.000-00" }
                        on:change=tax2.on_change(move |v| err(input::holder_tax_id(v, company.get_untracked()), l())) on:input=with_mask(Mask::Document, tax2.on_input(move |v| err(input::holder_tax_id(v, company.get_untracked()), l())))/></label>
                    {tax2.message(value)}
                </div>
                <label>{move || if joint.get() { t_string!(i18n, signup.email1) } else { t_string!(i18n, signup.email) }} <input type="email" name="email" autocomplete="email" required maxlength=input::EMAIL_MAX_CHARS on:change=email.on_change(move |v| err(input::email(v), l())) on:input=email.on_input(move |v| err(input::email(v), l()))/></label>
                {email.message(value)}
                <label>{t!(i18n, signup.phone)} <input type="tel" name="phone" autocomplete="tel" required maxlength="30" placeholder="(11) 98765-4321"
                    on:change=phone.on_change(move |v| err(input::phone(v), l())) on:input=with_mask(Mask::Phone, phone.on_input(move |v| err(input::phone(v), l())))/></label>
                {phone.message(value)}
                <label>{move || if joint.get() { t_string!(i18n, signup.password1) } else { t_string!(i18n, signup.password) }} <input type="password" name="password" autocomplete="new-password" required minlength=input::PASSWORD_MIN_CHARS maxlength=input::PASSWORD_MAX_CHARS
                    on:change=password.on_change(move |v| err(input::password(v), l())) on:input=password.on_input(move |v| err(input::password(v), l()))/></label>
                <span class="hint">{move || t_string!(i18n, signup.password_hint, min = input::PASSWORD_MIN_CHARS).to_string()}</span>
                {password.message(value)}
                // Each holder of a joint account logs in with their own e-mail and password.
                <fieldset class="second-login" class:hidden=move || !joint.get()>
                    <legend>{t!(i18n, signup.second_login)}</legend>
                    <p class="hint">{t!(i18n, signup.second_login_hint)}</p>
                    <label>{t!(i18n, signup.email2)} <input type="email" name="email2" autocomplete="off" maxlength=input::EMAIL_MAX_CHARS on:change=email2.on_change(move |v| err(input::email(v), l())) on:input=email2.on_input(move |v| err(input::email(v), l()))/></label>
                    {email2.message(value)}
                    <label>{t!(i18n, signup.password2)} <input type="password" name="password2" autocomplete="new-password" minlength=input::PASSWORD_MIN_CHARS maxlength=input::PASSWORD_MAX_CHARS
                        on:change=password2.on_change(move |v| err(input::password(v), l())) on:input=password2.on_input(move |v| err(input::password(v), l()))/></label>
                    {password2.message(value)}
                </fieldset>
                <label class="check"><input type="checkbox" name="register_key" value="yes" checked/>{t!(i18n, signup.register_key)}</label>
                {error_banner(value)}
                <button type="submit" class="primary" disabled=move || create.pending().get()>{t!(i18n, signup.submit)}</button>
            </ActionForm>
            <p class="muted">{t!(i18n, signup.already)} <a href="/login">{t!(i18n, common.log_in)}</a></p>
        </section>
    }
    .into_any()
}
