#!/usr/bin/env bash
# Installs govulncheck from the Go module proxy into the cache outside the
# repository (once) and prints its path. Idempotent: a cached binary of the
# pinned version is reused.
#
# v1.8.0: v1.9.0 needs a golang.org/x/telemetry pseudo-version the proxy
# does not serve; v1.8.0 builds with go 1.26.
set -euo pipefail
version=v1.8.0
cache="${REFRACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refract}"
bin="$cache/govulncheck-$version/govulncheck"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$(dirname "$bin")"
GOFLAGS= GOBIN="$(dirname "$bin")" go install "golang.org/x/vuln/cmd/govulncheck@$version" >&2
echo "$bin"
