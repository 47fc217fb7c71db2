//! The engine's errors: what a caller can branch on. Its own module (a leaf), so that the pure
//! state machines can answer with them without reaching into the engine thread.

use crate::ledger::LedgerError;
use domain::BankId;

/// Errors a caller can branch on. Messages are written for a bank client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("The bank is busy right now. Please try again in a moment.")]
    Busy,
    #[error("The bank is not accepting operations right now.")]
    Stopped,
    #[error("Something went wrong on our side; nothing was changed. Please try again.")]
    Unexpected,
    /// The batch this operation belonged to could not be written (a full disk, say): nothing of
    /// it happened, and the bank cannot store new operations until writing works again.
    #[error("This bank cannot store new operations right now; nothing was changed. Please try again later.")]
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
}

/// Why a key cannot be claimed for an account (checked by the bank that owns the account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("A CPF or CNPJ key must be the document of a holder of this account.")]
    NotYourDocument,
    #[error("This account has as many keys as it may (5 for a person, 20 for a company).")]
    TooMany,
    #[error("This key is already registered to this account.")]
    AlreadyYours,
    #[error("This key belongs to another account.")]
    Taken,
    /// Not a key of this account here (or not one that may be moved).
    #[error("This is not one of this account's e-mail or phone keys.")]
    NotYours,
    /// The key is this person's, at another bank: it can be moved here (portability) if the
    /// client asks for it.
    #[error("This key is yours at another bank; ask to bring it here to move it.")]
    AtAnotherBank(BankId),
    /// A CPF/CNPJ key at another bank: it moves only by being deleted there (by its owner,
    /// logged in at that bank). A document is no secret, so holding an account that names it
    /// proves nothing; an e-mail or phone key moves with the code sent to it.
    #[error(
        "This CPF/CNPJ key is registered at another bank: delete it there, then register it here."
    )]
    DocumentElsewhere(BankId),
}

/// What went wrong between banks, as a client is told it (the app puts it into words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsortiumError {
    #[error("Bank {0} is not reachable right now. Please try again in a moment.")]
    Unreachable(BankId),
    #[error(
        "The consortium could not take this transfer in time; nothing was sent. Please try again."
    )]
    Expired,
    #[error("The transfer could not be confirmed and will be cancelled; nothing will be moved. Please check your statement.")]
    NotConfirmed,
    #[error(
        "This transfer is taking longer than usual. Check your statement before trying again."
    )]
    Slow,
    #[error("There is no bank {0} in the consortium.")]
    NoSuchBank(BankId),
}

pub type EngineResult<T> = Result<T, EngineError>;
