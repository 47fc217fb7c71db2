//! The app's assets as a phone on a slow link gets them: compressed when the browser accepts
//! it, revalidated (a 304 without a body) rather than downloaded again.

use crate::support::*;
use reqwest::StatusCode;

#[tokio::test]
async fn the_wasm_is_sent_compressed_and_revalidated_not_downloaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
    let http = reqwest::Client::new();
    let wasm = format!("{}/pkg/consorcio.wasm", bank.url);

    let plain = http.get(&wasm).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.headers()["content-type"], "application/wasm");
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    assert!(plain.headers().get("content-encoding").is_none());
    let last_modified = plain.headers()["last-modified"].clone();
    let plain_len = plain.bytes().await.unwrap().len();

    let gzip = http
        .get(&wasm)
        .header("Accept-Encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.status(), StatusCode::OK);
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.headers()["content-type"], "application/wasm");
    let gzip_len = gzip.bytes().await.unwrap().len();
    eprintln!("consorcio.wasm: {plain_len} bytes, {gzip_len} gzip-compressed");
    assert!(gzip_len * 3 < plain_len, "{gzip_len} of {plain_len}");

    let again = http
        .get(&wasm)
        .header("If-Modified-Since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());

    for asset in ["consorcio.js", "consorcio.css"] {
        let res = http
            .get(format!("{}/pkg/{asset}", bank.url))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        assert_eq!(res.headers()["content-encoding"], "gzip", "{asset}");
    }
    let missing = http
        .get(format!("{}/pkg/nothing.wasm", bank.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// Chromedriver's own command that emulates a network (Chromium only).
#[derive(Debug)]
struct NetworkConditions {
    latency_ms: u32,
    download_bytes_per_s: u32,
    upload_bytes_per_s: u32,
}

impl fantoccini::wd::WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "network_conditions": {
            "offline": false,
            "latency": self.latency_ms,
            "download_throughput": self.download_bytes_per_s,
            "upload_throughput": self.upload_bytes_per_s,
        } });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// The first visit on a phone's 4G link (9 Mbit/s down, 170 ms, a cold cache): how long until
/// the page is interactive (hydrated). A measurement, printed, not a timed assertion: the figure
/// depends on the site built (CI tests the debug one; `run-consortium.sh` serves the optimised
/// one, and the README gives both).
#[tokio::test]
async fn first_load_on_an_emulated_4g_link_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(4, dir.path()).await;
    let driver = crate::browser::start_browser().await;
    let b = &driver.browser;
    b.issue_cmd(NetworkConditions {
        latency_ms: 170,
        download_bytes_per_s: 9_000_000 / 8,
        upload_bytes_per_s: 1_500_000 / 8,
    })
    .await
    .expect("chromedriver emulates the network");
    let start = std::time::Instant::now();
    b.goto(&format!("{}/login", bank.url)).await.unwrap();
    b.wait()
        .at_most(std::time::Duration::from_secs(120))
        .for_element(fantoccini::Locator::XPath("//body[@data-hydrated='true']"))
        .await
        .expect("the page hydrates");
    let interactive = start.elapsed();
    let wasm = std::fs::metadata(site_dir().join("pkg/consorcio.wasm.gz"))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "first load at 9 Mbit/s and 170 ms, cold cache: interactive after {:.2} s (wasm {} bytes gzip-compressed)",
        interactive.as_secs_f64(),
        wasm
    );
}
