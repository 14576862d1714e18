package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/refract-gateway/refract/bench"
	"github.com/refract-gateway/refract/bench/benchpb"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// TestCompatAgainstGRPCGateway runs a real grpc-gateway (the runtime and
// the handlers generated from bench.proto, set up as its documentation
// does) and refract with compat: grpc-gateway side by side over one
// backend, sends both the same requests, and compares what the compat
// switch owns: status, Content-Type, WWW-Authenticate, metadata headers,
// trailers and the body. Bodies are compared after json.Compact of each
// line, because protojson spaces its output at random per build, so that
// nobody depends on its bytes; key order and values are compared as sent.
func TestCompatAgainstGRPCGateway(t *testing.T) {
	backend := startCompatBackend(t)
	gw := startGRPCGateway(t, backend)
	rf := startRefract(t, backend)

	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"a method the path does not serve", "PUT", "/v1/echo", `{}`, nil},
		{"a unary call with trailers", "POST", "/v1/echo", `{"id":"x","seq":"7","labels":{"a":"b"}}`, []string{"TE", "trailers"}},
		{"a unary call without TE", "POST", "/v1/echo", `{"id":"x"}`, nil},
		{"UNAUTHENTICATED", "POST", "/v1/echo", `{"id":"deny"}`, []string{"TE", "trailers"}},
		{"an error with details", "POST", "/v1/echo", `{"id":"missing"}`, nil},
		{"a stream", "GET", "/v1/feed/2", "", nil},
		{"a stream failing before its first message", "GET", "/v1/feed/-1", "", nil},
		{"a stream failing after its first message", "GET", "/v1/feed/-2", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := exchange(t, gw, tc.method, tc.path, tc.body, tc.hdr)
			got := exchange(t, rf, tc.method, tc.path, tc.body, tc.hdr)
			if got != want {
				t.Fatalf("refract:\n%s\ngrpc-gateway:\n%s", got, want)
			}
		})
	}
}

// exchange sends one request and describes the answer by what the compat
// switch owns, one item a line.
func exchange(t *testing.T, base, method, path, body string, hdr []string) string {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "status %d\nContent-Type %q\nWWW-Authenticate %q\nAllow %q\nchunked %v\n", resp.StatusCode,
		resp.Header.Get("Content-Type"), resp.Header.Values("Www-Authenticate"), resp.Header.Values("Allow"), resp.ContentLength < 0)
	for _, k := range []string{"Grpc-Metadata-X-Served-By", "Grpc-Trailer-X-Cost"} {
		fmt.Fprintf(&b, "header %s %q\n", k, resp.Header.Values(k))
	}
	fmt.Fprintf(&b, "trailers %v\n", resp.Trailer)
	for line := range strings.SplitSeq(strings.TrimSuffix(string(raw), "\n"), "\n") {
		var c bytes.Buffer
		if err := json.Compact(&c, []byte(line)); err != nil {
			fmt.Fprintf(&b, "body (not JSON) %q\n", line)
			continue
		}
		fmt.Fprintf(&b, "body %s\n", c.Bytes())
	}
	fmt.Fprintf(&b, "ends with a newline %v\n", strings.HasSuffix(string(raw), "\n"))
	return b.String()
}

// compatService answers Echo with header and trailing metadata, failing
// for the ids "deny" (UNAUTHENTICATED) and "missing" (NOT_FOUND with a
// ResourceInfo); Feed fails for count -1 at once and for -2 after one
// message.
type compatService struct {
	benchpb.UnimplementedBenchServiceServer
}

func (compatService) Echo(ctx context.Context, p *benchpb.Payload) (*benchpb.Payload, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", "bench-1"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-cost", "3"))
	switch p.GetId() {
	case "deny":
		return nil, status.Error(codes.Unauthenticated, "token expired")
	case "missing":
		st, _ := status.New(codes.NotFound, "payload missing not found").WithDetails(&errdetails.ResourceInfo{ResourceType: "bench.v1.Payload", ResourceName: "missing"})
		return nil, st.Err()
	}
	return p, nil
}

func (compatService) Feed(r *benchpb.FeedRequest, s grpc.ServerStreamingServer[benchpb.Item]) error {
	switch r.GetCount() {
	case -1:
		st, _ := status.New(codes.InvalidArgument, "count -1 out of range").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "count", Description: "must not be negative"}}})
		return st.Err()
	case -2:
		if err := s.Send(bench.FeedItem(0)); err != nil {
			return err
		}
		return status.Error(codes.Aborted, "feed broke")
	}
	for i := range r.GetCount() {
		if err := s.Send(bench.FeedItem(i)); err != nil {
			return err
		}
	}
	return nil
}

func startCompatBackend(t *testing.T) string {
	t.Helper()
	srv := grpc.NewServer()
	benchpb.RegisterBenchServiceServer(srv, compatService{})
	reflection.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func startGRPCGateway(t *testing.T, backend string) string {
	t.Helper()
	mux := runtime.NewServeMux()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := benchpb.RegisterBenchServiceHandlerFromEndpoint(t.Context(), mux, backend, opts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func startRefract(t *testing.T, backend string) string {
	t.Helper()
	log := zerolog.Nop()
	srv, err := server.New(t.Context(), server.Options{
		Source: &configsource.Static{Name: "compat", Bytes: []byte(fmt.Sprintf("upstreams:\n  - name: bench\n    static: [%q]\n    compat: grpc-gateway\n", backend))},
		Logger: &log,
		Override: func(c *config.Config) {
			c.Listen, c.Admin = "127.0.0.1:0", "127.0.0.1:0"
			c.DrainPeriod = config.Ptr(config.Duration(0))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	if err := srv.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return "http://" + srv.Addr("public")
}
