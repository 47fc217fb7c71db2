//! Issue 27: each holder of a joint account has their own login. Sign-up takes the second
//! holder's e-mail and password (same rules as the first's, another e-mail); either e-mail opens
//! the same account as that holder, the dashboard greets the holder logged in, and approving a
//! consent asks for the password of that holder, never the other's.

use crate::support::*;
use reqwest::StatusCode;

const CARLA_CPF: &str = "935.411.347-80";
const ANA_PASSWORD: &str = "a frase secreta da Ana";
const BETO_PASSWORD: &str = "a frase secreta do Beto";

/// A client that never chose a language: the bank answers it in Portuguese.
fn portuguese(url: &str) -> Client {
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
        url: url.to_string(),
    }
}

/// The joint account's sign-up form of Ana and Beto, with `changes` to it.
fn joint_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("kind", "individual"),
        ("joint", "yes"),
        ("name1", "Ana Lima"),
        ("tax_id1", ANA_CPF),
        ("name2", "Beto Reis"),
        ("tax_id2", BETO_CPF),
        ("email", "ana@example.com"),
        ("phone", "(21) 99876-5432"),
        ("password", ANA_PASSWORD),
        ("email2", "beto@example.com"),
        ("password2", BETO_PASSWORD),
    ];
    for (name, value) in changes {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    form
}

async fn log_in(client: &Client, email: &str, password: &str) -> (StatusCode, serde_json::Value) {
    client
        .call("login", &[("email", email), ("password", password)])
        .await
}

/// Who the dashboard greets, and the account it shows.
async fn greeted(client: &Client) -> (String, i64) {
    let d = client.dashboard().await;
    (
        d["holder_name"].as_str().unwrap().to_string(),
        d["dashboard"]["account"]["id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn each_holder_of_a_joint_account_logs_in_as_themself_and_approves_with_their_own_password() {
    let c = Consortium::start(&[]).await;
    let carla = c.client(1);
    assert_eq!(
        carla
            .open_account("Carla Dias", CARLA_CPF, "carla@example.com")
            .await,
        StatusCode::OK
    );

    // Bad second logins: a clear Portuguese message on the field, and nothing opened.
    let ana = portuguese(&c.url(1));
    let bad = [
        (joint_form(&[("email2", "")]), "email2", "e-mail"),
        (
            joint_form(&[("email2", "ANA@example.com ")]),
            "email2",
            "e-mail diferente do primeiro",
        ),
        (
            joint_form(&[("password2", "curta")]),
            "password2",
            "pelo menos",
        ),
    ];
    for (form, field, words) in bad {
        let (status, body) = ana.call("create_account", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert_eq!(body["BadInput"]["field"], field, "{body}");
        assert!(
            body["BadInput"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(words)),
            "{body}"
        );
    }
    // The second holder's e-mail is another client's login: refused as any taken e-mail is.
    let (status, body) = ana
        .call(
            "create_account",
            &joint_form(&[("email2", "carla@example.com")]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = log_in(&ana, "ana@example.com", ANA_PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "nothing was opened: {body}"
    );

    let (status, body) = ana.call("create_account", &joint_form(&[])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (name, account) = greeted(&ana).await;
    assert_eq!(name, "Ana Lima", "sign-up logs the first holder in");

    // Beto logs in with his own e-mail and password: the same account, greeting him.
    let beto = c.client(1);
    let (status, body) = log_in(&beto, "beto@example.com", ANA_PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "Ana's password does not open Beto's login: {body}"
    );
    let (status, body) = log_in(&beto, "beto@example.com", BETO_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(greeted(&beto).await, ("Beto Reis".to_string(), account));
    // Ana, logging in again by her own e-mail, is Ana.
    let ana_again = c.client(1);
    let (status, body) = log_in(&ana_again, "ana@example.com", ANA_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(greeted(&ana_again).await, ("Ana Lima".to_string(), account));

    // Approving a consent asks for the password of the holder logged in: Beto's session with
    // Ana's password gives nothing; with his own, the link is made.
    let grantee = c.client(0);
    assert_eq!(
        grantee
            .open_account("Beto Reis", BETO_CPF, "beto1@example.com")
            .await,
        StatusCode::OK
    );
    let terms = |password| Terms {
        password,
        ..Terms::generous()
    };
    let (status, body) = link(&grantee, &beto, 2, &terms(ANA_PASSWORD)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["BadInput"]["field"], "password", "{body}");
    let (_, consents) = beto.call("get_consents", &[]).await;
    assert_eq!(consents["consents"], serde_json::json!([]), "{consents}");
    // Nor does Ana's session take Beto's password.
    let (status, body) = link(&grantee, &ana_again, 2, &terms(BETO_PASSWORD)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["BadInput"]["field"], "password", "{body}");
    let (status, body) = link(&grantee, &beto, 2, &terms(BETO_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, consents) = beto.call("get_consents", &[]).await;
    assert_eq!(
        consents["consents"].as_array().map(Vec::len),
        Some(1),
        "{consents}"
    );
}

/// The joint sign-up in a real browser, in Portuguese at 390 px: the second holder's login
/// appears with the joint box, an e-mail given twice is refused under its field, and each holder
/// then logs in and is greeted by name.
#[tokio::test]
async fn the_joint_sign_up_asks_each_holder_for_a_login_in_a_real_browser() {
    use crate::browser::{
        click, fill, screenshot, sideways, start_browser, wait_for, wait_hydrated,
    };

    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(2, dir.path()).await;
    let driver = start_browser().await;
    let b = &driver.browser;
    b.set_window_size(390, 1400).await.unwrap();
    b.goto(&format!("{}/signup", bank.url)).await.unwrap();
    wait_hydrated(b).await;
    click(b, "//input[@name='joint']").await;
    wait_for(
        b,
        "//fieldset[contains(@class, 'second-login') and not(contains(@class, 'hidden'))]",
    )
    .await;
    fill(b, "name1", "Ana Lima").await;
    fill(b, "tax_id1", "52998224725").await;
    fill(b, "name2", "Beto Reis").await;
    fill(b, "tax_id2", "11144477735").await;
    fill(b, "email", "ana@example.com").await;
    fill(b, "phone", "21998765432").await;
    fill(b, "password", ANA_PASSWORD).await;
    fill(b, "email2", "ana@example.com").await;
    fill(b, "password2", BETO_PASSWORD).await;
    click(b, "//input[@name='register_key']").await;
    click(b, "//button[text()='Abrir conta']").await;
    wait_for(
        b,
        "//span[@data-field='email2' and contains(., 'e-mail diferente do primeiro')]",
    )
    .await;
    fill(b, "email2", "beto@example.com").await;
    assert_eq!(sideways(b, "joint sign-up").await, None);
    screenshot(b, "pt-cadastro-conjunta").await;
    click(b, "//button[text()='Abrir conta']").await;
    wait_for(b, "//h1[text()='Olá, Ana Lima']").await;

    click(b, "//button[text()='Sair']").await;
    wait_for(b, "//a[text()='Entrar']").await;
    b.goto(&format!("{}/login", bank.url)).await.unwrap();
    wait_hydrated(b).await;
    fill(b, "email", "beto@example.com").await;
    fill(b, "password", BETO_PASSWORD).await;
    click(b, "//button[text()='Entrar']").await;
    wait_for(b, "//h1[text()='Olá, Beto Reis']").await;
}
