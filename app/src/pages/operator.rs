//! The operators' console (`/operator`): without an operator's session, a form for the bank's
//! operator token; with one, the ring with this bank's positions and limits, alarms
//! (disagreements, equivocations), every settlement window with its signed reports and pairs,
//! the buttons to close a window, mark a window paid and confirm it received (each asks for a
//! confirmation first and says plainly how it went), each window's multilateral netting plan
//! with a button per leg ("Pagar (compensação multilateral)" for this bank's legs as debtor,
//! "Confirmar recebimento" as creditor), and the evidence kept about a transaction.

use crate::api::operator::{
    LegRow, MemberRow, NettingRow, PairRow, PairState, ReportRow, WindowRow,
};
use crate::api::{
    operator_console, Console, OperatorClose, OperatorEvidence, OperatorLogin, OperatorLogout,
    OperatorNettingPaid, OperatorNettingReceived, OperatorPaid, OperatorReceived, OperatorResend,
};
use crate::error::AppError;
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use crate::pages::{error_banner, field_error, last_result};
use domain::time_fmt::format_brasilia;
use domain::{BankId, Cents};
use leptos::prelude::*;

/// What the operator is asked to confirm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    Close,
    Paid {
        window: u64,
        peer: BankId,
        amount: Cents,
    },
    Received {
        window: u64,
        peer: BankId,
        amount: Cents,
    },
    /// This bank's leg of the window's netting plan, paid to `peer`.
    LegPaid {
        window: u64,
        peer: BankId,
        amount: Cents,
    },
    /// `peer`'s leg of the window's netting plan, received by this bank.
    LegReceived {
        window: u64,
        peer: BankId,
        amount: Cents,
    },
}

/// The console's actions, shared by its parts.
#[derive(Clone, Copy)]
struct Actions {
    close: ServerAction<OperatorClose>,
    resend: ServerAction<OperatorResend>,
    paid: ServerAction<OperatorPaid>,
    received: ServerAction<OperatorReceived>,
    leg_paid: ServerAction<OperatorNettingPaid>,
    leg_received: ServerAction<OperatorNettingReceived>,
    ask: RwSignal<Option<Ask>>,
}

