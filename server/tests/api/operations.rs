//! Issue 18: what operators need. `/metrics` in Prometheus text format behind the operator
//! token, cheap health, and a full disk answered honestly (503, health says so, nothing lost).

use crate::support::*;
use reqwest::StatusCode;
use std::collections::BTreeMap;

/// The samples of a text exposition (`name{labels}` → value) and each family's type.
fn parse(text: &str) -> (BTreeMap<String, f64>, BTreeMap<String, String>) {
    let mut samples = BTreeMap::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("a TYPE line names a type");
            types.insert(name.to_string(), kind.to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            samples.insert(series.to_string(), value.parse().expect("a number"));
        }
    }
    (samples, types)
}

async fn scrape(url: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

const TOKEN: &str = "operator-token-of-the-tests-0123";

#[tokio::test]
async fn metrics_are_for_operators_and_move_with_operations() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start_with(
        3,
        dir.path(),
        "127.0.0.1:0",
        &[("OPERATOR_TOKEN", TOKEN.into())],
    )
    .await;

    // Without the token, or with another, nothing is told.
    assert_eq!(scrape(&bank.url, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(&bank.url, Some("operator-token-of-someone-else"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, before) = scrape(&bank.url, Some(TOKEN)).await;
    assert_eq!(s, StatusCode::OK);
    let (before, types) = parse(&before);
    for (family, kind) in [
        ("bank_http_requests", "counter"),
        ("bank_http_request_duration_seconds", "histogram"),
        ("bank_engine_queue_depth", "gauge"),
        ("bank_engine_commits", "counter"),
        ("bank_store_failing", "gauge"),
        ("bank_accounts", "gauge"),
        ("bank_available_cents", "gauge"),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "{family} in {types:?}"
        );
    }

    let ana = bank.client();
    assert!(ana
        .open_account("Ana Lima", ANA_CPF, "ana@example.com")
        .await
        .is_success());
    let (s, body) = ana
        .call("deposit", &[("amount", "123,45"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let (_, after) = scrape(&bank.url, Some(TOKEN)).await;
    let (after, _) = parse(&after);
    assert_eq!(after["bank_accounts"], before["bank_accounts"] + 1.0);
    assert_eq!(after["bank_available_cents"], 12_345.0);
    assert!(after["bank_engine_commits_total"] > before["bank_engine_commits_total"]);
    assert_eq!(after["bank_store_failing"], 0.0);
    let deposits =
        "bank_http_requests_total{method=\"POST\",route=\"/api/deposit\",status=\"200\"}";
    assert_eq!(after.get(deposits), Some(&1.0), "{after:?}");
    let timed = "bank_http_request_duration_seconds_count{method=\"POST\",route=\"/api/deposit\"}";
    assert_eq!(after.get(timed), Some(&1.0), "{after:?}");
    // A path nobody routes is counted under one label, whatever it is.
    reqwest::get(format!("{}/no/such/page/invented-path", bank.url))
        .await
        .unwrap();
    let (_, text) = scrape(&bank.url, Some(TOKEN)).await;
    assert!(
        !text.contains("invented-path"),
        "invented paths do not become labels"
    );
    assert!(text.contains("route=\"other\""));

    // The favicon browsers ask for exists.
    let icon = reqwest::get(format!("{}/favicon.ico", bank.url))
        .await
        .unwrap();
    assert_eq!(icon.status(), StatusCode::OK);
    assert!(icon.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("image/svg"));
}

#[tokio::test]
async fn a_full_disk_is_answered_with_503_reported_by_health_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let full = [("FAULT_DB_SPARE_PAGES", "40".to_string())];
    let bank = Bank::start_with(4, dir.path(), "127.0.0.1:0", &full).await;
    let ana = bank.client();
    assert!(ana
        .open_account("Ana Lima", ANA_CPF, "ana@example.com")
        .await
        .is_success());

    // Deposits until the database cannot grow: every acknowledged one is counted.
    let mut acknowledged = 0i64;
    let mut refusal = None;
    for _ in 0..20_000 {
        let (s, body) = ana
            .call("deposit", &[("amount", "1,00"), ("tx_id", "")])
            .await;
        match s {
            StatusCode::OK => acknowledged += 100,
            _ => {
                refusal = Some((s, body));
                break;
            }
        }
    }
    let (s, body) = refusal.expect("the database filled up");
    assert!(acknowledged > 0, "some deposits fit");
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body.to_string()
            .contains("cannot store new operations right now"),
        "{body}"
    );
    let health = reqwest::get(format!("{}/healthz", bank.url)).await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["status"], "cannot_store", "{health}");
    let (_, metrics) = scrape(&bank.url, Some(OPERATOR_TOKEN)).await;
    let (metrics, _) = parse(&metrics);
    assert_eq!(metrics["bank_store_failing"], 1.0);
    assert!(metrics["bank_store_failures_total"] >= 1.0);
    // Reads still work, and show exactly what was acknowledged.
    assert_eq!(ana.balances().await, (acknowledged, 0));

    // Room again (the bank restarted without the limit): every acknowledged deposit is there,
    // and new ones are taken.
    bank.kill().await;
    let bank = Bank::start(4, dir.path()).await;
    let ana = bank.client();
    let (s, body) = ana
        .call(
            "login",
            &[("email", "ana@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(ana.balances().await, (acknowledged, 0));
    let (s, body) = ana
        .call("deposit", &[("amount", "1,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let health = reqwest::get(format!("{}/healthz", bank.url)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// A Pix to a bank whose disk is full is refused with that reason (not "did not answer"), and
/// nothing moves: the payer keeps what the refused transfers would have taken.
#[tokio::test]
async fn a_pix_to_a_bank_with_a_full_disk_says_so_and_moves_nothing() {
    let mut c = Consortium::start(&[]).await;
    let ana = c.client(0);
    let beto = c.client(3);
    assert!(ana
        .open_account("Ana Lima", ANA_CPF, "ana@example.com")
        .await
        .is_success());
    assert!(beto
        .open_account("Beto Reis", BETO_CPF, "beto@example.com")
        .await
        .is_success());
    let (s, body) = ana
        .call("deposit", &[("amount", "1.000,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    c.kill(3).await;
    c.restart_with(3, &[("FAULT_DB_SPARE_PAGES", "1")]).await;

    let mut paid = 0i64;
    let mut refused = None;
    for _ in 0..2_000 {
        let (s, body) = ana
            .call(
                "send_pix",
                &[("key", BETO_CPF), ("amount", "1,00"), ("tx_id", "")],
            )
            .await;
        if s == StatusCode::OK {
            paid += 100;
        } else {
            refused = Some((s, body));
            break;
        }
    }
    let (s, body) = refused.expect("bank 4's database filled up");
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("cannot store new operations"),
        "{body}"
    );
    assert!(!body.to_string().contains("did not answer"), "{body}");
    // Bank 4 may hold a decision it has had no room to write (each carries its proof): the
    // operator frees the disk, and the bank finishes it, losing nothing.
    c.kill(3).await;
    c.restart(3).await;
    assert_settled(&c, &[0, 1, 2, 3, 4], 100_000).await;
    assert_eq!(ana.balances().await, (100_000 - paid, 0));
    assert_eq!(beto.balances().await, (paid, 0));
}
