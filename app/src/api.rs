//! Server functions: the browser's whole API. Each one checks its input, checks the session's
//! owner where money is involved, and enqueues a command into the engine; none touches a balance.

use crate::error::AppError;
use domain::dto::{
    BankInfo, Dashboard, LinkedAccount, PacketOutcome, ReceiverPreview, TransferReceipt,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The dashboard plus fresh transaction ids for its forms: submitting a form twice (a double
/// click, a retry after a timeout) reuses the id, so the bank executes it once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardPage {
    pub dashboard: Dashboard,
    pub deposit_tx_id: String,
    pub pix_tx_id: String,
    pub packet_tx_id: String,
    /// Every bank of the consortium (just this one for a bank on its own).
    pub banks: Vec<BankInfo>,
    /// The client's links to accounts at other banks (each one a consent given at that bank),
    /// with balances from the banks that answered.
    pub linked: Vec<LinkedAccount>,
    /// The account's own Pix keys (canonical): a Pix to one of them is a Pix to oneself.
    pub keys: Vec<String>,
}

/// One row of the packet builder, as typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegInput {
    pub source_bank: String,
    pub receiver_key: String,
    pub receiver_bank: String,
    pub amount: String,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-only helpers: engine access, sessions and cookies, error mapping.
    use super::AppError;
    use crate::i18n::{td_string, Locale};
    use crate::text::Say;
    use axum::http::{header, request::Parts, HeaderValue};
    use domain::packet::PacketError;
    use domain::AccountId;
    use engine::auth::SessionToken;
    use engine::consent::ConsentError;
    use engine::consortium::Consortium;
    use engine::{ConsortiumError, EngineError, EngineHandle, LedgerError};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;
    use std::sync::Arc;

    pub fn engine() -> Result<EngineHandle, AppError> {
        use_context::<EngineHandle>().ok_or_else(|| {
            tracing::error!("engine handle missing from context");
            AppError::Unexpected
        })
    }

    /// The login throttles, when the node provides them.
    pub fn login_guards() -> Option<Arc<engine::throttle::LoginGuards>> {
        use_context::<Arc<engine::throttle::LoginGuards>>()
    }

    /// The lock-outs one login is subject to: its e-mail's and its client address's. Cheap to
    /// clone onto the thread that hashes the password.
    #[derive(Clone)]
    pub struct Lockout {
        guards: Option<Arc<engine::throttle::LoginGuards>>,
        email_key: String,
        address_key: String,
    }

    impl Lockout {
        pub fn new(email: &str) -> Lockout {
            Lockout {
                guards: login_guards(),
                email_key: format!("email:{email}"),
                address_key: format!("address:{}", client_address()),
            }
        }

        /// How long the e-mail or the address is locked out for, if it is.
        pub fn locked_for(&self, now: i64) -> Option<i64> {
            let g = self.guards.as_ref()?;
            let checks = [
                g.by_email.check(&[&self.email_key], now),
                g.by_address.check(&[&self.address_key], now),
            ];
            checks.iter().filter_map(|r| r.err()).max()
        }

        pub fn failed(&self, now: i64) {
            if let Some(g) = &self.guards {
                g.by_email.failed(&[&self.email_key], now);
                g.by_address.failed(&[&self.address_key], now);
            }
        }

        pub fn succeeded(&self) {
            if let Some(g) = &self.guards {
                g.by_email.succeeded(&self.email_key);
            }
        }
    }

    /// The client's address as the socket saw it (forwarding headers are not trusted).
    pub fn client_address() -> String {
        use_context::<Parts>()
            .and_then(|p| {
                p.extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            })
            .unwrap_or_else(|| "unknown".into())
    }

    pub use engine::wall_clock_ms as now_ms;

    /// The client's language: the one the app's switch remembered in its cookie, else
    /// Portuguese (the browser's Accept-Language is not asked: the clients are Brazilian).
    pub fn locale() -> Locale {
        use_context::<Parts>()
            .and_then(|p| {
                p.headers
                    .get_all(header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(';'))
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| *k == LOCALE_COOKIE)
                    .and_then(|(_, v)| v.parse::<Locale>().ok())
            })
            .unwrap_or_default()
    }

    /// The cookie the app's language switch keeps the client's choice in.
    pub const LOCALE_COOKIE: &str = "i18n_pref_locale";

    /// A field's error, in the client's words.
    pub fn field(name: &str, e: impl Say) -> AppError {
        AppError::field(name, e.say(locale()))
    }

    /// Locked out for `ms` more milliseconds, in words.
    pub fn too_many_attempts(ms: i64) -> AppError {
        let minutes = (ms + 59_999) / 60_000;
        AppError::TooManyAttempts(
            td_string!(locale(), err.too_many_attempts, minutes = minutes).to_string(),
        )
    }

    /// `next` when it is a path of this site: starts with one `/` (not `//`, another host), and
    /// holds only printable ASCII without backslashes (which browsers read as `/`).
    pub fn local_path(next: Option<&str>) -> Option<&str> {
        next.filter(|p| {
            p.starts_with('/')
                && !p.starts_with("//")
                && p.len() <= 2_048
                && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        })
    }

    /// The consortium, when this bank is part of one.
    pub fn consortium() -> Option<Arc<dyn Consortium>> {
        use_context::<Arc<dyn Consortium>>()
    }

    pub fn require_consortium() -> Result<Arc<dyn Consortium>, AppError> {
        consortium().ok_or_else(|| {
            AppError::Unavailable(td_string!(locale(), err.no_consortium).to_string())
        })
    }

    /// A bank id typed in a form; empty means this bank.
    pub fn bank_id(
        text: Option<&str>,
        field: &str,
        engine: &EngineHandle,
    ) -> Result<domain::BankId, AppError> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(engine.bank().id),
            Some(t) => t
                .parse::<u16>()
                .ok()
                .and_then(|n| domain::BankId::try_from(n).ok())
                .ok_or_else(|| AppError::field(field, td_string!(locale(), err.choose_bank))),
        }
    }

    /// Each bank has its own cookie name: banks on one host (ports 8081..8085) share cookies.
    fn cookie_name(engine: &EngineHandle) -> String {
        format!("consorcio_session_{}", engine.bank().id)
    }

    pub fn session_token(engine: &EngineHandle) -> Option<SessionToken> {
        let parts = use_context::<Parts>()?;
        let name = cookie_name(engine);
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| SessionToken::parse(v))
    }

    /// The account of the logged-in client; [`AppError::NotLoggedIn`] without a session cookie,
    /// [`AppError::SessionEnded`] with one whose session is over.
    pub async fn current_account(engine: &EngineHandle) -> Result<AccountId, AppError> {
        let token = session_token(engine).ok_or(AppError::NotLoggedIn)?;
        engine
            .session_account(token.hash())
            .await
            .map_err(from_engine)?
            .ok_or(AppError::SessionEnded)
    }

    /// Starts a session for `account` and sends its cookie: HttpOnly (no script can read it),
    /// SameSite=Strict (no other site can make the browser send it).
    pub async fn start_session(engine: &EngineHandle, account: AccountId) -> Result<(), AppError> {
        let token = SessionToken::generate();
        engine
            .create_session(token.hash(), account)
            .await
            .map_err(from_engine)?;
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            cookie_name(engine),
            token.as_cookie_value(),
            engine::auth::SESSION_TTL_MS / 1_000
        );
        set_cookie(&cookie);
        Ok(())
    }

    pub fn clear_session_cookie(engine: &EngineHandle) {
        set_cookie(&format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
            cookie_name(engine)
        ));
    }

    fn set_cookie(cookie: &str) {
        if let (Some(res), Ok(value)) = (
            use_context::<ResponseOptions>(),
            HeaderValue::from_str(cookie),
        ) {
            res.append_header(header::SET_COOKIE, value);
        }
    }

    /// An engine error as the client hears it: its HTTP kind, in the client's words.
    pub fn from_engine(e: EngineError) -> AppError {
        let msg = e.say(locale());
        match e {
            EngineError::Ledger(l) => match l {
                LedgerError::UnknownAccount | LedgerError::UnknownTx => AppError::NotFound(msg),
                LedgerError::DuplicateTaxId => AppError::field("tax_id1", msg),
                LedgerError::DuplicateEmail => AppError::field("email", msg),
                LedgerError::TxIdConflict => AppError::Conflict(msg),
                LedgerError::InsufficientFunds
                | LedgerError::SelfTransfer
                | LedgerError::BalanceLimit => AppError::Refused(msg),
                LedgerError::InvalidAmount => AppError::field("amount", msg),
            },
            EngineError::Packet(p) => AppError::BadInput {
                field: packet_field(p),
                message: msg,
            },
            EngineError::Consortium(ConsortiumError::NoSuchBank(_)) => AppError::BadInput {
                field: None,
                message: msg,
            },
            EngineError::Busy
            | EngineError::Stopped
            | EngineError::NotStored
            | EngineError::Consortium(_) => AppError::Unavailable(msg),
            EngineError::Consent(c) => match c {
                ConsentError::BadCode | ConsentError::BadState => AppError::BadInput {
                    field: None,
                    message: msg,
                },
                ConsentError::Unknown => AppError::NotFound(msg),
                ConsentError::Busy => AppError::Unavailable(msg),
                ConsentError::TooMany => AppError::Refused(msg),
            },
            EngineError::KeyCode(_) => AppError::field("code", msg),
            EngineError::Key(_) => AppError::field("key", msg),
            EngineError::Unexpected => AppError::Unexpected,
        }
    }

    /// The form field a packet error is about (`legs.<n>.<field>`).
    pub fn packet_field(e: PacketError) -> Option<String> {
        match e {
            PacketError::LegCount => None,
            PacketError::UnknownBank { leg, .. } => Some(format!("legs.{leg}.receiver_bank")),
            PacketError::InvalidAmount { leg } => Some(format!("legs.{leg}.amount")),
        }
    }

    /// A Pix key typed in a form.
    pub fn pix_key(text: &str, field: &str) -> Result<domain::PixKey, AppError> {
        domain::PixKey::parse(text).map_err(|e| self::field(field, e))
    }

    /// Who `key` pays, from this bank's copy of the directory (404 when nobody).
    pub async fn resolve_key(
        engine: &EngineHandle,
        key: domain::PixKey,
    ) -> Result<domain::dto::ReceiverPreview, AppError> {
        match consortium() {
            Some(c) => c.lookup(key).await.map_err(from_engine),
            None => {
                let entry = engine.lookup_key(key).await.map_err(from_engine)?;
                Ok(domain::dto::ReceiverPreview {
                    name: entry.name,
                    key_masked: entry.document,
                    bank: engine.bank().clone(),
                })
            }
        }
    }

    pub fn tx_id(text: &str, engine: &EngineHandle) -> Result<domain::TxId, AppError> {
        if text.is_empty() {
            return Ok(engine.new_tx_id());
        }
        domain::TxId::parse(text).map_err(|e| AppError::BadInput {
            field: None,
            message: e.say(locale()),
        })
    }

    /// Runs CPU-heavy password work on the engine's bounded password threads (see
    /// [`engine::auth::PasswordWorkers`]).
    pub async fn blocking<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        engine::auth::PasswordWorkers::shared()
            .run(f)
            .await
            .map_err(from_engine)
    }
}

