package respcache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

func TestMemoryBoundAndExpiry(t *testing.T) {
	now := time.Unix(0, 0)
	m := NewMemory(1200, func() time.Time { return now }) // three entries of 364 bytes fit, four do not
	ctx := context.Background()
	body := []byte(strings.Repeat("x", 300))
	for _, k := range []string{"a", "b", "c"} {
		m.Set(ctx, k, &Entry{Status: 200, Body: body}, time.Minute)
	}
	if _, ok := m.Get(ctx, "a"); !ok {
		t.Fatal("a is gone too early")
	}
	m.Set(ctx, "d", &Entry{Status: 200, Body: body}, time.Minute) // over 1200: b, the least recently used, goes
	if _, ok := m.Get(ctx, "b"); ok || m.Len() != 3 {
		t.Fatalf("b kept, %d entries", m.Len())
	}
	now = now.Add(time.Minute)
	if _, ok := m.Get(ctx, "a"); ok {
		t.Fatal("an expired entry was served")
	}
	m.Set(ctx, "huge", &Entry{Status: 200, Body: make([]byte, 2000)}, time.Minute)
	if _, ok := m.Get(ctx, "huge"); ok {
		t.Fatal("an entry larger than the store was kept")
	}
}

func TestSaveRules(t *testing.T) {
	m := NewMemory(0, nil)
	c := New(Options{TTL: time.Hour, Store: m, Vary: []string{"accept-language"}})
	ctx := context.Background()
	get := func(hdr ...string) *http.Request {
		r := httptest.NewRequest("GET", "/v1/x?b=2&a=1", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}}
	for _, tc := range []struct {
		name   string
		r      *http.Request
		status int
		md     metadata.MD
		keep   bool
	}{
		{"plain", get(), 200, nil, true},
		{"not 200", get(), 201, nil, false},
		{"client no-store", get("Cache-Control", "no-store"), 200, nil, false},
		{"backend no-store", get(), 200, metadata.Pairs("cache-control", "no-store"), false},
		{"backend private", get(), 200, metadata.Pairs("cache-control", "private, max-age=60"), false},
		{"backend max-age=0", get(), 200, metadata.Pairs("cache-control", "max-age=0"), false},
		{"cookie", get(), 200, metadata.Pairs("set-cookie", "a=1"), false},
	} {
		key := c.Key("GET /v1/x", tc.r, tc.name)
		c.Save(ctx, tc.r, key, tc.status, h, tc.md, nil, []byte(`{}`))
		e, ok := m.Get(ctx, key)
		if ok != tc.keep {
			t.Errorf("%s: kept %v", tc.name, ok)
		}
		if ok && (e.Header.Get("X-Request-Id") != "" || e.Header.Get("Content-Type") != "application/json") {
			t.Errorf("%s: headers %v", tc.name, e.Header)
		}
	}
	// Query order does not matter; vary headers and identity do.
	r1, r2 := httptest.NewRequest("GET", "/v1/x?a=1&b=2", nil), httptest.NewRequest("GET", "/v1/x?b=2&a=1", nil)
	if c.Key("r", r1) != c.Key("r", r2) || c.Key("r", r1, "alice") == c.Key("r", r1, "bob") ||
		c.Key("r", r1) == c.Key("r", get("Accept-Language", "fr")) {
		t.Fatal("keys")
	}
	// The client's no-cache skips the lookup.
	key := c.Key("GET /v1/x", get(), "plain")
	if _, ok := c.Lookup(ctx, get(), key); !ok {
		t.Fatal("no hit")
	}
	if _, ok := c.Lookup(ctx, get("Cache-Control", "no-cache"), key); ok {
		t.Fatal("no-cache hit")
	}
}
