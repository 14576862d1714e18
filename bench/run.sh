#!/usr/bin/env bash
# run.sh builds the benchmark's processes and runs direct gRPC, grpc-gateway
# and refract side by side -- refract twice: as shipped (access log on,
# written to a file) and with the access log off -- printing Markdown tables
# on stdout: throughput, latency and CPU per request at saturation; latency
# at a fixed rate (half of grpc-gateway's throughput, for tiny and GET); and
# each gateway's peak RSS.
#
#   bench/run.sh                          # every shape, 3 rounds of 3s each
#   bench/run.sh -rounds 5 -duration 5s   # flags go to cmd/bench (-h lists them)
#   bench/run.sh -cpuprofile /tmp/prof -shapes 16KB   # profiles of both gateways
#
# refract is built from the repository's own cmd/refract; grpc-gateway,
# the backend and the load generator from this module. Everything listens on
# 127.0.0.1 only. With taskset and two or more cores, each gateway runs on
# core 1 and the backend and load generator on core 0.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

(cd "$here/.." && go build -o "$bin/refract" ./cmd/refract)
(cd "$here" && go build -o "$bin/" ./cmd/backend ./cmd/grpcgateway ./cmd/refractprof ./cmd/bench)

pin=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
	pin=(taskset -c 0)
else
	set -- -cpus "" "$@"
fi
"${pin[@]}" "$bin/bench" -bin "$bin" "$@"
