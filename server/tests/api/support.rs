//! Starting bank nodes as real processes and talking to them like a browser does.

use rand::distr::{Alphanumeric, SampleString};
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const ANA_CPF: &str = "529.982.247-25";
pub const BETO_CPF: &str = "111.444.777-35";
pub const CIA_CNPJ: &str = "11.222.333/0001-81";
pub const PASSWORD: &str = "senha segura 1";

/// The operators' token every test bank is started with (unless a test sets its own).
pub const OPERATOR_TOKEN: &str = "operator-token-of-the-tests";

pub struct Bank {
    child: Child,
    pub url: String,
}

/// Where `scripts/build-site.sh` put the web assets.
pub fn site_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SITE_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("site")
}

impl Bank {
    /// Starts bank `id` on a free loopback port with its database in `dir`, and waits until it
    /// says it is listening.
    pub async fn start(id: u8, dir: &Path) -> Bank {
        Bank::start_with(id, dir, "127.0.0.1:0", &[]).await
    }

    /// Starts bank `id` at `addr` with extra environment variables (peers, secret, timings).
    pub async fn start_with(id: u8, dir: &Path, addr: &str, env: &[(&str, String)]) -> Bank {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bank-node"))
            // Defaults a test may override: the operators' token the helpers read `/status`
            // with, and room for the many clients every test runs from 127.0.0.1.
            .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("ADDRESS_BUDGET_SCALE", "1000")
            // No Pix limit by default (limits.rs sets its own): what a test moves must not
            // depend on the hour it runs at.
            .env("PIX_DAY_LIMIT_CENTS", UNLIMITED_PIX)
            .env("PIX_NIGHT_LIMIT_CENTS", UNLIMITED_PIX)
            .env("PIX_COMPANY_LIMIT_CENTS", UNLIMITED_PIX)
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .env("BANK_ID", id.to_string())
            .env("BIND_ADDR", addr)
            .env("DATA_DIR", dir)
            .env("SITE_DIR", site_dir())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning bank-node");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next_line()
                .await
                .expect("reading bank-node stdout")
                .expect("bank-node exited before listening");
            if let Some((_, url)) = line.split_once(" listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Bank { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running child has a pid")
    }

    /// Waits (bounded) for the process to exit on its own; its exit status.
    pub async fn wait_exit(
        mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// SIGKILL: no shutdown hook runs, nothing is flushed beyond what was already synced.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("sending SIGKILL");
        self.child.wait().await.expect("reaping bank-node");
    }

    pub fn client(&self) -> Client {
        Client {
            http: english_http(&self.url),
            url: self.url.clone(),
        }
    }

    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join("bank.sqlite3")
    }
}

/// An HTTP client that keeps cookies, starting with the app's language set to English (the
/// tests read the bank's messages; the app speaks Portuguese unless the client chose English).
pub fn english_http(url: &str) -> reqwest::Client {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(
        "i18n_pref_locale=en; Path=/",
        &url.parse::<reqwest::Url>().expect("a bank's URL"),
    );
    reqwest::Client::builder()
        .cookie_provider(jar)
        .build()
        .expect("an HTTP client")
}

/// A browser-like client of one bank: keeps its session cookie.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
}

impl Client {
    /// Calls a server function the way the hydrated app does (form-encoded, JSON answer).
    pub async fn call(
        &self,
        function: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value) {
        self.try_call(function, form)
            .await
            .expect("request to bank-node")
    }

    /// Like [`Client::call`], but a transport failure (the bank is gone) is returned, not a panic.
    pub async fn try_call(
        &self,
        function: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Result<(StatusCode, serde_json::Value)> {
        let res = self
            .http
            .post(format!("{}/api/{function}", self.url))
            .header("Accept", "application/json")
            .form(form)
            .send()
            .await?;
        let status = res.status();
        // The status alone is the acknowledgement: a body cut short (the bank killed mid-answer)
        // still counts as answered, and shows as an empty body to callers that check it.
        let text = res.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Ok((status, json))
    }

    /// Calls a server function that takes JSON (the packet builder's `send_packet`).
    pub async fn call_json(
        &self,
        function: &str,
        body: &serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let res = self
            .http
            .post(format!("{}/api/{function}", self.url))
            .header("Accept", "application/json")
            .json(body)
            .send()
            .await
            .expect("request to bank-node");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// Calls a server function that answers with a redirect (as the hydrated app sees it: the
    /// `Location` header); the status, where to, and the body.
    pub async fn call_redirect(
        &self,
        function: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Option<reqwest::Url>, serde_json::Value) {
        let res = self
            .http
            .post(format!("{}/api/{function}", self.url))
            .header("Accept", "application/json")
            .form(form)
            .send()
            .await
            .expect("request to bank-node");
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| reqwest::Url::parse(v).ok());
        let text = res.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, location, json)
    }

