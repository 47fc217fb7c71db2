//! Load generator for the five banks of the consortium, over their public HTTP API only.
//!
//! 1. Opens `--accounts` accounts at each bank. Person k holds an account at bank (k mod 5)+1 and
//!    another at ((k+1) mod 5)+1 (same CPF), so that packets can draw from two source banks; each
//!    account is funded with a deposit.
//! 2. Runs `--clients` concurrent clients (one session, one cookie jar, per client and bank; each
//!    client links its two accounts both ways, approving the consent at the other bank) doing
//!    deposits, Pix inside a bank, Pix between banks and 3-leg packets from two source banks, each
//!    with a client-chosen transaction id; a 503 or a transport error is retried with the same id.
//! 3. Prints throughput and latency per kind (and writes them as JSON with `--json`).
//! 4. Checks conservation: once every bank has nothing blocked, incoming or prepared, the money
//!    available at the five banks equals what was there before plus every deposit that succeeded.
//!    Exits non-zero when it does not.

use engine::wire::StatusReport;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

const USAGE: &str = "\
usage: loadgen --banks URL1,URL2,URL3,URL4,URL5 [options]
  --banks LIST            the five banks' base URLs, bank ids 1..5 in order (required)
  --accounts N            accounts opened at each bank (default 10; at least 2)
  --clients C             concurrent clients (default 8)
  --duration-secs S       run the workload for S seconds (default 10) ...
  --ops K                 ... or for K operations in all
  --json PATH             also write the results as JSON to PATH
  --mix D,I,X,P           weights of deposit, intra-bank Pix, inter-bank Pix, packet (default 1,1,1,1)
  --retries R             re-sends of the same id after a 503 or transport error (default 4)
  --setup-concurrency M   parallel account openings / logins (Argon2 is slow; default 4)
  --settle-secs T         how long to wait for the banks to settle before the audit (default 30)
  --seed X                random seed (default: from the clock)
  --label TEXT            a name for this run, copied into the report";

const PASSWORD: &str = "senha segura 1";
const FUNDING_CENTS: i64 = 100_000; // R$ 1.000,00 per account
const KINDS: [&str; 4] = ["deposit", "pix_intra", "pix_inter", "packet"];

// ---------------------------------------------------------------------------------------------
// Arguments

#[derive(Clone, Debug)]
struct Args {
    banks: Vec<String>,
    accounts: usize,
    clients: usize,
    duration: Option<Duration>,
    ops: Option<u64>,
    json: Option<String>,
    mix: [u32; 4],
    retries: u32,
    setup_concurrency: usize,
    settle: Duration,
    seed: u64,
    label: Option<String>,
}

fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        banks: Vec::new(),
        accounts: 10,
        clients: 8,
        duration: None,
        ops: None,
        json: None,
        mix: [1, 1, 1, 1],
        retries: 4,
        setup_concurrency: 4,
        settle: Duration::from_secs(30),
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        label: None,
    };
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.trim()
                .parse()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        }
        match flag.as_str() {
            "--banks" => {
                args.banks = value()?
                    .split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "--accounts" => args.accounts = num(&flag, value()?)?,
            "--clients" => args.clients = num(&flag, value()?)?,
            "--duration-secs" => {
                args.duration = Some(Duration::from_secs_f64(num::<f64>(&flag, value()?)?))
            }
            "--ops" => args.ops = Some(num(&flag, value()?)?),
            "--json" => args.json = Some(value()?),
            "--retries" => args.retries = num(&flag, value()?)?,
            "--setup-concurrency" => args.setup_concurrency = num(&flag, value()?)?,
            "--settle-secs" => args.settle = Duration::from_secs_f64(num::<f64>(&flag, value()?)?),
            "--seed" => args.seed = num(&flag, value()?)?,
            "--label" => args.label = Some(value()?),
            "--mix" => {
                let v = value()?;
                let w: Vec<u32> = v
                    .split(',')
                    .map(|p| num(&flag, p.to_string()))
                    .collect::<Result<_, _>>()?;
                if w.len() != 4 || w.iter().all(|&x| x == 0) {
                    return Err("--mix takes four weights, not all zero".into());
                }
                args.mix = [w[0], w[1], w[2], w[3]];
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if args.banks.len() != 5 {
        return Err(format!("--banks needs five URLs, got {}", args.banks.len()));
    }
    if args.accounts < 2 {
        return Err(
            "--accounts must be at least 2 (packets need people with accounts at two banks)".into(),
        );
    }
    if args.clients == 0 || args.setup_concurrency == 0 {
        return Err("--clients and --setup-concurrency must be positive".into());
    }
    if args.duration.is_some() && args.ops.is_some() {
        return Err("give --duration-secs or --ops, not both".into());
    }
    if args.duration.is_none() && args.ops.is_none() {
        args.duration = Some(Duration::from_secs(10));
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// Identifiers

/// A CPF from its 9 base digits, with its two check digits; `None` where there is none (all
/// digits equal).
fn cpf_from_base(base: u32) -> Option<String> {
    domain::Cpf::completing(base)
        .ok()
        .map(|c| domain::TaxId::Cpf(c).digits())
}

/// Transaction ids unique to this run: `E` + bank code + stamp + run tag (4) + counter (7, base 36).
struct TxIds {
    tag: String,
    next: AtomicU64,
}

impl TxIds {
    fn new(rng: &mut impl Rng) -> TxIds {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let tag = (0..4)
            .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
            .collect();
        TxIds {
            tag,
            next: AtomicU64::new(0),
        }
    }

    fn make(&self, bank: usize) -> String {
        let mut n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut counter = [b'0'; 7];
        for c in counter.iter_mut().rev() {
            *c = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize];
            n /= 36;
        }
        let bank = u16::try_from(bank)
            .ok()
            .and_then(|b| domain::BankId::try_from(b).ok())
            .expect("a bank id of the consortium");
        let stamp = domain::time_fmt::stamp_utc(engine::wall_clock_ms());
        let suffix = format!(
            "{}{}",
            self.tag,
            std::str::from_utf8(&counter).expect("ascii")
        );
        domain::TxId::compose(bank, &stamp, &suffix)
            .expect("composed ids are well-formed")
            .to_string()
    }
}

fn brl(cents: i64) -> String {
    format!("{},{:02}", cents / 100, cents % 100)
}

// ---------------------------------------------------------------------------------------------
// HTTP

enum Body {
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

/// What one request (with its re-sends) came to.
enum Answer {
    /// A status other than 503, with its body.
    Final(u16, String),
    /// Still 503 after every re-send.
    Unavailable(String),
    /// Still no answer (connection refused, timeout...) after every re-send.
    Transport(String),
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

async fn post_once(
    http: &reqwest::Client,
    url: &str,
    body: &Body,
) -> Result<(u16, String), String> {
    let req = http.post(url).header("Accept", "application/json");
    let req = match body {
        Body::Form(fields) => req.form(fields),
        Body::Json(v) => req.json(v),
    };
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// Posts, re-sending the very same request (same transaction id) after a 503 or a transport error,
/// up to `retries` times with a growing pause. Returns the answer and how many re-sends it took.
async fn post(http: &reqwest::Client, url: &str, body: &Body, retries: u32) -> (Answer, u32) {
    let mut last = Answer::Transport("not sent".into());
    for attempt in 0..=retries {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(
                (50u64 << (attempt - 1).min(5)).min(1_000),
            ))
            .await;
        }
        match post_once(http, url, body).await {
            Ok((503, text)) => last = Answer::Unavailable(text),
            Ok((status, text)) => return (Answer::Final(status, text), attempt),
            Err(e) => last = Answer::Transport(e),
        }
    }
    (last, retries)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    resp.json().await.map_err(|e| e.to_string())
}

fn short(text: &str) -> String {
    let t = text.trim();
    let cut: String = t.chars().take(160).collect();
    if cut.len() < t.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The message inside a server-function error body (`{"Refused":"..."}` and the like).
fn error_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => match m.into_iter().next() {
            Some((kind, Value::String(msg))) => format!("{kind}: {msg}"),
            Some((kind, Value::Object(inner))) => {
                format!(
                    "{kind}: {}",
                    inner.get("message").and_then(Value::as_str).unwrap_or("")
                )
            }
            Some((kind, _)) => kind,
            None => short(body),
        },
        Ok(Value::String(s)) => s,
        _ => short(body),
    }
}

// ---------------------------------------------------------------------------------------------
// People and accounts

struct Person {
    cpf: String,
    name: String,
    /// Bank ids (1..5) where this person has an account: two, or one for the odd extra row.
    banks: Vec<usize>,
}

fn people(accounts_per_bank: usize, cpf_start: u32) -> Vec<Person> {
    let mut out = Vec::new();
    let mut base = cpf_start;
    let mut next_cpf = || loop {
        base = base.wrapping_add(7_919) % 1_000_000_000;
        if let Some(cpf) = cpf_from_base(base) {
            return cpf; // bases with all digits equal have no valid CPF: skipped
        }
    };
    let pairs = accounts_per_bank / 2;
    for k in 0..5 * pairs {
        out.push(Person {
            cpf: next_cpf(),
            name: format!("Carga {k}"),
            banks: vec![k % 5 + 1, (k + 1) % 5 + 1],
        });
    }
    if accounts_per_bank % 2 == 1 {
        for b in 1..=5 {
            let k = out.len();
            out.push(Person {
                cpf: next_cpf(),
                name: format!("Carga {k}"),
                banks: vec![b],
            });
        }
    }
    out
}

fn email(tag: &str, person: usize, bank: usize) -> String {
    format!(
        "carga.{}.{person}.b{bank}@loadgen.example",
        tag.to_lowercase()
    )
}

// ---------------------------------------------------------------------------------------------
// Results

#[derive(Default)]
struct KindStats {
    ok: u64,
    refused: u64,
    unavailable: u64,
    errors: u64,
    resends: u64,
    /// Latency of each successful operation (first send to final answer), in microseconds.
    latencies_us: Vec<u64>,
    reasons: HashMap<String, u64>,
}

impl KindStats {
    fn merge(&mut self, other: KindStats) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.unavailable += other.unavailable;
        self.errors += other.errors;
        self.resends += other.resends;
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.reasons {
            *self.reasons.entry(k).or_default() += v;
        }
    }

    /// Counts a reason, keeping at most 64 distinct ones.
    fn reason(&mut self, what: &str, msg: String) {
        let key = format!("{what}: {}", short(&msg));
        if self.reasons.len() < 64 || self.reasons.contains_key(&key) {
            *self.reasons.entry(key).or_default() += 1;
        }
    }
}

enum Outcome {
    Ok,
    Refused(String),
    Unavailable(String),
    Error(String),
}

/// Every deposit made, as the audit needs it: sure ones summed, unsure ones kept for re-sending.
#[derive(Default)]
struct Ledger {
    deposited_cents: i64,
    deposits_ok: u64,
    /// Deposits that got no sure answer (503 or transport error after every re-send).
    unknown: Vec<PendingDeposit>,
}

struct PendingDeposit {
    http: reqwest::Client,
    bank: usize,
    tx_id: String,
    cents: i64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// Operations

struct Shared {
    args: Args,
    ids: TxIds,
    people: Vec<Person>,
    /// Per bank (index 0..5 for ids 1..5): the people with an account there.
    at_bank: Vec<Vec<usize>>,
    ledger: Mutex<Ledger>,
    /// The Pix key of each (person, bank) account: the CPF at the first bank that registered
    /// it, a random key at the other. Absent: the bank has no key directory (an older build
    /// compared in benchmarks), which pays a CPF at the bank named.
    keys: Mutex<HashMap<(usize, usize), String>>,
}

impl Shared {
    fn url(&self, bank: usize, path: &str) -> String {
        format!("{}{path}", self.args.banks[bank - 1])
    }

    /// The key that pays `person`'s account at `bank`.
    fn key(&self, person: usize, bank: usize) -> String {
        self.keys
            .lock()
            .expect("keys lock")
            .get(&(person, bank))
            .cloned()
            .unwrap_or_else(|| self.people[person].cpf.clone())
    }

    /// A person other than `not` with an account at `bank`.
    fn receiver(&self, rng: &mut StdRng, bank: usize, not: usize) -> usize {
        let list = &self.at_bank[bank - 1];
        loop {
            let p = list[rng.random_range(0..list.len())];
            if p != not {
                return p;
            }
        }
    }

    /// A deposit, tracked for the audit whatever its fate.
    async fn deposit(&self, http: &reqwest::Client, bank: usize, cents: i64) -> (Outcome, u32) {
        let tx_id = self.ids.make(bank);
        let body = Body::Form(vec![("amount", brl(cents)), ("tx_id", tx_id.clone())]);
        let (answer, resends) = post(
            http,
            &self.url(bank, "/api/deposit"),
            &body,
            self.args.retries,
        )
        .await;
        let outcome = match answer {
            Answer::Final(200, text) => match text.trim().parse::<i64>() {
                Ok(c) if c == cents => {
                    let mut l = self.ledger.lock().unwrap();
                    l.deposited_cents += cents;
                    l.deposits_ok += 1;
                    return (Outcome::Ok, resends);
                }
                _ => Outcome::Error(format!("unexpected deposit answer: {}", short(&text))),
            },
            Answer::Final(s, text) if (400..500).contains(&s) => {
                return (
                    Outcome::Refused(format!("{s} {}", error_message(&text))),
                    resends,
                )
            }
            Answer::Final(s, text) => Outcome::Error(format!("{s} {}", error_message(&text))),
            Answer::Unavailable(text) => Outcome::Unavailable(error_message(&text)),
            Answer::Transport(e) => Outcome::Error(e),
        };
        // No sure answer: whether the money arrived is learnt later by sending the same id again.
        self.ledger.lock().unwrap().unknown.push(PendingDeposit {
            http: http.clone(),
            bank,
            tx_id,
            cents,
        });
        (outcome, resends)
    }

    async fn pix(
        &self,
        http: &reqwest::Client,
        from_bank: usize,
        key: &str,
        to_bank: usize,
        cents: i64,
    ) -> (Outcome, u32) {
        let body = Body::Form(vec![
            ("key", key.to_string()),
            ("amount", brl(cents)),
            ("tx_id", self.ids.make(from_bank)),
            ("bank", to_bank.to_string()),
        ]);
        let (answer, resends) = post(
            http,
            &self.url(from_bank, "/api/send_pix"),
            &body,
            self.args.retries,
        )
        .await;
        (
            classify(
                answer,
                |v| v["status"].as_str() == Some("Committed"),
                |_| "not committed".into(),
            ),
            resends,
        )
    }

    async fn packet(
        &self,
        http: &reqwest::Client,
        coordinator: usize,
        legs: Vec<Value>,
    ) -> (Outcome, u32) {
        let body = Body::Json(json!({ "tx_id": self.ids.make(coordinator), "legs": legs }));
        let (answer, resends) = post(
            http,
            &self.url(coordinator, "/api/send_packet"),
            &body,
            self.args.retries,
        )
        .await;
        let why = |v: &Value| {
            v["legs"]
                .as_array()
                .and_then(|legs| {
                    legs.iter()
                        .find_map(|l| l["error"]["code"].as_str().map(str::to_string))
                })
                .unwrap_or_else(|| format!("packet {}", v["status"].as_str().unwrap_or("?")))
        };
        (
            classify(answer, |v| v["status"].as_str() == Some("Committed"), why),
            resends,
        )
    }
}

fn classify(
    answer: Answer,
    committed: impl Fn(&Value) -> bool,
    why: impl Fn(&Value) -> String,
) -> Outcome {
    match answer {
        Answer::Final(200, text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) if committed(&v) => Outcome::Ok,
            Ok(v) => Outcome::Refused(why(&v)),
            Err(_) => Outcome::Error(format!("unreadable answer: {}", short(&text))),
        },
        Answer::Final(s, text) if (400..500).contains(&s) => {
            Outcome::Refused(format!("{s} {}", error_message(&text)))
        }
        Answer::Final(s, text) => Outcome::Error(format!("{s} {}", error_message(&text))),
        Answer::Unavailable(text) => Outcome::Unavailable(error_message(&text)),
        Answer::Transport(e) => Outcome::Error(e),
    }
}

/// Opens one account, logs in, funds it. The session is only used for the funding deposit.
async fn open_account(shared: Arc<Shared>, person: usize, bank: usize) -> Result<(), String> {
    let p = &shared.people[person];
    let http = http_client();
    let email = email(&shared.ids.tag, person, bank);
    let form = Body::Form(vec![
        ("kind", "individual".into()),
        ("name1", p.name.clone()),
        ("tax_id1", p.cpf.clone()),
        ("email", email.clone()),
        ("phone", "11987654321".into()),
        ("password", PASSWORD.into()),
        ("register_key", "yes".into()),
    ]);
    let (answer, _) = post(
        &http,
        &shared.url(bank, "/api/create_account"),
        &form,
        shared.args.retries,
    )
    .await;
    if !matches!(answer, Answer::Final(200, _)) {
        // Perhaps opened after all (an answer lost on the way back): a login tells.
        if let Err(login_err) = login(&shared, &http, bank, &email).await {
            let first = match answer {
                Answer::Final(s, t) => format!("{s} {}", error_message(&t)),
                Answer::Unavailable(t) => format!("503 {}", error_message(&t)),
                Answer::Transport(e) => e,
            };
            return Err(format!(
                "bank {bank}: opening {email} failed: {first} (then login: {login_err})"
            ));
        }
    }
    if let Some(key) = account_key(&shared, &http, bank).await? {
        shared
            .keys
            .lock()
            .expect("keys lock")
            .insert((person, bank), key);
    }
    match shared.deposit(&http, bank, FUNDING_CENTS).await.0 {
        Outcome::Ok | Outcome::Unavailable(_) | Outcome::Error(_) => Ok(()), // unsure ones are settled at the end
        Outcome::Refused(why) => Err(format!("bank {bank}: funding deposit refused: {why}")),
    }
}

/// The Pix key of the account logged in with `http` at `bank`: the one sign-up registered (its
/// CPF), else a random key registered now (the CPF is someone else's key: the same person's
/// account at another bank). `None` from a bank without keys (an older build).
async fn account_key(
    shared: &Shared,
    http: &reqwest::Client,
    bank: usize,
) -> Result<Option<String>, String> {
    let keys = post(
        http,
        &shared.url(bank, "/api/get_keys"),
        &Body::Form(Vec::new()),
        shared.args.retries,
    )
    .await
    .0;
    let text = match keys {
        Answer::Final(200, text) => text,
        Answer::Final(_, text) if text.contains("Could not find a server function") => {
            return Ok(None)
        }
        Answer::Final(s, t) => return Err(format!("bank {bank}: keys: {s} {}", error_message(&t))),
        Answer::Unavailable(t) => {
            return Err(format!("bank {bank}: keys: 503 {}", error_message(&t)))
        }
        Answer::Transport(e) => return Err(format!("bank {bank}: keys: {e}")),
    };
    let listed: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if let Some(k) = listed["keys"][0]["canonical"].as_str() {
        return Ok(Some(k.to_string()));
    }
    let form = Body::Form(vec![("kind", "evp".into())]);
    match post(
        http,
        &shared.url(bank, "/api/request_key"),
        &form,
        shared.args.retries,
    )
    .await
    .0
    {
        Answer::Final(200, text) => {
            let answer: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            Ok(answer["Registered"]["shown"].as_str().map(str::to_string))
        }
        Answer::Final(s, t) => Err(format!(
            "bank {bank}: random key: {s} {}",
            error_message(&t)
        )),
        Answer::Unavailable(t) => Err(format!(
            "bank {bank}: random key: 503 {}",
            error_message(&t)
        )),
        Answer::Transport(e) => Err(format!("bank {bank}: random key: {e}")),
    }
}

async fn login(
    shared: &Shared,
    http: &reqwest::Client,
    bank: usize,
    email: &str,
) -> Result<(), String> {
    let form = Body::Form(vec![
        ("email", email.to_string()),
        ("password", PASSWORD.into()),
    ]);
    match post(
        http,
        &shared.url(bank, "/api/login"),
        &form,
        shared.args.retries,
    )
    .await
    .0
    {
        Answer::Final(200, _) => Ok(()),
        Answer::Final(s, t) => Err(format!(
            "login {email} at bank {bank}: {s} {}",
            error_message(&t)
        )),
        Answer::Unavailable(t) => Err(format!(
            "login {email} at bank {bank}: 503 {}",
            error_message(&t)
        )),
        Answer::Transport(e) => Err(format!("login {email} at bank {bank}: {e}")),
    }
}

/// A POST answered with a redirect (as the app's script sees it): status, `Location`, body.
async fn post_redirect(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, String)],
) -> Result<(u16, Option<reqwest::Url>, String), String> {
    let resp = http
        .post(url)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| reqwest::Url::parse(v).ok());
    Ok((
        status,
        location,
        resp.text().await.map_err(|e| e.to_string())?,
    ))
}

