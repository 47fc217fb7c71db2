//! One module per page.

pub mod banks;
pub mod charges;
pub mod consent;
pub mod dashboard;
pub mod keys;
pub mod landing;
pub mod limits;
pub mod login;
pub mod operator;
pub mod packet;
pub mod pay;
pub mod receipt;
pub mod receive;
pub mod return_pix;
pub mod session;
pub mod signup;
pub mod status;

use crate::error::AppError;
use domain::dto::BankInfo;
use leptos::prelude::*;
use leptos_meta::Title;

/// The bank serving this app (asked once per page load; see `App`).
pub type BankResource = OnceResource<Result<BankInfo, AppError>>;

/// The document's title: the page, then the bank ("Entrar · Eleven"), in the client's language.
#[component]
pub fn PageTitle(text: impl Fn() -> String + Clone + Send + Sync + 'static) -> impl IntoView {
    let bank = use_context::<BankResource>();
    view! {
        <Suspense fallback={
            let text = text.clone();
            move || view! { <Title text=text.clone()/> }
        }>
            {
                let text = text.clone();
                move || {
                    let text = text.clone();
                    Suspend::new(async move {
                        let name = match bank {
                            Some(b) => b.await.map(|b| b.name).unwrap_or_else(|_| "Consórcio".into()),
                            None => "Consórcio".into(),
                        };
                        view! { <Title text=move || format!("{} · {name}", text())/> }
                    })
                }
            }
        </Suspense>
    }
}

/// How many characters of a Pix's message are used ("12/140"), beside its field; over the limit
/// it says so in the error colour (the bank refuses such a message, and so does the review).
#[component]
pub fn MessageCount(text: RwSignal<String>) -> impl IntoView {
    use domain::pix_message::MESSAGE_MAX_CHARS;
    let i18n = crate::use_i18n();
    let used = move || text.with(|t| t.trim().chars().count());
    let over = move || used() > MESSAGE_MAX_CHARS;
    view! {
        <span class="muted hint message-count" class:over=over aria-live="polite">
            {move || crate::i18n::t_string!(i18n, pix.message_count, used = used(), max = MESSAGE_MAX_CHARS).to_string()}
        </span>
    }
}

/// The result of an action's last submission, as a plain signal.
pub fn last_result<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> Signal<Option<Result<T, AppError>>> {
    Signal::derive(move || value.get())
}

/// The error of the last submission of a form, if any, as a banner, in the client's words.
pub fn error_banner<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, AppError>>>,
) -> impl IntoView {
    let i18n = crate::use_i18n();
    // A session that ended opens the dialog to resume it (see `session`).
    let watch = use_context::<session::SessionWatch>();
    Effect::new(move |_| {
        if let (Some(watch), Some(Err(e))) = (watch, value.get()) {
            watch.notice(&e);
        }
    });
    move || match value.get() {
        Some(Err(e)) if !matches!(e, AppError::BadInput { field: Some(_), .. }) => {
            Some(view! { <p class="error" role="alert">{e.message(i18n.get_locale())}</p> })
        }
        _ => None,
    }
}

/// The message for one field from the last submission's error, shown under that field.
pub fn field_error<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, AppError>>>,
    field: &'static str,
) -> impl IntoView {
    move || {
        value
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.for_field(field))
            .map(|m| view! { <span class="field-error" role="alert" data-field=field>{m}</span> })
    }
}

/// Calls `f` every `period` while the calling component is mounted. Browser only (effects do not
/// run on the server), so server rendering never waits on it.
pub fn every(period: std::time::Duration, f: impl Fn() + Clone + 'static) {
    Effect::new(move |_| {
        let f = f.clone();
        if let Ok(handle) = set_interval_with_handle(f, period) {
            on_cleanup(move || handle.clear());
        }
    });
}

/// Whether the client's last change to a field deleted (then a mask takes the field's dots as
/// its own grouping; see [`domain::input::Mask::apply`]).
fn deleting(ev: &leptos::ev::Event) -> bool {
    use leptos::wasm_bindgen::JsCast;
    ev.dyn_ref::<leptos::web_sys::InputEvent>()
        .is_some_and(|e| e.input_type().starts_with("delete"))
}

/// An `input` handler that rewrites a field as the client types (`(21) 99876-5432`,
/// `R$ 1.234,56`). Handlers run only once the page is interactive: before that the field posts
/// what was typed, and the bank reads every usual form anyway.
pub fn masked(mask: domain::input::Mask) -> impl Fn(leptos::ev::Event) + Clone + 'static {
    move |ev| {
        let input = event_target::<leptos::web_sys::HtmlInputElement>(&ev);
        let typed = input.value();
        let shown = mask.apply(&typed, deleting(&ev));
        if shown != typed {
            input.set_value(&shown);
        }
    }
}

/// On leaving a masked field: its text as [`domain::input::Mask::tidy`] writes it (an amount as
/// `R$ 1.234,56`).
pub fn tidied(mask: domain::input::Mask) -> impl Fn(leptos::ev::FocusEvent) + Clone + 'static {
    move |ev| {
        let input = event_target::<leptos::web_sys::HtmlInputElement>(&ev);
        let typed = input.value();
        let shown = mask.tidy(&typed);
        if shown != typed {
            input.set_value(&shown);
        }
    }
}

/// [`tidied`], for a field whose value a signal holds.
pub fn tidied_into(
    mask: domain::input::Mask,
    value: RwSignal<String>,
) -> impl Fn(leptos::ev::FocusEvent) + Clone + 'static {
    move |ev| {
        let input = event_target::<leptos::web_sys::HtmlInputElement>(&ev);
        let shown = mask.tidy(&input.value());
        input.set_value(&shown);
        value.set(shown);
    }
}

/// [`masked`], for a field whose value a signal holds (`prop:value` from it): the signal gets the
/// masked text, which is what the field shows.
pub fn masked_into(
    mask: domain::input::Mask,
    value: RwSignal<String>,
) -> impl Fn(leptos::ev::Event) + Clone + 'static {
    move |ev| {
        let input = event_target::<leptos::web_sys::HtmlInputElement>(&ev);
        let shown = mask.apply(&input.value(), deleting(&ev));
        // The field shows it at once (the signal may hold it already: then nothing re-renders).
        input.set_value(&shown);
        value.set(shown);
    }
}
