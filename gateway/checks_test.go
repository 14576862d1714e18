package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/refract-gateway/refract/internal/testkit"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// grpcCheck is an envoy Authorization service on loopback answering with
// decide; conns counts the connections it accepted, calls its checks.
type grpcCheck struct {
	authv3.UnimplementedAuthorizationServer
	addr   string
	conns  atomic.Int32
	calls  atomic.Int32
	decide func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error)
}

func (gc *grpcCheck) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	gc.calls.Add(1)
	return gc.decide(ctx, req)
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func startGRPCCheck(t *testing.T, decide func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error)) *grpcCheck {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gc := &grpcCheck{addr: lis.Addr().String(), decide: decide}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, gc)
	go func() { _ = srv.Serve(countingListener{lis, &gc.conns}) }()
	t.Cleanup(srv.Stop)
	return gc
}

// allowWith is an OK answer carrying headers (key, value pairs).
func allowWith(kv ...string) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{}
	for i := 0; i+1 < len(kv); i += 2 {
		ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: kv[i], Value: kv[i+1]}})
	}
	return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.OK)}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok}}
}

// waitFor fails the test if ch is not closed soon: a guard against a
// hang, never a measure of speed.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("gave up waiting: %s", what)
	}
}

// Two checks, one HTTP and one gRPC, each holding its answer until the
// other has received its request: only a gateway that asks them at once
// gets an answer (asked one after the other, the first waits for a
// request that never comes, times out, and the request gets 504). Their
// headers reach the backend merged in declared order.
func TestChecksRunInParallel(t *testing.T) {
	httpIn, grpcIn := make(chan struct{}), make(chan struct{})
	var httpOnce, grpcOnce sync.Once
	var riskCalls atomic.Int32
	risk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		riskCalls.Add(1)
		httpOnce.Do(func() { close(httpIn) })
		select {
		case <-grpcIn:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("X-Risk-Score", "12")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(risk.Close)
	device := startGRPCCheck(t, func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		grpcOnce.Do(func() { close(grpcIn) })
		select {
		case <-httpIn:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return allowWith("x-device", "trusted", "x-risk-score", "99"), nil
	})
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	h := startGateway(t, fmt.Sprintf(`
checks:
  - {name: risk, http: {url: %q, upstream_headers: [X-Risk-Score]}, timeout: 10s}
  - {name: device, grpc: {addr: %q, upstream_headers: [X-Device]}, timeout: 10s}
policies: {checks: [risk, device]}
upstreams:
  - name: library
    static: [%q]
    routes:
      - {method: library.v1.LibraryService.ListShelves, policies: {checks: []}}
`, risk.URL, device.addr, lib.Addr))

	h.do(t, "GET", "/v1/shelves/1", "", "X-Risk-Score", "0", "Grpc-Metadata-X-Device", "forged").expect(t, 200)
	md := rec.lastMD()
	// risk is declared first: its x-risk-score stands, device's is dropped.
	if got := md.Get("x-risk-score"); len(got) != 1 || got[0] != "12" {
		t.Errorf("backend saw x-risk-score %v, want [12]", got)
	}
	if got := md.Get("x-device"); len(got) != 1 || got[0] != "trusted" {
		t.Errorf("backend saw x-device %v, want [trusted]", got)
	}
	// A route whose checks list is empty asks none; a client's vouched-for
	// headers are still dropped there.
	before := riskCalls.Load()
	h.do(t, "GET", "/v1/shelves", "", "X-Device", "forged").expect(t, 200)
	if riskCalls.Load() != before || device.calls.Load() != 1 {
		t.Errorf("GET /v1/shelves asked the checks (risk %d → %d, device %d)", before, riskCalls.Load(), device.calls.Load())
	}
	if got := rec.lastMD().Get("x-device"); len(got) != 0 {
		t.Errorf("a client's x-device reached the backend: %v", got)
	}
}

// The first denial answers, 403 naming the check and nothing of what it
// said; the check still running is cancelled; a request refused by a
// local stage (authentication) never reaches the checks.
func TestChecksAnyDenyWinsAndCancelsTheRest(t *testing.T) {
	deviceIn, deviceCancelled := make(chan struct{}), make(chan struct{})
	var riskCalls atomic.Int32
	risk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		riskCalls.Add(1)
		// Deny only once device has the request too, so that there is a
		// call in flight to cancel.
		select {
		case <-deviceIn:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Model", "v3")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("score 97 from model v3"))
	}))
	t.Cleanup(risk.Close)
	var once sync.Once
	device := startGRPCCheck(t, func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		once.Do(func() { close(deviceIn) })
		<-ctx.Done()
		close(deviceCancelled)
		return nil, ctx.Err()
	})
	rec := newRecorder()
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(rec.interceptor))
	h := startGateway(t, fmt.Sprintf(`
consumers: [{name: app, keys: [{value: app-key}]}]
checks:
  - {name: device, grpc: {addr: %q}, timeout: 1m}
  - {name: risk, http: {url: %q}, timeout: 1m}
policies: {auth: [api_key], checks: [device, risk]}
upstreams: [{name: library, static: [%q]}]
`, device.addr, risk.URL, lib.Addr))
	before := scrapeMetrics(t, h)

	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 401)
	if riskCalls.Load() != 0 || device.calls.Load() != 0 {
		t.Fatal("a request refused by authentication reached the checks")
	}
	r := h.do(t, "GET", "/v1/shelves/1", "", "X-Api-Key", "app-key").expect(t, 403)
	jsonEq(t, r.body, `{"code":7,"message":"the request was denied by the risk check","details":[`+
		`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"CHECK_DENIED","domain":"refract","metadata":{"check":"risk"}}]}`)
	if r.header.Get("X-Model") != "" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("the check's answer leaked: %v", r.header)
	}
	waitFor(t, deviceCancelled, "the device check to be cancelled")
	if rec.calls != 0 {
		t.Error("a denied request reached the backend")
	}
	expectDeltas(t, h, before, []expectation{
		{"refract_check_decisions_total", []string{"check=risk", "outcome=denied"}, 1},
		{"refract_check_decisions_total", []string{"check=device", "outcome=cancelled"}, 1},
		{"refract_check_decisions_total", []string{"check=device", "outcome=allowed"}, 0},
		{"refract_check_duration_seconds", []string{"check=risk"}, 1},
		{"refract_policy_rejections_total", []string{"policy=checks"}, 1},
	})
}

