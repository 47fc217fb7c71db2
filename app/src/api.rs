//! Server functions: the browser's whole API. Each one checks its input, checks the session's
//! owner where money is involved, and enqueues a command into the engine; none touches a balance.
//!
//! One file per concern, every function re-exported here (pages import them from `api`):
//! - `accounts`: sign-up, login, logout;
//! - `banks`: this bank, and the consortium's banks with their status;
//! - `dashboard`: the dashboard's data;
//! - `contacts`: receivers to pay again (recent ones and favourites);
//! - `money`: deposit, who a key pays, Pix, Pix packets and their progress;
//! - [`keys`]: the client's Pix keys;
//! - [`codes`]: Pix by code: the codes to receive (QR and "copia e cola"), paying a pasted code;
//! - [`charges`]: charges (cobranças): created with their dynamic code, listed, cancelled;
//! - `consent`: links between banks and the consents behind them;
//! - `returns`: devolução, a Pix received sent back to its payer;
//! - [`export`]: the statement as a CSV file;
//! - [`operator`]: the operators' console (its own login, settlement windows, evidence).
//!
//! Server only: [`session`] (who is asking: session cookie, language, address, lock-outs) and
//! [`ssr`] (context, input, engine errors in the client's words; re-exports the session's).

mod accounts;
mod banks;
pub mod charges;
pub mod codes;
mod consent;
mod contacts;
mod dashboard;
pub mod export;
pub mod keys;
mod limits;
mod money;
pub mod operator;
mod returns;
mod schedule;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use accounts::*;
pub use banks::*;
pub use charges::{
    cancel_charge, create_charge, my_charges, CancelCharge, CreateCharge, MyCharges,
};
pub use codes::{pay_code, read_code, receive_codes, PayCode, ReadCode, ReceiveCodes};
pub use consent::*;
pub use contacts::*;
pub use dashboard::*;
pub use keys::{
    confirm_key, delete_key, get_keys, request_key, AllowPort, ConfirmKey, DeleteKey, GetKeys,
    KeyRequest, KeyView, KeysPage, RequestKey,
};
pub use limits::*;
pub use money::*;
pub use operator::{
    operator_close, operator_console, operator_evidence, operator_login, operator_logout,
    operator_netting_paid, operator_netting_received, operator_paid, operator_received,
    operator_resend, Console, OperatorClose, OperatorConsole, OperatorEvidence, OperatorLogin,
    OperatorLogout, OperatorNettingPaid, OperatorNettingReceived, OperatorPaid, OperatorReceived,
    OperatorResend,
};
pub use returns::*;
pub use schedule::*;
