//! Issue 27: an optional message on a Pix (at most 140 characters), shown on both sides. A Pix
//! with a message across two banks shows it in both statements and on both comprovantes (the
//! data and the pages); a message inside one bank and on a packet's row too; a message too long
//! or with a line break is refused with a 400 naming the field, and nothing moves; and a rogue
//! coordinator cannot plant one the client's own bank would refuse in another bank's statement.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const RENT: &str = "Aluguel de março 🏠";

/// The messages of `tx`'s lines in a client's statement (from the dashboard, as the page gets it).
async fn statement_messages(client: &Client, tx: &str) -> Vec<Value> {
    client.dashboard().await["dashboard"]["recent"]
        .as_array()
        .expect("a statement")
        .iter()
        .filter(|e| e["tx_id"] == tx)
        .map(|e| e["message"].clone())
        .collect()
}

/// The messages of `tx`'s comprovante lines for a client.
async fn receipt_messages(client: &Client, tx: &str) -> Vec<Value> {
    let (s, r) = client.call("get_receipt", &[("tx", tx)]).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r["receipt"]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["message"].clone())
        .collect()
}

/// A page of the app as the server renders it for a logged-in client.
async fn page(client: &Client, path: &str) -> String {
    let res = client
        .http
        .get(format!("{}{path}", client.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

/// A client of bank `i` in the app's default language, Portuguese (the tests' clients are
/// English unless they say otherwise).
fn portuguese(c: &Consortium, i: usize) -> Client {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    Client {
        http: reqwest::Client::builder()
            .cookie_provider(jar)
            .build()
            .expect("an HTTP client"),
        url: c.url(i),
    }
}

#[tokio::test]
async fn a_message_shows_on_both_sides_and_a_bad_one_moves_nothing() {
    let c = Consortium::start(&[]).await;
    let (ana1, beto3, cia1) = (portuguese(&c, 0), c.client(2), c.client(0));
    for (client, name, doc, email) in [
        (&ana1, "Ana Lima", ANA_CPF, "ana@example.com"),
        (&beto3, "Beto Reis", BETO_CPF, "beto@example.com"),
        (&cia1, "Cia Ltda", CIA_CNPJ, "cia@example.com"),
    ] {
        assert_eq!(
            client.open_account(name, doc, email).await,
            StatusCode::OK,
            "{name}"
        );
    }
    let (s, body) = ana1
        .call("deposit", &[("amount", "1000,00"), ("tx_id", &tx_id(1))])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Across banks: Ana at Eleven pays Beto at Secret, with a message (spaces around it go).
    let pix = tx_id(1);
    let (s, sent) = ana1
        .call(
            "send_pix",
            &[
                ("key", BETO_CPF),
                ("amount", "100,00"),
                ("tx_id", pix.as_str()),
                ("bank", "3"),
                ("message", &format!("  {RENT} ")),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sent}");
    assert_settled(&c, &[0, 1, 2, 3, 4], 100_000).await;
    for client in [&ana1, &beto3] {
        assert_eq!(statement_messages(client, &pix).await, vec![json!(RENT)]);
        assert_eq!(receipt_messages(client, &pix).await, vec![json!(RENT)]);
        // The pages, as the server renders them: the comprovante and the statement.
        let receipt = page(client, &format!("/receipt/{pix}")).await;
        assert!(
            receipt.contains("receipt-message") && receipt.contains(RENT),
            "the comprovante shows the message"
        );
        let dashboard = page(client, "/dashboard").await;
        assert!(
            dashboard.contains("entry-message") && dashboard.contains(RENT),
            "the statement shows the message"
        );
    }

    // Inside one bank, and on one row of a packet (the other row has none).
    let inside = tx_id(1);
    let (s, sent) = ana1
        .call(
            "send_pix",
            &[
                ("key", CIA_CNPJ),
                ("amount", "1,00"),
                ("tx_id", inside.as_str()),
                ("message", "Café ☕"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sent}");
    assert_eq!(
        statement_messages(&cia1, &inside).await,
        vec![json!("Café ☕")]
    );
    assert_eq!(
        receipt_messages(&ana1, &inside).await,
        vec![json!("Café ☕")]
    );
    let packet = tx_id(1);
    let row = |key: &str, bank: u8, message: &str| {
        json!({ "source_bank": "1", "receiver_key": key, "receiver_bank": bank.to_string(),
                "amount": "2,00", "message": message })
    };
    let (s, outcome) = ana1
        .call_json(
            "send_packet",
            &json!({ "tx_id": packet, "legs": [row(BETO_CPF, 3, "Pizza de sexta"), row(CIA_CNPJ, 1, "")] }),
        )
        .await;
    assert_eq!(
        (s, outcome["status"].as_str()),
        (StatusCode::OK, Some("Committed")),
        "{outcome}"
    );
    assert_settled(&c, &[0, 1, 2, 3, 4], 100_000).await;
    assert_eq!(
        statement_messages(&beto3, &packet).await,
        vec![json!("Pizza de sexta")]
    );
    // (No message: the field is left out.)
    assert_eq!(statement_messages(&cia1, &packet).await, vec![Value::Null]);
    let ana_lines = statement_messages(&ana1, &packet).await;
    assert_eq!(ana_lines.len(), 2, "{ana_lines:?}");
    assert!(ana_lines.contains(&json!("Pizza de sexta")) && ana_lines.contains(&Value::Null));

    // Refused, 400, naming the field, before anything moves: 141 characters (counted as
    // characters: 141 "ç" are 282 bytes), a line break, a terminal escape.
    let before = (ana1.balances().await, beto3.balances().await);
    let statement_before = ana1.dashboard().await["dashboard"]["recent"].clone();
    let long = "ç".repeat(141);
    for bad in [long.as_str(), "linha 1\nlinha 2", "\u{1b}[2J"] {
        for bank in ["3", "1"] {
            let t = tx_id(1);
            let key = if bank == "3" { BETO_CPF } else { CIA_CNPJ };
            let (s, body) = ana1
                .call(
                    "send_pix",
                    &[
                        ("key", key),
                        ("amount", "5,00"),
                        ("tx_id", t.as_str()),
                        ("bank", bank),
                        ("message", bad),
                    ],
                )
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
            assert_eq!(body["BadInput"]["field"], "message", "{body}");
            let words = body["BadInput"]["message"].as_str().unwrap_or_default();
            assert!(
                words.contains("140") || words.contains("quebras de linha"),
                "in Portuguese, with the limit: {words}"
            );
        }
        let t = tx_id(1);
        let (s, body) = ana1
            .call_json(
                "send_packet",
                &json!({ "tx_id": t, "legs": [row(BETO_CPF, 3, bad)] }),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert_eq!(body["BadInput"]["field"], "legs.0.message", "{body}");
    }
    // Exactly 140 characters pass.
    let (s, body) = ana1
        .call(
            "send_pix",
            &[
                ("key", CIA_CNPJ),
                ("amount", "0,01"),
                ("tx_id", tx_id(1).as_str()),
                ("message", &"ç".repeat(140)),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let after = (ana1.balances().await, beto3.balances().await);
    assert_eq!(
        (after.0 .0 + 1, after.0 .1, after.1),
        (before.0 .0, before.0 .1, before.1),
        "only the 140-character Pix moved money"
    );
    let statement_after = ana1.dashboard().await["dashboard"]["recent"].clone();
    assert_eq!(
        statement_after.as_array().map(Vec::len),
        statement_before.as_array().map(|s| s.len() + 1),
        "no line for any refused Pix"
    );
    assert_settled(&c, &[0, 1, 2, 3, 4], 100_000).await;
}

/// A rogue coordinator (bank 5, with its own valid key) sends Secret a signed prepare whose
/// credit to Beto carries what no client could type: 10 KB, or a terminal escape. Its plan
/// names the hash of exactly those parts, so only Secret's own check of the message stands in
/// the way: the request is refused whole (422), nothing is reserved, and Beto's statement stays
/// empty. The same prepare with a well-formed message is read and voted on.
#[tokio::test]
async fn a_rogue_coordinator_cannot_plant_a_bad_message_in_a_receivers_statement() {
    let c = Consortium::start(&[]).await;
    let beto3 = c.client(2);
    assert_eq!(
        beto3
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let key = BETO_CPF.replace(['.', '-'], "");
    let parts = |message: &str| {
        format!(
            r#"[[0,{{"Credit":{{"key":"{key}","amount":100,"from":{{"name":"Someone","key_masked":"***","bank":5}},"message":{}}}}}]]"#,
            serde_json::to_string(message).unwrap()
        )
    };
    let prepare = |tx: &str, message: &str| {
        format!(
            r#"{{"items":[{{"tx":"{tx}","parts":{}}}]}}"#,
            parts(message)
        )
        .into_bytes()
    };
    let huge = "x".repeat(10_240);
    for bad in [huge.as_str(), "\u{1b}[2Jpago", "a\u{202e}b"] {
        let tx = tx_id(5);
        // Planned over a well-formed stand-in, then the plan is pointed at the bad parts' hash
        // and the stand-in swapped for the bad message: a plan signed over exactly what is sent.
        let bad_hash = engine::twopc::proof::Digest::of(parts(bad).as_bytes());
        let planned = c.planned_with(4, 2, &prepare(&tx, "STAND-IN"), |plan| {
            let secret = domain::BankId::try_from(3).unwrap();
            if let Some(entry) = plan.parts.iter_mut().find(|(b, _)| *b == secret) {
                entry.1 = bad_hash;
            }
        });
        let text = String::from_utf8(planned).unwrap();
        assert!(text.contains(r#""STAND-IN""#));
        let body = text.replace(r#""STAND-IN""#, &serde_json::to_string(bad).unwrap());
        let (status, answer) = c
            .signed_post(
                2,
                "/interbank/prepare",
                4,
                engine::wall_clock_ms(),
                body.as_bytes(),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}: {answer}"
        );
    }
    let audit = audit_of(&c.status(2).await.expect("/status"));
    assert_eq!(
        (
            audit.total_incoming,
            audit.total_blocked,
            audit.prepared_transactions
        ),
        (0, 0, 0),
        "nothing reserved"
    );
    assert_eq!(beto3.balances().await, (0, 0));
    let recent = beto3.dashboard().await["dashboard"]["recent"].clone();
    assert_eq!(recent, json!([]), "nothing in Beto's statement");

    // The same prepare with a message a client could type is read, and voted on.
    let tx = tx_id(5);
    let body = c.planned(4, 2, &prepare(&tx, "Aluguel"));
    let (status, answer) = c
        .signed_post(2, "/interbank/prepare", 4, engine::wall_clock_ms(), &body)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("Prepared"), "{answer}");
}
