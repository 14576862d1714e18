package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCanonicalPathSpellings: spellings of a path that differ only by
// escaping unreserved characters reach the same route with the same path
// variables, the ones of the plain spelling.
func TestCanonicalPathSpellings(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	want := h.do(t, "GET", "/v1/shelves/2", "").expect(t, 200)
	jsonEq(t, want.body, `{"name":"shelves/2","theme":"History","bookCount":"1","createTime":"2024-01-01T00:00:00Z"}`)
	for _, p := range []string{"/v1/%73helves/2", "/v1/shelves/%32", "/v1/%73%68%65%6C%76%65%73/%32"} {
		status, _, body := sendRaw(t, h.base, rawRequest("GET", p, ""))
		if status != 200 {
			t.Fatalf("%s: status %d: %s", p, status, body)
		}
		jsonEq(t, body, string(want.body))
	}
}

// TestGrpcTimeoutOverflow: a Grpc-Timeout longer than a Duration holds is
// refused with 400 and the maximum, not wrapped into a negative timeout
// that fails the call with 504 at once.
func TestGrpcTimeoutOverflow(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	r := h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "99999999H").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"Grpc-Timeout \"99999999H\": longer than the largest timeout, 2562047H (about 292 years)","details":[]}`)
	h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "2562047H").expect(t, 200)
}

// TestClientDeadlineDoesNotTripBreaker: a caller that
// shortens Grpc-Timeout until its calls fail with 504 cannot open the
// upstream's breaker for everyone; failures of the gateway's own timeout
// still open it.
func TestClientDeadlineDoesNotTripBreaker(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    timeout: 200ms
    policies:
      breaker: {failures: 3, open_for: 1h}
`))
	b.set("GetShelf", failRule{hang: true})
	for i := range 5 {
		r := h.do(t, "GET", "/v1/shelves/1", "", "Grpc-Timeout", "20m").expect(t, 504)
		if !strings.Contains(string(r.body), "within 20ms") {
			t.Fatalf("call %d: %s", i, r.body)
		}
	}
	h.expectBreakers(t, `{"breakers":[{"name":"upstream \"library\"","state":"closed"}]}`)
	b.heal()
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)

	// The gateway's own timeout is the upstream failing: 3 open it.
	b.set("GetShelf", failRule{hang: true})
	for range 3 {
		h.do(t, "GET", "/v1/shelves/1", "").expect(t, 504)
	}
	h.expectBreakers(t, `{"breakers":[{"name":"upstream \"library\"","state":"open"}]}`)
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
}

// TestClientDeadlineFailedByBackendDoesNotCount: a backend
// that refuses a deadline too short for its work answers
// DEADLINE_EXCEEDED before the gateway's timer fires; with the client's
// deadline that is still the client's doing: no breaker failure, no
// retry, no retry-budget token spent.
func TestClientDeadlineFailedByBackendDoesNotCount(t *testing.T) {
	var calls atomic.Int32
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		calls.Add(1)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Second {
			return nil, status.Error(codes.DeadlineExceeded, "not enough time left for this work")
		}
		return h(ctx, req)
	}))
	h := startGateway(t, libraryAt(lib.Addr, `
    timeout: 10s
    policies:
      breaker: {failures: 2, open_for: 1h}
      retry: {attempts: 3, backoff: 1ms, idempotent: true, per_try_timeout: 5s, budget: {ratio: 0, reserve: 2}}
`))
	for range 4 {
		h.do(t, "GET", "/v1/shelves/1", "", "Grpc-Timeout", "500m").expect(t, 504)
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("the backend saw %d calls, want 4 (no retries of a client-chosen deadline)", n)
	}
	h.expectBreakers(t, `{"breakers":[{"name":"upstream \"library\"","state":"closed"}]}`)
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
}

