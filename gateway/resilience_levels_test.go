package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"google.golang.org/grpc/codes"
)

// The upstream's timeout bounds its calls when no policy sets one, and a
// global policies.timeout replaces it for every route.
func TestUpstreamAndGlobalTimeouts(t *testing.T) {
	b := startFlaky(t)
	b.set("ListShelves", failRule{hang: true})
	for _, tc := range []struct{ yaml, want string }{
		{fmt.Sprintf("upstreams: [{name: library, static: [%q], timeout: 120ms}]\n", b.Addr), "within 120ms"},
		{fmt.Sprintf("policies: {timeout: 130ms}\nupstreams: [{name: library, static: [%q], timeout: 10s}]\n", b.Addr), "within 130ms"},
	} {
		h := startGateway(t, tc.yaml)
		r := h.do(t, "GET", "/v1/shelves", "").expect(t, 504)
		if field(t, r.body, "code") != float64(codes.DeadlineExceeded) ||
			!strings.Contains(field(t, r.body, "message").(string), `upstream "library" did not answer `+tc.want) {
			t.Fatalf("%s: %s", tc.want, r.body)
		}
	}
}

// A global breaker gives every upstream a breaker of its own: one
// upstream's failures never refuse another's calls.
func TestGlobalBreakerIsPerUpstream(t *testing.T) {
	lib := startFlaky(t)
	acc := startFlakyOf(t, examples.StartAccounts)
	h := startGateway(t, fmt.Sprintf(`
policies:
  breaker: {failures: 2, open_for: 1h}
upstreams:
  - {name: library, static: [%q]}
  - {name: accounts, static: [%q]}
`, lib.Addr, acc.Addr))
	lib.set("ListShelves", failRule{code: codes.Internal})
	for range 2 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 500)
	}
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	if !strings.Contains(string(r.body), `circuit breaker for upstream \"library\" is open`) {
		t.Fatalf("library: %s", r.body)
	}
	h.do(t, "POST", "/v1/accounts", `{"email":"ada@example.com","displayName":"Ada","age":36}`).expect(t, 200)
	h.expectBreakers(t, `{"breakers":[{"name":"upstream \"accounts\"","state":"closed"},{"name":"upstream \"library\"","state":"open"}]}`)
	if n := lib.n("ListShelves"); n != 2 {
		t.Fatalf("library saw %d calls, want 2", n)
	}
}

// Breakers outlive route rebuilds: routes compiled again from the same
// config keep the open breaker (and its count of the backend's calls).
func TestBreakerSurvivesRouteRebuild(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      breaker: {failures: 2, open_for: 1h}
`))
	b.set("ListShelves", failRule{code: codes.Unavailable})
	for range 2 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	}
	if !h.gw.RecompileRoutes("library") { // as if the descriptors had changed
		t.Fatal("the routes were not compiled again")
	}
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	if !strings.Contains(string(r.body), `circuit breaker for upstream \"library\" is open`) {
		t.Fatalf("after the rebuild: %s", r.body)
	}
	if n := b.n("ListShelves"); n != 2 {
		t.Fatalf("backend saw %d calls, want 2: the rebuild closed the breaker", n)
	}
	h.expectBreakers(t, `{"breakers":[{"name":"upstream \"library\"","state":"open"}]}`)
}

// A fallback answers only for an upstream that cannot answer: the
// backend's NOT_FOUND and a timeout pass through unmarked.
func TestFallbackOnlyForUnavailable(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    routes:
      - match: "GET /v1/shelves"
        policies:
          timeout: 100ms
          fallback: {status: 200, body: {degraded: true}}
`))
	for _, tc := range []struct {
		rule     failRule
		status   int
		fallback string // the X-Refract-Fallback header
		code     any    // the body's code; nil for the fallback's own body
	}{
		{failRule{code: codes.NotFound}, 404, "", float64(codes.NotFound)},
		{failRule{hang: true}, 504, "", float64(codes.DeadlineExceeded)},
		{failRule{code: codes.Unavailable}, 200, "unavailable", nil},
	} {
		b.set("ListShelves", tc.rule)
		r := h.do(t, "GET", "/v1/shelves", "").expect(t, tc.status)
		if got := r.header.Get("X-Refract-Fallback"); got != tc.fallback {
			t.Fatalf("%+v: X-Refract-Fallback %q, want %q; body %s", tc.rule, got, tc.fallback, r.body)
		}
		if tc.code == nil {
			jsonEq(t, r.body, `{"degraded":true}`)
		} else if got := field(t, r.body, "code"); got != tc.code {
			t.Fatalf("%+v: code %v, want %v; body %s", tc.rule, got, tc.code, r.body)
		}
	}
}
