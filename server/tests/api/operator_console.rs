//! The operators' console's server functions against five real banks, in Portuguese: its login
//! (the token typed once, a session cookie that is not the token), its data, closing a window,
//! marking it paid and confirming it received; and `SETTLEMENT_DEADLINE_S`: a payer bank that
//! has not paid an agreed window in time has its clients' Pix refused at the creditor's bank,
//! with a clear message and nothing moved, until the creditor confirms the payment.

use crate::keys::{open_ana_and_dora, pix, DORA_CPF};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

/// What bank 1 may owe any bank: R$ 500,00 (far above what this test moves).
const LIMIT: i64 = 50_000;
/// The deadline to pay a window, in seconds.
const DEADLINE_S: u64 = 3;

/// A client of bank `i` that speaks Portuguese (no language cookie: the app's default).
fn portuguese(c: &Consortium, i: usize) -> Client {
    let http = reqwest::Client::builder()
        .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
        .build()
        .unwrap();
    Client {
        http,
        url: c.url(i),
    }
}

async fn console(op: &Client) -> Value {
    let (s, body) = op.call("operator_console", &[]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

/// Waits until bank `i`'s console shows window `window`'s pair with `peer` agreed, sending the
/// reports again (as an operator would) if one was lost on a loaded machine.
async fn until_agreed(ops: &[&Client], i: usize, window: u64, peer: u64) -> Value {
    let start = Instant::now();
    loop {
        let c = console(ops[i]).await;
        let agreed = c["windows"][0]["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer"] == peer && p["state"] == "Agreed");
        if agreed {
            return c;
        }
        assert!(start.elapsed() < SETTLE_PATIENCE, "not agreed: {c}");
        let window = window.to_string();
        for op in ops {
            op.call("operator_resend", &[("window", window.as_str())])
                .await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn the_console_settles_a_window_and_an_overdue_payer_bank_is_refused_until_confirmed() {
    let deadline = DEADLINE_S.to_string();
    let c = Consortium::start_limited(&[("SETTLEMENT_DEADLINE_S", deadline.as_str())], LIMIT).await;
    let (ana1, dora2) = (portuguese(&c, 0), c.client(1));
    open_ana_and_dora(&ana1, &dora2, "1.000,00").await;
    let (s, body) = pix(&ana1, DORA_CPF, "100,00").await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Without a session the console shows nothing; a wrong token opens none.
    let (op1, op2) = (portuguese(&c, 0), portuguese(&c, 1));
    let (s, _) = op2.call("operator_console", &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = op2.call("operator_close", &[]).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "nothing closed without a session"
    );
    let (s, body) = op2
        .call("operator_login", &[("token", "not-the-operator-token")])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body.to_string().contains("Token de operador incorreto"),
        "{body}"
    );
    // The right token: a session cookie of its own, HttpOnly and SameSite=Strict, which is not
    // the token.
    let res = reqwest::Client::new()
        .post(format!("{}/api/operator_login", c.url(1)))
        .header("Accept", "application/json")
        .form(&[("token", OPERATOR_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("consorcio_operator_2="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(OPERATOR_TOKEN), "{cookie}");
    for op in [&op1, &op2] {
        let (s, body) = op
            .call("operator_login", &[("token", OPERATOR_TOKEN)])
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    // Another site's page cannot make the operator's browser close a window, cookie or not.
    let forged = op2
        .http
        .post(format!("{}/api/operator_close", c.url(1)))
        .header("Origin", "https://evil.example")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A client's session is no operator's.
    let (s, _) = dora2.call("operator_console", &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // The console: the ring with bank 2's position with bank 1 (once the decision reached it:
    // phase two runs after Ana's answer) and its limit.
    let start = Instant::now();
    let before = loop {
        let before = console(&op2).await;
        let members = before["members"].as_array().unwrap();
        assert_eq!(members.len(), 5, "{before}");
        let bank1 = members.iter().find(|m| m["bank"]["id"] == 1).unwrap();
        assert_eq!(bank1["limit"], LIMIT, "{before}");
        assert!(
            bank1["collateral"].is_null(),
            "a limit stated as such: {before}"
        );
        if bank1["outstanding"] == 10_000 {
            break before;
        }
        assert!(start.elapsed() < SETTLE_PATIENCE, "{before}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(before["last_window"], 0);

    // Bank 2's operator closes window 1; the reports come back and bank 1's agrees.
    let (s, closed) = op2.call("operator_close", &[]).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    assert!(
        closed.as_str().unwrap().starts_with("Janela 1 fechada"),
        "{closed}"
    );
    let window = until_agreed(&[&op1, &op2], 1, 1, 1).await;
    let report = &window["windows"][0]["reports"][0];
    assert_eq!(report["bank"], 2);
    assert!(report["signature"].as_str().unwrap().contains('…'));
    eprintln!("bank 2's console, window 1: {}", window["windows"][0]);
    // Only the creditor confirms.
    let (s, body) = op1
        .call("operator_received", &[("window", "1"), ("debtor", "2")])
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("lado certo"), "{body}");

    // Past the deadline, unpaid: bank 2 refuses new credits from bank 1, and Ana is told why,
    // in Portuguese; her money stays.
    tokio::time::sleep(Duration::from_secs(DEADLINE_S + 1)).await;
    let balance = ana1.balances().await;
    let (s, body) = pix(&ana1, DORA_CPF, "10,00").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("janela de liquidação"), "{body}");
    eprintln!("Ana's Pix to a bank her bank has not paid in time: {body}");
    assert_eq!(ana1.balances().await, balance, "no money moved");
    let pair_with_1 = |console: &Value| {
        console["windows"][0]["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["peer"] == 1)
            .cloned()
            .unwrap()
    };
    assert_eq!(pair_with_1(&console(&op2).await)["overdue"], true);

    // Bank 1's operator marks it paid: still refused. Bank 2's confirms: Pix flows again.
    let (s, paid) = op1
        .call("operator_paid", &[("window", "1"), ("creditor", "2")])
        .await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert!(
        paid.as_str().unwrap().contains("registrado e assinado"),
        "{paid}"
    );
    let (s, _) = pix(&ana1, DORA_CPF, "10,00").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, received) = op2
        .call("operator_received", &[("window", "1"), ("debtor", "1")])
        .await;
    assert_eq!(s, StatusCode::OK, "{received}");
    assert!(
        received.as_str().unwrap().contains("confirmado"),
        "{received}"
    );
    let (s, body) = pix(&ana1, DORA_CPF, "10,00").await;
    assert_eq!(s, StatusCode::OK, "after the window is confirmed: {body}");
    let pair = pair_with_1(&console(&op2).await);
    assert_eq!(pair["overdue"], false, "{pair}");
    assert_eq!(
        (&pair["paid"], &pair["received"]),
        (&Value::Bool(true), &Value::Bool(true))
    );

    // Logging out ends the session.
    let (s, _) = op2.call("operator_logout", &[]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = op2.call("operator_console", &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// The console in a real browser, in Portuguese: the operator of Automobili (bank 2) logs in
/// with the token, closes window 1 after confirming, sees its signed reports and the pair with
/// Eleven agreed, looks up the evidence of the Pix, and confirms Eleven's payment.
#[tokio::test]
async fn an_operator_closes_and_settles_a_window_in_the_console_in_portuguese() {
    use crate::browser::{click, fill, screenshot, start_browser, wait_for, wait_hydrated};
    let c = Consortium::start_limited(&[], LIMIT).await;
    let (ana1, dora2) = (c.client(0), c.client(1));
    open_ana_and_dora(&ana1, &dora2, "1.000,00").await;
    let (s, sent) = pix(&ana1, DORA_CPF, "123,45").await;
    assert_eq!(s, StatusCode::OK, "{sent}");
    let tx = sent["tx_id"].as_str().unwrap().to_string();

    let driver = start_browser().await;
    let b = &driver.browser;
    b.goto(&format!("{}/operator", c.url(1))).await.unwrap();
    wait_for(b, "//section[@id='operator-login']").await;
    wait_hydrated(b).await;
    assert_eq!(b.title().await.unwrap(), "Console do operador · Automobili");
    fill(b, "token", "errado-errado-errado").await;
    click(
        b,
        "//section[@id='operator-login']//button[text()='Entrar']",
    )
    .await;
    wait_for(b, "//*[contains(., 'Token de operador incorreto')]").await;
    fill(b, "token", OPERATOR_TOKEN).await;
    click(
        b,
        "//section[@id='operator-login']//button[text()='Entrar']",
    )
    .await;
    wait_for(b, "//section[@id='operator-console']").await;
    wait_hydrated(b).await;
    assert!(
        !b.current_url()
            .await
            .unwrap()
            .as_str()
            .contains(OPERATOR_TOKEN),
        "the token is in no URL"
    );
    wait_for(
        b,
        "//section[@id='ring']//tr[@data-bank='1']/td[contains(., 'R$ 123,45')]",
    )
    .await;

    // Closing asks first; cancelling closes nothing.
    click(b, "//button[@id='close-window']").await;
    wait_for(b, "//section[@id='confirm']").await;
    click(b, "//button[@id='confirm-no']").await;
    click(b, "//button[@id='close-window']").await;
    click(b, "//button[@id='confirm-yes']").await;
    wait_for(
        b,
        "//p[@id='outcome' and contains(., 'Janela 1 fechada e assinada')]",
    )
    .await;
    wait_for(
        b,
        "//article[@id='window-1']//tr[@data-peer='1']//span[text()='Concordam']",
    )
    .await;
    wait_for(
        b,
        "//article[@id='window-1']//tr[@data-bank='1' and contains(@class, 'report')]",
    )
    .await;

    // The evidence of Ana's Pix, as bank-node evidence prints it.
    fill(b, "tx", &tx).await;
    click(b, "//section[@id='evidence']//button[text()='Consultar']").await;
    wait_for(
        b,
        &format!("//pre[@id='evidence-report' and contains(., '{tx}')]"),
    )
    .await;
    // Tall enough for the whole console in one picture.
    b.set_window_size(1200, 2400).await.unwrap();
    b.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    screenshot(b, "pt-operator-console").await;

    // Eleven's operator says it paid (its API); Automobili's confirms in the console.
    let (s, paid) = {
        let res = reqwest::Client::new()
            .post(format!("{}/operator/settlement/paid", c.url(0)))
            .bearer_auth(OPERATOR_TOKEN)
            .json(&serde_json::json!({"window": 1, "creditor": 2}))
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    assert_eq!(s, StatusCode::OK, "{paid}");
    b.refresh().await.unwrap();
    wait_hydrated(b).await;
    wait_for(
        b,
        "//tr[@data-peer='1']//span[text()='Devedor diz que pagou']",
    )
    .await;
    click(b, "//tr[@data-peer='1']//button[@data-received='1']").await;
    wait_for(b, "//section[@id='confirm' and contains(., 'R$ 123,45')]").await;
    click(b, "//button[@id='confirm-yes']").await;
    wait_for(
        b,
        "//p[@id='outcome' and contains(., 'confirmado e assinado')]",
    )
    .await;
    wait_for(b, "//tr[@data-peer='1']//span[text()='Liquidado']").await;
    b.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    screenshot(b, "pt-operator-received").await;
}

/// `SETTLEMENT_WINDOW_S=1`: windows close on their own, one per second across the consortium
/// (the ring's holder closes each, the others on its report), and the quiet consortium's reports
/// agree.
#[tokio::test]
async fn scheduled_windows_close_once_per_interval_at_every_bank() {
    let c = Consortium::start_limited(&[("SETTLEMENT_WINDOW_S", "1")], LIMIT).await;
    let started = Instant::now();
    wait_until(
        &c,
        &[0, 1, 2, 3, 4],
        "three windows closed everywhere",
        |statuses| {
            statuses.iter().all(|s| {
                s.audit
                    .as_ref()
                    .is_some_and(|a| a.settlement.last_window >= 3)
            })
        },
    )
    .await;
    let elapsed_s = started.elapsed().as_secs();
    for i in 0..5 {
        let audit = audit_of(&c.status(i).await.unwrap());
        let last = audit.settlement.last_window;
        // One window per interval (and a second, at most, at an interval's start when two
        // holders' clocks disagree): never one per bank per interval.
        assert!(
            last <= 2 * (elapsed_s + 2),
            "bank {}: {last} windows in {elapsed_s} s",
            i + 1
        );
        assert_eq!(audit.settlement.disagreements, 0, "bank {}", i + 1);
    }
}

/// Window 1 paid by multilateral netting through the consoles, in Portuguese. Ana (Eleven)
/// pays Dora (Automobili) R$ 300,00 and Beto (Secret) R$ 200,00; Dora pays Beto R$ 100,00. The
/// plan: Eleven pays Automobili R$ 200,00 and Secret R$ 300,00. Eleven's operator pays its leg
/// to Automobili with "Pagar (compensação multilateral)", Automobili's confirms it with
/// "Confirmar recebimento"; once Secret confirms its leg too, Automobili's console shows every
/// leg confirmed and every pair settled.
#[tokio::test]
async fn operators_pay_a_window_by_multilateral_netting_in_the_consoles_in_portuguese() {
    use crate::browser::{click, fill, screenshot, start_browser, wait_for, wait_hydrated};
    let c = Consortium::start_limited(&[], LIMIT).await;
    let (ana1, dora2, beto3) = (c.client(0), c.client(1), c.client(2));
    open_ana_and_dora(&ana1, &dora2, "1.000,00").await;
    assert_eq!(
        beto3
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    // Dora pays from a deposit of her own (Ana's Pix is hers only once its decision arrives).
    let (s, _) = dora2
        .call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);
    for (payer, key, amount) in [
        (&ana1, DORA_CPF, "300,00"),
        (&ana1, BETO_CPF, "200,00"),
        (&dora2, BETO_CPF, "100,00"),
    ] {
        let (s, body) = pix(payer, key, amount).await;
        assert_eq!(s, StatusCode::OK, "{key} {amount}: {body}");
    }
    let api = |i: usize, path: &'static str, body: serde_json::Value| {
        let url = format!("{}/operator/settlement{path}", c.url(i));
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(OPERATOR_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    // Every decision delivered before the close, so that every bank cuts at the same point.
    wait_until(
        &c,
        &[0, 1, 2, 3, 4],
        "every decision delivered",
        |statuses| {
            statuses.iter().all(|s| {
                s.audit
                    .as_ref()
                    .is_some_and(|a| a.prepared_transactions == 0)
            })
        },
    )
    .await;
    let (s, closed) = api(0, "/close", serde_json::json!({})).await;
    assert_eq!(s, StatusCode::OK, "{closed}");

    let driver = start_browser().await;
    let b = &driver.browser;
    b.set_window_size(1200, 2400).await.unwrap();
    for i in [0, 1] {
        b.goto(&format!("{}/operator", c.url(i))).await.unwrap();
        wait_for(b, "//section[@id='operator-login']").await;
        wait_hydrated(b).await;
        fill(b, "token", OPERATOR_TOKEN).await;
        click(
            b,
            "//section[@id='operator-login']//button[text()='Entrar']",
        )
        .await;
        wait_for(b, "//section[@id='operator-console']").await;
    }

    // Eleven's console: its two legs, each with the netting button.
    b.goto(&format!("{}/operator", c.url(0))).await.unwrap();
    wait_hydrated(b).await;
    let leg_to = |creditor: u8| {
        format!("//article[@id='window-1']//section[contains(@class, 'netting')]//tr[@data-debtor='1' and @data-creditor='{creditor}']")
    };
    // The plan appears once every member's report is here (the page is read again until then).
    let start = Instant::now();
    while b
        .find(fantoccini::Locator::XPath(&leg_to(3)))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "no netting plan at Eleven"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.refresh().await.unwrap();
        wait_hydrated(b).await;
    }
    wait_for(b, &format!("{}/td[contains(., 'R$ 200,00')]", leg_to(2))).await;
    wait_for(b, &format!("{}/td[contains(., 'R$ 300,00')]", leg_to(3))).await;
    click(
        b,
        &format!(
            "{}//button[@data-leg-paid='2' and text()='Pagar (compensação multilateral)']",
            leg_to(2)
        ),
    )
    .await;
    wait_for(
        b,
        "//section[@id='confirm' and contains(., 'compensação multilateral') and contains(., 'R$ 200,00')]",
    )
    .await;
    click(b, "//button[@id='confirm-yes']").await;
    wait_for(
        b,
        "//p[@id='outcome' and contains(., 'enviado a todos os bancos')]",
    )
    .await;
    wait_for(
        b,
        &format!("{}//span[text()='Pago, aguardando confirmação']", leg_to(2)),
    )
    .await;
    wait_for(
        b,
        "//p[contains(@class, 'netting-state') and contains(., 'compensação multilateral')]",
    )
    .await;
    b.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    screenshot(b, "pt-operator-netting-paid").await;

    // Automobili's console: the leg from Eleven, said paid, confirmed with its button; its
    // pairs are paid by netting, not pair by pair.
    b.goto(&format!("{}/operator", c.url(1))).await.unwrap();
    wait_hydrated(b).await;
    wait_for(
        b,
        &format!("{}//span[text()='Devedor diz que pagou']", leg_to(2)),
    )
    .await;
    wait_for(
        b,
        "//tr[@data-peer='3']//span[text()='Por compensação multilateral']",
    )
    .await;
    click(
        b,
        &format!(
            "{}//button[@data-leg-received='1' and text()='Confirmar recebimento']",
            leg_to(2)
        ),
    )
    .await;
    wait_for(b, "//section[@id='confirm' and contains(., 'R$ 200,00')]").await;
    click(b, "//button[@id='confirm-yes']").await;
    wait_for(
        b,
        "//p[@id='outcome' and contains(., 'confirmado, assinado e enviado a todos os bancos')]",
    )
    .await;
    wait_for(
        b,
        &format!("{}//span[text()='Recebimento confirmado']", leg_to(2)),
    )
    .await;
    // One leg of two: nothing moved yet.
    wait_for(
        b,
        "//section[@id='ring']//tr[@data-bank='1']/td[contains(., 'R$ 300,00')]",
    )
    .await;

    // Eleven pays Secret's leg and Secret confirms it (their operators' API): the last leg.
    let (s, body) = api(
        0,
        "/netting/paid",
        serde_json::json!({"window": 1, "creditor": 3}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = api(
        2,
        "/netting/received",
        serde_json::json!({"window": 1, "debtor": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    b.refresh().await.unwrap();
    wait_hydrated(b).await;
    wait_for(
        b,
        "//p[contains(@class, 'netting-state') and contains(., 'Todas as partes confirmadas')]",
    )
    .await;
    for peer in [1, 3] {
        wait_for(
            b,
            &format!("//tr[@data-peer='{peer}']//span[text()='Liquidado']"),
        )
        .await;
    }
    // Nothing owed any more, with either bank.
    for peer in [1, 3] {
        wait_for(
            b,
            &format!("//section[@id='ring']//tr[@data-bank='{peer}']/td[3][text()='R$ 0,00']"),
        )
        .await;
    }
    b.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    screenshot(b, "pt-operator-netting-settled").await;
}
