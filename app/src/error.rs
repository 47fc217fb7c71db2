//! The one error type of every server function: serialisable, mapped to an HTTP status by the
//! server (see `AppError::status`). What the client reads is [`AppError::message`], in the
//! client's language; Display is developer text (logs).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Input that fails validation; `field` names the form field, when there is one.
    #[error("bad input ({field:?}): {message}")]
    BadInput {
        field: Option<String>,
        message: String,
    },
    #[error("not logged in")]
    NotLoggedIn,
    /// A session cookie came, but its session is over (expired, logged out, ended by newer logins).
    #[error("session ended")]
    SessionEnded,
    /// Never says which of the two was wrong, nor whether the e-mail exists.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A valid request the bank refuses: insufficient funds, Pix to oneself, balance limit.
    #[error("refused: {0}")]
    Refused(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Too many failed logins: locked for a while (the message says how long).
    #[error("too many attempts: {0}")]
    TooManyAttempts(String),
    #[error("unexpected failure")]
    Unexpected,
    /// The request could not be decoded (arguments missing or malformed).
    #[error("malformed request")]
    Malformed,
    /// The bank could not be reached from the browser.
    #[error("bank unreachable from the browser")]
    Network,
}

impl AppError {
    /// Bad input in form field `field`. `message` is the client's sentence (from the locale
    /// files), never an error's Display.
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::BadInput {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadInput { .. } => 400,
            AppError::NotLoggedIn | AppError::SessionEnded | AppError::InvalidCredentials => 401,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Refused(_) => 422,
            AppError::Unavailable(_) => 503,
            AppError::TooManyAttempts(_) => 429,
            AppError::Unexpected => 500,
            AppError::Malformed => 400,
            AppError::Network => 503,
        }
    }

    /// No session: none was opened, or it ended.
    pub fn needs_login(&self) -> bool {
        matches!(self, AppError::NotLoggedIn | AppError::SessionEnded)
    }

    /// What the client reads: the bank's message (already in the client's language), or for the
    /// errors that carry none, their sentence in `locale`.
    pub fn message(&self, locale: crate::Locale) -> String {
        use crate::i18n::td_string;
        match self {
            AppError::BadInput { message, .. }
            | AppError::NotFound(message)
            | AppError::Conflict(message)
            | AppError::Refused(message)
            | AppError::Unavailable(message)
            | AppError::TooManyAttempts(message) => message.clone(),
            AppError::NotLoggedIn => td_string!(locale, err.not_logged_in).to_string(),
            AppError::SessionEnded => td_string!(locale, err.session_ended).to_string(),
            AppError::InvalidCredentials => td_string!(locale, err.invalid_credentials).to_string(),
            AppError::Unexpected => td_string!(locale, err.unexpected).to_string(),
            AppError::Malformed => td_string!(locale, err.malformed).to_string(),
            AppError::Network => td_string!(locale, err.network).to_string(),
        }
    }

    /// The message for a form field, if this error is about that field.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            AppError::BadInput {
                field: Some(f),
                message,
            } if f == name => Some(message.clone()),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Errors raised by the server-function machinery itself. Arguments that do not decode are
    /// the client's fault (400); the rest are ours.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::MissingArg(_) => AppError::Malformed,
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => AppError::Network,
            _ => AppError::Unexpected,
        }
    }
}
