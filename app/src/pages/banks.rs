//! The bank selector: every bank of the consortium in its own name and palette, with whether it
//! answers right now. Choosing one opens that bank's own app (each bank serves its app).

use crate::api::get_consortium;
use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;

#[component]
pub fn Banks() -> impl IntoView {
    let i18n = use_i18n();
    let banks = Resource::new(|| (), |_| get_consortium());
    view! {
        <crate::pages::PageTitle text=move || t_string!(i18n, titles.banks).to_string()/>
        <section class="card">
            <h1>{t!(i18n, titles.banks)}</h1>
            <p class="muted">{t!(i18n, banks.lead)}</p>
            <Suspense fallback=move || view! { <p class="muted">{t!(i18n, common.asking_banks)}</p> }>
                {move || Suspend::new(async move {
                    match banks.await {
                        Ok(list) => view! {
                            <ul class="bank-grid">
                                {list.into_iter().map(|s| {
                                    let id = u16::from(s.bank.id);
                                    let href = if s.url.is_empty() { "/".to_string() } else { format!("{}/", s.url) };
                                    view! {
                                        <li class="bank-tile" data-palette=id data-online=s.online.to_string()>
                                            <a href=href>
                                                <span class="tile-logo" aria-hidden="true">{s.bank.name.chars().next().unwrap_or('?').to_string()}</span>
                                                <span class="tile-name">{s.bank.name.clone()}</span>
                                                <span class=if s.online { "badge committed" } else { "badge aborted" }>
                                                    {if s.online { t_string!(i18n, common.online) } else { t_string!(i18n, common.offline) }}
                                                </span>
                                            </a>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.message(i18n.get_locale())}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
