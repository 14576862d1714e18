package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/telemetry"

	"github.com/refract-gateway/refract/reflection"
)

func TestAdminConfigRedactsSecrets(t *testing.T) {
	lib := startLibrary(t)
	keyDigest := strings.Repeat("ab", 32) // an API key's sha256, hex
	t.Setenv("REFRACT_TEST_API_KEY", "env-key-s3cr3t")
	h := startGateway(t, fmt.Sprintf(`
consul:
  address: 127.0.0.1:1
  token: consul-token-s3cr3t
consumers:
  - name: app
    keys: [{value: api-key-s3cr3t}, {sha256: %s}, {env: REFRACT_TEST_API_KEY}]
jwt:
  algorithms: [HS256]
  hmac_secret: {value: hmac-s3cr3t-0123456789-0123456789}
redis:
  addr: 127.0.0.1:1
  username: limiter
  password: {value: redis-s3cr3t}
ext_authz:
  http: {url: "http://authuser:authz-s3cr3t@127.0.0.1:1/check?apikey=authz-query-s3cr3t"}
tracing:
  enabled: false
  otlp_endpoint: 127.0.0.1:1
  headers: {x-collector-team: tracing-s3cr3t}
upstreams:
  - name: library
    static: [%q]
`, keyDigest, lib.Addr))

	code, body := get(t, h.admin+"/admin/config")
	if code != 200 {
		t.Fatalf("/admin/config %d %s", code, body)
	}
	for _, secret := range []string{"s3cr3t", keyDigest, "authuser"} {
		if strings.Contains(body, secret) {
			t.Errorf("/admin/config shows %q:\n%s", secret, body)
		}
	}
	var resp struct {
		Config map[string]any `json:"config"`
		YAML   string         `json:"yaml"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	cfg := resp.Config
	// The source text shows where the secrets are, not what they are.
	for _, line := range []string{`token: "[redacted]"`, `hmac_secret: {value: "[redacted]"}`, `headers: {x-collector-team: "[redacted]"}`,
		`http: {url: "http://%5Bredacted%5D@127.0.0.1:1/check?[redacted]"}`, `username: limiter`} {
		if !strings.Contains(resp.YAML, line) {
			t.Errorf("the source text lacks %s:\n%s", line, resp.YAML)
		}
	}
	at := func(path ...any) any {
		var v any = cfg
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	for _, c := range []struct {
		path []any
		want any
	}{
		{[]any{"consul", "token"}, "[redacted]"},
		{[]any{"consumers", 0, "keys", 0, "value"}, "[redacted]"},
		{[]any{"consumers", 0, "keys", 1, "sha256"}, "[redacted]"},
		// Where a secret is read from is not secret: the variable's name shows.
		{[]any{"consumers", 0, "keys", 2, "env"}, "REFRACT_TEST_API_KEY"},
		{[]any{"jwt", "hmac_secret", "value"}, "[redacted]"},
		{[]any{"redis", "password", "value"}, "[redacted]"},
		{[]any{"redis", "username"}, "limiter"},
		{[]any{"ext_authz", "http", "url"}, "http://%5Bredacted%5D@127.0.0.1:1/check?[redacted]"},
		// The effective config: defaults applied.
		{[]any{"upstreams", 0, "name"}, "library"},
		{[]any{"upstreams", 0, "timeout"}, "30s"},
		{[]any{"reflection", "refresh_interval"}, "30s"},
		{[]any{"reload", "ready_timeout"}, "10s"},
		// Command-line overrides show as served (the harness's loopback
		// listeners stand in for -listen and -admin).
		{[]any{"admin"}, "127.0.0.1:0"},
	} {
		if got := at(c.path...); got != c.want {
			t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	// Redaction works on a copy: the gateway still holds its secrets.
	if live := h.srv.Config(); live.Consul.Token != "consul-token-s3cr3t" || live.Redis.Password.Value != "redis-s3cr3t" {
		t.Fatal("redaction changed the live config")
	}
}

func TestAdminDescriptors(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, libraryConfig(lib.Addr, "")+fmt.Sprintf("  - {name: echo, static: [%q]}\n", echo.Addr))
	code, body := get(t, h.admin+"/admin/descriptors")
	var stats []reflection.Stats
	if err := json.Unmarshal([]byte(body), &stats); err != nil || code != 200 || len(stats) != 2 {
		t.Fatalf("descriptors %d %v %s", code, err, body)
	}
	s := stats[1]
	if s.Upstream != "library" || s.State != reflection.StateReady || len(s.Hash) != 64 || s.Endpoint != lib.Addr ||
		s.FetchedAt.IsZero() || s.Refreshes < 1 || s.Failures != 0 || s.LastError != "" ||
		!slices.Equal(s.Services, []string{"library.v1.LibraryService"}) || s.Methods != len(s.MethodNames) ||
		!slices.Contains(s.MethodNames, "library.v1.LibraryService.GetBook") {
		t.Fatalf("descriptor stats %+v", s)
	}
	// The wire format: snake_case keys, an RFC 3339 time, a duration with
	// its unit, and no zero time for an upstream that never failed.
	var raw []map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(raw[1]))
	if want := []string{"endpoint", "failures", "fetch_duration_seconds", "fetched_at", "hash", "method_names", "methods",
		"refreshes", "schema_changes", "services", "source", "state", "upstream"}; !slices.Equal(keys, want) {
		t.Fatalf("/admin/descriptors keys %v, want %v", keys, want)
	}
	if _, err := time.Parse(time.RFC3339Nano, raw[1]["fetched_at"].(string)); err != nil {
		t.Fatalf("fetched_at %v: %v", raw[1]["fetched_at"], err)
	}
	if d, ok := raw[1]["fetch_duration_seconds"].(float64); !ok || d <= 0 || d > 10 {
		t.Fatalf("fetch_duration_seconds %v", raw[1]["fetch_duration_seconds"])
	}

	// POST refreshes at once and answers with that upstream alone: one
	// more fetch, same hash.
	resp, err := adminPost(h.admin + "/admin/descriptors/library")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var after reflection.Stats
	if err := json.Unmarshal(b, &after); err != nil || resp.StatusCode != 200 {
		t.Fatalf("refresh %d %v %s", resp.StatusCode, err, b)
	}
	if after.Upstream != "library" || after.Refreshes <= s.Refreshes || after.Hash != s.Hash {
		t.Fatalf("after a forced refresh of library: %s refreshes %d (was %d), hash %s (was %s)", after.Upstream, after.Refreshes, s.Refreshes, after.Hash, s.Hash)
	}

	// An unknown upstream is a 404 with the one error shape.
	resp, err = adminPost(h.admin + "/admin/descriptors/nosuch")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || string(b) != `{"code":5,"message":"reflection: upstream \"nosuch\": refresh: unknown upstream","details":[]}` {
		t.Fatalf("unknown upstream: %d %s", resp.StatusCode, b)
	}
}

func TestAdminPprofOnAdminOnly(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "admin_security: {pprof: true}\n"))
	code, body := get(t, h.admin+"/debug/pprof/")
	if code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/ %d %.200s", code, body)
	}
	if code, body := get(t, h.admin+"/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("goroutine profile %d %.200s", code, body)
	}
	if code, _ := get(t, h.admin+"/debug/pprof/cmdline"); code != 200 {
		t.Fatalf("cmdline %d", code)
	}
	for _, p := range []string{"/debug/pprof/", "/metrics", "/admin/config", "/admin/stats", "/dashboard"} {
		if code, _ := get(t, h.base+p); code != 404 {
			t.Errorf("the public listener answered %s with %d", p, code)
		}
	}
}

func TestAdminStats(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	for range 4 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	h.do(t, "GET", "/v1/shelves/9", "").expect(t, 404)
	h.do(t, "GET", "/nowhere", "").expect(t, 404)

	var st telemetry.Stats
	eventually(t, 5*time.Second, "the requests in /admin/stats", func() bool {
		_, body := get(t, h.admin+"/admin/stats")
		st = telemetry.Stats{}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, body)
		}
		return st.Requests.Total == 6
	})
	byRoute := map[string]telemetry.RouteStats{}
	for _, r := range st.Routes {
		byRoute[r.Method+" "+r.Route] = r
	}
	if len(byRoute) != len(h.gw.Routes())+1 {
		t.Errorf("%d routes listed, the gateway serves %d (+ unmatched)", len(byRoute), len(h.gw.Routes()))
	}
	for key, want := range map[string]telemetry.RouteStats{
		"GET /v1/shelves": {Method: "GET", Route: "/v1/shelves", Upstream: "library",
			GRPCMethod: "library.v1.LibraryService.ListShelves", Requests: 4},
		"GET /v1/{name=shelves/*}": {Method: "GET", Route: "/v1/{name=shelves/*}", Upstream: "library",
			GRPCMethod: "library.v1.LibraryService.GetShelf", Requests: 1, ClientErrors: 1},
		"* unmatched": {Method: "*", Route: "unmatched", Requests: 1, ClientErrors: 1},
		"DELETE /v1/{name=shelves/*}": {Method: "DELETE", Route: "/v1/{name=shelves/*}", Upstream: "library",
			GRPCMethod: "library.v1.LibraryService.DeleteShelf"},
	} {
		got := byRoute[key]
		// Rates depend on time (TestRateWindow checks them); the read
		// model's own fields are checked by the console's tests.
		got.PerSecond, got.Streaming, got.Policies, got.FastPath, got.Breaker, got.GRPCCodes, got.Recent = 0, "", nil, nil, "", nil, nil
		// Every unary request of these routes was transcoded on the fast
		// path (TestRouteFastPathShare checks the counts).
		if got.Requests > 0 && got.Upstream != "" && (got.Transcoded == nil || got.Transcoded.Fast != got.Requests ||
			got.FastPathShare == nil || *got.FastPathShare != 1) {
			t.Errorf("%s: transcoded %+v, share %v", key, got.Transcoded, got.FastPathShare)
		}
		got.Transcoded, got.FastPathShare = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", key, got, want)
		}
	}
	if len(st.Upstreams) != 1 {
		t.Fatalf("upstreams %+v", st.Upstreams)
	}
	u, cs := st.Upstreams[0], h.gw.Cache().Stats()[0]
	if u.Name != "library" || u.Discovery != "ok" || len(u.Endpoints) != 1 || u.Endpoints[0].Addr != lib.Addr ||
		u.Endpoints[0].State != "READY" || u.Connectivity != "READY" || u.Routes != len(h.gw.Routes()) ||
		u.Descriptors.State != "ready" || u.Descriptors.Hash != cs.Hash || u.Descriptors.Endpoint != lib.Addr ||
		u.Descriptors.Methods != cs.Methods || u.Descriptors.AgeSeconds < 0 {
		t.Errorf("upstream stats %+v", u)
	}
}
