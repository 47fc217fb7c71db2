//! Bad input against the inter-bank API (signed, so it gets past authentication and reaches the
//! handlers) and against the packet endpoint: every case gets a clear 4xx or a refusal vote,
//! nothing is reserved or moved, and the banks keep serving.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn malformed_and_hostile_interbank_requests_change_nothing() {
    let c = Consortium::start(&[]).await;
    let ana = c.client(1);
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana.call("deposit", &[("amount", "100,00"), ("tx_id", "")])
            .await
            .0,
        StatusCode::OK
    );
    // Ana's account at bank 1 may draw on her account at bank 2: she linked them.
    let ana1 = c.client(0);
    assert_eq!(
        ana1.open_account("Ana Lima", ANA_CPF, "ana1@example.com")
            .await,
        StatusCode::OK
    );
    let (status, body) = link(&ana1, &ana, 2, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (consent, grantee) = consent_of(&ana1, 2).await;
    let bank2 = c.interbank_url(1);
    let tx = tx_id(1);
    let debit = |amount: i64| consent_debit(&consent, grantee, amount, 1);

    let too_many: Vec<Value> = (0..257)
        .map(|_| json!({ "tx": tx, "parts": [[0, debit(1)]] }))
        .collect();
    let too_many_decisions: Vec<Value> = (0..257)
        .map(|_| json!({ "tx": tx, "commit": true }))
        .collect();
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        (
            "/interbank/prepare",
            b"not json".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/interbank/prepare",
            br#"{"items": 5}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/interbank/prepare",
            br#"{}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/interbank/prepare",
            json!({ "items": [{ "tx": "E123", "parts": [] }] })
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/interbank/prepare",
            json!({ "items": too_many }).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/interbank/prepare",
            json!({ "items": [], "decisions": too_many_decisions })
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/interbank/prepare",
            json!({ "items": [], "decisions": [{ "tx": tx, "commit": "yes" }] })
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/interbank/decide",
            br#"{"items": [{"tx": "'; DROP TABLE entries;--", "commit": true}]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // A credit naming a key that is no Pix key: refused as unreadable, nothing reserved.
        (
            "/interbank/prepare",
            json!({ "items": [{ "tx": tx, "parts": [[0, { "Credit": { "key": "<script>alert(1)</script>",
                "amount": 1, "from": { "name": "x", "key_masked": "x", "bank": 1 } } }]] }] })
            .to_string()
            .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // A key operation for another bank's key, or garbage in one: refused by vote (below).
        (
            "/interbank/account",
            json!({ "owners": [ANA_CPF, ANA_CPF, ANA_CPF] })
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/interbank/account",
            json!({ "consent": "../../etc/passwd", "grantee": 1 })
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/interbank/consent/redeem",
            json!({ "code": "x".repeat(65), "grantee": 1 })
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/interbank/consent/redeem",
            json!({ "code": "guessed", "grantee": 1 })
                .to_string()
                .into_bytes(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/interbank/resolve",
            br#"{"questions": "all"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // The token's idle count (visits since one found work) is a small unsigned number.
        (
            "/interbank/token",
            br#"{"epoch": {"counter": 99, "origin": 1}, "hop": 1, "idle": -1}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/interbank/token",
            br#"{"epoch": {"counter": 99, "origin": 1}, "hop": 1, "idle": "many"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (path, body, expected) in cases {
        let (status, text) = c.signed_post(1, path, 0, now_ms(), &body).await;
        assert_eq!(
            status,
            expected,
            "{path} {}: {text}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
    }
    let ring = ring(&c.status(1).await.unwrap());
    assert!(
        ring.epoch_counter < 99,
        "a refused token reached the ring: {ring:?}"
    );

    let status = oversized_post_status(&bank2, "/interbank/prepare", 17 * 1024 * 1024).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // A stale timestamp is refused before any handler.
    let body = json!({ "items": [{ "tx": tx, "parts": [[0, debit(100)]] }] }).to_string();
    let (status, _) = c
        .signed_post(
            1,
            "/interbank/prepare",
            0,
            now_ms() - 120_000,
            body.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Well-formed but refused: negative and zero amounts, more than she has, a debit of an
    // account here named as "own" by another bank, a consent for another account at bank 1, a
    // consent that does not exist. Each is a refusal vote; nothing is reserved.
    for part in [debit(-500), debit(0), debit(10_001)] {
        let body = json!({ "items": [{ "tx": tx_id(1), "parts": [[0, part]] }] }).to_string();
        let body = c.planned(0, 1, body.as_bytes());
        let (status, text) = c
            .signed_post(1, "/interbank/prepare", 0, now_ms(), &body)
            .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.contains("Refused"), "{text}");
    }
    let own = json!({ "Debit": { "source": { "Own": { "account": 1 } }, "amount": 1,
        "to": { "name": "x", "key_masked": "x", "bank": 1 } } });
    for (part, reason) in [
        (own, "no_source_account"),
        (
            consent_debit(&consent, grantee + 1, 1, 1),
            "consent_unknown",
        ),
        (
            consent_debit(&"A".repeat(24), grantee, 1, 1),
            "consent_unknown",
        ),
    ] {
        let body = json!({ "items": [{ "tx": tx_id(1), "parts": [[0, part]] }] }).to_string();
        let body = c.planned(0, 1, body.as_bytes());
        let (_, text) = c
            .signed_post(1, "/interbank/prepare", 0, now_ms(), &body)
            .await;
        assert!(text.contains(reason), "{reason}: {text}");
    }

    // Key operations by a bank for keys that are not its to change: deleting Ana's CPF key (bank
    // 2's), claiming it for itself. Refused by vote; the directory is unchanged.
    let ana_key = ANA_CPF.replace(['.', '-'], "");
    for (op, reason) in [
        (json!({ "Release": { "key": ana_key } }), "key_unknown"),
        (
            json!({ "Claim": { "key": ana_key, "account": 1, "name": "Mallory", "document": "***" } }),
            "key_taken",
        ),
    ] {
        let body =
            json!({ "items": [{ "tx": tx_id(5), "parts": [[0, { "Key": op }]] }] }).to_string();
        let body = c.planned(4, 1, body.as_bytes());
        let (_, text) = c
            .signed_post(1, "/interbank/prepare", 4, now_ms(), &body)
            .await;
        assert!(text.contains(reason), "{reason}: {text}");
    }
    let (status, found) = ana.call("lookup_receiver", &[("key", ANA_CPF)]).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["bank"]["id"], 2, "{found}");

    // A genuine prepare from bank 1, then a commit from bank 3 (its word, no proof): neither
    // applied nor acknowledged.
    let held = tx_id(1);
    let body = json!({ "items": [{ "tx": held, "parts": [[0, debit(2_500)]] }] }).to_string();
    let body = c.planned(0, 1, body.as_bytes());
    let (_, text) = c
        .signed_post(1, "/interbank/prepare", 0, now_ms(), &body)
        .await;
    assert!(text.contains("Prepared"), "{text}");
    assert_eq!(ana.balances().await, (7_500, 2_500));
    let commit = json!({ "items": [{ "tx": held, "commit": true }] }).to_string();
    let (status, text) = c
        .signed_post(1, "/interbank/decide", 2, now_ms(), commit.as_bytes())
        .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "[]"));
    assert_eq!(ana.balances().await, (7_500, 2_500), "nothing applied");
    // Nor when the commit rides on a prepare from bank 3.
    let riding = json!({ "items": [], "decisions": [{ "tx": held, "commit": true }] }).to_string();
    let (status, text) = c
        .signed_post(1, "/interbank/prepare", 2, now_ms(), riding.as_bytes())
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, r#"{"votes":[],"acked":[]}"#)
    );
    assert_eq!(ana.balances().await, (7_500, 2_500), "nothing applied");
    // Bank 1 never decided it: bank 2 asks, bank 1 presumes abort, the reservation is released.
    let start = std::time::Instant::now();
    while ana.balances().await != (10_000, 0) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "in-doubt reservation never released"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The bank still serves: an inter-bank Pix goes through.
    let beto = c.client(2);
    assert_eq!(
        beto.open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let (status, body) = ana
        .call(
            "send_pix",
            &[
                ("key", BETO_CPF),
                ("amount", "1,00"),
                ("tx_id", ""),
                ("bank", "3"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn malformed_packets_get_a_clear_400_and_cross_site_posts_carry_no_session() {
    let c = Consortium::start(&[]).await;
    let ana = c.client(0);
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana.call("deposit", &[("amount", "100,00"), ("tx_id", "")])
            .await
            .0,
        StatusCode::OK
    );
    let url = format!("{}/api/send_packet", c.url(0));
    let raw = |body: &'static str| {
        let http = ana.http.clone();
        let url = url.clone();
        async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(raw("{not json").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        raw(r#"{"tx_id": "", "legs": "x"}"#).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(raw(r#"{"legs": []}"#).await, StatusCode::BAD_REQUEST);
    let leg = |source: &str, key: &str, bank: &str, amount: &str| json!({ "source_bank": source, "receiver_key": key, "receiver_bank": bank, "amount": amount });
    let cases = vec![
        vec![leg("1", BETO_CPF, "2", "NaN")],
        vec![leg("1", BETO_CPF, "2", "1e3")],
        vec![leg("1", BETO_CPF, "2", "0")],
        vec![leg("1", BETO_CPF, "2", "99999999999999999999999")],
        vec![leg("1", "'; DROP TABLE accounts;--", "2", "1")],
        vec![leg("1", "<img src=x onerror=alert(1)>", "2", "1")],
        vec![leg("0", BETO_CPF, "2", "1")],
        vec![leg("1", BETO_CPF, "abc", "1")],
        vec![leg("1", BETO_CPF, "100", "1")],
        (0..17).map(|_| leg("1", BETO_CPF, "2", "1")).collect(),
    ];
    for legs in cases {
        let (status, body) = ana
            .call_json("send_packet", &json!({ "tx_id": "", "legs": legs }))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{legs:?}: {body}");
    }
    let (status, _) = ana
        .call_json(
            "send_packet",
            &json!({ "tx_id": "E1; DROP", "legs": [leg("1", BETO_CPF, "2", "1")] }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a malformed transaction id"
    );

    // A form posted from another site is refused by its origin, cookie or not.
    let res = ana
        .http
        .post(format!("{}/api/deposit", c.url(0)))
        .header("origin", "http://evil.example")
        .form(&[("amount", "1,00"), ("tx_id", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(ana.balances().await, (10_000, 0));
}
