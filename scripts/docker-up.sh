#!/usr/bin/env bash
# Starts the Docker demo (docker-compose.yaml) with a key per bank: each bank's signing key is
# made inside its own volume by `bank-node keygen` (once; kept across restarts), and the
# membership file every bank loads is written with their public keys. Build the image first
# (scripts/docker-build.sh).
#
# Environment: COMPOSE_PROJECT (compose project name, default the folder's), CONSORCIO_MEMBERSHIP
# (where to write the membership file, default data/docker/membership.json), PUBLIC_HOST (how a
# browser reaches the published ports; default one host name per bank, eleven.localhost and so on,
# which browsers resolve to this machine), LIMIT_CENTS (every bank's limit), and what
# docker-compose.yaml reads (CONSORCIO_IMAGE, BANKn_PORT, HOST_IP). The operators' token is made
# once beside the membership file (operator-token) and given to every bank.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/membership.sh"
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
project_args=()
[ -n "${COMPOSE_PROJECT:-}" ] && project_args=(-p "$COMPOSE_PROJECT")
dc() { "${compose[@]}" "${project_args[@]}" -f "$root/docker-compose.yaml" "$@"; }

export CONSORCIO_MEMBERSHIP=${CONSORCIO_MEMBERSHIP:-$root/data/docker/membership.json}
mkdir -p "$(dirname "$CONSORCIO_MEMBERSHIP")"
# The file must exist for the key-making runs (compose mounts it); a placeholder until written.
[ -s "$CONSORCIO_MEMBERSHIP" ] || echo '{ "banks": [] }' > "$CONSORCIO_MEMBERSHIP"
chmod 0644 "$CONSORCIO_MEMBERSHIP"
specs=()
for id in 1 2 3 4 5; do
  # keygen where the volume has no key yet, pubkey where it has one: the key never leaves it.
  key=$(dc run --rm --no-deps -T -e BANK_ID=$id "bank$id" pubkey /data/bank.key 2>/dev/null \
    || dc run --rm --no-deps -T -e BANK_ID=$id "bank$id" keygen /data/bank.key)
  key=$(echo "$key" | tr -d '\r' | tail -1)
  port_var="BANK${id}_PORT"
  host=${PUBLIC_HOST:-$(host_name $id).localhost}
  specs+=("$id,$(demo_name $id),http://bank$id:9080,http://$host:${!port_var:-808$id},$key")
done
write_membership "$CONSORCIO_MEMBERSHIP" "${LIMIT_CENTS:-100000000000}" "${specs[@]}"
chmod 0644 "$CONSORCIO_MEMBERSHIP"
echo "docker-up: membership file $CONSORCIO_MEMBERSHIP"
CONSORCIO_OPERATOR_TOKEN=$(operator_token "$(dirname "$CONSORCIO_MEMBERSHIP")/operator-token")
export CONSORCIO_OPERATOR_TOKEN
dc up -d "$@"
