#!/usr/bin/env bash
# Installs buf (whose `buf curl` is the gRPC, gRPC-Web and Connect client the
# protocol tests call refract with) from the Go module proxy into the cache
# outside the repository, once, and prints its path. Idempotent: a cached
# binary of the pinned version is reused.
set -euo pipefail
version=v1.75.0
cache="${REFRACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refract}"
bin="$cache/buf-$version/buf"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$(dirname "$bin")"
GOFLAGS= GOBIN="$(dirname "$bin")" go install "github.com/bufbuild/buf/cmd/buf@$version" >&2
echo "$bin"