#[server(endpoint = "get_bank")]
pub async fn get_bank() -> Result<BankInfo, AppError> {
    Ok(ssr::engine()?.bank().clone())
}

pub use signup::*;

mod consent;
pub use consent::*;

pub mod keys;
pub use keys::{
    confirm_key, delete_key, get_keys, request_key, AllowPort, ConfirmKey, DeleteKey, GetKeys,
    KeyRequest, KeyView, KeysPage, RequestKey,
};

/// Sign-up alone: every field of its form is an argument of its server function (what the
/// ActionForm posts, so it works before the wasm loads), more than clippy's default allows; the
/// allow is on this module because the `#[server]` macro's browser stub carries no attributes.
#[allow(clippy::too_many_arguments)]
mod signup {
    use super::*;

    /// Opens an account and logs its owner in. `kind` is `individual` or `company`; `joint` is
    /// present (any value) for a joint account with a second holder.
    #[server(endpoint = "create_account")]
    pub async fn create_account(
        kind: String,
        joint: Option<String>,
        name1: String,
        tax_id1: String,
        name2: Option<String>,
        tax_id2: Option<String>,
        email: String,
        phone: String,
        password: String,
        register_key: Option<String>,
    ) -> Result<(), AppError> {
        use domain::dto::{AccountKind, Holder};
        use domain::input;
        use engine::auth::{hash_password, Password};
        use engine::NewAccount;

        let engine = ssr::engine()?;
        let guards = ssr::login_guards();
        let address_key = format!("address:{}", ssr::client_address());
        if let Some(g) = &guards {
            if let Err(ms) = g.signups.check(&[&address_key], ssr::now_ms()) {
                return Err(ssr::too_many_attempts(ms));
            }
        }
        let company = match kind.as_str() {
            "individual" => false,
            "company" => true,
            _ => {
                return Err(AppError::field(
                    "kind",
                    crate::i18n::td_string!(ssr::locale(), err.choose_kind),
                ))
            }
        };
        let mut holders = vec![Holder {
            name: input::name(&name1).map_err(|e| ssr::field("name1", e))?,
            tax_id: input::holder_tax_id(&tax_id1, company)
                .map_err(|e| ssr::field("tax_id1", e))?,
        }];
        if joint.is_some() {
            let second = Holder {
                name: input::name(name2.as_deref().unwrap_or(""))
                    .map_err(|e| ssr::field("name2", e))?,
                tax_id: input::holder_tax_id(tax_id2.as_deref().unwrap_or(""), company)
                    .map_err(|e| ssr::field("tax_id2", e))?,
            };
            if second.tax_id == holders[0].tax_id {
                return Err(ssr::field("tax_id2", input::InputError::SameHolderTwice));
            }
            holders.push(second);
        }
        let first_document = holders[0].tax_id;
        let email = input::email(&email).map_err(|e| ssr::field("email", e))?;
        let phone = input::phone(&phone).map_err(|e| ssr::field("phone", e))?;
        input::password(&password).map_err(|e| ssr::field("password", e))?;
        let password_hash = ssr::blocking(move || hash_password(&Password::new(password))).await?;
        let kind = if company {
            AccountKind::Company
        } else {
            AccountKind::Individual
        };
        let opened = engine
            .open_account(NewAccount {
                kind,
                holders,
                email,
                phone,
                password_hash,
            })
            .await;
        let account = match opened {
            Ok(account) => account,
            // One answer whichever is taken, so that sign-up does not tell who is a client here;
            // and these refusals count against the address, as failed logins do.
            Err(engine::EngineError::Ledger(
                engine::LedgerError::DuplicateTaxId | engine::LedgerError::DuplicateEmail,
            )) => {
                if let Some(g) = &guards {
                    g.signups.failed(&[&address_key], ssr::now_ms());
                }
                return Err(AppError::Refused(
                    crate::i18n::td_string!(ssr::locale(), err.signup_refused).to_string(),
                ));
            }
            Err(e) => return Err(ssr::from_engine(e)),
        };
        ssr::start_session(&engine, account).await?;
        // The holder's document as the account's first Pix key, when asked for. The account is
        // open whatever happens here: a key that cannot be registered now can be from the keys
        // page later.
        if register_key.is_some() {
            let document = domain::PixKey::from(first_document);
            // Never a move from another bank at sign-up: that is asked for on the keys page.
            if let Err(e) = keys::ssr::register(&engine, account, document, false).await {
                tracing::info!(error = %e, "the sign-up's key could not be registered");
                leptos_axum::redirect("/keys?signup=1");
                return Ok(());
            }
        }
        leptos_axum::redirect("/dashboard");
        Ok(())
    }
}

