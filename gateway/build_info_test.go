package gateway_test

import (
	"encoding/json"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/rs/zerolog"
)

// The running version is a series (refract_build_info), the first thing
// GET /admin says, and part of the start log; GET /admin also lists every
// endpoint the admin listener serves, each of which answers, the JSON ones
// in the admin API's one style (snake_case keys, no zero times).
func TestBuildInfoOnMetricsAdminAndStartLog(t *testing.T) {
	lib := startLibrary(t)
	build := telemetry.Build{Version: "v1.4.0", Commit: "0123456789abcdef", Date: "2026-12-01T10:00:00Z", GoVersion: runtime.Version()}
	var logs testkit.SyncBuffer
	h := serveGatewayLogging(t, libraryConfig(lib.Addr, ""), zerolog.New(&logs), func(o *server.Options) { o.Build = build })

	m := scrapeMetrics(t, h).series("refract_build_info", "version=v1.4.0", "commit=0123456789abcdef", "go_version="+runtime.Version())
	if m == nil || m.GetGauge().GetValue() != 1 {
		t.Fatalf("refract_build_info: %v", m)
	}

	code, body := get(t, h.admin+"/admin")
	var index struct {
		Build     telemetry.Build `json:"build"`
		Endpoints []string        `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(body), &index); err != nil || code != 200 || index.Build != build {
		t.Fatalf("/admin %d %v %s", code, err, body)
	}
	for _, want := range []string{"GET /admin", "GET /admin/routes", "GET /admin/descriptors", "POST /admin/descriptors/{upstream}",
		"GET /metrics", "GET /admin/stats", "GET /healthz", "GET /readyz"} {
		if !slices.Contains(index.Endpoints, want) {
			t.Errorf("/admin does not list %s: %v", want, index.Endpoints)
		}
	}
	for _, ep := range index.Endpoints {
		method, path, _ := strings.Cut(ep, " ")
		if method != "GET" || strings.ContainsAny(path, "{") || strings.HasSuffix(path, "/") || path == "/admin" {
			continue // wildcards and trees: covered by their own tests
		}
		code, body := get(t, h.admin+path)
		if code == 404 || code >= 500 {
			t.Errorf("%s listed on /admin answers %d: %s", ep, code, body)
			continue
		}
		if code != 200 {
			continue // served, but refused here (a gray release needs Consul KV)
		}
		// The admin API's one style: snake_case keys, and no zero time
		// standing for "never".
		if !strings.HasPrefix(path, "/admin") && path != "/healthz" && path != "/readyz" {
			continue // the exposition, the console's page and files
		}
		if path == "/admin/openapi.json" {
			continue // the public API's own document, in OpenAPI's names
		}
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("%s: not JSON: %v", ep, err)
			continue
		}
		if bad := nonSnakeKeys(v); len(bad) > 0 {
			t.Errorf("%s has keys that are not snake_case: %v", ep, bad)
		}
		if strings.Contains(body, "0001-01-01") {
			t.Errorf("%s shows a zero time: %s", ep, body)
		}
	}

	h.stop()
	var start map[string]any
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["message"] == "refract serving" {
			start = e
		}
	}
	if start == nil || start["refract_version"] != "v1.4.0" || start["commit"] != "0123456789abcdef" || start["go_version"] != runtime.Version() {
		t.Fatalf("start log line %v", start)
	}
}

// snakeKey is a JSON key in the admin API's style.
var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// nonSnakeKeys lists the object keys of v, at any depth, that are not
// snake_case.
func nonSnakeKeys(v any) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if !snakeKey.MatchString(k) {
				bad = append(bad, k)
			}
			bad = append(bad, nonSnakeKeys(sub)...)
		}
	case []any:
		for _, sub := range v {
			bad = append(bad, nonSnakeKeys(sub)...)
		}
	}
	return bad
}
