package gateway_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// The closed failure answer of docs/policies.md "External authorization".
const extAuthzFailed = `{"code":14,"message":"the authorization service could not decide on this request; retry later","details":[]}`

// The HTTP authorizer is sent the request's attributes and the configured
// headers only; its deny keeps its Content-Type; denials are cached like
// allows, failures are not, and a closed failure is a 503 with Retry-After.
func TestExtAuthzHTTPAttributesCacheAndFailure(t *testing.T) {
	az := startHTTPAuthorizer(t)
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	h := startGateway(t, fmt.Sprintf(`
ext_authz:
  http: {url: %q, upstream_headers: [X-User-Id]}
  send_headers: [Authorization, Cookie]
  cache_ttl: 1h
upstreams:
  - name: library
    static: [%q]
    policies: {ext_authz: true}
`, az.srv.URL+"/check", lib.Addr))

	h.do(t, "GET", "/v1/shelves/1?view=full", "", "Authorization", "Bearer good", "Cookie", "session=s1",
		"X-Other", "not sent").expect(t, 200)
	az.mu.Lock()
	sent := az.last
	az.mu.Unlock()
	for k, want := range map[string]string{
		"X-Forwarded-Method": "GET",
		"X-Forwarded-Uri":    "/v1/shelves/1?view=full",
		"X-Forwarded-Host":   h.base[len("http://"):],
		"X-Forwarded-For":    "127.0.0.1",
		"X-Refract-Route":    "GET /v1/{name=shelves/*}",
		"X-Refract-Method":   "library.v1.LibraryService.GetShelf",
		"Authorization":      "Bearer good",
		"Cookie":             "session=s1",
		"X-Other":            "",
	} {
		if got := sent.Get(k); got != want {
			t.Errorf("the authorizer was sent %s %q, want %q", k, got, want)
		}
	}

	// A deny passes through with its status, body and Content-Type; the
	// same request again is answered from the cache.
	before := az.n()
	for range 2 {
		r := h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer bad").expect(t, 401)
		if string(r.body) != `{"error":"log in at https://id.example.com"}` || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("deny: %v %s", r.header, r.body)
		}
	}
	if n := az.n() - before; n != 1 {
		t.Fatalf("two identical denied requests asked the authorizer %d times, want 1 (cached)", n)
	}
	// A different sent header is a different decision.
	h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer good", "Cookie", "session=s2").expect(t, 200)
	if n := az.n() - before; n != 2 {
		t.Fatalf("another cookie asked the authorizer %d times in all, want 2", n)
	}

	// A failure is never cached: each request asks again, and is refused.
	before = az.n()
	for range 2 {
		r := h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer broken").expect(t, 503)
		jsonEq(t, r.body, extAuthzFailed)
		if r.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q, want 1", r.header.Get("Retry-After"))
		}
	}
	if n := az.n() - before; n != 2 {
		t.Fatalf("two failing requests asked the authorizer %d times, want 2 (failures are not cached)", n)
	}
	rec.mu.Lock()
	calls := rec.calls
	rec.mu.Unlock()
	if calls != 2 {
		t.Fatalf("backend called %d times, want 2 (the allowed requests only)", calls)
	}
}

// checkFunc is an envoy ext_authz v3 service answering with a function,
// counting its calls.
type checkFunc struct {
	authv3.UnimplementedAuthorizationServer
	mu    sync.Mutex
	calls int
	last  *authv3.CheckRequest
	check func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error)
}

func (c *checkFunc) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	c.mu.Lock()
	c.calls++
	c.last = req
	c.mu.Unlock()
	return c.check(ctx, req)
}

