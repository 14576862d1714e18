#!/usr/bin/env bash
# gen.sh regenerates the Go code of the example backends from their .proto files:
#
#   examples/proto/library/v1/library.proto -> examples/library/librarypb/
#   examples/proto/echo/v1/echo.proto       -> examples/echo/echopb/
#   examples/proto/accounts/v1/accounts.proto -> examples/accounts/accountspb/
#
# Run it from anywhere: bash examples/gen.sh. It is idempotent: a second run on the
# same machine rewrites byte-identical files.
#
# What it needs:
#   - protoc, with the well-known types (google/protobuf/*.proto) on its include path:
#       apt-get install protobuf-compiler            (Debian; puts them in /usr/include)
#   - google/api/annotations.proto, http.proto and httpbody.proto. They are not copied
#     into this repository; the script finds them, in this order:
#       1. $GOOGLEAPIS_INCLUDE, a directory holding google/api/*.proto;
#       2. a directory of a Debian package that ships all three as files;
#       3. the jar of Debian's libgoogle-common-protos-java, which carries the .proto
#          sources (unpacked to a temporary directory with unzip):
#            apt-get install libgoogle-common-protos-java unzip
#   - buf/validate/validate.proto (imported by accounts.proto) is not needed as source:
#     examples/cmd/internal/descset writes its compiled descriptors (from the
#     protovalidate Go module in go.mod) for protoc's --descriptor_set_in.
#   - go, to install the protoc plugins at the versions pinned below, once, into
#     $REFRACT_TOOLS/<plugin>@<version>/ (REFRACT_TOOLS defaults to
#     $(go env GOPATH)/refract-tools). They never replace a protoc-gen-go you already
#     have on $PATH, and a pin change installs the new version beside the old.
set -euo pipefail

# Pinned plugin versions. protoc-gen-go matches google.golang.org/protobuf in go.mod so
# the generated code and the runtime agree; protoc-gen-go-grpc needs grpc >= 1.64.
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
MODULE=github.com/refract-gateway/refract

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

die() {
	echo "gen.sh: $*" >&2
	exit 1
}

command -v protoc >/dev/null || die "protoc not found: apt-get install protobuf-compiler"
command -v go >/dev/null || die "go not found on PATH"

# install_plugin NAME PACKAGE VERSION prints the path of the plugin binary, building it
# with go install only when that exact version is not there yet.
install_plugin() {
	local name=$1 pkg=$2 version=$3
	local dir="${REFRACT_TOOLS:-$(go env GOPATH)/refract-tools}/$name@$version"
	if [[ ! -x "$dir/$name" ]]; then
		echo "gen.sh: installing $pkg@$version into $dir" >&2
		# GOFLAGS is cleared so a -mod or -buildvcs setting meant for the project does not
		# leak into a build that runs outside it.
		GOBIN="$dir" GOFLAGS= go install "$pkg@$version" || die "go install $pkg@$version failed"
	fi
	echo "$dir/$name"
}

protoc_gen_go=$(install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION")
protoc_gen_go_grpc=$(install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION")

# has_googleapis DIR succeeds when DIR holds the three google.api files we import.
has_googleapis() {
	local f
	for f in annotations http httpbody; do
		[[ -f "$1/google/api/$f.proto" ]] || return 1
	done
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

googleapis=""
if [[ -n "${GOOGLEAPIS_INCLUDE:-}" ]]; then
	has_googleapis "$GOOGLEAPIS_INCLUDE" || die "GOOGLEAPIS_INCLUDE=$GOOGLEAPIS_INCLUDE has no google/api/{annotations,http,httpbody}.proto"
	googleapis=$GOOGLEAPIS_INCLUDE
else
	for dir in /usr/include /usr/share/googleapis /usr/share/protobuf/googleapis; do
		if has_googleapis "$dir"; then
			googleapis=$dir
			break
		fi
	done
fi
if [[ -z "$googleapis" ]]; then
	jar=/usr/share/java/proto-google-common-protos.jar
	[[ -f "$jar" ]] || die "google/api/{annotations,http,httpbody}.proto not found.
  Install them with:  apt-get install libgoogle-common-protos-java unzip
  or point GOOGLEAPIS_INCLUDE at a directory that holds google/api/*.proto."
	command -v unzip >/dev/null || die "unzip not found: apt-get install unzip"
	unzip -q -o "$jar" 'google/api/annotations.proto' 'google/api/http.proto' 'google/api/httpbody.proto' -d "$tmp/googleapis" ||
		die "could not unpack google/api/*.proto from $jar"
	googleapis=$tmp/googleapis
fi

# The well-known types: Debian's protobuf-compiler depends on libprotobuf-dev, which puts
# them in /usr/include. protoc also finds them next to its own binary when installed
# from a release archive, so only add the directory when it is there.
wkt=()
[[ -f /usr/include/google/protobuf/timestamp.proto ]] && wkt=(-I /usr/include)

cd "$root"
go run ./examples/cmd/internal/descset "$tmp/validate.binpb" || die "could not write the buf.validate descriptors"
for proto in library/v1/library.proto echo/v1/echo.proto accounts/v1/accounts.proto; do
	# module= strips the module prefix from go_package, so the output lands in
	# examples/<service>/<service>pb/ relative to the repository root.
	protoc \
		-I examples/proto \
		-I "$googleapis" \
		"${wkt[@]}" \
		--descriptor_set_in="$tmp/validate.binpb" \
		--plugin=protoc-gen-go="$protoc_gen_go" \
		--plugin=protoc-gen-go-grpc="$protoc_gen_go_grpc" \
		--go_out=. --go_opt=module="$MODULE" \
		--go-grpc_out=. --go-grpc_opt=module="$MODULE" \
		"examples/proto/$proto"
done
echo "gen.sh: generated examples/library/librarypb, examples/echo/echopb and examples/accounts/accountspb" >&2
