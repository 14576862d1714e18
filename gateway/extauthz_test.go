package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// httpAuthorizer is a forward-auth service on loopback: "Bearer good"
// is alice, "Bearer broken" makes it fail, anything else is refused.
type httpAuthorizer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls int
	last  http.Header
}

func startHTTPAuthorizer(t *testing.T) *httpAuthorizer {
	a := &httpAuthorizer{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.calls++
		a.last = r.Header.Clone()
		a.mu.Unlock()
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			w.Header().Set("X-User-Id", "alice")
			w.WriteHeader(http.StatusOK)
		case "Bearer anonymous":
			w.WriteHeader(http.StatusNoContent) // allowed, vouching for no one
		case "Bearer broken":
			http.Error(w, "database down", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="corp"`)
			w.Header().Set("X-Internal", "not for clients")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"log in at https://id.example.com"}`))
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *httpAuthorizer) n() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

func TestExtAuthzHTTPAllowsDeniesAndAddsMetadata(t *testing.T) {
	az := startHTTPAuthorizer(t)
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	h := startGateway(t, fmt.Sprintf(`
ext_authz:
  http: {url: %q, upstream_headers: [X-User-Id]}
  cache_ttl: 1m
policies: {ext_authz: true}
upstreams:
  - name: library
    static: [%q]
    routes:
      - match: "GET /v1/shelves"
        policies: {ext_authz: false}
`, az.srv.URL+"/check", lib.Addr))

	// Denied: the authorizer's status, body and WWW-Authenticate pass
	// through; the backend is not called.
	r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 401)
	if string(r.body) != `{"error":"log in at https://id.example.com"}` || r.header.Get("Www-Authenticate") != `Bearer realm="corp"` ||
		r.header.Get("X-Internal") != "" {
		t.Fatalf("deny: %v %s", r.header, r.body)
	}
	if rec.calls != 0 {
		t.Fatal("a denied request reached the backend")
	}
	// Allowed: the authorizer's X-User-Id reaches the backend, the
	// client's own is dropped.
	h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer good", "X-User-Id", "mallory",
		"Grpc-Metadata-X-User-Id", "mallory").expect(t, 200)
	if got := rec.lastMD().Get("x-user-id"); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("backend saw x-user-id %v, want [alice]", got)
	}
	az.mu.Lock()
	sent := az.last
	az.mu.Unlock()
	if sent.Get("X-Forwarded-Method") != "GET" || sent.Get("X-Forwarded-Uri") != "/v1/shelves/1" ||
		sent.Get("X-Forwarded-For") != "127.0.0.1" || sent.Get("X-Refract-Method") != "library.v1.LibraryService.GetShelf" ||
		sent.Get("X-User-Id") != "" {
		t.Fatalf("the authorizer was sent %v", sent)
	}
	// Allowed without a user: the client's own x-user-id still never passes.
	h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer anonymous", "Grpc-Metadata-X-User-Id", "mallory").expect(t, 200)
	if got := rec.lastMD().Get("x-user-id"); len(got) != 0 {
		t.Fatalf("backend saw x-user-id %v, want none", got)
	}
	// The decision is cached: the same request does not ask again.
	before := az.n()
	h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer good").expect(t, 200)
	if az.n() != before {
		t.Fatal("a cached decision asked the authorizer again")
	}
	// A route with ext_authz: false never asks.
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	if az.n() != before {
		t.Fatal("GET /v1/shelves asked the authorizer")
	}
	// Failure, closed: 503.
	r = h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer broken").expect(t, 503)
	if field(t, r.body, "code") != float64(codes.Unavailable) {
		t.Fatalf("failure: %s", r.body)
	}
}

func TestExtAuthzFailOpenAndTimeout(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(block) })
	lib := startLibrary(t)
	for _, mode := range []struct {
		name string
		want int
	}{{"open", 200}, {"closed", 503}} {
		h := startGateway(t, fmt.Sprintf(`
ext_authz: {http: {url: %q}, timeout: 50ms, failure_mode: %s}
policies: {ext_authz: true}
upstreams: [{name: library, static: [%q]}]
`, slow.URL, mode.name, lib.Addr))
		h.do(t, "GET", "/v1/shelves/1", "").expect(t, mode.want)
	}
}

// grpcAuthorizer implements envoy's ext_authz v3 service.
type grpcAuthorizer struct {
	authv3.UnimplementedAuthorizationServer
	mu   sync.Mutex
	last *authv3.CheckRequest
}

func (a *grpcAuthorizer) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	a.mu.Lock()
	a.last = req
	a.mu.Unlock()
	switch req.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"] {
	case "Bearer good":
		return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-user-id", Value: "bob"}}}}}}, nil
	case "Bearer teapot":
		return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.PermissionDenied)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_PaymentRequired},
				Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "content-type", Value: "application/json"}}},
				Body:    `{"error":"subscription expired"}`}}}, nil
	}
	return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.PermissionDenied), Message: "risk score too high"}}, nil
}

func TestExtAuthzGRPC(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	az := &grpcAuthorizer{}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, az)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	h := startGateway(t, fmt.Sprintf(`
ext_authz: {grpc: {addr: %q}}
upstreams:
  - name: library
    static: [%q]
    policies: {ext_authz: true}
`, lis.Addr().String(), lib.Addr))

	h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer good").expect(t, 200)
	if got := rec.lastMD().Get("x-user-id"); len(got) != 1 || got[0] != "bob" {
		t.Fatalf("backend saw x-user-id %v", got)
	}
	az.mu.Lock()
	last := az.last
	az.mu.Unlock()
	if last.GetAttributes().GetContextExtensions()["grpc_method"] != "library.v1.LibraryService.GetShelf" ||
		last.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress() != "127.0.0.1" ||
		last.GetAttributes().GetRequest().GetHttp().GetPath() != "/v1/shelves/1" {
		t.Fatalf("check request %v", last)
	}
	r := h.do(t, "GET", "/v1/shelves/1", "", "Authorization", "Bearer teapot").expect(t, 402)
	if string(r.body) != `{"error":"subscription expired"}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("denied response %v %s", r.header, r.body)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "").expect(t, 403)
	jsonEq(t, r.body, `{"code":7,"message":"the request was denied by the authorization service: risk score too high","details":[]}`)
	if rec.calls != 1 {
		t.Fatalf("backend called %d times, want 1", rec.calls)
	}
}
