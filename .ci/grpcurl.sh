#!/usr/bin/env bash
# Installs grpcurl from the Go module proxy into the cache outside the
# repository, once, and prints its path. Idempotent: a cached binary of the
# pinned version is reused.
set -euo pipefail
version=v1.9.3
cache="${REFRACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refract}"
bin="$cache/grpcurl-$version/grpcurl"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$(dirname "$bin")"
GOFLAGS= GOBIN="$(dirname "$bin")" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$version" >&2
echo "$bin"