// TestGrpcTimeoutLimits: a Grpc-Timeout outside
// limits.min_client_timeout / max_client_timeout is refused with 400
// naming the limit; the minimum defaults to 10ms.
func TestGrpcTimeoutLimits(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	r := h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "1n").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"Grpc-Timeout \"1n\" (1ns) is shorter than the minimum of 10ms (limits.min_client_timeout): ask for at least that","details":[]}`)
	// The minimum itself is allowed: the call is made (a loaded machine may
	// not answer within 10ms, which is the gateway's 504, not a 400).
	if r := h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "10m"); r.status != 200 && r.status != 504 {
		t.Fatalf("Grpc-Timeout at the minimum: status %d %s, want the call made (200, or 504 if it took longer)", r.status, r.body)
	}

	h = startGateway(t, libraryConfig(lib.Addr, `
limits: {min_client_timeout: 50ms, max_client_timeout: 1m}
`))
	r = h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "49m").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"Grpc-Timeout \"49m\" (49ms) is shorter than the minimum of 50ms (limits.min_client_timeout): ask for at least that","details":[]}`)
	r = h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "61S").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"Grpc-Timeout \"61S\" (1m1s) is longer than the maximum of 1m0s (limits.max_client_timeout): ask for at most that","details":[]}`)
	h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "1M").expect(t, 200)
	// Streams hold the client to the same limits.
	echo := startEcho(t, "127.0.0.1:0")
	h = startGateway(t, echoConfig(echo.Addr, ""))
	r = h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"a","count":1}`, "Grpc-Timeout", "1u").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"Grpc-Timeout \"1u\" (1µs) is shorter than the minimum of 10ms (limits.min_client_timeout): ask for at least that","details":[]}`)
	h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"a","count":1}`, "Grpc-Timeout", "1S").expect(t, 200)
}

// TestForwardsOnlyVerifiedCredentials: on a route with
// auth, the backend receives exactly the credential the gateway checked:
// never a Grpc-Metadata-Authorization beside it, never a second
// Authorization, and on an API-key route no Authorization at all (nor an
// X-Api-Key on a JWT route). Without auth, Grpc-Metadata-* still cannot set
// a key that forward_headers owns.
func TestForwardsOnlyVerifiedCredentials(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	h := startGateway(t, fmt.Sprintf(`
consumers: [{name: app, keys: [{value: app-key}]}]
jwt: {algorithms: [HS256], hmac_secret: {value: %s}, issuer: "https://id.test", audiences: [refract]}
upstreams:
  - name: library
    static: [%q]
    forward_headers: [Authorization, X-Api-Key, X-Request-Id]
    routes:
      - match: "GET /v1/{name=shelves/*}"
        policies: {auth: [jwt]}
      - match: "GET /v1/{name=shelves/*/books/*}"
        policies: {auth: [api_key]}
`, testHMAC, lib.Addr))
	tok := hsToken(t, "u1")
	expectMD := func(t *testing.T, key string, want ...string) {
		t.Helper()
		if got := rec.lastMD().Get(key); !slices.Equal(got, want) {
			t.Fatalf("the backend saw %s %q, want %q", key, got, want)
		}
	}

	// JWT route: the verified token only.
	h.do(t, "GET", "/v1/shelves/1", "", "Authorization", tok, "Grpc-Metadata-Authorization", "Bearer FORGED",
		"X-Api-Key", "not-checked").expect(t, 200)
	expectMD(t, "authorization", tok)
	expectMD(t, "x-api-key")
	// Two Authorization headers: refused before the backend.
	calls := rec.calls
	for _, path := range []string{"/v1/shelves/1", "/v1/shelves/1/books/1"} {
		status, _, body := sendRaw(t, h.base, rawRequest("GET", path, "", "Authorization: "+tok,
			"Authorization: Bearer FORGED", "X-Api-Key: app-key"))
		if status != 400 || !strings.Contains(string(body), "the request has 2 Authorization headers; send exactly one") {
			t.Fatalf("%s with two Authorization headers: %d %s", path, status, body)
		}
	}
	if rec.calls != calls {
		t.Fatal("a request with two Authorization headers reached the backend")
	}
	// API-key route: the key, and no Authorization the gateway never checked.
	h.do(t, "GET", "/v1/shelves/1/books/1", "", "X-Api-Key", "app-key", "Authorization", "Bearer FORGED",
		"Grpc-Metadata-Authorization", "Bearer FORGED2", "Grpc-Metadata-X-Api-Key", "other").expect(t, 200)
	expectMD(t, "authorization")
	expectMD(t, "x-api-key", "app-key")
	expectMD(t, "x-consumer", "app")
	// No auth: the client's own Authorization passes (the backend checks
	// it), but a Grpc-Metadata-* header cannot add another.
	h.do(t, "GET", "/v1/shelves", "", "Authorization", "Bearer mine", "Grpc-Metadata-Authorization", "Bearer FORGED",
		"Grpc-Metadata-X-Request-Id", "spoofed").expect(t, 200)
	expectMD(t, "authorization", "Bearer mine")
	if got := rec.lastMD().Get("x-request-id"); len(got) != 1 || got[0] == "spoofed" {
		t.Fatalf("the backend saw x-request-id %q, want the gateway's one", got)
	}
}

