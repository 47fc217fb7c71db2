//! Settlement windows across five real banks: a payer bank blocked at its limit is unblocked by
//! a window closed, paid by it and confirmed by its creditor; and a bank that signs a false
//! report leaves the honest books balanced and its lie on the record.

use crate::keys::{open_ana_and_dora, pix, DORA_CPF};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// What bank 1 may owe any bank: R$ 500,00.
const LIMIT: i64 = 50_000;

async fn operator(
    c: &Consortium,
    i: usize,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let http = reqwest::Client::new();
    let url = format!("{}/operator/settlement{path}", c.url(i));
    let request = match body {
        Some(body) => http.post(url).json(&body),
        None => http.get(url),
    };
    let res = request
        .bearer_auth(OPERATOR_TOKEN)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .expect("bank answers");
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Bank `i`'s position with bank `peer` (1-based), as its operator sees it on `/status`.
async fn position(c: &Consortium, i: usize, peer: u8) -> engine::wire::PositionStatus {
    audit_of(&c.status(i).await.expect("bank answers /status"))
        .positions
        .into_iter()
        .find(|p| p.peer.get() == peer)
        .expect("a position with every member")
}

/// Waits until no bank holds a prepared part: every decision reached its participants (phase
/// two runs after the client's answer). A window closed now cuts every bank at the same point.
async fn quiet(c: &Consortium) {
    wait_until(
        c,
        &[0, 1, 2, 3, 4],
        "every decision delivered",
        |statuses| {
            statuses.iter().all(|s| {
                s.audit
                    .as_ref()
                    .is_some_and(|a| a.prepared_transactions == 0)
            })
        },
    )
    .await;
}

/// The last window bank `i` closed.
async fn last_window(c: &Consortium, i: usize) -> u64 {
    audit_of(&c.status(i).await.expect("bank answers /status"))
        .settlement
        .last_window
}

/// Waits until bank `i`'s operator list satisfies `done`. Reports go to every member when a
/// bank closes a window, and a call that fails (a timeout on a loaded box) is tried again in
/// the background, so no operator needs to send them again.
async fn until_list(c: &Consortium, i: usize, done: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    loop {
        let (_, list) = operator(c, i, "", None).await;
        if done(&list) {
            return list;
        }
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "bank {}: not reached: {list}",
            i + 1
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Every bank's books balance, and what bank 1 and bank 2 still owe each other sums to zero.
async fn assert_books(c: &Consortium) {
    quiet(c).await;
    for i in 0..5 {
        let books = audit_of(&c.status(i).await.unwrap());
        assert!(books.books_balance, "bank {} books: {books:?}", i + 1);
    }
    let (p12, p21) = (position(c, 0, 2).await, position(c, 1, 1).await);
    assert_eq!(
        (p12.settled - p12.by_windows) + (p21.settled - p21.by_windows),
        0,
        "{p12:?} {p21:?}"
    );
}

#[tokio::test]
async fn a_bank_blocked_at_its_limit_pays_a_window_and_its_clients_pay_again() {
    let c = Consortium::start_limited(&[], LIMIT).await;
    let (ana1, dora2) = (c.client(0), c.client(1));
    open_ana_and_dora(&ana1, &dora2, "2.000,00").await;

    // Pix flows one way, bank 1 to bank 2, until bank 2 refuses: bank 1 would owe it too much.
    for n in 1..=2 {
        let (s, body) = pix(&ana1, DORA_CPF, "200,00").await;
        assert_eq!(s, StatusCode::OK, "Pix {n}: {body}");
    }
    let (s, body) = pix(&ana1, DORA_CPF, "200,00").await;
    eprintln!("third Pix, beyond bank 1's limit at bank 2: {s} {body}");
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_books(&c).await;
    let p21 = position(&c, 1, 1).await;
    assert_eq!((p21.settled, p21.by_windows, p21.limit), (40_000, 0, LIMIT));

    // Nothing closed yet: nothing to pay. An operator without the token is refused.
    let (s, _) = operator(&c, 0, "/paid", Some(json!({"window": 1, "creditor": 2}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let anonymous = reqwest::Client::new()
        .post(format!("{}/operator/settlement/close", c.url(0)))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Bank 3's operator closes window 1: every bank cuts its books, signs its report, and the
    // reports are exchanged and compared.
    let (s, closed) = operator(&c, 2, "/close", Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    assert!(
        closed["exchanged"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["error"].is_null()),
        "{closed}"
    );
    // Each bank's reports arrive as the others close; wait until bank 1 and 2 have all of them.
    for i in [0, 1] {
        until_list(&c, i, |list| {
            list["windows"][0]["reports"].as_array().map(Vec::len) == Some(4)
        })
        .await;
    }
    let (_, list1) = operator(&c, 0, "", None).await;
    let (_, list2) = operator(&c, 1, "", None).await;
    for (bank, list) in [(1, &list1), (2, &list2)] {
        eprintln!(
            "bank {bank}'s signed report for window 1:\n{}",
            serde_json::to_string_pretty(&list["windows"][0]["own"]).unwrap()
        );
        assert_eq!(list["last_window"], 1);
        assert_eq!(list["disagreements"], 0, "{list}");
    }
    let net = |list: &Value, peer: u64| -> i64 {
        list["windows"][0]["own"]["report"]["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["peer"] == peer)
            .unwrap()["net"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((net(&list1, 2), net(&list2, 1)), (-40_000, 40_000));
    assert_eq!(
        list1["windows"][0]["own"]["report"]["multilateral"],
        -40_000
    );
    let pair = |list: &Value, peer: u64| -> Value {
        list["windows"][0]["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["peer"] == peer)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(pair(&list2, 1), json!({ "Agreed": { "net": 40_000 } }));

    // Only the debtor marks paid, only the creditor confirms; bad input is refused.
    let (s, _) = operator(&c, 1, "/paid", Some(json!({"window": 1, "creditor": 1}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "bank 2 is no debtor of bank 1");
    let (s, _) = operator(&c, 0, "/received", Some(json!({"window": 1, "debtor": 2}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "bank 1 is no creditor of bank 2");
    for bad in [
        json!({"window": 1, "creditor": 0}),
        json!({"window": -1, "creditor": 2}),
        json!({"window": 1, "creditor": 2, "amount": 1}),
        json!({"window": "1", "creditor": 2}),
    ] {
        let (s, body) = operator(&c, 0, "/paid", Some(bad.clone())).await;
        assert!(s.is_client_error(), "{bad}: {s} {body}");
    }
    let (s, paid) = operator(&c, 0, "/paid", Some(json!({"window": 1, "creditor": 2}))).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert!(paid["undelivered"].is_null(), "{paid}");
    eprintln!(
        "bank 1's signed \"paid\":\n{}",
        serde_json::to_string_pretty(&paid["payment"]).unwrap()
    );
    // "Paid" alone moves nothing: still blocked.
    assert_eq!(position(&c, 1, 1).await.by_windows, 0);
    let (s, body) = pix(&ana1, DORA_CPF, "200,00").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (s, received) = operator(&c, 1, "/received", Some(json!({"window": 1, "debtor": 1}))).await;
    assert_eq!(s, StatusCode::OK, "{received}");
    assert!(received["undelivered"].is_null(), "{received}");
    eprintln!(
        "bank 2's signed \"received\":\n{}",
        serde_json::to_string_pretty(&received["payment"]).unwrap()
    );
    let (p21, p12) = (position(&c, 1, 1).await, position(&c, 0, 2).await);
    assert_eq!((p21.settled, p21.by_windows), (40_000, 40_000));
    assert_eq!((p12.settled, p12.by_windows), (-40_000, -40_000));
    assert_books(&c).await;
    // Confirming again settles nothing twice.
    let (s, _) = operator(&c, 1, "/received", Some(json!({"window": 1, "debtor": 1}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(position(&c, 1, 1).await.by_windows, 40_000);

    // The Pix that was refused goes through now.
    let (s, body) = pix(&ana1, DORA_CPF, "200,00").await;
    assert_eq!(s, StatusCode::OK, "after the window is settled: {body}");
    assert_books(&c).await;
    let p21 = position(&c, 1, 1).await;
    assert_eq!(p21.settled - p21.by_windows, 20_000);
    eprintln!("bank 2's position with bank 1 after the window: {p21:?}");
}

/// Bank 2 signs a report that says bank 1 owes it ten times what it does. Bank 1 keeps the lie,
/// signed, counts it, shows it (and the honest report bank 2's node sends later, as a second
/// report of the same bank); nothing can be paid for that pair, and every book balances.
#[tokio::test]
async fn a_bank_that_signs_a_false_report_leaves_honest_books_balanced_and_its_lie_recorded() {
    let c = Consortium::start_limited(&[], LIMIT).await;
    let (ana1, dora2) = (c.client(0), c.client(1));
    open_ana_and_dora(&ana1, &dora2, "500,00").await;
    let (s, body) = pix(&ana1, DORA_CPF, "300,00").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    quiet(&c).await;
    let before = audit_of(&c.status(0).await.unwrap());

    // Bank 2, with its own key, sends bank 1 a report for window 1 in which bank 1 owes it R$ 3.000,00.
    let peers: Vec<Value> = [1u16, 3, 4, 5]
        .iter()
        .map(|&p| {
            json!({ "peer": p, "net": if p == 1 { 300_000 } else { 0 },
                          "through": if p == 1 { 300_000 } else { 0 } })
        })
        .collect();
    let report = json!({ "window": 1, "bank": 2, "closed_ms": engine::wall_clock_ms(), "peers": peers,
        "owed_to_bank": 300_000, "owed_by_bank": 0, "multilateral": 300_000 });
    let sig = {
        let key = engine::proof::BankKey::load_or_create(&c.key_file(1)).unwrap();
        key.sign_statement(
            engine::settlement::REPORT_TAG,
            &serde_json::to_vec(
                &serde_json::from_value::<engine::settlement::SettlementReport>(report.clone())
                    .unwrap(),
            )
            .unwrap(),
        )
    };
    let signed = json!({ "report": report, "sig": sig });
    let path = engine::wire::Route::SettlementReport.path();
    let (s, answer) = c
        .signed_post(
            0,
            path,
            1,
            engine::wall_clock_ms(),
            signed.to_string().as_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    eprintln!("bank 1's own report, its answer to the lie:\n{answer}");

    // A report bank 2 sends in bank 3's name is refused, and so is one it changed after signing.
    let mut as_3 = signed.clone();
    as_3["report"]["bank"] = json!(3);
    let (s, _) = c
        .signed_post(
            0,
            path,
            1,
            engine::wall_clock_ms(),
            as_3.to_string().as_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let mut changed = signed.clone();
    changed["report"]["peers"][0]["net"] = json!(30_000);
    let (s, _) = c
        .signed_post(
            0,
            path,
            1,
            engine::wall_clock_ms(),
            changed.to_string().as_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Bank 2's own node closes window 1 too (another bank's report reaches it) and sends bank 1
    // its honest report: a second report signed by bank 2 for the window, kept beside the first.
    let list = until_list(&c, 0, |list| {
        list["windows"][0]["contradicting"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    assert_eq!(list["windows"][0]["contradicting"][0]["report"]["bank"], 2);
    assert_eq!(list["disagreements"], 2, "the lie, and two reports: {list}");
    let lie = list["windows"][0]["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report"]["bank"] == 2)
        .cloned()
        .expect("the lie is kept");
    assert_eq!(lie, signed, "kept as signed");
    let (s, body) = operator(&c, 0, "/paid", Some(json!({"window": 1, "creditor": 2}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body.as_str().unwrap().contains("disagree"), "{body}");
    let after = audit_of(&c.status(0).await.unwrap());
    assert_eq!(after.positions, before.positions, "nothing moved");
    assert_eq!(after.settlement.disagreements, 2);
    assert_books(&c).await;
}

/// A bank down when windows close misses them. Once back, it gets them without an operator:
/// every bank that could not reach it tries again in the background (a report for a window
/// after its next is refused with a 409 and tried again), and it closes them in order. Without
/// the retries, nothing would send them again, and bank 5 would stay at window 0.
#[tokio::test]
async fn a_bank_down_at_the_close_gets_the_missed_windows_once_back_without_an_operator() {
    let mut c = Consortium::start_limited(&[], LIMIT).await;
    c.kill(4).await;
    for window in [1, 2] {
        let (s, closed) = operator(&c, 0, "/close", Some(json!({}))).await;
        assert_eq!(s, StatusCode::OK, "{closed}");
        assert_eq!(closed["report"]["report"]["window"], window);
        let missed: Vec<&Value> = closed["exchanged"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !e["error"].is_null())
            .collect();
        assert_eq!(missed.len(), 1, "{closed}");
        assert_eq!(missed[0]["bank"], 5);
    }
    let down = std::time::Instant::now();
    c.restart(4).await;
    eprintln!("bank 5 back {:?} after the closes", down.elapsed());
    // The retries run for about two minutes after each close (waits of 0,5 s doubling to 30 s).
    let patience = std::time::Duration::from_secs(150);
    loop {
        let (_, list) = operator(&c, 0, "", None).await;
        let has_5 = |w: &Value| {
            w["reports"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["report"]["bank"] == 5))
        };
        let windows = list["windows"].as_array().cloned().unwrap_or_default();
        if last_window(&c, 4).await == 2 && windows.len() == 2 && windows.iter().all(has_5) {
            eprintln!(
                "bank 5 closed windows 1 and 2, and bank 1 holds its reports, {:?} after the closes",
                down.elapsed()
            );
            break;
        }
        assert!(
            down.elapsed() < patience,
            "bank 5 at window {}; bank 1: {list}",
            last_window(&c, 4).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(operator(&c, 4, "", None).await.1["disagreements"], 0);
    // Sending a window again is still possible, and changes nothing.
    let (s, sent) = operator(&c, 0, "/close", Some(json!({"window": 2}))).await;
    assert_eq!(s, StatusCode::OK, "{sent}");
    assert!(
        sent["exchanged"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["error"].is_null()),
        "{sent}"
    );
    // A window never closed cannot be sent.
    let (s, _) = operator(&c, 0, "/close", Some(json!({"window": 9}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

/// Window 1 paid by multilateral netting across five banks. Ana (bank 1) pays Dora (bank 2)
/// R$ 300,00 and Beto (bank 3) R$ 200,00; Dora pays Beto R$ 100,00. Multilateral: bank 1 pays
/// R$ 500,00, bank 2 receives R$ 200,00, bank 3 R$ 300,00; banks 4 and 5 nothing. The plan is
/// two legs, both from bank 1 (bank 2 never pays its R$ 100,00 to bank 3 itself); the positions
/// move at every bank only when both legs are confirmed, each pair by its agreed net.
#[tokio::test]
async fn a_window_paid_by_multilateral_netting_pays_each_pair_down_at_every_bank() {
    let c = Consortium::start_limited(&[], LIMIT).await;
    let (ana1, dora2, beto3) = (c.client(0), c.client(1), c.client(2));
    open_ana_and_dora(&ana1, &dora2, "1.000,00").await;
    assert_eq!(
        beto3
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    // Dora pays from a deposit of her own (Ana's Pix is hers only once its decision arrives).
    let (s, _) = dora2
        .call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);
    for (payer, key, amount) in [
        (&ana1, DORA_CPF, "300,00"),
        (&ana1, BETO_CPF, "200,00"),
        (&dora2, BETO_CPF, "100,00"),
    ] {
        let (s, body) = pix(payer, key, amount).await;
        assert_eq!(s, StatusCode::OK, "{key} {amount}: {body}");
    }
    quiet(&c).await;
    let (s, closed) = operator(&c, 0, "/close", Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    // Every bank holds every report and the same plan.
    let mut plans = Vec::new();
    for i in 0..5 {
        let list = until_list(&c, i, |list| !list["windows"][0]["netting"].is_null()).await;
        assert_eq!(list["disagreements"], 0, "bank {}: {list}", i + 1);
        plans.push(list["windows"][0]["netting"]["legs"].clone());
    }
    eprintln!(
        "window 1's netting plan, the same at every bank:\n{}",
        serde_json::to_string_pretty(&plans[0]).unwrap()
    );
    assert!(plans.iter().all(|p| *p == plans[0]), "{plans:?}");
    let legs: Vec<(u64, u64, i64)> = plans[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["debtor"].as_u64().unwrap(),
                l["creditor"].as_u64().unwrap(),
                l["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(legs, vec![(1, 2, 20_000), (1, 3, 30_000)]);

    // Bank 1 pays both legs; bank 2 confirms its own. Nothing moves yet, anywhere.
    for creditor in [2, 3] {
        let (s, paid) = operator(
            &c,
            0,
            "/netting/paid",
            Some(json!({"window": 1, "creditor": creditor})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{paid}");
        assert_eq!(paid["payment"]["payment"]["netting"], true, "{paid}");
        assert!(paid["undelivered"].is_null(), "{paid}");
    }
    // A leg that is not in the plan, and a leg confirmed by its debtor, are refused.
    let (s, body) = operator(
        &c,
        1,
        "/netting/paid",
        Some(json!({"window": 1, "creditor": 3})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let (s, body) = operator(
        &c,
        0,
        "/netting/received",
        Some(json!({"window": 1, "debtor": 2})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let (s, received) = operator(
        &c,
        1,
        "/netting/received",
        Some(json!({"window": 1, "debtor": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{received}");
    assert!(received["undelivered"].is_null(), "{received}");
    // The window is paid by netting at bank 2 now: its bilateral steps are refused.
    let (s, body) = operator(&c, 1, "/paid", Some(json!({"window": 1, "creditor": 3}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body.as_str().unwrap().contains("netting"), "{body}");
    for i in 0..5 {
        let books = audit_of(&c.status(i).await.unwrap());
        assert!(
            books.positions.iter().all(|p| p.by_windows == 0),
            "bank {}: {books:?}",
            i + 1
        );
    }

    // Bank 3 confirms the last leg: every bank moves every pair by its agreed net.
    let (s, received) = operator(
        &c,
        2,
        "/netting/received",
        Some(json!({"window": 1, "debtor": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{received}");
    assert!(received["undelivered"].is_null(), "{received}");
    for i in 0..5 {
        until_list(&c, i, |list| {
            list["windows"][0]["netting"]["settled"] == true
        })
        .await;
    }
    // Bank 1 paid 2 and 3 what it owed each; bank 2 paid 3 its R$ 100,00 through the netting.
    for (i, peer, paid) in [
        (0, 2, -30_000),
        (0, 3, -20_000),
        (1, 1, 30_000),
        (1, 3, -10_000),
        (2, 1, 20_000),
        (2, 2, 10_000),
    ] {
        assert_eq!(
            position(&c, i, peer).await.by_windows,
            paid,
            "bank {} with {peer}",
            i + 1
        );
    }
    for i in 0..5 {
        for peer in 1..=5u8 {
            if usize::from(peer) != i + 1 {
                let p = position(&c, i, peer).await;
                assert_eq!(p.settled, p.by_windows, "bank {} with {peer}: {p:?}", i + 1);
            }
        }
    }
    assert_books(&c).await;
    let (_, list) = operator(&c, 3, "", None).await;
    eprintln!(
        "window 1's netting at bank 4, which paid and received nothing:\n{}",
        serde_json::to_string_pretty(&list["windows"][0]["netting"]).unwrap()
    );
}
