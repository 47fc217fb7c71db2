//! The client's dashboard: balances, recent transactions, deposit, and quick Pix with the
//! receiver's name shown before confirming.
//!
//! The Pix is two steps. Step one is a GET form (`?pix_key=..&pix_amount=..`) so that it works
//! before the wasm has loaded too; the page then looks the key up and shows who will receive the
//! money. Step two is the confirming `ActionForm`, carrying a transaction id fixed when the page
//! was rendered, so a double submit pays once.

use crate::api::{
    get_dashboard, lookup_receiver, DashboardPage as Page, Deposit, Logout, SendPacket, SendPix,
    StartLink,
};
use crate::error::AppError;
use crate::pages::packet::PacketBuilder;
use crate::pages::{error_banner, every, field_error, last_result};
use domain::dto::{BankInfo, EntryKind, EntryView, LinkStatus, LinkedAccount, TxStatus};
use domain::time_fmt::format_brasilia;
use domain::BankId;
use domain::Cents;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let initial = Resource::new(|| (), |_| get_dashboard());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading your account…"</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok(page) => view! { <Overview page/> }.into_any(),
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
        </Suspense>
    }
}

/// How often an open dashboard asks for fresh balances and statuses. Polling, not a push channel:
/// one small request every two seconds per open page, no connection state on the bank, and it works
/// through any proxy; transfers settle in milliseconds, so two seconds is what a client notices.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// The dashboard, rendered once; its figures, lists and the forms' transaction ids follow `page`,
/// which polling and every finished action refresh, so typed input survives refreshes.
#[component]
fn Overview(page: Page) -> impl IntoView {
    let ids = (
        page.deposit_tx_id.clone(),
        page.pix_tx_id.clone(),
        page.packet_tx_id.clone(),
    );
    let page = RwSignal::new(page);
    let deposit = ServerAction::<Deposit>::new();
    let send = ServerAction::<SendPix>::new();
    let packet = ServerAction::<SendPacket>::new();
    let logout = ServerAction::<Logout>::new();
    let deposit_id = RwSignal::new(ids.0);
    let pix_id = RwSignal::new(ids.1);
    let packet_id = RwSignal::new(ids.2);
    let refresh = move || {
        leptos::task::spawn_local(async move {
            if let Ok(p) = get_dashboard().await {
                page.set(p);
            }
        })
    };
    every(REFRESH, refresh);
    // After a form's action finishes: fresh figures, and after a success a fresh id for that form
    // (the same id is kept after a failure, so that a retry cannot execute twice).
    renew_after(
        deposit.version(),
        move || matches!(deposit.value().get_untracked(), Some(Ok(_))),
        page,
        deposit_id,
        |p| p.deposit_tx_id.clone(),
    );
    renew_after(
        send.version(),
        move || matches!(send.value().get_untracked(), Some(Ok(_))),
        page,
        pix_id,
        |p| p.pix_tx_id.clone(),
    );
    renew_after(
        packet.version(),
        move || matches!(packet.value().get_untracked(), Some(Ok(_))),
        page,
        packet_id,
        |p| p.packet_tx_id.clone(),
    );
    let holders = move || {
        page.with(|p| {
            p.dashboard
                .account
                .holders
                .iter()
                .map(|h| h.name.clone())
                .collect::<Vec<_>>()
                .join(" & ")
        })
    };
    let (bank_name, account_id, me) = page.with_untracked(|p| {
        (
            p.dashboard.bank.name.clone(),
            p.dashboard.account.id,
            p.dashboard.bank.id,
        )
    });
    let banks = page.with_untracked(|p| p.banks.clone());
    view! {
        <section class="card balances">
            <div class="who">
                <h1>{move || format!("Hello, {}", holders())}</h1>
                <p class="muted">{format!("Account {account_id} · {bank_name}")}</p>
                <ActionForm action=logout attr:class="inline"><button type="submit" class="link">"Log out"</button></ActionForm>
            </div>
            <div class="figures">
                <div><span class="label">"Available"</span><strong id="available">{move || page.with(|p| p.dashboard.account.available.to_brl())}</strong></div>
                <div><span class="label">"Blocked"</span><strong id="blocked">{move || page.with(|p| p.dashboard.account.blocked.to_brl())}</strong></div>
            </div>
        </section>
        <div class="columns">
            <DepositCard deposit tx_id=deposit_id/>
            <PixCard send tx_id=pix_id banks=banks.clone() me/>
        </div>
        {move || view! { <Linked linked=page.with(|p| p.linked.clone()) banks=page.with(|p| p.banks.clone()) me/> }}
        {(banks.len() > 1).then(|| view! { <PacketBuilder page action=packet tx_id=packet_id/> })}
        {move || view! { <History entries=page.with(|p| p.dashboard.recent.clone())/> }}
    }
    .into_any()
}

/// Refreshes `page` whenever `version` moves, then renews `id` if the action succeeded.
fn renew_after(
    version: RwSignal<usize>,
    succeeded: impl Fn() -> bool + Clone + Send + Sync + 'static,
    page: RwSignal<Page>,
    id: RwSignal<String>,
    pick: fn(&Page) -> String,
) {
    Effect::new(move |previous: Option<usize>| {
        let v = version.get();
        if previous.is_some_and(|p| p != v) {
            let ok = succeeded();
            leptos::task::spawn_local(async move {
                if let Ok(p) = get_dashboard().await {
                    if ok {
                        id.set(pick(&p));
                    }
                    page.set(p);
                }
            });
        }
        v
    });
}

