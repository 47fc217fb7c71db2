//! The Leptos app of a bank node: pages and server functions, one crate for both sides.
//!
//! # Layout
//! - [`api`]: the `#[server]` functions (the browser's API) and their server-only helpers.
//! - [`error`]: [`AppError`], the one error of every server function, with its HTTP status.
//! - [`pages`]: one module per page: landing, sign-up, login, dashboard (with the packet
//!   builder), a transfer's comprovante, receiving by QR code, paying with a code, bank
//!   selector, consortium status, the pages of a link between banks (consent, return,
//!   consents given), and the operators' console.
//!
//! Features: `ssr` (linked into the bank node; brings the engine) and `hydrate` (the wasm build;
//! never links tokio, SQLite or reqwest).
// Leptos views are deeply nested types; the dashboard with the packet builder needs more room.
#![recursion_limit = "256"]

include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

pub mod api;

pub use i18n::{use_i18n, Locale};
pub mod error;
pub mod pages;
pub mod text;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, StaticSegment};

pub use error::AppError;

/// The HTML document around the app, rendered on the server only. The bank id goes on `<html>`
/// so that the stylesheet picks the bank's palette before any script runs.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    let bank = use_context::<domain::dto::BankInfo>();
    let bank_id = bank.as_ref().map(|b| b.id.to_string()).unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html data-bank=bank_id>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // The stylesheet has the assets' (content-hashed) name, which only the server
                // knows: it is part of the shell, which is not hydrated.
                <link rel="stylesheet" href=format!("/pkg/{}.css", options.output_name)/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Scripts only from this origin or carrying this response's nonce (Leptos puts it on its
/// hydration and streaming scripts), wasm allowed to compile, nothing framed, forms only to us.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use axum::http::{header, HeaderValue};
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    // A form may also lead to the consortium's other banks: approving a link answers with a
    // redirect to the bank that asked, and browsers check redirects after a form against this.
    let banks: String = use_context::<std::sync::Arc<dyn engine::consortium::Consortium>>()
        .map(|c| {
            c.banks()
                .iter()
                .filter_map(|b| c.public_url(b.id))
                .map(|u| format!(" {}", u.trim_end_matches('/')))
                .collect()
        })
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'{banks}"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    text::plural_rules();
    provide_meta_context();
    let bank: pages::BankResource = OnceResource::new(api::get_bank());
    provide_context(bank);
    // Effects run only in the browser, after hydration: mark the page as interactive, for
    // people's tools and for the browser tests, which wait for it instead of for time.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        // Portuguese unless the client chose English (remembered in a cookie, which the server
        // reads too); the browser's Accept-Language is not asked: the clients are Brazilian.
        <i18n::I18nContextProvider ssr_lang_header_getter=leptos_use_locales_none()>
        <Router>
            <header class="topbar">
                <a href="/" class="brand">
                    <span class="logo" aria-hidden="true"></span>
                    <Suspense fallback=|| "Consórcio">
                        {move || Suspend::new(async move {
                            match bank.await {
                                Ok(b) => view! { <span class="bank-name">{b.name}</span> }.into_any(),
                                Err(_) => view! { <span class="bank-name">"Consórcio"</span> }.into_any(),
                            }
                        })}
                    </Suspense>
                </a>
                <Nav/>
            </header>
            <main>
                <pages::session::SessionGuard>
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=StaticSegment("") view=pages::landing::Landing/>
                    <Route path=StaticSegment("signup") view=pages::signup::SignUp/>
                    <Route path=StaticSegment("login") view=pages::login::Login/>
                    <Route path=StaticSegment("dashboard") view=pages::dashboard::DashboardPage/>
                    <Route path=StaticSegment("banks") view=pages::banks::Banks/>
                    <Route path=StaticSegment("consortium") view=pages::status::Status/>
                    <Route path=StaticSegment("consent") view=pages::consent::ConsentPage/>
                    <Route path=StaticSegment("consents") view=pages::consent::Consents/>
                    <Route path=StaticSegment("keys") view=pages::keys::Keys/>
                    <Route path=StaticSegment("limits") view=pages::limits::LimitsPage/>
                    <Route path=StaticSegment("receive") view=pages::receive::Receive/>
                    <Route path=StaticSegment("pay") view=pages::pay::Pay/>
                    <Route path=StaticSegment("operator") view=pages::operator::OperatorPage/>
                    <Route path=(StaticSegment("return"), ParamSegment("tx")) view=pages::return_pix::ReturnPage/>
                    <Route path=(StaticSegment("link"), StaticSegment("return")) view=pages::consent::LinkReturn/>
                    <Route path=(StaticSegment("receipt"), ParamSegment("tx")) view=pages::receipt::ReceiptView/>
                </Routes>
                </pages::session::SessionGuard>
            </main>
        </Router>
        </i18n::I18nContextProvider>
    }
}

/// Options for the language: the Accept-Language header is never asked.
fn leptos_use_locales_none() -> leptos_i18n::context::UseLocalesOptions {
    leptos_i18n::context::UseLocalesOptions::default().ssr_lang_header_getter(|| None)
}

#[component]
fn Nav() -> impl IntoView {
    let i18n = use_i18n();
    let other = move || match i18n.get_locale() {
        Locale::pt_BR => Locale::en,
        Locale::en => Locale::pt_BR,
    };
    view! {
        <nav class="nav">
            <a href="/banks">{i18n::t!(i18n, nav.banks)}</a>
            <a href="/consortium">{i18n::t!(i18n, nav.status)}</a>
            <a href="/dashboard">{i18n::t!(i18n, nav.account)}</a>
            <a href="/keys">{i18n::t!(i18n, nav.keys)}</a>
            <a href="/receive">{i18n::t!(i18n, nav.receive)}</a>
            <a href="/pay">{i18n::t!(i18n, nav.pay)}</a>
            <button type="button" class="link lang" id="language"
                aria-label=move || i18n::t_string!(i18n, nav.switch_label).to_string()
                on:click=move |_| i18n.set_locale(other())>
                {i18n::t!(i18n, nav.switch)}
            </button>
        </nav>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <pages::PageTitle text=move || i18n::t_string!(i18n, titles.not_found).to_string()/>
        <section class="card">
            <h1>{i18n::t!(i18n, common.page_not_found)}</h1>
            <a href="/">{i18n::t!(i18n, common.back_to_start)}</a>
        </section>
    }
}