#[component]
pub fn OperatorPage() -> impl IntoView {
    let i18n = use_i18n();
    let login = ServerAction::<OperatorLogin>::new();
    let logout = ServerAction::<OperatorLogout>::new();
    let actions = Actions {
        close: ServerAction::new(),
        resend: ServerAction::new(),
        paid: ServerAction::new(),
        received: ServerAction::new(),
        leg_paid: ServerAction::new(),
        leg_received: ServerAction::new(),
        ask: RwSignal::new(None),
    };
    let console = Resource::new(
        move || {
            (
                login.version().get(),
                logout.version().get(),
                actions.close.version().get(),
                actions.resend.version().get(),
                actions.paid.version().get(),
                actions.received.version().get(),
                actions.leg_paid.version().get(),
                actions.leg_received.version().get(),
            )
        },
        |_| operator_console(),
    );
    // The last action's outcome, whichever it was.
    let outcome = RwSignal::new(None::<Result<String, AppError>>);
    forward(actions.close.value(), outcome);
    forward(actions.resend.value(), outcome);
    forward(actions.paid.value(), outcome);
    forward(actions.received.value(), outcome);
    forward(actions.leg_paid.value(), outcome);
    forward(actions.leg_received.value(), outcome);
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.operator).to_string()/>
        <Transition fallback=move || view! { <p class="muted">{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match console.await {
                    Ok(c) => view! {
                        <ConsoleView console=c actions=actions outcome=outcome logout=logout/>
                    }.into_any(),
                    Err(e) if e.needs_login() => view! { <LoginForm login=login/> }.into_any(),
                    Err(e) => view! {
                        <section class="card narrow">
                            <h1>{t!(i18n, operator.title)}</h1>
                            <p class="error" role="alert">{e.message(i18n.get_locale_untracked())}</p>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Shows `value`'s newest outcome as the console's outcome.
fn forward(
    value: impl Get<Value = Option<Result<String, AppError>>> + Send + Sync + 'static,
    outcome: RwSignal<Option<Result<String, AppError>>>,
) {
    Effect::new(move |_| {
        if let Some(v) = value.get() {
            outcome.set(Some(v));
        }
    });
}

#[component]
fn LoginForm(login: ServerAction<OperatorLogin>) -> impl IntoView {
    let i18n = use_i18n();
    let result = last_result(login.value());
    view! {
        <section class="card narrow" id="operator-login">
            <h1>{t!(i18n, operator.title)}</h1>
            <p class="muted">{t!(i18n, operator.login_lead)}</p>
            <ActionForm action=login attr:class="form">
                <label>{t!(i18n, operator.token)}
                    <input type="password" name="token" autocomplete="current-password" required/>
                </label>
                {field_error(result, "token")}
                {error_banner(result)}
                <button type="submit" class="primary" disabled=move || login.pending().get()>{t!(i18n, common.log_in)}</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn ConsoleView(
    console: Console,
    actions: Actions,
    outcome: RwSignal<Option<Result<String, AppError>>>,
    logout: ServerAction<OperatorLogout>,
) -> impl IntoView {
    let i18n = use_i18n();
    let l = i18n.get_locale_untracked();
    let names: Vec<(BankId, String)> = console
        .members
        .iter()
        .map(|m| (m.bank.id, m.bank.name.clone()))
        .collect();
    let name_of = move |id: BankId| -> String {
        names
            .iter()
            .find(|(b, _)| *b == id)
            .map(|(_, n)| format!("{n} ({id})"))
            .unwrap_or_else(|| td_string!(l, common.bank_n, id = id.to_string()).to_string())
    };
    let alarms = (console.disagreements > 0 || console.equivocations > 0).then(|| {
        view! {
            <p class="error" role="alert" id="alarm">
                {td_string!(l, operator.alarm, disagreements = console.disagreements, equivocations = console.equivocations).to_string()}
            </p>
        }
    });
    let me = console.bank;
    let windows = console
        .windows
        .into_iter()
        .map(|w| window_view(w, me, actions, name_of.clone(), l))
        .collect_view();
    let no_windows = (console.last_window == 0)
        .then(|| view! { <p class="muted">{t!(i18n, operator.no_windows)}</p> });
    view! {
        <section class="card" id="operator-console">
            <h1>{t!(i18n, operator.title)}</h1>
            <p class="muted">{td_string!(l, operator.lead, window = console.last_window).to_string()}</p>
            {alarms}
            <ActionForm action=logout attr:class="inline">
                <button type="submit" class="link">{t!(i18n, common.log_out)}</button>
            </ActionForm>
        </section>
        <Outcome outcome=outcome/>
        <Confirm actions=actions name_of=name_of.clone()/>
        <section class="card" id="ring">
            <h2>{t!(i18n, operator.ring)}</h2>
            <p class="muted">{t!(i18n, operator.ring_lead)}</p>
            <div class="scroll-x"><table>
                <thead><tr>
                    <th>{t!(i18n, common.bank)}</th>
                    <th>{t!(i18n, common.status)}</th>
                    <th>{t!(i18n, operator.outstanding)}</th>
                    <th>{t!(i18n, operator.pending)}</th>
                    <th>{t!(i18n, operator.by_windows)}</th>
                    <th>{t!(i18n, operator.limit)}</th>
                </tr></thead>
                <tbody>{console.members.into_iter().map(|m| member_row(m, l)).collect_view()}</tbody>
            </table></div>
        </section>
        <section class="card" id="windows">
            <h2>{t!(i18n, operator.windows)}</h2>
            <div class="actions">
                <button type="button" class="primary" id="close-window"
                    disabled=move || actions.close.pending().get()
                    on:click=move |_| actions.ask.set(Some(Ask::Close))>
                    {t!(i18n, operator.close)}
                </button>
            </div>
            {no_windows}
            {windows}
        </section>
        <Evidence/>
    }
}

fn member_row(m: MemberRow, l: Locale) -> impl IntoView {
    let state = if m.me {
        td_string!(l, operator.this_bank).to_string()
    } else if !m.online {
        td_string!(l, common.offline).to_string()
    } else {
        td_string!(l, common.online).to_string()
    };
    let holding = m
        .holding
        .then(|| td_string!(l, operator.holding).to_string());
    let state = match holding {
        Some(h) => format!("{state} · {h}"),
        None => state,
    };
    let (outstanding, pending, by_windows, limit) = if m.me {
        ("—".into(), "—".into(), "—".into(), "—".into())
    } else {
        (
            m.outstanding.to_string(),
            m.pending.to_string(),
            m.by_windows.to_string(),
            match m.collateral {
                Some(c) => {
                    let pledged =
                        td_string!(l, operator.collateral, amount = c.to_string()).to_string();
                    format!("{} ({pledged})", m.limit)
                }
                None => m.limit.to_string(),
            },
        )
    };
    view! {
        <tr data-bank=m.bank.id.to_string()>
            <td>{format!("{} ({})", m.bank.name, m.bank.id)}</td>
            <td>{state}</td>
            <td>{outstanding}</td>
            <td>{pending}</td>
            <td>{by_windows}</td>
            <td>{limit}</td>
        </tr>
    }
}

fn window_view(
    w: WindowRow,
    me: BankId,
    actions: Actions,
    name_of: impl Fn(BankId) -> String + Clone + Send + Sync + 'static,
    l: Locale,
) -> impl IntoView {
    let window = w.window;
    let closed = w
        .reports
        .first()
        .map(|r| format_brasilia(r.closed_ms))
        .unwrap_or_default();
    let reports = w
        .reports
        .into_iter()
        .map(|r| report_row(r, name_of.clone(), "report"))
        .collect_view();
    let contradicting = (!w.contradicting.is_empty()).then(|| {
        let rows = w
            .contradicting
            .into_iter()
            .map(|r| report_row(r, name_of.clone(), "report contradicting"))
            .collect_view();
        view! {
            <p class="error" role="alert">{td_string!(l, operator.contradicting).to_string()}</p>
            <div class="scroll-x"><table class="contradicting"><tbody>{rows}</tbody></table></div>
        }
    });
    let netted = w.netting.as_ref().is_some_and(|n| n.chosen);
    let pairs = w
        .pairs
        .into_iter()
        .map(|p| pair_row(window, p, netted, actions, name_of.clone(), l))
        .collect_view();
    let netting = w
        .netting
        .map(|n| netting_view(window, n, me, actions, name_of.clone(), l));
    view! {
        <article class="window" id=format!("window-{window}")>
            <h3>{td_string!(l, operator.window, window = window, closed = closed).to_string()}</h3>
            <h4>{td_string!(l, operator.reports).to_string()}</h4>
            <div class="scroll-x"><table>
                <thead><tr>
                    <th>{td_string!(l, operator.signed_by).to_string()}</th>
                    <th>{td_string!(l, operator.nets).to_string()}</th>
                    <th>{td_string!(l, operator.multilateral).to_string()}</th>
                    <th>{td_string!(l, operator.signature).to_string()}</th>
                </tr></thead>
                <tbody>{reports}</tbody>
            </table></div>
            {contradicting}
            <h4>{td_string!(l, operator.pairs).to_string()}</h4>
            <div class="scroll-x"><table>
                <thead><tr>
                    <th>{td_string!(l, operator.with).to_string()}</th>
                    <th>{td_string!(l, operator.ours).to_string()}</th>
                    <th>{td_string!(l, operator.theirs).to_string()}</th>
                    <th>{td_string!(l, common.status).to_string()}</th>
                    <th>{td_string!(l, operator.payment).to_string()}</th>
                </tr></thead>
                <tbody>{pairs}</tbody>
            </table></div>
            {netting}
            <button type="button" class="link" data-resend=window.to_string()
                on:click=move |_| { actions.resend.dispatch(OperatorResend { window }); }>
                {td_string!(l, operator.resend).to_string()}
            </button>
        </article>
    }
}

fn report_row(
    r: ReportRow,
    name_of: impl Fn(BankId) -> String,
    class: &'static str,
) -> impl IntoView {
    let nets = r
        .nets
        .iter()
        .map(|(peer, net)| format!("{}: {net}", name_of(*peer)))
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <tr class=class data-bank=r.bank.to_string()>
            <td>{name_of(r.bank)}</td>
            <td>{nets}</td>
            <td>{r.multilateral.to_string()}</td>
            <td><code>{r.signature}</code></td>
        </tr>
    }
}

/// The window's multilateral netting plan: a row per leg, with this bank's button on its legs.
fn netting_view(
    window: u64,
    n: NettingRow,
    me: BankId,
    actions: Actions,
    name_of: impl Fn(BankId) -> String,
    l: Locale,
) -> impl IntoView {
    let state = if n.legs.is_empty() {
        td_string!(l, operator.netting_empty).to_string()
    } else if n.settled {
        td_string!(l, operator.netting_settled).to_string()
    } else if n.chosen {
        td_string!(l, operator.netting_chosen).to_string()
    } else {
        String::new()
    };
    let legs = n
        .legs
        .into_iter()
        .map(|leg| leg_row(window, leg, me, actions, &name_of, l))
        .collect_view();
    view! {
        <section class="netting" data-window=window.to_string()>
            <h4>{td_string!(l, operator.netting).to_string()}</h4>
            <p class="muted">{td_string!(l, operator.netting_lead).to_string()}</p>
            <p class="netting-state">{state}</p>
            <div class="scroll-x"><table>
                <thead><tr>
                    <th>{td_string!(l, operator.debtor).to_string()}</th>
                    <th>{td_string!(l, operator.creditor).to_string()}</th>
                    <th>{td_string!(l, operator.amount).to_string()}</th>
                    <th>{td_string!(l, operator.payment).to_string()}</th>
                </tr></thead>
                <tbody>{legs}</tbody>
            </table></div>
        </section>
    }
}

fn leg_row(
    window: u64,
    leg: LegRow,
    me: BankId,
    actions: Actions,
    name_of: &impl Fn(BankId) -> String,
    l: Locale,
) -> impl IntoView {
    let amount = leg.amount;
    let paid_badge = |text: String| {
        leg.paid
            .then(|| view! { <span class="badge pending">{text}</span> " " })
    };
    let payment = if leg.received {
        view! { <span class="badge committed">{td_string!(l, operator.leg_confirmed).to_string()}</span> }
            .into_any()
    } else if leg.debtor == me {
        let peer = leg.creditor;
        let paid = paid_badge(td_string!(l, operator.marked_paid).to_string());
        view! {
            {paid}
            <button type="button" data-leg-paid=peer.to_string()
                on:click=move |_| actions.ask.set(Some(Ask::LegPaid { window, peer, amount }))>
                {td_string!(l, operator.pay_leg).to_string()}
            </button>
        }
        .into_any()
    } else if leg.creditor == me {
        let peer = leg.debtor;
        let paid = paid_badge(td_string!(l, operator.they_paid).to_string());
        view! {
            {paid}
            <button type="button" data-leg-received=peer.to_string()
                on:click=move |_| actions.ask.set(Some(Ask::LegReceived { window, peer, amount }))>
                {td_string!(l, operator.confirm_received).to_string()}
            </button>
        }
        .into_any()
    } else {
        let paid = paid_badge(td_string!(l, operator.they_paid).to_string());
        view! { {paid} <span class="muted">"—"</span> }.into_any()
    };
    view! {
        <tr class="leg" data-debtor=leg.debtor.to_string() data-creditor=leg.creditor.to_string()>
            <td>{name_of(leg.debtor)}</td>
            <td>{name_of(leg.creditor)}</td>
            <td>{amount.to_string()}</td>
            <td>{payment}</td>
        </tr>
    }
}

fn pair_row(
    window: u64,
    p: PairRow,
    netted: bool,
    actions: Actions,
    name_of: impl Fn(BankId) -> String,
    l: Locale,
) -> impl IntoView {
    let (badge, class) = match p.state {
        PairState::Waiting => (td_string!(l, operator.waiting).to_string(), "badge pending"),
        PairState::Agreed => (
            td_string!(l, operator.agreed).to_string(),
            "badge committed",
        ),
        PairState::Disagreed => (
            td_string!(l, operator.disagreed).to_string(),
            "badge aborted",
        ),
    };
    let amount = Cents::new(p.ours.get().abs());
    let peer = p.peer;
    let owed = p.ours.get() != 0;
    let payment = if p.received {
        view! { <span class="badge committed">{td_string!(l, operator.settled).to_string()}</span> }
            .into_any()
    } else if p.state != PairState::Agreed || !owed {
        view! { <span class="muted">"—"</span> }.into_any()
    } else if netted {
        view! { <span class="muted">{td_string!(l, operator.by_netting).to_string()}</span> }
            .into_any()
    } else if p.ours.get() < 0 {
        let paid = p
            .paid
            .then(|| view! { <span class="badge pending">{td_string!(l, operator.marked_paid).to_string()}</span> " " });
        view! {
            {paid}
            <button type="button" data-paid=peer.to_string()
                on:click=move |_| actions.ask.set(Some(Ask::Paid { window, peer, amount }))>
                {td_string!(l, operator.mark_paid).to_string()}
            </button>
        }
        .into_any()
    } else {
        let overdue = p
            .overdue
            .then(|| view! { <span class="badge aborted">{td_string!(l, operator.overdue).to_string()}</span> " " });
        let paid = p
            .paid
            .then(|| view! { <span class="badge pending">{td_string!(l, operator.they_paid).to_string()}</span> " " });
        view! {
            {overdue}
            {paid}
            <button type="button" data-received=peer.to_string()
                on:click=move |_| actions.ask.set(Some(Ask::Received { window, peer, amount }))>
                {td_string!(l, operator.confirm_received).to_string()}
            </button>
        }
        .into_any()
    };
    let theirs = p
        .theirs
        .map(|c| c.to_string())
        .unwrap_or_else(|| "—".into());
    view! {
        <tr class="pair" data-peer=peer.to_string()>
            <td>{name_of(peer)}</td>
            <td>{p.ours.to_string()}</td>
            <td>{theirs}</td>
            <td><span class=class>{badge}</span></td>
            <td>{payment}</td>
        </tr>
    }
}

/// The confirmation asked before anything is signed.
#[component]
fn Confirm(
    actions: Actions,
    name_of: impl Fn(BankId) -> String + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let i18n = use_i18n();
    let question = move || {
        let l = i18n.get_locale();
        actions.ask.get().map(|ask| match ask {
            Ask::Close => td_string!(l, operator.ask_close).to_string(),
            Ask::Paid {
                window,
                peer,
                amount,
            } => td_string!(
                l,
                operator.ask_paid,
                window = window,
                bank = name_of(peer),
                amount = amount.to_string()
            )
            .to_string(),
            Ask::Received {
                window,
                peer,
                amount,
            } => td_string!(
                l,
                operator.ask_received,
                window = window,
                bank = name_of(peer),
                amount = amount.to_string()
            )
            .to_string(),
            Ask::LegPaid {
                window,
                peer,
                amount,
            } => td_string!(
                l,
                operator.ask_pay_leg,
                window = window,
                bank = name_of(peer),
                amount = amount.to_string()
            )
            .to_string(),
            Ask::LegReceived {
                window,
                peer,
                amount,
            } => td_string!(
                l,
                operator.ask_confirm_leg,
                window = window,
                bank = name_of(peer),
                amount = amount.to_string()
            )
            .to_string(),
        })
    };
    let yes = move |_| {
        match actions.ask.get_untracked() {
            Some(Ask::Close) => {
                actions.close.dispatch(OperatorClose {});
            }
            Some(Ask::Paid { window, peer, .. }) => {
                actions.paid.dispatch(OperatorPaid {
                    window,
                    creditor: peer.get().into(),
                });
            }
            Some(Ask::Received { window, peer, .. }) => {
                actions.received.dispatch(OperatorReceived {
                    window,
                    debtor: peer.get().into(),
                });
            }
            Some(Ask::LegPaid { window, peer, .. }) => {
                actions.leg_paid.dispatch(OperatorNettingPaid {
                    window,
                    creditor: peer.get().into(),
                });
            }
            Some(Ask::LegReceived { window, peer, .. }) => {
                actions.leg_received.dispatch(OperatorNettingReceived {
                    window,
                    debtor: peer.get().into(),
                });
            }
            None => {}
        }
        actions.ask.set(None);
    };
    move || {
        question().map(|q| {
            view! {
                <section class="card" id="confirm" role="alertdialog" aria-labelledby="confirm-text">
                    <p id="confirm-text">{q}</p>
                    <div class="actions">
                        <button type="button" class="primary" id="confirm-yes" on:click=yes>{t!(i18n, operator.confirm)}</button>
                        <button type="button" id="confirm-no" on:click=move |_| actions.ask.set(None)>{t!(i18n, common.cancel)}</button>
                    </div>
                </section>
            }
        })
    }
}

#[component]
fn Outcome(outcome: RwSignal<Option<Result<String, AppError>>>) -> impl IntoView {
    let i18n = use_i18n();
    move || match outcome.get() {
        Some(Ok(text)) => {
            Some(view! { <p class="ok" role="status" id="outcome">{text}</p> }.into_any())
        }
        Some(Err(e)) => Some(
            view! { <p class="error" role="alert" id="outcome">{e.message(i18n.get_locale())}</p> }
                .into_any(),
        ),
        None => None,
    }
}

/// Evidence lookup by transaction id.
#[component]
fn Evidence() -> impl IntoView {
    let i18n = use_i18n();
    let lookup = ServerAction::<OperatorEvidence>::new();
    let result = last_result(lookup.value());
    view! {
        <section class="card" id="evidence">
            <h2>{t!(i18n, operator.evidence)}</h2>
            <p class="muted">{t!(i18n, operator.evidence_lead)}</p>
            <ActionForm action=lookup attr:class="form inline-form">
                <label>{t!(i18n, operator.tx)} <input type="text" name="tx" required maxlength="32"/></label>
                <button type="submit" disabled=move || lookup.pending().get()>{t!(i18n, operator.look_up)}</button>
            </ActionForm>
            {field_error(result, "tx")}
            {error_banner(result)}
            {move || result.get().and_then(|r| r.ok()).map(|text| view! { <pre id="evidence-report" class="evidence">{text}</pre> })}
        </section>
    }
}
