//! Before the workload: opening and funding every account, then logging each client in at its
//! two banks and linking the two accounts both ways.

use crate::http::{error_message, http_client, post, post_redirect, query, Answer, Body};
use crate::money::FUNDING;
use crate::operations::Outcome;
use crate::people::email;
use crate::shared::Shared;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Semaphore;

const PASSWORD: &str = "senha segura 1";

/// One client: a person with accounts at two banks, logged in at both.
pub struct Client {
    pub person: usize,
    /// (bank id, session) for each of the person's banks.
    pub sessions: Vec<(usize, reqwest::Client)>,
}

/// Opens and funds every person's accounts, at most `gate`'s permits at a time. Returns how many.
pub async fn open_accounts(shared: &Arc<Shared>, gate: &Arc<Semaphore>) -> Result<usize, String> {
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
    Ok(opened)
}

/// Logs in `--clients` clients, taking the people with two accounts in turn (several clients
/// share a person when there are more clients than such people).
pub async fn log_in_clients(
    shared: &Arc<Shared>,
    gate: &Arc<Semaphore>,
) -> Result<Vec<Client>, String> {
    let pairs: Vec<usize> = (0..shared.people.len())
        .filter(|&i| shared.people[i].banks.len() == 2)
        .collect();
    let mut logins = Vec::new();
    for c in 0..shared.args.clients {
        let (shared, gate) = (shared.clone(), gate.clone());
        let person = pairs[c % pairs.len()];
        logins.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            log_in_client(&shared, person).await
        }));
    }
    let mut clients = Vec::new();
    for l in logins {
        clients.push(l.await.map_err(|e| e.to_string())??);
    }
    Ok(clients)
}

/// A session at each of `person`'s banks, the two accounts linked both ways.
async fn log_in_client(shared: &Shared, person: usize) -> Result<Client, String> {
    let mut sessions = Vec::new();
    for &b in &shared.people[person].banks {
        let http = http_client();
        login(shared, &http, b, &email(&shared.ids.tag, person, b)).await?;
        sessions.push((b, http));
    }
    // Each account may pay from the other in packets: the person links them both ways.
    for (from, to) in [(0, 1), (1, 0)] {
        link(shared, &sessions[from], &sessions[to]).await?;
    }
    Ok(Client { person, sessions })
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
            return Err(format!(
                "bank {bank}: opening {email} failed: {} (then login: {login_err})",
                answer.describe()
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
    match shared.deposit(&http, bank, FUNDING).await.0 {
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
        other => return Err(format!("bank {bank}: keys: {}", other.describe())),
    };
    let listed: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if let Some(k) = listed["keys"][0]["canonical"].as_str() {
        return Ok(Some(k.to_string()));
    }
    random_key(shared, http, bank).await
}

/// Registers a random (EVP) key for the account logged in with `http` at `bank`.
async fn random_key(
    shared: &Shared,
    http: &reqwest::Client,
    bank: usize,
) -> Result<Option<String>, String> {
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
        other => Err(format!("bank {bank}: random key: {}", other.describe())),
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
        other => Err(format!(
            "login {email} at bank {bank}: {}",
            other.describe()
        )),
    }
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
        // Approving asks for the owner's password again (since a40edee).
        ("password", PASSWORD.into()),
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
