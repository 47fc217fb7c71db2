//! A bank killed with SIGKILL and restarted has every acknowledged operation and nothing
//! half-applied.

use crate::support::*;
use reqwest::StatusCode;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn sigkill_loses_no_acknowledged_operation() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(4, dir.path()).await;
    let ana = bank.client();
    let beto = bank.client();
    ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
        .await;
    beto.open_account("Beto Reis", BETO_CPF, "beto@example.com")
        .await;
    ana.call("deposit", &[("amount", "1.000,00"), ("tx_id", "")])
        .await;
    beto.call("deposit", &[("amount", "1.000,00"), ("tx_id", "")])
        .await;

    // Eight clients hammer the bank with deposits and Pix both ways; every acknowledged
    // transaction id is recorded. The bank is killed while they run.
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..8 {
        let (me, other_key) = if w % 2 == 0 {
            (ana.clone(), BETO_CPF)
        } else {
            (beto.clone(), ANA_CPF)
        };
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let id = tx_id(4);
                let result = if i % 3 == 0 {
                    me.try_call("deposit", &[("amount", "1,00"), ("tx_id", id.as_str())])
                        .await
                } else {
                    me.try_call(
                        "send_pix",
                        &[
                            ("key", other_key),
                            ("amount", "0,50"),
                            ("tx_id", id.as_str()),
                        ],
                    )
                    .await
                };
                match result {
                    Ok((status, _)) if status == StatusCode::OK => {
                        acked.lock().unwrap().insert(id);
                    }
                    Ok(_) => {}
                    Err(_) => return, // the bank is gone
                }
            }
        }));
    }
    // Kill once a good number of operations has been acknowledged (counted, not timed).
    while acked.lock().unwrap().len() < 300 {
        assert!(
            !workers.iter().all(|w| w.is_finished()),
            "the clients stopped before 300 acknowledgements"
        );
        tokio::task::yield_now().await;
    }
    bank.kill().await;
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // The file as the kill left it: SQLite replays its log, nothing else repairs it.
    let db = rusqlite::Connection::open(Bank::db_path(dir.path())).unwrap();
    let mut stmt = db
        .prepare("SELECT tx_id FROM entries WHERE status = 'committed'")
        .unwrap();
    let committed: HashSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let lost: Vec<_> = acked.difference(&committed).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged operations lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );

    let pending: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM entries WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0, "nothing half-applied");
    // Every account's balance is exactly what its committed history says.
    let mismatches: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM accounts a WHERE a.available_cents + a.blocked_cents !=
               (SELECT COALESCE(SUM(CASE kind WHEN 'pix_out' THEN -amount_cents ELSE amount_cents END), 0)
                FROM entries e WHERE e.account_id = a.id AND e.status = 'committed')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mismatches, 0);
    // Money is conserved: the total equals all committed deposits.
    let (total, deposits): (i64, i64) = db
        .query_row(
            "SELECT (SELECT SUM(available_cents + blocked_cents) FROM accounts),
                    (SELECT SUM(amount_cents) FROM entries WHERE kind = 'deposit' AND status = 'committed')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(total, deposits);
    drop(stmt);
    drop(db);
    // The restarted bank (on a new port; cookies are per host) serves the same sessions and balances.
    let bank = Bank::start(4, dir.path()).await;
    let ana = Client {
        url: bank.url.clone(),
        ..ana
    };
    let beto = Client {
        url: bank.url.clone(),
        ..beto
    };
    let (a, _) = ana.balances().await;
    let (b, _) = beto.balances().await;
    assert_eq!(a + b, total);
    drop(bank);
}

/// `docker stop` and Ctrl-C send SIGTERM: banks of a running consortium (ring and 2PC tasks busy,
/// peers' keep-alive connections open), stopped all at once as `docker compose down` does, finish
/// what they acknowledged and exit 0, promptly; after a restart nothing is lost.
#[tokio::test]
async fn consortium_banks_exit_cleanly_on_sigterm() {
    let mut c = Consortium::start(&[]).await;
    let ana = c.client(0);
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        reqwest::StatusCode::OK
    );
    assert_eq!(
        ana.call("deposit", &[("amount", "12,34"), ("tx_id", &tx_id(1))])
            .await
            .0,
        reqwest::StatusCode::OK
    );
    for i in 0..5 {
        c.signal(i, "TERM");
    }
    for i in 0..5 {
        let bank = c.take(i);
        let status = bank
            .wait_exit(std::time::Duration::from_secs(20))
            .await
            .expect("exited within 20 s of SIGTERM");
        assert!(status.success(), "bank {}: {status}", i + 1);
    }
    c.restart(0).await;
    ana.call(
        "login",
        &[("email", "ana@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(ana.balances().await, (1_234, 0));
}
