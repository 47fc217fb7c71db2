#!/usr/bin/env bash
# Starts the five banks of the demo on this machine and prints their URLs, one host name per
# bank (browsers resolve *.localhost to this machine): http://eleven.localhost:8081,
# automobili :8082, secret :8083, formula :8084, titanium :8085.
# Each bank keeps its database and its signing key in data/bank-N; the consortium's membership
# file is data/membership.json (LIMIT_CENTS sets every bank's limit). Ctrl-C stops them all.
# PROFILE=release builds optimised bank binaries (slower to build, faster to run); the web
# assets are optimised either way.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
profile=${PROFILE:-dev}
cd "$root"

"$root/scripts/setup.sh"
case "$profile" in
  dev) cargo build -p server --bin bank-node --locked; bin="$CARGO_TARGET_DIR/debug/bank-node" ;;
  release) cargo build -p server --bin bank-node --locked --release; bin="$CARGO_TARGET_DIR/release/bank-node" ;;
  *) echo "PROFILE must be dev or release" >&2; exit 2 ;;
esac
# The browser's half is always the optimised build, whatever the server's profile: it is what a
# phone downloads on its first visit (about 5 times smaller than the debug wasm).
"$root/scripts/build-site.sh" release

# Each bank's own key in its data folder (kept across restarts), and the membership file every
# bank loads, with every bank's public key and the limit of its net debt to any other bank.
. "$root/scripts/membership.sh"
mkdir -p "$root/data"
rm -f "$root/data/consortium-secret" # the shared secret of earlier versions, now unused
specs=()
for id in 1 2 3 4 5; do
  key=$(ensure_key "$bin" "$root/data/bank-$id/bank.key")
  # Inter-bank API on :908N (its own listener), the bank's site on :808N.
  specs+=("$id,$(demo_name $id),http://127.0.0.1:908$id,http://$(host_name $id).localhost:808$id,$key")
done
membership="$root/data/membership.json"
# The operators' token (for /metrics and the operators' part of /status), made once.
token=$(operator_token "$root/data/operator-token")
write_membership "$membership" "${LIMIT_CENTS:-100000000000}" "${specs[@]}"
pids=()
cleanup() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

for id in 1 2 3 4 5; do
  log="$root/data/bank-$id.log"
  : > "$log"
  BANK_ID=$id BIND_ADDR=127.0.0.1:808$id INTERBANK_BIND_ADDR=127.0.0.1:908$id \
    DATA_DIR="$root/data/bank-$id" SITE_DIR="$CARGO_TARGET_DIR/site" \
    MEMBERSHIP="$membership" OPERATOR_TOKEN="$token" "$bin" > "$log" 2>&1 &
  pids+=($!)
done

echo
for id in 1 2 3 4 5; do
  log="$root/data/bank-$id.log"
  # Wait (bounded) for the bank to say it is listening, or to die.
  for _ in $(seq 1 300); do
    if grep -q "listening on" "$log"; then break; fi
    if ! kill -0 "${pids[$((id-1))]}" 2>/dev/null; then echo "bank $id failed to start:"; cat "$log"; exit 1; fi
    sleep 0.1
  done
  echo "  bank $id $(demo_name $id): http://$(host_name $id).localhost:808$id"
done
echo
echo "Five banks are running; logs in data/bank-N.log; the consortium page at /consortium on any of them."
echo "Operators: /metrics and /status with 'Authorization: Bearer \$(cat data/operator-token)'."
echo "Press Ctrl-C to stop them."
wait -n "${pids[@]}"
echo "a bank exited; stopping the others"
