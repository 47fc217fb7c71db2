//! The parts of the load tools that are worth testing on their own: the delay schedule of the
//! WAN proxy (`src/bin/wan-proxy.rs`). The load generator itself is `src/main.rs`.

pub mod wan;