fn query(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// Links the person's account at bank `from` to their account at bank `to` the way a browser
/// does (start at `from`, approve at `to`, finish at `from`), so that packets coordinated by
/// `from` may draw on `to`. A bank without the flow (a version that linked by CPF, compared in
/// benchmarks) needs no link.
async fn link(
    shared: &Shared,
    (from, from_http): &(usize, reqwest::Client),
    (to, to_http): &(usize, reqwest::Client),
) -> Result<(), String> {
    let fail = |step: &str, status: u16, text: &str| {
        format!(
            "linking bank {from} to bank {to}: {step}: {status} {}",
            error_message(text)
        )
    };
    let start = [("bank", to.to_string())];
    let (status, location, text) =
        post_redirect(from_http, &shared.url(*from, "/api/start_link"), &start).await?;
    if status == 404 || text.contains("Could not find a server function") {
        return Ok(());
    }
    let to_consent = location
        .filter(|_| status == 200)
        .ok_or_else(|| fail("start", status, &text))?;
    let expires = domain::time_fmt::date_input(engine::wall_clock_ms() + 30 * 86_400_000);
    let approve = [
        ("bank", query(&to_consent, "bank")),
        ("account", query(&to_consent, "account")),
        ("state", query(&to_consent, "state")),
        ("per_packet", "100.000,00".to_string()),
        ("daily", String::new()),
        ("expires", expires),
    ];
    let (status, location, text) =
        post_redirect(to_http, &shared.url(*to, "/api/approve_consent"), &approve).await?;
    let back = location
        .filter(|_| status == 200)
        .ok_or_else(|| fail("approve", status, &text))?;
    let finish = [
        ("code", query(&back, "code")),
        ("state", query(&back, "state")),
    ];
    let (status, _, text) =
        post_redirect(from_http, &shared.url(*from, "/api/finish_link"), &finish).await?;
    if status != 200 {
        return Err(fail("finish", status, &text));
    }
    Ok(())
}

/// One client: a person with accounts at two banks, logged in at both.
struct Client {
    person: usize,
    /// (bank id, session) for each of the person's banks.
    sessions: Vec<(usize, reqwest::Client)>,
}

enum Stop {
    At(Instant),
    Ops(Arc<AtomicU64>, u64),
}

impl Stop {
    fn next(&self) -> bool {
        match self {
            Stop::At(t) => Instant::now() < *t,
            Stop::Ops(n, max) => n.fetch_add(1, Ordering::Relaxed) < *max,
        }
    }
}

async fn run_client(
    shared: Arc<Shared>,
    client: Client,
    stop: Arc<Stop>,
    seed: u64,
) -> Vec<KindStats> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats: Vec<KindStats> = (0..4).map(|_| KindStats::default()).collect();
    let total_weight: u32 = shared.args.mix.iter().sum();
    let me = client.person;
    while stop.next() {
        let mut pick = rng.random_range(0..total_weight);
        let kind = (0..4).find(|&k| {
            if pick < shared.args.mix[k] {
                true
            } else {
                pick -= shared.args.mix[k];
                false
            }
        });
        let kind = kind.unwrap_or(0);
        let side = rng.random_range(0..client.sessions.len());
        let (bank, http) = (client.sessions[side].0, &client.sessions[side].1);
        let other_bank = client.sessions[1 - side].0;
        let started = Instant::now();
        let (outcome, resends) = match kind {
            0 => {
                shared
                    .deposit(http, bank, rng.random_range(100..=5_000))
                    .await
            }
            1 => {
                let to = shared.receiver(&mut rng, bank, me);
                shared
                    .pix(
                        http,
                        bank,
                        &shared.key(to, bank),
                        bank,
                        rng.random_range(1..=1_000),
                    )
                    .await
            }
            2 => {
                let to_bank = loop {
                    let b = rng.random_range(1..=5);
                    if b != bank {
                        break b;
                    }
                };
                let to = shared.receiver(&mut rng, to_bank, me);
                shared
                    .pix(
                        http,
                        bank,
                        &shared.key(to, to_bank),
                        to_bank,
                        rng.random_range(1..=1_000),
                    )
                    .await
            }
            _ => {
                // Three legs paid from the client's accounts at two banks, coordinated by `bank`.
                let sources = [
                    bank,
                    other_bank,
                    if rng.random_bool(0.5) {
                        bank
                    } else {
                        other_bank
                    },
                ];
                let legs = sources
                    .iter()
                    .map(|&src| {
                        let to_bank = rng.random_range(1..=5);
                        let to = shared.receiver(&mut rng, to_bank, me);
                        json!({
                            "source_bank": src.to_string(),
                            "receiver_key": shared.key(to, to_bank),
                            "receiver_bank": to_bank.to_string(),
                            "amount": brl(rng.random_range(1..=500)),
                        })
                    })
                    .collect();
                shared.packet(http, bank, legs).await
            }
        };
        let elapsed = started.elapsed();
        let s = &mut stats[kind];
        s.resends += u64::from(resends);
        match outcome {
            Outcome::Ok => {
                s.ok += 1;
                s.latencies_us.push(elapsed.as_micros() as u64);
            }
            Outcome::Refused(why) => {
                s.refused += 1;
                s.reason("refused", why);
            }
            Outcome::Unavailable(why) => {
                s.unavailable += 1;
                s.reason("503", why);
            }
            Outcome::Error(why) => {
                s.errors += 1;
                s.reason("error", why);
            }
        }
    }
    stats
}

