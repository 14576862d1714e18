package gateway_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples/echo/echopb"
	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rpcConfig serves the library (behind an API key, GetBookTitle hidden)
// and echo upstreams, for the RPC protocol tests.
func rpcConfig(lib, echo, extra string) string {
	return fmt.Sprintf(`
api_keys: {header: X-Api-Key}
consumers:
  - name: app
    keys: [{value: k1}]
upstreams:
  - name: library
    static: [%q]
    hide: ["*.GetBookTitle"]
    policies: {auth: [api_key]}
  - name: echo
    static: [%q]
%s`, lib, echo, extra)
}

// dialGateway is a grpc-go client of the gateway's public listener (h2c).
func dialGateway(t *testing.T, h *harness) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(strings.TrimPrefix(h.base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestNativeGRPCThroughPolicies(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, rpcConfig(lib.Addr, echo.Addr, ""))
	cc := dialGateway(t, h)
	library := librarypb.NewLibraryServiceClient(cc)
	ctx := t.Context()
	keyed := metadata.AppendToOutgoingContext(ctx, "x-api-key", "k1")

	// The route's auth applies: the gateway's 401 is a gRPC UNAUTHENTICATED.
	_, err := library.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/1"})
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.Contains(st.Message(), "missing credentials") {
		t.Fatalf("without a key: %v", err)
	}
	var header, trailer metadata.MD
	shelf, err := library.GetShelf(keyed, &librarypb.GetShelfRequest{Name: "shelves/1"}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil || shelf.GetName() != "shelves/1" || shelf.GetTheme() != "Fiction" {
		t.Fatalf("GetShelf: %v %v", shelf, err)
	}
	// The backend's error passes with its code, message and details.
	_, err = library.GetShelf(keyed, &librarypb.GetShelfRequest{Name: "shelves/999"})
	st := status.Convert(err)
	if st.Code() != codes.NotFound || len(st.Details()) == 0 {
		t.Fatalf("missing shelf: %v %v", err, st.Details())
	}
	if _, ok := st.Details()[0].(*errdetails.ResourceInfo); !ok {
		t.Fatalf("details: %v", st.Details())
	}
	// A hidden method is not reachable over gRPC either.
	_, err = library.GetBookTitle(keyed, &librarypb.GetBookTitleRequest{Name: "shelves/1/books/1"})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "method /library.v1.LibraryService/GetBookTitle is not published here" {
		t.Fatalf("hidden method: %v", err)
	}
	// Compressed both ways: the client's gzip passes through to the
	// upstream and back.
	shelf, err = library.GetShelf(keyed, &librarypb.GetShelfRequest{Name: "shelves/2"}, grpc.UseCompressor(gzip.Name))
	if err != nil || shelf.GetName() != "shelves/2" {
		t.Fatalf("gzip: %v %v", shelf, err)
	}

	e := echopb.NewEchoServiceClient(cc)
	t.Run("server streaming", func(t *testing.T) {
		s, err := e.Expand(ctx, &echopb.ExpandRequest{Text: "hi", Count: 3})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			m, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s/%d", m.GetMessage(), m.GetIndex()))
		}
		if strings.Join(got, " ") != "hi/0 hi/1 hi/2" {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("server streaming error with details", func(t *testing.T) {
		s, err := e.Expand(ctx, &echopb.ExpandRequest{Count: 3})
		if err == nil {
			_, err = s.Recv()
		}
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 {
			t.Fatalf("got %v %v", err, st.Details())
		}
	})
	t.Run("client streaming", func(t *testing.T) {
		s, err := e.Collect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"a", "b", "c"} {
			if err := s.Send(&echopb.EchoRequest{Message: w}); err != nil {
				t.Fatal(err)
			}
		}
		m, err := s.CloseAndRecv()
		if err != nil || m.GetMessage() != "a b c" || m.GetIndex() != 3 {
			t.Fatalf("got %v %v", m, err)
		}
	})
	t.Run("bidi", func(t *testing.T) {
		s, err := e.Chat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range []string{"x", "y"} {
			if err := s.Send(&echopb.EchoRequest{Message: w}); err != nil {
				t.Fatal(err)
			}
			m, err := s.Recv() // one answer per message, before the next is sent
			if err != nil || m.GetMessage() != w || m.GetIndex() != int32(i) {
				t.Fatalf("got %v %v", m, err)
			}
		}
		_ = s.CloseSend()
		if _, err := s.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("end: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		s, err := e.Expand(dctx, &echopb.ExpandRequest{Text: "slow", Count: 5, IntervalMs: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("first message: %v", err)
		}
		if _, err := s.Recv(); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("after the deadline: %v", err)
		}
	})
	t.Run("client cancellation", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		s, err := e.Expand(cctx, &echopb.ExpandRequest{Text: "slow", Count: 5, IntervalMs: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := s.Recv(); status.Code(err) != codes.Canceled {
			t.Fatalf("after cancel: %v", err)
		}
	})
}

// TestNativeGRPCMetadataAndLimits: the upstream's header and trailer
// metadata (text and binary) reach a gRPC client; a request message over
// max_body_bytes is RESOURCE_EXHAUSTED naming the limit.
func TestNativeGRPCMetadataAndLimits(t *testing.T) {
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-shard", "7", "x-raw-bin", "\x00\x01"))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-cost", "3"))
		return h(ctx, req)
	}))
	h := startGateway(t, libraryConfig(lib.Addr, "")+"max_body_bytes: 1024\n")
	library := librarypb.NewLibraryServiceClient(dialGateway(t, h))
	var header, trailer metadata.MD
	if _, err := library.GetShelf(t.Context(), &librarypb.GetShelfRequest{Name: "shelves/1"}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if header.Get("x-shard")[0] != "7" || header.Get("x-raw-bin")[0] != "\x00\x01" || trailer.Get("x-cost")[0] != "3" {
		t.Fatalf("header %v trailer %v", header, trailer)
	}
	_, err := library.GetShelf(t.Context(), &librarypb.GetShelfRequest{Name: strings.Repeat("x", 2000)})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "limit of 1024 bytes") {
		t.Fatalf("large message: %v", err)
	}
}

