//! The client's dashboard: balances, linked accounts, deposit, quick Pix with a review (the
//! receiver's name, masked document and bank, checked against the client's own account and
//! balance before anything is sent), the packet builder and the statement.
//!
//! The Pix review is kept in the page, never in the URL: a CPF is personal data, and addresses
//! end up in histories and logs. Confirming carries a transaction id fixed when the page was
//! rendered, so a double submit pays once.

use crate::api::{
    get_dashboard, lookup_receiver, AddFavourite, CancelScheduled, DashboardPage as Page, Deposit,
    Logout, RemoveFavourite, SchedulePacket, SchedulePix, SendPacket, SendPix, StartLink,
};
use crate::error::AppError;
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use crate::pages::packet::PacketBuilder;
use crate::pages::receipt::{self, status_class, status_label};
use crate::pages::{error_banner, every, field_error, last_result, masked_into};
use crate::text::Say;
use domain::contacts::Contact;
use domain::dto::{
    BankInfo, EntryKind, EntryView, LinkStatus, LinkedAccount, ReceiverPreview, TxStatus,
};
use domain::input::Mask;
use domain::pix_limits::{LimitsView, Period};
use domain::pix_message::MESSAGE_MAX_CHARS;
use domain::schedule::{ScheduleStatus, ScheduledView, ScheduledWhat};
use domain::time_fmt::{format_brasilia_date, format_brasilia_time};
use domain::BankId;
use domain::{Cents, PixKey, PixMessage};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let i18n = use_i18n();
    let initial = Resource::new(|| (), |_| get_dashboard());
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.dashboard).to_string()/>
        <Suspense fallback=move || view! { <p class="muted">{t!(i18n, dashboard.loading)}</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok(page) => view! { <Overview page/> }.into_any(),
                    Err(AppError::NotLoggedIn) => view! {
                        <section class="card narrow">
                            <h1>{t!(i18n, dashboard.login_title)}</h1>
                            <p>{t!(i18n, dashboard.login_text)}</p>
                            <a class="button primary" href="/login?next=/dashboard">{t!(i18n, common.log_in)}</a>
                            <p class="muted">{t!(i18n, dashboard.new_here)} <a href="/signup">{t!(i18n, landing.open)}</a></p>
                        </section>
                    }.into_any(),
                    Err(AppError::SessionEnded) => view! {
                        <section class="card narrow">
                            <h1>{t!(i18n, dashboard.ended_title)}</h1>
                            <p>{t!(i18n, dashboard.ended_text)}</p>
                            <a class="button primary" href="/login?next=/dashboard">{t!(i18n, common.log_in)}</a>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <section class="card"><p class="error" role="alert">{e.message(i18n.get_locale())}</p></section> }.into_any(),
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
    let schedule = ServerAction::<SchedulePix>::new();
    let cancel = ServerAction::<CancelScheduled>::new();
    let favourite = ServerAction::<AddFavourite>::new();
    let unfavourite = ServerAction::<RemoveFavourite>::new();
    let packet = ServerAction::<SendPacket>::new();
    let schedule_packet = ServerAction::<SchedulePacket>::new();
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
    // Scheduling, cancelling and saving favourites change only lists: fresh figures, no id to
    // renew.
    for version in [
        schedule.version(),
        schedule_packet.version(),
        cancel.version(),
        favourite.version(),
        unfavourite.version(),
    ] {
        Effect::new(move |previous: Option<usize>| {
            let v = version.get();
            if previous.is_some_and(|p| p != v) {
                refresh();
            }
            v
        });
    }
    renew_after(
        packet.version(),
        move || matches!(packet.value().get_untracked(), Some(Ok(_))),
        page,
        packet_id,
        |p| p.packet_tx_id.clone(),
    );
    let i18n = use_i18n();
    // The holder logged in: each holder of a joint account is greeted by their own name.
    let holder = move || page.with(|p| p.holder_name.clone());
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
                <h1>{move || t_string!(i18n, dashboard.hello, name = holder()).to_string()}</h1>
                <p class="muted">{move || t_string!(i18n, dashboard.account_line, account = account_id, bank = bank_name.clone()).to_string()}</p>
                <ActionForm action=logout attr:class="inline"><button type="submit" class="link">{t!(i18n, common.log_out)}</button></ActionForm>
            </div>
            <div class="figures">
                <div><span class="label">{t!(i18n, common.available)}</span><strong id="available">{move || page.with(|p| p.dashboard.account.available.to_brl())}</strong></div>
                <div><span class="label">{t!(i18n, common.blocked)}</span><strong id="blocked">{move || page.with(|p| p.dashboard.account.blocked.to_brl())}</strong></div>
            </div>
            <p class="muted" id="limit-line">{move || page.with(|p| limit_left(i18n.get_locale(), &p.limits))}
                " "<a href="/limits">{t!(i18n, limits.adjust)}</a></p>
        </section>
        <div class="columns">
            // Pix first and primary: it is what a client comes for; a deposit is the exception.
            <PixCard send schedule favourite unfavourite tx_id=pix_id page/>
            <DepositCard deposit tx_id=deposit_id/>
        </div>
        {move || view! { <Linked linked=page.with(|p| p.linked.clone()) banks=page.with(|p| p.banks.clone()) me/> }}
        {(banks.len() > 1).then(|| view! { <PacketBuilder page action=packet schedule=schedule_packet tx_id=packet_id/> })}
        {move || view! { <Scheduled list=page.with(|p| p.scheduled.clone()) banks=page.with(|p| p.banks.clone()) cancel/> }}
        {move || view! { <History entries=page.with(|p| p.dashboard.recent.clone()) banks=page.with(|p| p.banks.clone())/> }}
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
    let i18n = use_i18n();
    let value = last_result(deposit.value());
    // Cleared once a deposit went through, so that a second one takes a new amount.
    let amount = RwSignal::new(String::new());
    Effect::new(move |previous: Option<usize>| {
        let v = deposit.version().get();
        if previous.is_some_and(|p| p != v) && matches!(value.get_untracked(), Some(Ok(_))) {
            amount.set(String::new());
        }
        v
    });
    view! {
        <section class="card" id="deposit">
            <h2>{t!(i18n, deposit.title)}</h2>
            <ActionForm action=deposit attr:class="form">
                <input type="hidden" name="tx_id" value=move || tx_id.get()/>
                <label>{t!(i18n, common.amount_brl)} <input name="amount" inputmode="decimal" placeholder="R$ 150,00" required maxlength="40"
                    prop:value=move || amount.get() on:input=masked_into(Mask::Amount, amount) on:blur=crate::pages::tidied_into(Mask::Amount, amount)/></label>
                <label>{t!(i18n, deposit.method)}
                    <select name="method">
                        {domain::dto::DepositMethod::ALL.map(|m| view! {
                            <option value=m.as_str()>{move || crate::text::deposit_method(i18n.get_locale(), m)}</option>
                        })}
                    </select>
                </label>
                {field_error(value, "method")}
                {field_error(value, "amount")}
                {error_banner(value)}
                {move || match value.get() {
                    Some(Ok(amount)) => Some(view! { <p class="ok" role="status">{t_string!(i18n, deposit.received, amount = amount.to_brl()).to_string()}</p> }),
                    _ => None,
                }}
                <button type="submit" disabled=move || deposit.pending().get()>{t!(i18n, deposit.submit)}</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// The client's links to accounts at other banks: each one a consent the client gave at that bank
/// (where it is also revoked), with that bank's current answer; and the form that starts a link.
#[component]
fn Linked(linked: Vec<LinkedAccount>, banks: Vec<BankInfo>, me: BankId) -> impl IntoView {
    let i18n = use_i18n();
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
                <h2>{t!(i18n, linked.title)}</h2>
                {move || just_linked().map(|b| view! {
                    <p class="ok" role="status">{t_string!(i18n, linked.done, bank = crate::text::bank_name(i18n.get_locale(), b, &names)).to_string()}</p>
                })}
                {empty.then(|| view! { <p class="muted">{t!(i18n, linked.empty)}</p> })}
                <div class="scroll-x">
                <table class:hidden=empty>
                    <thead><tr><th>{t!(i18n, common.bank)}</th><th>{t!(i18n, common.account)}</th><th>{t!(i18n, linked.allowed)}</th><th>{t!(i18n, common.status)}</th><th class="num">{t!(i18n, common.available)}</th><th class="num">{t!(i18n, common.blocked)}</th></tr></thead>
                    <tbody>
                        {linked.into_iter().map(|l| {
                            let (status, label) = match l.status {
                                LinkStatus::Active => ("active", t_string!(i18n, linked.active)),
                                LinkStatus::Ended => ("ended", t_string!(i18n, linked.ended)),
                                LinkStatus::Unreachable => ("unreachable", t_string!(i18n, linked.unreachable)),
                            };
                            let money = |c: Option<Cents>| c.map(Cents::to_brl).unwrap_or_else(|| "—".into());
                            view! {
                                <tr class="linked-row" data-bank=u16::from(l.bank.id) data-status=status>
                                    <td>{l.bank.name.clone()}</td>
                                    <td>{format!("{} · {}", l.account, l.owner_name)}</td>
                                    <td>{crate::text::terms(i18n.get_locale_untracked(), &l.terms)}</td>
                                    <td><span class=format!("badge {status}")>{label}</span></td>
                                    <td class="num">{money(l.available)}</td>
                                    <td class="num">{money(l.blocked)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
                <ActionForm action=start attr:class="form inline-form" attr:id="link-form">
                    <label>{t!(i18n, linked.link_at)}
                        <select name="bank">
                            {others.into_iter().map(|b| view! { <option value=u16::from(b.id).to_string()>{b.name.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    {field_error(value, "bank")}
                    {error_banner(value)}
                    <button type="submit" disabled=move || start.pending().get()>{t!(i18n, linked.submit)}</button>
                </ActionForm>
                <p class="muted">{t!(i18n, linked.note)} <a href="/consents">{t!(i18n, linked.consents)}</a></p>
            </section>
        }
    })
}

/// Brasília day `day` as the client reads it: `08/12/2026`.
pub(crate) fn day_shown(day: i64) -> String {
    format_brasilia_date(domain::schedule::runs_from_ms(day))
}

/// Whom a scheduled Pix pays, as the message after scheduling names it.
fn scheduled_to(what: &ScheduledWhat) -> String {
    match what {
        ScheduledWhat::Pix { receiver_name, .. } => receiver_name.clone(),
        ScheduledWhat::Packet { .. } => String::new(),
    }
}

/// A date input's `yyyy-mm-dd` as the client reads it: `08/12/2026`.
pub(crate) fn date_shown(date: &str) -> String {
    domain::time_fmt::end_of_brasilia_day(date)
        .map(format_brasilia_date)
        .unwrap_or_else(|| date.to_string())
}

/// The client's scheduled Pix (Pix agendado): each with its day, amount, receiver and where it
/// stands; one waiting can be cancelled (asked first), one sent opens its comprovante, one not
/// sent says why.
#[component]
fn Scheduled(
    list: Vec<ScheduledView>,
    banks: Vec<BankInfo>,
    cancel: ServerAction<CancelScheduled>,
) -> impl IntoView {
    let i18n = use_i18n();
    let cancelled = last_result(cancel.value());
    (!list.is_empty()).then(|| view! {
        <section class="card" id="scheduled">
            <h2>{t!(i18n, schedule.title)}</h2>
            {error_banner(cancelled)}
            <ul class="scheduled-list">
                {list.into_iter().map(|s| {
                    let l = i18n.get_locale_untracked();
                    let what = match &s.what {
                        ScheduledWhat::Pix { key_masked, receiver_name, receiver_bank } => {
                            let bank = crate::text::bank_name(l, *receiver_bank, &banks);
                            format!(" · {receiver_name} · {key_masked} · {bank}")
                        }
                        ScheduledWhat::Packet { legs } => format!(" · {}", td_string!(l, schedule.packet_line, count = legs.len())),
                    };
                    let kind = match s.what { ScheduledWhat::Pix { .. } => "pix", ScheduledWhat::Packet { .. } => "packet" };
                    let (class, label) = match s.status {
                        ScheduleStatus::Waiting => ("pending", td_string!(l, schedule.waiting).to_string()),
                        ScheduleStatus::Running => ("pending", td_string!(l, schedule.running).to_string()),
                        ScheduleStatus::Done => ("committed", td_string!(l, schedule.sent).to_string()),
                        ScheduleStatus::Cancelled => ("neutral", td_string!(l, schedule.cancelled).to_string()),
                        ScheduleStatus::Failed { why } => ("neutral", td_string!(l, schedule.failed, why = crate::text::schedule_failure(l, why, &banks)).to_string()),
                    };
                    let waiting = s.status == ScheduleStatus::Waiting;
                    let receipt_link = s.tx_id.clone().filter(|_| s.status == ScheduleStatus::Done);
                    view! {
                        <li class="scheduled-row" data-id=s.id.to_string() data-status=class data-kind=kind>
                            <strong>{day_shown(s.day)}</strong>
                            " "<strong>{s.amount.to_brl()}</strong>
                            <span>{what}</span>
                            <span class=format!("badge {class}")>{label}</span>
                            {receipt_link.map(|tx| view! { " "<a class="open-receipt" href=receipt::href(tx.as_str())>{t!(i18n, receipt.open)}</a> })}
                            {waiting.then(|| view! {
                                <details class="confirm-delete">
                                    <summary class="link danger">{t!(i18n, schedule.cancel)}</summary>
                                    <ActionForm action=cancel attr:class="inline">
                                        <input type="hidden" name="id" value=s.id.to_string()/>
                                        <span>{t!(i18n, schedule.cancel_confirm)}</span>
                                        " "<button type="submit" class="danger">{t!(i18n, schedule.cancel_yes)}</button>
                                    </ActionForm>
                                </details>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {move || matches!(cancelled.get(), Some(Ok(_))).then(|| view! {
                <p class="ok" role="status" id="schedule-cancelled">{t!(i18n, schedule.cancelled_ok)}</p>
            })}
        </section>
    })
}

/// What remains of the client's Pix limit in this period, and until when, as a sentence.
fn limit_left(l: Locale, limits: &LimitsView) -> String {
    let remaining = limits.remaining.to_brl();
    let until = domain::time_fmt::format_brasilia_time(limits.period_ends_ms);
    match limits.period {
        Period::Day => td_string!(l, limits.left_day, remaining = remaining, until = until),
        Period::Night => td_string!(l, limits.left_night, remaining = remaining, until = until),
    }
    .to_string()
}

/// What the Pix review found: the receiver, the amount, and what is sent on confirmation.
#[derive(Clone, Debug, PartialEq)]
struct PixReview {
    receiver: ReceiverPreview,
    amount: Cents,
    key: String,
    bank: String,
    amount_text: String,
    /// The day it is scheduled for (`yyyy-mm-dd`); `None`: sent now.
    date: Option<String>,
    /// The payer's message, as it will be sent (empty: none).
    message: PixMessage,
}

/// Looks `key` up in the directory and checks the Pix against the client's own keys and balance.
async fn review_pix(
    (key, amount_text, message): (String, String, String),
    date: String,
    page: RwSignal<Page>,
    l: Locale,
) -> Result<PixReview, (&'static str, String)> {
    let date = Some(date.trim().to_string()).filter(|d| !d.is_empty());
    let pix_key = PixKey::parse(&key).map_err(|e| ("key", e.say(l)))?;
    let amount = Cents::parse_amount(&amount_text).map_err(|e| ("amount", e.say(l)))?;
    let message = PixMessage::parse(&message).map_err(|e| ("message", e.say(l)))?;
    let (mine, available, limits) = page.with_untracked(|p| {
        (
            p.keys.contains(&pix_key.canonical()),
            p.dashboard.account.available,
            p.limits.clone(),
        )
    });
    if mine {
        return Err(("key", td_string!(l, pix.own).to_string()));
    }
    // A scheduled Pix meets the balance and the limit of its day, checked then.
    if date.is_none() && amount > available {
        return Err((
            "amount",
            td_string!(l, pix.insufficient, available = available.to_brl()).to_string(),
        ));
    }
    if date.is_none() && amount > limits.remaining {
        return Err(("amount", limit_left(l, &limits)));
    }
    let receiver = lookup_receiver(pix_key.canonical(), None)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => ("key", td_string!(l, pix.no_key).to_string()),
            other => ("", other.message(l)),
        })?;
    Ok(PixReview {
        bank: u16::from(receiver.bank.id).to_string(),
        receiver,
        amount,
        key: pix_key.canonical(),
        amount_text,
        date,
        message,
    })
}

#[component]
fn PixCard(
    send: ServerAction<SendPix>,
    schedule: ServerAction<SchedulePix>,
    favourite: ServerAction<AddFavourite>,
    unfavourite: ServerAction<RemoveFavourite>,
    tx_id: RwSignal<String>,
    page: RwSignal<Page>,
) -> impl IntoView {
    let i18n = use_i18n();
    let key = RwSignal::new(String::new());
    let amount = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let date = RwSignal::new(String::new());
    let scheduled = last_result(schedule.value());
    let review = RwSignal::new(None::<Result<PixReview, (&'static str, String)>>);
    let looking = RwSignal::new(false);
    let value = last_result(send.value());
    // The receiver a tap on "pay again" filled in, for the line that says so.
    let filled = RwSignal::new(None::<String>);
    let amount_input = NodeRef::<leptos::html::Input>::new();
    let review_title = NodeRef::<leptos::html::H3>::new();
    let start_review = move || {
        looking.set(true);
        let typed = (
            key.get_untracked(),
            amount.get_untracked(),
            message.get_untracked(),
        );
        let d = date.get_untracked();
        leptos::task::spawn_local(async move {
            let answer = review_pix(typed, d, page, i18n.get_locale_untracked()).await;
            looking.set(false);
            review.set(Some(answer));
        });
    };
    let open_review = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        start_review();
    };
    // One tap on a receiver to pay again fills its key; with an amount already typed it opens
    // the review at once (the second tap confirms), else the amount field takes the focus.
    let pay_again = move |contact: Contact| {
        key.set(contact.key.clone());
        review.set(None);
        filled.set(Some(contact.name.clone()));
        if amount.get_untracked().trim().is_empty() {
            if let Some(input) = amount_input.get_untracked() {
                let _ = input.focus();
            }
        } else {
            start_review();
        }
    };
    // When the review opens, the focus moves to its heading: a screen reader reads it, and the
    // keyboard goes on from there to "Confirm".
    Effect::new(move |_| {
        if let Some(title) = review_title.get() {
            let _ = title.focus();
        }
    });
    // A Pix that went through (or was scheduled) clears the form: the next one starts from
    // scratch.
    Effect::new(move |previous: Option<(usize, usize)>| {
        let v = (send.version().get(), schedule.version().get());
        let done = previous.is_some_and(|p| p.0 != v.0)
            && matches!(value.get_untracked(), Some(Ok(_)))
            || previous.is_some_and(|p| p.1 != v.1)
                && matches!(scheduled.get_untracked(), Some(Ok(_)));
        if done {
            key.set(String::new());
            amount.set(String::new());
            message.set(String::new());
            date.set(String::new());
            review.set(None);
            filled.set(None);
        }
        v
    });
    let problem = move |field: &'static str| {
        move || match review.get() {
            Some(Err((f, m))) if f == field => {
                Some(view! { <span class="field-error" role="alert" data-field=field>{m}</span> })
            }
            _ => None,
        }
    };
    // Effects run only in the browser, once the page is hydrated.
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    view! {
        <section class="card" id="pix">
            <h2>{t!(i18n, pix.title)}</h2>
            <p class="pix-links"><a href="/receive">{t!(i18n, nav.receive)}</a>" · "<a href="/pay">{t!(i18n, nav.pay)}</a></p>
            <noscript><p class="error">{t!(i18n, pix.noscript)}</p></noscript>
            {move || match scheduled.get() {
                Some(Ok(s)) => Some(view! {
                    <p class="ok" role="status" id="pix-scheduled">{t_string!(i18n, schedule.done, amount = s.amount.to_brl(), name = scheduled_to(&s.what), date = day_shown(s.day)).to_string()}</p>
                }),
                _ => None,
            }}
            {move || match value.get() {
                Some(Ok(r)) => Some(view! {
                    <p class="ok" role="status">{t_string!(i18n, pix.sent, amount = r.amount.to_brl(), name = r.receiver.name.clone()).to_string()}
                        " "<a class="open-receipt" id="pix-receipt" href=receipt::href(r.tx_id.as_str())>{t!(i18n, receipt.open)}</a></p>
                }),
                _ => None,
            }}
            <PayAgain page favourite unfavourite interactive pay_again hidden=Signal::derive(move || matches!(review.get(), Some(Ok(_))))/>
            // Until the page is interactive the review cannot open: its button stays disabled (so
            // neither it nor Enter submits), and the form would post, never put the receiver's key
            // and the amount in an address.
            <form class="form" id="pix-form" method="post" on:submit=open_review class:hidden=move || matches!(review.get(), Some(Ok(_)))>
                <label>{t!(i18n, pix.key)} <input name="pix_key" required maxlength="80" autocomplete="off" bind:value=key
                    on:input=move |_| filled.set(None)/></label>
                {move || filled.get().map(|name| view! {
                    <p class="muted" role="status" id="pay-again-filled">{t_string!(i18n, contacts.filled, name = name).to_string()}</p>
                })}
                {problem("key")}
                <label>{t!(i18n, common.amount_brl)} <input name="pix_amount" inputmode="decimal" required maxlength="40" placeholder="R$ 0,00"
                    node_ref=amount_input prop:value=move || amount.get() on:input=masked_into(Mask::Amount, amount) on:blur=crate::pages::tidied_into(Mask::Amount, amount)/></label>
                {problem("amount")}
                <label>{t!(i18n, pix.message)} <input name="pix_message" maxlength=MESSAGE_MAX_CHARS.to_string() autocomplete="off" bind:value=message/>
                    <span class="muted hint">{t!(i18n, pix.message_hint)}</span> <crate::pages::MessageCount text=message/></label>
                {problem("message")}
                <label>{t!(i18n, schedule.date)} <input type="date" name="pix_date" min=move || page.with(|p| p.first_schedule_day.clone()) bind:value=date/>
                    <span class="muted hint">{t!(i18n, schedule.date_hint)}</span></label>
                {problem("")}
                <button type="submit" class="primary" disabled=move || looking.get() || !interactive.get()>{t!(i18n, pix.review)}</button>
            </form>
            {move || match review.get() {
                Some(Ok(r)) => Some(match r.date.clone() {
                    None => view! {
                    <div class="confirm" id="pix-confirm">
                        <h3 class="review-title" id="pix-review-title" tabindex="-1" node_ref=review_title>{t!(i18n, pix.review_title)}</h3>
                        <p>{t!(i18n, pix.sending)} <strong>{r.amount.to_brl()}</strong> {t!(i18n, pix.to)}</p>
                        <p class="receiver"><strong id="receiver-name">{r.receiver.name.clone()}</strong>
                           <span class="muted">{format!(" · {} · {}", r.receiver.key_masked, r.receiver.bank.name)}</span></p>
                        {review_message(&r.message)}
                        <p class="muted" id="pix-limit-left">{move || page.with(|p| limit_left(i18n.get_locale(), &p.limits))}
                           " "<a href="/limits">{t!(i18n, limits.adjust)}</a></p>
                        <ActionForm action=send attr:class="form">
                            <input type="hidden" name="key" value=r.key.clone()/>
                            <input type="hidden" name="bank" value=r.bank.clone()/>
                            <input type="hidden" name="amount" value=r.amount_text.clone()/>
                            <input type="hidden" name="message" value=r.message.to_string()/>
                            <input type="hidden" name="tx_id" value=move || tx_id.get()/>
                            {field_error(value, "amount")}
                            {field_error(value, "message")}
                            {error_banner(value)}
                            <div class="actions">
                                <button type="submit" class="primary" disabled=move || send.pending().get()>{t!(i18n, pix.confirm)}</button>
                                <button type="button" on:click=move |_| review.set(None) disabled=move || send.pending().get()>{t!(i18n, pix.change)}</button>
                            </div>
                        </ActionForm>
                    </div>
                    }.into_any(),
                    Some(day) => view! {
                    <div class="confirm" id="pix-confirm">
                        <h3 class="review-title" id="pix-review-title" tabindex="-1" node_ref=review_title>{t!(i18n, pix.review_title)}</h3>
                        <p>{t!(i18n, schedule.scheduling)} <strong>{r.amount.to_brl()}</strong> {t!(i18n, pix.to)}</p>
                        <p class="receiver"><strong id="receiver-name">{r.receiver.name.clone()}</strong>
                           <span class="muted">{format!(" · {} · {}", r.receiver.key_masked, r.receiver.bank.name)}</span></p>
                        {review_message(&r.message)}
                        <p id="schedule-day">{t_string!(i18n, schedule.on_day, date = date_shown(&day)).to_string()}</p>
                        <p class="muted">{t!(i18n, schedule.rules)}</p>
                        <ActionForm action=schedule attr:class="form">
                            <input type="hidden" name="key" value=r.key.clone()/>
                            <input type="hidden" name="bank" value=r.bank.clone()/>
                            <input type="hidden" name="amount" value=r.amount_text.clone()/>
                            <input type="hidden" name="date" value=day.clone()/>
                            <input type="hidden" name="message" value=r.message.to_string()/>
                            {field_error(scheduled, "message")}
                            {field_error(scheduled, "date")}
                            {field_error(scheduled, "amount")}
                            {error_banner(scheduled)}
                            <div class="actions">
                                <button type="submit" class="primary" id="schedule-confirm" disabled=move || schedule.pending().get()>{t!(i18n, schedule.confirm)}</button>
                                <button type="button" on:click=move |_| review.set(None) disabled=move || schedule.pending().get()>{t!(i18n, pix.change)}</button>
                            </div>
                        </ActionForm>
                    </div>
                    }.into_any(),
                }),
                _ => None,
            }}
        </section>
    }
    .into_any()
}

/// The payer's message as the review shows it, before the client confirms (nothing for none).
fn review_message(message: &PixMessage) -> impl IntoView {
    let i18n = use_i18n();
    message.shown().map(|m| {
        view! {
            <p class="pix-message" id="pix-review-message">{t!(i18n, pix.message_shown)}": “"<span class="message-text">{m.to_string()}</span>"”"</p>
        }
    })
}

/// "Pay again": the client's favourites, then the recent receivers not among them, each a button
/// that fills the Pix form with its key (names and documents masked, as any receiver's), with
/// "Favourite" or "Remove" beside it: small forms, so that they post before the page is
/// interactive too.
#[component]
fn PayAgain(
    page: RwSignal<Page>,
    favourite: ServerAction<AddFavourite>,
    unfavourite: ServerAction<RemoveFavourite>,
    interactive: RwSignal<bool>,
    pay_again: impl Fn(Contact) + Copy + Send + Sync + 'static,
    hidden: Signal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    let saved = last_result(favourite.value());
    let removed = last_result(unfavourite.value());
    let row = move |c: Contact, is_favourite: bool| {
        let l = i18n.get_locale_untracked();
        let bank = page.with_untracked(|p| crate::text::bank_name(l, c.bank, &p.banks));
        let label = td_string!(
            l,
            contacts.pay_label,
            name = c.name.clone(),
            key = c.key_shown.clone(),
            bank = bank.clone()
        )
        .to_string();
        let key = c.key.clone();
        let name = c.name.clone();
        let tapped = c.clone();
        // A CPF key is its holder's document: shown once.
        let detail = if c.key_shown == c.document {
            format!("{} · {}", c.key_shown, bank)
        } else {
            format!("{} · {} · {}", c.key_shown, c.document, bank)
        };
        let side = if is_favourite {
            view! {
                <ActionForm action=unfavourite attr:class="inline contact-side">
                    <input type="hidden" name="key" value=key.clone()/>
                    <button type="submit" class="link" aria-label=td_string!(l, contacts.remove_label, name = name.clone()).to_string()>{t!(i18n, contacts.remove)}</button>
                </ActionForm>
            }
            .into_any()
        } else {
            view! {
                <ActionForm action=favourite attr:class="inline contact-side">
                    <input type="hidden" name="key" value=key.clone()/>
                    <button type="submit" class="link" aria-label=td_string!(l, contacts.save_label, name = name.clone()).to_string()>{t!(i18n, contacts.save)}</button>
                </ActionForm>
            }
            .into_any()
        };
        view! {
            <li class="contact" data-key=c.key_shown.clone()>
                <button type="button" class="contact-pay" aria-label=label disabled=move || !interactive.get()
                    on:click=move |_| pay_again(tapped.clone())>
                    <strong>{c.name.clone()}</strong>
                    <span class="muted">{detail}</span>
                </button>
                {side}
            </li>
        }
    };
    // Polling refreshes `page` every two seconds; the list is drawn again only when it changed.
    let book = Memo::new(move |_| page.with(|p| p.contacts.clone()));
    let list = move || {
        let book = book.get();
        let favourite_keys: Vec<String> = book.favourites.iter().map(|f| f.key.clone()).collect();
        let recent: Vec<Contact> = book
            .recent
            .into_iter()
            .filter(|c| !favourite_keys.contains(&c.key))
            .collect();
        let favourites = book.favourites;
        (!(favourites.is_empty() && recent.is_empty())).then(|| view! {
            <h3>{t!(i18n, contacts.title)}</h3>
            {(!favourites.is_empty()).then(|| view! {
                <p class="label">{t!(i18n, contacts.favourites)}</p>
                <ul class="contacts" id="favourites">{favourites.into_iter().map(|c| row(c, true)).collect_view()}</ul>
            })}
            {(!recent.is_empty()).then(|| view! {
                <p class="label">{t!(i18n, contacts.recent)}</p>
                <ul class="contacts" id="recent-receivers">{recent.into_iter().map(|c| row(c, false)).collect_view()}</ul>
            })}
        })
    };
    view! {
        <div class="pay-again" id="pay-again" class:hidden=move || hidden.get()>
            {list}
            {error_banner(saved)}
            {error_banner(removed)}
            {move || matches!(saved.get(), Some(Ok(_))).then(|| view! { <p class="ok" role="status" id="favourite-saved">{t!(i18n, contacts.saved)}</p> })}
            {move || matches!(removed.get(), Some(Ok(_))).then(|| view! { <p class="ok" role="status" id="favourite-removed">{t!(i18n, contacts.removed)}</p> })}
        </div>
    }
}

/// The statement, grouped by day (Brasília), newest first. Every row opens its comprovante. A
/// credit appears only once it arrived (the bank leaves others out); a transfer the client sent
/// that was cancelled reads "not concluded", in a neutral colour, with its reason, and moved no
/// money.
#[component]
fn History(entries: Vec<EntryView>, banks: Vec<BankInfo>) -> impl IntoView {
    let i18n = use_i18n();
    let empty = entries.is_empty();
    view! {
        <section class="card" id="history">
            <h2>{t!(i18n, history.title)}</h2>
            {empty.then(|| view! { <p class="muted">{t!(i18n, history.empty)}</p> })}
            <table class:hidden=empty class="statement">
                <thead><tr><th class="when">{t!(i18n, history.when)}</th><th>{t!(i18n, history.description)}</th><th class="num">{t!(i18n, history.amount)}</th><th class="num balance-after">{t!(i18n, history.balance_after)}</th></tr></thead>
                {by_day(entries).into_iter().map(|(day, rows)| {
                    let key = day.replace('/', "-");
                    view! {
                        <tbody class="day" data-day=key>
                            <tr class="day-row"><th colspan="4" scope="rowgroup">{day}</th></tr>
                            {rows.into_iter().map(|e| view! { <Row entry=e banks=banks.clone()/> }).collect_view()}
                        </tbody>
                    }
                }).collect_view()}
            </table>
        </section>
    }
}

/// Entries (newest first) in runs of one Brasília day each, with that day's date.
fn by_day(entries: Vec<EntryView>) -> Vec<(String, Vec<EntryView>)> {
    let mut days: Vec<(String, Vec<EntryView>)> = Vec::new();
    for e in entries {
        let day = format_brasilia_date(e.created_ms);
        match days.last_mut() {
            Some((d, rows)) if *d == day => rows.push(e),
            _ => days.push((day, vec![e])),
        }
    }
    days
}

#[component]
fn Row(entry: EntryView, banks: Vec<BankInfo>) -> impl IntoView {
    let i18n = use_i18n();
    let reason_banks = banks.clone();
    let bank = move |id: BankId| crate::text::bank_name(i18n.get_locale(), id, &banks);
    let kind = entry.kind;
    let counterparty = entry.counterparty.clone();
    let method = entry.deposit_method;
    let description = move || match (&kind, &counterparty) {
        (EntryKind::Deposit, _) => match method {
            Some(m) => {
                let word = crate::text::deposit_method(i18n.get_locale(), m);
                t_string!(i18n, history.deposit_by, method = word).to_string()
            }
            None => t_string!(i18n, history.deposit).to_string(),
        },
        (EntryKind::PixOut, Some(c)) => t_string!(
            i18n,
            history.pix_to,
            name = c.name.clone(),
            key = c.key_masked.clone(),
            bank = bank(c.bank)
        )
        .to_string(),
        (EntryKind::PixIn, Some(c)) => t_string!(
            i18n,
            history.pix_from,
            name = c.name.clone(),
            key = c.key_masked.clone(),
            bank = bank(c.bank)
        )
        .to_string(),
        (EntryKind::PixOut, None) => t_string!(i18n, history.pix_sent).to_string(),
        (EntryKind::PixIn, None) => t_string!(i18n, history.pix_received).to_string(),
    };
    let status = entry.status;
    // Money moved only once committed; a transfer not concluded shows its amount unsigned and
    // neutral, a pending one signed (it is reserved).
    let (shown, amount_class) = match (status, entry.kind.sign() > 0) {
        (TxStatus::Aborted, _) => (entry.amount, "num void"),
        (_, true) => (entry.amount, "num credit"),
        (_, false) => (Cents::new(-entry.amount.get()), "num debit"),
    };
    let label = move || status_label(i18n.get_locale(), kind, status);
    let reason = entry.reason;
    let reason = move || {
        reason
            .filter(|_| status == TxStatus::Aborted)
            .map(|r| crate::text::refusal(i18n.get_locale(), r, &reason_banks))
    };
    let link = receipt::href(entry.tx_id.as_str());
    // The payer's message, on both sides, as a line of its own under the description.
    let message = entry.message.shown().map(|m| {
        view! { <span class="entry-message muted">"“"{m.to_string()}"”"</span> }
    });
    // A Pix received (committed, not itself a return) may be returned from its row.
    let returnable = entry.kind == EntryKind::PixIn
        && status == TxStatus::Committed
        && entry.returned_for.is_none();
    let return_link = returnable.then(|| {
        let href = format!("/return/{}", entry.tx_id.as_str());
        view! { " "<a class="return-link" href=href>{t!(i18n, history.return_link)}</a> }
    });
    view! {
        <tr class="tx-row" data-status=status.as_str() data-kind=entry.kind.as_str() data-tx=entry.tx_id.to_string()>
            <td class="when">{format_brasilia_time(entry.created_ms)}</td>
            <td class="what">
                <a class="open-receipt" href=link>{description}</a>
                {message}
                " "<span class=status_class(status)>{label}</span>
                {move || reason().map(|r| view! { <span class="reason muted">{r}</span> })}
                {return_link}
            </td>
            <td class=amount_class>{shown.to_brl()}</td>
            <td class="num balance-after">{entry.balance_after.map(|b| b.to_brl()).unwrap_or_default()}</td>
        </tr>
    }
}