/// Logs in and goes to `next` when it is a path of this site (the page that asked for a
/// session), else to the dashboard.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use engine::auth::{verify_password, Password};

    let engine = ssr::engine()?;
    if password.len() > 4 * domain::input::PASSWORD_MAX_CHARS
        || email.len() > 4 * domain::input::EMAIL_MAX_CHARS
    {
        return Err(AppError::InvalidCredentials);
    }
    let email = email.trim().to_lowercase();
    let lockout = ssr::Lockout::new(&email);
    let now = ssr::now_ms();
    let too_many = ssr::too_many_attempts;
    if let Some(ms) = lockout.locked_for(now) {
        return Err(too_many(ms));
    }
    let found = engine.credentials(email).await.map_err(ssr::from_engine)?;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), Some(hash)),
        None => (None, None),
    };
    // Unknown e-mails are checked against a dummy hash: same time, same answer. The lock-out is
    // checked again once this login's turn to hash has come, and a failure is recorded before
    // the turn passes on: a burst of guesses queued behind the hashing limit gets no more
    // hashes than the allowance (plus the one other turn in progress).
    let on_turn = lockout.clone();
    let verdict = ssr::blocking(move || {
        if let Some(ms) = on_turn.locked_for(ssr::now_ms()) {
            return Err(ms);
        }
        let ok = verify_password(hash.as_ref(), &Password::new(password));
        if !ok {
            on_turn.failed(now);
        }
        Ok(ok)
    })
    .await?;
    let ok = verdict.map_err(too_many)?;
    match (ok, account) {
        (true, Some(account)) => {
            lockout.succeeded();
            ssr::start_session(&engine, account).await?;
            leptos_axum::redirect(ssr::local_path(next.as_deref()).unwrap_or("/dashboard"));
            Ok(())
        }
        _ => Err(AppError::InvalidCredentials),
    }
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let engine = ssr::engine()?;
    if let Some(token) = ssr::session_token(&engine) {
        engine
            .end_session(token.hash())
            .await
            .map_err(ssr::from_engine)?;
    }
    ssr::clear_session_cookie(&engine);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "get_dashboard")]