// TestNativeGRPCOverTLS: a gRPC client reaches refract's TLS listener
// (HTTP/2 by ALPN) and streams through it.
func TestNativeGRPCOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, echoConfig(echo.Addr, "")+fmt.Sprintf("tls: {cert: %s, key: %s}\n", pki.serverCert, pki.serverKey))
	creds := credentials.NewTLS(&tls.Config{RootCAs: pki.pool, ServerName: "library.internal"})
	cc, err := grpc.NewClient(strings.TrimPrefix(h.base, "http://"), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	s, err := echopb.NewEchoServiceClient(cc).Expand(t.Context(), &echopb.ExpandRequest{Text: "tls", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || m.GetMessage() != "tls" {
			t.Fatalf("message %d: %v %v", n, m, err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

// TestNativeGRPCAccessLogEndpoint: a native gRPC call's access line names
// the backend endpoint that answered (kept as grpc-go reports it, written
// by the log), the method and the code.
func TestNativeGRPCAccessLogEndpoint(t *testing.T) {
	lib := startLibrary(t)
	h, logs := serveGatewayLog(t, libraryConfig(lib.Addr, ""))
	library := librarypb.NewLibraryServiceClient(dialGateway(t, h))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "req-grpc-1")
	if _, err := library.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/1"}); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	eventually(t, 10*time.Second, "the call's access line", func() bool {
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["component"] == "access" && m["request_id"] == "req-grpc-1" {
				line = m
				return true
			}
		}
		return false
	})
	if line["endpoint"] != lib.Addr || line["grpc_method"] != "library.v1.LibraryService.GetShelf" || line["grpc_code"] != 0.0 ||
		line["route"] != "gRPC /library.v1.LibraryService/GetShelf" {
		t.Fatalf("access line %v: want endpoint %s, GetShelf, route gRPC /library.v1.LibraryService/GetShelf, code 0", line, lib.Addr)
	}
	// Counted under the gRPC path, not under the method's HTTP route.
	resp, err := http.Get(h.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var grpcCalls, httpCalls bool
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, "refract_http_requests_total{") {
			continue
		}
		grpcCalls = grpcCalls || strings.Contains(l, `route="/library.v1.LibraryService/GetShelf"`) && strings.Contains(l, `method="POST"`) && strings.HasSuffix(l, " 1")
		httpCalls = httpCalls || strings.Contains(l, `route="/v1/{name=shelves/*}"`)
	}
	if !grpcCalls || httpCalls {
		t.Fatalf("want one request under POST /library.v1.LibraryService/GetShelf and none under the HTTP route:\n%s", body)
	}
}
