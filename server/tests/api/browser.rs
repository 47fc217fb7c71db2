//! A real browser (Debian's headless Chromium, driven through chromedriver) opens an account,
//! logs in, deposits and sends a Pix, and sees the new balances after hydration.

use crate::support::*;
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the browser may take to show an expected element; generous for a loaded CI machine.
const WAIT: Duration = Duration::from_secs(30);

pub struct Driver {
    _child: Child,
    _profile: tempfile::TempDir,
    pub browser: Browser,
}

/// Starts chromedriver on a free port (it says when it is ready) and a headless Chromium session.
pub async fn start_browser() -> Driver {
    let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let mut child = Command::new(&chromedriver)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromedriver} ({e}); scripts/test.sh installs chromium-driver"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines.next_line().await.unwrap().expect("chromedriver exited before starting");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            break rest.trim_end_matches('.').trim().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.path().display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    caps.insert("goog:chromeOptions".into(), serde_json::json!({ "args": args, "binary": binary }));
    let browser = ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("starting a Chromium session");
    Driver { _child: child, _profile: profile, browser }
}

/// Screenshots for people to look at, in `test-output/screenshots/` at the workspace root.
pub async fn screenshot(browser: &Browser, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-output/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn wait_for(browser: &Browser, xpath: &str) -> fantoccini::elements::Element {
    match browser.wait().at_most(WAIT).for_element(Locator::XPath(xpath)).await {
        Ok(e) => e,
        Err(e) => {
            screenshot(browser, "failure").await;
            let html = browser.source().await.unwrap_or_default();
            panic!("waiting for {xpath}: {e}\n--- page ---\n{html}");
        }
    }
}

async fn wait_hydrated(browser: &Browser) {
    wait_for(browser, "//body[@data-hydrated='true']").await;
}

async fn fill(browser: &Browser, name: &str, value: &str) {
    let field = browser.find(Locator::Css(&format!("input[name='{name}']"))).await.expect(name);
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn click(browser: &Browser, xpath: &str) {
    wait_for(browser, xpath).await.click().await.unwrap();
}

#[tokio::test]
async fn a_client_opens_an_account_deposits_and_sends_a_pix_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(5, dir.path()).await;
    // The receiver exists already.
    assert!(bank.client().open_account("Beto Reis", BETO_CPF, "beto@example.com").await.is_success());

    let driver = start_browser().await;
    let b = &driver.browser;
    b.goto(&format!("{}/", bank.url)).await.unwrap();
    wait_hydrated(b).await;
    screenshot(b, "titanium-landing").await;
    click(b, "//a[text()='Open an account']").await;
    wait_for(b, "//h1[text()='Open an account']").await;
    wait_hydrated(b).await;

    // A bad CPF is refused with a message under the field, and nothing else changes.
    fill(b, "name1", "Ana Lima").await;
    fill(b, "tax_id1", "529.982.247-24").await;
    fill(b, "email", "ana@example.com").await;
    fill(b, "phone", "(11) 98765-4321").await;
    fill(b, "password", PASSWORD).await;
    click(b, "//button[text()='Open account']").await;
    wait_for(b, "//span[@data-field='tax_id1' and contains(., 'check digits')]").await;
    fill(b, "tax_id1", ANA_CPF).await;
    click(b, "//button[text()='Open account']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 0,00']").await;

    // Log out and back in.
    click(b, "//button[text()='Log out']").await;
    wait_for(b, "//a[text()='Log in']").await;
    b.goto(&format!("{}/login", bank.url)).await.unwrap();
    wait_hydrated(b).await;
    fill(b, "email", "ana@example.com").await;
    fill(b, "password", "wrong password 9").await;
    click(b, "//button[text()='Log in']").await;
    wait_for(b, "//p[@class='error' and text()='E-mail or password is incorrect.']").await;
    fill(b, "password", PASSWORD).await;
    click(b, "//button[text()='Log in']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 0,00']").await;
    wait_hydrated(b).await;

    // Deposit: the balance changes in place, without a reload.
    fill(b, "amount", "150,00").await;
    click(b, "//section[@id='deposit']//button[text()='Deposit']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 150,00']").await;
    wait_for(b, "//tr[@data-kind='deposit' and @data-status='committed']").await;

    // Quick Pix: the receiver's name is shown before confirming.
    fill(b, "pix_key", BETO_CPF).await;
    fill(b, "pix_amount", "25,50").await;
    click(b, "//button[text()='Review']").await;
    wait_for(b, "//strong[@id='receiver-name' and text()='Beto Reis']").await;
    wait_for(b, "//*[contains(., '***.444.777-**')]").await;
    screenshot(b, "titanium-pix-confirm").await;
    click(b, "//button[text()='Confirm Pix']").await;
    wait_for(b, "//strong[@id='available' and text()='R$ 124,50']").await;
    wait_for(b, "//strong[@id='blocked' and text()='R$ 0,00']").await;
    wait_for(b, "//tr[@data-kind='pix_out' and @data-status='committed']").await;
    wait_for(b, "//p[@class='ok' and contains(., 'Pix of R$ 25,50 sent to Beto Reis')]").await;
    screenshot(b, "titanium-dashboard").await;

    // The server agrees with what the page shows.
    let beto = bank.client();
    beto.call("login", &[("email", "beto@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(beto.balances().await, (2_550, 0));
    driver.browser.close().await.unwrap();
}
