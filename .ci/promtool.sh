#!/usr/bin/env bash
# Builds promtool (for `promtool check rules` and `promtool test rules` of
# deploy/prometheus) from the Go module proxy and caches it outside the
# repository. Prints the binary's path. Idempotent: a cached binary is reused.
set -euo pipefail
version=v0.316.0   # Prometheus 3.x's Go module version
cache="${REFRACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refract}"
dir="$cache/promtool-$version"
if [ -x "$dir/promtool" ] && "$dir/promtool" --version >/dev/null 2>&1; then
  echo "$dir/promtool"
  exit 0
fi
mkdir -p "$dir"
echo "promtool.sh: building promtool $version (several minutes on 2 cores)" >&2
GOFLAGS= GOBIN="$dir" go install "github.com/prometheus/prometheus/cmd/promtool@$version" >&2
echo "$dir/promtool"