pub async fn get_dashboard() -> Result<DashboardPage, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let dashboard = engine.dashboard(account).await.map_err(ssr::from_engine)?;
    let (banks, linked) = match ssr::consortium() {
        Some(c) => (
            c.banks(),
            c.linked_accounts(account).await.map_err(ssr::from_engine)?,
        ),
        None => (vec![engine.bank().clone()], Vec::new()),
    };
    let keys = engine
        .keys_of(account)
        .await
        .map_err(ssr::from_engine)?
        .into_iter()
        .map(|e| e.key.canonical())
        .collect();
    Ok(DashboardPage {
        dashboard,
        keys,
        deposit_tx_id: engine.new_tx_id().to_string(),
        pix_tx_id: engine.new_tx_id().to_string(),
        packet_tx_id: engine.new_tx_id().to_string(),
        banks,
        linked,
    })
}

#[server(endpoint = "deposit")]
pub async fn deposit(amount: String, tx_id: String) -> Result<domain::Cents, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let amount = domain::Cents::parse_amount(&amount).map_err(|e| ssr::field("amount", e))?;
    let tx = ssr::tx_id(&tx_id, &engine)?;
    engine
        .deposit(tx, account, amount)
        .await
        .map_err(ssr::from_engine)?;
    Ok(amount)
}

