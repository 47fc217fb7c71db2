//! Issue 28, charges (cobrança imediata): a charge's dynamic code, resolved at the receiver's
//! bank and paid from another bank; two banks racing to pay one charge, exactly one winning;
//! a charge paid inside its own bank; cancelled and expired charges refused with nothing moved;
//! a member bank asking and preparing directly refused by the charge's bank itself;
//! a charge id reused refused; bad input answered 4xx. Five real banks.

use crate::keys::DORA_CPF;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

fn now_ms() -> i64 {
    engine::engine::wall_clock_ms()
}

/// Pays `code` with a new transaction id as `client`, retrying while the consortium is busy.
async fn pay(client: &Client, code: &str) -> (StatusCode, Value) {
    let start = std::time::Instant::now();
    loop {
        let (s, body) = client
            .call("pay_code", &[("code", code), ("tx_id", "")])
            .await;
        if s != StatusCode::SERVICE_UNAVAILABLE || start.elapsed() > SETTLE_PATIENCE {
            return (s, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a charge as `client`.
async fn charge(client: &Client, amount: &str, description: &str, minutes: &str) -> Value {
    let (s, body) = client
        .call(
            "create_charge",
            &[
                ("amount", amount),
                ("description", description),
                ("expires_minutes", minutes),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

/// `client`'s charge `id` as its list shows it now.
async fn listed(client: &Client, id: &str) -> Value {
    let (s, list) = client.call("my_charges", &[]).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("charge {id} not listed: {list}"))
}

async fn wait_for_balance(client: &Client, expected: i64) {
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

async fn open_accounts(c: &Consortium) -> (Client, Client, Client, Client) {
    let (beto3, ana1, dora4, cia3) = (c.client(2), c.client(0), c.client(3), c.client(2));
    for (client, name, tax_id, email) in [
        (&beto3, "Beto Reis", BETO_CPF, "beto@example.com"),
        (&ana1, "Ana Lima", ANA_CPF, "ana@example.com"),
        (&dora4, "Dora Dias", DORA_CPF, "dora@example.com"),
        (&cia3, "Cia Ltda", CIA_CNPJ, "cia@example.com"),
    ] {
        assert_eq!(
            client.open_account(name, tax_id, email).await,
            StatusCode::OK
        );
    }
    for client in [&ana1, &dora4, &cia3] {
        let (s, _) = client
            .call("deposit", &[("amount", "1.000,00"), ("tx_id", "")])
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    (beto3, ana1, dora4, cia3)
}

#[tokio::test]
async fn a_charge_is_paid_once_even_when_two_banks_race_to_pay_it() {
    let c = Consortium::start(&[]).await;
    let (beto3, ana1, dora4, cia3) = open_accounts(&c).await;

    // Beto's charge: a dynamic code (point of initiation 12) naming its location at bank 3.
    let created = charge(&beto3, "25,00", "Pedido 42", "60").await;
    assert_eq!(created["status"], "open", "{created}");
    assert_eq!(created["amount"], 2_500, "{created}");
    assert!(created["svg"].as_str().unwrap().starts_with("<svg"));
    let id = created["id"].as_str().unwrap().to_string();
    let code = created["code"].as_str().unwrap().to_string();
    let read = domain::BrCode::decode(&code).expect("the bank's own code reads back");
    assert_eq!(read.initiation, Some(domain::brcode::Initiation::Dynamic));
    let location = format!("{}/cob/{id}", c.url(2).trim_start_matches("http://"));
    assert_eq!(
        read.account,
        domain::brcode::PixAccount::Location { url: location }
    );
    assert_eq!(read.merchant_name, "BETO REIS");

    // Read at bank 1: bank 3 describes it over the signed channel; the amount is the charge's.
    let (s, preview) = ana1.call("read_code", &[("code", &code)]).await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["amount"], 2_500, "{preview}");
    assert_eq!(preview["receiver"]["name"], "Beto Reis", "{preview}");
    assert_eq!(preview["receiver"]["bank"]["id"], 3, "{preview}");
    assert_eq!(
        preview["receiver"]["key_masked"], "***.444.777-**",
        "{preview}"
    );
    assert_eq!(preview["message"], "Pedido 42", "{preview}");
    assert!(preview["charge_expires_ms"].as_i64().is_some(), "{preview}");
    // An amount other than the charge's is refused before anything moves.
    let (s, body) = ana1
        .call(
            "pay_code",
            &[("code", &code), ("amount", "24,99"), ("tx_id", "")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

    // Bank 1 and bank 4 pay it at once: exactly one wins; the other is told it was paid, or is
    // being paid, and nothing of it moves.
    let ((s1, b1), (s4, b4)) = tokio::join!(pay(&ana1, &code), pay(&dora4, &code));
    let won: Vec<bool> = [(s1, &b1), (s4, &b4)]
        .iter()
        .map(|(s, b)| {
            assert!(
                *s == StatusCode::OK || *s == StatusCode::UNPROCESSABLE_ENTITY,
                "{s}: {b}"
            );
            if *s != StatusCode::OK {
                let said = b.to_string();
                assert!(
                    said.contains("already been paid") || said.contains("in progress"),
                    "{b}"
                );
            }
            *s == StatusCode::OK
        })
        .collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{b1} / {b4}");
    let (winner, loser, receipt) = if won[0] {
        (&ana1, &dora4, &b1)
    } else {
        (&dora4, &ana1, &b4)
    };
    assert_eq!(receipt["amount"], 2_500, "{receipt}");
    let lost = if won[0] { &b4 } else { &b1 };
    eprintln!("the race's loser was told: {lost}");
    wait_for_balance(&beto3, 2_500).await;
    wait_for_balance(winner, 97_500).await;
    assert_eq!(loser.balances().await, (100_000, 0));
    let paid = listed(&beto3, &id).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(paid["paid_by"], receipt["tx_id"], "{paid}");
    assert_eq!(paid["code"], "", "a paid charge shows no code");

    // Paid: read or paid again, from any bank, it is refused; its receiver cannot cancel it.
    for client in [&ana1, &dora4, &cia3] {
        let (s, body) = client.call("read_code", &[("code", &code)]).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains("already been paid"), "{body}");
        let (s, body) = pay(client, &code).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (s, body) = beto3.call("cancel_charge", &[("charge_id", &id)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(beto3.balances().await, (2_500, 0));

    // A charge paid inside its own bank, by Cia at bank 3.
    let inside = charge(&beto3, "5,00", "Café", "10").await;
    let (s, body) = pay(&cia3, inside["code"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    wait_for_balance(&beto3, 3_000).await;
    assert_eq!(cia3.balances().await, (99_500, 0));
    let inside_id = inside["id"].as_str().unwrap();
    assert_eq!(listed(&beto3, inside_id).await["status"], "paid");

    // A charge id reused: the same charge again is the same answer; another is refused.
    let chosen = "PEDIDO42ABCDEFGHIJKLMNOPQRSTU";
    let form = |amount: &'static str| {
        [
            ("amount", amount),
            ("description", "Pedido 43"),
            ("expires_minutes", "60"),
            ("charge_id", chosen),
        ]
    };
    let (s, first) = beto3.call("create_charge", &form("7,00")).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let (s, again) = beto3.call("create_charge", &form("7,00")).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["created_ms"], first["created_ms"]);
    let (s, body) = beto3.call("create_charge", &form("8,00")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let (s, body) = cia3.call("create_charge", &form("7,00")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_settled(&c, &[0, 1, 2, 3, 4], 300_000).await;
}

#[tokio::test]
async fn cancelled_and_expired_charges_are_refused_and_bad_input_moves_nothing() {
    let mut c = Consortium::start(&[]).await;
    let (beto3, ana1, _dora4, cia3) = open_accounts(&c).await;

    // Cancelled while open: nobody pays it.
    let cancelled = charge(&beto3, "10,00", "Aluguel", "60").await;
    let (id, code) = (
        cancelled["id"].as_str().unwrap().to_string(),
        cancelled["code"].as_str().unwrap().to_string(),
    );
    // Only its receiver can cancel it.
    let (s, body) = cia3.call("cancel_charge", &[("charge_id", &id)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, body) = beto3.call("cancel_charge", &[("charge_id", &id)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled", "{body}");
    let (s, body) = ana1.call("read_code", &[("code", &code)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("cancelled"), "{body}");
    let (s, body) = pay(&ana1, &code).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A member bank (bank 1, its own key) asking and paying directly: it learns what the code
    // tells anyone, and its prepares of a cancelled charge, or of an open one for less than
    // its amount, are refused by bank 3 itself, whatever bank 1's plan says.
    let open = charge(&beto3, "10,00", "Conta de luz", "60").await;
    let open_id = open["id"].as_str().unwrap().to_string();
    let ask = |id: &str| serde_json::json!({ "charge": id }).to_string();
    let (s, text) = c
        .signed_post(
            2,
            "/interbank/charge",
            0,
            now_ms(),
            ask(&open_id).as_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(
        text.contains("Conta de luz") && text.contains("\"open\""),
        "{text}"
    );
    let (s, text) = c
        .signed_post(
            2,
            "/interbank/charge",
            0,
            now_ms(),
            ask(&"Q".repeat(30)).as_bytes(),
        )
        .await;
    assert_eq!((s, text.as_str()), (StatusCode::OK, "null"));
    let (s, text) = c
        .signed_post(2, "/interbank/charge", 0, now_ms(), ask("curto").as_bytes())
        .await;
    assert!(s.is_client_error(), "{s}: {text}");
    let credit = |id: &str, cents: i64| {
        serde_json::json!({ "ChargeCredit": { "charge": id, "amount": cents,
            "from": { "name": "Rogue", "key_masked": "x", "bank": 1 } } })
    };
    for (part, reason) in [
        (credit(&open_id, 1), "charge_amount"),
        (credit(&id, 1_000), "charge_cancelled"),
    ] {
        let body =
            serde_json::json!({ "items": [{ "tx": tx_id(1), "parts": [[0, part]] }] }).to_string();
        let body = c.planned(0, 2, body.as_bytes());
        let (s, text) = c
            .signed_post(2, "/interbank/prepare", 0, now_ms(), &body)
            .await;
        assert_eq!(s, StatusCode::OK, "{text}");
        assert!(text.contains(reason), "{reason}: {text}");
    }
    assert_eq!(listed(&beto3, &open_id).await["status"], "open");
    let (s, body) = beto3
        .call("cancel_charge", &[("charge_id", &open_id)])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Bad input: 400 (404 for no such charge), nothing created or moved.
    let long = "x".repeat(141);
    for (amount, description, minutes) in [
        ("1,234", "ok", "60"),
        ("-1,00", "ok", "60"),
        ("0,00", "ok", "60"),
        ("1,00", "", "60"),
        ("1,00", long.as_str(), "60"),
        ("1,00", "duas\nlinhas", "60"),
        ("1,00", "ok", "0"),
        ("1,00", "ok", "10081"),
        ("1,00", "ok", "uma hora"),
    ] {
        let (s, body) = beto3
            .call(
                "create_charge",
                &[
                    ("amount", amount),
                    ("description", description),
                    ("expires_minutes", minutes),
                ],
            )
            .await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{amount} {description} {minutes}: {body}"
        );
    }
    let (s, body) = beto3
        .call(
            "create_charge",
            &[
                ("amount", "1,00"),
                ("description", "ok"),
                ("expires_minutes", "5"),
                ("charge_id", "curto"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = beto3.call("cancel_charge", &[("charge_id", "curto")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let unknown = "Z".repeat(32);
    let (s, body) = beto3
        .call("cancel_charge", &[("charge_id", &unknown)])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    // A dynamic code naming a charge bank 3 does not have.
    let forged = domain::BrCode {
        initiation: Some(domain::brcode::Initiation::Dynamic),
        account: domain::brcode::PixAccount::Location {
            url: format!("{}/cob/{unknown}", c.url(2).trim_start_matches("http://")),
        },
        category: domain::brcode::NO_CATEGORY.to_string(),
        amount: None,
        merchant_name: "BETO REIS".into(),
        merchant_city: "BRASILIA".into(),
        txid: None,
    }
    .encode()
    .unwrap();
    let (s, body) = ana1.call("read_code", &[("code", &forged)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, list) = beto3.call("my_charges", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // Expired: a charge for one minute, then bank 3's clock runs two minutes ahead.
    let expiring = charge(&beto3, "3,00", "Estacionamento", "1").await;
    let (id, code) = (
        expiring["id"].as_str().unwrap().to_string(),
        expiring["code"].as_str().unwrap().to_string(),
    );
    c.kill(2).await;
    c.restart_with(2, &[("FAULT_CLOCK_SKEW_MS", "120000")])
        .await;
    let (s, body) = ana1.call("read_code", &[("code", &code)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("expired"), "{body}");
    let (s, body) = pay(&ana1, &code).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, body) = beto3.call("cancel_charge", &[("charge_id", &id)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(listed(&beto3, &id).await["status"], "expired");

    assert_eq!(ana1.balances().await, (100_000, 0));
    assert_eq!(beto3.balances().await, (0, 0));
}
