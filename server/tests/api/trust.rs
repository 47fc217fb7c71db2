//! Issue 14: banks that do not trust each other. Each attack a malicious bank holding its own
//! valid key (or anyone on the network) could make, against five real banks: every one gets a
//! clear 4xx or a refusal vote, and moves nothing beyond what the rogue bank's limit allows, which
//! is then on the books as the rogue bank's debt.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every bank may owe any other at most R$ 1.000,00 in this consortium.
const LIMIT: i64 = 100_000;

fn now_ms() -> i64 {
    engine::wall_clock_ms()
}

/// A credit to `cpf`'s key, paid by someone at bank 5 (the rogue bank, in these tests).
fn credit(tx: &str, cpf: &str, amount: i64) -> Vec<u8> {
    let key = cpf.replace(['.', '-'], "");
    json!({ "items": [{ "tx": tx, "parts": [[0, { "Credit": { "key": key, "amount": amount,
        "from": { "name": "Someone", "key_masked": "***", "bank": 5 } } }]] }] })
    .to_string()
    .into_bytes()
}

/// A prepare of one debit under `consent` for account `grantee` at the coordinator.
fn debit(tx: &str, (consent, grantee): &(String, i64), amount: i64) -> Vec<u8> {
    json!({ "items": [{ "tx": tx, "parts": [[0, consent_debit(consent, *grantee, amount, 2)]] }] })
        .to_string()
        .into_bytes()
}

fn commit(tx: &str) -> Vec<u8> {
    json!({ "items": [{ "tx": tx, "commit": true }] })
        .to_string()
        .into_bytes()
}

/// Everything a bank reports about money: audit totals, books and positions.
async fn books(c: &Consortium, i: usize) -> AuditStatus {
    audit_of(&c.status(i).await.expect("bank answers /status"))
}

/// What bank `i` says peer `peer` (1-based) owes it, settled.
async fn position(c: &Consortium, i: usize, peer: u16) -> i64 {
    books(c, i)
        .await
        .positions
        .iter()
        .find(|p| u16::from(p.peer.get()) == peer)
        .map_or(0, |p| p.settled)
}

