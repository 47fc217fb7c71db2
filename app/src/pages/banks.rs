//! The bank selector: every bank of the consortium in its own name and palette, with whether it
//! answers right now. Choosing one opens that bank's own app (each bank serves its app).

use crate::api::get_consortium;
use leptos::prelude::*;

#[component]
pub fn Banks() -> impl IntoView {
    let banks = Resource::new(|| (), |_| get_consortium());
    view! {
        <crate::pages::PageTitle text="Choose your bank"/>
        <section class="card">
            <h1>"Choose your bank"</h1>
            <p class="muted">"Every bank of the consortium runs its own app. Your Pix reaches clients of all of them."</p>
            <Suspense fallback=|| view! { <p class="muted">"Asking the banks…"</p> }>
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
                                                    {if s.online { "Online" } else { "Offline" }}
                                                </span>
                                            </a>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
