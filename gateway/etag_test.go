package gateway_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// TestETagAndNotModified: GET responses carry an ETag, a matching
// If-None-Match gets 304 without a body, a changed resource a new tag;
// a backend's own ETag (response_headers) is used as it is; POST routes
// get none.
func TestETagAndNotModified(t *testing.T) {
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == "/library.v1.LibraryService/GetBook" {
			_ = grpc.SetHeader(ctx, metadata.Pairs("etag", `"v7"`))
		}
		return h(ctx, req)
	}))
	h := startGateway(t, libraryConfig(lib.Addr, "    etag: true\n    response_headers: [ETag]\n"))
	r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	tag := r.header.Get("Etag")
	if !strings.HasPrefix(tag, `"`) || len(r.body) == 0 {
		t.Fatalf("no ETag: %v", r.header)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "", "If-None-Match", tag).expect(t, 304)
	if len(r.body) != 0 || r.header.Get("Etag") != tag {
		t.Fatalf("304: %q %v", r.body, r.header)
	}
	h.do(t, "GET", "/v1/shelves/1", "", "If-None-Match", `"other", W/`+tag).expect(t, 304)
	h.do(t, "GET", "/v1/shelves/2", "", "If-None-Match", tag).expect(t, 200)
	// The resource changes: the old tag no longer matches.
	before := h.do(t, "GET", "/v1/shelves/1/books", "").expect(t, 200).header.Get("Etag")
	h.do(t, "POST", "/v1/shelves/1/books", `{"title":"Another","author":"Someone"}`, "Content-Type", "application/json").expect(t, 200)
	r = h.do(t, "GET", "/v1/shelves/1/books", "", "If-None-Match", before).expect(t, 200)
	if after := r.header.Get("Etag"); after == before || after == "" {
		t.Fatalf("tag before %s, after %s", before, after)
	}
	first := h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	if first.header.Get("Etag") != `"v7"` {
		t.Fatalf("the backend's ETag: %v", first.header)
	}
	h.do(t, "GET", "/v1/shelves/1/books/1", "", "If-None-Match", `"v7"`).expect(t, 304)
	r = h.do(t, "POST", "/v1/shelves", `{"theme":"New"}`, "Content-Type", "application/json", "If-None-Match", "*").expect(t, 200)
	if r.header.Get("Etag") != "" {
		t.Fatalf("a POST got an ETag: %v", r.header)
	}
	// Off by default.
	off := startGateway(t, libraryConfig(lib.Addr, ""))
	r = off.do(t, "GET", "/v1/shelves/1", "", "If-None-Match", tag).expect(t, 200)
	if r.header.Get("Etag") != "" {
		t.Fatalf("etag off: %v", r.header)
	}
}
