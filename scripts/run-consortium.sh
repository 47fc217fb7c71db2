#!/usr/bin/env bash
# Starts the five banks of the demo on this machine and prints their URLs:
#   1 Eleven :8081, 2 Automobili :8082, 3 Secret :8083, 4 Formula :8084, 5 Titanium :8085.
# Each bank keeps its database in data/bank-N. Ctrl-C stops them all.
# PROFILE=release builds optimised binaries (slower to build, faster to run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
profile=${PROFILE:-dev}
cd "$root"

"$root/scripts/setup.sh"
case "$profile" in
  dev) cargo build -p server --bin bank-node --locked; bin="$CARGO_TARGET_DIR/debug/bank-node"; site_profile=dev ;;
  release) cargo build -p server --bin bank-node --locked --release; bin="$CARGO_TARGET_DIR/release/bank-node"; site_profile=release ;;
  *) echo "PROFILE must be dev or release" >&2; exit 2 ;;
esac
"$root/scripts/build-site.sh" "$site_profile"

peers="1=http://127.0.0.1:8081,2=http://127.0.0.1:8082,3=http://127.0.0.1:8083,4=http://127.0.0.1:8084,5=http://127.0.0.1:8085"
# The key that authenticates requests between banks: kept in data/ so restarts reuse it.
secret_file="$root/data/consortium-secret"
mkdir -p "$root/data"
if [ ! -s "$secret_file" ]; then
  (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$secret_file")
fi
secret=$(cat "$secret_file")
mkdir -p "$root/data"
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
  BANK_ID=$id BIND_ADDR=127.0.0.1:808$id DATA_DIR="$root/data/bank-$id" SITE_DIR="$CARGO_TARGET_DIR/site" \
    PEERS="$peers" CONSORTIUM_SECRET="$secret" "$bin" > "$log" 2>&1 &
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
  grep -m1 "listening on" "$log" | sed 's/^bank-node /  bank /'
done
echo
echo "Five banks are running; logs in data/bank-N.log; ring status at http://127.0.0.1:808N/status."
echo "Press Ctrl-C to stop them."
wait -n "${pids[@]}"
echo "a bank exited; stopping the others"
