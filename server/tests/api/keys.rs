//! Issue 17: Pix keys of every kind, in a directory every bank keeps a copy of, and Pix by key
//! alone. Five real banks.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const DORA_CPF: &str = "271.828.182-05";

/// The code bank `i` last "sent" to `to` (its outbox file stands in for e-mail and SMS).
pub(crate) fn code_sent(c: &Consortium, i: usize, to: &str) -> String {
    let outbox = std::fs::read_to_string(c.dirs[i].path().join("outbox.txt")).expect("an outbox");
    let line = outbox
        .lines()
        .rev()
        .find(|l| l.split('\t').nth(1) == Some(to))
        .unwrap_or_else(|| panic!("no message to {to} in {outbox}"));
    line.split(|ch: char| !ch.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_string()
}

/// Registers a key of `kind` for `client` at bank `i`: asked as `typed`, then confirmed with the
/// code that bank sent to its `canonical` form.
pub(crate) async fn register_key(
    c: &Consortium,
    i: usize,
    client: &Client,
    kind: &str,
    typed: &str,
    canonical: &str,
) {
    let (s, body) = request(client, kind, typed).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let code = code_sent(c, i, canonical);
    let (s, body) = client
        .call("confirm_key", &[("key", canonical), ("code", &code)])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

async fn request(client: &Client, kind: &str, value: &str) -> (StatusCode, Value) {
    client
        .call("request_key", &[("kind", kind), ("value", value)])
        .await
}

/// Ana Lima opens an account through `ana`'s bank with `deposit` in it, and Dora Dias one
/// through `dora`'s: the payer and the payee of the tests that move money one way.
pub(crate) async fn open_ana_and_dora(ana: &Client, dora: &Client, deposit: &str) {
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        dora.open_account("Dora Dias", DORA_CPF, "dora@example.com")
            .await,
        StatusCode::OK
    );
    let (s, _) = ana
        .call("deposit", &[("amount", deposit), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);
}

/// Pays `amount` to `key` (bank chosen by the directory), retrying while the consortium is busy.
pub(crate) async fn pix(client: &Client, key: &str, amount: &str) -> (StatusCode, Value) {
    // An id the client's own bank made (its code, its day), as the app's form carries.
    let id = client.dashboard().await["pix_tx_id"]
        .as_str()
        .expect("a fresh id")
        .to_string();
    let start = std::time::Instant::now();
    loop {
        let (status, body) = client
            .call(
                "send_pix",
                &[("key", key), ("amount", amount), ("tx_id", &id)],
            )
            .await;
        if status != StatusCode::SERVICE_UNAVAILABLE || start.elapsed() > SETTLE_PATIENCE {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn keys_of_every_kind_are_registered_once_in_the_consortium_and_paid_by_key_alone() {
    let mut c = Consortium::start(&[]).await;
    let (dora2, payer4, other3) = (c.client(1), c.client(3), c.client(2));
    assert_eq!(
        dora2
            .open_account("Dora Dias", DORA_CPF, "dora@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        payer4
            .open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        other3
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let (s, _) = payer4
        .call("deposit", &[("amount", "1.000,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);

    // Her CPF was registered at sign-up; an e-mail key needs the code sent to it.
    let (s, keys) = dora2.call("get_keys", &[]).await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    assert_eq!(keys["keys"][0]["kind"], "Cpf", "{keys}");
    let (s, answer) = request(&dora2, "email", "Dora.Dias@Example.com").await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(answer["CodeSent"]["canonical"], "dora.dias@example.com");
    let code = code_sent(&c, 1, "dora.dias@example.com");
    // A wrong code is refused; the right one registers the key, once.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, body) = dora2
        .call(
            "confirm_key",
            &[("key", "dora.dias@example.com"), ("code", wrong)],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = dora2
        .call(
            "confirm_key",
            &[("key", "dora.dias@example.com"), ("code", &code)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = dora2
        .call(
            "confirm_key",
            &[("key", "dora.dias@example.com"), ("code", &code)],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a code is single use: {body}");

    // A phone typed the Brazilian way (issue 27: no +55, the area code in parentheses) and a
    // random key too.
    register_key(&c, 1, &dora2, "phone", "(21) 99876-5432", "+5521998765432").await;
    let (s, answer) = request(&dora2, "evp", "").await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    let evp = answer["Registered"]["shown"].as_str().unwrap().to_string();

    // Every bank resolves every key, from its own copy: bank 4 pays each of Dora's keys by the
    // key alone, and the money reaches her account at bank 2.
    for (n, key) in [DORA_CPF, "dora.dias@example.com", "21 99876-5432", &evp]
        .into_iter()
        .enumerate()
    {
        let (s, found) = payer4.call("lookup_receiver", &[("key", key)]).await;
        assert_eq!(s, StatusCode::OK, "{key}: {found}");
        assert_eq!(
            (found["name"].as_str(), found["bank"]["id"].as_u64()),
            (Some("Dora Dias"), Some(2))
        );
        assert_eq!(
            found["key_masked"], "***.828.182-**",
            "the masked document, whatever the key"
        );
        let (s, receipt) = pix(&payer4, key, "10,00").await;
        assert_eq!(s, StatusCode::OK, "{key}: {receipt}");
        let expected = 1_000 * (n as i64 + 1);
        let start = std::time::Instant::now();
        while dora2.balances().await.0 != expected {
            assert!(start.elapsed() < SETTLE_PATIENCE, "{key}: not credited");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Bad input: malformed keys of each kind, a key owned elsewhere, a 6th key, someone else's
    // key to delete. Each a clear 4xx; nothing changes.
    for (kind, value) in [
        ("email", "dora@"),
        ("phone", "+1 212 555 0100"),
        ("phone", "(21) 9876-54"),
        ("phone", "21898765432"),
        ("document", "529.982.247-24"),
        ("email", "+5521998765432"),
        ("document", ANA_CPF),
        ("kind", "x"),
    ] {
        let (s, body) = request(&dora2, kind, value).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{kind} {value}: {body}");
    }
    let (s, body) = request(&other3, "email", "dora.dias@example.com").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "owned elsewhere: {body}");
    assert!(body.to_string().contains("another account"), "{body}");
    let (s, answer) = request(&dora2, "evp", "").await;
    assert_eq!(s, StatusCode::OK, "the fifth key: {answer}");
    let (s, body) = request(&dora2, "evp", "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a sixth: {body}");
    assert!(body.to_string().contains("as many keys"), "{body}");
    let (s, body) = other3
        .call("delete_key", &[("key", "dora.dias@example.com")])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, body) = payer4
        .call("lookup_receiver", &[("key", "nobody@example.com")])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");

    // Too many wrong codes void the code.
    let (s, _) = dora2.call("delete_key", &[("key", &evp)]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = request(&dora2, "email", "dora2@example.com").await;
    assert_eq!(s, StatusCode::OK);
    let code = code_sent(&c, 1, "dora2@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let (s, _) = dora2
            .call(
                "confirm_key",
                &[("key", "dora2@example.com"), ("code", wrong)],
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    let (s, body) = dora2
        .call(
            "confirm_key",
            &[("key", "dora2@example.com"), ("code", &code)],
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "void after five attempts: {body}"
    );
    assert!(body.to_string().contains("expired or was used"), "{body}");

    // Deleted, the e-mail key pays no one. Bank 2 deleted it when the deletion committed; bank
    // 4's copy follows when the decision reaches it (phase two, moments later). Meanwhile a Pix
    // would be refused by bank 2; after, bank 4 itself says "not found".
    let (s, body) = dora2
        .call("delete_key", &[("key", "dora.dias@example.com")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let start = std::time::Instant::now();
    while payer4
        .call("lookup_receiver", &[("key", "dora.dias@example.com")])
        .await
        .0
        != StatusCode::NOT_FOUND
    {
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "bank 4 still knows the deleted key"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, body) = pix(&payer4, "dora.dias@example.com", "1,00").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body.to_string().contains("No account has this Pix key"),
        "{body}"
    );

    // A bank down during a registration: the key cannot be registered (every bank keeps a copy),
    // the client is told why, and nothing is registered anywhere; once it is back, it can.
    c.kill(4).await;
    let (s, body) = request(&dora2, "evp", "").await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::SERVICE_UNAVAILABLE,
        "{s} {body}"
    );
    let (_, keys) = dora2.call("get_keys", &[]).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 3, "{keys}");
    c.restart(4).await;
    let start = std::time::Instant::now();
    loop {
        let (s, body) = request(&dora2, "evp", "").await;
        if s == StatusCode::OK {
            break;
        }
        assert!(start.elapsed() < SETTLE_PATIENCE, "{s} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every bank agrees on who holds Dora's phone key, bank 5 (just back) included.
    for i in 0..5 {
        let client = c.client(i);
        let email = format!("x{i}@example.com");
        let cpf = [
            "390.533.447-05",
            "314.159.265-90",
            "935.411.347-80",
            "046.858.318-10",
            "123.456.789-09",
        ][i];
        assert_eq!(client.open_account("X", cpf, &email).await, StatusCode::OK);
        let (s, found) = client
            .call("lookup_receiver", &[("key", "+5521998765432")])
            .await;
        assert_eq!(
            (s, found["bank"]["id"].clone()),
            (StatusCode::OK, json!(2)),
            "bank {}",
            i + 1
        );
    }
    assert_settled(&c, &[0, 1, 2, 3, 4], 100_000).await;
}

/// Portability: the same person moves an e-mail key from her account at one bank to her account
/// at another: the code sent to the address at the new bank, and her permission given at the old
/// bank, which also checks the holder's document. Another person cannot, a CPF key never moves
/// this way (a CPF is no secret), and nothing moves unless asked for.
#[tokio::test]
async fn a_key_moves_to_the_same_persons_account_at_another_bank_and_no_one_elses() {
    let c = Consortium::start(&[]).await;
    let (dora2, dora5, beto3, payer4) = (c.client(1), c.client(4), c.client(2), c.client(3));
    assert_eq!(
        dora2
            .open_account("Dora Dias", DORA_CPF, "dora@example.com")
            .await,
        StatusCode::OK
    );
    register_key(
        &c,
        1,
        &dora2,
        "email",
        "dora.dias@example.com",
        "dora.dias@example.com",
    )
    .await;
    // Her second account, at bank 5: the sign-up does not take her CPF key from bank 2.
    assert_eq!(
        dora5
            .sign_up("Dora Dias", DORA_CPF, "dora5@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        beto3
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        payer4
            .open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    let (s, _) = payer4
        .call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);
    let owner = |key: &'static str| {
        let payer4 = payer4.clone();
        async move {
            let (s, found) = payer4.call("lookup_receiver", &[("key", key)]).await;
            assert_eq!(s, StatusCode::OK, "{found}");
            found["bank"]["id"].as_u64().unwrap()
        }
    };
    assert_eq!(owner("dora.dias@example.com").await, 2);

    // Her CPF key does not move by a claim, asked or not: she deletes it at bank 2 first.
    for port in ["", "on"] {
        let (s, body) = dora5
            .call(
                "request_key",
                &[("kind", "document"), ("value", DORA_CPF), ("port", port)],
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body.to_string().contains("registered at another bank"),
            "{body}"
        );
    }
    // Her e-mail key: without asking for the move, bank 5 says where it is and how to bring it.
    let (s, body) = request(&dora5, "email", "dora.dias@example.com").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("yours at another bank"), "{body}");
    // Beto cannot take Dora's e-mail key, move or not: no code is even sent.
    let (s, body) = beto3
        .call(
            "request_key",
            &[
                ("kind", "email"),
                ("value", "dora.dias@example.com"),
                ("port", "on"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("another account"), "{body}");

    // Dora asks at bank 5 and confirms the code, but bank 2 has not heard from her: refused,
    // nothing moves (a bank's word that its account is Dora's proves nothing).
    let port_email = |client: Client, c_index: usize| {
        let c = &c;
        async move {
            let (s, body) = client
                .call(
                    "request_key",
                    &[
                        ("kind", "email"),
                        ("value", "dora.dias@example.com"),
                        ("port", "on"),
                    ],
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{body}");
            assert_eq!(body["CodeSent"]["port"], true, "{body}");
            let code = code_sent(c, c_index, "dora.dias@example.com");
            client
                .call(
                    "confirm_key",
                    &[
                        ("key", "dora.dias@example.com"),
                        ("code", &code),
                        ("port", "on"),
                    ],
                )
                .await
        }
    };
    let (s, body) = port_email(dora5.clone(), 4).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("was not told by the key's owner"),
        "{body}"
    );
    assert_eq!(owner("dora.dias@example.com").await, 2);
    // Logged in at bank 2, she allows the move to bank 5; now it goes through.
    let (s, body) = dora2
        .call(
            "allow_port",
            &[("key", "dora.dias@example.com"), ("bank", "5")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = beto3
        .call(
            "allow_port",
            &[("key", "dora.dias@example.com"), ("bank", "3")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "not his key to allow: {body}");
    let (s, body) = port_email(dora5.clone(), 4).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Every bank's copy follows (bank 4's once the decision reaches it); bank 2 lists only her
    // CPF key now; a Pix to the e-mail pays her account at bank 5.
    let start = std::time::Instant::now();
    while owner("dora.dias@example.com").await != 5 {
        assert!(start.elapsed() < SETTLE_PATIENCE, "the key did not move");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(owner(DORA_CPF).await, 2);
    let (_, keys2) = dora2.call("get_keys", &[]).await;
    let listed: Vec<&str> = keys2["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(listed.len(), 1, "{keys2}");
    let (s, body) = pix(&payer4, "dora.dias@example.com", "7,00").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_settled(&c, &[0, 1, 2, 3, 4], 10_000).await;
    assert_eq!(dora5.balances().await, (700, 0));
    assert_eq!(dora2.balances().await, (0, 0));
}
