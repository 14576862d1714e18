#!/usr/bin/env bash
# Builds the Consul agent the discovery tests run against, from the Go module
# proxy (Debian has no consul package), and caches it outside the repository.
# Prints the binary's path. Idempotent: a cached binary is reused.
#
# 1.14.11 is the newest release whose sub-modules are all on the proxy; the
# replace lines in its go.mod point at sub-module folders the proxy's zip
# lacks, so they are dropped and the published sub-module versions are used.
set -euo pipefail
version=1.14.11
cache="${REFRACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refract}"
bin="$cache/consul-$version/consul"
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/consul-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dir=$(cd "$work" && GOFLAGS= go mod download -json "github.com/hashicorp/consul@v$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "consul.sh: go mod download printed no Dir" >&2; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
sed -i '/^replace github.com\/hashicorp\/consul\//d' "$work/src/go.mod"
echo "consul.sh: building consul $version (several minutes on 2 cores)" >&2
(cd "$work/src" && GOFLAGS=-mod=mod go build -o "$work/consul" .)
mkdir -p "$(dirname "$bin")"
mv "$work/consul" "$bin"
echo "$bin"