// TestIdentityHeadersCannotBeSpoofed: what the external
// authorizer vouches for (ext_authz.http.upstream_headers, or
// ext_authz.grpc.upstream_headers) is dropped from client input on every
// route, including routes that never ask the authorizer.
func TestIdentityHeadersCannotBeSpoofed(t *testing.T) {
	az := startHTTPAuthorizer(t)
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	for _, authz := range []string{
		fmt.Sprintf(`{http: {url: %q, upstream_headers: [X-Auth-User]}}`, az.srv.URL),
		`{grpc: {addr: "127.0.0.1:1", upstream_headers: [X-Auth-User]}}`,
	} {
		h := startGateway(t, fmt.Sprintf(`
ext_authz: %s
upstreams:
  - name: library
    static: [%q]
    forward_headers: [X-Auth-User, X-Request-Id]
`, authz, lib.Addr))
		h.do(t, "GET", "/v1/shelves/1", "", "Grpc-Metadata-X-Auth-User", "admin", "X-Request-Id", "r1").expect(t, 200)
		if got := rec.lastMD().Get("x-auth-user"); len(got) != 0 {
			t.Fatalf("%s: the backend saw x-auth-user %q from the client", authz, got)
		}
		h.do(t, "GET", "/v1/shelves/1", "", "X-Auth-User", "admin").expect(t, 200)
		if got := rec.lastMD().Get("x-auth-user"); len(got) != 0 {
			t.Fatalf("%s: the backend saw x-auth-user %q from the client", authz, got)
		}
	}
}

// TestAuthorizerSeesCanonicalPath: the authorizer is sent
// the spelling the router matches by, so a rule on /v1/shelves/2 holds
// for every spelling that reaches that route (Envoy CVE-2019-9901).
func TestAuthorizerSeesCanonicalPath(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	az := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uri := r.Header.Get("X-Forwarded-Uri")
		mu.Lock()
		seen = append(seen, uri)
		mu.Unlock()
		if strings.HasPrefix(uri, "/v1/shelves/2") {
			http.Error(w, "shelf 2 is private", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(az.Close)
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "")+fmt.Sprintf(`
ext_authz: {http: {url: %q}}
policies: {ext_authz: true}
`, az.URL))
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	for _, p := range []string{"/v1/shelves/2", "/v1/shelves/%32", "/v1/%73helves/2", "/v1/%73%68%65%6C%76%65%73/%32?x=%41"} {
		status, _, body := sendRaw(t, h.base, rawRequest("GET", p, ""))
		if status != 403 || string(body) != "shelf 2 is private\n" {
			t.Fatalf("%s: %d %s; want the authorizer's 403", p, status, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/v1/shelves/1", "/v1/shelves/2", "/v1/shelves/2", "/v1/shelves/2", "/v1/shelves/2?x=%41"}
	if !slices.Equal(seen, want) {
		t.Fatalf("the authorizer saw %q, want %q", seen, want)
	}
}
