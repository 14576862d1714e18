package policy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/policytest"
)

// Two limiters (as in two gateway instances) on one Redis admit the limit
// together.
func TestRedisLimiterShared(t *testing.T) {
	addr := policytest.StartRedis(t)
	var chains []http.Handler
	for range 2 {
		rl, err := policy.NewRedisLimiter(policy.RedisOptions{Addr: addr, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rl.Close() })
		p, err := policy.RateLimit(policy.RateLimitOptions{Route: "GET /", Rules: []policy.Rule{{Name: "shared", By: policy.ByRoute,
			Limit: policy.Limit{Rate: 40, Period: time.Hour}, Store: rl}}})
		if err != nil {
			t.Fatal(err)
		}
		chains = append(chains, p(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	}
	admitted, refused := 0, 0
	for i := range 100 {
		w := httptest.NewRecorder()
		chains[i%2].ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		switch w.Code {
		case 200:
			admitted++
		case 429:
			refused++
			if w.Header().Get("Retry-After") == "" || w.Header().Get("RateLimit-Remaining") != "0" {
				t.Fatalf("429 without headers: %v", w.Header())
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if admitted != 40 || refused != 60 {
		t.Fatalf("admitted %d, refused %d; want 40 and 60", admitted, refused)
	}
}

func TestRedisDownFailOpenAndClosed(t *testing.T) {
	addr := policytest.StartRedis(t)
	rl, _ := policy.NewRedisLimiter(policy.RedisOptions{Addr: addr})
	defer rl.Close()
	if _, err := rl.Allow(context.Background(), "k", policy.Limit{Rate: 1, Period: time.Second, Burst: 1}); err != nil {
		t.Fatalf("redis up: %v", err)
	}
	// A port nobody listens on: every call fails fast.
	dead, _ := policy.NewRedisLimiter(policy.RedisOptions{Addr: testkit.FreeAddr(t)})
	defer dead.Close()
	for _, c := range []struct {
		open bool
		want int
	}{{true, 200}, {false, 503}} {
		p, _ := policy.RateLimit(policy.RateLimitOptions{Rules: []policy.Rule{{Name: "shared", Limit: policy.Limit{Rate: 1, Period: time.Second}, Store: dead, FailOpen: c.open}}})
		w := httptest.NewRecorder()
		p(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != c.want {
			t.Fatalf("fail-open=%v: %d %s", c.open, w.Code, w.Body)
		}
	}
}

// Peek on Redis takes nothing and says when a token is back.
func TestRedisLimiterPeek(t *testing.T) {
	addr := policytest.StartRedis(t)
	rl, err := policy.NewRedisLimiter(policy.RedisOptions{Addr: addr, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rl.Close() })
	ctx, l := context.Background(), policy.Limit{Rate: 2, Period: time.Minute, Burst: 2}
	for range 3 {
		if d, err := rl.Peek(ctx, "k", l); err != nil || !d.Allowed || d.Remaining != 2 {
			t.Fatalf("peek on a full bucket: %+v %v", d, err)
		}
	}
	for range 2 {
		if d, err := rl.Allow(ctx, "k", l); err != nil || !d.Allowed {
			t.Fatalf("allow: %+v %v", d, err)
		}
	}
	d, err := rl.Peek(ctx, "k", l)
	if err != nil || d.Allowed || d.RetryAfter <= 25*time.Second || d.RetryAfter > 30*time.Second {
		t.Fatalf("peek on an empty bucket: %+v %v", d, err)
	}
}
