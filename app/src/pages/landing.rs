use leptos::prelude::*;

#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <crate::pages::PageTitle text="Instant Pix between banks"/>
        <section class="hero">
            <h1>"Banking without a central bank."</h1>
            <p>"Instant Pix to anyone at any bank of the consortium, at any hour."</p>
            <div class="actions">
                <a class="button primary" href="/signup">"Open an account"</a>
                <a class="button" href="/login">"Log in"</a>
                <a class="button" href="/banks">"Choose another bank"</a>
            </div>
        </section>
    }
}
