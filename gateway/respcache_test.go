package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/refract-gateway/refract/policy/policytest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// countingLibrary is the library backend counting calls by method; a
// GetShelf of shelves/2 answers with Cache-Control: no-store, and
// ListBooks with max-age=0.
type countingLibrary struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingLibrary) n(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

func startCountingLibrary(t *testing.T) (string, *countingLibrary) {
	c := &countingLibrary{calls: map[string]int{}}
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		name := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
		c.mu.Lock()
		c.calls[name]++
		c.mu.Unlock()
		if name == "GetShelf" && strings.Contains(fmt.Sprint(req), "shelves/2") {
			_ = grpc.SetHeader(ctx, metadata.Pairs("cache-control", "no-store"))
		}
		if name == "ListBooks" {
			_ = grpc.SetHeader(ctx, metadata.Pairs("cache-control", "max-age=0"))
		}
		return h(ctx, req)
	}))
	return lib.Addr, c
}

func TestResponseCache(t *testing.T) {
	addr, c := startCountingLibrary(t)
	h := startGateway(t, `
api_keys: {header: X-Api-Key}
consumers:
  - {name: a, keys: [{value: key-a}]}
  - {name: b, keys: [{value: key-b}]}
upstreams:
  - name: library
    static: ["`+addr+`"]
    cache: {ttl: 1h, vary: [Accept-Language]}
    routes:
      - match: "library.v1.LibraryService.GetBook"
        policies: {auth: [api_key]}
`)
	first := h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	if first.header.Get("X-Refract-Cache") != "miss" {
		t.Fatalf("first: %v", first.header)
	}
	again := h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	if again.header.Get("X-Refract-Cache") != "hit" || string(again.body) != string(first.body) ||
		again.header.Get("Content-Type") != first.header.Get("Content-Type") {
		t.Fatalf("second: %v %s", again.header, again.body)
	}
	if n := c.n("ListShelves"); n != 1 {
		t.Fatalf("ListShelves called %d times, want 1", n)
	}
	// The query and the vary headers are part of the key; the order of
	// query parameters is not.
	h.do(t, "GET", "/v1/shelves?pageSize=1", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves?pageSize=1&pageToken=", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves?pageToken=&pageSize=1", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves", "", "Accept-Language", "fr").expect(t, 200)
	if n := c.n("ListShelves"); n != 4 {
		t.Fatalf("ListShelves called %d times, want 4", n)
	}
	// The client asks for a fresh answer: no-cache skips the lookup.
	h.do(t, "GET", "/v1/shelves", "", "Cache-Control", "no-cache").expect(t, 200)
	if n := c.n("ListShelves"); n != 5 {
		t.Fatalf("no-cache: ListShelves called %d times, want 5", n)
	}
	// The backend's no-store and max-age=0 are honoured.
	for range 2 {
		h.do(t, "GET", "/v1/shelves/2", "").expect(t, 200)
		h.do(t, "GET", "/v1/shelves/1/books", "").expect(t, 200)
	}
	if c.n("GetShelf") != 2 || c.n("ListBooks") != 2 {
		t.Fatalf("GetShelf %d, ListBooks %d calls, want 2 each", c.n("GetShelf"), c.n("ListBooks"))
	}
	// Errors are never cached.
	for range 2 {
		h.do(t, "GET", "/v1/shelves/999", "").expect(t, 404)
	}
	if n := c.n("GetShelf"); n != 4 {
		t.Fatalf("errors: GetShelf called %d times, want 4", n)
	}
	// An authenticated route: each identity has its own entries, and a
	// cached answer still needs the credentials.
	h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 401)
	h.do(t, "GET", "/v1/shelves/1/books/1", "", "X-Api-Key", "key-a").expect(t, 200)
	h.do(t, "GET", "/v1/shelves/1/books/1", "", "X-Api-Key", "key-a").expect(t, 200)
	h.do(t, "GET", "/v1/shelves/1/books/1", "", "X-Api-Key", "key-b").expect(t, 200)
	h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 401)
	if n := c.n("GetBook"); n != 2 {
		t.Fatalf("GetBook called %d times, want 2 (one per identity)", n)
	}
	// POST routes are not cached.
	for range 2 {
		h.do(t, "POST", "/v1/shelves", `{"theme":"X"}`, "Content-Type", "application/json").expect(t, 200)
	}
	if n := c.n("CreateShelf"); n != 2 {
		t.Fatalf("CreateShelf called %d times, want 2", n)
	}
}

// TestSharedResponseCache: two gateways sharing Redis answer from one
// another's entries.
func TestSharedResponseCache(t *testing.T) {
	redisAddr := policytest.StartRedis(t)
	addr, c := startCountingLibrary(t)
	cfg := fmt.Sprintf(`
redis: {addr: %q, timeout: 2s}
upstreams:
  - name: library
    static: [%q]
    cache: {ttl: 1h, shared: true}
`, redisAddr, addr)
	one, two := startGateway(t, cfg), startGateway(t, cfg)
	a := one.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	b := two.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	if b.header.Get("X-Refract-Cache") != "hit" || string(a.body) != string(b.body) {
		t.Fatalf("second gateway: %v %s", b.header, b.body)
	}
	if n := c.n("ListShelves"); n != 1 {
		t.Fatalf("ListShelves called %d times, want 1", n)
	}
}
