//! The pages of a link between banks (see `api::consent` for the flow):
//! - [`ConsentPage`] (`/consent`), at the bank that holds the money: what the other bank's account
//!   asks for, the limits the client sets, approve or cancel;
//! - [`LinkReturn`] (`/link/return`), at the client's bank: finishes (or forgets) the link;
//! - [`Consents`] (`/consents`), at the bank that holds the money: the consents given, revocable.

use crate::api::{
    consent_request, get_consents, ApproveConsent, CancelLink, ConsentAsked, FinishLink,
    RevokeConsent,
};
use crate::pages::{error_banner, field_error, last_result};
use domain::consent::{ConsentStatus, ConsentView};
use domain::dto::BankInfo;
use domain::Cents;
use leptos::prelude::*;
use leptos_router::hooks::{use_query_map, use_url};

/// Shown instead of a page that needs a session: a login that comes back to `next`.
fn log_in_first(title: &'static str, why: &'static str, next: String) -> AnyView {
    let href = format!("/login?next={}", urlencoding_path(&next));
    view! {
        <section class="card narrow" id="login-first">
            <h1>{title}</h1>
            <p>{why}</p>
            <a class="button primary" href=href>"Log in"</a>
        </section>
    }
    .into_any()
}

/// `next` for a query string: a path of this site, percent-encoded where it must be.
fn urlencoding_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The current path and query, for a login that returns here.
fn here() -> String {
    let url = use_url().get_untracked();
    let query = url.search();
    if query.is_empty() {
        url.path().to_string()
    } else {
        format!("{}?{}", url.path(), query)
    }
}

