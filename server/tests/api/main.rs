//! Integration tests against real `bank-node` processes: one test binary, one module per concern.

mod assets;
mod auth;
mod bad_input;
mod browser;
mod charges;
mod client_security;
mod codes;
mod consent;
mod everyday;
mod faults;
mod interbank_input;
mod keys;
mod limits;
mod operations;
mod operator_console;
mod receipt;
mod recovery;
mod refunds;
mod ring;
mod schedule;
mod schedule_packet;
mod settlement;
mod support;
mod trust;
mod twopc;
mod tx_reuse;
