#!/usr/bin/env bash
# Benchmark: starts N release-build banks (BENCH_BANKS, five by default) on loopback (ports 18081 up
# by default, so a demo on 8081-8085 keeps running), measures their idle CPU and token rotation rate, runs the load generator
# at 1, 8 and 64 clients, and prints its tables (throughput, latency, conservation PASS/FAIL).
# Last, it restarts the banks with no idle hold (the token passed on at once) and measures the
# ring's full speed: its capacity in rotations per second.
# The banks get fresh temporary data directories and are stopped on exit, whatever happens.
#
# Settings (environment):
#   BENCH_BANKS=5            how many banks (2 to 100)
#   BENCH_CLIENTS="1 8 64"   client counts, one loadgen run each
#   BENCH_SECS=10            workload seconds per run
#   BENCH_ACCOUNTS=10        accounts opened at each bank per run
#   BENCH_MIX=1,1,1,1        weights: deposit, intra-bank Pix, inter-bank Pix, packet
#   BENCH_IDLE_SECS=5        window of the idle CPU / rotation measurement
#   BENCH_BASE_PORT=18081    bank N listens on BASE_PORT+N-1 (its inter-bank API on BASE_PORT+99+N,
#                            for builds that have INTERBANK_BIND_ADDR; earlier ones serve it beside)
#   BENCH_OUT=$CARGO_TARGET_DIR/bench   where the JSON reports (bench-c<N>.json) go
#   BENCH_KEEP=1             keep the banks' data and logs (otherwise removed unless a run failed)
#   BENCH_CAPACITY=0         skip the ring-capacity phase
#   BENCH_REGEN=3            after the load, kill the token holder this many times (restarting it)
#                            and time the regeneration
#   BENCH_BANK_BIN=path      another bank-node binary (to compare two builds)
#   BENCH_LOADGEN_BIN=path   another loadgen binary (likewise)
#   BENCH_BANK_ENV="K=V .."  extra settings for the banks under load (e.g. TOKIO_WORKER_THREADS=1)
#   BENCH_WAN="10,2,0.01"    inter-bank traffic through the WAN proxy (loadgen's wan-proxy): one-way
#                            delay ms, jitter ms, loss; each bank's peers reach it on its inter-bank
#                            port + 1000 (builds with INTERBANK_BIND_ADDR only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
nbanks=${BENCH_BANKS:-5}
case "$nbanks" in ''|*[!0-9]*) echo "bench: BENCH_BANKS must be a number" >&2; exit 1 ;; esac
if [ "$nbanks" -lt 2 ] || [ "$nbanks" -gt 100 ]; then echo "bench: BENCH_BANKS must be 2 to 100 (the inter-bank ports are 100 above)" >&2; exit 1; fi
clients_list=${BENCH_CLIENTS:-1 8 64}
secs=${BENCH_SECS:-10}
accounts=${BENCH_ACCOUNTS:-10}
mix=${BENCH_MIX:-1,1,1,1}
idle_secs=${BENCH_IDLE_SECS:-5}
# A Pix limit no simulated client reaches (domain::money::MAX_BALANCE, in cents).
unlimited=1000000000000000
base_port=${BENCH_BASE_PORT:-18081}
out=${BENCH_OUT:-$CARGO_TARGET_DIR/bench}
site=${SITE_DIR:-$CARGO_TARGET_DIR/site}
cd "$root"

echo "bench: building release binaries (bank-node, loadgen, wan-proxy)"
cargo build --release --locked -p server -p loadgen
if [ ! -s "$site/asset-name" ]; then
  echo "bench: building the site assets"
  "$root/scripts/setup.sh"
  SITE_DIR="$site" "$root/scripts/build-site.sh" release
fi
bank_bin=${BENCH_BANK_BIN:-$CARGO_TARGET_DIR/release/bank-node}
loadgen_bin=${BENCH_LOADGEN_BIN:-$CARGO_TARGET_DIR/release/loadgen}

