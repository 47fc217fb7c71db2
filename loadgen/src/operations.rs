//! The requests that move money (deposit, Pix, packet) and how their answers are classified.

use crate::http::{error_message, post, short, Answer, Body};
use crate::shared::{PendingDeposit, Shared};
use domain::Cents;
use serde_json::{json, Value};

/// What one operation came to.
pub enum Outcome {
    Ok,
    Refused(String),
    Unavailable(String),
    Error(String),
}

impl Shared {
    /// A deposit, tracked for the audit whatever its fate.
    pub async fn deposit(
        &self,
        http: &reqwest::Client,
        bank: usize,
        amount: Cents,
    ) -> (Outcome, u32) {
        let tx_id = self.ids.make(bank);
        let body = Body::Form(vec![
            ("amount", amount.to_input()),
            ("tx_id", tx_id.clone()),
        ]);
        let (answer, resends) = post(
            http,
            &self.url(bank, "/api/deposit"),
            &body,
            self.args.retries,
        )
        .await;
        let outcome = match answer {
            Answer::Final(200, text) => match text.trim().parse::<i64>() {
                Ok(c) if c == amount.get() => {
                    self.ledger.lock().unwrap().credit(amount);
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
            amount,
        });
        (outcome, resends)
    }

    /// A Pix from the account logged in with `http` at `from_bank` to the account `key` names
    /// at `to_bank`.
    pub async fn pix(
        &self,
        http: &reqwest::Client,
        from_bank: usize,
        key: &str,
        to_bank: usize,
        amount: Cents,
    ) -> (Outcome, u32) {
        let body = Body::Form(vec![
            ("key", key.to_string()),
            ("amount", amount.to_input()),
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

    /// A packet of `legs` (as the API's JSON) coordinated by bank `coordinator`.
    pub async fn packet(
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

/// A 200 whose JSON is `committed` is Ok, else refused for `why`; a 4xx is refused; the rest
/// are errors or 503s.
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
