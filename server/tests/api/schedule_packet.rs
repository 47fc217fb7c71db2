//! A scheduled Pix packet (issue 27) across real banks: Ana, at Eleven with her account at
//! Automobili linked, schedules packets for tomorrow drawing from both accounts to Beto at a
//! third bank; rows that a packet sent now would refuse are refused now; one, scheduled in
//! Chromium at 390 px with the builder's "Agendar para", is cancelled there. The three banks
//! restart with their clocks on that day at 07:00 (the node's injected clock,
//! `FAULT_CLOCK_SKEW_MS`), and Eleven runs them through the ring and 2PC: the packet with money
//! lands whole, the one without fails naming the transfer and the account that could not pay,
//! the cancelled one never runs. Screenshots (Portuguese, 390 px): the review of a scheduled
//! packet (`pt-pacote-agendado-revisao.png`) and the scheduled list after the day
//! (`pt-pacote-agendado.png`).

use crate::browser::{
    click, fill, packet_row, screenshot, sideways, start_browser, wait_for, wait_hydrated,
};
use crate::support::*;
use domain::schedule::{day_of, runs_from_ms};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn leg(source: u8, key: &str, bank: u8, amount: &str) -> Value {
    json!({ "source_bank": source.to_string(), "receiver_key": key, "receiver_bank": bank.to_string(), "amount": amount })
}

async fn schedule(client: &Client, legs: Vec<Value>, date: &str) -> (StatusCode, Value) {
    client
        .call_json("schedule_packet", &json!({ "legs": legs, "date": date }))
        .await
}

/// Logs Ana in at Eleven in the browser and brings the scheduled list into view.
async fn browser_log_in(b: &fantoccini::Client, url: &str) {
    b.goto(&format!("{url}/login")).await.unwrap();
    wait_hydrated(b).await;
    fill(b, "email", "ana1@example.com").await;
    fill(b, "password", PASSWORD).await;
    click(b, "//button[text()='Entrar']").await;
    wait_for(b, "//strong[@id='available']").await;
    wait_hydrated(b).await;
}

/// Scrolls the element `id` to the top of the window (a screenshot shows the window only).
async fn show(b: &fantoccini::Client, id: &str) {
    b.execute(
        "document.getElementById(arguments[0]).scrollIntoView()",
        vec![json!(id)],
    )
    .await
    .unwrap();
}