/// Who receives a Pix sent to `key`: the holder's name, masked document and bank, from this
/// bank's copy of the consortium's key directory. `bank`, when given, must be the key's bank.
/// Requires a session, so that keys cannot be enumerated anonymously.
#[server(endpoint = "lookup_receiver")]
pub async fn lookup_receiver(
    key: String,
    bank: Option<String>,
) -> Result<ReceiverPreview, AppError> {
    let engine = ssr::engine()?;
    ssr::current_account(&engine).await?;
    let key = ssr::pix_key(&key, "key")?;
    let expected = bank
        .as_deref()
        .filter(|b| !b.trim().is_empty())
        .map(|b| ssr::bank_id(Some(b), "bank", &engine))
        .transpose()?;
    let found = ssr::resolve_key(&engine, key).await?;
    if expected.is_some_and(|b| b != found.bank.id) {
        return Err(ssr::from_engine(engine::LedgerError::UnknownAccount.into()));
    }
    Ok(found)
}

/// A Pix from the client's account here to the account `key` pays (at the bank the directory
/// names; `bank`, when given, must be that bank). Inside the bank it is immediate; to another
/// bank it is a one-leg packet through the token ring and 2PC.
#[server(endpoint = "send_pix")]
pub async fn send_pix(
    key: String,
    amount: String,
    tx_id: String,
    bank: Option<String>,
) -> Result<TransferReceipt, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let key = ssr::pix_key(&key, "key")?;
    let amount = domain::Cents::parse_amount(&amount).map_err(|e| ssr::field("amount", e))?;
    let receiver = lookup_receiver(key.canonical(), bank).await?;
    let bank = receiver.bank.id;
    let tx = ssr::tx_id(&tx_id, &engine)?;
    let receipt = if bank == engine.bank().id {
        engine
            .pix(tx, account, key, amount)
            .await
            .map_err(ssr::from_engine)?
    } else {
        let consortium = ssr::require_consortium()?;
        let leg = domain::dto::PacketLeg {
            source_bank: engine.bank().id,
            receiver_key: key.clone(),
            receiver_bank: bank,
            amount,
        };
        let members: Vec<domain::BankId> = consortium.banks().iter().map(|b| b.id).collect();
        let packet = domain::packet::Packet::new(vec![leg], &members)
            .map_err(|e| ssr::from_engine(e.into()))?;
        let outcome = consortium
            .submit(account, tx, packet)
            .await
            .map_err(ssr::from_engine)?;
        if let Some((_, reason)) = outcome.failure() {
            return Err(AppError::Refused(crate::text::refusal(
                ssr::locale(),
                reason,
                &consortium.banks(),
            )));
        }
        if outcome.status != domain::dto::TxStatus::Committed {
            return Err(AppError::Refused(
                crate::i18n::td_string!(ssr::locale(), err.transfer_cancelled).to_string(),
            ));
        }
        let receiver = outcome.legs.first().and_then(|l| l.receiver.clone());
        let name = receiver
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let key_masked = receiver
            .map(|r| r.key_masked)
            .unwrap_or_else(|| key.masked());
        let bank_info = crate::text::bank_info(ssr::locale(), bank, &consortium.banks());
        TransferReceipt {
            tx_id: outcome.tx_id,
            status: outcome.status,
            amount,
            receiver: ReceiverPreview {
                name,
                key_masked,
                bank: bank_info,
            },
        }
    };
    Ok(receipt)
}

