package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

// spanAttrs renders a span's attributes whose keys are in keys.
func spanAttrs(s tracetest.SpanStub, keys ...string) string {
	var out []string
	for _, kv := range s.Attributes {
		if slices.Contains(keys, string(kv.Key)) {
			out = append(out, string(kv.Key)+"="+kv.Value.Emit())
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// spanSink is an in-memory exporter that tells waiters when spans arrive:
// a server span ends after the response may already be with the client.
type spanSink struct {
	*tracetest.InMemoryExporter
	arrived chan struct{}
}

func newSpanSink() *spanSink {
	return &spanSink{InMemoryExporter: tracetest.NewInMemoryExporter(), arrived: make(chan struct{}, 1024)}
}

func (s *spanSink) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := s.InMemoryExporter.ExportSpans(ctx, spans)
	s.arrived <- struct{}{}
	return err
}

// wait returns the spans once there are n of them.
func (s *spanSink) wait(t *testing.T, n int) tracetest.SpanStubs {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		if spans := s.GetSpans(); len(spans) >= n {
			return spans
		}
		select {
		case <-s.arrived:
		case <-timeout:
			t.Fatalf("timed out waiting for %d spans; have %v", n, s.GetSpans())
		}
	}
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	t.Fatalf("no span %q among %q", name, names)
	return tracetest.SpanStub{}
}

func TestTracingSpansAndPropagation(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	echo := startEcho(t, "127.0.0.1:0")
	exp := newSpanSink()
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
  - name: echo
    static: [%q]
`, lib.Addr, echo.Addr), withSpans(exp))
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans before any request (reflection must not be traced)", n)
	}

	t.Run("a unary call continues the client's trace", func(t *testing.T) {
		exp.Reset()
		drain(exp.arrived)
		h.do(t, "GET", "/v1/shelves/1/books/1", "", "Traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01").expect(t, 200)
		spans := exp.wait(t, 2)
		if len(spans) != 2 {
			t.Fatalf("%d spans, want the server and the client span: %v", len(spans), spans)
		}
		server := spanNamed(t, spans, "GET /v1/{name=shelves/*/books/*}")
		client := spanNamed(t, spans, "library.v1.LibraryService/GetBook")
		if server.SpanKind != trace.SpanKindServer || client.SpanKind != trace.SpanKindClient {
			t.Errorf("kinds %v %v", server.SpanKind, client.SpanKind)
		}
		if server.SpanContext.TraceID().String() != clientTraceID || client.SpanContext.TraceID().String() != clientTraceID {
			t.Errorf("trace ids %s %s, want %s", server.SpanContext.TraceID(), client.SpanContext.TraceID(), clientTraceID)
		}
		if server.Parent.SpanID().String() != clientSpanID || !server.Parent.IsRemote() {
			t.Errorf("server span's parent %s, want the client's %s", server.Parent.SpanID(), clientSpanID)
		}
		if client.Parent.SpanID() != server.SpanContext.SpanID() {
			t.Errorf("client span's parent %s, want the server span %s", client.Parent.SpanID(), server.SpanContext.SpanID())
		}
		if got := spanAttrs(server, "http.route", "http.request.method", "http.response.status_code", "refract.upstream", "rpc.method"); got !=
			"http.request.method=GET http.response.status_code=200 http.route=/v1/{name=shelves/*/books/*} refract.upstream=library rpc.method=library.v1.LibraryService.GetBook" {
			t.Errorf("server attributes: %s", got)
		}
		if got := spanAttrs(client, "rpc.system.name", "rpc.method", "rpc.response.status_code"); got !=
			"rpc.method=library.v1.LibraryService/GetBook rpc.response.status_code=OK rpc.system.name=grpc" {
			t.Errorf("client attributes: %s", got)
		}
		// The backend sees the gateway's client span as the parent, in the
		// client's trace.
		want := "00-" + clientTraceID + "-" + client.SpanContext.SpanID().String() + "-01"
		if got := rec.lastMD().Get("traceparent"); !slices.Equal(got, []string{want}) {
			t.Errorf("backend traceparent %q, want %q", got, want)
		}
	})

	t.Run("unmatched paths do not name spans", func(t *testing.T) {
		exp.Reset()
		drain(exp.arrived)
		h.do(t, "GET", "/no/such/path/42", "").expect(t, 404)
		h.do(t, "GET", "/openapi.json", "").expect(t, 200)
		spans := exp.wait(t, 2)
		if len(spans) != 2 {
			t.Fatalf("%d spans", len(spans))
		}
		if got := spanAttrs(spanNamed(t, spans, "GET"), "http.response.status_code", "http.route"); got != "http.response.status_code=404" {
			t.Errorf("404 span: %s", got)
		}
		spanNamed(t, spans, "GET /openapi.json")
	})

	t.Run("a server stream", func(t *testing.T) {
		exp.Reset()
		drain(exp.arrived)
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"tick","count":2}`, "Accept", "application/x-ndjson").expect(t, 200)
		if got := unspace(string(r.body)); got != "{\"result\":{\"message\":\"tick\",\"index\":0}}\n{\"result\":{\"message\":\"tick\",\"index\":1}}\n" {
			t.Errorf("stream body %q", got)
		}
		spans := exp.wait(t, 2)
		server := spanNamed(t, spans, "POST /echo.v1.EchoService/Expand")
		client := spanNamed(t, spans, "echo.v1.EchoService/Expand")
		if client.Parent.SpanID() != server.SpanContext.SpanID() {
			t.Errorf("the stream's client span is not under the server span")
		}
	})
}

