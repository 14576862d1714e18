package policy

import (
	"context"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for the local limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time                         { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration)                    { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                                  { return &clock{t: time.Unix(1_700_000_000, 0)} }
func hdr(w *httptest.ResponseRecorder, k string) string { return w.Header().Get(k) }

func TestLocalRateLimitByIP(t *testing.T) {
	c := newClock()
	store := NewLocalLimiter(time.Minute, c.now)
	p := must(RateLimit(RateLimitOptions{Route: "GET /v1/x", Rules: []Rule{{Name: "per-ip", By: ByIP, Limit: Limit{Rate: 2, Period: time.Second, Burst: 3}, Store: store}}}))
	final := &ok{}
	h := p(final)
	for i, want := range []string{"2", "1", "0"} {
		w := serve(h, "GET", "/v1/x", "192.0.2.1:1")
		if w.Code != 200 || hdr(w, "RateLimit-Remaining") != want || hdr(w, "RateLimit-Limit") != "3" || hdr(w, "RateLimit-Policy") != "2;w=1" {
			t.Fatalf("request %d: %d remaining %q limit %q policy %q", i, w.Code, hdr(w, "RateLimit-Remaining"), hdr(w, "RateLimit-Limit"), hdr(w, "RateLimit-Policy"))
		}
	}
	w := serve(h, "GET", "/v1/x", "192.0.2.1:1")
	wantStatus(t, w, 429, 8, "rate limit per-ip exceeded (2 per 1s); retry after 1s")
	if hdr(w, "Retry-After") != "1" || hdr(w, "RateLimit-Remaining") != "0" || hdr(w, "RateLimit-Reset") != "2" {
		t.Fatalf("429 headers: %v", w.Header())
	}
	// Another client has its own bucket.
	if w := serve(h, "GET", "/v1/x", "192.0.2.2:1"); w.Code != 200 {
		t.Fatalf("other IP: %d", w.Code)
	}
	// Half a second refills one token (rate 2/s).
	c.add(500 * time.Millisecond)
	if w := serve(h, "GET", "/v1/x", "192.0.2.1:1"); w.Code != 200 {
		t.Fatalf("after refill: %d", w.Code)
	}
	if w := serve(h, "GET", "/v1/x", "192.0.2.1:1"); w.Code != 429 {
		t.Fatalf("second after refill: %d", w.Code)
	}
	if final.calls != 5 {
		t.Fatalf("%d calls reached the upstream, want 5", final.calls)
	}
	// Idle buckets go away once idle beyond both the sweep period and the
	// refill time; a new request then starts from a full bucket.
	if store.Len() != 2 {
		t.Fatalf("%d buckets", store.Len())
	}
	c.add(2 * time.Minute)
	if w := serve(h, "GET", "/v1/x", "192.0.2.3:1"); w.Code != 200 || store.Len() != 1 {
		t.Fatalf("after idle: %d, %d buckets", w.Code, store.Len())
	}
}

func TestRateLimitKeys(t *testing.T) {
	cs := testConsumers(t)
	store := NewLocalLimiter(0, nil)
	one := Limit{Rate: 1, Period: time.Hour}
	build := func(by KeyBy, route string) Policy {
		return Then(Authenticate(AuthOptions{Consumers: cs}), must(RateLimit(RateLimitOptions{Route: route, Rules: []Rule{{Name: by.name(), By: by, Limit: one, Store: store}}})))
	}
	// ByConsumer: one bucket per consumer whatever the address.
	h := build(ByConsumer, "GET /a")(&ok{})
	if serve(h, "GET", "/", "192.0.2.1:1", "X-Api-Key", "old-key").Code != 200 ||
		serve(h, "GET", "/", "192.0.2.2:1", "X-Api-Key", "new-key").Code != 429 ||
		serve(h, "GET", "/", "192.0.2.1:1", "X-Api-Key", "ops-key").Code != 200 {
		t.Fatal("consumer keys")
	}
	// ByRoute: one bucket per route for everyone.
	a, b := build(ByRoute, "GET /a")(&ok{}), build(ByRoute, "GET /b")(&ok{})
	if serve(a, "GET", "/", "192.0.2.1:1", "X-Api-Key", "ops-key").Code != 200 ||
		serve(a, "GET", "/", "192.0.2.9:1", "X-Api-Key", "old-key").Code != 429 ||
		serve(b, "GET", "/", "192.0.2.9:1", "X-Api-Key", "old-key").Code != 200 {
		t.Fatal("route keys")
	}
	if _, err := ParseKeyBy("user"); err == nil || err.Error() != `policy: rate limit key "user" is not ip, consumer, subject or route` {
		t.Fatalf("ParseKeyBy: %v", err)
	}
}

func (k KeyBy) name() string { return [...]string{"ip", "consumer", "subject", "route"}[k] }

func TestConsumerQuota(t *testing.T) {
	store := NewLocalLimiter(0, nil)
	cs, err := NewConsumers(ConsumersOptions{Consumers: []ConsumerOptions{
		{Name: "small", KeyHashes: [][32]byte{HashKey("s")}, Quota: &Limit{Rate: 2, Period: time.Hour}, QuotaStore: store},
		{Name: "free", KeyHashes: [][32]byte{HashKey("f")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := Then(Authenticate(AuthOptions{Consumers: cs}), must(RateLimit(RateLimitOptions{Consumers: cs})))(&ok{})
	for i := range 2 {
		if w := serve(h, "GET", "/", "192.0.2.1:1", "X-Api-Key", "s"); w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	w := serve(h, "GET", "/", "192.0.2.1:1", "X-Api-Key", "s")
	wantStatus(t, w, 429, 8, "rate limit quota exceeded (2 per 1h0m0s); retry after 1800s")
	if hdr(w, "Retry-After") != "1800" {
		t.Fatalf("Retry-After %q", hdr(w, "Retry-After"))
	}
	for range 5 {
		if w := serve(h, "GET", "/", "192.0.2.1:1", "X-Api-Key", "f"); w.Code != 200 {
			t.Fatalf("consumer without quota: %d", w.Code)
		}
	}
}

// failing is a store that always errors, as a down Redis does.
type failing struct{}

func (failing) Allow(context.Context, string, Limit) (Decision, error) {
	return Decision{}, context.DeadlineExceeded
}

func (failing) Peek(context.Context, string, Limit) (Decision, error) {
	return Decision{}, context.DeadlineExceeded
}

func TestRateLimitStoreFailure(t *testing.T) {
	open := must(RateLimit(RateLimitOptions{Rules: []Rule{{Name: "shared", Limit: Limit{Rate: 1, Period: time.Second}, Store: failing{}, FailOpen: true}}}))(&ok{})
	if w := serve(open, "GET", "/", "192.0.2.1:1"); w.Code != 200 || hdr(w, "RateLimit-Limit") != "" {
		t.Fatalf("fail-open: %d %v", w.Code, w.Header())
	}
	closed := must(RateLimit(RateLimitOptions{Rules: []Rule{{Name: "shared", Limit: Limit{Rate: 1, Period: time.Second}, Store: failing{}}}}))(&ok{})
	w := serve(closed, "GET", "/", "192.0.2.1:1")
	wantStatus(t, w, 503, 14, "the rate limiter is unavailable; retry shortly")
	if hdr(w, "Retry-After") != "1" {
		t.Fatalf("Retry-After %q", hdr(w, "Retry-After"))
	}
}

func TestLocalLimiterKeepsAtMostMaxBuckets(t *testing.T) {
	c := newClock()
	store := NewLocalLimiterSize(time.Minute, 3, c.now)
	one := Limit{Rate: 1, Period: time.Hour, Burst: 1}
	allow := func(key string) bool {
		t.Helper()
		d, err := store.Allow(context.Background(), key, one)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	for _, k := range []string{"a", "b", "c"} {
		if !allow(k) || allow(k) {
			t.Fatalf("%s: the burst of 1 should admit one request", k)
		}
	}
	// "a" is seen again (refused), so "b" is now the least recently seen:
	// a fourth key takes its place, and the others keep their state.
	if allow("a") {
		t.Fatal("a admitted twice")
	}
	if !allow("d") || store.Len() != 3 {
		t.Fatalf("d: %d buckets, want 3", store.Len())
	}
	if allow("a") || allow("c") {
		t.Fatal("a bucket that was kept lost its state")
	}
	// "b" starts again from a full bucket: the price of the bound.
	if !allow("b") || store.Len() != 3 {
		t.Fatalf("b after eviction: %d buckets", store.Len())
	}
	// The sweep still removes idle buckets, and the order stays right.
	c.add(2 * time.Hour)
	if !allow("e") || store.Len() != 1 {
		t.Fatalf("after the sweep: %d buckets, want 1", store.Len())
	}
	for _, k := range []string{"f", "g", "h"} {
		allow(k)
	}
	if store.Len() != 3 || !allow("e") {
		t.Fatalf("e, the least recently seen, should have been dropped: %d buckets", store.Len())
	}
}

func TestLocalLimiterFloodOfKeysStaysBounded(t *testing.T) {
	store := NewLocalLimiterSize(0, 1000, nil)
	one := Limit{Rate: 1, Period: time.Hour, Burst: 1}
	for i := range 50_000 {
		if _, err := store.Allow(context.Background(), strconv.Itoa(i), one); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.Len(); n != 1000 {
		t.Fatalf("%d buckets after 50,000 keys, want the cap of 1000", n)
	}
}

// A bucket is kept across configs while its limit is unchanged, and
// starts again full under a new limit.
func TestLocalLimiterNewLimitStartsFull(t *testing.T) {
	c := newClock()
	l := NewLocalLimiter(time.Minute, c.now)
	two := Limit{Rate: 2, Period: time.Hour, Burst: 2}
	for i, want := range []bool{true, true, false} {
		if d, _ := l.Allow(context.Background(), "k", two); d.Allowed != want {
			t.Fatalf("call %d: allowed %v", i, d.Allowed)
		}
	}
	if d, _ := l.Allow(context.Background(), "k", two); d.Allowed {
		t.Fatal("the same limit again: the spent bucket admitted")
	}
	three := Limit{Rate: 3, Period: time.Hour, Burst: 3}
	if d, _ := l.Peek(context.Background(), "k", three); !d.Allowed || d.Remaining != 3 {
		t.Fatalf("peek under a new limit: %+v", d)
	}
	for i := range 3 {
		if d, _ := l.Allow(context.Background(), "k", three); !d.Allowed {
			t.Fatalf("new limit, call %d refused", i)
		}
	}
	if d, _ := l.Allow(context.Background(), "k", three); d.Allowed {
		t.Fatal("the new limit admitted a 4th call")
	}
}