ports=()
urls=()
peers=""
# A build with INTERBANK_BIND_ADDR serves the inter-bank API on a listener of its own, as the
# demo and Docker run it (the membership file's URLs point there).
own_listener=0
grep -q INTERBANK_BIND_ADDR "$bank_bin" && own_listener=1
interbank_ports=()
for id in $(seq 1 "$nbanks"); do
  port=$((base_port + id - 1))
  for p in "$port" $([ "$own_listener" = 1 ] && echo $((port + 100))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "bench: port $p is in use; set BENCH_BASE_PORT to another range" >&2
      exit 1
    fi
  done
  ports+=("$port")
  interbank_ports+=($((port + 100)))
  urls+=("http://127.0.0.1:$port")
  peers+="${peers:+,}$id=http://127.0.0.1:$port"
done
banks_arg=$(IFS=,; echo "${urls[*]}")

work=$(mktemp -d "${TMPDIR:-/tmp}/consorcio-bench.XXXXXX")
. "$root/scripts/membership.sh"
# A build from before per-bank keys (BENCH_BANK_BIN, for comparisons) knows no `keygen` and
# takes PEERS and a shared CONSORTIUM_SECRET instead of a membership file.
# (The answer is read whole first: under pipefail, `keygen` exiting non-zero would fail a pipe.)
keygen_answer=$(env -i "$bank_bin" keygen 2>&1 || true)
case "$keygen_answer" in *"give the key file"*) legacy=0 ;; *) legacy=1 ;; esac
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
pids=()
failed=0
# Running and not a zombie (an exited child stays in /proc until it is waited for).
alive() { local s; s=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -n "$s" ] && [ "$s" != Z ]; }
# SIGTERM, then SIGKILL for any bank still running after 5 s (a bank that closed its listener but
# kept its ring going would disturb the next benchmark on these ports).
stop_banks() {
  local p i
  [ ${#pids[@]} -gt 0 ] || return 0
  kill "${pids[@]}" 2>/dev/null || true
  for i in $(seq 1 50); do
    for p in "${pids[@]}"; do alive "$p" && break; done
    alive "$p" || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    if alive "$p"; then
      echo "bench: bank pid $p still running 5 s after SIGTERM; sending SIGKILL" >&2
      kill -9 "$p" 2>/dev/null || true
    fi
  done
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
}
wan_pid=""
cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  stop_banks
  if [ -n "$wan_pid" ]; then kill "$wan_pid" 2>/dev/null || true; wait "$wan_pid" 2>/dev/null || true; fi
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$failed" != 0 ] || [ "$rc" != 0 ]; then
    echo "bench: banks' data and logs kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup INT TERM EXIT

# The WAN: a proxy in front of each bank's inter-bank listener, which the membership file names.
if [ -n "${BENCH_WAN:-}" ]; then
  [ "$own_listener" = 1 ] || { echo "bench: BENCH_WAN needs a build with INTERBANK_BIND_ADDR" >&2; exit 1; }
  IFS=, read -r wan_delay wan_jitter wan_loss <<< "$BENCH_WAN"
  routes=()
  for id in $(seq 1 "$nbanks"); do
    ib=${interbank_ports[$((id-1))]}
    routes+=(--route "127.0.0.1:$((ib + 1000))=127.0.0.1:$ib")
  done
  "$CARGO_TARGET_DIR/release/wan-proxy" "${routes[@]}" --delay-ms "${wan_delay:-10}" \
    --jitter-ms "${wan_jitter:-2}" --loss "${wan_loss:-0.01}" 2> "$work/wan-proxy.log" &
  wan_pid=$!
  for i in $(seq 1 50); do grep -q "routes" "$work/wan-proxy.log" && break; sleep 0.1; done
  echo "bench: inter-bank traffic through the WAN proxy: $(cat "$work/wan-proxy.log")"
fi

# Starts the banks with data under $work/$1 and any extra VAR=value settings after it.
start_banks() {
  local dir=$work/$1 id log i
  shift
  pids=()
  local auth=() specs=()
  if [ "$legacy" = 1 ]; then
    auth=(PEERS="$peers" CONSORTIUM_SECRET="$secret")
  else
    for id in $(seq 1 "$nbanks"); do
      local peer_url=${urls[$((id-1))]}
      [ "$own_listener" = 1 ] && peer_url="http://127.0.0.1:${interbank_ports[$((id-1))]}"
      [ -n "${BENCH_WAN:-}" ] && peer_url="http://127.0.0.1:$((${interbank_ports[$((id-1))]} + 1000))"
      specs+=("$id,$(demo_name $id),$peer_url,${urls[$((id-1))]},$(ensure_key "$bank_bin" "$dir/bank-$id/bank.key")")
    done
    write_membership "$dir/membership.json" 100000000000000 "${specs[@]}"
    auth=(MEMBERSHIP="$dir/membership.json")
  fi
  bank_auth=("${auth[@]}")
  bank_extra=("$@")
  for id in $(seq 1 "$nbanks"); do
    launch_bank "$dir" "$id"
  done
  for id in $(seq 1 "$nbanks"); do
    wait_listening "$dir" "$id"
  done
  echo "bench: $nbanks banks up (${urls[0]} .. ${urls[$((nbanks - 1))]}), data in $dir"
}
# Starts bank $2 with data under $1, as start_banks set it up (its pid in pids[$2-1]).
launch_bank() {
  local dir=$1 id=$2 listen=()
  mkdir -p "$dir/bank-$id"
  [ "$own_listener" = 1 ] && listen=(INTERBANK_BIND_ADDR="127.0.0.1:${interbank_ports[$((id-1))]}")
  # Every simulated client comes from 127.0.0.1: the address gets the budget of 100,000
  # clients (key lookups, sign-ups); each account keeps its own. Each simulated client pays
  # thousands of Pix: no Pix limit per period (the check itself still runs on every debit).
  env BANK_ID="$id" BIND_ADDR="127.0.0.1:${ports[$((id-1))]}" DATA_DIR="$dir/bank-$id" SITE_DIR="$site" \
    ADDRESS_BUDGET_SCALE=100000 PIX_DAY_LIMIT_CENTS=$unlimited PIX_NIGHT_LIMIT_CENTS=$unlimited \
    PIX_COMPANY_LIMIT_CENTS=$unlimited "${bank_auth[@]}" "${listen[@]}" RUST_LOG="${RUST_LOG:-warn}" \
    "${bank_extra[@]}" "$bank_bin" > "$dir/bank-$id.log" 2>&1 &
  pids[$((id-1))]=$!
}
wait_listening() {
  local log="$1/bank-$2.log" i
  for i in $(seq 1 300); do
    if grep -q "listening on" "$log"; then return 0; fi
    if ! kill -0 "${pids[$(($2-1))]}" 2>/dev/null; then echo "bench: bank $2 failed to start:" >&2; cat "$log" >&2; exit 1; fi
    [ "$i" = 300 ] && { echo "bench: bank $2 not listening after 30 s" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
}
# shellcheck disable=SC2086
start_banks load ${BENCH_BANK_ENV:-}

# CPU time (utime+stime, in clock ticks) of a process; the name field may hold spaces, so cut at ')'.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# A number field of a bank's /status (compact JSON from serde_json).
status_field() {
  local json
  json=$(curl -fsS --max-time 5 "$1/status" 2>/dev/null || true)
  printf '%s' "$json" | grep -o "\"$2\":[0-9.eE+-]*" | head -1 | cut -d: -f2
}
# Idle CPU of each bank (% of one core) and the ring's rotation rate, over $idle_secs seconds.
measure_idle() {
  local when=$1 hz t0 t1 before=() visits0=() i total=0 pct vsum=0 v1 reported
  hz=$(getconf CLK_TCK)
  for i in $(seq 0 $((nbanks - 1))); do
    before[$i]=$(cpu_ticks "${pids[$i]}")
    visits0[$i]=$(status_field "${urls[$i]}" visits)
  done
  t0=$(date +%s.%N)
  sleep "$idle_secs"
  t1=$(date +%s.%N)
  echo "idle ($when), over $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s:"
  printf '  %-6s %10s %14s %18s\n' bank "CPU %core" "visits/s" "rotations_per_s"
  for i in $(seq 0 $((nbanks - 1))); do
    pct=$(awk -v d=$(( $(cpu_ticks "${pids[$i]}") - before[i] )) -v hz="$hz" -v a="$t0" -v b="$t1" \
      'BEGIN{printf "%.2f", 100 * d / hz / (b - a)}')
    total=$(awk -v x="$total" -v y="$pct" 'BEGIN{printf "%.2f", x + y}')
    v1=$(status_field "${urls[$i]}" visits)
    reported=$(status_field "${urls[$i]}" rotations_per_s)
    vsum=$((vsum + ${v1:-0} - ${visits0[$i]:-0}))
    printf '  %-6s %10s %14s %18s\n' "$((i + 1))" "$pct" \
      "$(awk -v d=$(( ${v1:-0} - ${visits0[$i]:-0} )) -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", d / (b - a)}')" "${reported:-?}"
  done
  echo "  all $nbanks banks: ${total}% of one core; token: $(awk -v d="$vsum" -v a="$t0" -v b="$t1" -v n="$nbanks" \
    'BEGIN{printf "%.1f visits/s = %.1f full rotations/s", d / (b - a), d / n / (b - a)}')"
}

sleep 2 # let the ring form before measuring
measure_idle "before load"

mkdir -p "$out"
summary=()
# CPU ticks of the banks together; the machine's (busy, total) ticks from /proc/stat.
banks_cpu_ticks() { local i n=0; for i in $(seq 0 $((nbanks - 1))); do n=$((n + $(cpu_ticks "${pids[$i]}"))); done; echo "$n"; }
machine_ticks() { awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print t - $5 - $6, t}' /proc/stat; }
# A /status number field summed over the banks (visits, commits, commands).
sum_field() { local i n=0 v; for i in $(seq 0 $((nbanks - 1))); do v=$(status_field "${urls[$i]}" "$1"); n=$((n + ${v:-0})); done; echo "$n"; }
# Where cross-bank work spends its time: totals since start, summed over the banks (one /status
# call per bank), printed space-separated in the order of the names given.
phase_fields="rounds round_votes_us prepares_sent prepare_rtt_us prepares_served prepare_engine_us passes pass_us concludes conclude_us"
sum_fields() {
  local i f v json
  local -A total=()
  for f in "$@"; do total[$f]=0; done
  for i in $(seq 0 $((nbanks - 1))); do
    json=$(curl -fsS --max-time 5 "${urls[$i]}/status" 2>/dev/null || true)
    for f in "$@"; do
      v=$(printf '%s' "$json" | grep -o "\"$f\":[0-9]*" | head -1 | cut -d: -f2)
      total[$f]=$((total[$f] + ${v:-0}))
    done
  done
  for f in "$@"; do printf '%s ' "${total[$f]}"; done
}
# Average of the growth of sum field $2 per growth of count field $1, in ms, from the two snapshots.
phase_ms() {
  awk -v n0="${p0[$1]}" -v n1="${p1[$1]}" -v s0="${p0[$2]}" -v s1="${p1[$2]}" \
    'BEGIN{ if (n1 > n0) printf "%.1f ms", (s1 - s0) / (n1 - n0) / 1000; else printf "-" }'
}
for c in $clients_list; do
  echo
  echo "bench: loadgen with $c clients for $secs s"
  log="$work/loadgen-c$c.txt"
  set +e
  "$loadgen_bin" --banks "$banks_arg" --accounts "$accounts" --clients "$c" --duration-secs "$secs" \
    --mix "$mix" --json "$out/bench-c$c.json" --label "C=$c" > "$log" 2>&1 &
  lg=$!
  # The workload's own window (not account set-up, logins or the final audit): from loadgen's
  # "workload starts" line to its "workload done" line.
  # Polled every 50 ms: the polling itself must not load the machine being measured.
  wait_line() { while kill -0 "$lg" 2>/dev/null && ! grep -qs "$1" "$log"; do sleep 0.05; done; }
  wait_line "workload starts"
  # shellcheck disable=SC2086
  read -r -a p0 <<< "$(sum_fields $phase_fields)"
  v0=$(sum_field visits); k0=$(sum_field commits); q0=$(sum_field commands); t0=$(date +%s.%N); c0=$(banks_cpu_ticks); m0=$(machine_ticks)
  wait_line "workload done"
  v1=$(sum_field visits); k1=$(sum_field commits); q1=$(sum_field commands); t1=$(date +%s.%N); c1=$(banks_cpu_ticks); m1=$(machine_ticks)
  # shellcheck disable=SC2086
  read -r -a p1 <<< "$(sum_fields $phase_fields)"
  # loadgen counts its own CPU over the workload (it may exit before this script could look).
  lt=$(grep -o '[0-9]* CPU ticks of its own' "$log" | cut -d' ' -f1)
  wait "$lg"
  rc=$?
  set -e
  cat "$log"
  ok=$(grep '^all ' "$log" | awk '{print $2}')
  echo "during the workload: the $nbanks banks used $(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
    -v a="$t0" -v b="$t1" -v ok="${ok:-0}" 'BEGIN{printf "%.2f cores = %.0f us of CPU per successful operation", d / hz / (b - a), (ok > 0 ? 1e6 * d / hz / ok : 0)}'); \
loadgen $(awk -v d="${lt:-0}" -v hz="$(getconf CLK_TCK)" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f cores", d / hz / (b - a)}'); \
the machine was $(echo "$m0 $m1" | awk '{printf "%.0f%% busy", 100 * ($3 - $1) / (($4 - $2) > 0 ? ($4 - $2) : 1)}'); \
token $(awk -v d=$((v1 - v0)) -v a="$t0" -v b="$t1" -v n="$nbanks" 'BEGIN{printf "%.1f visits/s = %.1f full rotations/s", d / (b - a), d / n / (b - a)}'); \
engines $(awk -v k=$((k1 - k0)) -v q=$((q1 - q0)) -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f durable commits/s (fsyncs), %.1f commands per commit", k / (b - a), (k > 0 ? q / k : 0)}')"
  echo "the token's path: a visit with packets held it $(phase_ms 0 1) until the last vote ($((p1[0] - p0[0])) such visits); \
a prepare to another bank took $(phase_ms 2 3) there and back, $(phase_ms 4 5) of it in that bank's engine (queue, commit, fsync); \
a token pass $(phase_ms 6 7) there and back; storing a round's decisions and answering its clients $(phase_ms 8 9)"
  [ "$rc" = 0 ] || failed=1
  summary+=("$(printf 'C=%-3s %s  [%s]' "$c" "$(grep '^all ' "$work/loadgen-c$c.txt" | sed 's/^all *//')" \
    "$(grep -o '^conservation: [A-Z]*' "$work/loadgen-c$c.txt" | cut -d' ' -f2 || echo "exit $rc")")")
  for i in $(seq 0 $((nbanks - 1))); do
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "bench: bank $((i + 1)) died; log:" >&2; tail -20 "$work/bank-$((i + 1)).log" >&2; exit 1; }
  done