#[component]
fn DepositCard(deposit: ServerAction<Deposit>, tx_id: RwSignal<String>) -> impl IntoView {
    let value = last_result(deposit.value());
    view! {
        <section class="card" id="deposit">
            <h2>"Deposit"</h2>
            <ActionForm action=deposit attr:class="form">
                <input type="hidden" name="tx_id" value=move || tx_id.get()/>
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
    .into_any()
}

/// The client's links to accounts at other banks: each one a consent the client gave at that bank
/// (where it is also revoked), with that bank's current answer; and the form that starts a link.
#[component]
fn Linked(linked: Vec<LinkedAccount>, banks: Vec<BankInfo>, me: BankId) -> impl IntoView {
    (banks.len() > 1).then(|| {
        let start = ServerAction::<StartLink>::new();
        let value = last_result(start.value());
        let query = use_query_map();
        let just_linked = move || {
            query
                .read()
                .get("linked")
                .and_then(|b| b.parse::<u16>().ok())
                .and_then(|b| BankId::try_from(b).ok())
        };
        let names = banks.clone();
        let empty = linked.is_empty();
        let others: Vec<BankInfo> = banks.into_iter().filter(|b| b.id != me).collect();
        view! {
            <section class="card" id="linked">
                <h2>"Your accounts at other banks"</h2>
                {move || just_linked().map(|b| view! {
                    <p class="ok" role="status">{format!("Your account at {} is linked.", crate::text::bank_name(b, &names))}</p>
                })}
                {empty.then(|| view! { <p class="muted">"No linked accounts yet. Link one to pay from it in Pix packets: you approve it at that bank, within the limits you choose."</p> })}
                <table class:hidden=empty>
                    <thead><tr><th>"Bank"</th><th>"Account"</th><th>"Allowed"</th><th>"Status"</th><th class="num">"Available"</th><th class="num">"Blocked"</th></tr></thead>
                    <tbody>
                        {linked.into_iter().map(|l| {
                            let (status, label) = match l.status {
                                LinkStatus::Active => ("active", "Active"),
                                LinkStatus::Ended => ("ended", "Revoked or expired"),
                                LinkStatus::Unreachable => ("unreachable", "Bank not answering"),
                            };
                            let money = |c: Option<Cents>| c.map(Cents::to_brl).unwrap_or_else(|| "—".into());
                            view! {
                                <tr class="linked-row" data-bank=u16::from(l.bank.id) data-status=status>
                                    <td>{l.bank.name.clone()}</td>
                                    <td>{format!("{} · {}", l.account, l.owner_name)}</td>
                                    <td>{crate::text::terms(&l.terms)}</td>
                                    <td><span class=format!("badge {status}")>{label}</span></td>
                                    <td class="num">{money(l.available)}</td>
                                    <td class="num">{money(l.blocked)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                <ActionForm action=start attr:class="form inline-form" attr:id="link-form">
                    <label>"Link an account at"
                        <select name="bank">
                            {others.into_iter().map(|b| view! { <option value=u16::from(b.id).to_string()>{b.name.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    {field_error(value, "bank")}
                    {error_banner(value)}
                    <button type="submit" disabled=move || start.pending().get()>"Link account"</button>
                </ActionForm>
                <p class="muted">"You approve a link at the other bank's own site and can revoke it there at any time. Consents you gave at this bank: " <a href="/consents">"Consents"</a></p>
            </section>
        }
    })
}

#[component]
fn PixCard(
    send: ServerAction<SendPix>,
    tx_id: RwSignal<String>,
    banks: Vec<BankInfo>,
    me: BankId,
) -> impl IntoView {
    let query = use_query_map();
    let key = move || query.read().get("pix_key").unwrap_or_default();
    let amount = move || query.read().get("pix_amount").unwrap_or_default();
    let bank = move || {
        query
            .read()
            .get("pix_bank")
            .unwrap_or_else(|| u16::from(me).to_string())
    };
    let sent = move || query.read().get("sent");
    let preview = Resource::new(
        move || (key(), bank()),
        |(key, bank)| async move {
            if key.trim().is_empty() {
                None
            } else {
                Some(lookup_receiver(key, Some(bank)).await)
            }
        },
    );
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
                                        <input type="hidden" name="tx_id" value=move || tx_id.get()/>
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
    .into_any()
}

#[component]
fn History(entries: Vec<EntryView>) -> impl IntoView {
    let empty = entries.is_empty();
    view! {
        <section class="card" id="history">
            <h2>"Statement"</h2>
            {empty.then(|| view! { <p class="muted">"No transactions yet. Make a deposit to start."</p> })}
            <table class:hidden=empty>
                <thead><tr><th>"When"</th><th>"Description"</th><th class="num">"Amount"</th><th>"Status"</th><th class="num">"Balance after"</th></tr></thead>
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
        (EntryKind::PixOut, Some(c)) => {
            format!("Pix to {} ({} · bank {})", c.name, c.key_masked, c.bank)
        }
        (EntryKind::PixIn, Some(c)) => {
            format!("Pix from {} ({} · bank {})", c.name, c.key_masked, c.bank)
        }
        (EntryKind::PixOut, None) => "Pix sent".to_string(),
        (EntryKind::PixIn, None) => "Pix received".to_string(),
    };
    let signed = Cents::new(entry.amount.get() * entry.kind.sign());
    let sign_class = if entry.kind.sign() > 0 {
        "num credit"
    } else {
        "num debit"
    };
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
            <td class="num balance-after">{entry.balance_after.map(|b| b.to_brl()).unwrap_or_default()}</td>
        </tr>
    }
}