// TestTracingWebSocket: the traced handler's response writer still
// hijacks, so WebSocket streams work with tracing on, and get their spans.
func TestTracingWebSocket(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	exp := newSpanSink()
	h := startGateway(t, echoConfig(echo.Addr, "keepalive: 1s"), withSpans(exp))
	c, resp, err := websocket.Dial(withTimeout(t, 10*time.Second), "ws"+strings.TrimPrefix(h.base, "http")+"/echo.v1.EchoService/Chat", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer c.CloseNow()
	if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"message":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(withTimeout(t, 10*time.Second))
	if err != nil || unspace(string(b)) != `{"result":{"message":"hi","index":0}}` {
		t.Fatalf("read %s, %v", b, err)
	}
	if err := c.Write(t.Context(), websocket.MessageText, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(t.Context()); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("close: %v", err)
	}
	spans := exp.wait(t, 2)
	server := spanNamed(t, spans, "POST /echo.v1.EchoService/Chat")
	if client := spanNamed(t, spans, "echo.v1.EchoService/Chat"); client.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("the WebSocket call's client span is not under its server span")
	}
}

func TestTracingSampleRatio(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	exp := newSpanSink()
	h := startGateway(t, libraryConfig(lib.Addr, "")+"tracing: {enabled: true, sample_ratio: 0}\n", withSpans(exp))

	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	// Not sampled, but still one trace: the backend gets a traceparent
	// with the sampled flag off.
	if tp := rec.lastMD().Get("traceparent"); len(tp) != 1 || !strings.HasSuffix(tp[0], "-00") || len(tp[0]) != 55 {
		t.Errorf("backend traceparent %q", tp)
	}
	// A client's sampled trace is followed whatever the ratio; the first
	// request's trace left no span.
	h.do(t, "GET", "/v1/shelves", "", "Traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01").expect(t, 200)
	spans := exp.wait(t, 2)
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != clientTraceID {
			t.Errorf("span %s of trace %s was recorded with sample_ratio 0", s.Name, s.SpanContext.TraceID())
		}
	}
	if len(spans) != 2 {
		t.Errorf("%d spans, want 2", len(spans))
	}
}

func TestTracingOff(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	// Tracing is off by default, so nothing wraps the handler: the edge
	// is the policy chain itself.
	if h.gw.EdgeWrapped() {
		t.Errorf("the public handler is wrapped")
	}
	// The client's trace context is forwarded as it came (forward_headers).
	tp := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	h.do(t, "GET", "/v1/shelves", "", "Traceparent", tp).expect(t, 200)
	if got := rec.lastMD().Get("traceparent"); !slices.Equal(got, []string{tp}) {
		t.Errorf("backend traceparent %q, want %q", got, tp)
	}
}

// otlpReceiver is a real OTLP trace collector endpoint (the gRPC service of
// opentelemetry-proto) on a loopback port that keeps what it receives.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.ResourceSpans
}

func (o *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spans = append(o.spans, req.GetResourceSpans()...)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// summary lists service.name and span names received, sorted.
func (o *otlpReceiver) summary() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, rs := range o.spans {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				out = append(out, service+": "+s.GetName())
			}
		}
	}
	sort.Strings(out)
	return out
}

func startOTLPgRPC(t *testing.T) (*otlpReceiver, string) {
	t.Helper()
	recv := &otlpReceiver{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, recv)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return recv, l.Addr().String()
}

// startOTLPHTTP is an OTLP/HTTP receiver: POST /v1/traces with a protobuf
// ExportTraceServiceRequest.
func startOTLPHTTP(t *testing.T) (*otlpReceiver, string) {
	t.Helper()
	recv := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		_, _ = recv.Export(r.Context(), &req)
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return recv, srv.URL
}

func TestTracingExportsOTLP(t *testing.T) {
	lib := startLibrary(t)
	want := []string{"{svc}: GET /v1/shelves", "{svc}: library.v1.LibraryService/ListShelves"}
	expect := func(t *testing.T, h *harness, recv *otlpReceiver, svc string) {
		t.Helper()
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		// A stopped server has no handler running, so every span has
		// ended; spans are batched, and closing the server flushes them.
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
		w := []string{strings.ReplaceAll(want[0], "{svc}", svc), strings.ReplaceAll(want[1], "{svc}", svc)}
		if got := recv.summary(); !slices.Equal(got, w) {
			t.Errorf("received %q, want %q", got, w)
		}
	}
	t.Run("grpc", func(t *testing.T) {
		recv, addr := startOTLPgRPC(t)
		h := startGateway(t, libraryConfig(lib.Addr, "")+fmt.Sprintf("tracing: {otlp_endpoint: %q, insecure: true, service_name: edge-1}\n", addr))
		expect(t, h, recv, "edge-1")
	})
	t.Run("http", func(t *testing.T) {
		recv, url := startOTLPHTTP(t)
		h := startGateway(t, libraryConfig(lib.Addr, "")+fmt.Sprintf("tracing: {otlp_endpoint: %q, protocol: http}\n", url))
		expect(t, h, recv, "refract")
	})
	t.Run("environment", func(t *testing.T) {
		recv, addr := startOTLPgRPC(t)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
		t.Setenv("OTEL_SERVICE_NAME", "from-env")
		h := startGateway(t, libraryConfig(lib.Addr, "")+"tracing: {enabled: true}\n")
		expect(t, h, recv, "from-env")
	})
}

// drain empties ch of earlier signals.
func drain(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
