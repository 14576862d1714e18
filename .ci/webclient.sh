#!/usr/bin/env bash
# Bundles the browser client of the RPC protocol test (Connect's web client
# from npm, with esbuild from npm) into one script, cached outside the
# repository under a name that changes with the sources, and prints its
# path. Idempotent: a bundle of the same sources is reused.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)/gateway/testdata/webclient"
cache="${REFRACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refract}"
sum=$(cat "$src/package.json" "$src/client.js" | sha256sum | cut -c1-16)
dir="$cache/webclient-$sum"
if [ -s "$dir/bundle.js" ]; then
  echo "$dir/bundle.js"
  exit 0
fi
mkdir -p "$dir"
cp "$src/package.json" "$src/client.js" "$dir/"
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2 &&
  ./node_modules/.bin/esbuild client.js --bundle --format=iife --target=es2020 --outfile=bundle.js.tmp >&2 &&
  mv bundle.js.tmp bundle.js)
echo "$dir/bundle.js"
