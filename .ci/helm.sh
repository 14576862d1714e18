#!/usr/bin/env bash
# Builds helm (for `helm lint` and `helm template` of deploy/helm/refract)
# from the Go module proxy and caches it outside the repository. Prints the
# binary's path. Idempotent: a cached binary is reused.
set -euo pipefail
version=v3.22.1
cache="${REFRACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refract}"
dir="$cache/helm-$version"
if [ -x "$dir/helm" ] && "$dir/helm" version >/dev/null 2>&1; then
  echo "$dir/helm"
  exit 0
fi
mkdir -p "$dir"
echo "helm.sh: building helm $version (a few minutes on 2 cores)" >&2
GOFLAGS= GOBIN="$dir" go install "helm.sh/helm/v3/cmd/helm@$version" >&2
echo "$dir/helm"