// ---------------------------------------------------------------------------------------------
// Audit

struct Totals {
    available: i64,
    settled: bool,
    per_bank: Vec<Value>,
}

async fn totals(shared: &Shared, http: &reqwest::Client) -> Result<Totals, String> {
    let mut t = Totals {
        available: 0,
        settled: true,
        per_bank: Vec::new(),
    };
    for bank in 1..=5 {
        let status = get_json(http, &shared.url(bank, "/status")).await?;
        let report: StatusReport =
            serde_json::from_value(status).map_err(|e| format!("bank {bank}'s /status: {e}"))?;
        if report.bank.map(u16::from) != u16::try_from(bank).ok() {
            return Err(format!(
                "{} says it is bank {:?}, expected {bank}",
                shared.args.banks[bank - 1],
                report.bank
            ));
        }
        let Some(audit) = report.audit else {
            t.settled = false;
            t.per_bank.push(json!({ "bank": bank, "audit": null }));
            continue;
        };
        let available = i64::try_from(audit.total_available)
            .map_err(|_| format!("bank {bank}: total out of range"))?;
        t.available += available;
        t.settled &= audit.total_blocked == 0
            && audit.total_incoming == 0
            && audit.prepared_transactions == 0;
        t.per_bank.push(json!({
            "bank": bank, "total_available": available, "total_blocked": audit.total_blocked,
            "total_incoming": audit.total_incoming, "prepared_transactions": audit.prepared_transactions,
            "accounts": audit.accounts, "ring": report.ring, "twopc": report.twopc,
        }));
    }
    Ok(t)
}