/// A Pix packet: every leg commits or none does. Each leg draws from the client's account at
/// `source_bank` (that bank checks it is the client's) and pays `receiver_key` at `receiver_bank`.
/// Field errors name the row: `legs.<n>.<field>`. Retrying with the same `tx_id` returns the first
/// outcome.
#[server(endpoint = "send_packet", input = leptos::server_fn::codec::Json)]
pub async fn send_packet(tx_id: String, legs: Vec<LegInput>) -> Result<PacketOutcome, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    if legs.len() > domain::dto::MAX_PACKET_LEGS {
        return Err(ssr::from_engine(
            domain::packet::PacketError::LegCount.into(),
        ));
    }
    let mut parsed = Vec::with_capacity(legs.len());
    for (i, leg) in legs.iter().enumerate() {
        let f = |name: &str| format!("legs.{i}.{name}");
        let receiver_key = ssr::pix_key(&leg.receiver_key, &f("receiver_key"))?;
        // The receiver's bank is the one the directory names; a bank given by the caller is
        // taken as it is (and that bank refuses a key that is not one of its accounts').
        let receiver_bank = match leg.receiver_bank.trim() {
            "" => match ssr::resolve_key(&engine, receiver_key.clone()).await {
                Ok(found) => found.bank.id,
                Err(AppError::NotFound(m)) => return Err(AppError::field(&f("receiver_key"), m)),
                Err(e) => return Err(e),
            },
            given => ssr::bank_id(Some(given), &f("receiver_bank"), &engine)?,
        };
        parsed.push(domain::dto::PacketLeg {
            source_bank: ssr::bank_id(Some(&leg.source_bank), &f("source_bank"), &engine)?,
            receiver_key,
            receiver_bank,
            amount: domain::Cents::parse_amount(&leg.amount)
                .map_err(|e| ssr::field(&f("amount"), e))?,
        });
    }
    let tx = ssr::tx_id(&tx_id, &engine)?;
    let consortium = ssr::require_consortium()?;
    let members: Vec<domain::BankId> = consortium.banks().iter().map(|b| b.id).collect();
    let packet =
        domain::packet::Packet::new(parsed, &members).map_err(|e| ssr::from_engine(e.into()))?;
    consortium
        .submit(account, tx, packet)
        .await
        .map_err(ssr::from_engine)
}

/// The consortium's banks with their public address and live status (the bank selector and the
/// status page). Public: no session needed, nothing personal in it.
#[server(endpoint = "get_consortium")]
pub async fn get_consortium() -> Result<Vec<domain::dto::BankStatus>, AppError> {
    let engine = ssr::engine()?;
    Ok(match ssr::consortium() {
        Some(c) => c.status().await,
        None => vec![domain::dto::BankStatus {
            bank: engine.bank().clone(),
            url: String::new(),
            online: true,
            holding: false,
            epoch_counter: 0,
            epoch_origin: None,
            visits: 0,
            rotations_per_s: 0.0,
            packets_in_flight: 0,
            decisions_undelivered: 0,
        }],
    })
}

/// Where the client's packet `tx_id` stands, while it runs and shortly after.
#[server(endpoint = "packet_progress")]
pub async fn packet_progress(
    tx_id: String,
) -> Result<Option<domain::dto::PacketProgress>, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let tx = domain::TxId::parse(&tx_id).map_err(|e| ssr::field("tx_id", e))?;
    Ok(ssr::consortium().and_then(|c| c.progress(account, &tx)))
}
