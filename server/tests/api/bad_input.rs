//! Every bad input gets a clear 4xx and changes nothing.

use crate::support::*;
use reqwest::StatusCode;

/// A bank with Ana (R$ 100,00) and Beto (R$ 0,00), both logged in.
async fn bank_with_two_clients(dir: &std::path::Path) -> (Bank, Client, Client) {
    let bank = Bank::start(2, dir).await;
    let ana = bank.client();
    let beto = bank.client();
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        beto.open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let (s, _) = ana
        .call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);
    (bank, ana, beto)
}

fn message(body: &serde_json::Value) -> String {
    body.to_string()
}

#[tokio::test]
async fn bad_amounts_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, ana, beto) = bank_with_two_clients(dir.path()).await;
    let cases = [
        ("0", "greater than zero"),
        ("0,00", "greater than zero"),
        ("-10", "greater than zero"),
        ("abc", "must be a number"),
        ("NaN", "must be a number"),
        ("1e3", "must be a number"),
        ("0,001", "two decimal places"),
        ("99999999999999999999999", "larger than the maximum"),
        ("1.000.000.000,01", "larger than the maximum"),
        ("", "Enter an amount"),
    ];
    for (amount, expected) in cases {
        for (function, form) in [
            ("deposit", vec![("amount", amount), ("tx_id", "")]),
            (
                "send_pix",
                vec![("key", BETO_CPF), ("amount", amount), ("tx_id", "")],
            ),
        ] {
            let (status, body) = ana.call(function, &form).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{function} {amount:?}: {body}"
            );
            assert!(
                message(&body).contains(expected),
                "{function} {amount:?}: {body}"
            );
        }
    }
    assert_eq!(ana.balances().await, (10_000, 0));
    assert_eq!(beto.balances().await, (0, 0));
}

