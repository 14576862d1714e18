package policy

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
)

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	cs := testConsumers(t)
	var s Set
	s.Put(StageRequestID, RequestID())
	s.Put(StageAccessLog, must(AccessLog(AccessLogOptions{Logger: zerolog.New(&buf)})))
	s.Put(StageAuthenticate, Authenticate(AuthOptions{Consumers: cs}))
	h := Compile(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := InfoFrom(r.Context())
		info.Route, info.Method, info.Upstream, info.Endpoint = "POST /v1/x", "pkg.S/M", "library", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5}
		_, _ = r.Body.Read(make([]byte, 64))
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	r := httptest.NewRequest("POST", "/v1/x?api_key=ops-key&page=2", strings.NewReader(`{"a":1}`))
	r.RemoteAddr = "192.0.2.4:9"
	r.Header.Set("X-Api-Key", "ops-key")
	r.Header.Set("X-Request-Id", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	delete(line, "latency_ms")
	want := map[string]any{"level": "info", "message": "request", "request_id": "req-1", "http_method": "POST", "path": "/v1/x",
		"route": "POST /v1/x", "grpc_method": "pkg.S/M", "upstream": "library", "endpoint": "127.0.0.1:5", "status": 200.0,
		"grpc_code": 0.0, "bytes_in": 7.0, "bytes_out": 11.0, "client_ip": "192.0.2.4", "consumer": "ops", "subject": ""}
	gb, _ := json.Marshal(line)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("log line\n got %s\nwant %s", gb, wb)
	}
	if strings.Contains(buf.String(), "ops-key") {
		t.Fatal("the API key reached the log")
	}
	// A rejection is logged with its gRPC code, at warn.
	buf.Reset()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/x", nil))
	if !strings.Contains(buf.String(), `"level":"warn"`) || !strings.Contains(buf.String(), `"status":401,"grpc_code":16`) {
		t.Fatalf("rejection line %s", buf.String())
	}
}

func TestAccessLogSampling(t *testing.T) {
	var buf bytes.Buffer
	h := must(AccessLog(AccessLogOptions{Logger: zerolog.New(&buf), Sample: 0.25}))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			rpcstatus.WriteStatus(w, 500, 13, "boom")
		}
	}))
	for range 100 {
		serve(h, "GET", "/", "192.0.2.1:1")
	}
	if n := strings.Count(buf.String(), "\n"); n != 25 {
		t.Fatalf("%d of 100 successes logged at 0.25", n)
	}
	buf.Reset()
	for range 10 {
		serve(h, "GET", "/fail", "192.0.2.1:1")
	}
	if n := strings.Count(buf.String(), "\n"); n != 10 {
		t.Fatalf("%d of 10 failures logged; failures are never sampled", n)
	}
	if _, err := AccessLog(AccessLogOptions{Sample: 2}); err == nil {
		t.Fatal("sample 2 accepted")
	}
}

func TestRequestID(t *testing.T) {
	var got string
	h := RequestID()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("X-Request-Id") }))
	w := serve(h, "GET", "/", "192.0.2.1:1", "X-Request-Id", "abc-123")
	if got != "abc-123" || w.Header().Get("X-Request-Id") != "abc-123" {
		t.Fatalf("kept id: %q %q", got, w.Header().Get("X-Request-Id"))
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 129)} {
		w := serve(h, "GET", "/", "192.0.2.1:1", "X-Request-Id", bad)
		if len(got) != 32 || got == bad || w.Header().Get("X-Request-Id") != got {
			t.Fatalf("for %q: made %q", bad, got)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	var readErr error
	h := SizeLimit(10)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, readErr = readAll(r)
	}))
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 11)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	wantStatus(t, w, 413, 3, "request body exceeds the limit of 10 bytes")
	// Without a Content-Length the cap applies while reading.
	r = httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 11)))
	r.ContentLength = -1
	h.ServeHTTP(httptest.NewRecorder(), r)
	var mbe *http.MaxBytesError
	if !asMaxBytes(readErr, &mbe) || mbe.Limit != 10 {
		t.Fatalf("read error %v", readErr)
	}
	if SizeLimit(0) != nil {
		t.Fatal("no limit is not nil")
	}
}

// TestAccessLogAddresses: an endpoint and a client IP are written as
// their String methods format them, without building the string.
func TestAccessLogAddresses(t *testing.T) {
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5},
		&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1).To4(), Port: 443},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 8080},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "eth0"},
		&net.TCPAddr{Port: 9},
		&net.UnixAddr{Name: "/run/backend.sock", Net: "unix"},
		nil,
	} {
		var buf bytes.Buffer
		log := zerolog.New(&buf)
		ev := log.Info()
		appendAddr(ev, "endpoint", a)
		ev.Msg("")
		want := ""
		if a != nil {
			want = a.String()
		}
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["endpoint"] != want {
			t.Errorf("%v: %s (%v), want endpoint %q", a, buf.Bytes(), err, want)
		}
	}
	for _, ip := range []netip.Addr{{}, netip.MustParseAddr("192.0.2.4"), netip.MustParseAddr("2001:db8::7")} {
		var buf bytes.Buffer
		log := zerolog.New(&buf)
		ev := log.Info()
		appendIP(ev, "client_ip", ip)
		ev.Msg("")
		want := ""
		if ip.IsValid() {
			want = ip.String()
		}
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["client_ip"] != want {
			t.Errorf("%v: %s (%v), want client_ip %q", ip, buf.Bytes(), err, want)
		}
	}
}
