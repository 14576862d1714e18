package gateway_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tool finds a client program nobody here wrote: $env, else PATH. Without
// it the test skips, or fails under CI=true (.ci/run installs it).
func tool(t *testing.T, env, name, script string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: set %s (%s installs it)", name, env, script)
	}
	t.Skipf("%s not found: set %s or run %s", name, env, script)
	return ""
}

// run runs a client program and returns its stdout, failing on a non-zero
// exit unless fail is set (then stderr is returned).
func run(t *testing.T, fail bool, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user config, no cache of an earlier run
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if fail {
		if err == nil {
			t.Fatalf("%s %s succeeded: %s", bin, strings.Join(args, " "), out.String())
		}
		return errb.String()
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", bin, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// TestBufCurl calls refract with buf curl in its three protocols, with
// the schema from refract's own reflection.
func TestBufCurl(t *testing.T) {
	buf := tool(t, "REFRACT_BUF", "buf", ".ci/buf.sh")
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, rpcConfig(lib.Addr, echo.Addr, "reflection: {serve: true}\n"))
	url := h.base + "/library.v1.LibraryService/GetShelf"
	for _, proto := range []string{"grpc", "grpcweb", "connect"} {
		t.Run(proto, func(t *testing.T) {
			out := run(t, false, buf, "curl", "--protocol", proto, "--http2-prior-knowledge",
				"-H", "X-Api-Key: k1", "-d", `{"name":"shelves/1"}`, url)
			if !strings.Contains(out, `"theme": "Fiction"`) {
				t.Fatalf("output: %s", out)
			}
			// The route's auth, told in the protocol's terms.
			errOut := run(t, true, buf, "curl", "--protocol", proto, "--http2-prior-knowledge", "-d", `{"name":"shelves/1"}`, url)
			if !strings.Contains(errOut, "unauthenticated") || !strings.Contains(errOut, "missing credentials") {
				t.Fatalf("without a key: %s", errOut)
			}
			// A server stream.
			out = run(t, false, buf, "curl", "--protocol", proto, "--http2-prior-knowledge",
				"-d", `{"text":"hey","count":2}`, h.base+"/echo.v1.EchoService/Expand")
			if strings.Count(out, `"message": "hey"`) != 2 {
				t.Fatalf("stream output: %s", out)
			}
		})
	}
	t.Run("list methods", func(t *testing.T) {
		out := run(t, false, buf, "curl", "--http2-prior-knowledge", "--list-methods", h.base)
		if !strings.Contains(out, "library.v1.LibraryService/GetShelf\n") || !strings.Contains(out, "echo.v1.EchoService/Chat\n") {
			t.Fatalf("methods: %s", out)
		}
		if strings.Contains(out, "GetBookTitle") {
			t.Fatalf("a hidden method is listed: %s", out)
		}
	})
	t.Run("reflection is off by default", func(t *testing.T) {
		off := startGateway(t, rpcConfig(lib.Addr, echo.Addr, ""))
		errOut := run(t, true, buf, "curl", "--http2-prior-knowledge", "--list-services", off.base)
		if !strings.Contains(errOut, "unimplemented") {
			t.Fatalf("reflection off: %s", errOut)
		}
	})
}

// TestGrpcurl lists, describes and calls through refract's reflection
// with grpcurl.
func TestGrpcurl(t *testing.T) {
	grpcurl := tool(t, "REFRACT_GRPCURL", "grpcurl", ".ci/grpcurl.sh")
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, rpcConfig(lib.Addr, echo.Addr, "reflection: {serve: true}\n"))
	addr := strings.TrimPrefix(h.base, "http://")
	if out := run(t, false, grpcurl, "-plaintext", addr, "list"); out != "echo.v1.EchoService\nlibrary.v1.LibraryService\n" {
		t.Fatalf("list: %q", out)
	}
	out := run(t, false, grpcurl, "-plaintext", addr, "describe", "library.v1.LibraryService")
	if !strings.Contains(out, "rpc GetShelf ( .library.v1.GetShelfRequest ) returns ( .library.v1.Shelf )") || strings.Contains(out, "GetBookTitle") {
		t.Fatalf("describe: %s", out)
	}
	out = run(t, false, grpcurl, "-plaintext", addr, "describe", "library.v1.Shelf")
	if !strings.Contains(out, "message Shelf {") {
		t.Fatalf("describe message: %s", out)
	}
	out = run(t, false, grpcurl, "-plaintext", "-H", "x-api-key: k1", "-d", `{"name":"shelves/2"}`, addr, "library.v1.LibraryService/GetShelf")
	if !strings.Contains(out, `"name": "shelves/2"`) {
		t.Fatalf("call: %s", out)
	}
	errOut := run(t, true, grpcurl, "-plaintext", "-d", `{"name":"shelves/2"}`, addr, "library.v1.LibraryService/GetShelf")
	if !strings.Contains(errOut, "Code: Unauthenticated") {
		t.Fatalf("without a key: %s", errOut)
	}
	out = run(t, false, grpcurl, "-plaintext", "-d", `{"message":"a"} {"message":"b"}`, addr, "echo.v1.EchoService/Chat")
	if strings.Count(out, `"message":`) != 2 {
		t.Fatalf("bidi: %s", out)
	}
}

// TestReflectionBehindPolicies: the top-level policies hold for the
// reflection refract serves (here an API key), as for every route.
func TestReflectionBehindPolicies(t *testing.T) {
	grpcurl := tool(t, "REFRACT_GRPCURL", "grpcurl", ".ci/grpcurl.sh")
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "")+`
reflection: {serve: true}
api_keys: {header: X-Api-Key}
consumers: [{name: app, keys: [{value: k1}]}]
policies: {auth: [api_key]}
`)
	addr := strings.TrimPrefix(h.base, "http://")
	errOut := run(t, true, grpcurl, "-plaintext", addr, "list")
	if !strings.Contains(errOut, "Unauthenticated") {
		t.Fatalf("without a key: %s", errOut)
	}
	if out := run(t, false, grpcurl, "-plaintext", "-H", "x-api-key: k1", addr, "list"); out != "library.v1.LibraryService\n" {
		t.Fatalf("with a key: %q", out)
	}
}
