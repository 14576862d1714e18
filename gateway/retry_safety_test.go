package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
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

// The table of README "Retries", row by row, for what reached a server:
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

// retryServiceConfig is a grpc-go service config with its own retry
// policy for the library: 4 attempts on UNAVAILABLE.
const retryServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}],
  "methodConfig":[{"name":[{"service":"library.v1.LibraryService"}],
    "retryPolicy":{"maxAttempts":4,"initialBackoff":"0.001s","maxBackoff":"0.002s",
      "backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`

// grpc-go's retry policy never stacks on the gateway's: every upstream
// connection is dialled with retries disabled, so even a service config
// carrying a retry policy (here as a dial option; from a resolver alike)
// makes one call per try.
func TestGrpcRetryPolicyNeverStacks(t *testing.T) {
	b := startFlaky(t)
	b.set("GetShelf", failRule{code: codes.Unavailable})
	call := func(conn *grpc.ClientConn) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := conn.Invoke(ctx, "/library.v1.LibraryService/GetShelf", &emptypb.Empty{}, &emptypb.Empty{})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("GetShelf: %v, want UNAVAILABLE", err)
		}
	}

	// The control: the same service config on a plain connection retries,
	// so the policy below is one grpc-go would follow.
	plain, err := grpc.NewClient("passthrough:///"+b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(retryServiceConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	call(plain)
	if n := b.n("GetShelf"); n != 4 {
		t.Fatalf("a plain connection with the retry policy made %d calls, want 4", n)
	}

	cfg, err := config.Parse([]byte(libraryAt(b.Addr, "")))
	if err != nil {
		t.Fatal(err)
	}
	u, err := newUpstream(cfg.Upstreams[0], nil, &cfg.Limits, grpc.WithDefaultServiceConfig(retryServiceConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer u.conn.Close()
	u.resolver.Update(endpointsOf([]string{b.Addr}))
	call(u.conn)
	if n := b.n("GetShelf"); n != 4+1 {
		t.Fatalf("an upstream connection made %d calls, want 1: grpc-go retried under the gateway", n-4)
	}

	// Subset connections are dialled the same way.
	cfg, err = config.Parse([]byte(fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    subsets: [{name: canary, static: [%q]}]
`, b.Addr, b.Addr)))
	if err != nil {
		t.Fatal(err)
	}
	u2, err := newUpstream(cfg.Upstreams[0], nil, &cfg.Limits, grpc.WithDefaultServiceConfig(retryServiceConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer u2.conn.Close()
	defer u2.traffic.close()
	call(u2.traffic.get("canary").conn)
	if n := b.n("GetShelf"); n != 4+1+1 {
		t.Fatalf("a subset connection made %d calls, want 1: grpc-go retried under the gateway", n-5)
	}
}

// The README's budget, {ratio: 0.2, reserve: 10}, against an upstream that
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
