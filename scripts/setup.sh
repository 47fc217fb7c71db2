#!/usr/bin/env bash
# Installs what building the bank node needs, on a machine that has only Rust:
# the wasm32 target and the wasm-bindgen CLI matching Cargo.lock. Safe to run again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  if ! timeout 300 rustup target add wasm32-unknown-unknown; then
    # Offline fallback some machines carry beside the checkout.
    fallback="$root/../shared/toolchain/ensure-wasm32"
    [ -x "$fallback" ] || { echo "setup: cannot install the wasm32 target" >&2; exit 1; }
    "$fallback"
  fi
fi

want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (found '${have:-none}'); this takes a few minutes once"
  cargo install wasm-bindgen-cli --version "$want"
fi
