package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// flaky is a library backend whose methods can be made to fail, or to
// hang until the call's deadline, and that counts the calls it receives
// (reflection and health aside).
type flaky struct {
	*examples.Backend
	mu    sync.Mutex
	calls map[string]int
	fail  map[string]failRule // by method name (GetShelf) or "*"
}

type failRule struct {
	code  codes.Code // the failure; codes.OK with hang
	first int        // fail this many calls, then succeed; 0: every call
	hang  bool       // block until the call's context ends
}

func startFlaky(t *testing.T) *flaky {
	t.Helper()
	return startFlakyOf(t, examples.StartLibrary)
}

// startFlakyOf is startFlaky for another example backend.
func startFlakyOf(t *testing.T, start func(string, ...grpc.ServerOption) (*examples.Backend, error)) *flaky {
	t.Helper()
	f := &flaky{calls: map[string]int{}, fail: map[string]failRule{}}
	b, err := start("127.0.0.1:0", grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			m := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
			f.mu.Lock()
			f.calls[m]++
			n := f.calls[m]
			rule, ok := f.fail[m]
			if !ok {
				rule, ok = f.fail["*"]
			}
			f.mu.Unlock()
			switch {
			case ok && rule.hang:
				<-ctx.Done()
				return nil, ctx.Err()
			case ok && (rule.first == 0 || n <= rule.first):
				return nil, status.Errorf(rule.code, "injected failure %d of %s", n, m)
			}
			return h(ctx, req)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	f.Backend = b
	return f
}

func (f *flaky) set(method string, r failRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = r
	f.calls[method] = 0
}

func (f *flaky) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.fail)
}

func (f *flaky) n(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func libraryAt(addr, policies string) string {
	return fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
%s`, addr, policies)
}

func TestBreakerOpensAfterFailuresAndClosesAfterRecovery(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      breaker: {failures: 3, open_for: 200ms}
`))
	b.set("ListShelves", failRule{code: codes.Unavailable})
	for i := range 3 {
		r := h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
		if !strings.Contains(string(r.body), "injected failure") {
			t.Fatalf("call %d: the backend's failure should pass through: %s", i, r.body)
		}
	}
	if n := b.n("ListShelves"); n != 3 {
		t.Fatalf("backend saw %d calls, want 3", n)
	}
	// Open: refused at once, the backend is not called.
	for range 5 {
		r := h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
		if field(t, r.body, "code") != float64(codes.Unavailable) ||
			!strings.Contains(field(t, r.body, "message").(string), `circuit breaker for upstream "library" is open`) {
			t.Fatalf("open breaker answered %s", r.body)
		}
		if r.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q, want 1", r.header.Get("Retry-After"))
		}
	}
	if n := b.n("ListShelves"); n != 3 {
		t.Fatalf("the open breaker let %d calls through", n-3)
	}
	h.expectBreakers(t, `{"breakers":[{"name":"upstream \"library\"","state":"open"}]}`)
	// A failure that is the backend working (NOT_FOUND) is not the
	// breaker's business: other methods share the upstream's breaker,
	// and are refused too.
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	if n := b.n("GetShelf"); n != 0 {
		t.Fatalf("GetShelf reached the backend %d times through an open upstream breaker", n)
	}

	// Recovery: after open_for one probe goes through and closes it.
	b.heal()
	eventually(t, 10*time.Second, "the breaker to close", func() bool {
		return h.do(t, "GET", "/v1/shelves", "").status == 200
	})
	for range 5 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	if n := b.n("ListShelves"); n != 3+1+5 {
		t.Fatalf("backend saw %d calls, want 9 (3 failures, 1 probe, 5 after closing)", n)
	}
	h.expectBreakers(t, `{"breakers":[{"name":"upstream \"library\"","state":"closed"}]}`)
}

