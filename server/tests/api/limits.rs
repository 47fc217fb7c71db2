//! Pix limits per period (issue 27) across real banks: a client lowers her limits and they
//! count at once, for a Pix to another bank and for a packet; a raise waits 24 hours; impossible
//! limits are refused; every refusal says what remains and moves nothing. (Which period it is
//! depends on the hour; these limits are the same in both, so nothing here does. The hour
//! itself is tested with an injected clock in the engine's tests.)

use crate::keys::{open_ana_and_dora, pix, DORA_CPF};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn available(client: &Client) -> i64 {
    client.dashboard().await["dashboard"]["account"]["available"]
        .as_i64()
        .expect("a balance")
}

async fn set(client: &Client, day: &str, night: &str) -> (StatusCode, Value) {
    client
        .call("set_pix_limits", &[("day", day), ("night", night)])
        .await
}

#[tokio::test]
async fn a_clients_pix_limits_count_at_once_when_lowered_and_a_day_later_when_raised() {
    let c = Consortium::start(&[]).await;
    let (ana1, dora2) = (c.client(0), c.client(1));
    open_ana_and_dora(&ana1, &dora2, "500,00").await;

    // Impossible limits are refused, each with its reason, and change nothing.
    let (s, body) = set(&ana1, "100,00", "200,00").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.to_string().contains("nighttime limit cannot be above"),
        "{body}"
    );
    let (s, body) = set(&ana1, "dez reais", "0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.to_string().contains("day"),
        "the field is named: {body}"
    );
    let (s, body) = set(&ana1, "2.000.000,00", "0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (_, before) = ana1.call("pix_limits", &[]).await;
    assert_eq!(before["settings"]["raise"], Value::Null, "{before}");

    // Lowered: in force at once.
    let (s, view) = set(&ana1, "100,00", "100,00").await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(
        view["settings"]["current"],
        json!({ "day": 10_000, "night": 10_000 })
    );
    assert_eq!(view["remaining"], 10_000);

    let (s, body) = pix(&ana1, DORA_CPF, "60,00").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = pix(&ana1, DORA_CPF, "50,00").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let said = body.to_string();
    assert!(
        said.contains("Pix limit")
            && said.contains("R$ 40,00")
            && said.contains("Nothing was sent"),
        "says what remains: {said}"
    );
    assert_eq!(available(&ana1).await, 44_000, "the refusal moved nothing");

    // A packet from her account counts against the same limit.
    let (s, outcome) = ana1
        .call_json(
            "send_packet",
            &json!({ "tx_id": "", "legs": [
                { "source_bank": "1", "receiver_key": DORA_CPF, "receiver_bank": "2", "amount": "30,00" },
                { "source_bank": "1", "receiver_key": DORA_CPF, "receiver_bank": "2", "amount": "30,00" },
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["status"], "Aborted", "{outcome}");
    let error = &outcome["legs"][1]["error"];
    assert_eq!(error["code"], "pix_limit", "{outcome}");
    assert_eq!(error["remaining"], 1_000, "{outcome}");
    assert_eq!(available(&ana1).await, 44_000, "the packet moved nothing");

    // Raised: not before 24 hours; the page says from when.
    let (s, view) = set(&ana1, "1.000,00", "1.000,00").await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(
        view["settings"]["current"],
        json!({ "day": 10_000, "night": 10_000 })
    );
    let from = view["settings"]["raise"][1]
        .as_i64()
        .expect("a raise pending");
    assert!(from >= engine::wall_clock_ms() + 23 * 3_600_000, "{view}");
    let (s, body) = pix(&ana1, DORA_CPF, "50,00").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, body) = pix(&ana1, DORA_CPF, "40,00").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(available(&ana1).await, 40_000);
    // Dora's bank applies each decision after Ana's answer (phase two): wait for the second.
    let start = std::time::Instant::now();
    while available(&dora2).await != 10_000 {
        assert!(start.elapsed() < SETTLE_PATIENCE, "Dora was not paid");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let dashboard = dora2.dashboard().await;
    assert_eq!(dashboard["limits"]["used"], 0, "receiving uses no limit");
}