#[tokio::test]
async fn attacks_by_a_rogue_bank_with_its_own_key_are_refused_or_bounded_by_its_limit() {
    let c = Consortium::start_limited(&[], LIMIT).await;
    let (ana, beto) = (c.client(2), c.client(2));
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
    assert_eq!(
        ana.call("deposit", &[("amount", "100,00"), ("tx_id", &tx_id(3))])
            .await
            .0,
        StatusCode::OK
    );
    // Ana's account at bank 1 may draw on her account at bank 3: she linked them.
    let ana1 = c.client(0);
    assert_eq!(
        ana1.open_account("Ana Lima", ANA_CPF, "ana1@example.com")
            .await,
        StatusCode::OK
    );
    let (status, body) = link(&ana1, &ana, 3, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let consent = consent_of(&ana1, 3).await;
    let before: Vec<AuditStatus> = futures_join(&c).await;
    let (prepare, decide, token) = (
        "/interbank/prepare",
        "/interbank/decide",
        "/interbank/token",
    );

    // 1. The original attack: a credit of R$ 1.000.000,00 and its commit, "as bank 1", sent to
    //    bank 3 but signed with bank 5's key: refused before any handler.
    let t = tx_id(1);
    let forged = c.signer(4).request(
        domain::BankId::try_from(3).unwrap(),
        "POST",
        prepare,
        now_ms(),
        &credit(&t, BETO_CPF, 100_000_000),
    );
    let claims_one = server::peer_auth::Signed {
        from: "1".into(),
        ..forged
    };
    let (status, text) = c
        .post_with(2, prepare, &claims_one, &credit(&t, BETO_CPF, 100_000_000))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "bad signature")
    );

    // 2. A message signed for bank 2, replayed to bank 3; the same message twice to bank 2.
    let for_two = c.signer(0).request(
        domain::BankId::try_from(2).unwrap(),
        "POST",
        "/interbank/probe",
        now_ms(),
        b"null",
    );
    let (status, text) = c.post_with(2, "/interbank/probe", &for_two, b"null").await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "addressed to another bank")
    );
    assert_eq!(
        c.post_with(1, "/interbank/probe", &for_two, b"null")
            .await
            .0,
        StatusCode::OK
    );
    let (status, text) = c.post_with(1, "/interbank/probe", &for_two, b"null").await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "already seen (replay)")
    );

    // 3. Expired and absurd time stamps.
    for ts in [now_ms() - 120_000, i64::MIN, i64::MAX] {
        let (status, text) = c
            .signed_post(
                2,
                prepare,
                4,
                ts,
                &c.planned(4, 2, &credit(&tx_id(5), BETO_CPF, 1)),
            )
            .await;
        assert_eq!(
            (status, text.as_str()),
            (
                StatusCode::UNAUTHORIZED,
                "time stamp outside the accepted window"
            ),
            "ts {ts}"
        );
    }

    // 4. A 17 MiB body (over the 16 MiB message limit), announced before any authentication: refused without reading it.
    let line = oversized_post_status(&c.interbank_url(2), prepare, 17 * 1024 * 1024).await;
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");

    // Nothing of the above moved anything.
    assert_eq!(
        futures_join(&c).await,
        before,
        "no balance, reservation or position changed"
    );

    // 5. Bank 5 with its own key credits Beto at bank 3 beyond its limit: refused.
    let t = tx_id(5);
    let (status, text) = c
        .signed_post(
            2,
            prepare,
            4,
            now_ms(),
            &c.planned(4, 2, &credit(&t, BETO_CPF, LIMIT + 1)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains(r#""reason":{"code":"limit_exceeded","bank":5}"#),
        "{text}"
    );
    // Within its limit it can: but that is then bank 5's debt to bank 3, on bank 3's books.
    let t = tx_id(5);
    let (_, text) = c
        .signed_post(
            2,
            prepare,
            4,
            now_ms(),
            &c.planned(4, 2, &credit(&t, BETO_CPF, 60_000)),
        )
        .await;
    assert!(text.contains(r#""vote":"Prepared""#), "{text}");
    // Committed with bank 3's own signed yes and bank 5's: a certificate bank 3 checks.
    let certificate = c.certificate(4, &t, &[&text]);
    let (_, text) = c.signed_post(2, decide, 4, now_ms(), &certificate).await;
    assert_eq!(text, format!(r#"["{t}"]"#));
    assert_eq!(beto.balances().await, (60_000, 0));
    assert_eq!(
        position(&c, 2, 5).await,
        60_000,
        "bank 5 owes bank 3 what it credited"
    );
    let minted = t.clone();
    // Bank 5 then signs a no to the plan it said yes to: nothing changes, and bank 3 keeps the
    // two contradicting statements (below, in its evidence report) and raises the alarm.
    let (_, text) = c
        .signed_post(2, decide, 4, now_ms(), &c.refusal(4, &t))
        .await;
    assert_eq!(text, format!(r#"["{t}"]"#));
    assert_eq!(beto.balances().await, (60_000, 0), "the commit stands");
    // The rest of its limit is all it can still add, pending or not.
    let (_, text) = c
        .signed_post(
            2,
            prepare,
            4,
            now_ms(),
            &c.planned(4, 2, &credit(&tx_id(5), BETO_CPF, 40_001)),
        )
        .await;
    assert!(text.contains("limit_exceeded"), "{text}");

    // 6a. Bank 5 debits Ana's account at bank 3 for itself: naming it as its client's own
    //     account, or under the consent Ana gave bank 1 (as if it had learnt its id). Neither is
    //     bank 5's to use: refused before anything is reserved.
    let anas = ana.dashboard().await["dashboard"]["account"]["id"].clone();
    let own = json!({ "items": [{ "tx": tx_id(5), "parts": [[0, { "Debit": {
        "source": { "Own": { "account": anas } }, "amount": 100,
        "to": { "name": "Mule", "key_masked": "***", "bank": 5 } } }]] }] })
    .to_string()
    .into_bytes();
    let (_, text) = c
        .signed_post(2, prepare, 4, now_ms(), &c.planned(4, 2, &own))
        .await;
    assert!(text.contains("no_source_account"), "{text}");
    let (_, text) = c
        .signed_post(
            2,
            prepare,
            4,
            now_ms(),
            &c.planned(4, 2, &debit(&tx_id(5), &consent, 100)),
        )
        .await;
    assert!(text.contains("consent_unknown"), "{text}");
    assert_eq!(ana.balances().await, (10_000, 0), "nothing reserved");

    // 6. A decision for someone else's transaction. Bank 1 (playing itself) prepares a debit of
    //    Ana at bank 3; bank 5 then sends "commit" for it: not applied.
    let held = tx_id(1);
    let (_, text) = c
        .signed_post(
            2,
            prepare,
            0,
            now_ms(),
            &c.planned(0, 2, &debit(&held, &consent, 2_500)),
        )
        .await;
    assert!(text.contains(r#""vote":"Prepared""#), "{text}");
    assert_eq!(ana.balances().await, (7_500, 2_500));
    let (status, text) = c.signed_post(2, decide, 4, now_ms(), &commit(&held)).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "[]"),
        "no proof: neither applied nor acknowledged"
    );
    assert_eq!(ana.balances().await, (7_500, 2_500), "not applied");
    // 7. The same id with other parts, by its own coordinator: refused, nothing changes.
    let (_, text) = c
        .signed_post(
            2,
            prepare,
            0,
            now_ms(),
            &c.planned(0, 2, &debit(&held, &consent, 9_000)),
        )
        .await;
    assert!(text.contains("tx_id_reused"), "{text}");
    // A credit under an id bank 3 holds for bank 1, sent by bank 5: refused too.
    let (_, text) = c
        .signed_post(
            2,
            prepare,
            4,
            now_ms(),
            &c.planned(4, 2, &credit(&held, BETO_CPF, 1)),
        )
        .await;
    assert!(text.contains("tx_id_in_use"), "{text}");
    assert_eq!(ana.balances().await, (7_500, 2_500));

    // 8. Tokens with absurd epochs or hops, signed by bank 5: refused, adopted by nobody.
    for wild in [
        json!({"epoch": {"counter": u64::MAX, "origin": 5}, "hop": 1}),
        json!({"epoch": {"counter": 3, "origin": 5}, "hop": u64::MAX}),
    ] {
        let body = wild.to_string().into_bytes();
        let (status, text) = c.signed_post(0, token, 4, now_ms(), &body).await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::OK, r#""Refused""#),
            "{wild}"
        );
    }
    for i in 0..5 {
        let epoch = ring(&c.status(i).await.unwrap()).epoch_counter;
        assert!(epoch < 1_000_000, "bank {} adopted epoch {epoch}", i + 1);
    }

    // Bank 1 never decided its debit: bank 3 asks it, it presumes abort, Ana's money is released.
    let start = std::time::Instant::now();
    while ana.balances().await != (10_000, 0) {
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "the held debit was never resolved"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Bank 3 can prove what bank 5 signed: its operator's report shows bank 5's prepare and
    // commit of that credit, each with a valid signature of bank 5.
    let start = std::time::Instant::now();
    let report = loop {
        let report = c.evidence_report(2, &minted);
        if report.contains("/interbank/decide") || start.elapsed() > SETTLE_PATIENCE {
            break report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        report.contains("request POST /interbank/prepare, bank 5 -> bank 3"),
        "{report}"
    );
    assert!(
        report.contains("request POST /interbank/decide, bank 5 -> bank 3"),
        "{report}"
    );
    assert_eq!(
        report.matches("signature of bank 5 VALID").count(),
        3,
        "its prepare, its commit and its abort: {report}"
    );
    assert!(report.contains(r#""amount":60000"#), "{report}");
    assert!(
        report.contains("EQUIVOCATION by bank 5")
            && report.matches("(signature VALID)").count() == 2,
        "{report}"
    );

    // Bank 3's books balance on their own: its clients hold their deposit plus what bank 5 owes.
    let audit = books(&c, 2).await;
    assert!(audit.books_balance, "{audit:?}");
    assert_eq!(audit.total_available, 10_000 + 60_000);
}

/// The books of all five banks.
async fn futures_join(c: &Consortium) -> Vec<AuditStatus> {
    let mut out = Vec::new();
    for i in 0..5 {
        out.push(books(c, i).await);
    }
    out
}

/// Issue 24's second confirmed attack, as it was made: bank 5, with nothing but its own valid
/// key, moves a bank-2 client's e-mail key to itself by preparing the move at banks 1, 3 and 4
/// and never at bank 2, the owner; then commits it. Every bank checks the owner's
/// signed permit on its own: one bank 5 signed in bank 2's name, or in its own, or none that
/// names this move, is refused everywhere, and the key still pays Dora at bank 2 from every bank.
#[tokio::test]
async fn a_rogue_bank_cannot_move_a_key_without_its_owners_signed_permit() {
    let c = Consortium::start(&[]).await;
    let (dora2, payer1) = (c.client(1), c.client(0));
    assert_eq!(
        dora2
            .open_account("Dora Dias", crate::keys::DORA_CPF, "dora@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        payer1
            .open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    let (s, body) = payer1
        .call("deposit", &[("amount", "50,00"), ("tx_id", &tx_id(1))])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let email = "dora.dias@example.com";
    crate::keys::register_key(&c, 1, &dora2, "email", email, email).await;
    // A client at every bank, to look the key up there afterwards.
    let mut lookups = Vec::new();
    for i in 0..5 {
        let client = c.client(i);
        client
            .open_account("Eva Melo", BETO_CPF, &format!("eva{i}@example.com"))
            .await;
        lookups.push(client);
    }
    let before: Vec<AuditStatus> = futures_join(&c).await;
    let rogue_key = server::identity::BankKey::load_or_create(&c.key_file(4)).unwrap();
    let bank = |n: u16| domain::BankId::try_from(n).unwrap();
    let port = |tx: &str, from: u16, signer: &server::identity::BankKey| {
        let permit = engine::directory::PortPermit::sign(
            signer,
            (domain::PixKey::parse(email).unwrap(), bank(from), bank(5)),
            domain::AccountId(1),
            "Dora Dias".into(),
            "***.828.182-**".into(),
            now_ms() + 60_000,
        );
        let op = engine::directory::KeyOp::Port { permit };
        json!({ "items": [{ "tx": tx, "parts": [[0, { "Key": op }]] }] })
            .to_string()
            .into_bytes()
    };
    let prepare = "/interbank/prepare";
    for (from, why) in [(2, "in the owner's name"), (5, "in its own name")] {
        let t = tx_id(5);
        for i in [0, 2, 3] {
            // Its plan names every member, the owner too, whom it never asks: the permit is
            // what every bank checks.
            let body = c.planned(4, i, &port(&t, from, &rogue_key));
            let (status, text) = c.signed_post(i, prepare, 4, now_ms(), &body).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            assert!(
                text.contains(r#""reason":{"code":"port_not_allowed","bank":2}"#),
                "bank {}, a permit signed by bank 5 {why}: {text}",
                i + 1
            );
            let (status, _) = c
                .signed_post(i, "/interbank/decide", 4, now_ms(), &commit(&t))
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    // A plan that leaves the owner out is refused by every bank, whatever it carries.
    let t = tx_id(5);
    for i in [0, 2, 3] {
        let body = c.planned_with(4, i, &port(&t, 2, &rogue_key), |p| {
            p.parts.retain(|(b, _)| *b != bank(2))
        });
        let (_, text) = c.signed_post(i, prepare, 4, now_ms(), &body).await;
        assert!(
            text.contains(r#""reason":{"code":"invalid_parts","bank":"#),
            "bank {}: {text}",
            i + 1
        );
    }

    // Every bank's copy of the directory still says the key pays Dora at bank 2, and a Pix to it
    // from bank 1 reaches her.
    for (i, client) in lookups.iter().enumerate() {
        let (s, found) = client.call("lookup_receiver", &[("key", email)]).await;
        assert_eq!(s, StatusCode::OK, "{found}");
        assert_eq!(found["bank"]["id"], 2, "bank {}: {found}", i + 1);
    }
    assert_eq!(
        futures_join(&c).await,
        before,
        "no balance, reservation or position moved"
    );
    let (s, body) = crate::keys::pix(&payer1, email, "7,00").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // (Bank 2 applies the commit when phase two reaches it.)
    wait_until(&c, &[1], "the Pix reached Dora at bank 2", |s| {
        audit_of(&s[0]).total_available == 700
    })
    .await;
    assert_eq!(dora2.balances().await, (700, 0), "the Pix went to Dora");
}

/// Issue 24's first confirmed attack, as it was made: bank 5's own client opens an account at
/// bank 1 and lets bank 5 draw on it (a consent the rogue approved for itself); bank 5 then
/// prepares at bank 1 one leg holding a debit of R$ 0,01 under that consent and a credit of
/// R$ 1.000.000.000,00 to Beto, and commits it. Bank 1 took such a leg for a transfer inside
/// itself (no limit, no position) and minted the difference. Now the leg must pay what it
/// credits: refused, and nothing moves.
#[tokio::test]
async fn a_rogue_bank_cannot_mint_money_inside_one_leg() {
    let c = Consortium::start_limited(&[], LIMIT).await;
    let (mule5, mule1, beto1) = (c.client(4), c.client(0), c.client(0));
    for (client, email) in [(&mule5, "mule5@example.com"), (&mule1, "mule1@example.com")] {
        assert_eq!(
            client.open_account("Mula Lima", ANA_CPF, email).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        beto1
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let (s, body) = mule1
        .call("deposit", &[("amount", "1,00"), ("tx_id", &tx_id(1))])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (status, body) = link(&mule5, &mule1, 1, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (consent, grantee) = consent_of(&mule5, 1).await;
    let before: Vec<AuditStatus> = futures_join(&c).await;
    let here = json!({ "name": "Mula Lima", "key_masked": "***", "bank": 1 });
    let beto_key = BETO_CPF.replace(['.', '-'], "");
    let debit = |amount: i64| {
        json!({ "Debit": {
            "source": { "Consent": { "consent": consent, "grantee": grantee } },
            "amount": amount, "to": here } })
    };
    let credit =
        |amount: i64| json!({ "Credit": { "key": beto_key, "amount": amount, "from": here } });
    let billion = 100_000_000_000i64;
    for (parts, what) in [
        (vec![debit(1), credit(billion)], "R$ 0,01 out, R$ 1 bn in"),
        (vec![debit(100), credit(101)], "one cent more in than out"),
        (vec![credit(billion), credit(billion)], "two credits"),
        (vec![debit(1), debit(1), credit(2)], "two debits"),
    ] {
        let t = tx_id(5);
        let parts: Vec<Value> = parts.into_iter().map(|p| json!([0, p])).collect();
        let msg = json!({ "items": [{ "tx": t, "parts": parts }] })
            .to_string()
            .into_bytes();
        let msg = c.planned(4, 0, &msg);
        let (status, text) = c
            .signed_post(0, "/interbank/prepare", 4, now_ms(), &msg)
            .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            text.contains(r#""reason":{"code":"invalid_parts","bank":1}"#),
            "{what}: {text}"
        );
        let (status, _) = c
            .signed_post(0, "/interbank/decide", 4, now_ms(), &commit(&t))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(beto1.balances().await, (0, 0), "Beto got nothing");
    assert_eq!(mule1.balances().await, (100, 0), "nothing drawn");
    assert_eq!(
        futures_join(&c).await,
        before,
        "no balance, reservation or position moved"
    );
    let audit = books(&c, 0).await;
    assert!(audit.books_balance, "{audit:?}");
}

/// Issue 24's third confirmed attack: anyone, with no key, took a bank out of the consortium.
/// Sixteen connections sending headers that name a member, a bogus signature and no body held
/// all of its "unverified body" permits for 15 s, and it answered 503 to every bank. Now the
/// signature covers the body's hash in a header and is checked before any body is read; the
/// inter-bank API has its own listener, bounded per source address, with a header deadline. From
/// another address (127.0.0.2), a stranger floods bank 3 with such requests and with idle
/// connections; an honest Pix to bank 3 goes through meanwhile, and nothing else moves.
#[tokio::test]
async fn a_stranger_flooding_the_interbank_api_does_not_stop_a_bank() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let c = Consortium::start(&[]).await;
    let (ana, beto) = (c.client(0), c.client(2));
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
    let (s, body) = ana
        .call("deposit", &[("amount", "10,00"), ("tx_id", &tx_id(1))])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let target: std::net::SocketAddr = c.interbank_addrs[2].parse().unwrap();
    let stranger = || async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(target).await
    };
    let forged = format!(
        "POST /interbank/prepare HTTP/1.1\r\nhost: bank\r\ncontent-type: application/json\r\n\
         x-consorcio-version: {}\r\nx-consorcio-from: 1\r\nx-consorcio-to: 3\r\n\
         x-consorcio-ts: {}\r\nx-consorcio-nonce: abc{{}}\r\nx-consorcio-signature: {}\r\n\
         x-consorcio-body-sha256: {}\r\ncontent-length: 1000000\r\n\r\n",
        engine::wire::PROTOCOL_VERSION,
        now_ms(),
        "00".repeat(64),
        "ab".repeat(32),
    );
    // 1. The confirmed attack, many times over: each is refused at once, before its body.
    let mut refused = 0;
    for n in 0..64 {
        let mut conn = stranger().await.unwrap();
        conn.write_all(forged.replace("{}", &n.to_string()).as_bytes())
            .await
            .unwrap();
        let mut line = [0u8; 12];
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            conn.read_exact(&mut line),
        )
        .await;
        if let Ok(Ok(_)) = read {
            assert_eq!(&line, b"HTTP/1.1 401", "{}", String::from_utf8_lossy(&line));
            refused += 1;
        }
    }
    assert_eq!(refused, 64, "every forged request refused before its body");
    // 2. Idle connections that never finish their headers: bounded per address (the rest are
    //    closed at once) and closed after the header deadline.
    let mut idle = Vec::new();
    for _ in 0..200 {
        if let Ok(mut conn) = stranger().await {
            let _ = conn
                .write_all(b"POST /interbank/prepare HTTP/1.1\r\n")
                .await;
            idle.push(conn);
        }
    }
    // 3. Meanwhile, an honest Pix from bank 1 to bank 3 commits, and bank 3 serves every bank.
    let (s, body) = crate::keys::pix(&ana, BETO_CPF, "2,00").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    wait_until(&c, &[2], "the Pix reached Beto at bank 3", |s| {
        audit_of(&s[0]).total_available == 200
    })
    .await;
    assert_eq!(beto.balances().await, (200, 0));
    assert_eq!(ana.balances().await, (800, 0));
    // Past the bound of 128 from one address, the stranger's connections were closed at once;
    // and every one is closed by the header deadline (2 s), without a byte of answer.
    let mut closed = 0;
    let mut buf = [0u8; 64];
    for conn in &mut idle {
        let read =
            tokio::time::timeout(std::time::Duration::from_millis(10), conn.read(&mut buf)).await;
        closed += usize::from(matches!(read, Ok(Ok(0)) | Ok(Err(_))));
    }
    assert!(closed >= 200 - 128, "only {closed} of 200 closed at once");
    for conn in &mut idle {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "an idle connection outlived the header deadline"
        );
    }
    assert_settled(&c, &[0, 1, 2, 3, 4], 1_000).await;
}
