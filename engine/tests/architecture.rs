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
    "src/charges.rs",
    "src/contacts.rs",
    "src/ledger.rs",
    "src/settlement.rs",
    "src/schedule.rs",
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

/// The crates ARCHITECTURE.md's code map describes, each a section starting "- `<crate>/`".
const CRATES: &[&str] = &["domain", "engine", "app", "frontend", "server", "loadgen"];

fn workspace() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, as paths relative to `dir`.
fn rust_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".rs") {
            out.push(format!("{prefix}{name}"));
        }
    }
}

/// Whether `word` occurs in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before = text[..at].chars().next_back().is_none_or(|c| !ident(c));
        let after = text[at + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !ident(c));
        before && after
    })
}

/// Whether the Rust path `crate::a::b` names something: each segment a module file while there
/// is one, then the rest identifiers of the last module's source.
fn resolves(root: &Path, path: &str) -> bool {
    let mut segments = path.split("::");
    let Some(krate) = segments.next() else {
        return false;
    };
    let mut dir = root.join(krate).join("src");
    let mut file = dir.join("lib.rs");
    for segment in segments {
        let (flat, nested) = (
            dir.join(format!("{segment}.rs")),
            dir.join(segment).join("mod.rs"),
        );
        if let Some(next) = [flat, nested].into_iter().find(|f| f.is_file()) {
            dir = dir.join(segment);
            file = next;
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        return has_word(&text, segment);
    }
    true
}

/// ARCHITECTURE.md is checked against the code: every source file of a crate is named in the
/// code map (by its path under `src/`, or a directory of it), every file path it names exists,
/// and every Rust path it names (`server::config::starved_after_ms`, `Node::run_batch`) still
/// does. A rename that forgets the map fails here.
#[test]
fn the_architecture_map_names_every_file_and_only_what_exists() {
    let root = workspace();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut all_sources = String::new();
    let mut broken = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&root.join(krate).join("src"), "", &mut files);
        for f in &files {
            all_sources
                .push_str(&std::fs::read_to_string(root.join(krate).join("src").join(f)).unwrap());
            let exempt = matches!(f.as_str(), "lib.rs" | "main.rs") || f.ends_with("tests.rs");
            let dir_named = f.rsplit_once('/').is_some_and(|(dir, _)| {
                map.contains(&format!("`{dir}/`")) || map.contains(&format!("{krate}/src/{dir}/"))
            });
            if !exempt && !dir_named && !map.contains(f.as_str()) {
                broken.push(format!("{krate}/src/{f} is not in the code map"));
            }
        }
    }
    let mut section: Option<&str> = None;
    for line in map.lines() {
        if let Some(rest) = line.strip_prefix("- `") {
            section = CRATES
                .iter()
                .copied()
                .find(|k| rest.starts_with(&format!("{k}/`")));
        } else if line.starts_with('#') {
            section = None;
        }
        for token in line.split('`').skip(1).step_by(2) {
            let token = token.trim_end_matches("()");
            // (`DATA_DIR/evidence/` and the like are places at run time, not in the repository.)
            let runtime = token
                .split('/')
                .next()
                .is_some_and(|s| s.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
            let is_file = (token.ends_with(".rs") || token.ends_with('/'))
                && !runtime
                && token
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_-./".contains(c));
            if is_file {
                let mut bases = vec![root.clone()];
                match section {
                    Some(k) => bases.extend([root.join(k).join("src"), root.join(k)]),
                    None => bases.extend(
                        CRATES
                            .iter()
                            .flat_map(|k| [root.join(k).join("src"), root.join(k)]),
                    ),
                }
                if !bases.iter().any(|b| b.join(token).exists()) {
                    broken.push(format!(
                        "ARCHITECTURE.md names `{token}`, which does not exist"
                    ));
                }
                continue;
            }
            let is_path = token.contains("::")
                && token
                    .split("::")
                    .all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'));
            if !is_path {
                continue;
            }
            let krate = token.split("::").next().unwrap_or("");
            let found = if CRATES.contains(&krate) {
                resolves(&root, token)
            } else {
                has_word(&all_sources, token.rsplit("::").next().unwrap_or(""))
            };
            if !found {
                broken.push(format!(
                    "ARCHITECTURE.md names `{token}`, which the code does not"
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
