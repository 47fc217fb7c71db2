#!/usr/bin/env bash
# Installs what building the bank node needs, on a machine that has only Rust:
# the wasm32 target and the wasm-bindgen CLI matching Cargo.lock. Safe to run again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  # Nothing outside the repository is relied on: rustup's network install or a clear failure.
  if ! timeout 300 rustup target add wasm32-unknown-unknown; then
    echo "setup: cannot install the wasm32-unknown-unknown target (rustup needs the network once)" >&2
    exit 1
  fi
fi

# rustfmt and clippy for the lint gate of test.sh (rustup's default profile has them; a minimal
# one does not).
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    echo "setup: adding the $component component"
    rustup component add "$component"
  fi
done

want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (found '${have:-none}'); this takes a few minutes once"
  cargo install wasm-bindgen-cli --version "$want"
fi
