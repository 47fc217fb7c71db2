//! The bank engine: everything a bank does with money, and nothing about HTTP or Leptos.
//!
//! # Layout
//! - [`ledger`]: the pure state machine of accounts, balances, reservations and history.
//! - [`store`]: SQLite persistence (WAL, fsync per commit, one transaction per batch).
//! - [`engine`]: the single thread that owns ledger + store and drains the bounded command queue.
//! - [`auth`]: Argon2id password hashing and session tokens.
//! - [`evidence`]: the signed messages other banks sent, kept (bounded) for disputes.
//! - [`key_codes`]: confirmation codes for e-mail and phone keys (single use, expiring, bounded).
//! - [`outbox`]: where a bank "sends" key confirmation codes in the demo (a file).
//! - [`proof`]: this bank's key, the consortium's public keys, signed statements anyone checks.
//! - [`budget`]: token buckets for what clients ask (key lookups, codes sent, sign-ups), bounded,
//!   clock-injected.
//! - [`throttle`]: login throttling per e-mail and per client address (bounded, clock-injected).
//! - [`consent`]: consents between banks (given, drawn on, revoked; links to them), pure.
//! - [`directory`]: the consortium's Pix-key directory, a full copy at every bank, pure.
//! - [`consortium`]: the port through which the app reaches other banks (implemented by the node).
//! - [`operator`]: the operators' console's port (implemented by the node) and their sessions.
//! - [`ring`]: the token ring, sans-IO.
//! - [`twopc`]: two-phase commit across banks: its items, the round and phase-two delivery, sans-IO.
//! - [`coordinator`]: a bank as 2PC coordinator (claims, queue, rounds, deliveries), sans-IO: the
//!   node and the simulation drive this same state machine.
//! - [`schedule`]: scheduled Pix (Pix agendado), waiting for their day, run under an id fixed
//!   when their day comes.
//! - [`settlement`]: settlement windows: signed reports compared pairwise, and the signed steps
//!   of paying a window, pure.
//! - [`wire`]: every inter-bank route and message, and the protocol version.
//!
//! Architecture invariant: callers only enqueue commands through [`EngineHandle`]; no other code
//! reads or writes balances.

pub mod auth;
pub mod budget;
pub mod charges;
pub mod consent;
pub mod consortium;
pub mod contacts;
pub mod coordinator;
pub mod directory;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod key_codes;
pub mod ledger;
pub mod operator;
pub mod outbox;
pub mod proof;
pub mod ring;
pub mod schedule;
pub mod settlement;
pub mod store;
pub mod throttle;
pub mod twopc;
pub mod wire;

pub use engine::decisions::parse_outcome;
pub use engine::{
    wall_clock_ms, Audit, Clock, ConsortiumError, EngineConfig, EngineError, EngineHandle,
    EngineResult, SkewedClock, SystemClock,
};
pub use ledger::{LedgerError, NewAccount};
pub use twopc::Logged;
pub use twopc::Termination;