done

echo
sleep 2 # let the last decisions and token visits of the load drain first
measure_idle "after load"
echo
echo "summary (all kinds; ok ops/s and latencies of successful operations):"
printf '  %-5s %8s %8s %6s %6s %7s %9s %8s %8s %8s  %s\n' "" ok refused 503 errors resends "ok ops/s" "p50 ms" "p99 ms" "max ms" audit
for line in "${summary[@]}"; do
  # shellcheck disable=SC2086
  printf '  %-5s %8s %8s %6s %6s %7s %9s %8s %8s %8s  %s\n' $line
done
# Regeneration: SIGKILL of the bank holding the token, then the time until another bank shows a
# newer epoch (the token regenerated, or, if the holder had just passed it, its predecessor
# skipping the dead bank under an epoch of its own); the killed bank is restarted and rejoins
# before the next try.
# Timed from the kill to the first sweep of /status calls that sees it (a sweep takes a few ms per
# bank: the figure is an upper bound).
if [ "${BENCH_REGEN:-0}" != 0 ]; then
  echo
  echo "bench: regeneration after SIGKILL of the holder, ${BENCH_REGEN} tries"
  regen_ms=()
  for try in $(seq 1 "$BENCH_REGEN"); do
    # The epoch first, then the holder, killed the moment a status says it holds the token (an
    # idle holder keeps it for up to RING_IDLE_HOLD_MAX_MS: reading anything else in between
    # would let it pass the token on, and the time measured would be a successor's skip).
    old=0
    for i in $(seq 0 $((nbanks - 1))); do
      e=$(status_field "${urls[$i]}" epoch_counter); [ "${e:-0}" -gt "$old" ] && old=$e
    done
    holder=""
    for sweep in $(seq 1 2000); do
      for i in $(seq 0 $((nbanks - 1))); do
        if curl -fsS --max-time 1 "${urls[$i]}/status" 2>/dev/null | grep -q '"holding":true'; then
          kill -9 "${pids[$i]}"; t0=$(date +%s%N); holder=$i; break 2
        fi
      done
    done
    [ -n "$holder" ] || { echo "bench: no bank seen holding the token" >&2; failed=1; break; }
    wait "${pids[$holder]}" 2>/dev/null || true
    seen=""
    while [ -z "$seen" ]; do
      for i in $(seq 0 $((nbanks - 1))); do
        [ "$i" = "$holder" ] && continue
        e=$(status_field "${urls[$i]}" epoch_counter)
        if [ "${e:-0}" -gt "$old" ]; then seen=$i; break; fi
      done
      [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 60000 ] && { echo "bench: no regeneration within 60 s" >&2; failed=1; break 2; }
    done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    regen_ms+=("$ms")
    echo "  try $try: bank $((holder + 1)) killed holding the token; bank $((seen + 1)) shows epoch > $old after $ms ms"
    launch_bank "$work/load" $((holder + 1))
    wait_listening "$work/load" $((holder + 1))
    before=$(status_field "${urls[$holder]}" visits)
    for i in $(seq 1 1200); do
      [ "$(status_field "${urls[$holder]}" visits)" -gt "${before:-0}" ] 2>/dev/null && break
      [ "$i" = 1200 ] && { echo "bench: bank $((holder + 1)) did not rejoin the ring within 60 s" >&2; failed=1; }
      sleep 0.05
    done
  done
  [ ${#regen_ms[@]} -gt 0 ] && echo "  regeneration ms: ${regen_ms[*]} (median $(printf '%s\n' "${regen_ms[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'))"
fi
if [ "${BENCH_CAPACITY:-1}" != 0 ]; then
  echo
  echo "bench: ring capacity: the banks restarted with no idle hold (RING_IDLE_HOLD_MS=0), no load"
  stop_banks
  start_banks capacity RING_IDLE_HOLD_MS=0 RING_IDLE_HOLD_MAX_MS=0
  sleep 2
  measure_idle "ring capacity, token passed on at once"
fi
echo
echo "JSON reports: $out/bench-c<N>.json; latency charts beside them: $out/bench-c<N>.svg"
[ "$failed" = 0 ] || { echo "bench: at least one run FAILED" >&2; exit 1; }
