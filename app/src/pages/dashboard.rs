//! The client's dashboard: balances, recent transactions, deposit, and quick Pix with the
//! receiver's name shown before confirming.
//!
//! The Pix is two steps. Step one is a GET form (`?pix_key=..&pix_amount=..`) so that it works
//! before the wasm has loaded too; the page then looks the key up and shows who will receive the
//! money. Step two is the confirming `ActionForm`, carrying a transaction id fixed when the page
//! was rendered, so a double submit pays once.

use crate::api::{get_dashboard, lookup_receiver, Deposit, DashboardPage as Page, Logout, SendPix};
use crate::error::AppError;
use crate::pages::{error_banner, field_error, last_result};
use domain::dto::{BankInfo, EntryKind, EntryView, LinkedAccount, TxStatus};
use domain::BankId;
use domain::time_fmt::format_brasilia;
use domain::Cents;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let deposit = ServerAction::<Deposit>::new();
    let send = ServerAction::<SendPix>::new();
    let logout = ServerAction::<Logout>::new();
    let data = Resource::new(move || (deposit.version().get(), send.version().get()), |_| get_dashboard());
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading your account…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <Overview page deposit send logout/> }.into_any(),
                    Err(AppError::NotLoggedIn) => view! {
                        <section class="card narrow">
                            <h1>"Your session has ended"</h1>
                            <p>"Please log in to see your account."</p>
                            <a class="button primary" href="/login">"Log in"</a>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <section class="card"><p class="error" role="alert">{e.to_string()}</p></section> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Overview(
    page: Page,
    deposit: ServerAction<Deposit>,
    send: ServerAction<SendPix>,
    logout: ServerAction<Logout>,
) -> impl IntoView {
    let account = page.dashboard.account.clone();
    let holders = account.holders.iter().map(|h| h.name.clone()).collect::<Vec<_>>().join(" & ");
    view! {
        <section class="card balances">
            <div class="who">
                <h1>{format!("Hello, {holders}")}</h1>
                <p class="muted">{format!("Account {} · {}", account.id, page.dashboard.bank.name)}</p>
                <ActionForm action=logout attr:class="inline"><button type="submit" class="link">"Log out"</button></ActionForm>
            </div>
            <div class="figures">
                <div><span class="label">"Available"</span><strong id="available">{account.available.to_brl()}</strong></div>
                <div><span class="label">"Blocked"</span><strong id="blocked">{account.blocked.to_brl()}</strong></div>
            </div>
        </section>
        <div class="columns">
            <DepositCard deposit tx_id=page.deposit_tx_id.clone()/>
            <PixCard send tx_id=page.pix_tx_id.clone() banks=page.banks.clone() me=page.dashboard.bank.id/>
        </div>
        <Linked linked=page.linked.clone() banks=page.banks.len()/>
        <History entries=page.dashboard.recent.clone()/>
    }
}

#[component]
fn DepositCard(deposit: ServerAction<Deposit>, tx_id: String) -> impl IntoView {
    let value = last_result(deposit.value());
    view! {
        <section class="card" id="deposit">
            <h2>"Deposit"</h2>
            <ActionForm action=deposit attr:class="form">
                <input type="hidden" name="tx_id" value=tx_id/>
                <label>"Amount (R$)" <input name="amount" inputmode="decimal" placeholder="150,00" required maxlength="40"/></label>
                {field_error(value, "amount")}
                {error_banner(value)}
                {move || match value.get() {
                    Some(Ok(amount)) => Some(view! { <p class="ok" role="status">{format!("Deposit of {} received.", amount.to_brl())}</p> }),
                    _ => None,
                }}
                <button type="submit" class="primary" disabled=move || deposit.pending().get()>"Deposit"</button>
            </ActionForm>
        </section>
    }
}

/// The client's accounts at the other banks of the consortium (same CPF/CNPJ).
#[component]
fn Linked(linked: Vec<LinkedAccount>, banks: usize) -> impl IntoView {
    (banks > 1).then(|| {
        let empty = linked.is_empty();
        view! {
            <section class="card" id="linked">
                <h2>"Your accounts at other banks"</h2>
                {empty.then(|| view! { <p class="muted">"No accounts with your CPF/CNPJ at the other banks (or they are not reachable now)."</p> })}
                <table class:hidden=empty>
                    <thead><tr><th>"Bank"</th><th>"Account"</th><th class="num">"Available"</th><th class="num">"Blocked"</th></tr></thead>
                    <tbody>
                        {linked.into_iter().map(|l| view! {
                            <tr class="linked-row" data-bank=u16::from(l.bank.id)>
                                <td>{l.bank.name.clone()}</td>
                                <td>{l.account.to_string()}</td>
                                <td class="num">{l.available.to_brl()}</td>
                                <td class="num">{l.blocked.to_brl()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }
    })
}

#[component]
fn PixCard(send: ServerAction<SendPix>, tx_id: String, banks: Vec<BankInfo>, me: BankId) -> impl IntoView {
    let query = use_query_map();
    let key = move || query.read().get("pix_key").unwrap_or_default();
    let amount = move || query.read().get("pix_amount").unwrap_or_default();
    let bank = move || query.read().get("pix_bank").unwrap_or_else(|| u16::from(me).to_string());
    let sent = move || query.read().get("sent");
    let preview = Resource::new(move || (key(), bank()), |(key, bank)| async move {
        if key.trim().is_empty() { None } else { Some(lookup_receiver(key, Some(bank)).await) }
    });
    let value = last_result(send.value());
    view! {
        <section class="card" id="pix">
            <h2>"Pix"</h2>
            {move || match (value.get(), sent()) {
                (Some(Ok(r)), _) => Some(view! {
                    <p class="ok" role="status">{format!("Pix of {} sent to {}.", r.amount.to_brl(), r.receiver.name)}</p>
                }.into_any()),
                (None, Some(id)) => Some(view! { <p class="ok" role="status">{format!("Pix sent (id {id}).")}</p> }.into_any()),
                _ => None,
            }}
            <Form method="GET" action="/dashboard" attr:class="form">
                <label>"Receiver's CPF/CNPJ key" <input name="pix_key" inputmode="numeric" required maxlength="20" prop:value=key/></label>
                <label>"Receiver's bank"
                    <select name="pix_bank">
                        {banks.into_iter().map(|b| {
                            let id = u16::from(b.id).to_string();
                            let selected = { let id = id.clone(); move || bank() == id };
                            view! { <option value=id.clone() selected=selected>{b.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Amount (R$)" <input name="pix_amount" inputmode="decimal" required maxlength="40" prop:value=amount/></label>
                <button type="submit">"Review"</button>
            </Form>
            <Suspense fallback=|| ()>
                {move || {
                    let tx_id = tx_id.clone();
                    Suspend::new(async move {
                        let amount_text = amount();
                        match (preview.await, Cents::parse_amount(&amount_text)) {
                            (None, _) => None,
                            (Some(Err(e)), _) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
                            (Some(Ok(_)), Err(e)) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
                            (Some(Ok(r)), Ok(cents)) => Some(view! {
                                <div class="confirm" id="pix-confirm">
                                    <p>"You are sending " <strong>{cents.to_brl()}</strong> " to"</p>
                                    <p class="receiver"><strong id="receiver-name">{r.name.clone()}</strong>
                                       <span class="muted">{format!(" · {} · {}", r.key_masked, r.bank.name)}</span></p>
                                    <ActionForm action=send attr:class="form">
                                        <input type="hidden" name="key" value=key()/>
                                        <input type="hidden" name="bank" value=bank()/>
                                        <input type="hidden" name="amount" value=amount_text.clone()/>
                                        <input type="hidden" name="tx_id" value=tx_id/>
                                        {field_error(value, "amount")}
                                        {error_banner(value)}
                                        <button type="submit" class="primary" disabled=move || send.pending().get()>"Confirm Pix"</button>
                                        <a href="/dashboard" class="button">"Cancel"</a>
                                    </ActionForm>
                                </div>
                            }.into_any()),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn History(entries: Vec<EntryView>) -> impl IntoView {
    let empty = entries.is_empty();
    view! {
        <section class="card" id="history">
            <h2>"Recent transactions"</h2>
            {empty.then(|| view! { <p class="muted">"No transactions yet. Make a deposit to start."</p> })}
            <table class:hidden=empty>
                <thead><tr><th>"When"</th><th>"Description"</th><th class="num">"Amount"</th><th>"Status"</th></tr></thead>
                <tbody>
                    {entries.into_iter().map(|e| view! { <Row entry=e/> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Row(entry: EntryView) -> impl IntoView {
    let description = match (&entry.kind, &entry.counterparty) {
        (EntryKind::Deposit, _) => "Deposit".to_string(),
        (EntryKind::PixOut, Some(c)) => format!("Pix to {} ({})", c.name, c.key_masked),
        (EntryKind::PixIn, Some(c)) => format!("Pix from {} ({})", c.name, c.key_masked),
        (EntryKind::PixOut, None) => "Pix sent".to_string(),
        (EntryKind::PixIn, None) => "Pix received".to_string(),
    };
    let signed = Cents::new(entry.amount.get() * entry.kind.sign());
    let sign_class = if entry.kind.sign() > 0 { "num credit" } else { "num debit" };
    let status = entry.status;
    let label = match status {
        TxStatus::Pending => "Pending",
        TxStatus::Committed => "Committed",
        TxStatus::Aborted => "Aborted",
    };
    view! {
        <tr class="tx-row" data-status=status.as_str() data-kind=entry.kind.as_str()>
            <td>{format_brasilia(entry.created_ms)}</td>
            <td>{description}</td>
            <td class=sign_class>{signed.to_brl()}</td>
            <td><span class=format!("badge {}", status.as_str())>{label}</span></td>
        </tr>
    }
}
