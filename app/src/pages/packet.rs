//! The Pix packet builder: rows of transfers (source among the client's banks, receiver key and
//! bank, amount), the receiver's name resolved as each row is filled, running totals per source
//! checked against what is available there, one submit, then live progress per leg and the
//! packet's outcome (all committed, or all aborted with the failed leg and why).
//!
//! Rows are added and removed in the browser, so this form needs the wasm; everything it checks
//! before submitting is checked again by the banks.

use crate::api::{lookup_receiver, packet_progress, DashboardPage as Page, LegInput, SendPacket};
use crate::error::AppError;
use crate::pages::every;
use domain::dto::{
    BankInfo, LegState, LinkStatus, PacketOutcome, PacketProgress, ReceiverPreview, TxStatus,
    MAX_PACKET_LEGS,
};
use domain::{BankId, Cents, TaxId};
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
struct Row {
    id: usize,
    source: RwSignal<String>,
    key: RwSignal<String>,
    bank: RwSignal<String>,
    amount: RwSignal<String>,
}

impl Row {
    fn new(id: usize, me: BankId) -> Row {
        let me = u16::from(me).to_string();
        Row {
            id,
            source: RwSignal::new(me.clone()),
            key: RwSignal::new(String::new()),
            bank: RwSignal::new(me),
            amount: RwSignal::new(String::new()),
        }
    }

    fn input(&self) -> LegInput {
        LegInput {
            source_bank: self.source.get(),
            receiver_key: self.key.get(),
            receiver_bank: self.bank.get(),
            amount: self.amount.get(),
        }
    }
}

/// The client's accounts that can pay: this bank's and the linked ones whose consent is active and
/// whose bank answered, with what is available.
fn sources(p: &Page) -> Vec<(BankInfo, Cents)> {
    let mut v = vec![(p.dashboard.bank.clone(), p.dashboard.account.available)];
    v.extend(p.linked.iter().filter_map(|l| {
        (l.status == LinkStatus::Active).then_some((l.bank.clone(), l.available?))
    }));
    v
}

/// Totals per source bank (in cents) and the problems to fix before submitting.
fn check(rows: &[LegInput], sources: &[(BankInfo, Cents)]) -> (BTreeMap<String, i64>, Vec<String>) {
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        if row.receiver_key.trim().is_empty() || TaxId::parse(&row.receiver_key).is_err() {
            problems.push(format!("Transfer {n}: enter a valid CPF or CNPJ key."));
        }
        match Cents::parse_amount(&row.amount) {
            Ok(c) => *totals.entry(row.source_bank.clone()).or_default() += c.get(),
            Err(e) => problems.push(format!("Transfer {n}: {e}")),
        }
    }
    for (bank, total) in &totals {
        match sources
            .iter()
            .find(|(b, _)| u16::from(b.id).to_string() == *bank)
        {
            Some((b, available)) if *total > available.get() => problems.push(format!(
                "Not enough at {}: {} needed, {} available.",
                b.name,
                Cents::new(*total).to_brl(),
                available.to_brl()
            )),
            Some(_) => {}
            None => problems
                .push("A transfer draws from a bank where you have no linked account.".into()),
        }
    }
    (totals, problems)
}

