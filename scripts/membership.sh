# Sourced by the scripts that start a consortium: keys and the membership file.
#
#   ensure_key BIN KEY_FILE          prints the bank's public key, creating the key if missing
#   write_membership OUT LIMIT SPEC.. writes the membership file OUT; each SPEC is
#                                     "id,name,url,public_url,public_key" (no commas inside)
#
# Each bank keeps its own key (bank-node keygen, file mode 0600); the membership file lists every
# bank's public key, so that no bank can speak for another (README, "Trust between banks").

ensure_key() {
  local bin=$1 key=$2
  if [ -s "$key" ]; then "$bin" pubkey "$key"; else "$bin" keygen "$key"; fi
}

write_membership() {
  local out=$1 limit=$2; shift 2
  local tmp="$out.tmp" first=1 spec id name url public key
  {
    printf '{ "banks": [\n'
    for spec in "$@"; do
      IFS=, read -r id name url public key <<< "$spec"
      [ $first -eq 1 ] || printf ',\n'
      first=0
      printf '  { "id": %s, "name": "%s", "url": "%s", "public_url": "%s", "public_key": "%s", "limit_cents": %s }' \
        "$id" "$name" "$url" "$public" "$key" "$limit"
    done
    printf '\n] }\n'
  } > "$tmp"
  mv -f "$tmp" "$out"
}

# The demo's five banks, by id.
# host_name ID: the demo's host name of bank ID (eleven, automobili, ...): one host per bank, so
# that no bank's pages see another's cookies (browsers resolve *.localhost to this machine).
host_name() { demo_name "$1" | tr '[:upper:] ' '[:lower:]-'; }
# operator_token FILE: the operators' token kept in FILE (made once, 32 hex digits, mode 0600).
operator_token() {
  if [ ! -s "$1" ]; then
    (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$1")
  fi
  cat "$1"
}
demo_name() { case $1 in 1) echo Eleven;; 2) echo Automobili;; 3) echo Secret;; 4) echo Formula;; 5) echo Titanium;; *) echo "Bank $1";; esac; }
