//! Issue 19: an ordinary client must not create money by reusing a packet's transaction id.
//!
//! The attack, as it was reproduced against five release banks: the attacker has R$ 10,00 at
//! bank 1; for each fresh id T it sends packet A = {T: R$ 0,01 to a payee at bank 2} and, while A
//! runs, packet B = {T: R$ 1.000.000,00 to a mule at bank 3} six times, a few milliseconds apart,
//! with the same session. Before the fix the mule ended up with millions.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const ROUNDS: usize = 60;
const RESENDS: usize = 6;
const MULE_CPF: &str = "390.533.447-05";

fn leg(source: u8, key: &str, bank: u8, amount: &str) -> Value {
    json!({ "source_bank": source.to_string(), "receiver_key": key, "receiver_bank": bank.to_string(), "amount": amount })
}

#[tokio::test]
async fn reusing_a_packets_tx_id_with_other_legs_creates_no_money() {
    let c = Consortium::start(&[]).await;
    let (attacker, payee, mule) = (c.client(0), c.client(1), c.client(2));
    assert_eq!(
        attacker
            .open_account("Mallory Souza", ANA_CPF, "mallory@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        payee
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        mule.open_account("Mula Silva", MULE_CPF, "mula@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        attacker
            .call("deposit", &[("amount", "10,00"), ("tx_id", &tx_id(1))])
            .await
            .0,
        StatusCode::OK
    );
    let deposited = 1_000;

    let mut a_committed = 0i64;
    let mut b_told_committed = 0;
    let mut ids = Vec::new();
    for _ in 0..ROUNDS {
        let t = tx_id(1);
        ids.push(t.clone());
        let a = json!({ "tx_id": t, "legs": [leg(1, BETO_CPF, 2, "0,01")] });
        let b = json!({ "tx_id": t, "legs": [leg(1, MULE_CPF, 3, "1.000.000,00")] });
        let first = {
            let (client, body) = (attacker.clone(), a.clone());
            tokio::spawn(async move { client.call_json("send_packet", &body).await })
        };
        let mut resends = Vec::new();
        for _ in 0..RESENDS {
            tokio::time::sleep(Duration::from_millis(3)).await;
            let (client, body) = (attacker.clone(), b.clone());
            resends.push(tokio::spawn(async move {
                client.call_json("send_packet", &body).await
            }));
        }
        let (status, outcome) = first.await.unwrap();
        if status == StatusCode::OK && outcome["status"] == "Committed" {
            a_committed += 1;
        }
        for r in resends {
            let (status, outcome) = r.await.unwrap();
            // Each resend gets A's outcome, "already in progress" or a refusal: never B's plan.
            if status == StatusCode::OK && outcome["status"] == "Committed" {
                let legs = outcome["legs"].as_array().cloned().unwrap_or_default();
                if legs.iter().any(|l| l["amount"] == 100_000_000) {
                    b_told_committed += 1;
                }
            }
        }
    }
    // Once every reservation is settled: the money in the consortium is what was deposited, the
    // mule got nothing, and the payee got exactly the committed cents.
    assert_settled(&c, &[0, 1, 2, 3, 4], deposited).await;
    assert_eq!(
        b_told_committed, 0,
        "no client was told that packet B committed"
    );
    assert_eq!(mule.balances().await, (0, 0), "the mule holds nothing");
    assert_eq!(
        payee.balances().await,
        (a_committed, 0),
        "the payee got exactly the committed cents"
    );
    assert_eq!(attacker.balances().await, (deposited - a_committed, 0));

    // Another client of bank 1 who learns one of these ids gets no outcome, and nothing runs.
    let other = c.client(0);
    assert_eq!(
        other
            .open_account("Outra Pessoa", BETO_CPF, "outra@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        other
            .call("deposit", &[("amount", "5,00"), ("tx_id", &tx_id(1))])
            .await
            .0,
        StatusCode::OK
    );
    let body = json!({ "tx_id": ids[0], "legs": [leg(1, MULE_CPF, 3, "1,00")] });
    let (status, answer) = other.call_json("send_packet", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer.get("status").is_none() && !answer.to_string().contains("Committed"),
        "no outcome leaks: {answer}"
    );
    assert_eq!(other.balances().await, (500, 0));
    assert_eq!(mule.balances().await, (0, 0));
    eprintln!(
        "tx-id reuse: {ROUNDS} rounds, {a_committed} of packet A committed, mule holds nothing"
    );
}
