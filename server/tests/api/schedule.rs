//! Pix agendado (issue 27) at a real bank: Pix scheduled for a later day, one cancelled, bad
//! dates refused; the bank restarts with its clock on that day (`FAULT_CLOCK_SKEW_MS`, the
//! injected clock of a node) and sends them from 06:00: one paid, one refused for lack of
//! money, saying why, the cancelled one never sent.

use crate::support::*;
use domain::schedule::{day_of, runs_from_ms};
use reqwest::StatusCode;
use serde_json::Value;

async fn schedule(client: &Client, amount: &str, date: &str) -> (StatusCode, Value) {
    client
        .call(
            "schedule_pix",
            &[("key", BETO_CPF), ("amount", amount), ("date", date)],
        )
        .await
}

async fn log_in(bank: &Bank, email: &str) -> Client {
    let client = bank.client();
    let (s, body) = client
        .call("login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    client
}

#[tokio::test]
async fn scheduled_pix_are_sent_on_their_day_or_say_why_not_and_a_cancelled_one_never() {
    let dir = tempfile::tempdir().unwrap();
    let fast = [("SCHEDULE_EVERY_MS", "100".to_string())];
    let bank = Bank::start_with(1, dir.path(), "127.0.0.1:0", &fast).await;
    let (ana, beto) = (bank.client(), bank.client());
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

    // The day after tomorrow (whatever second the bank's clock and the test's disagree on).
    let now = engine::wall_clock_ms();
    let day = day_of(now) + 2;
    let date = domain::time_fmt::date_input(runs_from_ms(day));

    // Bad dates: each refused on the date field, nothing scheduled.
    let today = domain::time_fmt::date_input(now);
    for (bad, says) in [
        (today.as_str(), "from tomorrow on"),
        ("amanhã", "valid date"),
        ("2099-01-01", "days ahead"),
    ] {
        let (s, body) = schedule(&ana, "1,00", bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body.to_string().contains(says), "{bad}: {body}");
    }

    let (s, paid) = schedule(&ana, "30,00", &date).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(paid["receiver_name"], "Beto Reis");
    let (s, too_much) = schedule(&ana, "500,00", &date).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "scheduling checks no balance: {too_much}"
    );
    let (s, cancelled) = schedule(&ana, "5,00", &date).await;
    assert_eq!(s, StatusCode::OK, "{cancelled}");
    let id = cancelled["id"].to_string();
    let (s, body) = beto.call("cancel_scheduled", &[("id", &id)]).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "only its client cancels it: {body}"
    );
    let (s, body) = ana.call("cancel_scheduled", &[("id", &id)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["status"]["status"], "cancelled");
    let (s, list) = ana.call("scheduled_pix", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
    assert_eq!(ana.balances().await, (10_000, 0), "nothing moved yet");

    // The bank restarts on that day, at 07:00 in Brasília.
    bank.kill().await;
    let skew = (runs_from_ms(day) + 3_600_000 - now).to_string();
    let env = [fast[0].clone(), ("FAULT_CLOCK_SKEW_MS", skew)];
    let bank = Bank::start_with(1, dir.path(), "127.0.0.1:0", &env).await;
    let ana = log_in(&bank, "ana@example.com").await;
    let (list, of) = scheduled_once_ended(&ana).await;
    let sent = of(&paid["id"]);
    assert_eq!(sent["status"]["status"], "done", "{list}");
    assert!(sent["tx_id"].is_string(), "it opens a comprovante: {sent}");
    let failed = of(&too_much["id"]);
    assert_eq!(
        failed["status"],
        serde_json::json!({ "status": "failed", "why": { "reason": "refused", "refusal": { "code": "insufficient_funds" } } }),
        "{list}"
    );
    assert_eq!(of(&cancelled["id"])["status"]["status"], "cancelled");
    assert_eq!(ana.balances().await, (7_000, 0));
    let beto = log_in(&bank, "beto@example.com").await;
    assert_eq!(beto.balances().await, (3_000, 0));
}
