//! Issue 26: a client's money and data safe from other sites and from strangers with a free
//! account. Each confirmed attack, against real bank processes, refused with nothing moved.

use crate::browser::{click, fill, wait_for, wait_hydrated};
use crate::support::*;
use reqwest::StatusCode;

/// A bank alone whose per-address budgets are the real ones (every other test's banks get room
/// for the many clients they run from 127.0.0.1).
async fn strict_bank(id: u8, dir: &std::path::Path) -> Bank {
    Bank::start_with(
        id,
        dir,
        "127.0.0.1:0",
        &[("ADDRESS_BUDGET_SCALE", "1".into())],
    )
    .await
}

/// Logs `email` in at `url` in the browser, and waits for the hydrated dashboard.
async fn log_in(b: &fantoccini::Client, url: &str, email: &str) {
    b.goto(&format!("{url}/login")).await.unwrap();
    wait_hydrated(b).await;
    fill(b, "email", email).await;
    fill(b, "password", PASSWORD).await;
    click(b, "//button[@type='submit']").await;
    wait_for(b, "//strong[@id='available']").await;
    wait_hydrated(b).await;
}

/// Posts a server function as a page of `origin` would make the browser post it (with the
/// victim's cookies, which `c` holds).
async fn post_from(
    c: &Client,
    function: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut req = c
        .http
        .post(format!("{}/api/{function}", c.url))
        .header("Accept", "application/json")
        .form(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn requests_forged_by_other_sites_are_refused_and_move_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
    let (ana, beto) = (bank.client(), bank.client());
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        beto.open_account("Beto Souza", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let (s, body) = ana
        .call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let own = bank.url.clone();
    let port: u16 = own.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!("http://127.0.0.1:{}", port + 1);
    let pix = [
        ("key", BETO_CPF),
        ("amount", "7,00"),
        ("tx_id", ""),
        ("bank", ""),
    ];
    // Another port of the same host (the same site, so SameSite=Strict cookies go along), another
    // host, an opaque origin; and without Origin, a browser's Sec-Fetch-Site.
    for headers in [
        vec![("Origin", other_port.as_str())],
        vec![("Origin", "http://evil.localhost:8081")],
        vec![("Origin", "null")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Sec-Fetch-Site", "cross-site")],
    ] {
        let (status, text) = post_from(&ana, "send_pix", &pix, &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {text}");
        assert!(
            text.contains("came from another page") && text.contains("Nothing was done"),
            "{text}"
        );
        let (status, _) = post_from(&ana, "logout", &[], &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "logout too: {headers:?}");
    }
    assert_eq!(
        ana.balances().await,
        (10_000, 0),
        "nothing left Ana's account"
    );
    assert_eq!(beto.balances().await, (0, 0));

    // Her own site's pages post as before, and so do clients that are no browser.
    let (status, text) = post_from(&ana, "send_pix", &pix, &[("Origin", own.as_str())]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) =
        post_from(&ana, "send_pix", &pix, &[("Sec-Fetch-Site", "same-origin")]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(ana.balances().await, (10_000 - 1_400, 0));
    // Reading is never refused (a link from another site opens the bank's pages).
    let res = ana
        .http
        .get(format!("{own}/login"))
        .header("Origin", "http://evil.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_operators_part_of_status_needs_the_operator_token() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(2, dir.path()).await;
    let get = |token: Option<&'static str>| {
        let url = format!("{}/status", bank.url);
        async move {
            let mut req = reqwest::Client::new().get(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<engine::wire::StatusReport>().await.unwrap()
        }
    };
    let public = get(None).await;
    assert_eq!(public.bank.map(|b| b.get()), Some(2));
    assert!(
        public.audit.is_none() && public.engine.is_none(),
        "{public:?}"
    );
    assert!(get(Some("a wrong token, long enough"))
        .await
        .audit
        .is_none());
    let operator = get(Some(OPERATOR_TOKEN)).await;
    assert!(operator.audit.is_some() && operator.engine.is_some());
}

#[tokio::test]
async fn a_clients_transaction_ids_must_be_this_banks_and_todays() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(3, dir.path()).await;
    let ana = bank.client();
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    let now = engine::wall_clock_ms();
    let year_2099 = format!("E00000003{}abcDEF12345", "209911261705");
    for (id, says) in [
        (tx_id(99), "belongs to another bank"),
        (tx_id(1), "belongs to another bank"),
        (year_2099, "not from today"),
        (tx_id_at(3, now - 2 * 86_400_000), "not from today"),
        (tx_id_at(3, now + 3_600_000), "not from today"),
    ] {
        let (status, body) = ana
            .call("deposit", &[("amount", "1,00"), ("tx_id", &id)])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {body}");
        assert!(body.to_string().contains(says), "{id}: {body}");
    }
    assert_eq!(ana.balances().await, (0, 0));
    let (status, body) = ana
        .call("deposit", &[("amount", "1,00"), ("tx_id", &tx_id(3))])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn key_lookups_have_a_budget_and_misses_cost_most() {
    let dir = tempfile::tempdir().unwrap();
    let bank = strict_bank(1, dir.path()).await;
    let (ana, eve) = (bank.client(), bank.client());
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        eve.open_account("Eve Intrusa", BETO_CPF, "eve@example.com")
            .await,
        StatusCode::OK
    );
    // Eve tries CPFs that are nobody's key: ten misses spend her 100 tokens.
    let misses = ["390.533.447-05", "123.456.789-09", "987.654.321-00"];
    let mut answered = 0;
    let mut refused = None;
    for i in 0..30 {
        let key = misses[i % misses.len()];
        let (status, body) = eve.call("lookup_receiver", &[("key", key)]).await;
        match status {
            StatusCode::NOT_FOUND => answered += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused = Some(body);
                break;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(answered, 10, "ten misses, then no more");
    let refused = refused.expect("a 429").to_string();
    assert!(refused.contains("looked up many Pix keys"), "{refused}");
    // Even a key that exists is not looked up now: a spent budget tells nothing about keys.
    let (status, _) = eve.call("lookup_receiver", &[("key", ANA_CPF)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Ana, another client behind the same address: the address's budget (300) still has room
    // for her, and her lookups end in payments, which makes them cost nothing in the end.
    let (s, body) = ana
        .call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    for _ in 0..60 {
        let (status, body) = ana.call("lookup_receiver", &[("key", BETO_CPF)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "Eve Intrusa");
        let (status, body) = ana
            .call(
                "send_pix",
                &[
                    ("key", BETO_CPF),
                    ("amount", "0,01"),
                    ("tx_id", ""),
                    ("bank", ""),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // In Portuguese for a client who did not choose English.
    let pt = Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
        url: bank.url.clone(),
    };
    let (status, _) = pt
        .call(
            "login",
            &[("email", "eve@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = pt.call("lookup_receiver", &[("key", ANA_CPF)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        body.to_string().contains("muitas consultas de chaves Pix"),
        "{body}"
    );
}

#[tokio::test]
async fn confirmation_codes_are_capped_and_an_address_that_voids_them_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let bank = strict_bank(1, dir.path()).await;
    let eve = bank.client();
    assert_eq!(
        eve.open_account("Eve Intrusa", ANA_CPF, "eve@example.com")
            .await,
        StatusCode::OK
    );
    let ask = |n: usize| {
        let eve = eve.clone();
        async move {
            eve.call(
                "request_key",
                &[
                    ("kind", "email"),
                    ("value", &format!("victim{n}@example.com")),
                ],
            )
            .await
        }
    };
    for n in 0..5 {
        let (status, body) = ask(n).await;
        assert_eq!(status, StatusCode::OK, "code {n}: {body}");
    }
    let (status, body) = ask(5).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.to_string().contains("5 codes an hour"), "{body}");
    let sent = std::fs::read_to_string(dir.path().join("outbox.txt")).unwrap();
    assert_eq!(
        sent.lines().filter(|l| !l.trim().is_empty()).count(),
        5,
        "{sent}"
    );

    // Guessing: each code allows five tries; three voided codes lock the address out.
    for n in 0..3 {
        let key = format!("victim{}@example.com", 4 - n);
        let mut last = String::new();
        for _ in 0..5 {
            let (status, body) = eve
                .call("confirm_key", &[("key", &key), ("code", "000000")])
                .await;
            if status == StatusCode::OK {
                // One chance in a million: the guess was right.
                return;
            }
            last = body.to_string();
        }
        assert!(last.contains("voided"), "{last}");
    }
    let (status, body) = eve
        .call(
            "confirm_key",
            &[("key", "victim1@example.com"), ("code", "000000")],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.to_string().contains("voided by wrong attempts"),
        "{body}"
    );
    assert_eq!(
        eve.call("get_keys", &[]).await.1["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn sign_ups_are_throttled_per_address_successful_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let bank = strict_bank(4, dir.path()).await;
    let cpfs = ["529.982.247-25", "111.444.777-35", "390.533.447-05"];
    for (i, cpf) in cpfs.iter().enumerate() {
        let status = bank
            .client()
            .sign_up("Cliente Novo", cpf, &format!("c{i}@example.com"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = bank
        .client()
        .call(
            "create_account",
            &[
                ("kind", "individual"),
                ("name1", "Mais Um"),
                ("tax_id1", "123.456.789-09"),
                ("email", "c9@example.com"),
                ("phone", "11987654321"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.to_string().contains("Many accounts were opened"),
        "{body}"
    );
    let c = bank.client();
    let (status, _) = c
        .call(
            "login",
            &[("email", "c9@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no account was opened");
}

/// The attack as it was confirmed: Chromium, logged in at a bank, visits an ordinary page on
/// another port of the same host, which auto-submits a form to the bank's `send_pix`. The
/// browser sends the session cookie (same site: ports do not separate sites), and the bank
/// refuses the request by its `Origin`: the victim sees why, and no money moves.
#[tokio::test]
async fn a_cross_site_page_in_a_real_browser_cannot_move_a_logged_in_clients_money() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
    let (ana, beto) = (bank.client(), bank.client());
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        beto.open_account("Beto Souza", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let (s, body) = ana
        .call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // The attacker's page, served from another port of the same host.
    let form = format!(
        r#"<!doctype html><html><body><p>Parabéns, você ganhou!</p>
        <form id="f" method="post" action="{}/api/send_pix">
          <input name="key" value="{BETO_CPF}"><input name="amount" value="7,00">
          <input name="tx_id" value=""><input name="bank" value="">
        </form><script>document.getElementById('f').submit();</script></body></html>"#,
        bank.url
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil = format!("http://{}", listener.local_addr().unwrap());
    let page = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let form = form.clone();
            async move { axum::response::Html(form) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, page).await });

    let driver = crate::browser::start_browser().await;
    let b = &driver.browser;
    log_in(b, &bank.url, "ana@example.com").await;

    b.goto(&evil).await.unwrap();
    let refusal = wait_for(b, "//*[contains(text(), 'Nada foi feito')]").await;
    let text = refusal.text().await.unwrap();
    assert!(text.contains("veio de outra página"), "{text}");
    crate::browser::screenshot(b, "cross-site-refused").await;
    assert_eq!(
        ana.balances().await,
        (10_000, 0),
        "nothing left Ana's account"
    );
    assert_eq!(beto.balances().await, (0, 0));
    // Her own site still works in the same browser.
    b.goto(&format!("{}/dashboard", bank.url)).await.unwrap();
    wait_for(b, "//strong[@id='available' and text()='R$ 100,00']").await;
}

/// A session that ends while the client is typing: the page notices by itself (no click
/// needed), a dialog over it logs her in again, and what she typed is still there to send.
#[tokio::test]
async fn a_page_notices_its_session_ended_and_resumes_it_without_losing_what_was_typed() {
    use fantoccini::Locator;
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(2, dir.path()).await;
    let ana = bank.client();
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    let driver = crate::browser::start_browser().await;
    let b = &driver.browser;
    log_in(b, &bank.url, "ana@example.com").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 0,00']").await;
    let amount = wait_for(b, "//section[@id='deposit']//input[@name='amount']").await;
    amount.send_keys("12,34").await.unwrap();

    // The session ends on the bank's side (here: its cookie is used to log out elsewhere).
    let cookie = b
        .get_all_cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name().starts_with("consorcio_session_"))
        .expect("the session cookie");
    let res = reqwest::Client::new()
        .post(format!("{}/api/logout", bank.url))
        .header("Cookie", format!("{}={}", cookie.name(), cookie.value()))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());

    // The page notices on its own and asks for the password again, over the page.
    let dialog = wait_for(b, "//section[@id='session-ended']").await;
    let text = dialog.text().await.unwrap();
    assert!(text.contains("Sua sessão terminou"), "{text}");
    crate::browser::screenshot(b, "pt-session-ended").await;
    for (name, value) in [("email", "ana@example.com"), ("password", PASSWORD)] {
        let field = wait_for(
            b,
            &format!("//section[@id='session-ended']//input[@name='{name}']"),
        )
        .await;
        field.send_keys(value).await.unwrap();
    }
    click(b, "//section[@id='session-ended']//button[@type='submit']").await;
    // The dialog closes (bounded wait), and what she typed is still in the deposit form.
    let gone = std::time::Instant::now();
    while b
        .find(Locator::XPath("//section[@id='session-ended']"))
        .await
        .is_ok()
    {
        assert!(
            gone.elapsed() < std::time::Duration::from_secs(30),
            "dialog still open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let typed = amount.prop("value").await.unwrap();
    // (Masked as she typed it.)
    assert_eq!(typed.as_deref(), Some("R$ 12,34"));
    click(b, "//section[@id='deposit']//button[text()='Depositar']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 12,34']").await;
    assert_eq!(ana.balances().await, (1_234, 0));
}

/// Before the page is interactive, the Pix form cannot send the receiver's key and the amount
/// as a GET (into the address bar, histories and logs): it posts, and its button is disabled
/// until the script has taken over.
#[tokio::test]
async fn the_pix_form_never_puts_personal_data_in_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(5, dir.path()).await;
    let ana = bank.client();
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    let html = ana
        .http
        .get(format!("{}/dashboard", bank.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = html
        .split("<form")
        .find(|f| f.contains("id=\"pix-form\""))
        .expect("the Pix form");
    let form = &form[..form.find("</form>").expect("the form's end")];
    assert!(form.contains("method=\"post\""), "{form}");
    assert!(
        form.contains("disabled"),
        "the review button waits for the script: {form}"
    );
}
