#!/usr/bin/env bash
# gen.sh regenerates bench/benchpb/ from bench/proto/bench/v1/bench.proto: the
# messages (protoc-gen-go), the gRPC stubs (protoc-gen-go-grpc) and the
# grpc-gateway v2 handlers (protoc-gen-grpc-gateway). The generated code is
# committed; run this after changing the proto: bash bench/gen.sh (or
# go generate ./... inside bench/).
#
# Needs protoc with the well-known types (apt-get install protobuf-compiler)
# and google/api/{annotations,http}.proto: $GOOGLEAPIS_INCLUDE, or the jar of
# apt-get install libgoogle-common-protos-java unzip. The plugins run with
# go run module@version at the versions pinned below, so nothing is installed.
set -euo pipefail

# protoc-gen-go matches google.golang.org/protobuf in go.mod; the gateway
# plugin matches github.com/grpc-ecosystem/grpc-gateway/v2 in go.mod.
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
PROTOC_GEN_GRPC_GATEWAY=github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.32.0
MODULE=github.com/refract-gateway/refract/bench

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() {
	echo "gen.sh: $*" >&2
	exit 1
}
command -v protoc >/dev/null || die "protoc not found: apt-get install protobuf-compiler"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# protoc wants an executable per plugin: a two-line script that go-runs it.
plugin() {
	printf '#!/bin/sh\nGOFLAGS= exec go run %s "$@"\n' "$2" >"$tmp/$1"
	chmod +x "$tmp/$1"
}
plugin protoc-gen-go "$PROTOC_GEN_GO"
plugin protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC"
plugin protoc-gen-grpc-gateway "$PROTOC_GEN_GRPC_GATEWAY"

googleapis=${GOOGLEAPIS_INCLUDE:-}
if [[ -z "$googleapis" ]]; then
	for dir in /usr/include /usr/share/googleapis; do
		if [[ -f $dir/google/api/annotations.proto && -f $dir/google/api/http.proto ]]; then
			googleapis=$dir
			break
		fi
	done
fi
if [[ -z "$googleapis" ]]; then
	jar=/usr/share/java/proto-google-common-protos.jar
	[[ -f $jar ]] || die "google/api/annotations.proto not found: apt-get install libgoogle-common-protos-java unzip, or set GOOGLEAPIS_INCLUDE"
	unzip -q -o "$jar" 'google/api/annotations.proto' 'google/api/http.proto' -d "$tmp/googleapis"
	googleapis=$tmp/googleapis
fi
wkt=()
[[ -f /usr/include/google/protobuf/timestamp.proto ]] && wkt=(-I /usr/include)

cd "$here"
protoc -I proto -I "$googleapis" "${wkt[@]}" \
	--plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$tmp/protoc-gen-go-grpc" \
	--plugin=protoc-gen-grpc-gateway="$tmp/protoc-gen-grpc-gateway" \
	--go_out=. --go_opt=module="$MODULE" \
	--go-grpc_out=. --go-grpc_opt=module="$MODULE" \
	--grpc-gateway_out=. --grpc-gateway_opt=module="$MODULE" \
	bench/v1/bench.proto
echo "gen.sh: generated bench/benchpb" >&2
