//! The client's Pix keys: the ones registered (each deletable), and the form to register another:
//! the CPF/CNPJ of a holder, an e-mail or a phone (confirmed with a code sent to it) or a random
//! key.

use crate::api::{get_keys, ConfirmKey, DeleteKey, KeyRequest, KeyView, RequestKey};
use crate::pages::{error_banner, field_error, last_result};
use domain::time_fmt::format_brasilia;
use domain::KeyKind;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

fn kind_label(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Cpf => "CPF",
        KeyKind::Cnpj => "CNPJ",
        KeyKind::Email => "E-mail",
        KeyKind::Phone => "Phone",
        KeyKind::Evp => "Random key",
    }
}

#[component]
pub fn Keys() -> impl IntoView {
    let request = ServerAction::<RequestKey>::new();
    let confirm = ServerAction::<ConfirmKey>::new();
    let delete = ServerAction::<DeleteKey>::new();
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
    view! {
        <crate::pages::PageTitle text="Pix keys"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! {
                        <section class="card" id="keys">
                            <h1>"Your Pix keys"</h1>
                            {signup().then(|| view! { <p class="error" role="alert">"Your account is open, but your CPF/CNPJ could not be registered as a key just now. You can register it below."</p> })}
                            <p class="muted">{format!("Anyone can pay you with any of these keys, from any bank of the consortium. Up to {} keys for this account.", p.limit)}</p>
                            {p.keys.is_empty().then(|| view! { <p class="muted">"No keys yet."</p> })}
                            <ul class="key-list">
                                {p.keys.iter().cloned().map(|k| view! { <KeyRow k delete/> }).collect_view()}
                            </ul>
                            {error_banner(last_result(delete.value()))}
                        </section>
                        <Register request confirm documents=p.documents.clone() full={p.keys.len() >= p.limit}/>
                    }.into_any(),
                    Err(e) if e.needs_login() => view! {
                        <section class="card narrow">
                            <h1>"Your Pix keys"</h1>
                            <p>"Log in to see and register your keys."</p>
                            <a class="button primary" href="/login?next=/keys">"Log in"</a>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <section class="card"><p class="error" role="alert">{e.to_string()}</p></section> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn KeyRow(k: KeyView, delete: ServerAction<DeleteKey>) -> impl IntoView {
    let label = kind_label(k.kind);
    let canonical = k.canonical.clone();
    view! {
        <li class="key-row" data-kind=k.kind.as_str() data-key=canonical>
            <span class="badge active">{label}</span>
            <strong class="key-value">{k.shown.clone()}</strong>
            <span class="muted">{format!(" since {}", format_brasilia(k.since_ms))}</span>
            <ActionForm action=delete attr:class="inline">
                <input type="hidden" name="key" value=k.canonical.clone()/>
                <button type="submit" class="link danger" aria-label=format!("Delete the key {}", k.shown)>"Delete"</button>
            </ActionForm>
        </li>
    }
}

/// The form for a new key; an e-mail or phone key then asks for the code sent to it.
#[component]
fn Register(
    request: ServerAction<RequestKey>,
    confirm: ServerAction<ConfirmKey>,
    documents: Vec<String>,
    full: bool,
) -> impl IntoView {
    let kind = RwSignal::new("document".to_string());
    let value = last_result(request.value());
    let confirmed = last_result(confirm.value());
    let placeholder = move || match kind.get().as_str() {
        "email" => "name@example.com",
        "phone" => "+55 11 98765-4321",
        _ => "",
    };
    let first_document = documents.first().cloned().unwrap_or_default();
    view! {
        <section class="card" id="register-key">
            <h2>"Register a key"</h2>
            {full.then(|| view! { <p class="muted">"This account has as many keys as it may: delete one to register another."</p> })}
            {move || match (value.get(), confirmed.get()) {
                (_, Some(Ok(shown))) => Some(view! { <p class="ok" role="status">{format!("Key {shown} registered.")}</p> }.into_any()),
                (Some(Ok(KeyRequest::Registered { shown })), _) => Some(view! { <p class="ok" role="status">{format!("Key {shown} registered.")}</p> }.into_any()),
                _ => None,
            }}
            <ActionForm action=request attr:class="form" attr:id="request-key-form">
                <label>"Kind of key"
                    <select name="kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="document" selected=true>"CPF/CNPJ"</option>
                        <option value="email">"E-mail"</option>
                        <option value="phone">"Phone"</option>
                        <option value="evp">"Random key"</option>
                    </select>
                </label>
                {
                    let first_document = first_document.clone();
                    let documents = documents.clone();
                    move || match kind.get().as_str() {
                        "evp" => view! { <p class="muted">"The bank generates a random key for you."</p> }.into_any(),
                        "document" => view! {
                            <label>"Document"
                                <select name="value">
                                    {documents.iter().map(|d| view! { <option value=d.clone() selected=*d == first_document>{d.clone()}</option> }).collect_view()}
                                </select>
                            </label>
                        }.into_any(),
                        _ => view! {
                            <label>{if kind.get() == "email" { "E-mail" } else { "Phone with area code" }}
                                <input name="value" required maxlength="80" autocomplete="off" placeholder=placeholder/>
                            </label>
                        }.into_any(),
                    }
                }
                {field_error(value, "value")}
                {field_error(value, "key")}
                {error_banner(value)}
                <button type="submit" class="primary" disabled=move || request.pending().get() || full>"Register"</button>
            </ActionForm>
            {move || match value.get() {
                Some(Ok(KeyRequest::CodeSent { canonical, shown })) if !matches!(confirmed.get(), Some(Ok(_))) => Some(view! {
                    <div class="confirm" id="confirm-key">
                        <p>{format!("We sent a 6-digit code to {shown}. Type it here to confirm the key (valid for 10 minutes).")}</p>
                        <ActionForm action=confirm attr:class="form">
                            <input type="hidden" name="key" value=canonical.clone()/>
                            <label>"Code" <input name="code" inputmode="numeric" required maxlength="6" autocomplete="one-time-code"/></label>
                            {field_error(confirmed, "code")}
                            {error_banner(confirmed)}
                            <button type="submit" class="primary" disabled=move || confirm.pending().get()>"Confirm"</button>
                        </ActionForm>
                    </div>
                }),
                _ => None,
            }}
        </section>
    }
}
