//! The client's Pix keys: the ones registered (each deletable), and the form to register another:
//! the CPF/CNPJ of a holder, an e-mail or a phone (confirmed with a code sent to it) or a random
//! key.

use crate::api::keys::DOCUMENT;
use crate::api::{get_keys, AllowPort, ConfirmKey, DeleteKey, KeyRequest, KeyView, RequestKey};
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use crate::pages::{error_banner, field_error, last_result};
use domain::pix_key::{CODE_DIGITS, CODE_TTL_MS};
use domain::time_fmt::format_brasilia;
use domain::KeyKind;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

fn kind_label(kind: KeyKind, l: Locale) -> String {
    match kind {
        KeyKind::Cpf => td_string!(l, keys.kind_cpf),
        KeyKind::Cnpj => td_string!(l, keys.kind_cnpj),
        KeyKind::Email => td_string!(l, keys.kind_email),
        KeyKind::Phone => td_string!(l, keys.kind_phone),
        KeyKind::Evp => td_string!(l, keys.kind_evp),
    }
    .to_string()
}

/// What the form's kind select offers, from [`KeyKind::ALL`]: a holder's CPF and CNPJ as one
/// choice (`None`: the form lists the holders' documents), then each other kind.
fn kind_choices() -> Vec<Option<KeyKind>> {
    let mut choices = Vec::new();
    for kind in KeyKind::ALL {
        let choice = (!kind.is_document()).then_some(kind);
        if !choices.contains(&choice) {
            choices.push(choice);
        }
    }
    choices
}

/// A choice of [`kind_choices`] as the form sends it.
fn choice_value(choice: Option<KeyKind>) -> &'static str {
    choice.map_or(DOCUMENT, KeyKind::as_str)
}

fn choice_label(choice: Option<KeyKind>, l: Locale) -> String {
    match choice {
        None => td_string!(l, keys.kind_document).to_string(),
        Some(kind) => kind_label(kind, l),
    }
}

