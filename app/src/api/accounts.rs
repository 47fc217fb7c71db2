//! Accounts and sessions: opening an account (sign-up), logging in and out.
// Sign-up posts every field of its form as an argument of its server function (what the
// ActionForm posts, so it works before the wasm loads), more than clippy's default allows; the
// allow is on this module because the `#[server]` macro's browser stub carries no attributes.
#![allow(clippy::too_many_arguments)]

use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// Opens an account and logs its first holder in. `kind` is `individual` or `company`; `joint` is
/// present (any value) for a joint account with a second holder, who logs in with their own
/// `email2` and `password2` (under the same rules as the first holder's).
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
    email2: Option<String>,
    password2: Option<String>,
    register_key: Option<String>,
) -> Result<(), AppError> {
    use domain::input;
    use engine::auth::{hash_password, Password};
    use engine::ledger::Login;
    use engine::NewAccount;

    let engine = ssr::engine()?;
    let guards = ssr::login_guards();
    let address_key = format!("address:{}", ssr::client_address());
    if let Some(g) = &guards {
        if let Err(ms) = g.signups.check(&[&address_key], ssr::now_ms()) {
            return Err(ssr::too_many_attempts(ms));
        }
    }
    let kind = signup::account_kind(&kind)?;
    let joint = joint.is_some();
    let second = joint.then(|| (name2.unwrap_or_default(), tax_id2.unwrap_or_default()));
    let holders = signup::holders(kind, (&name1, &tax_id1), second)?;
    let first_document = holders[0].tax_id;
    let email = input::email(&email).map_err(|e| ssr::field("email", e))?;
    let phone = input::phone(&phone).map_err(|e| ssr::field("phone", e))?;
    input::password(&password).map_err(|e| ssr::field("password", e))?;
    let second_login = if joint {
        Some(signup::second_login(&email, email2, password2)?)
    } else {
        None
    };
    // Every well-formed sign-up counts against the address, opened or refused.
    if let Some(b) = ssr::budgets() {
        b.signup(&address_key, ssr::now_ms())
            .map_err(|ms| ssr::spent(ssr::Spent::Signups, ms))?;
    }
    let password_hash = ssr::blocking(move || hash_password(&Password::new(password))).await?;
    let mut logins = vec![Login::new(0, email, password_hash)];
    if let Some((email2, password2)) = second_login {
        let hash = ssr::blocking(move || hash_password(&Password::new(password2))).await?;
        logins.push(Login::new(1, email2, hash));
    }
    let opened = engine
        .open_account(NewAccount {
            kind,
            holders,
            logins,
            phone,
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
    ssr::start_session(&engine, engine::engine::LoggedIn::new(account, 0)).await?;
    let next = match register_key {
        Some(_) => signup::register_document(&engine, account, first_document).await,
        None => "/dashboard",
    };
    leptos_axum::redirect(next);
    Ok(())
}

/// Logs in and goes to `next` when it is a path of this site (the page that asked for a
/// session), else to the dashboard.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    let engine = ssr::engine()?;
    let who = authenticate(&engine, email, password).await?;
    ssr::start_session(&engine, who).await?;
    leptos_axum::redirect(ssr::local_path(next.as_deref()).unwrap_or("/dashboard"));
    Ok(())
}

/// Logs in again from the page where the session ended, without leaving it: what the client
/// typed there is still on the page. Goes through the same checks and lock-outs as [`login`].
#[server(endpoint = "resume_session")]
pub async fn resume_session(email: String, password: String) -> Result<(), AppError> {
    let engine = ssr::engine()?;
    let who = authenticate(&engine, email, password).await?;
    ssr::start_session(&engine, who).await
}

/// Whether this page's session is still on (`false`: the page has none), asked by every open page
/// every few seconds, so that it notices at once when its session ended. `active`: the client
/// typed, clicked or scrolled since the last ask, which keeps the session from ending idle.
#[server(endpoint = "check_session")]
pub async fn check_session(active: bool) -> Result<bool, AppError> {
    let engine = ssr::engine()?;
    let on = if active {
        ssr::current_account(&engine).await
    } else {
        ssr::current_account_quietly(&engine).await
    };
    match on {
        Ok(_) => Ok(true),
        Err(AppError::NotLoggedIn) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Asks the logged-in client for her password again before something that gives money away
/// (approving a consent): a session left open on a shared computer is not enough. The password
/// is that of the holder logged in (`who`), never the other holder's of a joint account. Under
/// the same lock-outs as a login, that holder's e-mail's; a wrong password is an error on the
/// `password` field.
#[cfg(feature = "ssr")]
pub(crate) async fn confirm_password(
    engine: &engine::EngineHandle,
    who: engine::engine::LoggedIn,
    password: String,
) -> Result<(), AppError> {
    let email = engine
        .login_email(who)
        .await
        .map_err(ssr::from_engine)?
        .ok_or(AppError::SessionEnded)?;
    match authenticate(engine, email, password).await {
        Ok(found) if found == who => Ok(()),
        Ok(_) | Err(AppError::InvalidCredentials) => Err(AppError::field(
            "password",
            crate::i18n::td_string!(ssr::locale(), err.wrong_password).to_string(),
        )),
        Err(e) => Err(e),
    }
}

/// The account and holder whose e-mail and password these are, under the e-mail's and the
/// address's lock-outs; [`AppError::InvalidCredentials`] whichever was wrong.
#[cfg(feature = "ssr")]
async fn authenticate(
    engine: &engine::EngineHandle,
    email: String,
    password: String,
) -> Result<engine::engine::LoggedIn, AppError> {
    use engine::auth::{verify_password, Password};

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
            Ok(account)
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

/// The parts of a sign-up that read its form and register its first key.
#[cfg(feature = "ssr")]
mod signup {
    use crate::api::ssr;
    use crate::error::AppError;
    use domain::dto::{AccountKind, Holder};
    use domain::{input, AccountId, TaxId};
    use engine::EngineHandle;

    /// The account's kind from the form's `kind`: `individual` or `company`.
    pub fn account_kind(kind: &str) -> Result<AccountKind, AppError> {
        match kind {
            "individual" => Ok(AccountKind::Individual),
            "company" => Ok(AccountKind::Company),
            _ => Err(AppError::field(
                "kind",
                crate::i18n::td_string!(ssr::locale(), err.choose_kind),
            )),
        }
    }

    /// The holders the form names: the first, and the second of a joint account (name, tax id),
    /// each with the document `kind` needs, never the same person twice.
    pub fn holders(
        kind: AccountKind,
        first: (&str, &str),
        second: Option<(String, String)>,
    ) -> Result<Vec<Holder>, AppError> {
        let company = kind == AccountKind::Company;
        let mut holders = vec![Holder {
            name: input::name(first.0).map_err(|e| ssr::field("name1", e))?,
            tax_id: input::holder_tax_id(first.1, company).map_err(|e| ssr::field("tax_id1", e))?,
        }];
        if let Some((name, tax_id)) = second {
            let second = Holder {
                name: input::name(&name).map_err(|e| ssr::field("name2", e))?,
                tax_id: input::holder_tax_id(&tax_id, company)
                    .map_err(|e| ssr::field("tax_id2", e))?,
            };
            if second.tax_id == holders[0].tax_id {
                return Err(ssr::field("tax_id2", input::InputError::SameHolderTwice));
            }
            holders.push(second);
        }
        Ok(holders)
    }

    /// The second holder's own login (e-mail, password) of a joint account: both present, each
    /// under the rules of the first holder's, and another e-mail than the first holder's.
    pub fn second_login(
        first_email: &str,
        email: Option<String>,
        password: Option<String>,
    ) -> Result<(String, String), AppError> {
        let email =
            input::email(email.as_deref().unwrap_or("")).map_err(|e| ssr::field("email2", e))?;
        if email == first_email {
            return Err(ssr::field("email2", input::InputError::SameEmailTwice));
        }
        let password = password.unwrap_or_default();
        input::password(&password).map_err(|e| ssr::field("password2", e))?;
        Ok((email, password))
    }

    /// The holder's document as the account's first Pix key, when the form asks for it, and
    /// where to go next. The account is open whatever happens here: a key that cannot be
    /// registered now can be from the keys page later (which says so).
    pub async fn register_document(
        engine: &EngineHandle,
        account: AccountId,
        document: TaxId,
    ) -> &'static str {
        let document = domain::PixKey::from(document);
        // Never a move from another bank at sign-up: that is asked for on the keys page.
        match crate::api::keys::ssr::register(engine, account, document, false).await {
            Ok(_) => "/dashboard",
            Err(e) => {
                tracing::info!(error = %e, "the sign-up's key could not be registered");
                "/keys?signup=1"
            }
        }
    }
}
