//! The Pix packet builder: rows of transfers (source among the client's accounts, receiver key and
//! bank, amount), each receiver's name looked up as the row is filled, then a **review** of the
//! whole packet (every transfer with the receiver's name, masked document, bank and amount, and
//! the total per source), then one confirmation, live progress per transfer and the outcome.
//!
//! Sending twice cannot happen by accident: the transaction id is fixed when the review opens, so
//! a double click or a resend after a lost answer executes once (the bank treats the same id
//! idempotently); after an outcome the next packet needs a new review with a new id. A packet
//! that went through leaves a cleared builder; a cancelled one keeps its rows, and the outcome
//! names the transfer that failed, why, and what its source account holds now. A field's problem
//! shows once the field was left or a review was asked for.
//!
//! A packet can instead be scheduled for a later day ("Agendar para"): the review then says the
//! day it runs on, and confirming schedules it (the bank gives it its id on that day, runs it
//! all or nothing through the same ring and 2PC, and the dashboard's scheduled list says how it
//! ended). The balances are those of its day, so only what does not change by then (the rows'
//! shape, each consent's limit per packet) is checked before.
//!
//! Rows are added and removed in the browser, so this form needs the wasm; everything it checks
//! before submitting is checked again by the banks.

use crate::api::{
    lookup_receiver, packet_progress, DashboardPage as Page, LegInput, SchedulePacket, SendPacket,
};
use crate::error::AppError;
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use crate::pages::every;
use crate::text::Say;
use domain::dto::{
    BankInfo, LegState, LinkStatus, PacketOutcome, PacketProgress, ReceiverPreview, TxStatus,
    MAX_PACKET_LEGS,
};
use domain::pix_message::MESSAGE_MAX_CHARS;
use domain::{BankId, Cents, PixKey, PixMessage, Refusal};
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
struct Row {
    id: usize,
    source: RwSignal<String>,
    key: RwSignal<String>,
    amount: RwSignal<String>,
    /// The payer's message to this row's receiver (optional).
    message: RwSignal<String>,
    /// What the receiver's bank says of the key, once it is a valid key.
    preview: RwSignal<Option<Result<ReceiverPreview, AppError>>>,
    /// The client has left the field (its problem may show).
    key_touched: RwSignal<bool>,
    amount_touched: RwSignal<bool>,
}

impl Row {
    fn new(id: usize, me: BankId) -> Row {
        let me = u16::from(me).to_string();
        Row {
            id,
            source: RwSignal::new(me),
            key: RwSignal::new(String::new()),
            amount: RwSignal::new(String::new()),
            message: RwSignal::new(String::new()),
            preview: RwSignal::new(None),
            key_touched: RwSignal::new(false),
            amount_touched: RwSignal::new(false),
        }
    }

    /// The row as sent: the receiver's bank is the one the directory named for the key.
    fn input(&self) -> LegInput {
        LegInput {
            source_bank: self.source.get(),
            receiver_key: self.key.get(),
            receiver_bank: match self.preview.get() {
                Some(Ok(p)) => u16::from(p.bank.id).to_string(),
                _ => String::new(),
            },
            amount: self.amount.get(),
            message: self.message.get(),
        }
    }
}

/// An account the client can pay from.
#[derive(Clone, Debug, PartialEq)]
struct Source {
    bank: BankInfo,
    available: Cents,
    /// For a linked account, what its consent allows per packet.
    per_packet: Option<Cents>,
}

/// The client's accounts that can pay: this bank's and the linked ones whose consent is active and
/// whose bank answered, with what is available.
fn sources(p: &Page) -> Vec<Source> {
    let mut v = vec![Source {
        bank: p.dashboard.bank.clone(),
        available: p.dashboard.account.available,
        per_packet: None,
    }];
    v.extend(p.linked.iter().filter_map(|l| {
        (l.status == LinkStatus::Active).then_some(Source {
            bank: l.bank.clone(),
            available: l.available?,
            per_packet: Some(l.terms.per_packet),
        })
    }));
    v
}

/// What is wrong with the packet as typed, found as early as the data allows.
#[derive(Clone, Debug, Default, PartialEq)]
struct Problems {
    /// Per row (by position): the key's and the amount's problem.
    key: BTreeMap<usize, String>,
    amount: BTreeMap<usize, String>,
    message: BTreeMap<usize, String>,
    /// About the packet as a whole (a source that cannot pay its total).
    packet: Vec<String>,
    /// Rows whose receiver is still being looked up (not a problem, but not ready either).
    looking_up: std::collections::BTreeSet<usize>,
    /// Totals per source bank id (as typed), in cents.
    totals: BTreeMap<String, i64>,
}

