#!/usr/bin/env bash
# Builds the bank-node Docker image that docker-compose.yaml runs, FROM scratch (see Dockerfile):
# a static bank-node (x86_64-unknown-linux-musl, release) and the web assets are built here with
# cargo, staged in a small folder, and `docker build` copies them into an empty image. No base
# image is pulled, so this works on an engine with no registry.
#
#   scripts/docker-build.sh                     build the image $IMAGE (consorcio/bank-node:latest)
#   scripts/docker-build.sh --stage-only DIR    only build and stage the image's files in DIR
#                                               (what Dockerfile.multistage runs)
#
# SITE_PROFILE=dev uses the unoptimised web assets (quicker to build; default release).
# STATIC_LIBC=glibc links glibc statically (x86_64-unknown-linux-gnu, +crt-static) instead of musl;
# it is also the fallback when the musl target or musl-gcc cannot be installed. Both run FROM scratch.
# Builds go to $CARGO_TARGET_DIR (default target/), so later runs reuse them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
image=${IMAGE:-consorcio/bank-node:latest}
site_profile=${SITE_PROFILE:-release}
libc=${STATIC_LIBC:-musl}
stage="$CARGO_TARGET_DIR/docker-context"
stage_only=false
case "${1:-}" in
  "") ;;
  --stage-only) stage_only=true; stage=${2:?usage: $0 --stage-only DIR} ;;
  *) echo "usage: $0 [--stage-only DIR]" >&2; exit 2 ;;
esac
cd "$root"

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
"$root/scripts/setup.sh"
# musl: the x86_64-unknown-linux-musl target (rustup) and musl-gcc, as rusqlite compiles SQLite's C.
musl_ready() {
  if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    echo "docker-build: adding the x86_64-unknown-linux-musl target"
    timeout 600 rustup target add x86_64-unknown-linux-musl || return 1
  fi
  if ! command -v musl-gcc >/dev/null; then
    echo "docker-build: installing musl-tools (Debian package) for musl-gcc"
    $sudo_cmd apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq musl-tools >/dev/null || return 1
  fi
}
case "$libc" in
  musl)
    if ! musl_ready; then
      echo "docker-build: musl unavailable here; linking glibc statically instead" >&2
      libc=glibc
    fi ;;
  glibc) ;;
  *) echo "STATIC_LIBC must be musl or glibc" >&2; exit 2 ;;
esac
if [ "$libc" = musl ]; then
  triple=x86_64-unknown-linux-musl
  CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build -p server --bin bank-node --locked --release --target "$triple"
else
  # With --target, RUSTFLAGS reach only the target's crates, not build scripts or proc macros.
  triple=x86_64-unknown-linux-gnu
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build -p server --bin bank-node --locked --release --target "$triple"
fi
site="$CARGO_TARGET_DIR/docker-site"
SITE_DIR="$site" "$root/scripts/build-site.sh" "$site_profile"

rm -rf "$stage"
mkdir -p "$stage/data" "$stage/tmp"
cp "$CARGO_TARGET_DIR/$triple/release/bank-node" "$stage/bank-node"
# Debug symbols are most of the binary's size; the image does without them.
if command -v strip >/dev/null; then strip "$stage/bank-node"; fi
cp -r "$site" "$stage/site"
echo "docker-build: image files staged in $stage"
$stage_only && exit 0

# Docker's CLI without the buildx plugin cannot use BuildKit; the classic builder does the job.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi
docker build -q -f "$root/Dockerfile" -t "$image" "$stage" >/dev/null
echo "docker-build: built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}'))"