// expectBreakers checks /admin/breakers, and that refract_breaker_state
// says the same of every breaker.
func (h *harness) expectBreakers(t *testing.T, want string) {
	t.Helper()
	resp, err := http.Get(h.admin + "/admin/breakers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, body, want)
	var got struct{ Breakers []gateway.BreakerInfo }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	s := scrapeMetrics(t, h)
	for _, b := range got.Breakers {
		for _, st := range []string{"closed", "open", "half-open"} {
			m := s.series("refract_breaker_state", "breaker="+b.Name, "state="+st)
			if want := map[bool]float64{true: 1, false: 0}[st == b.State]; m == nil || m.GetGauge().GetValue() != want {
				t.Fatalf("refract_breaker_state{breaker=%q,state=%q} = %v, want %v (the breaker is %s)", b.Name, st, m, want, b.State)
			}
		}
	}
}

func TestBreakerPerMethodAndClientErrorsDoNotCount(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      breaker: {failures: 2, open_for: 1h, per_method: true}
`))
	// NOT_FOUND is an answer, not a sick backend: never opens.
	for range 5 {
		h.do(t, "GET", "/v1/shelves/404", "").expect(t, 404)
	}
	if n := b.n("GetShelf"); n != 5 {
		t.Fatalf("GetShelf: %d calls, want 5", n)
	}
	b.set("GetShelf", failRule{code: codes.Internal})
	for range 2 {
		h.do(t, "GET", "/v1/shelves/1", "").expect(t, 500)
	}
	r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	if !strings.Contains(string(r.body), "method library.v1.LibraryService.GetShelf") {
		t.Fatalf("per-method breaker should name the method: %s", r.body)
	}
	if n := b.n("GetShelf"); n != 2 {
		t.Fatalf("GetShelf: %d calls, want 2", n)
	}
	// Another method of the same upstream has its own, closed breaker.
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	if n := b.n("ListShelves"); n != 1 {
		t.Fatalf("ListShelves: %d calls, want 1", n)
	}
}

func TestRouteTimeoutAndGrpcTimeout(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    timeout: 10s
    routes:
      - match: "library.v1.LibraryService.GetShelf"
        policies: {timeout: 150ms}
`))
	b.set("GetShelf", failRule{hang: true})
	b.set("ListShelves", failRule{hang: true})
	r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 504)
	if !strings.Contains(string(r.body), `upstream \"library\" did not answer within 150ms`) {
		t.Fatalf("route timeout: %s", r.body)
	}
	// The client's shorter Grpc-Timeout wins over the route's.
	r = h.do(t, "GET", "/v1/shelves/1", "", "Grpc-Timeout", "50m").expect(t, 504)
	if !strings.Contains(string(r.body), "within 50ms") {
		t.Fatalf("Grpc-Timeout: %s", r.body)
	}
	// A longer one does not extend it.
	r = h.do(t, "GET", "/v1/shelves/1", "", "Grpc-Timeout", "5S").expect(t, 504)
	if !strings.Contains(string(r.body), "within 150ms") {
		t.Fatalf("longer Grpc-Timeout: %s", r.body)
	}
	// Other routes keep the upstream's timeout.
	r = h.do(t, "GET", "/v1/shelves", "", "Grpc-Timeout", "20m").expect(t, 504)
	if !strings.Contains(string(r.body), "within 20ms") {
		t.Fatalf("upstream route: %s", r.body)
	}
}

// expectCalls makes method fail by rule, sends one request, and checks the
// answer's status and how many calls of method the backend saw.
func (f *flaky) expectCalls(t *testing.T, h *harness, method string, rule failRule, req [3]string, status, want int) {
	t.Helper()
	f.set(method, rule)
	h.do(t, req[0], req[1], req[2]).expect(t, status)
	if n := f.n(method); n != want {
		t.Fatalf("%s %s with %+v: %s called %d times, want %d", req[0], req[1], rule, method, n, want)
	}
}

// The library requests of the retry tests: CreateShelf, not idempotent,
// and GetShelf, made idempotent by the config of startRetrying.
var (
	createShelfReq = [3]string{"POST", "/v1/shelves", `{"theme":"x"}`}
	getShelfReq    = [3]string{"GET", "/v1/shelves/1", ""}
)

// startRetrying serves a flaky library behind a gateway whose retry policy
// is {retry} for every method and {retry, idempotent: true} for the
// methods that idempotent matches.
func startRetrying(t *testing.T, retry, idempotent string) (*flaky, *harness) {
	t.Helper()
	b := startFlaky(t)
	return b, startGateway(t, libraryAt(b.Addr, fmt.Sprintf(`
    policies:
      retry: {%s}
    routes:
      - match: %q
        policies:
          retry: {%s, idempotent: true}
`, retry, idempotent, retry)))
}

