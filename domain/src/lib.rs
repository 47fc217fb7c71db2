//! Pure domain types shared by the browser (wasm) and the bank node.
//!
//! # Layout
//! - [`brcode`]: [`BrCode`], a Pix payment request as QR code or "copia e cola" text (EMV MPM).
//! - [`charge`]: charges (cobrança imediata): [`charge::ChargeId`], their status and limits.
//! - [`contacts`]: receivers to pay again (recent and favourites), names masked.
//! - [`money`]: [`Cents`], the only representation of money, and BRL parsing/formatting.
//! - [`tax_id`]: [`Cpf`], [`Cnpj`] and [`TaxId`], parsed with their check digits.
//! - [`pix_key`]: [`PixKey`], every kind of Pix key (CPF, CNPJ, e-mail, phone, random).
//! - [`pix_limits`]: a client's daytime and nighttime Pix limits, as the BCB sets them.
//! - [`pix_message`]: [`PixMessage`], the optional message on a Pix (at most 140 characters).
//! - [`ids`]: [`BankId`], [`AccountId`], [`TxId`].
//! - [`input`]: validation of names, e-mails, phones and passwords typed by a client.
//! - [`consent`]: payment consents between banks (ids, terms, what each side sees).
//! - [`dto`]: the shapes the server sends to the browser.
//! - [`packet`]: a Pix packet as a client asks for it, checked once ([`packet::Packet`]).
//! - [`schedule`]: scheduled Pix (Pix agendado) as a client sees them, and when one may run.
//! - [`refusal`]: why a transfer was refused, as a typed code ([`Refusal`]).
//! - [`time_fmt`]: formatting of timestamps for display.
//!
//! Nothing here performs I/O, so the whole crate compiles to wasm32 and runs under a simulator.

pub mod brcode;
pub mod charge;
pub mod consent;
pub mod contacts;
pub mod dto;
pub mod ids;
pub mod input;
pub mod money;
pub mod packet;
pub mod pix_key;
pub mod pix_limits;
pub mod pix_message;
pub mod refusal;
pub mod schedule;
pub mod tax_id;
pub mod time_fmt;

pub use brcode::{BrCode, BrCodeError};
pub use ids::{AccountId, BankId, ForeignTxId, TxId};
pub use money::{Cents, MoneyError};
pub use pix_key::{KeyKind, PixKey, PixKeyError};
pub use pix_message::{MessageError, PixMessage};
pub use refusal::Refusal;
pub use tax_id::{Cnpj, Cpf, TaxId, TaxIdError};