/// Polls until every bank is settled (nothing blocked, incoming or prepared), or `limit` passes.
async fn settled_totals(
    shared: &Shared,
    http: &reqwest::Client,
    limit: Duration,
) -> Result<Totals, String> {
    let deadline = Instant::now() + limit;
    loop {
        match totals(shared, http).await {
            Ok(t) if t.settled => return Ok(t),
            Ok(t) if Instant::now() >= deadline => return Ok(t),
            Err(e) if Instant::now() >= deadline => return Err(e),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Re-sends every deposit whose answer was lost, with the same id, until each has a sure answer.
async fn settle_unknown_deposits(shared: &Shared, limit: Duration) -> usize {
    let pending = std::mem::take(&mut shared.ledger.lock().unwrap().unknown);
    let deadline = Instant::now() + limit;
    let mut still = Vec::new();
    for d in pending {
        let body = Body::Form(vec![("amount", brl(d.cents)), ("tx_id", d.tx_id.clone())]);
        loop {
            match post(&d.http, &shared.url(d.bank, "/api/deposit"), &body, 0)
                .await
                .0
            {
                Answer::Final(200, text) if text.trim().parse::<i64>().ok() == Some(d.cents) => {
                    let mut l = shared.ledger.lock().unwrap();
                    l.deposited_cents += d.cents;
                    l.deposits_ok += 1;
                    break;
                }
                Answer::Final(s, _) if (400..500).contains(&s) && s != 401 => break, // refused: nothing moved
                _ if Instant::now() >= deadline => {
                    still.push(d.tx_id.clone());
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
    if !still.is_empty() {
        eprintln!(
            "loadgen: {} deposits still without a sure answer: {:?}",
            still.len(),
            &still[..still.len().min(5)]
        );
    }
    still.len()
}

// ---------------------------------------------------------------------------------------------
// Main

#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("loadgen: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    match run(args).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let ids = TxIds::new(&mut rng);
    let people = people(args.accounts, rng.random_range(100_000_000..900_000_000));
    let mut at_bank = vec![Vec::new(); 5];
    for (i, p) in people.iter().enumerate() {
        for &b in &p.banks {
            at_bank[b - 1].push(i);
        }
    }
    let shared = Arc::new(Shared {
        args: args.clone(),
        ids,
        people,
        at_bank,
        ledger: Mutex::new(Ledger::default()),
        keys: Mutex::new(HashMap::new()),
    });
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;

    // Money already in the banks (an earlier run, a demo): the audit counts from here.
    let before = settled_totals(&shared, &plain, args.settle).await?;
    if !before.settled {
        return Err(
            "the banks did not settle before the run (something is blocked, incoming or prepared)"
                .into(),
        );
    }
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| format!("C={}", args.clients));
    eprintln!(
        "loadgen [{label}]: run {} seed {}; {} people, {} accounts per bank; R$ {} already in the banks",
        shared.ids.tag,
        args.seed,
        shared.people.len(),
        args.accounts,
        brl(before.available)
    );

    // 1. Accounts, each funded.
    let setup_started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.setup_concurrency));
    let mut tasks = Vec::new();
    for (i, p) in shared.people.iter().enumerate() {
        for &b in &p.banks {
            let (shared, gate) = (shared.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                open_account(shared, i, b).await
            }));
        }
    }
    let opened = tasks.len();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    eprintln!(
        "loadgen [{label}]: opened and funded {opened} accounts in {:.1} s",
        setup_started.elapsed().as_secs_f64()
    );

    // 2. Clients: people with two accounts, logged in at both banks.
    let pairs: Vec<usize> = (0..shared.people.len())
        .filter(|&i| shared.people[i].banks.len() == 2)
        .collect();
    let mut logins = Vec::new();
    for c in 0..args.clients {
        let (shared, gate) = (shared.clone(), gate.clone());
        let person = pairs[c % pairs.len()];
        logins.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let mut sessions = Vec::new();
            for &b in &shared.people[person].banks {
                let http = http_client();
                login(&shared, &http, b, &email(&shared.ids.tag, person, b)).await?;
                sessions.push((b, http));
            }
            // Each account may pay from the other in packets: the person links them both ways.
            for (from, to) in [(0, 1), (1, 0)] {
                link(&shared, &sessions[from], &sessions[to]).await?;
            }
            Ok::<_, String>(Client { person, sessions })
        }));
    }
    let mut clients = Vec::new();
    for l in logins {
        clients.push(l.await.map_err(|e| e.to_string())??);
    }
    eprintln!(
        "loadgen [{label}]: {} clients logged in; workload starts",
        clients.len()
    );

    // 3. The workload.
    let stop = Arc::new(match (args.duration, args.ops) {
        (_, Some(k)) => Stop::Ops(Arc::new(AtomicU64::new(0)), k),
        (Some(d), None) => Stop::At(Instant::now() + d),
        (None, None) => unreachable!(),
    });
    let started = Instant::now();
    let cpu_before = own_cpu_ticks();
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            tokio::spawn(run_client(
                shared.clone(),
                c,
                stop.clone(),
                args.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ))
        })
        .collect();
    let mut stats: Vec<KindStats> = (0..4).map(|_| KindStats::default()).collect();
    for w in workers {
        for (k, s) in w.await.map_err(|e| e.to_string())?.into_iter().enumerate() {
            stats[k].merge(s);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The benchmark script reads this count: the process may be gone before it could look itself.
    let cpu = match (cpu_before, own_cpu_ticks()) {
        (Some(a), Some(b)) => format!(", {} CPU ticks of its own", b.saturating_sub(a)),
        _ => String::new(),
    };
    eprintln!("loadgen [{label}]: workload done in {elapsed:.1} s{cpu}; checking conservation");

    // 4. Conservation.
    let unresolved = settle_unknown_deposits(&shared, args.settle).await;
    let after = settled_totals(&shared, &plain, args.settle).await?;
    let (deposited, deposits_ok) = {
        let l = shared.ledger.lock().unwrap();
        (l.deposited_cents, l.deposits_ok)
    };
    let expected = before.available + deposited;
    let pass = after.settled && unresolved == 0 && after.available == expected;

    // Report.
    let mut all = KindStats::default();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "loadgen [{label}]: {} clients, {:.1} s, {} accounts per bank",
        args.clients, elapsed, args.accounts
    );
    let _ = writeln!(
        table,
        "{:<10} {:>8} {:>8} {:>6} {:>6} {:>7} {:>9} {:>8} {:>8} {:>8}",
        "kind",
        "ok",
        "refused",
        "503",
        "errors",
        "resends",
        "ok ops/s",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    let mut kinds_json = serde_json::Map::new();
    let mut chart = Vec::new();
    let mut row = |name: &str, s: &mut KindStats, table: &mut String| {
        s.latencies_us.sort_unstable();
        let ms = |us: u64| us as f64 / 1_000.0;
        let (p50, p99, max) = (
            ms(percentile(&s.latencies_us, 50.0)),
            ms(percentile(&s.latencies_us, 99.0)),
            ms(s.latencies_us.last().copied().unwrap_or(0)),
        );
        let rate = s.ok as f64 / elapsed;
        chart.push(ChartRow {
            name: name.to_string(),
            p50,
            p99,
            max,
        });
        let _ = writeln!(
            table,
            "{name:<10} {:>8} {:>8} {:>6} {:>6} {:>7} {rate:>9.1} {p50:>8.1} {p99:>8.1} {max:>8.1}",
            s.ok, s.refused, s.unavailable, s.errors, s.resends
        );
        let mut reasons: Vec<_> = s.reasons.iter().map(|(k, v)| (k.clone(), *v)).collect();
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        reasons.truncate(5);
        kinds_json.insert(
            name.to_string(),
            json!({
                "ok": s.ok, "refused": s.refused, "unavailable_503": s.unavailable, "errors": s.errors,
                "resends": s.resends, "ok_per_s": rate, "p50_ms": p50, "p99_ms": p99, "max_ms": max,
                "top_reasons": reasons.into_iter().map(|(k, v)| json!({"reason": k, "count": v})).collect::<Vec<_>>(),
            }),
        );
    };
    for (k, name) in KINDS.iter().enumerate() {
        let s = std::mem::take(&mut stats[k]);
        let mut s = s;
        row(name, &mut s, &mut table);
        all.merge(s);
    }
    row("all", &mut all, &mut table);
    let verdict = if pass { "PASS" } else { "FAIL" };
    let _ = writeln!(
        table,
        "conservation: {verdict}: R$ {} available at the five banks; expected R$ {} (R$ {} before + R$ {} in {} deposits){}{}",
        brl(after.available),
        brl(expected),
        brl(before.available),
        brl(deposited),
        deposits_ok,
        if after.settled { "" } else { "; banks NOT settled (blocked/incoming/prepared left)" },
        if unresolved > 0 { format!("; {unresolved} deposits without a sure answer") } else { String::new() },
    );
    print!("{table}");
    let mut reasons: Vec<_> = all.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    for (why, n) in reasons.iter().take(5) {
        println!("  {n:>6} x {why}");
    }

    if let Some(path) = &args.json {
        let report = json!({
            "label": label,
            "config": {
                "banks": args.banks, "accounts_per_bank": args.accounts, "clients": args.clients,
                "duration_secs": args.duration.map(|d| d.as_secs_f64()), "ops": args.ops,
                "mix": { "deposit": args.mix[0], "pix_intra": args.mix[1], "pix_inter": args.mix[2], "packet": args.mix[3] },
                "retries": args.retries, "seed": args.seed, "run_tag": shared.ids.tag,
            },
            "elapsed_s": elapsed,
            "kinds": kinds_json,
            "conservation": {
                "pass": pass, "settled": after.settled, "unresolved_deposits": unresolved,
                "available_before_cents": before.available, "deposited_cents": deposited, "deposits_ok": deposits_ok,
                "expected_cents": expected, "available_after_cents": after.available, "banks": after.per_bank,
            },
        });
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{path}: {e}"))?;
        // The latency chart beside it: bench-c64.json -> bench-c64.svg.
        let svg_path = std::path::Path::new(path).with_extension("svg");
        std::fs::write(&svg_path, latency_svg(&label, &chart))
            .map_err(|e| format!("{}: {e}", svg_path.display()))?;
    }
    Ok(pass)
}

/// This process's CPU time so far (user + system), in clock ticks, from `/proc/self/stat` (Linux
/// only; `None` elsewhere). Fields after the command name, which is in parentheses and may hold
/// spaces: utime and stime are the 12th and 13th.
fn own_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpf_check_digits() {
        assert_eq!(cpf_from_base(529_982_247).as_deref(), Some("52998224725"));
        assert_eq!(cpf_from_base(111_444_777).as_deref(), Some("11144477735"));
    }

    #[test]
    fn tx_ids_have_the_pix_shape() {
        let ids = TxIds::new(&mut StdRng::seed_from_u64(1));
        let a = ids.make(3);
        let b = ids.make(3);
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("E00000003"));
        assert!(
            a[1..21].bytes().all(|c| c.is_ascii_digit())
                && a[21..].bytes().all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn people_cover_each_bank_n_times() {
        for n in [2, 3, 10, 11] {
            let p = people(n, 123_456_789);
            for b in 1..=5 {
                assert_eq!(p.iter().filter(|x| x.banks.contains(&b)).count(), n);
            }
            let mut cpfs: Vec<_> = p.iter().map(|x| x.cpf.clone()).collect();
            cpfs.sort();
            cpfs.dedup();
            assert_eq!(cpfs.len(), p.len());
        }
    }

    #[test]
    fn args() {
        let a = parse_args(
            "--banks a,b,c,d,e --accounts 4 --clients=3 --ops 7"
                .split(' ')
                .map(String::from),
        )
        .unwrap();
        assert_eq!(
            (a.accounts, a.clients, a.ops, a.duration),
            (4, 3, Some(7), None)
        );
        assert!(parse_args("--banks a,b".split(' ').map(String::from)).is_err());
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 99.0), 4);
    }
}

