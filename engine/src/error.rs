//! The engine's errors: what a caller can branch on. Its own module (a leaf), so that the pure
//! state machines can answer with them without reaching into the engine thread.

use crate::ledger::LedgerError;
use domain::BankId;

/// Errors a caller can branch on. Their Display is short developer text (logs, tests); what a
/// client reads is the app's sentence for each, in the client's language (`app::text`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("bank busy")]
    Busy,
    #[error("engine stopped")]
    Stopped,
    #[error("unexpected engine failure")]
    Unexpected,
    /// The batch this operation belonged to could not be written (a full disk, say): nothing of
    /// it happened, and the bank cannot store new operations until writing works again.
    #[error("batch not stored")]
    NotStored,
    /// Another bank could not be reached, or the consortium could not run the operation.
    #[error(transparent)]
    Consortium(#[from] ConsortiumError),
    /// The packet itself is wrong (unknown bank, too many legs...).
    #[error(transparent)]
    Packet(#[from] domain::packet::PacketError),
    /// A consent, its code or a link's state was refused.
    #[error(transparent)]
    Consent(#[from] crate::consent::ConsentError),
    /// A key's confirmation code was refused.
    #[error(transparent)]
    KeyCode(crate::key_codes::CodeError),
    /// A key cannot be claimed for this account.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Refused by this bank's rules before anything moved, in the code a vote would carry (a
    /// devolução of a Pix not received, above what is left of it, or too late).
    #[error("refused: {0:?}")]
    Refused(domain::Refusal),
    /// Pix limits a client may not set (negative, above the ceiling, night above day).
    #[error(transparent)]
    Limits(domain::pix_limits::LimitError),
    /// A charge (cobrança) cannot be created or cancelled.
    #[error(transparent)]
    Charge(#[from] crate::charges::ChargeError),
}

/// Why a key cannot be claimed for an account (checked by the bank that owns the account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("document key is not a holder's document")]
    NotYourDocument,
    #[error("key limit reached for this account")]
    TooMany,
    #[error("key already registered to this account")]
    AlreadyYours,
    #[error("key belongs to another account")]
    Taken,
    /// Not a key of this account here (or not one that may be moved).
    #[error("not an e-mail or phone key of this account")]
    NotYours,
    /// The key is this person's, at another bank: it can be moved here (portability) if the
    /// client asks for it.
    #[error("key is this client's at bank {0}")]
    AtAnotherBank(BankId),
    /// A CPF/CNPJ key at another bank: it moves only by being deleted there (by its owner,
    /// logged in at that bank). A document is no secret, so holding an account that names it
    /// proves nothing; an e-mail or phone key moves with the code sent to it.
    #[error("document key registered at bank {0}")]
    DocumentElsewhere(BankId),
}

/// What went wrong between banks, as a client is told it (the app puts it into words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsortiumError {
    #[error("bank {0} unreachable")]
    Unreachable(BankId),
    #[error("transfer not taken in time")]
    Expired,
    #[error("transfer not confirmed; it aborts")]
    NotConfirmed,
    #[error("transfer outcome not known yet")]
    Slow,
    #[error("no bank {0} in the consortium")]
    NoSuchBank(BankId),
}

pub type EngineResult<T> = Result<T, EngineError>;