#[component]
pub fn ConsentPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |k: &str| query.read_untracked().get(k).unwrap_or_default();
    let (bank, account, state) = (param("bank"), param("account"), param("state"));
    let asked = {
        let (bank, account, state) = (bank.clone(), account.clone(), state.clone());
        Resource::new(
            || (),
            move |_| consent_request(bank.clone(), account.clone(), state.clone()),
        )
    };
    let next = here();
    view! {
        <crate::pages::PageTitle text="Approve a link"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let (bank, account, state, next) = (bank.clone(), account.clone(), state.clone(), next.clone());
                Suspend::new(async move {
                    match asked.await {
                        Ok(asked) => view! { <Approve asked bank account state/> }.into_any(),
                        Err(e) if e.needs_login() => log_in_first(
                            "Approve a link",
                            "Another bank asks to draw on your account here. Log in to this bank to see what it asks and decide.",
                            next,
                        ),
                        Err(e) => view! {
                            <section class="card narrow">
                                <h1>"This link cannot be approved"</h1>
                                <p class="error" role="alert">{e.to_string()}</p>
                                <a href="/dashboard">"Go to your account"</a>
                            </section>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The approval form: what the other bank's account will be allowed to do, spelled out as the
/// client sets the limits.
#[component]
fn Approve(asked: ConsentAsked, bank: String, account: String, state: String) -> impl IntoView {
    let approve = ServerAction::<ApproveConsent>::new();
    let value = last_result(approve.value());
    let per_packet = RwSignal::new(String::new());
    let daily = RwSignal::new(String::new());
    let expires = RwSignal::new(asked.default_expiry.clone());
    let grantee = asked.grantee_bank.name.clone();
    let summary = {
        let grantee = grantee.clone();
        let (grantee_account, mine) = (asked.grantee_account, asked.account);
        move || {
            let per = Cents::parse_amount(&per_packet.get())
                .map(Cents::to_brl)
                .unwrap_or_else(|_| "the limit you set".into());
            let day = match daily.get().trim() {
                "" => "no daily limit beyond that".to_string(),
                d => Cents::parse_amount(d)
                    .map(|c| format!("at most {} a day", c.to_brl()))
                    .unwrap_or_else(|_| "the daily limit you set".into()),
            };
            let until = domain::time_fmt::end_of_brasilia_day(&expires.get())
                .map(domain::time_fmt::format_brasilia_date)
                .unwrap_or_else(|| "the date you set".into());
            format!(
                "Account {grantee_account} at {grantee} may pay Pix packets from your account {mine} here: at most {per} per packet, {day}, until {until}. It cannot see your statement or do anything else, and you can revoke this at any time under Consents."
            )
        }
    };
    view! {
        <section class="card narrow" id="consent">
            <h1>{format!("{grantee} asks to draw on your account")}</h1>
            <p class="muted">{format!("Your account {} · {} · available {}", asked.account, asked.holders, asked.available.to_brl())}</p>
            <ActionForm action=approve attr:class="form">
                <input type="hidden" name="bank" value=bank/>
                <input type="hidden" name="account" value=account/>
                <input type="hidden" name="state" value=state/>
                <label>"Limit per packet (R$)"
                    <input name="per_packet" inputmode="decimal" placeholder="500,00" required maxlength="40"
                        bind:value=per_packet/>
                </label>
                {field_error(value, "per_packet")}
                <label>"Daily limit (R$, optional)"
                    <input name="daily" inputmode="decimal" placeholder="1.000,00" maxlength="40" bind:value=daily/>
                </label>
                {field_error(value, "daily")}
                <label>"Valid until"
                    <input type="date" name="expires" required min=asked.today.clone() max=asked.max_expiry.clone()
                        bind:value=expires/>
                </label>
                {field_error(value, "expires")}
                <p class="confirm" id="consent-summary">{summary}</p>
                {error_banner(value)}
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || approve.pending().get()>"Approve"</button>
                    <a class="button" href=asked.cancel_url.clone() rel="external">"Cancel"</a>
                </div>
            </ActionForm>
        </section>
    }
}

/// Back at the client's bank: finishes the link (or forgets it when the client cancelled) as
/// soon as the page runs, with a button for browsers without scripts.
#[component]
pub fn LinkReturn() -> impl IntoView {
    let query = use_query_map();
    let param = move |k: &str| query.read_untracked().get(k).unwrap_or_default();
    let (code, state) = (param("code"), param("state"));
    let denied = !param("denied").is_empty();
    let finish = ServerAction::<FinishLink>::new();
    let cancel = ServerAction::<CancelLink>::new();
    let value = last_result(finish.value());
    {
        let (code, state) = (code.clone(), state.clone());
        // Effects run in the browser only: a request from this bank's own page carries its
        // session cookie even when the browser arrived here from another bank's site.
        Effect::new(move |done: Option<()>| {
            if done.is_none() {
                if denied {
                    cancel.dispatch(CancelLink {
                        state: state.clone(),
                    });
                } else {
                    finish.dispatch(FinishLink {
                        code: code.clone(),
                        state: state.clone(),
                    });
                }
            }
        });
    }
    if denied {
        return view! {
            <crate::pages::PageTitle text="Link not approved"/>
            <section class="card narrow" id="link-return">
                <h1>"Link not approved"</h1>
                <p>"You did not approve the link at the other bank; nothing was linked."</p>
                <a class="button primary" href="/dashboard">"Back to your account"</a>
            </section>
        }
        .into_any();
    }
    let next = here();
    view! {
        <crate::pages::PageTitle text="Finishing the link"/>
        <section class="card narrow" id="link-return">
            <h1>"Finishing the link"</h1>
            {move || match value.get() {
                Some(Err(e)) if e.needs_login() => Some(log_in_first(
                    "Log in to finish the link",
                    "Your session here has ended. Log in and the link will be finished.",
                    next.clone(),
                )),
                _ => None,
            }}
            {error_banner(value)}
            <ActionForm action=finish attr:class="form">
                <input type="hidden" name="code" value=code/>
                <input type="hidden" name="state" value=state/>
                <button type="submit" class="primary" disabled=move || finish.pending().get() || value.get().is_some()>"Finish linking"</button>
            </ActionForm>
            <a href="/dashboard">"Back to your account"</a>
        </section>
    }
    .into_any()
}

/// The consents the client gave at this bank, each revocable.
#[component]
pub fn Consents() -> impl IntoView {
    let revoke = ServerAction::<RevokeConsent>::new();
    let page = Resource::new(move || revoke.version().get(), |_| get_consents());
    let value = last_result(revoke.value());
    let next = here();
    view! {
        <crate::pages::PageTitle text="Consents you gave"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    match page.await {
                        Ok(p) => {
                            let empty = p.consents.is_empty();
                            view! {
                                <section class="card" id="consents">
                                    <h1>"Consents you gave"</h1>
                                    <p class="muted">{format!("Accounts at other banks allowed to pay Pix packets from your account {} here.", p.account)}</p>
                                    {error_banner(value)}
                                    {empty.then(|| view! { <p class="muted">"You have not given any consent."</p> })}
                                    <table class:hidden=empty>
                                        <thead><tr><th>"To"</th><th>"Allowed"</th><th class="num">"Used today"</th><th>"Status"</th><th></th></tr></thead>
                                        <tbody>
                                            {p.consents.into_iter().map(|c| view! { <ConsentRow c banks=p.banks.clone() revoke/> }).collect_view()}
                                        </tbody>
                                    </table>
                                    <a href="/dashboard">"Back to your account"</a>
                                </section>
                            }.into_any()
                        }
                        Err(e) if e.needs_login() => log_in_first(
                            "Consents you gave",
                            "Log in to see and revoke the consents you gave.",
                            next,
                        ),
                        Err(e) => view! { <section class="card"><p class="error" role="alert">{e.to_string()}</p></section> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ConsentRow(
    c: ConsentView,
    banks: Vec<BankInfo>,
    revoke: ServerAction<RevokeConsent>,
) -> impl IntoView {
    let (status, label) = match c.status {
        ConsentStatus::Active => ("active", "Active"),
        ConsentStatus::Revoked => ("revoked", "Revoked"),
        ConsentStatus::Expired => ("expired", "Expired"),
    };
    let active = c.status == ConsentStatus::Active;
    let to = format!(
        "Account {} at {}",
        c.grantee_account,
        crate::text::bank_name(c.grantee_bank, &banks)
    );
    view! {
        <tr class="consent-row" data-status=status data-bank=u16::from(c.grantee_bank)>
            <td>{to.clone()}</td>
            <td>{crate::text::terms(&c.terms)}</td>
            <td class="num">{c.used_today.to_brl()}</td>
            <td><span class=format!("badge {status}")>{label}</span></td>
            <td>
                {active.then(|| view! {
                    <ActionForm action=revoke attr:class="inline">
                        <input type="hidden" name="id" value=c.id.to_string()/>
                        <button type="submit" class="link danger" aria-label=format!("Revoke the consent to {to}")>"Revoke"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
