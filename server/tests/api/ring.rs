//! The token ring across five real bank processes: it rotates, survives a killed holder by
//! regenerating, lets a restarted bank rejoin, and refuses forged or replayed inter-bank requests.

use crate::support::*;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

fn epoch(status: &StatusReport) -> (u64, u64) {
    let ring = ring(status);
    (
        ring.epoch_counter,
        ring.epoch_origin.map_or(0, |b| u64::from(b.get())),
    )
}

#[tokio::test]
async fn the_token_visits_every_bank_and_skips_a_dead_one() {
    let mut c = Consortium::start(&[]).await;
    wait_until(&c, &[0, 1, 2, 3, 4], "every bank visited 3 times", |s| {
        s.iter().all(|s| visits(s) >= 3)
    })
    .await;

    // Idle rotation rate, measured at bank 1 over a second of wall time (printed for the record).
    let v0 = visits(&c.status(0).await.unwrap());
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let v1 = visits(&c.status(0).await.unwrap());
    eprintln!(
        "idle ring: {:.1} rotations/s",
        (v1 - v0) as f64 / t0.elapsed().as_secs_f64()
    );

    c.kill(2).await;
    let before: Vec<u64> = {
        let mut v = Vec::new();
        for i in [0, 1, 3, 4] {
            v.push(visits(&c.status(i).await.unwrap()));
        }
        v
    };
    wait_until(&c, &[0, 1, 3, 4], "the ring goes on without bank 3", |s| {
        s.iter().zip(&before).all(|(s, b)| visits(s) >= b + 5)
    })
    .await;
}

#[tokio::test]
async fn a_killed_holder_is_replaced_and_a_restarted_bank_rejoins() {
    // The holder is made observable without breaking the ring's timing relation: bank 1 runs a
    // packet whose other participant, bank 5, is frozen (SIGSTOP), so bank 1 holds the token for
    // the whole prepare timeout (10 s) waiting for that vote. A bank that has held the token for
    // half a second is in that round: it is killed there, with seconds to spare.
    let mut c = Consortium::start(&[("PREPARE_TIMEOUT_MS", "10000")]).await;
    let (ana1, ana5, beto1) = (c.client(0), c.client(4), c.client(0));
    assert_eq!(
        ana1.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana5.open_account("Ana Lima", ANA_CPF, "ana5@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana5.call("deposit", &[("amount", "10,00"), ("tx_id", &tx_id(5))])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        beto1
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let (status, body) = link(&ana1, &ana5, 5, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A settled ring first: at start-up two banks may regenerate at once, and the losing token
    // lives until it meets the winner.
    wait_until(&c, &[0, 1, 2, 3, 4], "every bank visited 3 times", |s| {
        s.iter().all(|s| visits(s) >= 3)
    })
    .await;
    c.signal(4, "STOP");
    // Paid from Ana's account at the frozen bank 5 to Beto at bank 1: no lookup needs bank 5.
    let body = serde_json::json!({ "tx_id": tx_id(1), "legs": [{ "source_bank": "5", "receiver_key": BETO_CPF, "receiver_bank": "1", "amount": "1,00" }] });
    let ana = ana1;
    let url = format!("{}/api/send_packet", ana.url);
    let packet = tokio::spawn(async move {
        ana.http
            .post(url)
            .json(&body)
            .send()
            .await
            .map(|r| r.status())
    });
    let holder = 0;
    wait_until(&c, &[holder], "bank 1 holds the token in its round", |s| {
        ring(&s[0]).holding && ring(&s[0]).last_seen_ago_ms >= 500
    })
    .await;
    let old_epoch = epoch(&c.status(holder).await.unwrap());
    let others: Vec<usize> = (1..4).collect();
    c.kill(holder).await;
    let _ = packet.await; // its coordinator died: the client hears nothing, or an error
    let killed = Instant::now();
    wait_until(&c, &others, "a regenerated token", |s| {
        s.iter().any(|s| ring(s).holding && epoch(s) > old_epoch)
    })
    .await;
    eprintln!(
        "regeneration after SIGKILL of the holder: {} ms",
        killed.elapsed().as_millis()
    );

    c.restart(holder).await;
    wait_until(
        &c,
        &[holder],
        "the restarted bank gets the live token",
        |s| visits(&s[0]) >= 1,
    )
    .await;
    let live = epoch(&c.status(holder).await.unwrap());
    assert!(
        live > old_epoch,
        "the restarted bank holds a new epoch, not its old one"
    );
    // Bank 5 thaws: the packet whose coordinator died undecided aborts everywhere.
    c.signal(4, "CONT");
    assert_settled(&c, &[0, 1, 2, 3, 4], 1_000).await;
}

#[tokio::test]
async fn forged_unsigned_and_replayed_interbank_requests_are_refused() {
    let c = Consortium::start(&[]).await;
    let url = format!("{}/interbank/token", c.interbank_url(1));
    let body = br#"{"epoch":{"counter":999,"origin":1},"hop":1}"#.to_vec();
    let http = reqwest::Client::new();

    let unsigned = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

    // Signed "as bank 1" with a key that is not bank 1's.
    let dir = tempfile::tempdir().unwrap();
    let stranger = server::identity::BankKey::load_or_create(&dir.path().join("k")).unwrap();
    let forger = server::peer_auth::Signer::new(
        domain::BankId::try_from(1).unwrap(),
        std::sync::Arc::new(stranger),
    );
    let headers = forger.request(
        domain::BankId::try_from(2).unwrap(),
        "POST",
        "/interbank/token",
        now_ms(),
        &body,
    );
    assert_eq!(
        c.post_with(1, "/interbank/token", &headers, &body).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A genuine signed probe from bank 1 works once; the same bytes again are a replay.
    let headers = c.signer(0).request(
        domain::BankId::try_from(2).unwrap(),
        "POST",
        "/interbank/probe",
        now_ms(),
        b"null",
    );
    assert_eq!(
        c.post_with(1, "/interbank/probe", &headers, b"null")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        c.post_with(1, "/interbank/probe", &headers, b"null")
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "replay"
    );

    // A request of another protocol version is refused, saying which is spoken.
    let headers = c.signer(0).request(
        domain::BankId::try_from(2).unwrap(),
        "POST",
        "/interbank/probe",
        now_ms(),
        b"null",
    );
    let other = server::peer_auth::Signed {
        version: "99".into(),
        ..headers
    };
    let (status, text) = c.post_with(1, "/interbank/probe", &other, b"null").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.contains("version '99' is not spoken here")
            && text.contains(&format!(
                "speaks version {}",
                engine::wire::PROTOCOL_VERSION
            )),
        "{text}"
    );

    // None of it reached the ring: nobody adopted the forged epoch 999.
    for i in 0..5 {
        assert!(epoch(&c.status(i).await.unwrap()).0 < 999);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
