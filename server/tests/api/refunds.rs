//! Issue 28, devolução: the receiver of a Pix returns it in parts to the payer's account at the
//! payer's bank, through the ring and 2PC; returns beyond what was received, and returns of
//! someone else's Pix, are refused with nothing moved; a return still goes through after the
//! payer's bank restarts. Five real banks.

use crate::keys::pix;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// Returns `amount` of Pix `original` as `client`, retrying while the consortium is busy.
async fn give_back(client: &Client, original: &str, amount: &str) -> (StatusCode, Value) {
    let start = std::time::Instant::now();
    loop {
        let (s, body) = client
            .call(
                "return_pix",
                &[("original_tx", original), ("amount", amount), ("tx_id", "")],
            )
            .await;
        if s != StatusCode::SERVICE_UNAVAILABLE || start.elapsed() > SETTLE_PATIENCE {
            return (s, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_available(client: &Client, expected: i64) {
    let start = std::time::Instant::now();
    loop {
        let available = client.balances().await.0;
        if available == expected {
            return;
        }
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "balance {available}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pix_to_another_bank_is_returned_in_parts_to_the_payer_and_never_beyond_it() {
    let mut c = Consortium::start(&[]).await;
    let (ana1, beto3, cara3) = (c.client(0), c.client(2), c.client(2));
    for (client, name, tax_id, email) in [
        (&ana1, "Ana Lima", ANA_CPF, "ana@example.com"),
        (&beto3, "Beto Reis", BETO_CPF, "beto@example.com"),
        (&cara3, "Cia Ltda", CIA_CNPJ, "cia@example.com"),
    ] {
        assert_eq!(
            client.open_account(name, tax_id, email).await,
            StatusCode::OK
        );
    }
    let (s, _) = ana1
        .call("deposit", &[("amount", "1.000,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, receipt) = pix(&ana1, BETO_CPF, "100,00").await;
    assert_eq!(s, StatusCode::OK, "{receipt}");
    let original = receipt["tx_id"].as_str().unwrap().to_string();
    wait_for_available(&beto3, 10_000).await;

    // Two partial returns, back to Ana's account at bank 1: exact on both sides.
    let (s, back) = give_back(&beto3, &original, "30,00").await;
    assert_eq!(s, StatusCode::OK, "{back}");
    assert_eq!(back["receiver"]["name"], "Ana Lima", "{back}");
    assert_eq!(back["receiver"]["bank"]["id"], 1, "{back}");
    assert_ne!(back["tx_id"], original.as_str(), "a return has its own id");
    let (s, back) = give_back(&beto3, &original, "50,00").await;
    assert_eq!(s, StatusCode::OK, "{back}");
    wait_for_available(&ana1, 100_000 - 10_000 + 8_000).await;
    assert_eq!(beto3.balances().await, (2_000, 0));

    // The "Devolver" page for this Pix: a form the bank renders, before any script.
    let html = beto3
        .http
        .get(format!("{}/return/{original}", beto3.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="return-form""#) && html.contains(&original),
        "{html}"
    );

    // A third beyond what is left: refused, nothing moves.
    let (s, body) = give_back(&beto3, &original, "20,01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("exceed what you received"),
        "{body}"
    );
    // Someone else's Pix: refused, whoever asks (another client, the payer herself).
    let (s, body) = give_back(&cara3, &original, "1,00").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("not a Pix you received"),
        "{body}"
    );
    let (s, body) = give_back(&ana1, &original, "1,00").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Bad input: 400, nothing moves.
    for (tx, amount) in [
        (original.as_str(), "1,234"),
        (original.as_str(), "-1,00"),
        ("not an id", "1,00"),
    ] {
        let (s, body) = give_back(&beto3, tx, amount).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{tx} {amount}: {body}");
    }
    assert_eq!(beto3.balances().await, (2_000, 0));
    assert_eq!(ana1.balances().await, (98_000, 0));

    // Ana's statement links each return to her Pix; Beto's too.
    let linked = |dashboard: Value| -> Vec<(String, i64)> {
        dashboard["dashboard"]["recent"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["returned_for"] == original.as_str())
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["amount"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        linked(ana1.dashboard().await),
        vec![("PixIn".to_string(), 5_000), ("PixIn".to_string(), 3_000)]
    );
    assert_eq!(
        linked(beto3.dashboard().await),
        vec![("PixOut".to_string(), 5_000), ("PixOut".to_string(), 3_000)]
    );

    // The payer's bank restarts: the rest still goes back, to the cent, and no more.
    c.kill(0).await;
    c.restart(0).await;
    let (s, back) = give_back(&beto3, &original, "20,00").await;
    assert_eq!(s, StatusCode::OK, "{back}");
    wait_for_available(&ana1, 100_000).await;
    let (s, body) = give_back(&beto3, &original, "0,01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(beto3.balances().await, (0, 0));
    assert_settled(&c, &[0, 1, 2, 3, 4], 100_000).await;
}

#[tokio::test]
async fn deposits_say_how_the_money_came_in_and_the_statement_exports_as_csv() {
    let c = Consortium::start(&[]).await;
    let (ana1, beto3) = (c.client(0), c.client(2));
    for (client, name, tax_id, email) in [
        (&ana1, "Ana Lima", ANA_CPF, "ana@example.com"),
        (&beto3, "Beto Reis", BETO_CPF, "beto@example.com"),
    ] {
        assert_eq!(
            client.open_account(name, tax_id, email).await,
            StatusCode::OK
        );
    }
    for (amount, method) in [("100,00", "boleto"), ("50,00", "qr"), ("1.000,00", "cash")] {
        let (s, body) = ana1
            .call(
                "deposit",
                &[("amount", amount), ("tx_id", ""), ("method", method)],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    // An unknown method: 400 naming the field, nothing deposited.
    let (s, body) = ana1
        .call(
            "deposit",
            &[("amount", "1,00"), ("tx_id", ""), ("method", "cheque")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("method"), "{body}");
    assert_eq!(ana1.balances().await, (115_000, 0));
    let methods: Vec<Value> = ana1.dashboard().await["dashboard"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["deposit_method"].clone())
        .collect();
    assert_eq!(methods, vec!["cash", "qr", "boleto"]);

    // A Pix to Beto at bank 3, and part of it back.
    let (s, receipt) = pix(&ana1, BETO_CPF, "25,50").await;
    assert_eq!(s, StatusCode::OK, "{receipt}");
    let original = receipt["tx_id"].as_str().unwrap().to_string();
    wait_for_available(&beto3, 2_550).await;
    let (s, back) = give_back(&beto3, &original, "5,00").await;
    assert_eq!(s, StatusCode::OK, "{back}");
    wait_for_available(&ana1, 115_000 - 2_550 + 500).await;

    // Ana's statement as CSV: her own only, quoted, dates in Brasília, reais with a comma.
    let response = ana1
        .http
        .get(format!("{}/api/statement_csv", ana1.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert!(header("content-disposition").starts_with("attachment;"));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 5, "{text}");
    assert_eq!(
        lines[0],
        "\"Date (Brasília)\",\"Id (E2E)\",\"Description\",\"Amount (R$)\",\"Status\",\"Balance after (R$)\",\"Returns Pix\",\"Message\""
    );
    let returned = lines[1];
    assert!(
        returned.contains("\"Pix from Beto Reis (***.444.777-** · "),
        "{returned}"
    );
    assert!(
        returned.ends_with(&format!(
            ",\"5,00\",\"Completed\",\"1129,50\",\"{original}\",\"\""
        )),
        "{returned}"
    );
    assert!(
        lines[2].contains(&format!("\"{original}\",\"Pix to Beto Reis"))
            && lines[2].contains(",\"-25,50\","),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("\"Deposit · Cash\",\"1000,00\""),
        "{}",
        lines[3]
    );
    assert!(
        lines[5].contains("\"Deposit · Boleto\",\"100,00\""),
        "{}",
        lines[5]
    );
    // Stamped in Brasília (UTC-3): today there, or yesterday had midnight just passed.
    let day = |ms: i64| domain::time_fmt::format_brasilia(ms)[..10].to_string();
    let now = domain_now_ms();
    assert!(
        [day(now), day(now - 120_000)].contains(&lines[5][1..11].to_string()),
        "{}",
        lines[5]
    );

    // Without a session: nothing.
    let anonymous = reqwest::Client::new()
        .get(format!("{}/api/statement_csv", ana1.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

fn domain_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
