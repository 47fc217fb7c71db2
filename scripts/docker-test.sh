#!/usr/bin/env bash
# End-to-end test of the Docker demo (docker-compose.yaml): builds the image, starts the five banks
# as containers, and through their HTTP API: opens an account at bank 1 and at bank 2, deposits,
# sends an inter-bank Pix; cuts bank 2 off the network (docker network disconnect) and checks that
# the ring goes on without it and that a Pix to it fails cleanly (503, nothing moves); reconnects
# it and checks that it rejoins and that money is conserved across the five banks. Then removes
# everything it made (containers, network, volumes, image), also when it fails.
#
# It runs under its own compose project name, image tag and Docker-chosen host ports, so it cannot
# touch a demo already running from docker-compose.yaml. Needs docker, curl and python3.
# SITE_PROFILE=dev builds the web assets unoptimised (quicker; default release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
started=$(date +%s)

project="consorcio-test-$$-$RANDOM"
image="consorcio/bank-node:$project"
work=$(mktemp -d)
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
dc() { "${compose[@]}" -p "$project" -f "$root/docker-compose.yaml" "$@"; }

log() { echo "docker-test: $*"; }
fail() {
  echo "docker-test: FAILED: $*" >&2
  exit 1
}

up=false
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if $up; then
    if [ "$rc" -ne 0 ]; then
      echo "docker-test: last log lines of each bank:" >&2
      dc logs --no-color --tail 30 >&2 2>&1 || true
    fi
    dc down -v --remove-orphans >/dev/null 2>&1 || echo "docker-test: warning: 'down' failed for project $project" >&2
  fi
  docker image rm -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build --------------------------------------------------------------------------------------
IMAGE="$image" "$root/scripts/docker-build.sh"

# --- start --------------------------------------------------------------------------------------
export CONSORCIO_IMAGE="$image" HOST_IP=127.0.0.1 CONSORCIO_MEMBERSHIP="$work/membership.json"
# Empty ports: Docker publishes each bank on a free loopback port (read back below).
export BANK1_PORT= BANK2_PORT= BANK3_PORT= BANK4_PORT= BANK5_PORT=
up=true
# A key per bank, made in its own volume, and the membership file with their public keys.
COMPOSE_PROJECT="$project" "$root/scripts/docker-up.sh"
banks=(1 2 3 4 5)
declare -A ctr url
for b in "${banks[@]}"; do
  ctr[$b]=$(dc ps -q "bank$b")
  [ -n "${ctr[$b]}" ] || fail "no container for bank$b"
done

# Polls `$@` every 0.2 s until it succeeds, for at most $within seconds.
within=60
wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + within))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${within}s waiting until $what"
    sleep 0.2
  done
}

all_healthy() {
  local b state
  for b in "${banks[@]}"; do
    state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "${ctr[$b]}")
    case "$state" in
      "running healthy") ;;
      running*) return 1 ;;
      *) fail "bank$b is $state" ;;
    esac
  done
}
within=90 wait_for "the five banks are healthy" all_healthy
log "five banks healthy"

port_of() { dc port "bank$1" 8080 | tail -1 | sed 's/.*://'; }
for b in "${banks[@]}"; do url[$b]="http://127.0.0.1:$(port_of "$b")"; done

