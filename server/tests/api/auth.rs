use crate::support::*;
use reqwest::StatusCode;

#[tokio::test]
async fn login_errors_do_not_reveal_whether_an_email_exists() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
    assert_eq!(
        bank.client()
            .open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );

    let c = bank.client();
    let (s1, wrong_password) = c
        .call(
            "login",
            &[
                ("email", "ana@example.com"),
                ("password", "wrong password 1"),
            ],
        )
        .await;
    let (s2, no_such_user) = c
        .call(
            "login",
            &[("email", "nobody@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(wrong_password, no_such_user, "same answer for both");
    assert_eq!(
        c.call("get_dashboard", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, _) = c
        .call(
            "login",
            &[("email", " ANA@example.com "), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        c.dashboard().await["dashboard"]["account"]["email"],
        "ana@example.com"
    );

    assert_eq!(c.call("logout", &[]).await.0, StatusCode::OK);
    assert_eq!(
        c.call("get_dashboard", &[]).await.0,
        StatusCode::UNAUTHORIZED,
        "logged out"
    );
}

#[tokio::test]
async fn a_session_cookie_is_httponly_strict_and_per_bank() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(3, dir.path()).await;
    let res = reqwest::Client::new()
        .post(format!("{}/api/create_account", bank.url))
        .header("Accept", "application/json")
        .form(&[
            ("kind", "individual"),
            ("name1", "Ana"),
            ("tax_id1", ANA_CPF),
            ("email", "a@example.com"),
            ("phone", "11987654321"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("consorcio_session_3="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // A forged token is no session.
    let forged = reqwest::Client::new()
        .post(format!("{}/api/get_dashboard", bank.url))
        .header("Cookie", format!("consorcio_session_3={}", "ab".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn money_moves_only_for_the_session_owner() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
    let ana = bank.client();
    let beto = bank.client();
    ana.open_account("Ana Lima", ANA_CPF, "ana@example.com")
        .await;
    beto.open_account("Beto Reis", BETO_CPF, "beto@example.com")
        .await;
    ana.call("deposit", &[("amount", "100,00"), ("tx_id", "")])
        .await;
    // Beto's session cannot spend Ana's money: a Pix from his session debits his account only.
    let (status, body) = beto
        .call(
            "send_pix",
            &[("key", ANA_CPF), ("amount", "10,00"), ("tx_id", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(ana.balances().await, (10_000, 0));
    // Anonymous callers get nothing, not even a receiver's name.
    let anon = bank.client();
    for (f, form) in [
        ("deposit", vec![("amount", "5"), ("tx_id", "")]),
        (
            "send_pix",
            vec![("key", ANA_CPF), ("amount", "5"), ("tx_id", "")],
        ),
        ("lookup_receiver", vec![("key", ANA_CPF)]),
        ("get_dashboard", vec![]),
    ] {
        assert_eq!(anon.call(f, &form).await.0, StatusCode::UNAUTHORIZED, "{f}");
    }
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_for_a_while_but_not_others() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(2, dir.path()).await;
    assert_eq!(
        bank.client()
            .open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        bank.client()
            .open_account("Beto Reis", BETO_CPF, "beto@example.com")
            .await,
        StatusCode::OK
    );
    let c = bank.client();
    // Five failures are free, the sixth locks.
    for n in 1..=6 {
        let (status, _) = c
            .call(
                "login",
                &[
                    ("email", "ana@example.com"),
                    ("password", "wrong password 1"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    // Even the right password is refused while locked, with a message that says how long.
    let (status, body) = c
        .call(
            "login",
            &[("email", "ana@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.to_string().contains("try again in 1 minute"), "{body}");
    // Another client of the bank, from the same address, is not affected.
    let (status, _) = bank
        .client()
        .call(
            "login",
            &[("email", "beto@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_per_response_script_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(4, dir.path()).await;
    let res = reqwest::get(format!("{}/", bank.url)).await.unwrap();
    let header = |k: &str| {
        res.headers()
            .get(k)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let csp = header("content-security-policy");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
        "{csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("a nonce in the policy")
        .to_string();
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the policy's nonce"
    );
    let again = reqwest::get(format!("{}/", bank.url)).await.unwrap();
    let csp2 = again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(csp, csp2, "a fresh nonce per response");
}

/// A burst of wrong guesses from one address, all at once. Password hashing runs a couple at a
/// time (each hash holds 19 MiB), and each login checks the lock-out again when its turn comes,
/// so no more guesses are hashed than the address's 50 free failures and the one that locks it,
/// plus the other turn in progress; the rest are refused (429), or told the bank is busy (503)
/// if they waited too long for a turn.
#[tokio::test]
async fn a_burst_of_guesses_is_hashed_only_up_to_the_address_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(3, dir.path()).await;
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..90 {
        let c = bank.client();
        let email = format!("guess{n}@example.com");
        calls.spawn(async move {
            c.call(
                "login",
                &[("email", &email), ("password", "wrong password 1")],
            )
            .await
            .0
        });
    }
    let codes = calls.join_all().await;
    let count = |code: StatusCode| codes.iter().filter(|s| **s == code).count();
    let (hashed, locked, busy) = (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS),
        count(StatusCode::SERVICE_UNAVAILABLE),
    );
    assert_eq!(hashed + locked + busy, codes.len(), "{codes:?}");
    assert!(
        hashed <= 50 + 1 + 1,
        "{hashed} guesses were checked against a hash"
    );
    assert!(locked > 0, "the address was locked out: {codes:?}");
}

#[tokio::test]
async fn sign_ups_refused_for_a_taken_cpf_or_email_are_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
    assert_eq!(
        bank.client()
            .open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    // Someone probing which CPFs are clients here: each probe gets the same generic refusal...
    let probe = bank.client();
    for i in 0..11 {
        let email = format!("probe{i}@example.com");
        assert_eq!(
            probe.open_account("Ana Lima", ANA_CPF, &email).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    // ...ten are free; the eleventh locks their address out of sign-up for a while, whatever it
    // sends next.
    let (status, body) = probe
        .call(
            "create_account",
            &[
                ("kind", "individual"),
                ("name1", "Nova Pessoa"),
                ("tax_id1", "314.159.265-90"),
                ("email", "nova@example.com"),
                ("phone", "11987654321"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["TooManyAttempts"]
            .as_str()
            .is_some_and(|m| m.contains("try again in")),
        "{body}"
    );
}