// A check that cannot be reached or does not answer in time refuses the
// request when it fails closed (503, 504 on its timeout, naming it) and
// is counted and ignored when it fails open.
func TestChecksFailOpenClosedAndTimeout(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	slowGRPC := startGRPCCheck(t, func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ok := startGRPCCheck(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return allowWith(), nil
	})
	down := testkit.FreeAddr(t) // nothing listens there
	lib := startLibrary(t)
	h := startGateway(t, fmt.Sprintf(`
checks:
  - {name: ok, grpc: {addr: %[1]q}}
  - {name: down-open, http: {url: "http://%[2]s/check"}, failure_mode: open}
  - {name: down-closed, grpc: {addr: %[2]q}}
  - {name: slow, http: {url: %[3]q}, timeout: 50ms}
  - {name: slow-open, http: {url: %[3]q}, timeout: 50ms, failure_mode: open}
  - {name: slow-grpc, grpc: {addr: %[4]q}, timeout: 50ms}
upstreams:
  - name: library
    static: [%[5]q]
    routes:
      - {method: library.v1.LibraryService.ListShelves, policies: {checks: [ok, down-open, slow-open]}}
      - {method: library.v1.LibraryService.GetShelf, policies: {checks: [down-closed]}}
      - {method: library.v1.LibraryService.GetBook, policies: {checks: [slow]}}
      - {method: library.v1.LibraryService.ListBooks, policies: {checks: [slow-grpc]}}
`, ok.addr, down, slow.URL, slowGRPC.addr, lib.Addr))
	before := scrapeMetrics(t, h)

	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	jsonEq(t, r.body, `{"code":14,"message":"the down-closed check could not decide on this request; retry later","details":[`+
		`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"CHECK_UNAVAILABLE","domain":"refract","metadata":{"check":"down-closed"}}]}`)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("503 without Retry-After: %v", r.header)
	}
	r = h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 504)
	jsonEq(t, r.body, `{"code":4,"message":"the slow check did not answer in time; retry later","details":[`+
		`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"CHECK_TIMEOUT","domain":"refract","metadata":{"check":"slow"}}]}`)
	r = h.do(t, "GET", "/v1/shelves/1/books", "").expect(t, 504)
	if field(t, r.body, "message") != "the slow-grpc check did not answer in time; retry later" {
		t.Errorf("gRPC check timeout: %s", r.body)
	}
	expectDeltas(t, h, before, []expectation{
		{"refract_check_decisions_total", []string{"check=down-open", "outcome=failed_open"}, 1},
		{"refract_check_decisions_total", []string{"check=slow-open", "outcome=failed_open"}, 1},
		{"refract_check_decisions_total", []string{"check=down-closed", "outcome=failed_closed"}, 1},
		{"refract_check_decisions_total", []string{"check=slow", "outcome=failed_closed"}, 1},
		{"refract_check_decisions_total", []string{"check=slow-grpc", "outcome=failed_closed"}, 1},
		{"refract_check_decisions_total", []string{"check=ok", "outcome=allowed"}, 1},
		{"refract_policy_rejections_total", []string{"policy=checks"}, 3},
	})
}