func TestRetriesOnlyWhenSafe(t *testing.T) {
	b, h := startRetrying(t, "attempts: 3, backoff: 1ms, max_backoff: 5ms", "library.v1.LibraryService.Get*")
	create, get := createShelfReq, getShelfReq
	// Not idempotent, and the failure came from a server: the request may
	// have had its effect, so it is never repeated.
	b.expectCalls(t, h, "CreateShelf", failRule{code: codes.Unavailable, first: 1}, create, 503, 1)
	// Idempotent: retried on UNAVAILABLE until it succeeds (2 failures, 1 success) …
	b.expectCalls(t, h, "GetShelf", failRule{code: codes.Unavailable, first: 2}, get, 200, 3)
	// … but no more than attempts.
	b.expectCalls(t, h, "GetShelf", failRule{code: codes.Unavailable}, get, 503, 3)
	// An answer that says the request is wrong is never retried.
	b.expectCalls(t, h, "GetShelf", failRule{code: codes.InvalidArgument}, get, 400, 1)
}

// A method whose descriptor says idempotency_level NO_SIDE_EFFECTS (or
// IDEMPOTENT) is retried without being marked so in the config.
func TestRetriesMethodsIdempotentByDescriptor(t *testing.T) {
	b := startFlakyOf(t, examples.StartAccounts)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: accounts
    static: [%q]
    policies:
      retry: {attempts: 3, backoff: 1ms}
`, b.Addr))
	create := [3]string{"POST", "/v1/accounts", `{"email":"ada@example.com","displayName":"Ada","age":36}`}
	h.do(t, create[0], create[1], create[2]).expect(t, 200)
	b.expectCalls(t, h, "GetAccount", failRule{code: codes.Unavailable, first: 2}, [3]string{"GET", "/v1/accounts/1", ""}, 200, 3)
	b.expectCalls(t, h, "CreateAccount", failRule{code: codes.Unavailable, first: 1}, create, 503, 1)
}

func TestRetryBudgetAndPerTryTimeout(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      retry: {attempts: 3, backoff: 1ms, idempotent: true, per_try_timeout: 100ms, budget: {ratio: 0, reserve: 2}}
`))
	// A per-try timeout of an idempotent call is retried: every try
	// hangs, so all 3 attempts are made, spending the budget's 2 retries.
	b.expectCalls(t, h, "GetShelf", failRule{hang: true}, [3]string{"GET", "/v1/shelves/1", ""}, 504, 3)
	// The budget is spent (ratio 0 refills nothing): a later call is
	// tried once.
	b.expectCalls(t, h, "ListShelves", failRule{code: codes.Unavailable}, [3]string{"GET", "/v1/shelves", ""}, 503, 1)
}

func TestFallbackWhileBackendIsDown(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      breaker: {failures: 2, open_for: 1h}
    routes:
      - match: "GET /v1/shelves"
        policies:
          fallback:
            status: 200
            body: {shelves: [], degraded: true}
            headers: {Cache-Control: no-store}
`))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	b.set("ListShelves", failRule{code: codes.Unavailable})
	for range 2 {
		r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		jsonEq(t, r.body, `{"shelves":[],"degraded":true}`)
		if r.header.Get("X-Refract-Fallback") != "unavailable" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("fallback headers %v", r.header)
		}
	}
	// The breaker opened: the fallback is served without calling.
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	jsonEq(t, r.body, `{"shelves":[],"degraded":true}`)
	if got := r.header.Get("X-Refract-Fallback"); got != "breaker_open" {
		t.Fatalf("X-Refract-Fallback %q, want breaker_open", got)
	}
	if n := b.n("ListShelves"); n != 2 {
		t.Fatalf("backend saw %d failing calls, want 2", n)
	}
	// Routes without a fallback get the error.
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
}

func TestFallbackWhenBackendStopped(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      fallback: {status: 503, body: {message: "library is resting"}, headers: {Retry-After: "30"}}
`))
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	b.Stop()
	<-b.Done()
	eventually(t, 10*time.Second, "the fallback", func() bool {
		r := h.do(t, "GET", "/v1/shelves/1", "")
		return r.status == 503 && r.header.Get("X-Refract-Fallback") == "unavailable" &&
			r.header.Get("Retry-After") == "30" && string(r.body) == `{"message":"library is resting"}`
	})
}