# --- HTTP helpers ---------------------------------------------------------------------------------
# json FILE EXPR: a Python expression over the JSON document `d` read from FILE.
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# api BANK USER FUNCTION [field=value ...]: POSTs a server function with USER's cookie jar at BANK.
# Sets $status and leaves the answer in $work/body.
api() {
  local bank=$1 user=$2 fn=$3
  shift 3
  local args=() f
  for f in "$@"; do args+=(--data-urlencode "$f"); done
  [ $# -gt 0 ] || args+=(--data "")
  status=$(curl -sS --max-time 20 -o "$work/body" -w '%{http_code}' -c "$work/$user.jar" -b "$work/$user.jar" \
    -H 'Accept: application/json' "${args[@]}" "${url[$bank]}/api/$fn") || status=000
}
expect() {
  local want=$1 what=$2
  [ "$status" = "$want" ] || fail "$what: HTTP $status (wanted $want): $(head -c 500 "$work/body")"
}

# status_of BANK: GET /status into $work/status-BANK.json; fails (returns 1) when unreachable.
status_of() {
  curl -sf --max-time 2 -H "Authorization: Bearer $(cat "$work/operator-token")" \
    -o "$work/status-$1.json" "${url[$1]}/status"
}
visits() { status_of "$1" && json "$work/status-$1.json" 'd["ring"]["visits"]'; }

# balances BANK USER: prints "available blocked" (cents) of USER's account at BANK.
balances() {
  api "$1" "$2" get_dashboard
  expect 200 "dashboard of $2 at bank $1"
  json "$work/body" '"%d %d" % (d["dashboard"]["account"]["available"], d["dashboard"]["account"]["blocked"])'
}
balances_are() { [ "$(balances "$1" "$2")" = "$3" ]; }

# visits_grow BANKS...: every bank's ring visits reach 5 more than when first asked.
declare -A mark
mark_visits() {
  local b
  for b in "$@"; do mark[$b]=$(visits "$b") || fail "bank $b /status unreachable"; done
}
visits_grow() {
  local b v
  for b in "$@"; do
    v=$(visits "$b") || return 1
    [ "$v" -ge $((mark[$b] + 5)) ] || return 1
  done
}

# --- the ring turns -------------------------------------------------------------------------------
mark_visits "${banks[@]}"
wait_for "the token visits every bank" visits_grow "${banks[@]}"
log "token ring turning through all five banks"

# --- accounts, deposit, inter-bank Pix ----------------------------------------------------------
ALICE_CPF=529.982.247-25
BOB_CPF=111.444.777-35
PASSWORD=docker-test-1
api 1 alice create_account kind=individual "name1=Alice Docker" "tax_id1=$ALICE_CPF" email=alice@example.com \
  phone=11987654321 "password=$PASSWORD"
expect 200 "opening Alice's account at bank 1"
api 2 bob create_account kind=individual "name1=Bob Docker" "tax_id1=$BOB_CPF" email=bob@example.com \
  phone=11987654321 "password=$PASSWORD" register_key=on
expect 200 "opening Bob's account at bank 2"
# Bob's CPF key is replicated to every bank's directory copy when the registration commits;
# bank 1 resolves it from its own copy.
key_known() { api 1 alice lookup_receiver "key=$BOB_CPF"; [ "$status" = 200 ]; }
within=30 wait_for "bank 1 resolves Bob's key" key_known
api 1 alice deposit amount=100,00 tx_id=
expect 200 "Alice's deposit"
deposits=10000
api 1 alice send_pix "key=$BOB_CPF" amount=25,00 tx_id=
expect 200 "Pix of R\$ 25,00 from Alice (bank 1) to Bob (bank 2)"
within=30 wait_for "Bob holds R\$ 25,00" balances_are 2 bob "2500 0"
[ "$(balances 1 alice)" = "7500 0" ] || fail "Alice should hold 7500 0, has $(balances 1 alice)"
log "accounts opened, R\$ 100,00 deposited, inter-bank Pix of R\$ 25,00 committed"

# --- bank 2 cut off ---------------------------------------------------------------------------------
network=$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' "${ctr[2]}")
[ -n "$network" ] || fail "bank2's network not found"
docker network disconnect "$network" "${ctr[2]}"
log "bank 2 disconnected from $network"
others=(1 3 4 5)
mark_visits "${others[@]}"
within=30 wait_for "the ring goes on without bank 2" visits_grow "${others[@]}"
log "ring goes on without bank 2 (visits of banks 1, 3, 4, 5 keep increasing)"

api 1 alice send_pix "key=$BOB_CPF" amount=10,00 tx_id=
# Bob's key resolves from bank 1's own copy of the directory, so the Pix goes to 2PC and bank 2's
# prepare finds no one: refused (422) with the reason, in the client's language (Portuguese).
expect 422 "Pix to the disconnected bank 2"
grep -q "não respondeu a tempo" "$work/body" || fail "the refusal does not say why: $(head -c 500 "$work/body")"
log "Pix to bank 2 refused: $(json "$work/body" 'd if isinstance(d, str) else json.dumps(d)' | head -c 200)"
[ "$(balances 1 alice)" = "7500 0" ] || fail "Alice's money moved: $(balances 1 alice)"
log "nothing moved: Alice still holds R\$ 75,00, nothing blocked"

# --- bank 2 back --------------------------------------------------------------------------------
docker network connect --alias bank2 "$network" "${ctr[2]}"
log "bank 2 reconnected"
# Its published port is read again: reconnecting may move it. A bank standing by is not visited:
# its visits growing again shows it is back in the ring.
url[2]="http://127.0.0.1:$(port_of 2)"
within=30 wait_for "bank 2 answers on ${url[2]}" status_of 2
mark_visits 2
within=60 wait_for "bank 2 rejoins the ring" visits_grow 2
log "bank 2 rejoined (its ring visits increase again: $(visits 2))"

api 1 alice send_pix "key=$BOB_CPF" amount=10,00 tx_id=
expect 200 "Pix of R\$ 10,00 to bank 2 after it rejoined"
within=30 wait_for "Bob holds R\$ 35,00" balances_are 2 bob "3500 0"
log "Pix to bank 2 after it rejoined committed"

# --- money conserved ------------------------------------------------------------------------------
conserved() {
  local b
  for b in "${banks[@]}"; do status_of "$b" || return 1; done
  python3 - "$work" "$deposits" <<'PY'
import json, sys
work, deposits = sys.argv[1], int(sys.argv[2])
audits = [json.load(open(f"{work}/status-{b}.json"))["audit"] for b in range(1, 6)]
total = sum(a["total_available"] for a in audits)
pending = sum(a["total_blocked"] + a["total_incoming"] + a["prepared_transactions"] for a in audits)
sys.exit(0 if total == deposits and pending == 0 else 1)
PY
}
within=30 wait_for "money is conserved (sum of available = R\$ 100,00, nothing blocked, incoming or prepared)" conserved
log "money conserved: the five banks hold R\$ 100,00 in all, nothing blocked, incoming or prepared"

log "passed in $(($(date +%s) - started)) s"
echo "docker-test: 1 passed, 0 failed"