impl Problems {
    fn is_empty(&self) -> bool {
        self.key.is_empty()
            && self.amount.is_empty()
            && self.message.is_empty()
            && self.packet.is_empty()
            && self.looking_up.is_empty()
    }
}

/// The client's own account, to tell a Pix to oneself before it is sent.
#[derive(Clone)]
struct Me {
    bank: String,
    /// The account's own Pix keys (canonical).
    keys: Vec<String>,
}

/// What is wrong with the typed rows; a packet `scheduled` for a later day meets the balances of
/// that day, so what the accounts hold now is not held against it.
fn check(
    rows: &[(LegInput, Option<Result<ReceiverPreview, AppError>>)],
    sources: &[Source],
    me: &Me,
    scheduled: bool,
    l: Locale,
) -> Problems {
    let mut p = Problems::default();
    for (i, (row, preview)) in rows.iter().enumerate() {
        match PixKey::parse(&row.receiver_key) {
            Err(e) => {
                p.key.insert(i, e.say(l));
            }
            Ok(key) => {
                let own = row.source_bank == me.bank && me.keys.contains(&key.canonical());
                let problem = match preview {
                    _ if own => Some(td_string!(l, packet.own).to_string()),
                    None => {
                        p.looking_up.insert(i);
                        None
                    }
                    Some(Err(e)) => Some(friendly(e, l)),
                    Some(Ok(_)) => None,
                };
                if let Some(m) = problem {
                    p.key.insert(i, m);
                }
            }
        }
        match Cents::parse_amount(&row.amount) {
            Ok(c) => *p.totals.entry(row.source_bank.clone()).or_default() += c.get(),
            Err(e) => {
                p.amount.insert(i, e.say(l));
            }
        }
        if let Err(e) = PixMessage::parse(&row.message) {
            p.message.insert(i, e.say(l));
        }
    }
    for (bank, total) in &p.totals {
        let total = Cents::new(*total);
        match sources
            .iter()
            .find(|s| u16::from(s.bank.id).to_string() == *bank)
        {
            Some(s) if !scheduled && total > s.available => p.packet.push(
                td_string!(
                    l,
                    packet.not_enough,
                    bank = s.bank.name.clone(),
                    needed = total.to_brl(),
                    available = s.available.to_brl()
                )
                .to_string(),
            ),
            Some(s) if s.per_packet.is_some_and(|limit| total > limit) => p.packet.push(
                td_string!(
                    l,
                    packet.consent_limit,
                    bank = s.bank.name.clone(),
                    limit = s.per_packet.unwrap_or_default().to_brl(),
                    total = total.to_brl()
                )
                .to_string(),
            ),
            Some(_) => {}
            None => p.packet.push(td_string!(l, packet.no_source).to_string()),
        }
    }
    p
}

/// Where the builder is.
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    Editing,
    /// Reviewing the packet under this transaction id (kept for every resend of this review).
    Review(String),
}

/// Which of the builder's two actions the client confirmed last (whose answer shows).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Last {
    Sent,
    Scheduled,
}

