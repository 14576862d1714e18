package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// TestBackendControlledHTTP: a backend chooses a successful response's
// status with x-http-code and sets the headers the upstream's
// response_headers allow (and only those) through its metadata.
func TestBackendControlledHTTP(t *testing.T) {
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		switch info.FullMethod {
		case "/library.v1.LibraryService/CreateShelf":
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-http-code", "201", "location", "/v1/shelves/3", "set-cookie", "seen=1; HttpOnly"))
			_ = grpc.SetTrailer(ctx, metadata.Pairs("set-cookie", "late=2", "x-internal", "secret"))
		case "/library.v1.LibraryService/DeleteShelf":
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-http-code", "204"))
		case "/library.v1.LibraryService/GetShelf":
			// Not a success status: ignored.
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-http-code", "404", "cache-control", "max-age=60"))
		}
		return h(ctx, req)
	}))
	h := startGateway(t, libraryConfig(lib.Addr, "    response_headers: [Location, Set-Cookie, Cache-Control]\n"))
	r := h.do(t, "POST", "/v1/shelves", `{"theme":"Poetry"}`, "Content-Type", "application/json").expect(t, 201)
	if r.header.Get("Location") != "/v1/shelves/3" || strings.Join(r.header.Values("Set-Cookie"), ",") != "seen=1; HttpOnly,late=2" {
		t.Fatalf("headers %v", r.header)
	}
	if r.header.Get("X-Internal") != "" || r.header.Get("Grpc-Trailer-X-Internal") != "secret" {
		t.Fatalf("an unlisted key became a header: %v", r.header)
	}
	if field(t, r.body, "theme") != "Poetry" {
		t.Fatalf("body %s", r.body)
	}
	r = h.do(t, "DELETE", "/v1/shelves/3", "").expect(t, 204)
	if len(r.body) != 0 || r.header.Get("Content-Type") != "" {
		t.Fatalf("204 with a body: %q %v", r.body, r.header)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	if r.header.Get("Cache-Control") != "max-age=60" {
		t.Fatalf("headers %v", r.header)
	}
	// Without response_headers, only the status convention applies.
	h2 := startGateway(t, libraryConfig(lib.Addr, ""))
	r = h2.do(t, "POST", "/v1/shelves", `{"theme":"Drama"}`, "Content-Type", "application/json").expect(t, 201)
	if r.header.Get("Location") != "" || r.header.Get("Grpc-Metadata-Location") != "/v1/shelves/3" {
		t.Fatalf("headers %v", r.header)
	}
}

func TestResponseHeadersConfigErrors(t *testing.T) {
	_, err := config.Parse([]byte(`
upstreams:
  - name: a
    static: ["127.0.0.1:1"]
    response_headers: [Location, Content-Length, X-Token-Bin]
`))
	if err == nil || !strings.Contains(err.Error(), "upstreams[0].response_headers") || !strings.Contains(err.Error(), `"Content-Length" is the gateway's to set`) {
		t.Fatalf("err %v", err)
	}
}
