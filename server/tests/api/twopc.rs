//! Two-phase commit across five real bank processes: inter-bank Pix, packets that commit or abort
//! as a whole, idempotent retries, and recovery of in-doubt transactions after a coordinator
//! crashes at the protocol's worst moments. Every test ends by checking, through each bank's own
//! `/status`, that money is conserved and no reservation is left.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(60);
const COMPANY_CNPJ: &str = CIA_CNPJ;

/// Ana at banks 1 and 2 (same CPF), Beto at bank 3, a company at bank 4. Ana has R$ 1.000,00 at
/// bank 1 and R$ 500,00 at bank 2, and has linked her account at bank 2 to the one at bank 1.
struct World {
    c: Consortium,
    ana1: Client,
    ana2: Client,
    beto3: Client,
    cia4: Client,
}

async fn world(extra: &[(&'static str, &str)]) -> World {
    let c = Consortium::start(extra).await;
    let (ana1, ana2, beto3, cia4) = (c.client(0), c.client(1), c.client(2), c.client(3));
    assert_eq!(
        ana1.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana2.open_account("Ana Lima", ANA_CPF, "ana.two@example.com")
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
        cia4.open_account("Cia Ltda", COMPANY_CNPJ, "cia@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana1.call("deposit", &[("amount", "1000,00"), ("tx_id", &tx_id(1))])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        ana2.call("deposit", &[("amount", "500,00"), ("tx_id", &tx_id(2))])
            .await
            .0,
        StatusCode::OK
    );
    // Ana at bank 1 may pay from her account at bank 2: she linked it, approving at bank 2.
    let (status, body) = link(&ana1, &ana2, 2, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    World {
        c,
        ana1,
        ana2,
        beto3,
        cia4,
    }
}

fn leg(source: u8, key: &str, bank: u8, amount: &str) -> Value {
    json!({ "source_bank": source.to_string(), "receiver_key": key, "receiver_bank": bank.to_string(), "amount": amount })
}

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

#[tokio::test]
async fn inter_bank_pix_and_packets_commit_or_abort_as_a_whole() {
    let w = world(&[]).await;

    // Key lookup across banks shows the receiver's name and a masked CPF.
    let (status, preview) = w
        .ana1
        .call("lookup_receiver", &[("key", BETO_CPF), ("bank", "3")])
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["name"], "Beto Reis");
    assert_eq!(preview["key_masked"], "***.444.777-**");
    let (status, _) = w
        .ana1
        .call("lookup_receiver", &[("key", BETO_CPF), ("bank", "4")])
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "Beto has no account at bank 4"
    );

    // The dashboard shows the account Ana linked at bank 2, with bank 2's figures.
    let dash = w.ana1.dashboard().await;
    let linked = dash["linked"].as_array().unwrap();
    assert_eq!(linked.len(), 1, "{dash}");
    assert_eq!(
        (
            linked[0]["bank"]["id"].as_u64(),
            linked[0]["available"].as_i64()
        ),
        (Some(2), Some(50_000))
    );

    // Inter-bank Pix, bank 1 -> bank 3.
    let pix = tx_id(1);
    let form = [
        ("key", BETO_CPF),
        ("amount", "100,00"),
        ("tx_id", pix.as_str()),
        ("bank", "3"),
    ];
    let (status, receipt) = w.ana1.call("send_pix", &form).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["status"], "Committed");
    assert_eq!(receipt["receiver"]["name"], "Beto Reis");
    assert_eq!(
        w.ana1.call("send_pix", &form).await.0,
        StatusCode::OK,
        "a retry returns the first outcome"
    );
    // The client hears the outcome once it is decided; the banks apply it just after.
    assert_settled(&w.c, &[0, 1, 2, 3, 4], 150_000).await;
    assert_eq!(w.ana1.balances().await, (90_000, 0));
    assert_eq!(w.beto3.balances().await, (10_000, 0));
    // Bank 1 keeps bank 3's signed vote with the prepare it answered, and the vote's signature
    // names that prepare's body (kept by a thread of its own: looked for until it is there).
    let start = Instant::now();
    let vote = "answer 200 to /interbank/prepare, bank 3 -> bank 1";
    let report = loop {
        let report = w.c.evidence_report(0, &pix);
        if report.contains(vote) || start.elapsed() > PATIENCE {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        report.contains("request POST /interbank/prepare, bank 1 -> bank 3"),
        "{report}"
    );
    assert!(
        report.contains(
            "signature of bank 3 VALID; it answers the request kept here with its nonce (the body's hash matches)"
        ),
        "{report}"
    );
    assert!(report.contains(r#""amount":10000"#), "{report}");
    let beto_history = w.beto3.dashboard().await;
    let entry = &beto_history["dashboard"]["recent"][0];
    assert_eq!(
        (entry["kind"].as_str(), entry["status"].as_str()),
        (Some("PixIn"), Some("Committed"))
    );
    assert_eq!(entry["counterparty"]["name"], "Ana Lima");

    // A three-leg packet drawing from Ana's accounts at banks 1 and 2.
    let id = tx_id(1);
    let legs = vec![
        leg(1, BETO_CPF, 3, "50,00"),
        leg(2, COMPANY_CNPJ, 4, "70,00"),
        leg(2, BETO_CPF, 3, "30,00"),
    ];
    let (status, outcome) = packet(&w.ana1, &id, legs.clone()).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["status"], "Committed", "{outcome}");
    assert!(outcome["legs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["status"] == "Committed"));
    assert_eq!(
        packet(&w.ana1, &id, legs).await.1,
        outcome,
        "a retried packet returns its first outcome"
    );
    assert_settled(&w.c, &[0, 1, 2, 3, 4], 150_000).await;
    assert_eq!(w.ana1.balances().await, (85_000, 0));
    assert_eq!(w.ana2.balances().await, (40_000, 0));
    assert_eq!(w.beto3.balances().await, (18_000, 0));
    assert_eq!(w.cia4.balances().await, (7_000, 0));

    // One leg short of funds: every leg aborts, the failed one says why.
    let legs = vec![
        leg(1, BETO_CPF, 3, "10,00"),
        leg(2, COMPANY_CNPJ, 4, "400,01"),
    ];
    let (status, outcome) = packet(&w.ana1, &tx_id(1), legs).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["status"], "Aborted");
    assert!(outcome["legs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["status"] == "Aborted"));
    assert!(outcome["legs"][0]["error"].is_null());
    assert_eq!(
        outcome["legs"][1]["error"],
        json!({ "code": "insufficient_funds" }),
        "{outcome}"
    );

    // A source bank where Ana linked no account, and an unknown receiver: refused, leg named.
    let (_, outcome) = packet(&w.ana1, &tx_id(1), vec![leg(5, BETO_CPF, 3, "1,00")]).await;
    assert_eq!(outcome["status"], "Aborted");
    assert_eq!(
        outcome["legs"][0]["error"],
        json!({ "code": "no_consent", "bank": 5 }),
        "{outcome}"
    );
    let (_, outcome) = packet(
        &w.ana1,
        &tx_id(1),
        vec![
            leg(1, BETO_CPF, 3, "1,00"),
            leg(1, "123.456.789-09", 5, "1,00"),
        ],
    )
    .await;
    assert_eq!(outcome["status"], "Aborted");
    assert!(outcome["legs"][0]["error"].is_null(), "{outcome}");
    assert_eq!(
        outcome["legs"][1]["error"],
        json!({ "code": "unknown_receiver", "bank": 5 }),
        "{outcome}"
    );
    assert!(
        outcome["legs"][0]["receiver"]["name"] == "Beto Reis",
        "the found receiver keeps its name: {outcome}"
    );

    // Bad requests: clear 400s, nothing moves.
    let (status, body) = packet(&w.ana1, &tx_id(1), vec![leg(1, BETO_CPF, 3, "-5")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("legs.0.amount"), "{body}");
    assert_eq!(
        packet(&w.ana1, &tx_id(1), vec![leg(9, BETO_CPF, 3, "5")])
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        packet(&w.ana1, &tx_id(1), vec![]).await.0,
        StatusCode::BAD_REQUEST
    );
    let anonymous = w.c.client(0);
    assert_eq!(
        packet(&anonymous, &tx_id(1), vec![leg(1, BETO_CPF, 3, "1")])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(w.ana1.balances().await, (85_000, 0));
    assert_eq!(w.ana2.balances().await, (40_000, 0));
    assert_settled(&w.c, &[0, 1, 2, 3, 4], 150_000).await;
}

/// A coordinator that crashes after every participant voted yes but before storing a decision
/// leaves them in doubt; once it is back, they ask, it presumes abort, and every reservation is
/// released. Meanwhile the ring goes on without it and other banks keep transferring.
#[tokio::test]
async fn a_coordinator_crash_before_deciding_aborts_everywhere_after_restart() {
    let mut w = world(&[]).await;
    w.c.kill(0).await;
    w.c.restart_with(0, &[("FAULT_INJECT", "crash_before_decision")])
        .await;
    let legs = vec![
        leg(1, BETO_CPF, 3, "10,00"),
        leg(2, COMPANY_CNPJ, 4, "20,00"),
    ];
    let ana1 = w.c.client(0);
    ana1.call(
        "login",
        &[("email", "ana@example.com"), ("password", PASSWORD)],
    )
    .await;
    let body = json!({ "tx_id": tx_id(1), "legs": legs });
    let crashed = ana1
        .http
        .post(format!("{}/api/send_packet", ana1.url))
        .json(&body)
        .send()
        .await;
    assert!(
        crashed.is_err() || crashed.unwrap().status().is_server_error(),
        "the coordinator died mid-request"
    );

    // Participants hold the reservations, in doubt.
    let start = Instant::now();
    while w.c.audit(1).await.map(|a| a.3) != Some(1) {
        assert!(start.elapsed() < PATIENCE, "bank 2 never prepared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        w.ana2.balances().await,
        (48_000, 2_000),
        "R$ 20,00 blocked at bank 2"
    );

    // With bank 1 down, the others go on: a Pix from bank 2 to bank 3 commits; one to bank 1 is
    // cancelled cleanly.
    let form = [
        ("key", BETO_CPF),
        ("amount", "5,00"),
        ("tx_id", &tx_id(2)),
        ("bank", "3"),
    ];
    let (status, body) = w.ana2.call("send_pix", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let form = [
        ("key", ANA_CPF),
        ("amount", "5,00"),
        ("tx_id", &tx_id(2)),
        ("bank", "1"),
    ];
    // (Bank 1's key is in every bank's copy of the directory: the Pix is tried, bank 1 does not
    // vote, and it is cancelled with that reason.)
    let (status, body) = w.ana2.call("send_pix", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("did not answer"), "{body}");

    w.c.restart(0).await;
    assert_settled(&w.c, &[0, 1, 2, 3, 4], 150_000).await;
    w.ana1 = w.c.client(0);
    w.ana1
        .call(
            "login",
            &[("email", "ana@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        w.ana1.balances().await,
        (100_000, 0),
        "the packet aborted: bank 1's leg released"
    );
    assert_eq!(
        w.ana2.balances().await,
        (49_500, 0),
        "bank 2's leg released; only the later Pix left"
    );
    assert_eq!(w.beto3.balances().await, (500, 0));
    assert_eq!(w.cia4.balances().await, (0, 0));
}

/// A coordinator that crashes right after storing a commit decision delivers it after restart:
/// every participant commits.
#[tokio::test]
async fn a_coordinator_crash_after_deciding_commits_everywhere_after_restart() {
    let mut w = world(&[]).await;
    w.c.kill(0).await;
    w.c.restart_with(0, &[("FAULT_INJECT", "crash_after_decision")])
        .await;
    let ana1 = w.c.client(0);
    ana1.call(
        "login",
        &[("email", "ana@example.com"), ("password", PASSWORD)],
    )
    .await;
    let legs = vec![
        leg(1, BETO_CPF, 3, "10,00"),
        leg(2, COMPANY_CNPJ, 4, "20,00"),
    ];
    let id = tx_id(1);
    let body = json!({ "tx_id": id, "legs": legs.clone() });
    let crashed = ana1
        .http
        .post(format!("{}/api/send_packet", ana1.url))
        .json(&body)
        .send()
        .await;
    assert!(
        crashed.is_err() || crashed.unwrap().status().is_server_error(),
        "the coordinator died mid-request"
    );
    assert!(w.c.status(0).await.is_none(), "bank 1 is down");

    w.c.restart(0).await;
    assert_settled(&w.c, &[0, 1, 2, 3, 4], 150_000).await;
    let ana1 = w.c.client(0);
    ana1.call(
        "login",
        &[("email", "ana@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(ana1.balances().await, (99_000, 0));
    assert_eq!(w.ana2.balances().await, (48_000, 0));
    assert_eq!(w.beto3.balances().await, (1_000, 0));
    assert_eq!(w.cia4.balances().await, (2_000, 0));
    // The client retries: it gets the committed outcome, and nothing is paid twice.
    let (status, outcome) = packet(&ana1, &id, legs).await;
    assert_eq!(
        (status, outcome["status"].as_str()),
        (StatusCode::OK, Some("Committed")),
        "{outcome}"
    );
    assert_eq!(ana1.balances().await, (99_000, 0));
}

/// Concurrent packets from two coordinators while a participant is SIGKILLed and restarted: every
/// packet ends committed or aborted everywhere (clients retry with the same id until they get an
/// answer), the receivers got exactly the committed legs, and nothing stays reserved.
#[tokio::test]
async fn concurrent_packets_survive_a_participant_killed_mid_protocol() {
    let mut w = world(&[]).await;
    // (to Beto, to the company, packets committed, packets aborted)
    let committed = std::sync::Arc::new(std::sync::Mutex::new((0i64, 0i64, 0u32, 0u32)));
    let mut tasks = Vec::new();
    for (worker, client) in [
        w.ana1.clone(),
        w.ana2.clone(),
        w.ana1.clone(),
        w.ana2.clone(),
    ]
    .into_iter()
    .enumerate()
    {
        let committed = committed.clone();
        let source = if worker % 2 == 0 { 1 } else { 2 };
        tasks.push(tokio::spawn(async move {
            for n in 0..15 {
                let id = tx_id(source);
                let (to_beto, to_cia) = (100 + n, 200 + worker as i64);
                let legs = vec![
                    leg(
                        source,
                        BETO_CPF,
                        3,
                        &format!("{},{:02}", to_beto / 100, to_beto % 100),
                    ),
                    leg(
                        source,
                        COMPANY_CNPJ,
                        4,
                        &format!("{},{:02}", to_cia / 100, to_cia % 100),
                    ),
                ];
                let (status, outcome) = packet(&client, &id, legs).await;
                assert_eq!(status, StatusCode::OK, "{outcome}");
                let mut c = committed.lock().unwrap();
                if outcome["status"] == "Committed" {
                    c.0 += to_beto;
                    c.1 += to_cia;
                    c.2 += 1;
                } else {
                    c.3 += 1;
                }
            }
        }));
    }
    // Kill the participant once packets are flowing, then bring it back.
    let start = Instant::now();
    while w.beto3.balances().await.0 == 0 {
        assert!(start.elapsed() < PATIENCE, "no packet committed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w.c.kill(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.c.restart(2).await;
    for t in tasks {
        t.await.unwrap();
    }
    assert_settled(&w.c, &[0, 1, 2, 3, 4], 150_000).await;
    let (to_beto, to_cia, ok, aborted) = *committed.lock().unwrap();
    eprintln!("packets with a participant killed: {ok} committed, {aborted} aborted");
    assert!(to_beto > 0, "some packets committed");
    let beto = w.c.client(2);
    beto.call(
        "login",
        &[("email", "beto@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        beto.balances().await,
        (to_beto, 0),
        "Beto received exactly the committed legs"
    );
    assert_eq!(w.cia4.balances().await, (to_cia, 0));
    let ana = w.ana1.balances().await.0 + w.ana2.balances().await.0;
    assert_eq!(ana, 150_000 - to_beto - to_cia);
}
