//! Architecture invariants, checked against the code as it is (ARCHITECTURE.md states them).
//!
//! The pure state machines (the token ring, two-phase commit's round, deliveries and proofs, the
//! coordinator, the key directory, consents, the ledger, key codes, throttles) import neither the
//! engine thread nor the store, nor anything that does I/O or reads a clock: the node and the
//! simulation drive the very same code, and the simulation can only be deterministic if it is
//! pure.

use std::path::Path;

const PURE: &[&str] = &[
    "src/ring.rs",
    "src/twopc.rs",
    "src/twopc/delivery.rs",
    "src/twopc/proof.rs",
    "src/coordinator.rs",
    "src/directory.rs",
    "src/consent.rs",
    "src/ledger.rs",
    "src/key_codes.rs",
    "src/throttle.rs",
];

/// What a pure state machine must not name: the engine thread, the store, I/O, clocks.
const FORBIDDEN: &[&str] = &[
    "crate::engine",
    "crate::store",
    "rusqlite",
    "tokio",
    "std::fs",
    "std::net",
    "std::thread",
    "SystemTime",
    "Instant",
    "wall_clock_ms",
];

#[test]
fn the_pure_state_machines_import_neither_the_engine_thread_nor_the_store_nor_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for file in PURE {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    broken.push(format!("{file}:{}: {word}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
