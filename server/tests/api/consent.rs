//! Issue 15: no bank debits a client's account for another bank without that client's consent,
//! given at the bank that holds the money and checked there before anything is reserved.
//!
//! The takeover as it was reproduced: Mallory opened an account at Eleven with a victim's CPF;
//! her dashboard listed the victim's R$ 5.000 at Automobili, and a packet with `source_bank: 2`
//! moved all of it to a mule at Secret.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const VERA_CPF: &str = "390.533.447-05";
const MULE_CPF: &str = "123.456.789-09";
const CARLA_CPF: &str = "935.411.347-80";
const DUDA_CPF: &str = "046.858.318-10";
const DANI_CPF: &str = "271.828.182-05";

fn leg(source: u8, key: &str, bank: u8, amount: &str) -> Value {
    json!({ "source_bank": source.to_string(), "receiver_key": key, "receiver_bank": bank.to_string(), "amount": amount })
}

/// Submits a packet (retrying while the consortium is momentarily busy); its outcome.
async fn packet(client: &Client, legs: Vec<Value>) -> Value {
    // An id the bank made (its code, its day by its own clock, which a test may run ahead).
    let id = client.dashboard().await["packet_tx_id"].clone();
    let body = json!({ "tx_id": id, "legs": legs });
    let start = std::time::Instant::now();
    loop {
        let (status, answer) = client.call_json("send_packet", &body).await;
        if status == StatusCode::OK {
            return answer;
        }
        assert!(
            status == StatusCode::SERVICE_UNAVAILABLE && start.elapsed() < SETTLE_PATIENCE,
            "{status} {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The packet aborted, its leg `leg` refused by bank `bank` with `code`.
fn assert_refused(outcome: &Value, leg: usize, code: &str, bank: u8) {
    assert_eq!(outcome["status"], "Aborted", "{outcome}");
    assert_eq!(
        outcome["legs"][leg]["error"],
        json!({ "code": code, "bank": bank }),
        "{outcome}"
    );
}

/// Bank `i`'s reservations: (blocked, prepared transactions).
async fn reservations(c: &Consortium, i: usize) -> (i64, i64) {
    let a = c.audit(i).await.expect("bank answers /status");
    (a.1, a.3)
}

#[tokio::test]
async fn the_cpf_takeover_is_refused_and_consents_are_checked_where_the_money_is() {
    let mut c = Consortium::start(&[("PREPARE_TIMEOUT_MS", "10000")]).await;
    let (mallory, vera2, mule3) = (c.client(0), c.client(1), c.client(2));
    open(
        &vera2,
        "Vera Souza",
        VERA_CPF,
        "vera@example.com",
        "5.000,00",
    )
    .await;
    open(&mallory, "Vera Souza", VERA_CPF, "mallory@example.com", "").await;
    open(&mule3, "Mula Silva", MULE_CPF, "mula@example.com", "").await;

    // 1. The takeover: a CPF opens nothing at another bank. Mallory sees no account at
    //    Automobili, and a packet drawing on it is refused by her own bank before any message.
    let dash = mallory.dashboard().await;
    assert_eq!(dash["linked"], json!([]), "{dash}");
    let outcome = packet(&mallory, vec![leg(2, MULE_CPF, 3, "5.000,00")]).await;
    assert_refused(&outcome, 0, "no_consent", 2);
    // Nor can she approve a consent at Automobili: that takes Vera's session there.
    let (status, _, _) = mallory.call_redirect("start_link", &[("bank", "2")]).await;
    assert_eq!(status, StatusCode::OK, "starting is hers to do");
    let stranger = c.client(1);
    let (status, body) = stranger
        .call(
            "consent_request",
            &[("bank", "1"), ("account", "1"), ("state", "abc")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = stranger
        .call(
            "approve_consent",
            &[
                ("bank", "1"),
                ("account", "1"),
                ("state", "abc"),
                ("per_packet", "5.000,00"),
                ("expires", &days_from_now(30)),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // A made-up code and state are refused at her bank.
    let (status, body) = mallory
        .call(
            "finish_link",
            &[("code", "GuessedCode123"), ("state", "GuessedState123")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(vera2.balances().await, (500_000, 0));
    assert_eq!(mule3.balances().await, (0, 0));

    // 2. Ana links her account at Automobili to Eleven: at most R$ 100,00 per packet and
    //    R$ 150,00 a day. A packet within the limits commits.
    let (ana1, ana2, beto1) = (c.client(0), c.client(1), c.client(0));
    open(&ana1, "Ana Lima", ANA_CPF, "ana1@example.com", "100,00").await;
    open(&ana2, "Ana Lima", ANA_CPF, "ana2@example.com", "1.000,00").await;
    open(&beto1, "Beto Reis", BETO_CPF, "beto@example.com", "").await;
    // Approving asks for her password again: a wrong one gives no code, links nothing.
    let wrong = Terms {
        per_packet: "100,00",
        daily: "150,00",
        expires: days_from_now(30),
        password: "not her password",
    };
    let (status, body) = link(&ana1, &ana2, 2, &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("password"), "{body}");
    let (_, consents) = ana2.call("get_consents", &[]).await;
    assert_eq!(consents["consents"], serde_json::json!([]), "{consents}");
    let limited = Terms {
        password: PASSWORD,
        ..wrong
    };
    let (status, body) = link(&ana1, &ana2, 2, &limited).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dash = ana1.dashboard().await;
    assert_eq!(dash["linked"][0]["status"], "Active", "{dash}");
    assert_eq!(dash["linked"][0]["available"], 100_000, "{dash}");
    assert_eq!(dash["contacts"]["recent"], json!([]), "{dash}");
    let outcome = packet(&ana1, vec![leg(2, BETO_CPF, 1, "80,00")]).await;
    assert_eq!(outcome["status"], "Committed", "{outcome}");
    // Beto, paid in a packet, is one to pay again (issue 27), as after a Pix.
    let recent = ana1.dashboard().await["contacts"]["recent"].clone();
    assert_eq!(
        (
            recent[0]["key"].as_str(),
            recent[0]["name"].as_str(),
            recent[0]["bank"].as_u64()
        ),
        (Some("11144477735"), Some("Beto R."), Some(1)),
        "{recent}"
    );
    settles_to(&ana2, (92_000, 0)).await;
    let (_, consents) = ana2.call("get_consents", &[]).await;
    assert_eq!(consents["consents"][0]["used_today"], 8_000, "{consents}");

    // 3. Over the limit per packet, then over the day's: refused by Automobili, nothing held.
    let outcome = packet(&ana1, vec![leg(2, BETO_CPF, 1, "100,01")]).await;
    assert_refused(&outcome, 0, "consent_packet_limit", 2);
    let outcome = packet(
        &ana1,
        vec![leg(1, BETO_CPF, 1, "1,00"), leg(2, BETO_CPF, 1, "80,00")],
    )
    .await;
    assert_refused(&outcome, 1, "consent_daily_limit", 2);
    assert_eq!(
        ana1.balances().await,
        (10_000, 0),
        "the other leg aborted too"
    );
    assert_eq!(ana2.balances().await, (92_000, 0));
    assert_eq!(reservations(&c, 1).await, (0, 0));

    // 4. Another account at Eleven: no link, refused at Eleven; and the consent named for it by
    //    Eleven itself (a bank speaking for the wrong account): refused at Automobili.
    let outcome = packet(&beto1, vec![leg(2, MULE_CPF, 3, "1,00")]).await;
    assert_refused(&outcome, 0, "no_consent", 2);
    assert_eq!(
        beto1.dashboard().await["contacts"]["recent"],
        json!([]),
        "a packet that failed adds no one to pay again"
    );
    let (consent, _) = consent_of(&ana1, 2).await;
    let betos = beto1.dashboard().await["dashboard"]["account"]["id"]
        .as_i64()
        .unwrap();
    let body = json!({ "items": [{ "tx": tx_id(1), "parts": [[0, consent_debit(&consent, betos, 100, 3)]] }] })
        .to_string();
    let body = c.planned(0, 1, body.as_bytes());
    let (_, text) = c
        .signed_post(1, "/interbank/prepare", 0, now_ms(), &body)
        .await;
    assert!(text.contains("consent_unknown"), "{text}");
    assert_eq!(reservations(&c, 1).await, (0, 0));

    // 5. A joint account's co-holder: Duda opened one at Eleven naming Carla, who has her own
    //    account at Automobili. Duda's packet from it is refused; Carla's money stays.
    let (carla2, duda1) = (c.client(1), c.client(0));
    open(
        &carla2,
        "Carla Dias",
        CARLA_CPF,
        "carla@example.com",
        "700,00",
    )
    .await;
    let (status, body) = duda1
        .call(
            "create_account",
            &[
                ("kind", "individual"),
                ("joint", "on"),
                ("name1", "Duda Reis"),
                ("tax_id1", DUDA_CPF),
                ("name2", "Carla Dias"),
                ("tax_id2", CARLA_CPF),
                ("email", "duda@example.com"),
                ("phone", "11987654321"),
                ("password", PASSWORD),
                // Carla logs in to it with her own e-mail and password.
                ("email2", "carla.conjunta@example.com"),
                ("password2", "a senha da Carla"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(duda1.dashboard().await["linked"], json!([]));
    let outcome = packet(&duda1, vec![leg(2, MULE_CPF, 3, "700,00")]).await;
    assert_refused(&outcome, 0, "no_consent", 2);
    assert_eq!(carla2.balances().await, (70_000, 0));

    // 6. Revoked while the packet waits in Eleven's queue: Eleven holds the token for a round
    //    whose participant (Titanium) is frozen; a packet sent meanwhile waits for the next
    //    visit; Ana revokes at Automobili; when the packet reaches Automobili it is refused.
    let (status, body) = link(&ana1, &ana2, 2, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dani5 = c.client(4);
    open(&dani5, "Dani Souza", DANI_CPF, "dani@example.com", "").await;
    wait_until(&c, &[0, 1, 2, 3, 4], "every bank visited 3 times", |s| {
        s.iter().all(|s| visits(s) >= 3)
    })
    .await;
    // Dani's name is looked up now (Eleven keeps it a minute), so that the packet to her needs
    // nothing from Titanium before its prepare.
    let (status, body) = ana1
        .call("lookup_receiver", &[("key", DANI_CPF), ("bank", "5")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    c.signal(4, "STOP");
    let first = {
        let ana1 = ana1.clone();
        tokio::spawn(async move { packet(&ana1, vec![leg(1, DANI_CPF, 5, "1,00")]).await })
    };
    wait_until(&c, &[0], "Eleven holds the token in its round", |s| {
        ring(&s[0]).holding
            && twopc(&s[0]).packets_in_flight == 1
            && ring(&s[0]).last_seen_ago_ms >= 300
    })
    .await;
    let queued = {
        let ana1 = ana1.clone();
        tokio::spawn(async move { packet(&ana1, vec![leg(2, BETO_CPF, 1, "50,00")]).await })
    };
    wait_until(&c, &[0], "the second packet is queued", |s| {
        twopc(&s[0]).packets_in_flight == 2
    })
    .await;
    let (_, consents) = ana2.call("get_consents", &[]).await;
    let active = consents["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "Active")
        .expect("the new consent")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = ana2.call("revoke_consent", &[("id", &active)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    c.signal(4, "CONT");
    first.await.unwrap();
    let outcome = queued.await.unwrap();
    assert_refused(&outcome, 0, "consent_revoked", 2);
    assert_eq!(ana2.balances().await, (92_000, 0));
    let dash = ana1.dashboard().await;
    assert_eq!(dash["linked"][0]["status"], "Ended", "{dash}");
    assert_eq!(dash["linked"][0]["available"], Value::Null, "{dash}");

    // Vera's money never moved.
    assert_eq!(vera2.balances().await, (500_000, 0));

    // 7. Expired: a new consent for 30 days, then 40 days pass (Eleven's and Automobili's
    //    clocks run 40 days ahead: a plan is timed by its coordinator's clock, and a
    //    participant refuses one whose deadline its own clock has passed).
    let (status, body) = link(&ana1, &ana2, 2, &Terms::generous()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let forty_days = (40 * 86_400_000i64).to_string();
    for i in [0, 1] {
        c.kill(i).await;
        c.restart_with(i, &[("FAULT_CLOCK_SKEW_MS", &forty_days)])
            .await;
    }
    // Her session at Eleven ended with its clock 40 days ahead: she logs in again.
    let (status, body) = ana1
        .call(
            "login",
            &[("email", "ana1@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let outcome = packet(&ana1, vec![leg(2, BETO_CPF, 1, "1,00")]).await;
    assert_refused(&outcome, 0, "consent_expired", 2);
    assert_eq!(reservations(&c, 1).await, (0, 0));
    let dash = ana1.dashboard().await;
    assert_eq!(dash["linked"][0]["status"], "Ended", "{dash}");

    // Everything deposited is where it should be (sessions at Automobili ended with its clock
    // 40 days ahead; Vera's balance was checked before).
    assert_settled(&c, &[0, 1, 2, 3, 4], 500_000 + 10_000 + 100_000 + 70_000).await;
}

/// The login a consent page asks for comes back to that page, and only to a page of this bank.
#[tokio::test]
async fn login_returns_only_to_a_page_of_this_bank() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(2, dir.path()).await;
    let ana = bank.client();
    assert_eq!(
        ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    for (next, expected) in [
        (
            "/consent?bank=1&account=7&state=abc",
            "/consent?bank=1&account=7&state=abc",
        ),
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("", "/dashboard"),
    ] {
        let c = bank.client();
        // The Location is relative: read the raw header.
        let raw = c
            .http
            .post(format!("{}/api/login", bank.url))
            .header("Accept", "application/json")
            .form(&[
                ("email", "ana@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), StatusCode::OK);
        assert_eq!(
            raw.headers()["location"].to_str().unwrap(),
            expected,
            "next {next:?}"
        );
    }
}

fn now_ms() -> i64 {
    engine::wall_clock_ms()
}

/// Issue 27: the consent page names who holds the asking account, as the asking bank tells it
/// over the signed channel; that bank tells it only for a link its client started with the bank
/// that asks, while it waits, and tells nothing else.
#[tokio::test]
async fn the_consent_page_names_the_asking_holder_and_only_for_that_link() {
    let c = Consortium::start(&[]).await;
    let (ana1, ana2) = (c.client(0), c.client(1));
    for (client, email) in [(&ana1, "ana1@example.com"), (&ana2, "ana2@example.com")] {
        assert_eq!(
            client.open_account("Ana Maria Lima", ANA_CPF, email).await,
            StatusCode::OK
        );
    }
    let (status, to_b, body) = ana1.call_redirect("start_link", &[("bank", "2")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let to_b = to_b.expect("sent to bank 2's consent page");
    let (bank, account, state) = (
        query(&to_b, "bank"),
        query(&to_b, "account"),
        query(&to_b, "state"),
    );
    let (status, asked) = ana2
        .call(
            "consent_request",
            &[("bank", &bank), ("account", &account), ("state", &state)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    assert_eq!(
        asked["grantee_holder"],
        json!({ "name": "Ana L.", "document": "***.982.247-**" })
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let account: i64 = account.parse().unwrap();
    // Asked by another bank than the link's (Secret), for another account, with another
    // state, or with a state too long: no name.
    for (from, body, expected) in [
        (2, json!({ "state": state, "account": account }), "null"),
        (1, json!({ "state": state, "account": account + 1 }), "null"),
        (1, json!({ "state": "guessed", "account": account }), "null"),
    ] {
        let (s, text) = c
            .signed_post(
                0,
                "/interbank/consent/holder",
                from,
                now,
                body.to_string().as_bytes(),
            )
            .await;
        assert_eq!((s, text.as_str()), (StatusCode::OK, expected), "{body}");
    }
    let long = json!({ "state": "x".repeat(65), "account": account }).to_string();
    let (s, _) = c
        .signed_post(0, "/interbank/consent/holder", 1, now, long.as_bytes())
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Once the link is finished, its state is gone and so is the name.
    let terms = Terms::generous();
    let account_text = account.to_string();
    let form = [
        ("bank", bank.as_str()),
        ("account", account_text.as_str()),
        ("state", state.as_str()),
        ("per_packet", terms.per_packet),
        ("daily", terms.daily),
        ("expires", terms.expires.as_str()),
        ("password", terms.password),
    ];
    let (status, back, body) = ana2.call_redirect("approve_consent", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let back = back.expect("sent back to bank 1");
    let (status, _, body) = ana1
        .call_redirect(
            "finish_link",
            &[
                ("code", &query(&back, "code")),
                ("state", &query(&back, "state")),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (s, text) = c
        .signed_post(
            0,
            "/interbank/consent/holder",
            1,
            now,
            json!({ "state": state, "account": account })
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!((s, text.as_str()), (StatusCode::OK, "null"));
    // With the asking bank down, the page still opens, naming the account only.
    let (status, to_b, body) = ana1.call_redirect("start_link", &[("bank", "2")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let to_b = to_b.unwrap();
    let mut c = c;
    c.kill(0).await;
    let (status, asked) = ana2
        .call(
            "consent_request",
            &[
                ("bank", &query(&to_b, "bank")),
                ("account", &query(&to_b, "account")),
                ("state", &query(&to_b, "state")),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    assert_eq!(asked["grantee_holder"], Value::Null);
}

/// Issue 27: favourites come from a lookup, are bounded, and bad input changes nothing; a Pix
/// sent makes its receiver the newest recent one.
#[tokio::test]
async fn favourites_and_recent_receivers_are_kept_by_the_bank() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
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
    let (s, body) = ana
        .call(
            "send_pix",
            &[
                ("key", "111.444.777-35"),
                ("amount", "R$ 1,50"),
                ("tx_id", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let dash = ana.dashboard().await;
    assert_eq!(
        dash["contacts"]["recent"],
        json!([{ "key": "11144477735", "key_shown": "***.444.777-**", "name": "Beto R.",
                 "document": "***.444.777-**", "bank": 1 }])
    );
    for (key, expected) in [
        ("<script>", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
        ("nobody@example.com", StatusCode::NOT_FOUND),
    ] {
        let (s, body) = ana.call("add_favourite", &[("key", key)]).await;
        assert_eq!(s, expected, "{key}: {body}");
    }
    assert_eq!(ana.dashboard().await["contacts"]["favourites"], json!([]));
    let (s, body) = ana.call("add_favourite", &[("key", BETO_CPF)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["favourites"][0]["name"], "Beto R.");
    let (s, body) = ana
        .call("remove_favourite", &[("key", "11144477735")])
        .await;
    assert_eq!((s, body["favourites"].clone()), (StatusCode::OK, json!([])));
}
