//! Who is asking (server only): the session cookie and its account, the client's language and
//! address, and the lock-outs a login is subject to.

use super::ssr::from_engine;
use crate::error::AppError;
use crate::i18n::Locale;
use axum::http::{header, request::Parts, HeaderValue};
use domain::AccountId;
use engine::auth::SessionToken;
use engine::engine::LoggedIn;
use engine::EngineHandle;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use std::sync::Arc;

pub use engine::wall_clock_ms as now_ms;

/// The cookie the app's language switch keeps the client's choice in.
pub const LOCALE_COOKIE: &str = "i18n_pref_locale";

/// The client's language: the one the app's switch remembered in its cookie, else Portuguese
/// (the browser's Accept-Language is not asked: the clients are Brazilian).
pub fn locale() -> Locale {
    cookie(LOCALE_COOKIE)
        .and_then(|v| v.parse::<Locale>().ok())
        .unwrap_or_default()
}

/// The value of the request's cookie `name`, if it sent one.
fn cookie(name: &str) -> Option<String> {
    let parts = use_context::<Parts>()?;
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
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

/// The login throttles, when the node provides them.
pub fn login_guards() -> Option<Arc<engine::throttle::LoginGuards>> {
    use_context::<Arc<engine::throttle::LoginGuards>>()
}

/// The budgets clients are held to (key lookups, codes, sign-ups), when the node provides them.
pub fn budgets() -> Option<Arc<engine::budget::ClientBudgets>> {
    use_context::<Arc<engine::budget::ClientBudgets>>()
}

/// The budget key of the client's address.
pub fn address_key() -> String {
    format!("address:{}", client_address())
}

/// The budget key of an account.
pub fn account_key(account: AccountId) -> String {
    format!("account:{}", account.0)
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

/// How this bank's site is reached, which decides its cookie's name and flags: provided by the
/// node. Over HTTPS the session cookie is `__Host-` prefixed and `Secure` (the browser then
/// keeps it to this exact host, over HTTPS, for every path, and no subdomain can set it).
#[derive(Clone, Copy, Debug, Default)]
pub struct SiteSecurity {
    pub https: bool,
}

fn site() -> SiteSecurity {
    use_context::<SiteSecurity>().unwrap_or_default()
}

/// Each bank has its own cookie name, in case several banks share a host (the cookie of one
/// would otherwise overwrite another's); with one host per bank, its host keeps it apart.
fn cookie_name(engine: &EngineHandle) -> String {
    let prefix = if site().https { "__Host-" } else { "" };
    format!("{prefix}consorcio_session_{}", engine.bank().id)
}

/// The flags of the session cookie: HttpOnly (no script can read it), SameSite=Strict (no other
/// site's page makes the browser send it), Path=/, Secure over HTTPS.
fn cookie_flags() -> &'static str {
    if site().https {
        "Path=/; HttpOnly; SameSite=Strict; Secure"
    } else {
        "Path=/; HttpOnly; SameSite=Strict"
    }
}

pub fn session_token(engine: &EngineHandle) -> Option<SessionToken> {
    cookie(&cookie_name(engine)).and_then(|v| SessionToken::parse(&v))
}

/// The account of the logged-in client; [`AppError::NotLoggedIn`] without a session cookie,
/// [`AppError::SessionEnded`] with one whose session is over (ended, past its lifetime, or
/// unused for too long). Counts as the client's activity.
pub async fn current_account(engine: &EngineHandle) -> Result<AccountId, AppError> {
    let token = session_token(engine).ok_or(AppError::NotLoggedIn)?;
    engine
        .session_account(token.hash())
        .await
        .map_err(from_engine)?
        .ok_or(AppError::SessionEnded)
}

/// Like [`current_account`], for what a page asks on its own (refreshing its figures): it does
/// not keep an unattended session alive.
pub async fn current_account_quietly(engine: &EngineHandle) -> Result<AccountId, AppError> {
    Ok(current_login_quietly(engine).await?.account)
}

/// The account and the holder logged in (each holder of a joint account logs in as themself),
/// like [`current_account`]: for what speaks to that holder or asks for their password again.
pub async fn current_login(engine: &EngineHandle) -> Result<LoggedIn, AppError> {
    let token = session_token(engine).ok_or(AppError::NotLoggedIn)?;
    engine
        .session_login(token.hash())
        .await
        .map_err(from_engine)?
        .ok_or(AppError::SessionEnded)
}

/// Like [`current_login`], without counting as the client's activity.
pub async fn current_login_quietly(engine: &EngineHandle) -> Result<LoggedIn, AppError> {
    let token = session_token(engine).ok_or(AppError::NotLoggedIn)?;
    engine
        .session_login_quietly(token.hash())
        .await
        .map_err(from_engine)?
        .ok_or(AppError::SessionEnded)
}

/// Starts a session for a holder of an account and sends its cookie, which lasts as long as the
/// session may.
pub async fn start_session(engine: &EngineHandle, who: LoggedIn) -> Result<(), AppError> {
    let token = SessionToken::generate();
    engine
        .create_session(token.hash(), who)
        .await
        .map_err(from_engine)?;
    let (lifetime_ms, _) = engine.session_limits_ms();
    let cookie = format!(
        "{}={}; {}; Max-Age={}",
        cookie_name(engine),
        token.as_cookie_value(),
        cookie_flags(),
        lifetime_ms / 1_000
    );
    set_cookie(&cookie);
    Ok(())
}

pub fn clear_session_cookie(engine: &EngineHandle) {
    set_cookie(&format!(
        "{}=; {}; Max-Age=0",
        cookie_name(engine),
        cookie_flags()
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

/// The operators' sessions (`engine::operator`), when the node provides them.
fn operator_sessions() -> Option<Arc<engine::operator::OperatorSessions>> {
    use_context::<Arc<engine::operator::OperatorSessions>>()
}

/// The operator's cookie: its own name beside the client's, with the same flags (HttpOnly,
/// SameSite=Strict), so an operator's and a client's sessions never replace each other.
fn operator_cookie_name(engine: &EngineHandle) -> String {
    let prefix = if site().https { "__Host-" } else { "" };
    format!("{prefix}consorcio_operator_{}", engine.bank().id)
}

/// Whether the request comes from an operator whose console session is on.
pub fn operator_on(engine: &EngineHandle) -> bool {
    let token = cookie(&operator_cookie_name(engine)).and_then(|v| SessionToken::parse(&v));
    match (token, operator_sessions()) {
        (Some(token), Some(sessions)) => sessions.is_on(&token, now_ms()),
        _ => false,
    }
}

/// Opens an operator's session (the token it typed matched) and sends its cookie, which lasts
/// as long as the session.
pub fn start_operator_session(engine: &EngineHandle) -> Result<(), AppError> {
    let sessions = operator_sessions().ok_or(AppError::Unexpected)?;
    let token = sessions.open(now_ms());
    set_cookie(&format!(
        "{}={}; {}; Max-Age={}",
        operator_cookie_name(engine),
        token.as_cookie_value(),
        cookie_flags(),
        engine::operator::OPERATOR_SESSION_MS / 1_000
    ));
    Ok(())
}

/// Ends the operator's session, if any, and clears its cookie.
pub fn end_operator_session(engine: &EngineHandle) {
    let name = operator_cookie_name(engine);
    if let (Some(token), Some(sessions)) = (
        cookie(&name).and_then(|v| SessionToken::parse(&v)),
        operator_sessions(),
    ) {
        sessions.end(&token);
    }
    set_cookie(&format!("{name}=; {}; Max-Age=0", cookie_flags()));
}
