#!/usr/bin/env bash
# Checks the packaging and deploy files with the tools that run here:
#   - the static build the Dockerfile and GoReleaser make (CGO off, ldflags
#     read back by `refract version`);
#   - the systemd unit (systemd-analyze verify);
#   - the alert rules (promtool check rules, promtool test rules);
#   - the Helm chart (helm lint, helm template: probes on the admin port,
#     preStop sleep equal to drain_period, config from the ConfigMap);
#   - the Dockerfile with `docker build`, and .goreleaser.yaml with
#     `goreleaser check`, only where a Docker daemon / goreleaser exist
#     (neither is installed by CI: said loudly, not failed).
# Tools come from $REFRACT_PROMTOOL and $REFRACT_HELM (set by .ci/run from
# .ci/promtool.sh and .ci/helm.sh) or PATH. Under CI=true a missing
# promtool, helm or systemd-analyze fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

missing() {
  if [ "${CI:-}" = true ]; then
    echo "deploycheck: $1 is missing" >&2
    exit 1
  fi
  echo "!! deploycheck: $1 SKIPPED: $2"
}

echo "-- static build with version stamping (as the Dockerfile and .goreleaser.yaml build)"
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X main.buildVersion=v0.0.0-check -X main.buildCommit=0123456789abcdef -X main.buildDate=2026-01-01T00:00:00Z" \
  -o "$work/refract" ./cmd/refract
if command -v file >/dev/null 2>&1 && ! file "$work/refract" | grep -q 'statically linked'; then
  file "$work/refract"
  echo "deploycheck: the binary is not statically linked" >&2
  exit 1
fi
got=$("$work/refract" version)
case "$got" in
  "refract v0.0.0-check (commit 0123456789ab, built 2026-01-01T00:00:00Z, go"*) echo "$got" ;;
  *) echo "deploycheck: refract version printed: $got" >&2; exit 1 ;;
esac

echo "-- systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  sed "s|/usr/local/bin/refract|$work/refract|" deploy/systemd/refract.service > "$work/refract.service"
  out=$(systemd-analyze verify "$work/refract.service" 2>&1 || true)
  if [ -n "$out" ]; then
    echo "$out"
    echo "deploycheck: systemd-analyze verify complained" >&2
    exit 1
  fi
  echo "systemd-analyze verify: OK"
else
  missing systemd-analyze "apt-get install systemd"
fi

echo "-- Prometheus alert rules"
PROMTOOL=${REFRACT_PROMTOOL:-$(command -v promtool || true)}
if [ -n "$PROMTOOL" ]; then
  "$PROMTOOL" check rules deploy/prometheus/refract-alerts.yaml
  (cd deploy/prometheus && "$PROMTOOL" test rules refract-alerts_test.yaml)
else
  missing promtool ".ci/promtool.sh builds it"
fi

echo "-- Helm chart"
HELM=${REFRACT_HELM:-$(command -v helm || true)}
if [ -n "$HELM" ]; then
  "$HELM" lint --strict deploy/helm/refract
  "$HELM" template demo deploy/helm/refract --kube-version 1.30.0 --set drainPeriodSeconds=7 > "$work/chart.yaml"
  for want in 'path: /readyz' 'path: /healthz' 'port: admin' 'seconds: 7' 'drain_period: 7s' \
    'terminationGracePeriodSeconds: 34' 'runAsNonRoot: true' 'readOnlyRootFilesystem: true' 'kind: ConfigMap' \
    'mountPath: /etc/refract' 'memory: 64Mi'; do
    grep -q -- "$want" "$work/chart.yaml" || { echo "deploycheck: helm template lacks: $want" >&2; exit 1; }
  done
  # The config the chart renders is one refract accepts.
  sed -n '/^  refract.yaml: |$/,/^---/p' "$work/chart.yaml" | sed '1d;/^---/d;s/^    //' > "$work/refract.yaml"
  "$work/refract" validate -config "$work/refract.yaml"
else
  missing helm ".ci/helm.sh builds it"
fi

echo "-- container image"
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker build -q -t refract:deploycheck .
  docker run --rm refract:deploycheck version
  [ "$(docker inspect -f '{{.Config.User}}' refract:deploycheck)" = "65532:65532" ] ||
    { echo "deploycheck: the image does not run as 65532" >&2; exit 1; }
else
  echo "!! deploycheck: docker build SKIPPED: no Docker daemon on this machine"
fi

echo "-- release config"
if command -v goreleaser >/dev/null 2>&1; then
  goreleaser check
else
  echo "!! deploycheck: goreleaser check SKIPPED: goreleaser is not installed"
fi
