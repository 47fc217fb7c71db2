#!/usr/bin/env bash
# Runs every test of the workspace, after installing what a machine with only Rust lacks:
# the wasm32 target and wasm-bindgen CLI (scripts/setup.sh), Chromium and chromedriver for the
# browser test (Debian packages), then builds the web assets the bank nodes serve.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cd "$root"

"$root/scripts/setup.sh"

if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
  echo "test: installing chromium and chromium-driver (Debian packages) for the browser test"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# --- Lint gate: formatting and clippy, warnings are errors. The browser crate is checked for its
# own target: checked natively beside `server` it would unify `app`'s ssr and hydrate features.
cargo fmt --all --check
cargo clippy --workspace --exclude frontend --all-targets --locked -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown --locked -- -D warnings
# --- Docs gate: a broken or stale intra-doc link fails (ARCHITECTURE.md is checked by a test,
# engine/tests/architecture.rs).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --exclude frontend --no-deps --locked

"$root/scripts/build-site.sh" dev
export SITE_DIR="$CARGO_TARGET_DIR/site"
# `frontend` is the wasm crate (feature `hydrate`); building it natively beside `server`
# (feature `ssr`) would unify both features into one `app`, so it is built by build-site.sh only.
cargo test --workspace --exclude frontend --locked "$@"

# --- Docker demo test (scripts/docker-test.sh; README "Docker demo"), only where an engine answers.
# SITE_PROFILE=dev reuses the web assets built above instead of building optimised ones.
if docker info >/dev/null 2>&1; then
  SITE_PROFILE=${SITE_PROFILE:-dev} "$root/scripts/docker-test.sh"
else
  echo "########################################################################"
  echo "### SKIPPED docker test: no docker engine ('docker info' failed)"
  echo "########################################################################"
fi
