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

/// Waits (bounded) until the focused element has this id or name: the page moves the focus once
/// it has drawn what takes it.
async fn focus_on(b: &fantoccini::Client, id_or_name: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let focused = b
            .execute(
                "const e = document.activeElement; return e ? [e.id, e.name || ''] : [];",
                vec![],
            )
            .await
            .unwrap();
        if focused
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == id_or_name))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "the focus is on {focused}, not {id_or_name}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The value a field shows now.
async fn value_of(b: &fantoccini::Client, xpath: &str) -> String {
    wait_for(b, xpath)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Issue 27's last client-facing items, in Portuguese at 390 px and 1280 px, five banks:
/// - masked inputs: at sign-up (Automobili) a CPF and a phone typed as digits read
///   `529.982.247-25` and `(21) 99876-5432`, an amount `R$ 1.234,5`, and the bank takes them;
/// - pay again: after a Pix to Beto (Secret) and one to Dora (Eleven), both are recent
///   receivers (names masked), Beto saved as a favourite; with an amount typed, one tap on Beto
///   opens the review, which takes the focus, and "Confirmar Pix" sends it;
/// - a Pix with a message: the review, the statement's row and the comprovante show it;
/// - the consent screen at Automobili names who holds the Eleven account that will draw (its
///   name masked and its document masked, asked of Eleven over the signed channel).
/// Screenshots `pt-mascaras-*`, `pt-comprovante-mensagem`, `pt-pagar-de-novo-*`,
/// `pt-consentimento-titular`.
#[tokio::test]
async fn pay_again_in_two_taps_masked_inputs_and_the_consent_names_the_holder() {
    use crate::browser::{fill_at, select_at};
    let c = Consortium::start(&[]).await;
    let dora_cpf = domain::Cpf::completing(222_333_444).unwrap().to_string();
    for (i, name, cpf, email) in [
        (2, "Beto Reis", BETO_CPF, "beto@example.com"),
        (0, "Dora Maria Alves", dora_cpf.as_str(), "dora@example.com"),
        (0, "Ana Lima", ANA_CPF, "ana@example.com"),
    ] {
        assert_eq!(
            c.client(i).open_account(name, cpf, email).await,
            reqwest::StatusCode::OK
        );
    }
    let (eleven, automobili) = (c.url(0), c.url(1));
    let ana = c.client(0);
    let (s, body) = ana
        .call(
            "login",
            &[("email", "ana@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{body}");
    let (s, _) = ana
        .call("deposit", &[("amount", "500,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, reqwest::StatusCode::OK);

    let driver = start_browser().await;
    let b = &driver.browser;
    b.set_window_size(390, 844).await.unwrap();
    let mut overflows = Vec::new();

    // Sign-up at Automobili, typed as digits: the fields show them masked as she types.
    b.goto(&format!("{automobili}/signup")).await.unwrap();
    wait_hydrated(b).await;
    fill(b, "name1", "Ana Lima").await;
    fill(b, "tax_id1", "52998224725").await;
    fill(b, "email", "ana.two@example.com").await;
    fill(b, "phone", "21998765432").await;
    fill(b, "password", PASSWORD).await;
    assert_eq!(
        value_of(b, "//input[@name='tax_id1']").await,
        "529.982.247-25"
    );
    assert_eq!(
        value_of(b, "//input[@name='phone']").await,
        "(21) 99876-5432"
    );
    // Her CPF is Eleven's key already: no key here.
    click(b, "//input[@name='register_key']").await;
    overflows.extend(sideways(b, "sign-up, masked").await);
    screenshot(b, "pt-mascaras-cadastro").await;
    click(b, "//button[text()='Abrir conta']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 0,00']").await;
    wait_hydrated(b).await;
    fill(b, "amount", "1234,5").await;
    assert_eq!(
        value_of(b, "//section[@id='deposit']//input[@name='amount']").await,
        "R$ 1.234,5"
    );
    screenshot(b, "pt-mascaras-valor").await;
    click(b, "//section[@id='deposit']//button[text()='Depositar']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 1.234,50']").await;

    // At Eleven: a Pix to Beto (another bank), with a message, and one to Dora (this bank).
    b.goto(&format!("{eleven}/login")).await.unwrap();
    wait_hydrated(b).await;
    fill(b, "email", "ana@example.com").await;
    fill(b, "password", PASSWORD).await;
    click(b, "//button[text()='Entrar']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 500,00']").await;
    wait_hydrated(b).await;
    let rent = "Aluguel de março";
    for (key, amount, name, left, message) in [
        (BETO_CPF, "10", "Beto Reis", "R$ 490,00", Some(rent)),
        (
            dora_cpf.as_str(),
            "20",
            "Dora Maria Alves",
            "R$ 470,00",
            None,
        ),
    ] {
        fill(b, "pix_key", key).await;
        fill(b, "pix_amount", amount).await;
        if let Some(m) = message {
            fill(b, "pix_message", m).await;
        }
        click(b, "//button[text()='Revisar']").await;
        wait_for(
            b,
            &format!("//strong[@id='receiver-name' and text()='{name}']"),
        )
        .await;
        if let Some(m) = message {
            // The review shows the message before anything is sent.
            wait_for(
                b,
                &format!("//p[@id='pix-review-message'][contains(., '{m}')]"),
            )
            .await;
        }
        click(b, "//button[text()='Confirmar Pix']").await;
        wait_for(b, &format!("//strong[@id='available' and text()='{left}']")).await;
        let Some(m) = message else { continue };
        // Issue 27: the message on the statement's row and on the comprovante.
        wait_for(
            b,
            &format!("//tr[@data-kind='pix_out']//span[@class='entry-message muted' and contains(., '{m}')]"),
        )
        .await;
        click(b, "//a[@id='pix-receipt']").await;
        wait_for(
            b,
            &format!("//dd[@class='receipt-message' and text()='{m}']"),
        )
        .await;
        wait_for(b, "//dd[@id='receipt-e2e' and starts-with(., 'E')]").await;
        overflows.extend(sideways(b, "comprovante with a message").await);
        screenshot(b, "pt-comprovante-mensagem").await;
        b.goto(&format!("{eleven}/dashboard")).await.unwrap();
        wait_for(b, &format!("//strong[@id='available' and text()='{left}']")).await;
        wait_hydrated(b).await;
    }
    // Both are recent receivers, newest first, names masked; Beto saved as a favourite.
    wait_for(
        b,
        "//ul[@id='recent-receivers']/li[1][contains(., 'Dora A.') and contains(., '***.333.444-**')]",
    )
    .await;
    wait_for(
        b,
        "//ul[@id='recent-receivers']/li[2][contains(., 'Beto R.')]",
    )
    .await;
    assert!(
        b.find(fantoccini::Locator::XPath(
            "//ul[@id='recent-receivers'][contains(., 'Dora Maria')]"
        ))
        .await
        .is_err(),
        "a receiver's full name is not listed"
    );
    click(b, "//button[@aria-label='Salvar Beto R. nos favoritos']").await;
    wait_for(
        b,
        "//ul[@id='favourites']/li[contains(., 'Beto R.') and contains(., 'Secret')]",
    )
    .await;
    wait_for(b, "//p[@id='favourite-saved']").await;
    overflows.extend(sideways(b, "dashboard, pay again").await);
    screenshot(b, "pt-pagar-de-novo-lista").await;

    // Two taps: Beto (with the amount typed), then "Confirmar Pix". The review takes the focus.
    fill(b, "pix_amount", "25").await;
    click(
        b,
        "//ul[@id='favourites']//button[contains(@class, 'contact-pay')]",
    )
    .await;
    wait_for(b, "//strong[@id='receiver-name' and text()='Beto Reis']").await;
    focus_on(b, "pix-review-title").await;
    overflows.extend(sideways(b, "dashboard, pay-again review").await);
    screenshot(b, "pt-pagar-de-novo-revisao").await;
    click(b, "//button[text()='Confirmar Pix']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 445,00']").await;
    // With no amount typed, a tap fills the key and the amount field takes the focus.
    click(
        b,
        "//ul[@id='recent-receivers']//button[contains(@class, 'contact-pay')]",
    )
    .await;
    wait_for(b, "//p[@id='pay-again-filled' and contains(., 'Dora A.')]").await;
    assert_eq!(
        value_of(b, "//input[@name='pix_key']").await,
        dora_cpf
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    );
    focus_on(b, "pix_amount").await;

    b.set_window_size(1280, 900).await.unwrap();
    fill(b, "pix_amount", "1234.56").await;
    assert_eq!(
        value_of(b, "//input[@name='pix_amount']").await,
        "R$ 1.234.56"
    );
    screenshot(b, "pt-pagar-de-novo-desktop").await;
    // Leaving the field writes the amount the one way Brazilians write it.
    b.execute(
        "document.querySelector(\"input[name='pix_amount']\").blur(); return null;",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        value_of(b, "//input[@name='pix_amount']").await,
        "R$ 1.234,56"
    );
    // Removing a favourite asks nothing back and says so.
    click(b, "//button[@aria-label='Remover Beto R. dos favoritos']").await;
    wait_for(b, "//p[@id='favourite-removed']").await;

    // The consent at Automobili names who will draw: Ana's Eleven account, masked.
    b.set_window_size(390, 844).await.unwrap();
    select_at(b, "//form[@id='link-form']//select[@name='bank']", "2").await;
    click(b, "//button[text()='Vincular conta']").await;
    wait_for(b, "//html[@data-bank='2']//section[@id='consent']").await;
    wait_hydrated(b).await;
    fill_at(b, "//input[@name='per_packet']", "300").await;
    wait_for(
        b,
        "//p[@id='consent-summary' and @data-holder='Ana L.' and contains(., 'de Ana L. (***.982.247-**) no Eleven') and contains(., 'R$ 300,00')]",
    )
    .await;
    overflows.extend(sideways(b, "consent, holder named").await);
    b.execute(
        "document.getElementById('consent-summary').scrollIntoView({ block: 'center' });",
        vec![],
    )
    .await
    .unwrap();
    screenshot(b, "pt-consentimento-titular").await;
    assert!(overflows.is_empty(), "{overflows:#?}");
    driver.browser.close().await.unwrap();
}