#[component]
pub fn PacketBuilder(
    page: RwSignal<Page>,
    action: ServerAction<SendPacket>,
    tx_id: RwSignal<String>,
) -> impl IntoView {
    let me = page.with_untracked(|p| p.dashboard.bank.id);
    let banks = page.with_untracked(|p| p.banks.clone());
    let next_id = RwSignal::new(1usize);
    let rows = RwSignal::new(vec![Row::new(0, me)]);
    let add = move |_| {
        if rows.with(Vec::len) < MAX_PACKET_LEGS {
            let id = next_id.get_untracked();
            next_id.set(id + 1);
            rows.update(|r| r.push(Row::new(id, me)));
        }
    };
    let inputs = move || rows.get().iter().map(Row::input).collect::<Vec<_>>();
    let checked = Memo::new(move |_| check(&inputs(), &page.with(sources)));
    let submitted = RwSignal::new(None::<String>);
    let progress = RwSignal::new(None::<PacketProgress>);
    let submit = move |_| {
        if !checked.with(|(_, p)| p.is_empty()) {
            return;
        }
        let id = tx_id.get_untracked();
        submitted.set(Some(id.clone()));
        progress.set(None);
        action.dispatch(SendPacket {
            tx_id: id,
            legs: inputs(),
        });
    };
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
    view! {
        <section class="card" id="packet">
            <h2>"Pix packet"</h2>
            <p class="muted">"Several transfers at once, from your accounts at any of our banks: all of them go through, or none does."</p>
            <noscript><p class="error">"The packet builder needs JavaScript; single Pix transfers work without it."</p></noscript>
            <div class="packet-rows">
                <For each=move || rows.get() key=|r| r.id let:row>
                    <PacketRow row page banks=banks.clone() rows/>
                </For>
            </div>
            <div class="packet-actions">
                <button type="button" id="add-leg" on:click=add disabled=move || { rows.with(Vec::len) >= MAX_PACKET_LEGS }>"Add transfer"</button>
            </div>
            <div class="totals" id="packet-totals">
                {move || {
                    let (totals, _) = checked.get();
                    let overall: i64 = totals.values().sum();
                    let names = source_names.clone();
                    view! {
                        <ul>
                            {totals.into_iter().map(|(bank, cents)| {
                                let name = names.iter().find(|(b, _)| u16::from(b.id).to_string() == bank).map(|(b, _)| b.name.clone()).unwrap_or(bank);
                                view! { <li>{format!("From {name}: {}", Cents::new(cents).to_brl())}</li> }
                            }).collect_view()}
                        </ul>
                        <p class="overall">"Total: " <strong id="packet-total">{Cents::new(overall).to_brl()}</strong></p>
                    }
                }}
            </div>
            {move || {
                let problems = checked.with(|(_, p)| p.clone());
                (!problems.is_empty()).then(|| view! {
                    <ul class="problems" id="packet-problems">{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                })
            }}
            <button type="button" class="primary" id="send-packet" on:click=submit
                disabled=move || action.pending().get() || !checked.with(|(_, p)| p.is_empty())>
                {move || if action.pending().get() { "Sending…" } else { "Send packet" }}
            </button>
            {move || action.pending().get().then(|| view! { <Progress progress/> })}
            {move || match result() {
                Some(Ok(outcome)) if !action.pending().get() => Some(view! { <Outcome outcome banks=page.with_untracked(|p| p.banks.clone())/> }.into_any()),
                Some(Err(e)) if !action.pending().get() => Some(view! { <PacketError error=e/> }.into_any()),
                _ => None,
            }}
        </section>
    }
    .into_any()
}

#[component]
fn PacketRow(
    row: Row,
    page: RwSignal<Page>,
    banks: Vec<BankInfo>,
    rows: RwSignal<Vec<Row>>,
) -> impl IntoView {
    // A plain signal, not a resource: a resource read here would suspend the whole dashboard
    // (and reset what the client is typing) on every keystroke.
    let preview = RwSignal::new(None::<Result<ReceiverPreview, AppError>>);
    Effect::new(move |_| {
        let (key, bank) = (row.key.get(), row.bank.get());
        if TaxId::parse(&key).is_err() {
            preview.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            let answer = lookup_receiver(key.clone(), Some(bank.clone())).await;
            // Only the answer for what the row says now (typing may have moved on).
            if row.key.get_untracked() == key && row.bank.get_untracked() == bank {
                preview.set(Some(answer));
            }
        });
    });
    let remove = move |_| rows.update(|r| r.retain(|x| x.id != row.id));
    let only_row = move || rows.with(Vec::len) <= 1;
    view! {
        <div class="packet-row" data-row=row.id>
            <label>"From"
                <select name="source_bank" on:change=move |ev| row.source.set(event_target_value(&ev))>
                    {move || page.with(sources).into_iter().map(|(b, available)| {
                        let id = u16::from(b.id).to_string();
                        let selected = { let id = id.clone(); move || row.source.get() == id };
                        view! { <option value=id selected=selected>{format!("{} ({})", b.name, available.to_brl())}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Receiver's CPF/CNPJ"
                <input name="receiver_key" inputmode="numeric" maxlength="20" prop:value=move || row.key.get()
                    on:input=move |ev| row.key.set(event_target_value(&ev))/>
            </label>
            <label>"Receiver's bank"
                <select name="receiver_bank" on:change=move |ev| row.bank.set(event_target_value(&ev))>
                    {banks.into_iter().map(|b| {
                        let id = u16::from(b.id).to_string();
                        let selected = { let id = id.clone(); move || row.bank.get() == id };
                        view! { <option value=id selected=selected>{b.name.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Amount (R$)"
                <input name="amount" inputmode="decimal" maxlength="40" prop:value=move || row.amount.get()
                    on:input=move |ev| row.amount.set(event_target_value(&ev))/>
            </label>
            <button type="button" class="link remove-leg" on:click=remove disabled=only_row>"Remove"</button>
            <p class="receiver-preview">
                {move || match preview.get() {
                    None => None,
                    Some(Ok(r)) => Some(view! { <span class="receiver-name">{format!("{} · {} · {}", r.name, r.key_masked, r.bank.name)}</span> }.into_any()),
                    Some(Err(e)) => Some(view! { <span class="field-error">{friendly(&e)}</span> }.into_any()),
                }}
            </p>
        </div>
    }
    .into_any()
}

fn friendly(e: &AppError) -> String {
    match e {
        AppError::NotFound(_) => "No account with this key at that bank.".into(),
        other => other.to_string(),
    }
}

fn state_label(s: LegState) -> (&'static str, &'static str) {
    match s {
        LegState::Waiting => ("pending", "Waiting"),
        LegState::Prepared => ("pending", "Prepared"),
        LegState::Refused => ("aborted", "Refused"),
        LegState::Committed => ("committed", "Committed"),
        LegState::Aborted => ("aborted", "Aborted"),
    }
}

#[component]
fn Progress(progress: RwSignal<Option<PacketProgress>>) -> impl IntoView {
    view! {
        <div class="packet-progress" id="packet-progress" role="status">
            <p>"Waiting for the consortium token, then reserving every transfer…"</p>
            {move || progress.get().map(|p| view! {
                <ol>{p.legs.into_iter().enumerate().map(|(i, s)| {
                    let (class, label) = state_label(s);
                    view! { <li class="leg-status" data-leg=i data-state=label>{format!("Transfer {}: ", i + 1)}<span class=format!("badge {class}")>{label}</span></li> }
                }).collect_view()}</ol>
            })}
        </div>
    }
}

#[component]
fn Outcome(outcome: PacketOutcome, banks: Vec<BankInfo>) -> impl IntoView {
    let committed = outcome.status == TxStatus::Committed;
    let headline = match (committed, outcome.failure()) {
        (true, _) => format!(
            "Packet sent: all {} transfers went through.",
            outcome.legs.len()
        ),
        (false, Some((i, reason))) => format!(
            "Packet cancelled: transfer {} failed ({}). Nothing was moved.",
            i + 1,
            crate::text::refusal(reason, &banks).trim_end_matches('.')
        ),
        (false, None) => "Packet cancelled. Nothing was moved.".to_string(),
    };
    view! {
        <div class="packet-outcome" id="packet-outcome" data-status=outcome.status.as_str()>
            <p class=if committed { "ok" } else { "error" } role="status">{headline}</p>
            <ol>
                {outcome.legs.into_iter().enumerate().map(|(i, leg)| {
                    let (class, label) = match leg.status {
                        TxStatus::Committed => ("committed", "Committed"),
                        TxStatus::Aborted => ("aborted", "Aborted"),
                        TxStatus::Pending => ("pending", "Pending"),
                    };
                    let who = leg.receiver.map(|r| format!("{} ({})", r.name, r.key_masked)).unwrap_or_default();
                    view! {
                        <li class="leg-status" data-leg=i data-state=label>
                            {format!("Transfer {}: {} to {who} ", i + 1, leg.amount.to_brl())}
                            <span class=format!("badge {class}")>{label}</span>
                            {leg.error.map(|e| view! { <span class="field-error">{format!(" {}", crate::text::refusal(e, &banks))}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </div>
    }
}

#[component]
fn PacketError(error: AppError) -> impl IntoView {
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
                Some(n) => format!("Transfer {n}: {message}"),
                None => message.clone(),
            }
        }
        other => other.to_string(),
    };
    view! { <p class="error" role="alert" id="packet-error">{message}</p> }
}
