package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/setup"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// newGateway builds a gateway from cfg as the refract command does:
// translated by setup, then built by the engine.
func newGateway(cfg *config.Config, log zerolog.Logger, opts ...gateway.Option) (*gateway.Gateway, error) {
	o, err := setupForServer(cfg, log)
	if err != nil {
		return nil, err
	}
	return gateway.New(o, opts...)
}

// setupForServer is the translator a Server of the tests uses.
func setupForServer(cfg *config.Config, log zerolog.Logger) (gateway.Options, error) {
	return setup.New(cfg, setup.Extra{Logger: log})
}

// harness is a real gateway serving on loopback ports in front of real
// backends.
type harness struct {
	gw    *gateway.Gateway
	base  string       // public listener URL
	admin string       // admin listener URL
	stop  func() error // shuts the gateway down and returns Serve's error; idempotent
}

// serveGateway runs a gateway from yamlCfg on free loopback ports (its
// listen and admin keys are not used) without waiting for descriptors.
func serveGateway(t *testing.T, yamlCfg string, opts ...gateway.Option) *harness {
	t.Helper()
	return serveGatewayLogging(t, yamlCfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), opts...)
}

// serveGatewayLogging is serveGateway with the gateway logging to log.
func serveGatewayLogging(t *testing.T, yamlCfg string, log zerolog.Logger, opts ...gateway.Option) *harness {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlCfg))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := newGateway(cfg, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, pub, adm) }()
	h := &harness{
		gw: gw, base: "http://" + pub.Addr().String(), admin: "http://" + adm.Addr().String(),
		stop: sync.OnceValue(func() error { cancel(); return <-done }),
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
		gw.Close()
	})
	return h
}

// startGateway is serveGateway, then waits until every upstream's routes
// are served.
func startGateway(t *testing.T, yamlCfg string, opts ...gateway.Option) *harness {
	t.Helper()
	h := serveGateway(t, yamlCfg, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.gw.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return h
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

func startEcho(t *testing.T, addr string) *examples.Backend {
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