async fn log_in(client: &Client, email: &str) {
    let (s, body) = client
        .call("login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_scheduled_packet_runs_whole_on_its_day_one_without_money_says_why_a_cancelled_one_never()
{
    let mut c = Consortium::start(&[("SCHEDULE_EVERY_MS", "100")]).await;
    let (ana1, ana2, beto3) = (c.client(0), c.client(1), c.client(2));
    open(&ana1, "Ana Lima", ANA_CPF, "ana1@example.com", "100,00").await;
    open(&ana2, "Ana Lima", ANA_CPF, "ana2@example.com", "100,00").await;
    open(&beto3, "Beto Reis", BETO_CPF, "beto@example.com", "").await;
    let (status, body) = link(&ana1, &ana2, 2, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let now = engine::wall_clock_ms();
    let day = day_of(now) + 1;
    let date = domain::time_fmt::date_input(runs_from_ms(day));

    // Checked now as a packet sent now is: each refusal names its field, nothing scheduled.
    let too_many = vec![leg(1, BETO_CPF, 3, "1,00"); domain::packet::MAX_PACKET_LEGS + 1];
    let today = domain::time_fmt::date_input(now);
    for (legs, when, field) in [
        (
            vec![leg(1, BETO_CPF, 3, "0,00")],
            date.as_str(),
            "legs.0.amount",
        ),
        (
            vec![
                leg(1, BETO_CPF, 3, "1,00"),
                leg(1, "não é chave", 3, "1,00"),
            ],
            date.as_str(),
            "legs.1.receiver_key",
        ),
        (
            vec![leg(1, BETO_CPF, 9, "1,00")],
            date.as_str(),
            "legs.0.receiver_bank",
        ),
        (vec![leg(1, BETO_CPF, 3, "1,00")], today.as_str(), "date"),
        (vec![leg(1, BETO_CPF, 3, "1,00")], "amanhã", "date"),
    ] {
        let (s, body) = schedule(&ana1, legs, when).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_eq!(body["BadInput"]["field"], field, "{body}");
    }
    let (s, body) = schedule(&ana1, too_many, &date).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

    // Both of Ana's accounts pay Beto; then one whose second account lacks the money (today's
    // balances are not held against it: its day's are); then one she cancels.
    let (s, paid) = schedule(
        &ana1,
        vec![leg(1, BETO_CPF, 3, "30,00"), leg(2, BETO_CPF, 3, "20,00")],
        &date,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(paid["kind"], "packet", "{paid}");
    assert_eq!(paid["amount"], 5_000, "the total: {paid}");
    assert_eq!(paid["legs"].as_array().map(Vec::len), Some(2), "{paid}");
    let (s, too_much) = schedule(
        &ana1,
        vec![leg(1, BETO_CPF, 3, "1,00"), leg(2, BETO_CPF, 3, "500,00")],
        &date,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{too_much}");

    // In the builder, on a phone: one transfer of R$ 5,00 "Agendar para" that day; the review
    // says the day; confirmed, it joins the list, where Ana cancels it.
    let url = c.url(0);
    let driver = start_browser().await;
    let b = &driver.browser;
    b.set_window_size(390, 844).await.unwrap();
    browser_log_in(b, &url).await;
    packet_row(b, 1, "1", BETO_CPF, "Secret", "5,00").await;
    b.execute(
        "const i = document.getElementById('packet-date'); i.value = arguments[0]; \
         i.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![json!(date)],
    )
    .await
    .unwrap();
    click(b, "//button[@id='review-packet']").await;
    let shown = domain::time_fmt::format_brasilia_date(runs_from_ms(day));
    wait_for(
        b,
        &format!(
            "//p[@id='packet-schedule-day' and contains(., '{shown}') and contains(., '06:00')]"
        ),
    )
    .await;
    wait_for(
        b,
        "//button[@id='confirm-packet' and text()='Confirmar agendamento']",
    )
    .await;
    let mut overflows = Vec::new();
    overflows.extend(sideways(b, "packet builder, schedule review").await);
    screenshot(b, "pt-pacote-agendado-revisao").await;
    click(b, "//button[@id='confirm-packet']").await;
    wait_for(
        b,
        &format!(
            "//p[@id='packet-scheduled' and contains(., 'R$ 5,00') and contains(., '{shown}')]"
        ),
    )
    .await;
    let waiting = "//section[@id='scheduled']//li[@data-kind='packet' and @data-status='pending' and contains(., 'R$ 5,00') and contains(., 'Pacote de 1 transferência')]";
    click(b, &format!("{waiting}//summary")).await;
    click(b, &format!("{waiting}//button[text()='Sim, cancelar']")).await;
    wait_for(b, "//p[@id='schedule-cancelled']").await;
    let (s, list) = ana1.call("scheduled_pix", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
    let cancelled = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["amount"] == 500)
        .cloned()
        .unwrap();
    assert_eq!(cancelled["status"]["status"], "cancelled", "{list}");
    assert_eq!(ana1.balances().await, (10_000, 0), "nothing moved yet");

    // The day comes: the banks of the packets restart at 07:00 on it, the ones that take part
    // first, then Ana's, whose scheduler sends them.
    let skew = (runs_from_ms(day) + 3_600_000 - engine::wall_clock_ms()).to_string();
    for i in [0, 1, 2] {
        c.kill(i).await;
    }
    for i in [1, 2, 0] {
        c.restart_with(i, &[("FAULT_CLOCK_SKEW_MS", skew.as_str())])
            .await;
    }
    log_in(&ana1, "ana1@example.com").await;
    let (list, of) = scheduled_once_ended(&ana1).await;
    let sent = of(&paid["id"]);
    assert_eq!(sent["status"]["status"], "done", "{list}");
    assert!(sent["tx_id"].is_string(), "it opens a comprovante: {sent}");
    let failed = of(&too_much["id"]);
    assert_eq!(
        failed["status"],
        json!({ "status": "failed", "why": {
            "reason": "leg_refused", "leg": 1, "source_bank": 2,
            "refusal": { "code": "insufficient_funds" } } }),
        "the transfer, and the account that could not pay it: {list}"
    );
    assert!(failed["tx_id"].is_string(), "{failed}");
    assert_eq!(of(&cancelled["id"])["status"]["status"], "cancelled");

    // Both transfers of the first landed, nothing of the others.
    settles_to(&ana1, (7_000, 0)).await;
    // Beto, paid on the day, is Ana's newest receiver to pay again (once: one key).
    let recent = ana1.dashboard().await["contacts"]["recent"].clone();
    assert_eq!(
        (
            recent.as_array().map(Vec::len),
            recent[0]["key"].as_str(),
            recent[0]["bank"].as_u64()
        ),
        (Some(1), Some("11144477735"), Some(3)),
        "{recent}"
    );
    log_in(&ana2, "ana2@example.com").await;
    settles_to(&ana2, (8_000, 0)).await;
    log_in(&beto3, "beto@example.com").await;
    settles_to(&beto3, (5_000, 0)).await;

    // What Ana reads in the list: the packet sent, the one not sent and why, the cancelled one.
    browser_log_in(b, &url).await;
    let row = |status: &str, says: &str| {
        format!("//section[@id='scheduled']//li[@data-kind='packet' and @data-status='{status}' and contains(., \"{says}\")]")
    };
    wait_for(b, &row("committed", "Pacote de 2 transferências")).await;
    wait_for(
        b,
        &row(
            "neutral",
            "Não enviado: a transferência 2, da sua conta no Automobili, foi recusada (Saldo insuficiente",
        ),
    )
    .await;
    wait_for(b, &row("neutral", "Cancelado por você")).await;
    show(b, "scheduled").await;
    overflows.extend(sideways(b, "dashboard, scheduled packets").await);
    screenshot(b, "pt-pacote-agendado").await;
    assert!(overflows.is_empty(), "{overflows:#?}");
    driver.browser.close().await.unwrap();
}