func TestCanarySplitByWeightHeaderAndSticky(t *testing.T) {
	v1 := startCounted(t, examples.StartLibrary)
	v2 := startCounted(t, examples.StartLibrary)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    subsets:
      - {name: stable, static: [%q]}
      - {name: canary, static: [%q]}
    policies:
      split: {weights: {stable: 90, canary: 10}, header: X-Canary, cookie: canary}
    routes:
      - match: "library.v1.LibraryService.GetShelf"
        policies:
          split: {weights: {stable: 50, canary: 50}, sticky: "header:X-User"}
`, v1.Addr, v1.Addr, v2.Addr))
	const list = "/library.v1.LibraryService/ListShelves"
	const total = 1000
	for range total {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	n1, n2 := v1.n(list), v2.n(list)
	if n1+n2 != total {
		t.Fatalf("served %d+%d, want %d", n1, n2, total)
	}
	if n2 < 50 || n2 > 150 { // 10 % ± 5 % of 1000
		t.Fatalf("canary got %d of %d, want 100 ± 50", n2, total)
	}
	t.Logf("weights 90/10 over %d requests: stable %d, canary %d", total, n1, n2)

	// A header naming a subset is exact.
	for range 50 {
		h.do(t, "GET", "/v1/shelves", "", "X-Canary", "canary").expect(t, 200)
	}
	if got := v2.n(list) - n2; got != 50 {
		t.Fatalf("X-Canary: canary sent %d of 50 to the canary", got)
	}
	for range 50 {
		h.do(t, "GET", "/v1/shelves", "", "X-Canary", "stable").expect(t, 200)
	}
	if got := v1.n(list) - n1; got != 50 {
		t.Fatalf("X-Canary: stable sent %d of 50 to stable", got)
	}
	n1, n2 = v1.n(list), v2.n(list)
	for range 30 {
		h.do(t, "GET", "/v1/shelves", "", "Cookie", "canary=canary").expect(t, 200)
	}
	if got := v2.n(list) - n2; got != 30 {
		t.Fatalf("cookie canary=canary sent %d of 30 to the canary", got)
	}

	// Sticky: each user stays on one side; users spread by the weights.
	const get = "/library.v1.LibraryService/GetShelf"
	users := map[int]bool{} // user → on canary
	for u := range 200 {
		before := v2.n(get)
		for range 3 {
			h.do(t, "GET", "/v1/shelves/1", "", "X-User", fmt.Sprint("user-", u)).expect(t, 200)
		}
		switch v2.n(get) - before {
		case 0:
		case 3:
			users[u] = true
		default:
			t.Fatalf("user %d was split between subsets", u)
		}
	}
	if c := len(users); c < 70 || c > 130 {
		t.Fatalf("sticky 50/50: %d of 200 users on the canary", c)
	}
}

// The resilience example of docs/resilience.md serves what its comments say.
func TestResilienceExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../examples/refract-resilience.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stable := startCounted(t, examples.StartLibrary)
	canary := startCounted(t, examples.StartLibrary)
	cfg := strings.NewReplacer("127.0.0.1:50051", stable.Addr, "127.0.0.1:50053", canary.Addr).Replace(string(data))
	h := startGateway(t, cfg)
	const list = "/library.v1.LibraryService/ListShelves"
	for range 20 {
		h.do(t, "GET", "/v1/shelves", "", "X-Canary", "canary").expect(t, 200)
	}
	if canary.n(list) != 20 || stable.n(list) != 0 {
		t.Fatalf("X-Canary: canary: %d to the canary, %d to stable", canary.n(list), stable.n(list))
	}
	var routes struct {
		Routes []gateway.RouteInfo `json:"routes"`
	}
	resp, err := http.Get(h.admin + "/admin/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&routes); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes.Routes {
		if r.HTTPMethod == "GET" && r.Path == "/v1/shelves" {
			if got := strings.Join(r.Policies, ","); got != "split,fallback,breaker,retry" {
				t.Fatalf("GET /v1/shelves policies %q", got)
			}
		}
	}
	stable.Stop()
	canary.Stop()
	eventually(t, 10*time.Second, "the fallback", func() bool {
		r := h.do(t, "GET", "/v1/shelves", "")
		return r.status == 200 && r.header.Get("X-Refract-Fallback") != "" && string(r.body) == `{"degraded":true,"shelves":[]}`
	})
}

func TestSplitByConsulTags(t *testing.T) {
	agent := consultest.Start(t)
	v1 := startCounted(t, examples.StartLibrary)
	v2 := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "lib-v1", Service: "library", Addr: v1.Addr, Tags: []string{"v1"}})
	agent.Register(consultest.Instance{ID: "lib-v2", Service: "library", Addr: v2.Addr, Tags: []string{"v2", "canary"}})
	h := startGateway(t, consulConfig(agent, `
upstreams:
  - name: library
    consul: {service: library}
    subsets:
      - {name: stable, tags: [v1]}
      - {name: canary, tags: [v2, canary]}
    policies:
      split: {weights: {stable: 100, canary: 0}, header: X-Canary}
`))
	eventually(t, 10*time.Second, "two endpoints", func() bool { return len(h.upstream(t, "library").Endpoints) == 2 })
	const list = "/library.v1.LibraryService/ListShelves"
	for range 20 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	for range 10 {
		h.do(t, "GET", "/v1/shelves", "", "X-Canary", "canary").expect(t, 200)
	}
	if v1.n(list) != 20 || v2.n(list) != 10 {
		t.Fatalf("stable served %d (want 20), canary %d (want 10)", v1.n(list), v2.n(list))
	}
	// The canary's instance leaves: its subset has no endpoint, and calls
	// chosen for it fail as unavailable rather than leak to stable.
	agent.Deregister("lib-v2")
	eventually(t, 10*time.Second, "one endpoint", func() bool { return len(h.upstream(t, "library").Endpoints) == 1 })
	h.do(t, "GET", "/v1/shelves", "", "X-Canary", "canary").expect(t, 503)
	if v1.n(list) != 20 {
		t.Fatalf("a canary request reached stable")
	}
}

// A try that never reached a server is repeated even for a method that is
// not idempotent. No backend is there to count the tries, so the
// per-method breaker does: it opens after 2 failures in a row, which one
// POST can only cause by being tried twice.
func TestRetriesUnsentCallsEvenWhenNotIdempotent(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      breaker: {failures: 2, open_for: 1h, per_method: true}
      retry: {attempts: 3, backoff: 1ms}
`))
	h.do(t, "POST", "/v1/shelves", `{"theme":"x"}`).expect(t, 200)
	b.Stop()
	<-b.Done()
	// Wait until the connection knows the backend is gone (GET has its own breaker).
	eventually(t, 10*time.Second, "the backend to be unreachable", func() bool {
		return h.do(t, "GET", "/v1/shelves", "").status == 503
	})
	r := h.do(t, "POST", "/v1/shelves", `{"theme":"x"}`).expect(t, 503)
	if !strings.Contains(string(r.body), `circuit breaker for upstream \"library\" method library.v1.LibraryService.CreateShelf is open`) {
		t.Fatalf("one POST should have been tried twice (opening the breaker), then refused: %s", r.body)
	}
}

// The same POST, failing after it reached the server, is tried once: the
// breaker (2 failures) stays closed after one request.
func TestDoesNotRetrySentCallsOfNonIdempotentMethods(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      breaker: {failures: 2, open_for: 1h, per_method: true}
      retry: {attempts: 3, backoff: 1ms}
`))
	b.set("CreateShelf", failRule{code: codes.Unavailable, first: 1})
	r := h.do(t, "POST", "/v1/shelves", `{"theme":"x"}`).expect(t, 503)
	if !strings.Contains(string(r.body), "injected failure 1") {
		t.Fatalf("%s", r.body)
	}
	h.do(t, "POST", "/v1/shelves", `{"theme":"x"}`).expect(t, 200)
	if n := b.n("CreateShelf"); n != 2 {
		t.Fatalf("CreateShelf called %d times, want 2 (one per request)", n)
	}
}