#[component]
pub fn Keys() -> impl IntoView {
    let i18n = use_i18n();
    let request = ServerAction::<RequestKey>::new();
    let confirm = ServerAction::<ConfirmKey>::new();
    let delete = ServerAction::<DeleteKey>::new();
    let allow = ServerAction::<AllowPort>::new();
    let page = Resource::new(
        move || {
            (
                request.version().get(),
                confirm.version().get(),
                delete.version().get(),
            )
        },
        |_| get_keys(),
    );
    let signup = move || use_query_map().read().get("signup").is_some();
    // What the client chose and typed lives here, above the page's data: every submission
    // reloads that data (and re-renders the form), and an error must leave the kind and the
    // text as they were (issue 27).
    let form = KeyForm {
        kind: RwSignal::new(None),
        typed: RwSignal::new(String::new()),
    };
    // A key registered (at once, or once its code is confirmed): the form starts afresh. Only a
    // submission that just finished counts, so an error later keeps what was typed.
    Effect::new(move |previous: Option<(usize, usize)>| {
        let now = (request.version().get(), confirm.version().get());
        let confirmed = previous.is_some_and(|p| p.1 != now.1)
            && matches!(confirm.value().get_untracked(), Some(Ok(_)));
        let registered = previous.is_some_and(|p| p.0 != now.0)
            && matches!(
                request.value().get_untracked(),
                Some(Ok(KeyRequest::Registered { .. }))
            );
        if confirmed || registered {
            form.typed.set(String::new());
        }
        // A new request asks for a new code: the last confirmation no longer hides its form.
        if previous.is_some_and(|p| p.0 != now.0) {
            confirm.value().set(None);
        }
        now
    });
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.keys).to_string()/>
        <Suspense fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! {
                        <section class="card" id="keys">
                            <h1>{t!(i18n, keys.title)}</h1>
                            {signup().then(|| view! { <p class="error" role="alert">{t!(i18n, keys.signup_failed)}</p> })}
                            <p class="muted">{t_string!(i18n, keys.lead, limit = p.limit).to_string()}</p>
                            {p.keys.is_empty().then(|| view! { <p class="muted">{t!(i18n, keys.none)}</p> })}
                            <ul class="key-list">
                                {p.keys.iter().cloned().map(|k| view! { <KeyRow k delete allow banks=p.banks.clone()/> }).collect_view()}
                            </ul>
                            {error_banner(last_result(delete.value()))}
                            {move || matches!(delete.value().get(), Some(Ok(()))).then(|| view! {
                                <p class="ok" role="status" id="key-deleted">{t!(i18n, keys.deleted)}</p>
                            })}
                            {move || match allow.value().get() {
                                Some(Ok(text)) => Some(view! { <p class="ok" role="status" id="port-allowed">{text}</p> }.into_any()),
                                Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p> }.into_any()),
                                None => None,
                            }}
                        </section>
                        <Register request confirm form documents=p.documents.clone() full={p.keys.len() >= p.limit}/>
                    }.into_any(),
                    Err(e) if e.needs_login() => view! {
                        <section class="card narrow">
                            <h1>{t!(i18n, keys.title)}</h1>
                            <p>{t!(i18n, keys.login)}</p>
                            <a class="button primary" href="/login?next=/keys">{t!(i18n, common.log_in)}</a>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <section class="card"><p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p></section> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn KeyRow(
    k: KeyView,
    delete: ServerAction<DeleteKey>,
    allow: ServerAction<AllowPort>,
    banks: Vec<domain::dto::BankInfo>,
) -> impl IntoView {
    let i18n = use_i18n();
    let l = i18n.get_locale_untracked();
    let label = kind_label(k.kind, l);
    let canonical = k.canonical.clone();
    let movable = k.canonical.clone();
    view! {
        <li class="key-row" data-kind=k.kind.as_str() data-key=canonical>
            <span class="badge active">{label}</span>
            <strong class="key-value">{k.shown.clone()}</strong>
            <span class="muted">{td_string!(l, keys.since, when = format_brasilia(k.since_ms)).to_string()}</span>
            // Deleting asks first (a native disclosure: it works before the page's script runs).
            <details class="confirm-delete">
                <summary class="link danger" aria-label=td_string!(l, keys.delete_label, key = k.shown.clone()).to_string()>{t!(i18n, keys.delete)}</summary>
                <ActionForm action=delete attr:class="inline">
                    <input type="hidden" name="key" value=k.canonical.clone()/>
                    <span>{td_string!(l, keys.delete_confirm, key = k.shown.clone()).to_string()}</span>
                    " "<button type="submit" class="danger">{t!(i18n, keys.delete_yes)}</button>
                </ActionForm>
            </details>
            {(matches!(k.kind, KeyKind::Email | KeyKind::Phone) && !banks.is_empty()).then(|| view! {
                <ActionForm action=allow attr:class="inline allow-port">
                    <input type="hidden" name="key" value=movable.clone()/>
                    <label>{t!(i18n, keys.allow_port)}
                        <select name="bank">
                            {banks.iter().map(|b| view! { <option value=b.id.to_string()>{b.name.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="link">{t!(i18n, keys.allow_port_submit)}</button>
                </ActionForm>
            })}
        </li>
    }
}

/// What the key form holds between renders: the kind chosen (`None`: a holder's document) and
/// the e-mail or phone typed.
#[derive(Clone, Copy)]
struct KeyForm {
    kind: RwSignal<Option<KeyKind>>,
    typed: RwSignal<String>,
}

/// The form for a new key; an e-mail or phone key then asks for the code sent to it.
#[component]
fn Register(
    request: ServerAction<RequestKey>,
    confirm: ServerAction<ConfirmKey>,
    form: KeyForm,
    documents: Vec<String>,
    full: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let KeyForm { kind, typed } = form;
    let value = last_result(request.value());
    let confirmed = last_result(confirm.value());

    let placeholder = move || match kind.get() {
        Some(KeyKind::Email) => "name@example.com",
        Some(KeyKind::Phone) => "(11) 98765-4321",
        _ => "",
    };
    let first_document = documents.first().cloned().unwrap_or_default();
    view! {
        <section class="card" id="register-key">
            <h2>{t!(i18n, keys.register)}</h2>
            {full.then(|| view! { <p class="muted">{t!(i18n, keys.full)}</p> })}
            {move || match (value.get(), confirmed.get()) {
                (_, Some(Ok(shown))) => Some(view! { <p class="ok" role="status">{t_string!(i18n, keys.registered, key = shown).to_string()}</p> }.into_any()),
                (Some(Ok(KeyRequest::Registered { shown })), _) => Some(view! { <p class="ok" role="status">{t_string!(i18n, keys.registered, key = shown).to_string()}</p> }.into_any()),
                _ => None,
            }}
            <ActionForm action=request attr:class="form" attr:id="request-key-form">
                <label>{t!(i18n, keys.kind)}
                    <select name="kind" prop:value=move || choice_value(kind.get()) on:change=move |ev| kind.set(KeyKind::parse(&event_target_value(&ev)))>
                        {kind_choices().into_iter().map(|choice| view! {
                            <option value=choice_value(choice) selected=move || kind.get() == choice>{move || choice_label(choice, i18n.get_locale())}</option>
                        }).collect_view()}
                    </select>
                </label>
                {
                    let first_document = first_document.clone();
                    let documents = documents.clone();
                    move || match kind.get() {
                        Some(KeyKind::Evp) => view! { <p class="muted">{t!(i18n, keys.evp_note)}</p> }.into_any(),
                        None => view! {
                            <label>{t!(i18n, keys.document)}
                                <select name="value">
                                    {documents.iter().map(|d| view! { <option value=d.clone() selected=*d == first_document>{d.clone()}</option> }).collect_view()}
                                </select>
                            </label>
                        }.into_any(),
                        _ => view! {
                            <label>{if kind.get() == Some(KeyKind::Email) { t_string!(i18n, keys.email) } else { t_string!(i18n, keys.phone) }}
                                <input name="value" required maxlength="80" autocomplete="off" placeholder=placeholder
                                    inputmode=move || if kind.get() == Some(KeyKind::Phone) { "tel" } else { "email" }
                                    prop:value=move || typed.get()
                                    on:input=move |ev| {
                                        if kind.get_untracked() == Some(KeyKind::Phone) {
                                            crate::pages::masked_into(domain::input::Mask::Phone, typed)(ev)
                                        } else {
                                            typed.set(event_target_value(&ev))
                                        }
                                    }/>
                            </label>
                        }.into_any(),
                    }
                }
                {move || matches!(kind.get(), Some(KeyKind::Email | KeyKind::Phone)).then(|| view! {
                    <label class="check"><input type="checkbox" name="port" value="on"/>{t!(i18n, keys.port)}</label>
                })}
                {field_error(value, "value")}
                {field_error(value, "key")}
                {error_banner(value)}
                <button type="submit" class="primary" disabled=move || request.pending().get() || full>{t!(i18n, keys.submit)}</button>
            </ActionForm>
            {move || match value.get() {
                Some(Ok(KeyRequest::CodeSent { canonical, shown, port })) if !matches!(confirmed.get(), Some(Ok(_))) => Some(view! {
                    <div class="confirm" id="confirm-key">
                        <p>{t_string!(i18n, keys.code_sent, key = shown.clone(), digits = CODE_DIGITS, minutes = CODE_TTL_MS / 60_000).to_string()}</p>
                        <ActionForm action=confirm attr:class="form">
                            <input type="hidden" name="key" value=canonical.clone()/>
                            {port.then(|| view! { <input type="hidden" name="port" value="on"/> })}
                            <label>{t!(i18n, keys.code)} <input name="code" inputmode="numeric" required maxlength=CODE_DIGITS autocomplete="one-time-code"/></label>
                            {field_error(confirmed, "code")}
                            {error_banner(confirmed)}
                            <button type="submit" class="primary" disabled=move || confirm.pending().get()>{t!(i18n, keys.confirm)}</button>
                        </ActionForm>
                    </div>
                }),
                _ => None,
            }}
        </section>
    }
}
