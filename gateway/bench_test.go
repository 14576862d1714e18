package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// BenchmarkDirectGRPC is the baseline: the same GetBook call made by a
// generated gRPC client over loopback, with no gateway.
func BenchmarkDirectGRPC(b *testing.B) {
	lib := startLibrary(b)
	conn, err := grpc.NewClient(lib.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := librarypb.NewLibraryServiceClient(conn)
	req := &librarypb.GetBookRequest{Name: "shelves/1/books/1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.GetBook(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGatewayGetBook is GET /v1/shelves/1/books/1 through a real HTTP
// listener and the gateway to the same backend (keep-alive client).
func BenchmarkGatewayGetBook(b *testing.B) {
	lib := startLibrary(b)
	gw := benchGateway(b, lib.Addr)
	srv := httptest.NewServer(gw)
	defer srv.Close()
	client := srv.Client()
	url := srv.URL + "/v1/shelves/1/books/1"
	b.ReportAllocs()
	for b.Loop() {
		benchDo(b, client, "GET", url, "")
	}
}

// benchDo sends one request (a JSON body when body is set) and reads the
// whole answer, which must be a 200.
func benchDo(b *testing.B, client *http.Client, method, url, body string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s: status %d", method, url, resp.StatusCode)
	}
}

// BenchmarkHandlerGetBook measures the gateway's handler alone (no HTTP
// client or server): match, decode, upstream call, encode.
func BenchmarkHandlerGetBook(b *testing.B) {
	lib := startLibrary(b)
	gw := benchGateway(b, lib.Addr)
	benchHandlerGetBook(b, gw)
}

func benchGateway(b *testing.B, addr string) *gateway.Gateway {
	b.Helper()
	return benchGatewayConfig(b, libraryConfig(addr, ""))
}

// benchGatewayConfig is a gateway from yamlCfg with its metrics, ready,
// without listeners.
func benchGatewayConfig(b *testing.B, yamlCfg string, opts ...gateway.Option) *gateway.Gateway {
	b.Helper()
	cfg, err := config.Parse([]byte(yamlCfg))
	if err != nil {
		b.Fatal(err)
	}
	gw := newGateway(b, cfg, discardLogger(), opts...)
	if err := gw.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	return gw
}

// BenchmarkHandlerGetBookAllPolicies is BenchmarkHandlerGetBook with every
// policy of the chain on (access log to io.Discard at info level, trusted
// proxy, IP rules, CORS, size limit, API key, consumer allow list, local
// rate limits by IP and by consumer), for the chain's cost next to a real
// upstream call.
func BenchmarkHandlerGetBookAllPolicies(b *testing.B) {
	lib := startLibrary(b)
	cfg, err := config.Parse([]byte(`
trusted_proxies: [10.0.0.0/8]
cors: {allowed_origins: ["https://app.example.com"]}
consumers:
  - name: app
    keys: [{value: app-key}]
    allow: ["library.v1.LibraryService.Get*"]
    quota: {rate: 1000000000, per: 1s}
policies:
  ip: {allow: [192.0.2.0/24], deny: [192.0.2.99]}
  max_body_bytes: 65536
  auth: [api_key]
  rate_limits:
    - {key: ip, rate: 1000000000, per: 1s}
` + libraryConfig(lib.Addr, "")))
	if err != nil {
		b.Fatal(err)
	}
	gw := newGateway(b, cfg, zerolog.New(io.Discard).Level(zerolog.InfoLevel))
	if err := gw.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/shelves/1/books/1", nil)
	req.RemoteAddr = "10.1.1.1:5000"
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("X-Api-Key", "app-key")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGatewayEcho is POST /echo.v1.EchoService/Echo with a tiny JSON
// body through a real HTTP listener and the gateway (keep-alive client):
// the small-call shape whose request has a body to read.
func BenchmarkGatewayEcho(b *testing.B) {
	echo := startEcho(b, "127.0.0.1:0")
	gw := benchGatewayConfig(b, fmt.Sprintf("upstreams:\n  - name: echo\n    static: [%q]\n", echo.Addr))
	srv := httptest.NewServer(gw)
	defer srv.Close()
	client := srv.Client()
	url := srv.URL + "/echo.v1.EchoService/Echo"
	const body = `{"message":"hello, gateway"}`
	b.ReportAllocs()
	for b.Loop() {
		benchDo(b, client, "POST", url, body)
	}
}

// BenchmarkGRPCThroughGateway is BenchmarkDirectGRPC's call made by the
// same generated client through the gateway's listener (cleartext HTTP/2):
// the native gRPC proxy, frame by frame, on top of the direct call.
func BenchmarkGRPCThroughGateway(b *testing.B) {
	lib := startLibrary(b)
	gw := benchGateway(b, lib.Addr)
	srv := httptest.NewUnstartedServer(gw)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	conn, err := grpc.NewClient(strings.TrimPrefix(srv.URL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := librarypb.NewLibraryServiceClient(conn)
	req := &librarypb.GetBookRequest{Name: "shelves/1/books/1"}
	b.ReportAllocs()
	for b.Loop() {
		book, err := client.GetBook(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if book.GetName() != req.Name {
			b.Fatalf("book %q", book.GetName())
		}
	}
}

// BenchmarkUnaryTransport is GET /v1/shelves/1/books/1 through the
// handler by each unary transport, one call at a time and 32 at once
// (the calls of many clients sharing the upstream's connection).
func BenchmarkUnaryTransport(b *testing.B) {
	lib := startLibrary(b)
	for _, transport := range []string{"lean", "grpc-go"} {
		gw := benchGatewayConfig(b, libraryConfig(lib.Addr, "    unary_transport: "+transport+"\n"))
		b.Run(transport, func(b *testing.B) { benchHandlerGetBook(b, gw) })
		b.Run(transport+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16) // 32 callers on the 2 cores
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/v1/shelves/1/books/1", nil)
				for pb.Next() {
					w := httptest.NewRecorder()
					gw.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
		})
	}
}

// benchHandlerGetBook serves GET /v1/shelves/1/books/1 through gw's
// handler, one call at a time, each a 200.
func benchHandlerGetBook(b *testing.B, gw *gateway.Gateway) {
	req := httptest.NewRequest("GET", "/v1/shelves/1/books/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
