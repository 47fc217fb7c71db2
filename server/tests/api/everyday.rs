//! Issue 27 in Chromium, in Portuguese, at 390 px and 1280 px: the nighttime Pix limit refusing
//! a Pix in the review, with what remains; the same Pix scheduled for the next day instead; the
//! "Limites Pix" page; and the bank, restarted with its clock on that day at 07:00 (the node's
//! injected clock, `FAULT_CLOCK_SKEW_MS`), sending it. Screenshots under
//! `test-output/screenshots/pt-*.png` (listed in the README).

use crate::browser::{click, fill, screenshot, sideways, start_browser, wait_for, wait_hydrated};
use crate::support::*;
use domain::schedule::{day_of, runs_from_ms};

const HOUR_MS: i64 = 3_600_000;

/// A bank alone whose engine runs at `engine_ms` now, with the BCB's default limits and a
/// scheduler that looks every 100 ms.
async fn bank_at(dir: &std::path::Path, addr: &str, engine_ms: i64) -> Bank {
    let skew = (engine_ms - engine::wall_clock_ms()).to_string();
    let env = [
        ("FAULT_CLOCK_SKEW_MS", skew),
        ("PIX_DAY_LIMIT_CENTS", "1000000".to_string()),
        ("PIX_NIGHT_LIMIT_CENTS", "100000".to_string()),
        ("SCHEDULE_EVERY_MS", "100".to_string()),
    ];
    Bank::start_with(1, dir, addr, &env).await
}

async fn log_in(b: &fantoccini::Client, url: &str) {
    b.goto(&format!("{url}/login")).await.unwrap();
    wait_hydrated(b).await;
    fill(b, "email", "ana@example.com").await;
    fill(b, "password", PASSWORD).await;
    click(b, "//button[text()='Entrar']").await;
    wait_for(b, "//strong[@id='available']").await;
    wait_hydrated(b).await;
}

#[tokio::test]
async fn the_nighttime_limit_refuses_a_pix_which_is_scheduled_instead_and_sent_the_next_morning() {
    let dir = tempfile::tempdir().unwrap();
    let addr = reserve_addrs().remove(0);
    // Tomorrow, 21:00 in Brasília: nighttime.
    let night = runs_from_ms(day_of(engine::wall_clock_ms()) + 1) + 15 * HOUR_MS;
    let bank = bank_at(dir.path(), &addr, night).await;
    let url = format!("http://{addr}");
    let (ana, beto) = (bank.client(), bank.client());
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        reqwest::StatusCode::OK
    );
    assert_eq!(
        beto.open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        reqwest::StatusCode::OK
    );
    let (s, _) = ana
        .call("deposit", &[("amount", "2.000,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, reqwest::StatusCode::OK);

    let driver = start_browser().await;
    let b = &driver.browser;
    b.set_window_size(390, 844).await.unwrap();
    log_in(b, &url).await;
    wait_for(
        b,
        "//p[@id='limit-line' and contains(., 'Limite Pix noturno: restam R$ 1.000,00 até as 06:00')]",
    )
    .await;

    // R$ 1.500,00 tonight: refused in the review, saying what remains.
    fill(b, "pix_key", BETO_CPF).await;
    fill(b, "pix_amount", "1.500,00").await;
    click(b, "//button[text()='Revisar']").await;
    wait_for(
        b,
        "//span[@data-field='amount' and contains(., 'Limite Pix noturno: restam R$ 1.000,00 até as 06:00')]",
    )
    .await;
    let mut overflows = Vec::new();
    overflows.extend(sideways(b, "dashboard, limit refusal").await);
    screenshot(b, "pt-limite-noturno-recusado").await;

    // Scheduled for tomorrow instead (a date input takes its value from the page's script).
    let tomorrow = domain::time_fmt::date_input(runs_from_ms(day_of(night) + 1));
    b.execute(
        "const i = document.querySelector('input[name=pix_date]'); i.value = arguments[0]; \
         i.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![serde_json::json!(tomorrow)],
    )
    .await
    .unwrap();
    click(b, "//button[text()='Revisar']").await;
    let shown = domain::time_fmt::format_brasilia_date(runs_from_ms(day_of(night) + 1));
    wait_for(
        b,
        &format!("//p[@id='schedule-day' and contains(., '{shown}') and contains(., '06:00')]"),
    )
    .await;
    overflows.extend(sideways(b, "dashboard, schedule review").await);
    screenshot(b, "pt-pix-agendado-revisao").await;
    click(b, "//button[@id='schedule-confirm']").await;
    wait_for(b, "//p[@id='pix-scheduled' and contains(., 'Beto Reis')]").await;
    wait_for(
        b,
        "//section[@id='scheduled']//li[@data-status='pending' and contains(., 'R$ 1.500,00') and contains(., 'Agendado')]",
    )
    .await;
    overflows.extend(sideways(b, "dashboard, scheduled list").await);
    screenshot(b, "pt-pix-agendado").await;

    // The limits page at desktop width.
    b.set_window_size(1280, 900).await.unwrap();
    b.goto(&format!("{url}/limits")).await.unwrap();
    wait_hydrated(b).await;
    wait_for(
        b,
        "//p[@id='limits-now' and contains(., 'período noturno') and contains(., 'R$ 1.000,00')]",
    )
    .await;
    screenshot(b, "pt-limites-pix").await;

    // The next morning at 07:00 the bank sends it (within the daytime limit).
    bank.kill().await;
    let morning = runs_from_ms(day_of(night) + 1) + HOUR_MS;
    let bank = bank_at(dir.path(), &addr, morning).await;
    log_in(b, &url).await;
    wait_for(
        b,
        "//section[@id='scheduled']//li[@data-status='committed' and contains(., 'Enviado')]//a[@class='open-receipt']",
    )
    .await;
    wait_for(b, "//strong[@id='available' and text()='R$ 500,00']").await;
    screenshot(b, "pt-pix-agendado-enviado").await;
    // Beto logs in again (his session ended with the night) and holds what was sent.
    let beto = bank.client();
    let (s, body) = beto
        .call(
            "login",
            &[("email", "beto@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{body}");
    assert_eq!(beto.balances().await, (150_000, 0));
    assert!(overflows.is_empty(), "{overflows:#?}");
    driver.browser.close().await.unwrap();
}
