//! The pages of a link between banks (see `api::consent` for the flow):
//! - [`ConsentPage`] (`/consent`), at the bank that holds the money: what the other bank's account
//!   asks for, the limits the client sets, approve or cancel;
//! - [`LinkReturn`] (`/link/return`), at the client's bank: finishes (or forgets) the link;
//! - [`Consents`] (`/consents`), at the bank that holds the money: the consents given, revocable.

use crate::api::{
    consent_request, get_consents, ApproveConsent, CancelLink, ConsentAsked, FinishLink,
    RevokeConsent,
};
use crate::i18n::{t, t_string, td_string, use_i18n};
use crate::pages::{error_banner, field_error, last_result, masked_into};
use domain::consent::{ConsentStatus, ConsentView};
use domain::dto::BankInfo;
use domain::input::Mask;
use domain::Cents;
use leptos::prelude::*;
use leptos_router::hooks::{use_query_map, use_url};

/// Shown instead of a page that needs a session: a login that comes back to `next`.
fn log_in_first(title: String, why: String, next: String) -> AnyView {
    let i18n = use_i18n();
    let href = format!("/login?next={}", urlencoding_path(&next));
    view! {
        <section class="card narrow" id="login-first">
            <h1>{title}</h1>
            <p>{why}</p>
            <a class="button primary" href=href>{t!(i18n, common.log_in)}</a>
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
    let i18n = use_i18n();
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.consent).to_string()/>
        <Suspense fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
            {move || {
                let (bank, account, state, next) = (bank.clone(), account.clone(), state.clone(), next.clone());
                Suspend::new(async move {
                    match asked.await {
                        Ok(asked) => view! { <Approve asked bank account state/> }.into_any(),
                        Err(e) if e.needs_login() => log_in_first(
                            t_string!(i18n, titles.consent).to_string(),
                            t_string!(i18n, consent.login_why).to_string(),
                            next,
                        ),
                        Err(e) => view! {
                            <section class="card narrow">
                                <h1>{t!(i18n, consent.cannot)}</h1>
                                <p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p>
                                <a href="/dashboard">{t!(i18n, common.go_to_account)}</a>
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
    let i18n = use_i18n();
    let approve = ServerAction::<ApproveConsent>::new();
    let value = last_result(approve.value());
    let per_packet = RwSignal::new(String::new());
    let daily = RwSignal::new(String::new());
    let expires = RwSignal::new(asked.default_expiry.clone());
    let grantee = asked.grantee_bank.name.clone();
    let summary = {
        let grantee = grantee.clone();
        let (grantee_account, mine) = (asked.grantee_account, asked.account);
        let holder = asked.grantee_holder.clone();
        move || {
            // The account, with its holder when the asking bank named it.
            let grantee_account = match &holder {
                Some(h) => t_string!(
                    i18n,
                    consent.account_of,
                    account = grantee_account,
                    holder = h.name.clone(),
                    document = h.document.clone()
                )
                .to_string(),
                None => grantee_account.to_string(),
            };
            let per = Cents::parse_amount(&per_packet.get())
                .map(Cents::to_brl)
                .unwrap_or_else(|_| t_string!(i18n, consent.limit_you_set).to_string());
            let day = match daily.get().trim() {
                "" => t_string!(i18n, consent.no_daily).to_string(),
                d => Cents::parse_amount(d)
                    .map(|c| {
                        t_string!(i18n, consent.daily_at_most, amount = c.to_brl()).to_string()
                    })
                    .unwrap_or_else(|_| t_string!(i18n, consent.daily_you_set).to_string()),
            };
            let until = domain::time_fmt::end_of_brasilia_day(&expires.get())
                .map(domain::time_fmt::format_brasilia_date)
                .unwrap_or_else(|| t_string!(i18n, consent.date_you_set).to_string());
            t_string!(
                i18n,
                consent.summary,
                grantee_account = grantee_account.clone(),
                grantee = grantee.clone(),
                mine = mine,
                per = per,
                day = day,
                until = until
            )
            .to_string()
        }
    };
    view! {
        <section class="card narrow" id="consent">
            <h1>{t_string!(i18n, consent.asks, bank = grantee.clone()).to_string()}</h1>
            <p class="muted">{t_string!(i18n, consent.your_account, account = asked.account, holders = asked.holders.clone(), available = asked.available.to_brl()).to_string()}</p>
            <ActionForm action=approve attr:class="form">
                <input type="hidden" name="bank" value=bank/>
                <input type="hidden" name="account" value=account/>
                <input type="hidden" name="state" value=state/>
                <label>{t!(i18n, consent.per_packet)}
                    <input name="per_packet" inputmode="decimal" placeholder="R$ 500,00" required maxlength="40"
                        prop:value=move || per_packet.get() on:input=masked_into(Mask::Amount, per_packet) on:blur=crate::pages::tidied_into(Mask::Amount, per_packet)/>
                </label>
                {field_error(value, "per_packet")}
                <label>{t!(i18n, consent.daily)}
                    <input name="daily" inputmode="decimal" placeholder="R$ 1.000,00" maxlength="40"
                        prop:value=move || daily.get() on:input=masked_into(Mask::Amount, daily) on:blur=crate::pages::tidied_into(Mask::Amount, daily)/>
                </label>
                {field_error(value, "daily")}
                <label>{t!(i18n, consent.until)}
                    <input type="date" name="expires" required min=asked.today.clone() max=asked.max_expiry.clone()
                        bind:value=expires/>
                </label>
                {field_error(value, "expires")}
                <p class="confirm" id="consent-summary" data-holder=asked.grantee_holder.as_ref().map(|h| h.name.clone())>{summary}</p>
                <label>{t!(i18n, consent.password)}
                    <input type="password" name="password" required autocomplete="current-password" maxlength="512"/>
                </label>
                {field_error(value, "password")}
                {error_banner(value)}
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || approve.pending().get()>{t!(i18n, consent.approve)}</button>
                    <a class="button" href=asked.cancel_url.clone() rel="external">{t!(i18n, common.cancel)}</a>
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
    let i18n = use_i18n();
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
            <crate::pages::PageTitle text=move || t_string!(i18n, titles.link_denied).to_string()/>
            <section class="card narrow" id="link-return">
                <h1>{t!(i18n, titles.link_denied)}</h1>
                <p>{t!(i18n, consent.denied_text)}</p>
                <a class="button primary" href="/dashboard">{t!(i18n, common.back_to_account)}</a>
            </section>
        }
        .into_any();
    }
    let next = here();
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.link_return).to_string()/>
        <section class="card narrow" id="link-return">
            <h1>{t!(i18n, titles.link_return)}</h1>
            {move || match value.get() {
                Some(Err(e)) if e.needs_login() => Some(log_in_first(
                    t_string!(i18n, consent.finish_login_title).to_string(),
                    t_string!(i18n, consent.finish_login_text).to_string(),
                    next.clone(),
                )),
                _ => None,
            }}
            {error_banner(value)}
            <ActionForm action=finish attr:class="form">
                <input type="hidden" name="code" value=code/>
                <input type="hidden" name="state" value=state/>
                <button type="submit" class="primary" disabled=move || finish.pending().get() || value.get().is_some()>{t!(i18n, consent.finish)}</button>
            </ActionForm>
            <a href="/dashboard">{t!(i18n, common.back_to_account)}</a>
        </section>
    }
    .into_any()
}

/// The consents the client gave at this bank, each revocable.
#[component]
pub fn Consents() -> impl IntoView {
    let i18n = use_i18n();
    let revoke = ServerAction::<RevokeConsent>::new();
    let page = Resource::new(move || revoke.version().get(), |_| get_consents());
    let value = last_result(revoke.value());
    let next = here();
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.consents).to_string()/>
        <Suspense fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    match page.await {
                        Ok(p) => {
                            let empty = p.consents.is_empty();
                            view! {
                                <section class="card" id="consents">
                                    <h1>{t!(i18n, titles.consents)}</h1>
                                    <p class="muted">{t_string!(i18n, consent.given_lead, account = p.account).to_string()}</p>
                                    {error_banner(value)}
                                    {move || matches!(value.get(), Some(Ok(()))).then(|| view! {
                                        <p class="ok" role="status" id="consent-revoked">{t!(i18n, consent.revoked_done)}</p>
                                    })}
                                    {empty.then(|| view! { <p class="muted">{t!(i18n, consent.none)}</p> })}
                                    <div class="scroll-x">
                                    <table class:hidden=empty>
                                        <thead><tr><th>{t!(i18n, consent.to)}</th><th>{t!(i18n, linked.allowed)}</th><th class="num">{t!(i18n, consent.used_today)}</th><th>{t!(i18n, common.status)}</th><th></th></tr></thead>
                                        <tbody>
                                            {p.consents.into_iter().map(|c| view! { <ConsentRow c banks=p.banks.clone() revoke/> }).collect_view()}
                                        </tbody>
                                    </table>
                                    </div>
                                    <a href="/dashboard">{t!(i18n, common.back_to_account)}</a>
                                </section>
                            }.into_any()
                        }
                        Err(e) if e.needs_login() => log_in_first(
                            t_string!(i18n, titles.consents).to_string(),
                            t_string!(i18n, consent.login_list).to_string(),
                            next,
                        ),
                        Err(e) => view! { <section class="card"><p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p></section> }.into_any(),
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
    let i18n = use_i18n();
    let l = i18n.get_locale_untracked();
    let (status, label) = match c.status {
        ConsentStatus::Active => ("active", td_string!(l, linked.active)),
        ConsentStatus::Revoked => ("revoked", td_string!(l, consent.revoked)),
        ConsentStatus::Expired => ("expired", td_string!(l, consent.expired)),
    };
    let active = c.status == ConsentStatus::Active;
    let to = td_string!(
        l,
        consent.account_at,
        account = c.grantee_account,
        bank = crate::text::bank_name(l, c.grantee_bank, &banks)
    )
    .to_string();
    view! {
        <tr class="consent-row" data-status=status data-bank=u16::from(c.grantee_bank)>
            <td>{to.clone()}</td>
            <td>{crate::text::terms(l, &c.terms)}</td>
            <td class="num">{c.used_today.to_brl()}</td>
            <td><span class=format!("badge {status}")>{label}</span></td>
            <td>
                {active.then(|| view! {
                    // Revoking asks first (a native disclosure: it works before the page's script runs).
                    <details class="confirm-delete">
                        <summary class="link danger" aria-label=td_string!(l, consent.revoke_label, to = to.clone()).to_string()>{t!(i18n, consent.revoke)}</summary>
                        <ActionForm action=revoke attr:class="inline">
                            <input type="hidden" name="id" value=c.id.to_string()/>
                            <span>{td_string!(l, consent.revoke_confirm, to = to.clone()).to_string()}</span>
                            " "<button type="submit" class="danger">{t!(i18n, consent.revoke_yes)}</button>
                        </ActionForm>
                    </details>
                }.into_any())}
            </td>
        </tr>
    }
}
