//! Faults injected into five real bank processes while clients keep sending packets: the token
//! holder is frozen (SIGSTOP) and thawed, one bank is cut off from the others (every link through
//! a proxy, connections in progress closed) and healed, and another is killed (SIGKILL) and
//! restarted. Clients retry with the same id until they get a definitive answer. Afterwards, through
//! the banks' own APIs: every reservation released, money conserved, and every receiver got exactly
//! the packets the clients were told committed.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(90);
const PEOPLE: [(&str, &str, &str); 3] = [
    ("Beto Reis", BETO_CPF, "beto@example.com"),
    ("Cia Ltda", CIA_CNPJ, "cia@example.com"),
    ("Dani Souza", "390.533.447-05", "dani@example.com"),
];

fn brl(cents: i64) -> String {
    format!("{},{:02}", cents / 100, cents % 100)
}

/// A client that answers within 10 s or not at all (a frozen bank must not hang the test).
fn client_of(c: &Consortium, i: usize) -> Client {
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        url: c.url(i),
    }
}

async fn login(client: &Client, email: &str) {
    let start = Instant::now();
    loop {
        if let Ok((StatusCode::OK, _)) = client
            .try_call("login", &[("email", email), ("password", PASSWORD)])
            .await
        {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "cannot log in {email}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn packets_survive_a_frozen_holder_a_partition_and_a_killed_bank() {
    let (mut c, links) = Consortium::start_with_links(&[]).await;
    // Ana pays from banks 1 and 2; Beto, Cia and Dani receive at banks 3, 4 and 5.
    let ana1 = client_of(&c, 0);
    let ana2 = client_of(&c, 1);
    assert_eq!(
        ana1.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana2.open_account("Ana Lima", ANA_CPF, "ana2@example.com")
            .await,
        StatusCode::OK
    );
    for (i, (name, key, email)) in PEOPLE.iter().enumerate() {
        assert_eq!(
            client_of(&c, i + 2).open_account(name, key, email).await,
            StatusCode::OK
        );
    }
    // Enough for every packet a fast machine sends: once Ana's money ran out, every packet
    // aborted and the test saw "no progress" (R$ 1.000 per bank lasted until the last fault
    // only on slower machines).
    assert_eq!(
        ana1.call("deposit", &[("amount", "100000,00"), ("tx_id", &tx_id(1))])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        ana2.call("deposit", &[("amount", "100000,00"), ("tx_id", &tx_id(2))])
            .await
            .0,
        StatusCode::OK
    );

    // Each of Ana's accounts may pay from the other: she linked them both ways.
    for (a, b, b_id) in [(&ana1, &ana2, 2), (&ana2, &ana1, 1)] {
        let (status, body) = link(a, b, b_id, &Terms::generous()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // received[k] = cents the clients were told reached person k.
    let received = Arc::new(Mutex::new([0i64; 3]));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4usize {
        let (client, source) = if w % 2 == 0 {
            (ana1.clone(), 1u8)
        } else {
            (ana2.clone(), 2u8)
        };
        let email = if source == 1 {
            "ana@example.com"
        } else {
            "ana2@example.com"
        };
        let (received, stop) = (received.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let (a, b) = ((w + n as usize) % 3, (w + 2 * n as usize) % 3);
                let (amount_a, amount_b) = (100 + n % 100, 200 + w as i64);
                let body = json!({ "tx_id": tx_id(source), "legs": [
                    { "source_bank": source.to_string(), "receiver_key": PEOPLE[a].1, "receiver_bank": (a + 3).to_string(), "amount": brl(amount_a) },
                    { "source_bank": (3 - source).to_string(), "receiver_key": PEOPLE[b].1, "receiver_bank": (b + 3).to_string(), "amount": brl(amount_b) },
                ]});
                // The same id until a definitive answer: 200 (committed or aborted).
                let start = Instant::now();
                let outcome = loop {
                    let res = client.http.post(format!("{}/api/send_packet", client.url)).json(&body).send().await;
                    match res {
                        Ok(r) if r.status() == StatusCode::OK => break r.json::<serde_json::Value>().await.unwrap(),
                        Ok(r) if r.status() == StatusCode::UNAUTHORIZED => login(&client, email).await,
                        Ok(r) if r.status().is_client_error() => panic!("{} {}", r.status(), r.text().await.unwrap()),
                        _ => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                    assert!(start.elapsed() < PATIENCE, "packet never answered");
                };
                if outcome["status"] == "Committed" {
                    let mut r = received.lock().unwrap();
                    r[a] += amount_a;
                    r[b] += amount_b;
                }
            }
        }));
    }

    let wait_committed = |min: i64| {
        let received = received.clone();
        async move {
            let start = Instant::now();
            while received.lock().unwrap().iter().sum::<i64>() < min {
                assert!(start.elapsed() < PATIENCE, "no progress");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_committed(1).await;

    // Freeze the token holder, let the ring regenerate without it, thaw it.
    let looking = Instant::now();
    let holder = loop {
        let mut found = None;
        for i in 2..5 {
            if c.status(i).await.is_some_and(|s| ring(&s).holding) {
                found = Some(i);
            }
        }
        if let Some(i) = found {
            break i;
        }
        assert!(
            looking.elapsed() < PATIENCE,
            "none of banks 3-5 was seen holding the token"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    c.signal(holder, "STOP");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    c.signal(holder, "CONT");
    let progress = received.lock().unwrap().iter().sum::<i64>();
    wait_committed(progress + 1).await;

    // Cut bank 5 off from the others, then heal.
    links.isolate(4, true);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    links.isolate(4, false);
    let progress = received.lock().unwrap().iter().sum::<i64>();
    wait_committed(progress + 1).await;

    // Kill bank 4 and bring it back.
    c.kill(3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.restart(3).await;
    let progress = received.lock().unwrap().iter().sum::<i64>();
    wait_committed(progress + 1).await;

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }

    // Settled through the banks' own status: nothing reserved, nothing in doubt, money conserved.
    let start = Instant::now();
    loop {
        let mut audits = Vec::new();
        for i in 0..5 {
            audits.push(c.audit(i).await);
        }
        if audits.iter().all(|a| matches!(a, Some((_, 0, 0, 0)))) {
            let total: i64 = audits.iter().map(|a| a.unwrap().0).sum();
            assert_eq!(total, 20_000_000, "money conserved: {audits:?}");
            break;
        }
        assert!(start.elapsed() < PATIENCE, "not settled: {audits:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = *received.lock().unwrap();
    for (k, (_, _, email)) in PEOPLE.iter().enumerate() {
        let client = client_of(&c, k + 2);
        login(&client, email).await;
        assert_eq!(
            client.balances().await,
            (received[k], 0),
            "{email} got exactly the committed legs"
        );
    }
    eprintln!(
        "faults test: R$ {} delivered in committed packets",
        received.iter().sum::<i64>() as f64 / 100.0
    );
}