#[tokio::test]
async fn refused_pix_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, ana, beto) = bank_with_two_clients(dir.path()).await;
    let cases = [
        (
            BETO_CPF,
            "100,01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Insufficient funds",
        ),
        (
            ANA_CPF,
            "1,00",
            StatusCode::UNPROCESSABLE_ENTITY,
            "your own account",
        ),
        (
            "123.456.789-09",
            "1,00",
            StatusCode::NOT_FOUND,
            "No account has this Pix key",
        ),
        (
            "123.456.789-00",
            "1,00",
            StatusCode::BAD_REQUEST,
            "check digits",
        ),
        ("12345", "1,00", StatusCode::BAD_REQUEST, "11 digits"),
        (
            "<script>alert(1)</script>",
            "1,00",
            StatusCode::BAD_REQUEST,
            "only digits",
        ),
        (
            "' OR 1=1 --",
            "1,00",
            StatusCode::BAD_REQUEST,
            "only digits",
        ),
    ];
    for (key, amount, status, expected) in cases {
        let (s, body) = ana
            .call(
                "send_pix",
                &[("key", key), ("amount", amount), ("tx_id", "")],
            )
            .await;
        assert_eq!(s, status, "{key} {amount}: {body}");
        assert!(message(&body).contains(expected), "{key}: {body}");
    }
    let (s, body) = ana
        .call(
            "send_pix",
            &[("key", BETO_CPF), ("amount", "1"), ("tx_id", "not-an-id")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(ana.balances().await, (10_000, 0));
    assert_eq!(beto.balances().await, (0, 0));
    let history = ana.dashboard().await["dashboard"]["recent"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(history, 1, "only the deposit is in the history");
}

#[tokio::test]
async fn a_retried_pix_is_paid_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, ana, beto) = bank_with_two_clients(dir.path()).await;
    let id = tx_id(2);
    for _ in 0..3 {
        let (s, body) = ana
            .call(
                "send_pix",
                &[("key", BETO_CPF), ("amount", "10,00"), ("tx_id", &id)],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (s, body) = ana
        .call(
            "send_pix",
            &[("key", BETO_CPF), ("amount", "11,00"), ("tx_id", &id)],
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "same id, different amount: {body}");
    assert_eq!(ana.balances().await, (9_000, 0));
    assert_eq!(beto.balances().await, (1_000, 0));
}

#[tokio::test]
async fn bad_account_forms_are_refused_per_field() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, _ana, _beto) = bank_with_two_clients(dir.path()).await;
    let c = Client {
        http: reqwest::Client::new(),
        url: _bank.url.clone(),
    };
    let good: Vec<(&str, &str)> = vec![
        ("kind", "individual"),
        ("name1", "Carla Dias"),
        ("tax_id1", "123.456.789-09"),
        ("email", "carla@example.com"),
        ("phone", "11987654321"),
        ("password", PASSWORD),
    ];
    let with = |k: &'static str, v: &'static str| {
        let mut f: Vec<(&str, &str)> = good.iter().filter(|(key, _)| *key != k).cloned().collect();
        f.push((k, v));
        f
    };
    let cases = [
        (
            with("tax_id1", "123.456.789-00"),
            StatusCode::BAD_REQUEST,
            "tax_id1",
        ),
        (
            with("tax_id1", CIA_CNPJ),
            StatusCode::BAD_REQUEST,
            "tax_id1",
        ),
        (
            with("email", "not-an-email"),
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            with("name1", "<img src=x onerror=alert(1)>"),
            StatusCode::BAD_REQUEST,
            "name1",
        ),
        (
            with("name1", "Robert'); DROP TABLE accounts;--"),
            StatusCode::BAD_REQUEST,
            "name1",
        ),
        (with("phone", "12"), StatusCode::BAD_REQUEST, "phone"),
        (
            with("password", "short1"),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            with("password", "Password123"),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (with("kind", "bank"), StatusCode::BAD_REQUEST, "kind"),
        (
            [
                with("joint", "yes"),
                vec![("name2", "Duda"), ("tax_id2", "123.456.789-09")],
            ]
            .concat(),
            StatusCode::BAD_REQUEST,
            "tax_id2",
        ),
    ];
    for (form, status, field) in cases {
        let (s, body) = c.call("create_account", &form).await;
        assert_eq!(s, status, "{form:?}: {body}");
        assert_eq!(body["BadInput"]["field"], field, "{form:?}: {body}");
    }
    // A CPF or an e-mail that is already a client's: one answer for both, naming neither.
    let (s1, taken_cpf) = c.call("create_account", &with("tax_id1", ANA_CPF)).await;
    let (s2, taken_email) = c
        .call("create_account", &with("email", "ana@example.com"))
        .await;
    assert_eq!((s1, &taken_cpf), (s2, &taken_email));
    assert_eq!(s1, StatusCode::UNPROCESSABLE_ENTITY, "{taken_cpf}");
    assert!(
        taken_cpf["Refused"]
            .as_str()
            // This client sent no language cookie: the bank answers in Portuguese.
            .is_some_and(|m| m.contains("Se você já é cliente")),
        "{taken_cpf}"
    );
    // Missing fields and wrong shapes.
    let (s, body) = c.call("create_account", &[("kind", "individual")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let health: serde_json::Value = reqwest::get(format!("{}/healthz", c.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["accounts"], 2, "no account was opened by a bad form");
    // The good form still works: the bank kept serving.
    assert_eq!(c.call("create_account", &good).await.0, StatusCode::OK);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, ana, _beto) = bank_with_two_clients(dir.path()).await;
    // An oversized body is refused from its Content-Length alone (see `oversized_post_status`).
    let status = oversized_post_status(&bank.url, "/api/deposit", 64 * 1024).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    let res = ana
        .http
        .post(format!("{}/api/deposit", bank.url))
        .header("Accept", "application/json")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("amount=%ZZ%&&&tx_id[]=[[")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(ana.balances().await, (10_000, 0));
}
