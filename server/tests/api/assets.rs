//! The app's assets as a phone on a slow link gets them: compressed when the browser accepts
//! it, under names that carry their hash and so kept by the browser for a year, and
//! revalidated (a 304 without a body) rather than downloaded again when it asks anyway.

use crate::support::*;
use reqwest::StatusCode;

/// The assets' name as build-site.sh wrote it (`consorcio.<hash>`).
fn asset_name() -> String {
    let name = std::fs::read_to_string(site_dir().join("asset-name")).expect("build-site.sh ran");
    name.trim().to_string()
}

#[tokio::test]
async fn the_wasm_is_sent_compressed_under_a_hashed_name_and_cached_for_a_year() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(1, dir.path()).await;
    let http = reqwest::Client::new();
    let name = asset_name();
    let hash = name.strip_prefix("consorcio.").expect("a hashed name");
    assert!(
        hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    // The page names the hashed script, wasm and stylesheet.
    let page = http
        .get(format!("{}/login", bank.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    for ext in ["js", "wasm", "css"] {
        assert!(
            page.contains(&format!("/pkg/{name}.{ext}")),
            "the page names {name}.{ext}"
        );
    }
    assert!(
        !page.contains("/pkg/consorcio.css"),
        "no unhashed name is left"
    );
    let wasm = format!("{}/pkg/{name}.wasm", bank.url);

    let plain = http.get(&wasm).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.headers()["content-type"], "application/wasm");
    assert_eq!(
        plain.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
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

    for asset in [format!("{name}.js"), format!("{name}.css")] {
        let res = http
            .get(format!("{}/pkg/{asset}", bank.url))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        assert_eq!(res.headers()["content-encoding"], "gzip", "{asset}");
        assert!(res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
    }
    // An old build's name is gone, and a 404 is not cached.
    let missing = http
        .get(format!("{}/pkg/consorcio.wasm", bank.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers().get("cache-control").is_none());
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
    let wasm = std::fs::metadata(site_dir().join(format!("pkg/{}.wasm.gz", asset_name())))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "first load at 9 Mbit/s and 170 ms, cold cache: interactive after {:.2} s (wasm {} bytes gzip-compressed)",
        interactive.as_secs_f64(),
        wasm
    );
    // The next visit on the same link: the hashed assets come from the browser's cache.
    let start = std::time::Instant::now();
    b.goto(&format!("{}/", bank.url)).await.unwrap();
    b.wait()
        .at_most(std::time::Duration::from_secs(120))
        .for_element(fantoccini::Locator::XPath("//body[@data-hydrated='true']"))
        .await
        .expect("the page hydrates again");
    eprintln!(
        "next visit on the same link, assets cached: interactive after {:.2} s",
        start.elapsed().as_secs_f64()
    );
}
