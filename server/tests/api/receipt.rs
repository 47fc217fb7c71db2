//! Issue 27: the comprovante and an honest statement. A transfer's comprovante shows the payer's
//! bank and the receiver's bank the same facts, and nobody else learns it exists; after a
//! cross-bank packet that aborted, the receiver's statement shows nothing arrived and the payer's
//! shows it as not concluded, with its reason.

use crate::browser::{click, fill, screenshot, sideways, start_browser, wait_for, wait_hydrated};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(60);

/// Submits a packet, retrying while the consortium is momentarily busy (503) with the same id.
async fn packet(client: &Client, id: &str, legs: Vec<Value>) -> (StatusCode, Value) {
    let body = json!({ "tx_id": id, "legs": legs });
    let start = Instant::now();
    loop {
        let (status, answer) = client.call_json("send_packet", &body).await;
        if status != StatusCode::SERVICE_UNAVAILABLE || start.elapsed() > PATIENCE {
            return (status, answer);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn leg(source: u8, key: &str, bank: u8, amount: &str) -> Value {
    json!({ "source_bank": source.to_string(), "receiver_key": key, "receiver_bank": bank.to_string(), "amount": amount })
}

/// The statement lines of `tx` in a client's dashboard.
async fn statement_of(client: &Client, tx: &str) -> Vec<Value> {
    client.dashboard().await["dashboard"]["recent"]
        .as_array()
        .expect("a statement")
        .iter()
        .filter(|e| e["tx_id"] == tx)
        .cloned()
        .collect()
}

/// The facts both parties' comprovantes must agree on: everything but the moment each bank
/// recorded it (each bank its own clock, milliseconds apart).
fn facts(line: &Value) -> Value {
    json!({
        "amount": line["amount"],
        "status": line["status"],
        "payer": line["payer"],
        "receiver": line["receiver"],
    })
}

#[tokio::test]
async fn a_comprovante_is_the_parties_alone_and_a_failed_pix_shows_no_money_in() {
    let c = Consortium::start(&[]).await;
    let (ana1, ana2, beto3, cia4) = (c.client(0), c.client(1), c.client(2), c.client(3));
    for (client, name, doc, email) in [
        (&ana1, "Ana Lima", ANA_CPF, "ana@example.com"),
        (&ana2, "Ana Lima", ANA_CPF, "ana.two@example.com"),
        (&beto3, "Beto Reis", BETO_CPF, "beto@example.com"),
        (&cia4, "Cia Ltda", CIA_CNPJ, "cia@example.com"),
    ] {
        assert_eq!(
            client.open_account(name, doc, email).await,
            StatusCode::OK,
            "{name}"
        );
    }
    for (client, bank, amount) in [(&ana1, 1, "1000,00"), (&ana2, 2, "500,00")] {
        let (s, body) = client
            .call("deposit", &[("amount", amount), ("tx_id", &tx_id(bank))])
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (status, body) = link(&ana1, &ana2, 2, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A Pix from Ana at Eleven to Beto at Secret.
    let pix = tx_id(1);
    let (status, sent) = ana1
        .call(
            "send_pix",
            &[
                ("key", BETO_CPF),
                ("amount", "100,00"),
                ("tx_id", pix.as_str()),
                ("bank", "3"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_settled(&c, &[0, 1, 2, 3, 4], 150_000).await;

    // Payer and receiver see one comprovante: same id, amount, status and parties.
    let (s, paid) = ana1.call("get_receipt", &[("tx", &pix)]).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    let (s, got) = beto3.call("get_receipt", &[("tx", &pix)]).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    for r in [&paid, &got] {
        assert_eq!(r["receipt"]["tx_id"], pix.as_str(), "{r}");
        assert_eq!(
            r["receipt"]["lines"].as_array().map(Vec::len),
            Some(1),
            "{r}"
        );
    }
    let (out, into) = (&paid["receipt"]["lines"][0], &got["receipt"]["lines"][0]);
    assert_eq!(
        (out["kind"].as_str(), into["kind"].as_str()),
        (Some("PixOut"), Some("PixIn"))
    );
    assert_eq!(facts(out), facts(into));
    assert_eq!(
        facts(out),
        json!({
            "amount": 10_000,
            "status": "Committed",
            "payer": { "name": "Ana Lima", "key_masked": "***.982.247-**", "bank": 1 },
            "receiver": { "name": "Beto Reis", "key_masked": "***.444.777-**", "bank": 3 },
        })
    );
    assert!(out["created_ms"].as_i64().unwrap() > 0);
    let names: Vec<&str> = paid["banks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert!(names.contains(&"Secret"), "{paid}");

    // Anyone else gets exactly what an unknown or malformed id gets: 404, the same words.
    let (s, theirs) = cia4.call("get_receipt", &[("tx", &pix)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{theirs}");
    let (s, unknown) = cia4.call("get_receipt", &[("tx", &tx_id(4))]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{unknown}");
    assert_eq!(
        theirs, unknown,
        "a stranger's transfer reads as no transfer"
    );
    let (s, malformed) = cia4.call("get_receipt", &[("tx", "E123")]).await;
    assert_eq!((s, &malformed), (StatusCode::NOT_FOUND, &unknown));
    let (s, _) = c.client(0).call("get_receipt", &[("tx", &pix)]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "no session, no comprovante");

    // A packet whose second leg Ana's account at Automobili (R$ 500,00) cannot pay: every leg aborts, at
    // Secret too, where Beto's credit had been prepared.
    let failed = tx_id(1);
    let (status, outcome) = packet(
        &ana1,
        &failed,
        vec![leg(1, BETO_CPF, 3, "30,00"), leg(2, CIA_CNPJ, 4, "500,01")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["status"], "Aborted", "{outcome}");
    assert_settled(&c, &[0, 1, 2, 3, 4], 150_000).await;

    // The receiver: nothing arrived, so nothing is in the statement, and there is no
    // comprovante to see.
    assert!(statement_of(&beto3, &failed).await.is_empty());
    assert_eq!(beto3.balances().await, (10_000, 0));
    let (s, body) = beto3.call("get_receipt", &[("tx", &failed)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert!(statement_of(&cia4, &failed).await.is_empty());

    // The payer: the transfer is there, not concluded, no balance moved, and why.
    let lines = statement_of(&ana1, &failed).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (
            lines[0]["kind"].as_str(),
            lines[0]["status"].as_str(),
            lines[0]["amount"].as_i64()
        ),
        (Some("PixOut"), Some("Aborted"), Some(3_000))
    );
    assert!(lines[0]["balance_after"].is_null(), "{lines:?}");
    assert_eq!(lines[0]["reason"], json!({ "code": "insufficient_funds" }));
    let (s, r) = ana1.call("get_receipt", &[("tx", &failed)]).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let line = &r["receipt"]["lines"][0];
    assert_eq!(line["status"], "Aborted", "{r}");
    assert_eq!(
        line["reason"],
        json!({ "code": "insufficient_funds" }),
        "{r}"
    );
    assert_eq!(ana1.balances().await, (90_000, 0));

    // The Pix that went through is still the first line of each side.
    let beto_lines = statement_of(&beto3, &pix).await;
    assert_eq!(beto_lines.len(), 1);
    assert_eq!(beto_lines[0]["status"], "Committed");

    // As each reads it in Chromium, in Portuguese, at 390 px: Ana's statement shows the packet's
    // transfer as not concluded, with why; Beto's shows only the Pix that arrived.
    let driver = start_browser().await;
    let b = &driver.browser;
    b.set_window_size(390, 844).await.unwrap();
    let row = |tx: &str| format!("//section[@id='history']//tr[@data-tx='{tx}']");
    let not_concluded = format!(
        "{}[@data-status='aborted' and contains(., 'Não concluído') and contains(., 'Saldo insuficiente')]",
        row(&failed)
    );
    let mut overflows = Vec::new();
    for (url, email, shot, seen) in [
        (
            c.url(2),
            "beto@example.com",
            "pt-extrato-recebedor",
            row(&pix),
        ),
        (
            c.url(0),
            "ana@example.com",
            "pt-extrato-nao-concluido",
            not_concluded,
        ),
    ] {
        b.goto(&format!("{url}/login")).await.unwrap();
        wait_hydrated(b).await;
        fill(b, "email", email).await;
        fill(b, "password", PASSWORD).await;
        click(b, "//button[text()='Entrar']").await;
        wait_for(b, &seen).await;
        if email.starts_with("beto") {
            // Nothing of the failed packet reached the receiver: no row at all.
            assert!(b
                .find(fantoccini::Locator::XPath(&row(&failed)))
                .await
                .is_err());
        }
        b.execute(
            "document.getElementById('history').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
        overflows.extend(sideways(b, shot).await);
        screenshot(b, shot).await;
    }
    assert!(overflows.is_empty(), "{overflows:#?}");
    driver.browser.close().await.unwrap();
}