// A reload keeps each check whose settings did not change: its gRPC
// connection and its decision cache carry over; a check whose settings
// changed starts afresh.
func TestChecksReloadKeepsClients(t *testing.T) {
	device := startGRPCCheck(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return allowWith(), nil
	})
	lib := startLibrary(t)
	config := func(maxBody, timeout string) string {
		return fmt.Sprintf(`
listen: 127.0.0.1:0
admin: "off"
drain_period: 0s
max_body_bytes: %s
checks: [{name: device, grpc: {addr: %q}, cache_ttl: 1h, send_headers: [Authorization], timeout: %s}]
policies: {checks: [device]}
`, maxBody, device.addr, timeout) + libraryConfig(lib.Addr, "")
	}
	src := &memConfig{}
	src.set(config("1048576", "1s"))
	s, _ := runServer(t, src)
	base := "http://" + s.Addr("public")
	get := func(token string) {
		t.Helper()
		if c, _, body := fetch("GET", base+"/v1/shelves/1", "", "Authorization", "Bearer "+token); c != 200 {
			t.Fatalf("%s: %d %s", token, c, body)
		}
	}
	eventually(t, 10*time.Second, "routes", func() bool { c, _, _ := fetch("GET", base+"/v1/shelves/1", ""); return c == 200 })
	get("a")
	calls := device.calls.Load()
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	src.set(config("2097152", "1s")) // another gateway, the same check
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	get("a") // cached before the reloads
	if device.calls.Load() != calls {
		t.Fatal("a reload dropped the check's decision cache")
	}
	get("b")
	if device.calls.Load() != calls+1 || device.conns.Load() != 1 {
		t.Fatalf("after the reloads: %d calls (want %d), %d connections (want 1)", device.calls.Load(), calls+1, device.conns.Load())
	}
	src.set(config("2097152", "2s")) // new settings: a new client
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	get("a")
	if device.calls.Load() != calls+2 || device.conns.Load() != 2 {
		t.Fatalf("after the settings changed: %d calls (want %d), %d connections (want 2)", device.calls.Load(), calls+2, device.conns.Load())
	}
}