#[component]
pub fn PacketBuilder(
    page: RwSignal<Page>,
    action: ServerAction<SendPacket>,
    schedule: ServerAction<SchedulePacket>,
    tx_id: RwSignal<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    let me = page.with_untracked(|p| Me {
        bank: u16::from(p.dashboard.bank.id).to_string(),
        keys: p.keys.clone(),
    });
    let my_bank = page.with_untracked(|p| p.dashboard.bank.id);
    let next_id = RwSignal::new(1usize);
    let rows = RwSignal::new(vec![Row::new(0, my_bank)]);
    let stage = RwSignal::new(Stage::Editing);
    // "Agendar para": a later day (`yyyy-mm-dd`), or empty to send now.
    let date = RwSignal::new(String::new());
    let scheduled = move || !date.with(|d| d.trim().is_empty());
    let last = RwSignal::new(None::<Last>);
    let busy = move || action.pending().get() || schedule.pending().get();
    // A review was asked for: every problem shows, touched or not.
    let attempted = RwSignal::new(false);
    let add = move |_| {
        if rows.with(Vec::len) < MAX_PACKET_LEGS {
            let id = next_id.get_untracked();
            next_id.set(id + 1);
            rows.update(|r| r.push(Row::new(id, my_bank)));
        }
    };
    let inputs = move || rows.get().iter().map(Row::input).collect::<Vec<_>>();
    let checked = {
        let me = me.clone();
        Memo::new(move |_| {
            let typed: Vec<_> = rows
                .get()
                .iter()
                .map(|r| (r.input(), r.preview.get()))
                .collect();
            check(
                &typed,
                &page.with(sources),
                &me,
                scheduled(),
                i18n.get_locale(),
            )
        })
    };
    let submitted = RwSignal::new(None::<String>);
    let progress = RwSignal::new(None::<PacketProgress>);
    // What the review showed for each transfer, to name receivers in the outcome, and each
    // transfer's source account with what it held then, to say so if it could not pay.
    let reviewed = RwSignal::new(Vec::<String>::new());
    let paid_from = RwSignal::new(Vec::<String>::new());
    let open_review = move |_| {
        attempted.set(true);
        if checked.with(Problems::is_empty) {
            stage.set(Stage::Review(tx_id.get_untracked()));
        }
    };
    let confirm = move |_| {
        let Stage::Review(id) = stage.get_untracked() else {
            return;
        };
        if action.pending().get_untracked() || schedule.pending().get_untracked() {
            return;
        }
        let day = date.get_untracked().trim().to_string();
        if !day.is_empty() {
            // Scheduled: the bank fixes its id on its day; nothing runs now.
            last.set(Some(Last::Scheduled));
            schedule.dispatch(SchedulePacket {
                legs: inputs(),
                date: day,
            });
            return;
        }
        last.set(Some(Last::Sent));
        reviewed.set(
            rows.get_untracked()
                .iter()
                .map(|r| match r.preview.get_untracked() {
                    Some(Ok(p)) => format!("{} ({})", p.name, p.key_masked),
                    _ => String::new(),
                })
                .collect(),
        );
        paid_from.set(
            rows.get_untracked()
                .iter()
                .map(|r| r.source.get_untracked())
                .collect(),
        );
        submitted.set(Some(id.clone()));
        progress.set(None);
        action.dispatch(SendPacket {
            tx_id: id,
            legs: inputs(),
        });
    };
    // An outcome ends this packet (the next one gets a new id). A committed one leaves a fresh
    // builder; a cancelled one keeps its rows, to be fixed and reviewed again (issue 27). An
    // error (the answer did not come) keeps the review and its id, so that confirming again
    // cannot send a second packet.
    Effect::new(move |previous: Option<usize>| {
        let v = action.version().get();
        if previous.is_some_and(|p| p != v) {
            if let Some(Ok(outcome)) = action.value().get_untracked() {
                if outcome.status == TxStatus::Committed {
                    let id = next_id.get_untracked();
                    next_id.set(id + 1);
                    rows.set(vec![Row::new(id, my_bank)]);
                }
                stage.set(Stage::Editing);
                attempted.set(false);
            }
        }
        v
    });
    // A packet scheduled leaves a fresh builder (the scheduled list shows it); a refusal keeps
    // the review, whose rows and date the error names.
    Effect::new(move |previous: Option<usize>| {
        let v = schedule.version().get();
        if previous.is_some_and(|p| p != v)
            && matches!(schedule.value().get_untracked(), Some(Ok(_)))
        {
            let id = next_id.get_untracked();
            next_id.set(id + 1);
            rows.set(vec![Row::new(id, my_bank)]);
            date.set(String::new());
            stage.set(Stage::Editing);
            attempted.set(false);
        }
        v
    });
    // While a packet runs, show where each leg stands.
    every(std::time::Duration::from_millis(250), move || {
        if let (true, Some(id)) = (action.pending().get_untracked(), submitted.get_untracked()) {
            leptos::task::spawn_local(async move {
                if let Ok(Some(p)) = packet_progress(id).await {
                    progress.set(Some(p));
                }
            });
        }
    });
    let result = move || action.value().get();
    let source_names = page.with_untracked(sources);
    let editing = move || stage.get() == Stage::Editing;
    view! {
        <section class="card" id="packet">
            <h2>{t!(i18n, packet.title)}</h2>
            <p class="muted">{t!(i18n, packet.lead)}</p>
            <noscript><p class="error">{t!(i18n, packet.noscript)}</p></noscript>
            <div class="packet-rows" class:hidden=move || !editing()>
                <For each=move || rows.get() key=|r| r.id let:row>
                    <PacketRow row page rows checked attempted/>
                </For>
            </div>
            <div class="packet-actions" class:hidden=move || !editing()>
                <button type="button" id="add-leg" on:click=add disabled=move || { rows.with(Vec::len) >= MAX_PACKET_LEGS }>{t!(i18n, packet.add)}</button>
            </div>
            <label class="packet-date" class:hidden=move || !editing()>{t!(i18n, schedule.date)}
                " "<input type="date" name="packet_date" id="packet-date" min=move || page.with(|p| p.first_schedule_day.clone()) bind:value=date/>
                <span class="muted hint">{t!(i18n, packet.date_hint)}</span>
            </label>
            {move || {
                let problems = checked.with(|p| p.packet.clone());
                (editing() && attempted.get() && !problems.is_empty()).then(|| view! {
                    <ul class="problems" id="packet-problems" role="alert">{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                })
            }}
            {
                let names = source_names.clone();
                move || editing().then(|| {
                    let totals = checked.with(|p| p.totals.clone());
                    view! { <Totals totals names=names.clone()/> }
                })
            }
            <button type="button" class="primary" id="review-packet" on:click=open_review
                class:hidden=move || !editing() disabled=busy>
                {t!(i18n, packet.review)}
            </button>
            {move || match stage.get() {
                Stage::Editing => None,
                Stage::Review(id) => Some(view! {
                    <Review rows=rows.get() id names=source_names.clone() totals=checked.with(|p| p.totals.clone())
                        date=date.get_untracked() busy stage confirm/>
                }),
            }}
            {move || action.pending().get().then(|| view! { <Progress progress/> })}
            {move || match (last.get(), schedule.value().get()) {
                (Some(Last::Scheduled), Some(Ok(s))) if !schedule.pending().get() => Some(view! {
                    <p class="ok" role="status" id="packet-scheduled">{td_string!(
                        i18n.get_locale(),
                        packet.scheduled,
                        count = scheduled_legs(&s.what),
                        amount = s.amount.to_brl(),
                        date = crate::pages::dashboard::day_shown(s.day)
                    ).to_string()}</p>
                }.into_any()),
                (Some(Last::Scheduled), Some(Err(e))) if !schedule.pending().get() => Some(view! { <PacketError error=e/> }.into_any()),
                _ => None,
            }}
            {move || match result().filter(|_| last.get() == Some(Last::Sent)) {
                Some(Ok(outcome)) if !action.pending().get() => Some(view! {
                    <Outcome outcome page reviewed=reviewed.get_untracked() paid_from=paid_from.get_untracked()/>
                }.into_any()),
                Some(Err(e)) if !action.pending().get() => Some(view! { <PacketError error=e/> }.into_any()),
                _ => None,
            }}
        </section>
    }
    .into_any()
}

/// How many transfers a scheduled entry sends.
fn scheduled_legs(what: &domain::schedule::ScheduledWhat) -> usize {
    match what {
        domain::schedule::ScheduledWhat::Pix { .. } => 1,
        domain::schedule::ScheduledWhat::Packet { legs } => legs.len(),
    }
}

/// The name of the source bank a row holds (its id, as the select's value).
fn source_name(l: Locale, bank: &str, names: &[Source]) -> String {
    match names
        .iter()
        .find(|s| u16::from(s.bank.id).to_string() == bank)
    {
        Some(s) => s.bank.name.clone(),
        None => bank
            .parse::<u16>()
            .ok()
            .and_then(|n| BankId::try_from(n).ok())
            .map_or_else(|| bank.to_string(), |id| crate::text::unnamed_bank(l, id)),
    }
}

#[component]
fn Totals(totals: BTreeMap<String, i64>, names: Vec<Source>) -> impl IntoView {
    let i18n = use_i18n();
    let overall: i64 = totals.values().sum();
    view! {
        <div class="totals" id="packet-totals">
            <ul>
                {totals.into_iter().map(|(bank, cents)| {
                    let name = source_name(i18n.get_locale_untracked(), &bank, &names);
                    view! { <li>{t_string!(i18n, packet.from_total, bank = name, amount = Cents::new(cents).to_brl()).to_string()}</li> }
                }).collect_view()}
            </ul>
            <p class="overall">{t!(i18n, packet.total)} <strong id="packet-total">{Cents::new(overall).to_brl()}</strong></p>
        </div>
    }
}

/// The packet as it will be sent: every transfer with its receiver, and the totals; confirming
/// sends it under the review's transaction id, or, with a `date` (`yyyy-mm-dd`), schedules it
/// for that day, which the review states.
#[component]
fn Review(
    rows: Vec<Row>,
    id: String,
    names: Vec<Source>,
    totals: BTreeMap<String, i64>,
    date: String,
    busy: impl Fn() -> bool + Copy + Send + Sync + 'static,
    stage: RwSignal<Stage>,
    confirm: impl Fn(leptos::ev::MouseEvent) + Clone + 'static,
) -> impl IntoView {
    let i18n = use_i18n();
    let l = i18n.get_locale_untracked();
    let scheduled = !date.trim().is_empty();
    // The review takes the focus when it opens (its heading: read first, then "Confirm").
    let title = NodeRef::<leptos::html::H3>::new();
    Effect::new(move |_| {
        if let Some(title) = title.get() {
            let _ = title.focus();
        }
    });
    view! {
        <div class="confirm" id="packet-review" data-tx=id>
            <h3 class="review-title" id="packet-review-title" tabindex="-1" node_ref=title>{t!(i18n, packet.review_title)}</h3>
            <div class="scroll-x">
            <table>
                <thead><tr><th>"#"</th><th>{t!(i18n, packet.from)}</th><th>{t!(i18n, packet.to)}</th><th class="num">{t!(i18n, packet.amount)}</th></tr></thead>
                <tbody>
                    {rows.into_iter().enumerate().map(|(i, r)| {
                        let to = match r.preview.get_untracked() {
                            Some(Ok(p)) => format!("{} · {} · {}", p.name, p.key_masked, p.bank.name),
                            _ => String::new(),
                        };
                        let amount = Cents::parse_amount(&r.amount.get_untracked()).map(Cents::to_brl).unwrap_or_default();
                        let message = PixMessage::parse(&r.message.get_untracked()).unwrap_or_default();
                        let message = message.shown().map(|m| view! {
                            <br/><span class="review-message muted">{td_string!(l, pix.message_shown).to_string()}": “"{m.to_string()}"”"</span>
                        });
                        view! {
                            <tr class="review-row" data-leg=i>
                                <td>{i + 1}</td>
                                <td>{source_name(l, &r.source.get_untracked(), &names)}</td>
                                <td class="review-to">{to}{message}</td>
                                <td class="num">{amount}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
            <Totals totals names/>
            {(!date.trim().is_empty()).then(|| view! {
                <p id="packet-schedule-day">{t_string!(i18n, packet.on_day, date = crate::pages::dashboard::date_shown(&date)).to_string()}</p>
                <p class="muted">{t!(i18n, packet.schedule_rules)}</p>
            })}
            <div class="actions">
                <button type="button" class="primary" id="confirm-packet" on:click=confirm
                    disabled=busy>
                    {move || match (busy(), scheduled) {
                        (true, _) => t_string!(i18n, packet.sending),
                        (false, true) => t_string!(i18n, schedule.confirm),
                        (false, false) => t_string!(i18n, packet.confirm),
                    }}
                </button>
                <button type="button" id="edit-packet" on:click=move |_| stage.set(Stage::Editing)
                    disabled=busy>{t!(i18n, packet.edit)}</button>
            </div>
        </div>
    }
}

#[component]
fn PacketRow(
    row: Row,
    page: RwSignal<Page>,
    rows: RwSignal<Vec<Row>>,
    checked: Memo<Problems>,
    attempted: RwSignal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    // A plain signal, not a resource: a resource read here would suspend the whole dashboard
    // (and reset what the client is typing) on every keystroke.
    let preview = row.preview;
    Effect::new(move |_| {
        let key = row.key.get();
        if PixKey::parse(&key).is_err() {
            preview.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            let answer = lookup_receiver(key.clone(), None).await;
            // Only the answer for what the row says now (typing may have moved on).
            if row.key.get_untracked() == key {
                preview.set(Some(answer));
            }
        });
    });
    let remove = move |_| rows.update(|r| r.retain(|x| x.id != row.id));
    let only_row = move || rows.with(Vec::len) <= 1;
    // The row's number as shown (rows above it may be removed).
    let position = move || rows.with(|r| r.iter().position(|x| x.id == row.id).unwrap_or(0));
    let number = move || t_string!(i18n, packet.row, n = position() + 1).to_string();
    let key_problem = move || {
        let shown = row.key_touched.get() || attempted.get();
        shown
            .then(|| checked.with(|p| p.key.get(&position()).cloned()))
            .flatten()
    };
    let amount_problem = move || {
        let shown = row.amount_touched.get() || attempted.get();
        shown
            .then(|| checked.with(|p| p.amount.get(&position()).cloned()))
            .flatten()
    };
    // A message's problem shows at once: it is typed, not looked up.
    let message_problem = move || checked.with(|p| p.message.get(&position()).cloned());
    view! {
        <div class="packet-row" data-row=row.id>
            <span class="row-number" aria-hidden="true">{move || format!("{}", position() + 1)}</span>
            <label><span class="sr-only">{number}</span>{t!(i18n, packet.from)}
                <select name="source_bank" on:change=move |ev| row.source.set(event_target_value(&ev))>
                    {move || page.with(sources).into_iter().map(|s| {
                        let id = u16::from(s.bank.id).to_string();
                        let selected = { let id = id.clone(); move || row.source.get() == id };
                        view! { <option value=id selected=selected>{format!("{} ({})", s.bank.name, s.available.to_brl())}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label><span class="sr-only">{number}</span>{t!(i18n, packet.receiver_key)}
                <input name="receiver_key" maxlength="80" autocomplete="off" prop:value=move || row.key.get()
                    aria-invalid=move || key_problem().is_some().to_string()
                    on:input=move |ev| row.key.set(event_target_value(&ev))
                    on:change=move |_| row.key_touched.set(true)/>
            </label>
            <label><span class="sr-only">{number}</span>{t!(i18n, common.amount_brl)}
                <input name="amount" inputmode="decimal" maxlength="40" prop:value=move || row.amount.get()
                    aria-invalid=move || amount_problem().is_some().to_string()
                    on:input=crate::pages::masked_into(domain::input::Mask::Amount, row.amount)
                    on:blur=crate::pages::tidied_into(domain::input::Mask::Amount, row.amount)
                    on:change=move |_| row.amount_touched.set(true)/>
            </label>
            <label class="message-field"><span class="sr-only">{number}</span>{t!(i18n, pix.message)}
                <input name="message" maxlength=MESSAGE_MAX_CHARS.to_string() autocomplete="off" prop:value=move || row.message.get()
                    aria-invalid=move || message_problem().is_some().to_string()
                    on:input=move |ev| row.message.set(event_target_value(&ev))/>
                <crate::pages::MessageCount text=row.message/>
            </label>
            <button type="button" class="link remove-leg" on:click=remove disabled=only_row
                aria-label=move || t_string!(i18n, packet.remove_label, n = position() + 1).to_string()>{t!(i18n, packet.remove)}</button>
            <p class="receiver-preview">
                {move || match preview.get() {
                    Some(Ok(r)) => Some(view! { <span class="receiver-name">{format!("{} · {} · {}", r.name, r.key_masked, r.bank.name)}</span> }.into_any()),
                    _ => None,
                }}
                {move || key_problem().map(|m| view! { <span class="field-error" role="alert" data-field="receiver_key">{m}</span> })}
                {move || amount_problem().map(|m| view! { <span class="field-error" role="alert" data-field="amount">{m}</span> })}
                {move || message_problem().map(|m| view! { <span class="field-error" role="alert" data-field="message">{m}</span> })}
            </p>
        </div>
    }
    .into_any()
}

fn friendly(e: &AppError, l: Locale) -> String {
    match e {
        AppError::NotFound(_) => td_string!(l, pix.no_key).to_string(),
        other => other.message(l),
    }
}

/// (badge class, stable state name for tools, words for the client).
fn state_label(s: LegState, l: Locale) -> (&'static str, &'static str, String) {
    let (class, state, words) = match s {
        LegState::Waiting => ("pending", "Waiting", td_string!(l, packet.state_waiting)),
        LegState::Prepared => ("pending", "Prepared", td_string!(l, packet.state_reserved)),
        LegState::Refused => ("aborted", "Refused", td_string!(l, packet.state_refused)),
        LegState::Committed => ("committed", "Committed", td_string!(l, packet.state_done)),
        LegState::Aborted => ("aborted", "Aborted", td_string!(l, packet.state_cancelled)),
    };
    (class, state, words.to_string())
}

#[component]
fn Progress(progress: RwSignal<Option<PacketProgress>>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="packet-progress" id="packet-progress" role="status">
            <p>{t!(i18n, packet.progress)}</p>
            {move || progress.get().map(|p| view! {
                <ol>{p.legs.into_iter().enumerate().map(|(i, s)| {
                    let (class, state, label) = state_label(s, i18n.get_locale_untracked());
                    view! { <li class="leg-status" data-leg=i data-state=state>{t_string!(i18n, packet.row, n = i + 1).to_string()}<span class=format!("badge {class}")>{label}</span></li> }
                }).collect_view()}</ol>
            })}
        </div>
    }
}

#[component]
fn Outcome(
    outcome: PacketOutcome,
    page: RwSignal<Page>,
    reviewed: Vec<String>,
    paid_from: Vec<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    let l = i18n.get_locale_untracked();
    let banks = page.with_untracked(|p| p.banks.clone());
    let committed = outcome.status == TxStatus::Committed;
    // A transfer its source could not pay: which account, and what it holds now (as the page
    // refreshes after the packet: what the review saw may have changed, which is why it failed).
    let holds = move |i: usize, reason: Refusal| {
        let source = paid_from.get(i).cloned();
        move || {
            let found = page
                .with(sources)
                .into_iter()
                .find(|s| source.as_deref() == Some(u16::from(s.bank.id).to_string().as_str()));
            match (reason, found) {
                (Refusal::InsufficientFunds, Some(s)) => format!(
                    " {}",
                    td_string!(
                        i18n.get_locale(),
                        packet.source_holds,
                        bank = s.bank.name,
                        available = s.available.to_brl()
                    )
                ),
                _ => String::new(),
            }
        }
    };
    let headline = match (committed, outcome.failure()) {
        (true, _) => td_string!(l, packet.sent_all, count = outcome.legs.len()).to_string(),
        (false, Some((i, reason))) => td_string!(
            l,
            packet.cancelled_leg,
            n = i + 1,
            reason = crate::text::refusal(l, reason, &banks)
                .trim_end_matches('.')
                .to_string()
        )
        .to_string(),
        (false, None) => td_string!(l, packet.cancelled).to_string(),
    };
    // The comprovante of what moved (a cancelled packet's rows at this bank are in the statement,
    // each with its own).
    let receipt = committed.then(|| crate::pages::receipt::href(outcome.tx_id.as_str()));
    view! {
        <div class="packet-outcome" id="packet-outcome" data-status=outcome.status.as_str()>
            <p class=if committed { "ok" } else { "error" } role="status">{headline}
                {outcome.failure().map(|(i, reason)| view! { {holds.clone()(i, reason)}" "{t!(i18n, packet.kept_rows)} })}
                {receipt.map(|href| view! { " "<a class="open-receipt" id="packet-receipt" href=href>{t!(i18n, receipt.open)}</a> })}</p>
            <ol>
                {outcome.legs.into_iter().enumerate().map(|(i, leg)| {
                    let (class, state, label) = match leg.status {
                        TxStatus::Committed => ("committed", "Committed", td_string!(l, packet.state_done)),
                        TxStatus::Aborted => ("aborted", "Aborted", td_string!(l, packet.state_cancelled)),
                        TxStatus::Pending => ("pending", "Pending", td_string!(l, packet.state_processing)),
                    };
                    // The receiver as the bank named it, else as the review showed it.
                    let who = leg
                        .receiver
                        .map(|r| format!("{} ({})", r.name, r.key_masked))
                        .or_else(|| reviewed.get(i).filter(|w| !w.is_empty()).cloned())
                        .unwrap_or_else(|| td_string!(l, packet.the_receiver).to_string());
                    view! {
                        <li class="leg-status" data-leg=i data-state=state>
                            {td_string!(l, packet.leg_line, n = i + 1, amount = leg.amount.to_brl(), who = who).to_string()}
                            <span class=format!("badge {class}")>{label}</span>
                            {leg.error.map(|e| view! { <span class="field-error">{format!(" {}", crate::text::refusal(l, e, &banks))}{holds.clone()(i, e)}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </div>
    }
}

#[component]
fn PacketError(error: AppError) -> impl IntoView {
    let l = use_i18n().get_locale_untracked();
    let message = match &error {
        AppError::BadInput {
            field: Some(f),
            message,
        } => {
            let row = f
                .split('.')
                .nth(1)
                .and_then(|n| n.parse::<usize>().ok())
                .map(|n| n + 1);
            match row {
                Some(n) => format!("{}{message}", td_string!(l, packet.row, n = n)),
                None => message.clone(),
            }
        }
        AppError::Unavailable(m) => {
            td_string!(l, packet.resend_safe, message = m.clone()).to_string()
        }
        other => other.message(l),
    };
    view! { <p class="error" role="alert" id="packet-error">{message}</p> }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(id: u16, name: &str) -> BankInfo {
        BankInfo {
            id: BankId::try_from(id).unwrap(),
            name: name.into(),
        }
    }

    fn leg(source: &str, key: &str, to: &str, amount: &str) -> LegInput {
        LegInput {
            source_bank: source.into(),
            receiver_key: key.into(),
            receiver_bank: to.into(),
            amount: amount.into(),
            message: String::new(),
        }
    }

    fn found(name: &str, to: BankInfo) -> Option<Result<ReceiverPreview, AppError>> {
        Some(Ok(ReceiverPreview {
            name: name.into(),
            key_masked: "***".into(),
            bank: to,
        }))
    }

    #[test]
    fn problems_are_found_before_sending() {
        const ANA: &str = "529.982.247-25";
        const BETO: &str = "111.444.777-35";
        let me = Me {
            bank: "1".into(),
            keys: vec![PixKey::parse(ANA).unwrap().canonical()],
        };
        let sources = vec![
            Source {
                bank: bank(1, "Eleven"),
                available: Cents::new(10_000),
                per_packet: None,
            },
            Source {
                bank: bank(2, "Automobili"),
                available: Cents::new(50_000),
                per_packet: Some(Cents::new(30_000)),
            },
        ];
        let good = check(
            &[
                (
                    leg("1", BETO, "3", "100,00"),
                    found("Beto", bank(3, "Secret")),
                ),
                (
                    leg("2", ANA, "1", "300,00"),
                    found("Ana", bank(1, "Eleven")),
                ),
            ],
            &sources,
            &me,
            false,
            Locale::en,
        );
        assert!(
            good.is_empty(),
            "{good:?}: paying oneself here from a linked account is fine"
        );
        assert_eq!(good.totals.get("2"), Some(&30_000));

        let bad = check(
            &[
                (leg("1", ANA, "1", "1,00"), found("Ana", bank(1, "Eleven"))),
                (leg("1", "123", "3", "abc"), None),
                (
                    leg("2", BETO, "3", "300,01"),
                    found("Beto", bank(3, "Secret")),
                ),
                (
                    leg("1", BETO, "5", "1,00"),
                    Some(Err(AppError::NotFound("x".into()))),
                ),
                (
                    leg("9", BETO, "3", "1,00"),
                    found("Beto", bank(3, "Secret")),
                ),
            ],
            &sources,
            &me,
            false,
            Locale::en,
        );
        assert!(bad.key[&0].contains("your own account"), "{bad:?}");
        assert!(!bad.key[&1].is_empty(), "{bad:?}");
        assert!(!bad.amount[&1].is_empty());
        assert!(bad.key[&3].contains("No account has this Pix key"));
        assert!(bad
            .packet
            .iter()
            .any(|p| p.contains("allows R$ 300,00 per packet")));
        assert!(bad.packet.iter().any(|p| p.contains("no linked account")));
        assert!(bad.message.is_empty());

        // A message is checked as typed: at most 140 characters, one line.
        let with = |message: &str| LegInput {
            message: message.into(),
            ..leg("1", BETO, "3", "1,00")
        };
        let messages = check(
            &[
                (with("Aluguel de março"), found("Beto", bank(3, "Secret"))),
                (with(&"ç".repeat(141)), found("Beto", bank(3, "Secret"))),
                (with("linha\nnova"), found("Beto", bank(3, "Secret"))),
            ],
            &sources,
            &me,
            false,
            Locale::pt_BR,
        );
        assert!(!messages.message.contains_key(&0), "{messages:?}");
        assert!(messages.message[&1].contains("140"), "{messages:?}");
        assert!(
            messages.message[&2].contains("quebras de linha"),
            "{messages:?}"
        );
        assert!(!messages.is_empty());
    }

    #[test]
    fn a_scheduled_packet_meets_the_balances_of_its_day_but_a_consents_limit_now() {
        const BETO: &str = "111.444.777-35";
        let me = Me {
            bank: "1".into(),
            keys: Vec::new(),
        };
        let sources = vec![
            Source {
                bank: bank(1, "Eleven"),
                available: Cents::new(100),
                per_packet: None,
            },
            Source {
                bank: bank(2, "Automobili"),
                available: Cents::new(0),
                per_packet: Some(Cents::new(30_000)),
            },
        ];
        let rows = |from_linked: &str| {
            vec![
                (
                    leg("1", BETO, "3", "100,00"),
                    found("Beto", bank(3, "Secret")),
                ),
                (
                    leg("2", BETO, "3", from_linked),
                    found("Beto", bank(3, "Secret")),
                ),
            ]
        };
        let now = check(&rows("1,00"), &sources, &me, false, Locale::en);
        assert_eq!(now.packet.len(), 2, "neither account holds it now: {now:?}");
        let later = check(&rows("1,00"), &sources, &me, true, Locale::en);
        assert!(later.is_empty(), "{later:?}");
        let over = check(&rows("300,01"), &sources, &me, true, Locale::en);
        assert_eq!(over.packet.len(), 1, "{over:?}");
        assert!(over.packet[0].contains("allows R$ 300,00 per packet"));
    }
}
