//! The consortium status page: which banks are up, which one is coordinating transfers between
//! banks right now, and how fast that turn goes round, drawn as a ring (inline SVG, no script)
//! and as a table; the protocol's own terms (token, epoch) only under "Technical details".
//! Refreshed every second by polling (one small request; no state on the server).

use crate::api::get_consortium;
use crate::i18n::{t, t_string, use_i18n};
use domain::dto::{BankInfo, BankStatus};
use domain::BankId;
use leptos::prelude::*;
use std::f64::consts::PI;

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
    let banks: Vec<BankInfo> = list.iter().map(|s| s.bank.clone()).collect();
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
    // Each bank answers for itself at a slightly different instant, so while the token travels
    // two may claim it, or none: the page shows one, the first in ring order.
    let holder = holder(&list);
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
    let origin = epoch.and_then(|(c, o)| o.map(|o| (c, o)));
    let technical = move || match origin {
        Some((counter, bank)) => {
            let bank = crate::text::bank_name(i18n.get_locale(), bank, &banks);
            t_string!(i18n, status.epoch, counter = counter, bank = bank).to_string()
        }
        None => t_string!(i18n, status.no_token).to_string(),
    };
    view! {
        <p id="ring-summary">{summary}</p>
        <Ring list=list.clone() holder/>
        <div class="scroll-x">
            <table id="status-table">
                <thead><tr><th>{t!(i18n, common.bank)}</th><th>{t!(i18n, status.state)}</th><th>{t!(i18n, status.coordinating)}</th><th class="num">{t!(i18n, status.turns)}</th><th class="num">{t!(i18n, status.in_progress)}</th></tr></thead>
                <tbody>
                    {list.iter().map(|s| view! {
                        <tr class="status-row" data-bank=u16::from(s.bank.id) data-online=s.online.to_string() data-holding=(holder == Some(s.bank.id)).to_string()>
                            <td><span class="dot" data-palette=u16::from(s.bank.id)></span>{s.bank.name.clone()}</td>
                            <td><span class=if s.online { "badge committed" } else { "badge aborted" }>{if s.online { t_string!(i18n, common.online) } else { t_string!(i18n, common.offline) }}</span></td>
                            <td>{if holder == Some(s.bank.id) { t_string!(i18n, common.yes) } else { "" }}</td>
                            <td class="num">{s.visits}</td>
                            <td class="num">{s.packets_in_flight}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <details class="muted" id="ring-details"><summary>{t!(i18n, status.technical)}</summary><p>{technical}</p></details>
    }
}

/// The bank holding the token, as far as the banks' answers tell: the first online one, in ring
/// order, that says it holds it.
fn holder(list: &[BankStatus]) -> Option<BankId> {
    list.iter()
        .filter(|s| s.online && s.holding)
        .map(|s| s.bank.id)
        .min()
}

/// The ring's drawing, in the units of its `viewBox` (the page scales it to its width): its
/// height and centre (room for a name above the top disc and below a bottom one); its width
/// leaves room for the longest name beside the ring.
const VIEW_H: f64 = 335.0;
const CY: f64 = 165.0;
/// A generous width of one character of a name (15 px, bold; see `.ring-name` in main.css).
const CHAR_W: f64 = 10.5;
/// Radius of the ring, and of each bank's disc on it.
const RADIUS: f64 = 110.0;
const NODE: f64 = 26.0;
/// From a disc's centre to its name: clear of the holder's ring (radius NODE + 7, 5 wide).
const LABEL: f64 = NODE + 14.0;

/// A coordinate of the drawing, rounded for the markup.
fn at(v: f64) -> String {
    format!("{v:.1}")
}

/// The point at `radius` from the centre `cx` at `angle` (radians, clockwise from the right, as
/// SVG's y goes down).
fn on_ring(cx: f64, angle: f64, radius: f64) -> (f64, f64) {
    (cx + radius * angle.cos(), CY + radius * angle.sin())
}

/// The banks on a circle in ring order (by id), clockwise from the top, each a disc in its own
/// palette's accent with its name; arrows from each bank to the next; the bank coordinating now
/// ringed and carrying the token; banks that do not answer grey and dashed. Pure SVG, redrawn at
/// every poll; its `aria-label` says in words what the picture shows.
#[component]
fn Ring(list: Vec<BankStatus>, holder: Option<BankId>) -> impl IntoView {
    let i18n = use_i18n();
    let mut banks = list;
    banks.sort_by_key(|s| s.bank.id);
    let n = banks.len();
    if n == 0 {
        return ().into_any();
    }
    let online = banks.iter().filter(|s| s.online).count();
    let holder_name = holder.and_then(|h| {
        banks
            .iter()
            .find(|s| s.bank.id == h)
            .map(|s| s.bank.name.clone())
    });
    let angle = move |i: usize| -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
    let longest = banks
        .iter()
        .map(|s| s.bank.name.chars().count())
        .max()
        .unwrap_or(0);
    let cx = RADIUS + LABEL + longest as f64 * CHAR_W;
    let view_box = format!("0 0 {} {VIEW_H}", at(2.0 * cx));
    let label = {
        let holder_name = holder_name.clone();
        move || match holder_name.clone() {
            Some(bank) => t_string!(
                i18n,
                status.ring_label,
                holder = bank,
                online = online,
                total = n
            )
            .to_string(),
            None => {
                t_string!(i18n, status.ring_label_passing, online = online, total = n).to_string()
            }
        }
    };
    // An arc from each bank to the next, stopping short of the discs; the one leaving the
    // holder is where the token goes next.
    let arcs = (n > 1).then(|| {
        let gap = (NODE + 7.0) / RADIUS;
        (0..n)
            .map(|i| {
                let j = (i + 1) % n;
                let (from, to) = (angle(i) + gap, angle(i) + 2.0 * PI / n as f64 - gap);
                let (x0, y0) = on_ring(cx, from, RADIUS);
                let (x1, y1) = on_ring(cx, to, RADIUS);
                let large = if to - from > PI { 1 } else { 0 };
                let d = format!(
                    "M {} {} A {RADIUS} {RADIUS} 0 {large} 1 {} {}",
                    at(x0),
                    at(y0),
                    at(x1),
                    at(y1)
                );
                let up = banks[i].online && banks[j].online;
                let next = holder == Some(banks[i].bank.id);
                view! {
                    <path class="ring-arc" d=d data-online=up.to_string() data-next=next.to_string()
                        marker-end="url(#ring-arrow)"/>
                }
            })
            .collect_view()
    });
    let nodes = banks
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let a = angle(i);
            let (x, y) = on_ring(cx, a, RADIUS);
            let (cos, sin) = (a.cos(), a.sin());
            // The name outside the ring: above or below the discs at the top and bottom, beside
            // the others.
            let (lx, ly, anchor) = if cos.abs() < 0.7 {
                let ly = if sin < 0.0 {
                    y - LABEL
                } else {
                    y + LABEL + 11.0
                };
                (x, ly, "middle")
            } else if cos > 0.0 {
                (x + LABEL, y + 5.0, "start")
            } else {
                (x - LABEL, y + 5.0, "end")
            };
            let holds = holder == Some(s.bank.id);
            // The token: a small disc between the holder's ring and the ring's centre.
            let (tx, ty) = on_ring(cx, a, RADIUS - NODE - 24.0);
            let id = u16::from(s.bank.id);
            let initial = s.bank.name.chars().next().unwrap_or('?').to_string();
            view! {
                <g class="ring-bank" data-bank=id data-palette=id data-online=s.online.to_string()
                    data-holder=holds.to_string()>
                    {holds.then(|| view! { <circle class="ring-halo" cx=at(x) cy=at(y) r=at(NODE + 7.0)/> })}
                    <circle class="ring-node" cx=at(x) cy=at(y) r=at(NODE)/>
                    <text class="ring-initial" x=at(x) y=at(y + 7.0) text-anchor="middle">{initial}</text>
                    <text class="ring-name" x=at(lx) y=at(ly) text-anchor=anchor>{s.bank.name.clone()}</text>
                    {holds.then(|| view! { <circle class="ring-token" cx=at(tx) cy=at(ty) r="9"/> })}
                </g>
            }
        })
        .collect_view();
    let legend = move || match holder_name.clone() {
        Some(bank) => t_string!(i18n, status.legend_holder, bank = bank).to_string(),
        None => t_string!(i18n, status.legend_passing).to_string(),
    };
    view! {
        <figure class="ring-figure">
            <svg id="ring" class="ring" role="img" aria-label=label
                viewBox=view_box xmlns="http://www.w3.org/2000/svg">
                <defs>
                    <marker id="ring-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6"
                        markerHeight="6" orient="auto-start-reverse">
                        <path class="ring-arrow-head" d="M 0 0 L 10 5 L 0 10 z"/>
                    </marker>
                </defs>
                {arcs}
                {nodes}
            </svg>
            <figcaption>
                <ul class="ring-legend" id="ring-legend">
                    <li class="legend-holder" data-holder=holder.is_some().to_string()>
                        <svg class="legend-icon" viewBox="0 0 20 20" aria-hidden="true">
                            <circle class="ring-token" cx="10" cy="10" r="7"/>
                        </svg>
                        <span>{legend}</span>
                    </li>
                    <li>
                        <svg class="legend-icon" viewBox="0 0 20 20" aria-hidden="true">
                            <path class="ring-arc" d="M 2 10 L 16 10" marker-end="url(#ring-arrow)"/>
                        </svg>
                        <span>{t!(i18n, status.legend_order)}</span>
                    </li>
                    <li>
                        <svg class="legend-icon" viewBox="0 0 20 20" aria-hidden="true">
                            <circle class="legend-offline" cx="10" cy="10" r="7"/>
                        </svg>
                        <span>{t!(i18n, status.legend_offline)}</span>
                    </li>
                </ul>
            </figcaption>
        </figure>
    }
    .into_any()
}