/// One kind's latency for the chart: name, p50, p99 and max in milliseconds.
struct ChartRow {
    name: String,
    p50: f64,
    p99: f64,
    max: f64,
}

/// A bar chart of each kind's p50, p99 and max latency (log scale, so that a 2 ms p50 and a
/// 900 ms max both read), as a standalone SVG written beside the JSON report.
fn latency_svg(label: &str, rows: &[ChartRow]) -> String {
    use std::fmt::Write as _;
    const LEFT: f64 = 110.0;
    const WIDTH: f64 = 520.0;
    const ROW_H: f64 = 54.0;
    const TOP: f64 = 48.0;
    let top_ms = rows
        .iter()
        .map(|r| r.max)
        .fold(1.0f64, f64::max)
        .log10()
        .ceil()
        .max(1.0);
    // 0.1 ms at the left edge, the next power of ten above the slowest max at the right.
    let x = |ms: f64| LEFT + WIDTH * ((ms.max(0.1).log10() + 1.0) / (top_ms + 1.0));
    let height = TOP + ROW_H * rows.len() as f64 + 40.0;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="12" role="img" aria-label="Latency per operation kind, {label}">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="20" font-size="14" font-weight="bold">Latency per kind ({label}), ms, log scale</text>
<text x="{LEFT}" y="36" fill="#444">bars: p50 (dark), p99 (mid), max (light)</text>
"##,
        w = LEFT + WIDTH + 60.0,
        label = escape(label),
    );
    for p in -1..=(top_ms as i32) {
        let ms = 10f64.powi(p);
        let gx = x(ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{y2:.1}" stroke="#ddd"/><text x="{gx:.1}" y="{ty:.1}" text-anchor="middle" fill="#444">{ms}</text>"##,
            y2 = height - 30.0,
            ty = height - 14.0,
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64 + 6.0;
        let _ = writeln!(
            svg,
            r##"<text x="{tx}" y="{ly:.1}" text-anchor="end">{name}</text>"##,
            tx = LEFT - 8.0,
            ly = y + 26.0,
            name = escape(&r.name),
        );
        for (j, (value, colour)) in [(r.p50, "#1f4e79"), (r.p99, "#4f8fcf"), (r.max, "#b7d3ee")]
            .into_iter()
            .enumerate()
        {
            let by = y + 14.0 * j as f64;
            let _ = writeln!(
                svg,
                r##"<rect x="{LEFT}" y="{by:.1}" width="{bw:.1}" height="12" fill="{colour}"><title>{value:.1} ms</title></rect><text x="{lx:.1}" y="{ty:.1}" fill="#222">{value:.1}</text>"##,
                bw = (x(value) - LEFT).max(1.0),
                lx = x(value) + 4.0,
                ty = by + 10.0,
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod chart_tests {
    use super::*;

    #[test]
    fn the_latency_chart_has_a_bar_per_percentile_and_escapes_names() {
        let rows = [
            ChartRow {
                name: "deposit".into(),
                p50: 2.0,
                p99: 30.0,
                max: 900.0,
            },
            ChartRow {
                name: "<all>".into(),
                p50: 0.05,
                p99: 1.0,
                max: 1.5,
            },
        ];
        let svg = latency_svg("C=64 & more", &rows);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<rect x=").count(), 6, "three bars per kind");
        assert!(svg.contains("&lt;all&gt;") && svg.contains("C=64 &amp; more"));
        assert!(!svg.contains("<all>"));
        // Log scale up to the next power of ten above the slowest max (900 ms -> 1000 ms).
        assert!(svg.contains(">1000</text>") && !svg.contains(">10000</text>"));
    }
}
