#!/usr/bin/env bash
# Builds the browser half: the hydrate wasm, its JS glue (wasm-bindgen), the stylesheet and the
# public files, into "$SITE_DIR/pkg". Usage: build-site.sh [dev|release]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-dev}
target_dir=${CARGO_TARGET_DIR:-$root/target}
site=${SITE_DIR:-$target_dir/site}
cd "$root"
case "$profile" in
  dev) cargo build -p frontend --lib --target wasm32-unknown-unknown; out=debug ;;
  release) cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release; out=wasm-release ;;
  *) echo "usage: $0 [dev|release]" >&2; exit 2 ;;
esac
mkdir -p "$site/pkg"
# A build replaces the last one's assets: their names carry the hash of what they hold.
rm -f "$site/pkg"/consorcio.*
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name consorcio \
  "$target_dir/wasm32-unknown-unknown/$out/frontend.wasm"
# Leptos (built with LEPTOS_OUTPUT_NAME set) loads pkg/<name>.wasm, not the _bg name.
mv -f "$site/pkg/consorcio_bg.wasm" "$site/pkg/consorcio.wasm"
cp style/main.css "$site/pkg/consorcio.css"
cp -r public/. "$site/"
# Content-hashed names, so that browsers may keep them for a year without asking again
# (`Cache-Control: immutable`): a new build has new names, which the next page names. The bank
# reads the name from $site/asset-name (server::http::asset_name).
hash=$(cat "$site/pkg/consorcio.wasm" "$site/pkg/consorcio.js" "$site/pkg/consorcio.css" | sha256sum | cut -c1-16)
name="consorcio.$hash"
for ext in wasm js css; do
  mv -f "$site/pkg/consorcio.$ext" "$site/pkg/$name.$ext"
done
# Compressed copies the bank sends to browsers that accept gzip (the debug wasm goes from 25 MB
# to 4 MB, the optimised one about five times smaller too).
for ext in wasm js css; do
  gzip -6 -n -f -k "$site/pkg/$name.$ext"
done
printf '%s\n' "$name" > "$site/asset-name"
echo "site built in $site (assets $name.*)"
