//! The consortium status page: which banks are up, which one is coordinating transfers between
//! banks right now, and how fast that turn goes round; the protocol's own terms (token, epoch)
//! only under "Technical details". Refreshed every second by polling (one small request; no state
//! on the server).

use crate::api::get_consortium;
use crate::i18n::{t, t_string, use_i18n};
use domain::dto::BankStatus;
use leptos::prelude::*;

#[component]
pub fn Status() -> impl IntoView {
    let i18n = use_i18n();
    let tick = RwSignal::new(0u64);
    let statuses = Resource::new(move || tick.get(), |_| get_consortium());
    Effect::new(move |_| {
        set_interval(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(1),
        );
    });
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.status).to_string()/>
        <section class="card">
            <h1>{t!(i18n, titles.status)}</h1>
            <p class="muted">{t!(i18n, status.lead)}</p>
            <Transition fallback=move || view! { <p class="muted">{t!(i18n, common.asking_banks)}</p> }>
                {move || Suspend::new(async move {
                    match statuses.await {
                        Ok(list) => view! { <StatusTable list/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.message(i18n.get_locale())}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StatusTable(list: Vec<BankStatus>) -> impl IntoView {
    let i18n = use_i18n();
    let name = |id: domain::BankId| {
        list.iter()
            .find(|s| s.bank.id == id)
            .map(|s| s.bank.name.clone())
            .unwrap_or_else(|| format!("bank {id}"))
    };
    let epoch = list
        .iter()
        .filter(|s| s.online)
        .map(|s| (s.epoch_counter, s.epoch_origin))
        .max();
    let rate = list
        .iter()
        .filter(|s| s.online)
        .map(|s| s.rotations_per_s)
        .fold(0.0f64, f64::max);
    let online = list.iter().filter(|s| s.online).count();
    let total = list.len();
    let rate = format!("{rate:.0}");
    let summary = move || match epoch {
        Some((_, Some(_))) => t_string!(
            i18n,
            status.summary,
            online = online,
            total = total,
            rate = rate.clone()
        )
        .to_string(),
        _ => t_string!(i18n, status.starting).to_string(),
    };
    let origin = epoch.and_then(|(c, o)| o.map(|o| (c, name(o))));
    let technical = move || match origin.clone() {
        Some((counter, bank)) => {
            t_string!(i18n, status.epoch, counter = counter, bank = bank).to_string()
        }
        None => t_string!(i18n, status.no_token).to_string(),
    };
    view! {
        <p id="ring-summary">{summary}</p>
        <table id="status-table">
            <thead><tr><th>{t!(i18n, common.bank)}</th><th>{t!(i18n, status.state)}</th><th>{t!(i18n, status.coordinating)}</th><th class="num">{t!(i18n, status.turns)}</th><th class="num">{t!(i18n, status.in_progress)}</th></tr></thead>
            <tbody>
                {list.iter().map(|s| view! {
                    <tr class="status-row" data-bank=u16::from(s.bank.id) data-online=s.online.to_string() data-holding=s.holding.to_string()>
                        <td><span class="dot" data-palette=u16::from(s.bank.id)></span>{s.bank.name.clone()}</td>
                        <td><span class=if s.online { "badge committed" } else { "badge aborted" }>{if s.online { t_string!(i18n, common.online) } else { t_string!(i18n, common.offline) }}</span></td>
                        <td>{if s.holding { t_string!(i18n, common.yes) } else { "" }}</td>
                        <td class="num">{s.visits}</td>
                        <td class="num">{s.packets_in_flight}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <details class="muted" id="ring-details"><summary>{t!(i18n, status.technical)}</summary><p>{technical}</p></details>
    }
}
