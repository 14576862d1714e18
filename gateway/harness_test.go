package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/gateway/setup"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/rs/zerolog"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// harness is a real gateway served by a real server on loopback ports in
// front of real backends.
type harness struct {
	srv   *server.Server
	gw    *gateway.Gateway // the server's, for its read model
	base  string           // public listener URL
	admin string           // admin listener URL
	stop  func() error     // drains (no drain period), shuts down and closes; returns Run's error; idempotent
}

// serverOption adjusts the server a harness runs.
type serverOption func(*server.Options)

// withSpans sends the gateway's spans to exp, and turns tracing on.
func withSpans(exp sdktrace.SpanExporter) serverOption {
	return func(o *server.Options) { o.SpanExporter = exp }
}

// serveGateway runs a gateway from yamlCfg on free loopback ports (its
// listen and admin keys are not used) without waiting for descriptors.
func serveGateway(t *testing.T, yamlCfg string, opts ...serverOption) *harness {
	t.Helper()
	return serveGatewayLogging(t, yamlCfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), opts...)
}

// serveGatewayLogging is serveGateway with the gateway logging to log.
func serveGatewayLogging(t *testing.T, yamlCfg string, log zerolog.Logger, opts ...serverOption) *harness {
	t.Helper()
	so := server.Options{
		Source: &configsource.Static{Name: "test", Bytes: []byte(yamlCfg)},
		Logger: &log,
		Override: func(c *config.Config) {
			c.Listen, c.Admin = "127.0.0.1:0", "127.0.0.1:0"
			c.DrainPeriod = config.Ptr(config.Duration(0))
		},
	}
	for _, o := range opts {
		o(&so)
	}
	srv, err := server.New(t.Context(), so)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	for srv.Addr("public") == "" || srv.Addr("admin") == "" {
		select {
		case err := <-done:
			cancel()
			srv.Close()
			t.Fatalf("Run: %v", err)
		case <-wctx.Done():
			t.Fatal("the listeners did not open")
		case <-time.After(5 * time.Millisecond):
		}
	}
	h := &harness{
		srv: srv, gw: srv.Gateway(), base: "http://" + srv.Addr("public"), admin: "http://" + srv.Addr("admin"),
		stop: sync.OnceValue(func() error {
			cancel()
			err := <-done
			if cerr := srv.Close(); cerr != nil && err == nil {
				err = cerr
			}
			return err
		}),
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// startGateway is serveGateway, then waits until every upstream's routes
// are served.
func startGateway(t *testing.T, yamlCfg string, opts ...serverOption) *harness {
	t.Helper()
	h := serveGateway(t, yamlCfg, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.gw.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// newGateway is a Gateway built from cfg outside any server (translated
// by setup, as a server does), with the
// Prometheus metrics a server gives it (so that benchmarks of the handler
// count what production pays), closed when tb ends.
func newGateway(tb testing.TB, cfg *config.Config, log zerolog.Logger, opts ...gateway.Option) *gateway.Gateway {
	tb.Helper()
	m, err := telemetry.NewMetrics(telemetry.MetricsOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	o, err := setup.New(cfg, setup.Extra{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	gw, err := gateway.New(o, append([]gateway.Option{gateway.WithObserver(m)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { gw.Close() })
	if err := m.Watch(gw); err != nil {
		tb.Fatal(err)
	}
	return gw
}

// recorder is a backend interceptor that remembers incoming metadata,
// answers with header and trailer metadata, and on request sleeps until the
// call's context ends (recording why), for deadline and cancellation tests.
type recorder struct {
	mu     sync.Mutex
	md     metadata.MD
	ctxErr chan error
	calls  int
}

func newRecorder() *recorder { return &recorder{ctxErr: make(chan error, 8)} }

func (r *recorder) interceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.md, r.calls = md.Copy(), r.calls+1
	r.mu.Unlock()
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", "library-1"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-cost", "3"))
	if len(md.Get("x-test-block")) > 0 {
		<-ctx.Done()
		r.ctxErr <- ctx.Err()
		return nil, ctx.Err()
	}
	return handler(ctx, req)
}

func (r *recorder) lastMD() metadata.MD {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.md
}

func startLibrary(t testing.TB, opts ...grpc.ServerOption) *examples.Backend {
	t.Helper()
	b, err := examples.StartLibrary("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

func startEcho(t testing.TB, addr string) *examples.Backend {
	t.Helper()
	b, err := examples.StartEcho(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request and reads the whole answer.
func (h *harness) do(t *testing.T, method, path, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := h.open(t, method, path, rd, hdr...)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// jsonEq compares JSON documents as values.
func jsonEq(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("body\n got %s\nwant %s", gb, wb)
	}
}

// field extracts one top-level field of a JSON object body.
func field(t *testing.T, body []byte, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %s", body)
	}
	return m[name]
}

// expectNoRoute sends a request and checks the router refused it (404,
// code 5, "no route for METHOD PATH"), not a backend's NOT_FOUND.
func (h *harness) expectNoRoute(t *testing.T, method, path, body string, hdr ...string) {
	t.Helper()
	r := h.do(t, method, path, body, hdr...).expect(t, 404)
	jsonEq(t, r.body, fmt.Sprintf(`{"code":5,"message":"no route for %s %s","details":[]}`, method, path))
}

func (r response) expect(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func discardLogger() zerolog.Logger { return zerolog.Nop() }
