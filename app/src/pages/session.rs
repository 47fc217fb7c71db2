//! A session that ends is noticed at once, on any page, and can be resumed there: the page asks
//! the bank every few seconds whether its session is still on (saying whether the client did
//! anything since, which is what keeps a session from ending idle), and when it has ended, a
//! dialog over the page asks for the e-mail and password again. The page underneath stays as
//! it was: whatever the client typed is still there once the dialog closes.

use crate::api::{check_session, ResumeSession};
use crate::error::AppError;
use crate::i18n::{t, use_i18n};
use crate::pages::{error_banner, every, last_result};
use leptos::prelude::*;

/// How often an open page asks whether its session is still on.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The session's state as the page knows it, shared through context.
#[derive(Clone, Copy)]
pub struct SessionWatch {
    ended: RwSignal<bool>,
    /// The client typed, clicked or scrolled since the last check.
    active: StoredValue<bool>,
}

impl SessionWatch {
    /// Shows the dialog when `error` says the session is over.
    pub fn notice(&self, error: &AppError) {
        if *error == AppError::SessionEnded {
            self.ended.set(true);
        }
    }
}

/// The watch and its dialog; put once around the app's routes.
#[component]
pub fn SessionGuard(children: Children) -> impl IntoView {
    let watch = SessionWatch {
        ended: RwSignal::new(false),
        active: StoredValue::new(false),
    };
    provide_context(watch);
    // Browser only (effects do not run on the server): activity marks, and the periodic check.
    Effect::new(move |_| {
        let mark = move || watch.active.set_value(true);
        let handles = [
            window_event_listener(leptos::ev::keydown, move |_| mark()),
            window_event_listener(leptos::ev::pointerdown, move |_| mark()),
            window_event_listener(leptos::ev::scroll, move |_| mark()),
        ];
        on_cleanup(move || handles.into_iter().for_each(|h| h.remove()));
    });
    every(CHECK_EVERY, move || {
        if watch.ended.get_untracked() {
            return;
        }
        let active = watch.active.get_value();
        watch.active.set_value(false);
        leptos::task::spawn_local(async move {
            if let Err(e) = check_session(active).await {
                watch.notice(&e);
            }
        });
    });
    let resume = ServerAction::<ResumeSession>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = resume.value().get() {
            watch.ended.set(false);
        }
    });
    let i18n = use_i18n();
    view! {
        {children()}
        <Show when=move || watch.ended.get()>
            <div class="session-backdrop">
                <section class="card narrow session-dialog" role="dialog" aria-modal="true"
                    aria-labelledby="session-ended-title" id="session-ended">
                    <h2 id="session-ended-title">{t!(i18n, session.ended_title)}</h2>
                    <p>{t!(i18n, session.ended_text)}</p>
                    <ActionForm action=resume attr:class="form">
                        <label>{t!(i18n, login.email)} <input type="email" name="email" autocomplete="username" required/></label>
                        <label>{t!(i18n, login.password)} <input type="password" name="password" autocomplete="current-password" required autofocus/></label>
                        {error_banner(last_result(resume.value()))}
                        <button type="submit" class="primary" disabled=move || resume.pending().get()>{t!(i18n, session.resume)}</button>
                    </ActionForm>
                    <a href="/">{t!(i18n, session.leave)}</a>
                </section>
            </div>
        </Show>
    }
}
