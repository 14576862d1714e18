package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"google.golang.org/grpc/codes"
)

// tries is how many tries of one library method the gateway made with
// the given result code (refract_upstream_calls_total counts every try,
// including those that never reached a server and so no backend can count).
func tries(t *testing.T, h *harness, method, code string) float64 {
	t.Helper()
	return scrapeMetrics(t, h).value("refract_upstream_calls_total",
		"upstream=library", "grpc_method=library.v1.LibraryService."+method, "grpc_code="+code)
}

// A try that never reached a server is repeated up to attempts, idempotent
// or not; the same failure coming from a server is repeated only for an
// idempotent method. Counted on both sides: the gateway's tries and the
// backend's calls.
func TestRetriesCountedBeforeAndAfterReachingAServer(t *testing.T) {
	b, h := startRetrying(t, "attempts: 3, backoff: 1ms, max_backoff: 2ms", "library.v1.LibraryService.GetShelf")
	create, get := createShelfReq, getShelfReq

	// After reaching the server: POST once, GET attempts times.
	b.expectCalls(t, h, "CreateShelf", failRule{code: codes.Unavailable}, create, 503, 1)
	b.expectCalls(t, h, "GetShelf", failRule{code: codes.Unavailable}, get, 503, 3)
	if n := tries(t, h, "CreateShelf", "UNAVAILABLE"); n != 1 {
		t.Fatalf("POST failing at the server: %v tries, want 1", n)
	}
	if n := tries(t, h, "GetShelf", "UNAVAILABLE"); n != 3 {
		t.Fatalf("idempotent GET failing at the server: %v tries, want 3", n)
	}

	// Before reaching a server: the backend is gone, so nothing can have
	// happened there, and the POST is tried attempts times too.
	b.heal()
	b.Stop()
	<-b.Done()
	// Wait until the connection knows (ListShelves is not counted below).
	eventually(t, 10*time.Second, "the backend to be unreachable", func() bool {
		return h.do(t, "GET", "/v1/shelves", "").status == 503
	})
	h.do(t, create[0], create[1], create[2]).expect(t, 503)
	if n := tries(t, h, "CreateShelf", "UNAVAILABLE"); n != 1+3 {
		t.Fatalf("POST that never reached a server: %v tries, want 3", n-1)
	}
	h.do(t, get[0], get[1], get[2]).expect(t, 503)
	if n := tries(t, h, "GetShelf", "UNAVAILABLE"); n != 3+3 {
		t.Fatalf("GET that never reached a server: %v tries, want 3", n-3)
	}
	if n := b.n("CreateShelf") + b.n("GetShelf"); n != 1+3 {
		t.Fatalf("the stopped backend counted %d calls, want the 4 made before it stopped", n)
	}
}

// The table of docs/resilience.md "Retries", row by row, for what reached a server:
// ABORTED and a per-try timeout are retried only for idempotent methods,
// and idempotent: false in the config overrides the descriptor's
// idempotency_level.
func TestRetriesAbortedPerTryTimeoutAndConfigOverride(t *testing.T) {
	b, h := startRetrying(t, "attempts: 3, backoff: 1ms, per_try_timeout: 100ms", "library.v1.LibraryService.GetShelf")
	create, get := createShelfReq, getShelfReq
	b.expectCalls(t, h, "GetShelf", failRule{code: codes.Aborted, first: 2}, get, 200, 3)
	b.expectCalls(t, h, "CreateShelf", failRule{code: codes.Aborted}, create, 409, 1)
	b.expectCalls(t, h, "GetShelf", failRule{hang: true}, get, 504, 3)
	b.expectCalls(t, h, "CreateShelf", failRule{hang: true}, create, 504, 1)

	acc := startFlakyOf(t, examples.StartAccounts)
	h = startGateway(t, fmt.Sprintf(`
upstreams:
  - name: accounts
    static: [%q]
    policies:
      retry: {attempts: 3, backoff: 1ms, idempotent: false}   # overrides NO_SIDE_EFFECTS
`, acc.Addr))
	acc.expectCalls(t, h, "GetAccount", failRule{code: codes.Unavailable}, [3]string{"GET", "/v1/accounts/1", ""}, 503, 1)
}

// The budget of docs/resilience.md, {ratio: 0.2, reserve: 10}, against an upstream that
// fails every call: retries add the reserve plus 20 % of the calls, not
// the 200 % that attempts: 3 alone would allow. 100 requests, each
// depositing 0.2: 10 + 19 retries (0.8 is left over), 129 backend calls.
func TestRetryBudgetBoundsTheExtraLoad(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      retry: {attempts: 3, backoff: 1ms, max_backoff: 1ms, idempotent: true, budget: {ratio: 0.2, reserve: 10}}
`))
	b.set("GetShelf", failRule{code: codes.Unavailable})
	const requests = 100
	for range requests {
		h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	}
	if n := b.n("GetShelf"); n != requests+10+19 {
		t.Fatalf("%d requests made %d backend calls, want %d (retries within the budget)", requests, n, requests+10+19)
	}
	if n := tries(t, h, "GetShelf", "UNAVAILABLE"); n != requests+10+19 {
		t.Fatalf("%v tries counted by the gateway, want %d", n, requests+10+19)
	}
}