func (c *checkFunc) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func startGRPCAuthorizer(t *testing.T, c *checkFunc) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, c)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// The gRPC authorizer: its decisions are cached, its ok_response headers
// reach the backend and its headers_to_remove are removed, it is told the
// route, upstream and request id; one that never answers is a failure that
// failure_mode decides.
func TestExtAuthzGRPCCacheHeadersAndTimeout(t *testing.T) {
	az := &checkFunc{check: func(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		switch req.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"] {
		case "Bearer good":
			return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.OK)},
				HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
					Headers:         []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-user-id", Value: "bob"}}},
					HeadersToRemove: []string{"grpc-metadata-x-debug"}}}}, nil
		case "Bearer slow":
			<-ctx.Done() // never answers in time
			return nil, ctx.Err()
		}
		return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.PermissionDenied), Message: "risk score too high"}}, nil
	}}
	addr := startGRPCAuthorizer(t, az)
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	backendCalls := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.calls
	}
	// 500ms: the first check also dials the authorizer, which took 68ms on
	// a loaded machine under -race; "Bearer slow" never answers anyway.
	h := startGateway(t, fmt.Sprintf(`
ext_authz: {grpc: {addr: %q}, cache_ttl: 1h, timeout: 500ms}
upstreams:
  - name: library
    static: [%q]
    policies: {ext_authz: true}
`, addr, lib.Addr))

	for range 3 {
		h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer good", "Grpc-Metadata-X-Debug", "1",
			"X-Request-Id", "req-1").expect(t, 200)
		md := rec.lastMD()
		if got := md.Get("x-user-id"); len(got) != 1 || got[0] != "bob" {
			t.Fatalf("backend saw x-user-id %v, want [bob]", got)
		}
		if got := md.Get("x-debug"); len(got) != 0 {
			t.Fatalf("backend saw x-debug %v: headers_to_remove was not applied", got)
		}
	}
	if n := az.n(); n != 1 {
		t.Fatalf("three identical allowed requests asked the authorizer %d times, want 1 (cached)", n)
	}
	az.mu.Lock()
	ext := az.last.GetAttributes().GetContextExtensions()
	id := az.last.GetAttributes().GetRequest().GetHttp().GetId()
	az.mu.Unlock()
	if ext["route"] != "GET /v1/{name=shelves/*}" || ext["upstream"] != "library" || id != "req-1" {
		t.Fatalf("context_extensions %v, request id %q", ext, id)
	}
	for range 2 {
		r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 403)
		jsonEq(t, r.body, `{"code":7,"message":"the request was denied by the authorization service: risk score too high","details":[]}`)
	}
	if n := az.n(); n != 2 {
		t.Fatalf("authorizer asked %d times in all, want 2 (the deny is cached too)", n)
	}

	// Timeout, closed (the default): 503 with Retry-After, backend untouched.
	before := backendCalls()
	r := h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer slow").expect(t, 503)
	jsonEq(t, r.body, extAuthzFailed)
	if r.header.Get("Retry-After") != "1" || backendCalls() != before {
		t.Fatalf("closed failure: Retry-After %q, backend calls %d (want 1 and %d)", r.header.Get("Retry-After"), backendCalls(), before)
	}
	// Timeout, open: admitted, the backend answers.
	h = startGateway(t, fmt.Sprintf(`
ext_authz: {grpc: {addr: %q}, timeout: 50ms, failure_mode: open}
upstreams:
  - name: library
    static: [%q]
    policies: {ext_authz: true}
`, addr, lib.Addr))
	r = h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer slow").expect(t, 200)
	jsonEq(t, r.body, `{"name":"shelves/1","theme":"Fiction","bookCount":"2","createTime":"2024-01-01T00:00:00Z"}`)
	if backendCalls() != before+1 {
		t.Fatalf("open failure: backend called %d times, want 1", backendCalls()-before)
	}
}

// The authorizer is the chain's last stage: a request the rate limit
// refuses never reaches it.
func TestExtAuthzAfterRateLimit(t *testing.T) {
	az := startHTTPAuthorizer(t)
	lib := startLibrary(t)
	h := startGateway(t, fmt.Sprintf(`
ext_authz: {http: {url: %q}}
policies:
  ext_authz: true
  rate_limits: [{name: per-ip, key: ip, rate: 1, per: 1h, burst: 2}]
upstreams: [{name: library, static: [%q]}]
`, az.srv.URL, lib.Addr))
	for range 2 {
		h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer good").expect(t, 200)
	}
	for range 3 {
		r := h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer good").expect(t, 429)
		if field(t, r.body, "code") != float64(8) || !strings.HasPrefix(field(t, r.body, "message").(string), "rate limit per-ip exceeded (1 per 1h0m0s)") {
			t.Fatalf("refused by: %s", r.body)
		}
	}
	if n := az.n(); n != 2 {
		t.Fatalf("the authorizer was asked %d times, want 2 (refused requests never reach it)", n)
	}
}