    /// Opens an account with `tax_id` as its Pix key (unless another account already holds
    /// it). Sign-up registers the key; a consortium that has only just started may not have run
    /// that in time, so it is asked again (bounded) until registered.
    pub async fn open_account(&self, name: &str, tax_id: &str, email: &str) -> StatusCode {
        let status = self.sign_up(name, tax_id, email).await;
        if status == StatusCode::OK {
            self.ensure_key(tax_id).await;
        }
        status
    }

    async fn ensure_key(&self, tax_id: &str) {
        let start = std::time::Instant::now();
        loop {
            let (_, keys) = self.call("get_keys", &[]).await;
            if keys["keys"].as_array().is_some_and(|k| !k.is_empty()) {
                return;
            }
            let (s, body) = self
                .call("request_key", &[("kind", "document"), ("value", tax_id)])
                .await;
            // (English or Portuguese: some tests' clients keep the app's default language.)
            // Taken by someone else, or this person's at another bank (a CPF key does not move
            // by a claim): either way this account goes without it.
            let taken = [
                "another account",
                "outra conta",
                "registered at another bank",
                "cadastrada em outro banco",
            ];
            if s == StatusCode::OK || taken.iter().any(|t| body.to_string().contains(t)) {
                return;
            }
            assert!(
                start.elapsed() < SETTLE_PATIENCE,
                "cannot register {tax_id} as a key: {s} {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn sign_up(&self, name: &str, tax_id: &str, email: &str) -> StatusCode {
        let kind = if tax_id.len() > 14 {
            "company"
        } else {
            "individual"
        };
        self.call(
            "create_account",
            &[
                ("kind", kind),
                ("name1", name),
                ("tax_id1", tax_id),
                ("email", email),
                ("phone", "11987654321"),
                ("password", PASSWORD),
                ("register_key", "yes"),
            ],
        )
        .await
        .0
    }

    pub async fn dashboard(&self) -> serde_json::Value {
        let (status, body) = self.call("get_dashboard", &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// (available, blocked) in cents.
    pub async fn balances(&self) -> (i64, i64) {
        let d = self.dashboard().await;
        let a = &d["dashboard"]["account"];
        (
            a["available"].as_i64().unwrap(),
            a["blocked"].as_i64().unwrap(),
        )
    }
}

/// What a client allows when linking an account at another bank.
pub struct Terms<'a> {
    pub per_packet: &'a str,
    pub daily: &'a str,
    pub expires: String,
    /// The password the approving client types again.
    pub password: &'a str,
}

impl Terms<'_> {
    /// Far above what any test moves, for a month.
    pub fn generous() -> Terms<'static> {
        Terms {
            per_packet: "1.000.000,00",
            daily: "",
            expires: days_from_now(30),
            password: PASSWORD,
        }
    }
}

/// The Brasília date `days` from now, as a date input sends it.
/// Opens an account for `name` and, unless `deposit` is empty, deposits that much into it.
pub async fn open(client: &Client, name: &str, cpf: &str, email: &str, deposit: &str) {
    assert_eq!(
        client.open_account(name, cpf, email).await,
        StatusCode::OK,
        "{email}"
    );
    if !deposit.is_empty() {
        let (status, body) = client
            .call("deposit", &[("amount", deposit), ("tx_id", "")])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Waits (bounded) for `client`'s balances to be `expected`: a committed packet is applied at
/// the participants once its decision reaches them, just after the client's answer.
pub async fn settles_to(client: &Client, expected: (i64, i64)) {
    let start = std::time::Instant::now();
    loop {
        let now = client.balances().await;
        if now == expected {
            return;
        }
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "{now:?}, expected {expected:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until none of `client`'s scheduled Pix waits or runs; the list then, and a
/// lookup of one of them by its id.
pub async fn scheduled_once_ended(
    client: &Client,
) -> (
    serde_json::Value,
    impl Fn(&serde_json::Value) -> serde_json::Value,
) {
    let start = std::time::Instant::now();
    let list = loop {
        let (_, list) = client.call("scheduled_pix", &[]).await;
        let ended = list.as_array().is_some_and(|l| {
            l.iter()
                .all(|s| s["status"]["status"] != "waiting" && s["status"]["status"] != "running")
        });
        if ended {
            break list;
        }
        assert!(start.elapsed() < SETTLE_PATIENCE, "not run: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let all = list.clone();
    let of = move |id: &serde_json::Value| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == *id)
            .cloned()
            .unwrap()
    };
    (list, of)
}

pub fn days_from_now(days: i64) -> String {
    domain::time_fmt::date_input(engine::wall_clock_ms() + days * 86_400_000)
}

/// The query parameter `name` of `url`.
pub fn query(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// The link flow as a browser goes through it: `a` (logged in at its bank) starts a link to bank
/// `b_id`, `b` (logged in there) approves `terms`, and `a` finishes it back at its bank. The
/// status and body of the step that failed, or of the last one.
pub async fn link(
    a: &Client,
    b: &Client,
    b_id: u8,
    terms: &Terms<'_>,
) -> (StatusCode, serde_json::Value) {
    let (status, to_b, body) = a
        .call_redirect("start_link", &[("bank", &b_id.to_string())])
        .await;
    let Some(to_b) = to_b.filter(|_| status == StatusCode::OK) else {
        return (status, body);
    };
    assert_eq!(to_b.path(), "/consent", "{to_b}");
    assert!(
        to_b.as_str().starts_with(&b.url),
        "{to_b} is bank {b_id}'s site"
    );
    let (bank, account, state) = (
        query(&to_b, "bank"),
        query(&to_b, "account"),
        query(&to_b, "state"),
    );
    let (status, asked) = b
        .call(
            "consent_request",
            &[("bank", &bank), ("account", &account), ("state", &state)],
        )
        .await;
    if status != StatusCode::OK {
        return (status, asked);
    }
    let form = [
        ("bank", bank.as_str()),
        ("account", account.as_str()),
        ("state", state.as_str()),
        ("per_packet", terms.per_packet),
        ("daily", terms.daily),
        ("expires", terms.expires.as_str()),
        ("password", terms.password),
    ];
    let (status, back, body) = b.call_redirect("approve_consent", &form).await;
    let Some(back) = back.filter(|_| status == StatusCode::OK) else {
        return (status, body);
    };
    assert_eq!(back.path(), "/link/return", "{back}");
    assert!(
        back.as_str().starts_with(&a.url),
        "{back} is the asking bank's site"
    );
    let (status, _, body) = a
        .call_redirect(
            "finish_link",
            &[
                ("code", &query(&back, "code")),
                ("state", &query(&back, "state")),
            ],
        )
        .await;
    (status, body)
}

/// The consent behind `a`'s link to bank `bank` and `a`'s account number: what a debit part
/// under that consent names.
pub async fn consent_of(a: &Client, bank: u8) -> (String, i64) {
    let dash = a.dashboard().await;
    let link = dash["linked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["bank"]["id"] == bank)
        .unwrap_or_else(|| panic!("no link to bank {bank}: {dash}"))
        .clone();
    (
        link["consent"].as_str().unwrap().to_string(),
        dash["dashboard"]["account"]["id"].as_i64().unwrap(),
    )
}

/// A debit part (as the inter-bank prepare carries it) of `amount` under `consent` for the
/// account `grantee` at the coordinator, paying someone at bank `to_bank`.
pub fn consent_debit(consent: &str, grantee: i64, amount: i64, to_bank: u8) -> serde_json::Value {
    serde_json::json!({ "Debit": {
        "source": { "Consent": { "consent": consent, "grantee": grantee } },
        "amount": amount,
        "to": { "name": "Someone", "key_masked": "***", "bank": to_bank } } })
}

/// A fresh client-chosen transaction id for bank `id`, stamped now in Brasília time (a bank
/// refuses a client's id of another bank or another day).
pub fn tx_id(bank: u8) -> String {
    tx_id_at(bank, engine::wall_clock_ms())
}

/// A fresh client-chosen transaction id for bank `id`, stamped at `unix_ms`.
pub fn tx_id_at(bank: u8, unix_ms: i64) -> String {
    format!(
        "E{bank:08}{}{}",
        domain::time_fmt::stamp_brasilia(unix_ms),
        Alphanumeric.sample_string(&mut rand::rng(), 11)
    )
}

/// How long a consortium gets to settle every reservation after its last operation.
pub const SETTLE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits (bounded) until no bank holds a reservation or an undecided transaction, then checks
/// that the money in the consortium is exactly what was deposited.
pub async fn assert_settled(c: &Consortium, banks: &[usize], deposited: i64) {
    let start = std::time::Instant::now();
    loop {
        let mut audits = Vec::new();
        for &i in banks {
            audits.push(c.audit(i).await);
        }
        let settled = audits.iter().all(|a| matches!(a, Some((_, 0, 0, 0))));
        if settled {
            let total: i64 = audits.iter().map(|a| a.unwrap().0).sum();
            assert_eq!(
                total, deposited,
                "money conserved across the consortium: {audits:?}"
            );
            return;
        }
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "reservations left: {audits:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub use engine::wire::{AuditStatus, RingStatus, StatusReport, TwoPcStatus};

/// A bank's ring as its `/status` reports it (all zero when it reports none).
pub fn ring(status: &StatusReport) -> RingStatus {
    status.ring.clone().unwrap_or_default()
}

/// A bank's two-phase commit as its `/status` reports it (all zero when it reports none).
pub fn twopc(status: &StatusReport) -> TwoPcStatus {
    status.twopc.clone().unwrap_or_default()
}

/// A bank's audit totals and books as its `/status` reports them (all zero when it reports none).
pub fn audit_of(status: &StatusReport) -> AuditStatus {
    status.audit.clone().unwrap_or_default()
}

/// How many times a bank has held the token, from its `/status`.
pub fn visits(status: &StatusReport) -> u64 {
    ring(status).visits
}

/// Polls (bounded) until `cond` holds for the statuses of the given banks.
pub async fn wait_until(
    c: &Consortium,
    banks: &[usize],
    what: &str,
    cond: impl Fn(&[StatusReport]) -> bool,
) {
    let start = std::time::Instant::now();
    loop {
        let mut statuses = Vec::new();
        for &i in banks {
            statuses.push(c.status(i).await.unwrap_or_default());
        }
        if cond(&statuses) {
            return;
        }
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "{what}: not reached; last statuses {statuses:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every bank's limit in the test consortium: far above what any test moves.
pub const LIMIT_CENTS: i64 = 100_000_000_000;

/// A Pix limit no test reaches (`domain::money::MAX_BALANCE`, in cents).
pub const UNLIMITED_PIX: &str = "1000000000000000";

/// Creates a bank's key with `bank-node keygen` (as an operator would); its public key.
pub fn keygen(key_file: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bank-node"))
        .arg("keygen")
        .arg(key_file)
        .output()
        .expect("running bank-node keygen");
    assert!(
        out.status.success(),
        "keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Writes the membership file of banks whose inter-bank APIs are at `interbank` and sites at
/// `public` (bank i+1 at index i), with `keys`.
pub fn write_membership(
    path: &Path,
    (interbank, public): (&[String], &[String]),
    keys: &[String],
    limit_cents: i64,
) {
    let banks: Vec<serde_json::Value> = interbank
        .iter()
        .zip(public)
        .zip(keys)
        .enumerate()
        .map(|(i, ((addr, site), key))| {
            let name = ["Eleven", "Automobili", "Secret", "Formula", "Titanium"][i];
            serde_json::json!({ "id": i + 1, "name": name, "url": format!("http://{addr}"),
                "public_url": format!("http://{site}"), "public_key": key,
                "limit_cents": limit_cents })
        })
        .collect();
    std::fs::write(
        path,
        serde_json::to_string_pretty(&serde_json::json!({ "banks": banks })).unwrap(),
    )
    .unwrap();
}

/// Five banks on loopback that know each other: addresses are reserved first (bind to port 0,
/// note the port, release it) because each bank must know its peers' addresses at start. Each
/// bank has its own key (made by `bank-node keygen` in its data directory) and they share one
/// membership file.
pub struct Consortium {
    pub dirs: Vec<tempfile::TempDir>,
    /// Each bank's site (pages, server functions), and its inter-bank API on a listener of its
    /// own (`INTERBANK_BIND_ADDR`), where the membership file's URLs point.
    pub addrs: Vec<String>,
    pub interbank_addrs: Vec<String>,
    pub banks: Vec<Option<Bank>>,
    pub env: Vec<(&'static str, String)>,
    /// Per bank, variables that override `env` (each bank's own view of its peers).
    pub per_bank: Vec<Vec<(&'static str, String)>>,
    /// The plans a test signed as some bank (see [`Consortium::planned`]), by transaction id.
    plans: std::sync::Mutex<std::collections::HashMap<String, engine::twopc::proof::SignedPlan>>,
    /// The membership file's folder (kept for as long as the banks run).
    _shared: tempfile::TempDir,
}

/// Five free loopback addresses for banks that keep theirs across restarts. They are taken below
/// the kernel's ephemeral range (32768 and up on Linux), where the local port of some test's
/// outgoing connection cannot land on one while its bank is down (that made a restarted bank
/// fail to bind, now and then); each is handed out once per test process, checked free first.
pub fn reserve_addrs() -> Vec<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % SPAN;
    let mut out = Vec::new();
    while out.len() < 5 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(
            n < SPAN,
            "no free loopback port left below the ephemeral range"
        );
        let port = FIRST + (start + n) % SPAN;
        let addr = format!("127.0.0.1:{port}");
        if std::net::TcpListener::bind(&addr).is_ok() {
            out.push(addr);
        }
    }
    out
}

impl Consortium {
    pub async fn start(extra: &[(&'static str, &str)]) -> Consortium {
        Consortium::start_limited(extra, LIMIT_CENTS).await
    }

    /// Five banks whose membership file gives every bank the limit `limit_cents`.
    pub async fn start_limited(extra: &[(&'static str, &str)], limit_cents: i64) -> Consortium {
        let (addrs, interbank) = (reserve_addrs(), reserve_addrs());
        let mut c =
            Consortium::prepare((addrs, interbank), vec![Vec::new(); 5], extra, limit_cents);
        for i in 0..5 {
            let bank = c.start_bank(i).await;
            c.banks.push(Some(bank));
        }
        c
    }

    /// Keys, membership file and environment for banks at `addrs`, not started yet.
    fn prepare(
        (addrs, interbank_addrs): (Vec<String>, Vec<String>),
        per_bank: Vec<Vec<(&'static str, String)>>,
        extra: &[(&'static str, &str)],
        limit: i64,
    ) -> Consortium {
        let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
        let keys: Vec<String> = dirs
            .iter()
            .map(|d| keygen(&d.path().join("bank.key")))
            .collect();
        let shared = tempfile::tempdir().unwrap();
        let membership = shared.path().join("membership.json");
        write_membership(&membership, (&interbank_addrs, &addrs), &keys, limit);
        let mut env = vec![("MEMBERSHIP", membership.to_string_lossy().to_string())];
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        Consortium {
            dirs,
            addrs,
            interbank_addrs,
            banks: Vec::new(),
            env,
            per_bank,
            plans: std::sync::Mutex::new(std::collections::HashMap::new()),
            _shared: shared,
        }
    }

    async fn start_bank(&self, i: usize) -> Bank {
        let mut env = self.env.clone();
        env.extend(self.per_bank[i].iter().cloned());
        env.push(("INTERBANK_BIND_ADDR", self.interbank_addrs[i].clone()));
        Bank::start_with(i as u8 + 1, self.dirs[i].path(), &self.addrs[i], &env).await
    }

    /// The membership file every bank loads.
    pub fn membership(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| *k == "MEMBERSHIP")
            .map(|(_, v)| v.clone())
            .expect("a membership file")
    }

    /// `bank-node evidence <tx>` run as bank `i`'s operator would: what it prints.
    pub fn evidence_report(&self, i: usize, tx: &str) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bank-node"))
            .args(["evidence", tx])
            .env("BANK_ID", (i + 1).to_string())
            .env("DATA_DIR", self.dirs[i].path())
            .env("MEMBERSHIP", self.membership())
            .output()
            .expect("running bank-node evidence");
        assert!(
            out.status.success(),
            "evidence: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Bank `i`'s signing key file (a test plays that bank, or a rogue bank holding it).
    pub fn key_file(&self, i: usize) -> PathBuf {
        self.dirs[i].path().join("bank.key")
    }

    /// A signer speaking as bank `i`, with bank `i`'s own key.
    pub fn signer(&self, i: usize) -> server::peer_auth::Signer {
        let key = server::identity::BankKey::load_or_create(&self.key_file(i)).unwrap();
        server::peer_auth::Signer::new(
            domain::BankId::try_from(i as u16 + 1).unwrap(),
            std::sync::Arc::new(key),
        )
    }

    /// A POST to `path` at bank `to`, signed as bank `from` (with that bank's own key), with the
    /// time stamp `ts`: what a bank, or a rogue bank holding its key, can send.
    pub async fn signed_post(
        &self,
        to: usize,
        path: &str,
        from: usize,
        ts: i64,
        body: &[u8],
    ) -> (StatusCode, String) {
        let to_id = domain::BankId::try_from(to as u16 + 1).unwrap();
        let headers = self.signer(from).request(to_id, "POST", path, ts, body);
        self.post_with(to, path, &headers, body).await
    }

    /// `body`, a prepare message for bank `to`, with a plan for each item as bank `from`
    /// signs it with its own key: naming itself, `to` with exactly the item's parts, and every
    /// bank those parts name as their other side (every member, for a key operation). What a
    /// bank, or a rogue bank holding its own key, sends. `change` may alter each plan before
    /// it is signed (a lie in it).
    pub fn planned_with(
        &self,
        from: usize,
        to: usize,
        body: &[u8],
        change: impl Fn(&mut engine::twopc::proof::Plan),
    ) -> Vec<u8> {
        use engine::twopc::proof::{Digest, Plan, SignedPlan};
        use engine::twopc::PartSpec;
        let bank = |i: usize| domain::BankId::try_from(i as u16 + 1).unwrap();
        let mut msg: engine::wire::PrepareMsg = serde_json::from_slice(body).unwrap();
        let key = server::identity::BankKey::load_or_create(&self.key_file(from)).unwrap();
        for item in &mut msg.items {
            let mut banks: std::collections::BTreeSet<domain::BankId> =
                [bank(from), bank(to)].into();
            for (_, spec) in &item.parts {
                match spec {
                    PartSpec::Debit { to, .. } | PartSpec::ReturnDebit { to, .. } => {
                        banks.insert(to.bank);
                    }
                    PartSpec::Credit { from, .. }
                    | PartSpec::ReturnCredit { from, .. }
                    | PartSpec::ChargeCredit { from, .. } => {
                        banks.insert(from.bank);
                    }
                    PartSpec::Key(_) => banks.extend((0..5).map(bank)),
                }
            }
            let mine = Digest(item.parts_sha256());
            let parts = banks
                .into_iter()
                .map(|b| {
                    (
                        b,
                        if b == bank(to) {
                            mine
                        } else {
                            Digest::of(b"elsewhere")
                        },
                    )
                })
                .collect();
            let mut plan = Plan {
                tx: item.tx.clone(),
                coordinator: bank(from),
                parts,
                decide_by_ms: engine::wall_clock_ms() + 60_000,
                // A plan of an older coordinator: it counts in the window open at the bank.
                window: 0,
            };
            change(&mut plan);
            let signed = SignedPlan::sign(&key, plan);
            self.plans
                .lock()
                .unwrap()
                .insert(item.tx.to_string(), signed.clone());
            item.plan = Some(signed);
        }
        serde_json::to_vec(&msg).unwrap()
    }

    /// [`Consortium::planned_with`], with honest plans.
    pub fn planned(&self, from: usize, to: usize, body: &[u8]) -> Vec<u8> {
        self.planned_with(from, to, body, |_| {})
    }

    /// A decide message committing `tx` (planned by [`Consortium::planned`]) with every
    /// participant's yes: bank `from`'s own (it planned it), and the signed yes votes the other
    /// participants gave in `answers` (texts of their prepare answers). Bank `from` then holds
    /// a certificate any bank checks.
    pub fn certificate(&self, from: usize, tx: &str, answers: &[&str]) -> Vec<u8> {
        use engine::twopc::proof::{Ballot, Proof, SignedBallot};
        let plan = self.plans.lock().unwrap()[tx].clone();
        let key = server::identity::BankKey::load_or_create(&self.key_file(from)).unwrap();
        let given: Vec<SignedBallot> = answers
            .iter()
            .flat_map(|a| {
                serde_json::from_str::<engine::wire::PrepareAnswer>(a)
                    .unwrap()
                    .votes
            })
            .collect();
        let me = domain::BankId::try_from(from as u16 + 1).unwrap();
        let votes = plan
            .plan
            .participants()
            .map(|b| {
                if b == me {
                    let ballot = Ballot {
                        tx: plan.plan.tx.clone(),
                        plan: plan.hash(),
                        voter: me,
                        vote: engine::twopc::Vote::Prepared,
                    };
                    SignedBallot::sign(&key, ballot)
                } else {
                    given
                        .iter()
                        .find(|v| v.ballot.voter == b && v.ballot.plan == plan.hash())
                        .cloned()
                        .unwrap_or_else(|| panic!("no yes from bank {b} for {tx}"))
                }
            })
            .collect();
        let proof = Proof::Commit { plan, votes };
        let item = engine::twopc::DecideItem::proved(proof);
        serde_json::to_vec(&engine::wire::DecideMsg { items: vec![item] }).unwrap()
    }

    /// A decide message aborting `tx` (planned by [`Consortium::planned`]) with bank `from`'s
    /// own signed no to its plan.
    pub fn refusal(&self, from: usize, tx: &str) -> Vec<u8> {
        use engine::twopc::proof::{Ballot, Proof, SignedBallot};
        let plan = self.plans.lock().unwrap()[tx].clone();
        let key = server::identity::BankKey::load_or_create(&self.key_file(from)).unwrap();
        let ballot = Ballot {
            tx: plan.plan.tx.clone(),
            plan: plan.hash(),
            voter: domain::BankId::try_from(from as u16 + 1).unwrap(),
            vote: engine::twopc::Vote::Refused {
                leg: 0,
                reason: domain::Refusal::Expired,
            },
        };
        let proof = Proof::Abort {
            plan,
            refusal: SignedBallot::sign(&key, ballot),
        };
        let item = engine::twopc::DecideItem::proved(proof);
        serde_json::to_vec(&engine::wire::DecideMsg { items: vec![item] }).unwrap()
    }

    /// A POST to `path` at bank `to` with the given authentication headers, as they are.
    pub async fn post_with(
        &self,
        to: usize,
        path: &str,
        headers: &server::peer_auth::Signed,
        body: &[u8],
    ) -> (StatusCode, String) {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", self.interbank_url(to)))
            .header("content-type", "application/json");
        for (k, v) in headers.headers() {
            req = req.header(k, v);
        }
        let res = req.body(body.to_vec()).send().await.unwrap();
        let status = res.status();
        (status, res.text().await.unwrap_or_default())
    }

    /// Five banks whose every link (A calls B) goes through its own TCP proxy, so that a test can
    /// cut a bank off from the others in both directions, connections in progress included.
    pub async fn start_with_links(extra: &[(&'static str, &str)]) -> (Consortium, Links) {
        let (addrs, interbank) = (reserve_addrs(), reserve_addrs());
        let mut links = Links { links: Vec::new() };
        let mut per_bank = Vec::new();
        for from in 0..5 {
            let mut peers = Vec::new();
            for (to, addr) in interbank.iter().enumerate() {
                if from != to {
                    let link = Link::start(addr.clone(), from, to).await;
                    peers.push(format!("{}=http://{}", to + 1, link.addr));
                    links.links.push(link);
                }
            }
            per_bank.push(vec![("PEERS", peers.join(","))]);
        }
        let mut c = Consortium::prepare((addrs, interbank), per_bank, extra, LIMIT_CENTS);
        for i in 0..5 {
            let bank = c.start_bank(i).await;
            c.banks.push(Some(bank));
        }
        (c, links)
    }

    /// Takes bank `i` out of the consortium's list (to wait for it, say), without stopping it.
    pub fn take(&mut self, i: usize) -> Bank {
        self.banks[i].take().expect("bank running")
    }

    /// Sends `signal` (STOP, CONT) to bank `i`'s process.
    pub fn signal(&self, i: usize, signal: &str) {
        let pid = self.banks[i].as_ref().expect("bank running").pid();
        let ok = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {pid}");
    }

    pub async fn restart(&mut self, i: usize) {
        let bank = self.start_bank(i).await;
        self.banks[i] = Some(bank);
    }

    /// Restarts bank `i` with extra environment variables (fault injection).
    pub async fn restart_with(&mut self, i: usize, extra: &[(&'static str, &str)]) {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        env.push(("INTERBANK_BIND_ADDR", self.interbank_addrs[i].clone()));
        let bank = Bank::start_with(i as u8 + 1, self.dirs[i].path(), &self.addrs[i], &env).await;
        self.banks[i] = Some(bank);
    }

    /// A browser-like client of bank `i` (valid across restarts: it only needs the address).
    pub fn client(&self, i: usize) -> Client {
        Client {
            http: english_http(&self.url(i)),
            url: self.url(i),
        }
    }

    /// Bank `i`'s audit totals from `/status`: (available, blocked, incoming, prepared).
    pub async fn audit(&self, i: usize) -> Option<(i64, i64, i64, i64)> {
        let a = self.status(i).await?.audit?;
        Some((
            i64::try_from(a.total_available).ok()?,
            i64::try_from(a.total_blocked).ok()?,
            i64::try_from(a.total_incoming).ok()?,
            i64::try_from(a.prepared_transactions).ok()?,
        ))
    }

    pub async fn kill(&mut self, i: usize) {
        if let Some(bank) = self.banks[i].take() {
            bank.kill().await;
        }
    }

    pub fn url(&self, i: usize) -> String {
        format!("http://{}", self.addrs[i])
    }

    /// Where bank `i`'s inter-bank API listens.
    pub fn interbank_url(&self, i: usize) -> String {
        format!("http://{}", self.interbank_addrs[i])
    }

    /// `/status` of bank `i`, or `None` if it does not answer.
    /// Bank `i`'s `/status`, as the banks' own type reads it (`None`: no answer).
    pub async fn status(&self, i: usize) -> Option<StatusReport> {
        let res = reqwest::Client::new()
            .get(format!("{}/status", self.url(i)))
            .bearer_auth(OPERATOR_TOKEN)
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        res.json().await.ok()
    }
}

/// One direction of one link between two banks: a TCP proxy that can be cut.
pub struct Link {
    pub addr: String,
    pub from: usize,
    pub to: usize,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    kill: std::sync::Arc<tokio::sync::Notify>,
}

impl Link {
    async fn start(upstream: String, from: usize, to: usize) -> Link {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let kill = std::sync::Arc::new(tokio::sync::Notify::new());
        let (cut2, kill2) = (cut.clone(), kill.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if cut2.load(Ordering::SeqCst) {
                    continue; // dropped: the caller sees the connection close
                }
                let (upstream, kill) = (upstream.clone(), kill2.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = kill.notified() => {}
                    }
                });
            }
        });
        Link {
            addr,
            from,
            to,
            cut,
            kill,
        }
    }
}

pub struct Links {
    pub links: Vec<Link>,
}

impl Links {
    /// Cuts (or heals) every link to and from bank `i`, closing connections in progress.
    pub fn isolate(&self, i: usize, cut: bool) {
        for l in self.links.iter().filter(|l| l.from == i || l.to == i) {
            l.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
            if cut {
                l.kill.notify_waiters();
            }
        }
    }
}

/// The status line of a POST to `path` announcing a `length`-byte body that is never sent: the
/// bank must answer 413 from the Content-Length alone. (A client still writing the body would see
/// a broken pipe instead of the answer, so this speaks HTTP on a raw socket.)
pub async fn oversized_post_status(url: &str, path: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        socket.read_to_end(&mut answer),
    )
    .await
    .expect("the bank answers an oversized request without waiting for its body")
    .unwrap();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
