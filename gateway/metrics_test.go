package gateway_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/refract-gateway/refract/examples"
	"google.golang.org/grpc/codes"
)

// scrape is one parse of the admin listener's /metrics.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, h *harness) scrape {
	t.Helper()
	resp, err := http.Get(h.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics answered %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// series finds the series of name whose labels are exactly labels
// ("k=v" pairs), besides the config_version every series carries, or nil.
func (s scrape) series(name string, labels ...string) *dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
	want := append([]string(nil), labels...)
	sort.Strings(want)
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			if l.GetName() != "config_version" {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
		}
		sort.Strings(got)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return m
		}
	}
	return nil
}

// value is a counter's, gauge's or untyped series' value (a histogram's
// count), 0 when the series does not exist.
func (s scrape) value(name string, labels ...string) float64 {
	m := s.series(name, labels...)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// labelValues lists the values label takes in name's series.
func (s scrape) labelValues(name, label string) []string {
	var out []string
	for _, m := range s[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	sort.Strings(out)
	return out
}

// delta is the difference of each listed series between two scrapes.
type expectation struct {
	name   string
	labels []string
	delta  float64
}

func (e expectation) String() string {
	return fmt.Sprintf("%s{%s} +%v", e.name, strings.Join(e.labels, ","), e.delta)
}

// expectDeltas waits until every series moved by exactly its delta from
// before (the gateway records a request just after the client read its
// answer), and fails naming the ones that did not.
func expectDeltas(t *testing.T, h *harness, before scrape, want []expectation) scrape {
	t.Helper()
	var after scrape
	var wrong []string
	check := func() bool {
		after, wrong = scrapeMetrics(t, h), nil
		for _, e := range want {
			if got := after.value(e.name, e.labels...) - before.value(e.name, e.labels...); got != e.delta {
				wrong = append(wrong, fmt.Sprintf("%s: moved by %v", e, got))
			}
		}
		return len(wrong) == 0
	}
	deadline := time.Now().Add(5 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not move as expected:\n%s", strings.Join(wrong, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return after
}

func TestMetricsFollowRequests(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, policyConfig(lib.Addr, "", `
    routes:
      - match: "library.v1.LibraryService.DeleteShelf"
        policies:
          ip: {deny: [127.0.0.0/8]}
`))
	before := scrapeMetrics(t, h)
	fpBefore := h.gw.FastPathStats()

	for range 3 {
		h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	}
	h.do(t, "GET", "/v1/nowhere", "").expect(t, 404)
	h.do(t, "GET", "/v1/nowhere/else", "").expect(t, 404)
	h.do(t, "BREW", "/v1/shelves", "").expect(t, 405)     // an unknown method token: label OTHER
	h.do(t, "GET", "/v1/shelves/9", "").expect(t, 404)    // the backend's NOT_FOUND
	h.do(t, "DELETE", "/v1/shelves/1", "").expect(t, 403) // the route's IP rule
	body := `{"title":"Dune","author":"Frank Herbert","pageCount":"412"}`
	created := h.do(t, "POST", "/v1/shelves/1/books", body).expect(t, 200)

	const (
		book   = "/v1/{name=shelves/*/books/*}"
		shelf  = "/v1/{name=shelves/*}"
		create = "/v1/{parent=shelves/*}/books"
		svc    = "library.v1.LibraryService."
	)
	after := expectDeltas(t, h, before, []expectation{
		{"refract_http_requests_total", []string{"route=" + book, "method=GET", "code=200"}, 3},
		{"refract_http_request_duration_seconds", []string{"route=" + book, "method=GET"}, 3},
		{"refract_upstream_calls_total", []string{"upstream=library", "grpc_method=" + svc + "GetBook", "grpc_code=OK"}, 3},
		{"refract_http_requests_total", []string{"route=unmatched", "method=GET", "code=404"}, 2},
		{"refract_http_requests_total", []string{"route=unmatched", "method=OTHER", "code=405"}, 1},
		{"refract_http_requests_total", []string{"route=" + shelf, "method=GET", "code=404"}, 1},
		{"refract_upstream_calls_total", []string{"upstream=library", "grpc_method=" + svc + "GetShelf", "grpc_code=NOT_FOUND"}, 1},
		{"refract_http_requests_total", []string{"route=" + shelf, "method=DELETE", "code=403"}, 1},
		{"refract_policy_rejections_total", []string{"policy=ip_filter"}, 1},
		{"refract_upstream_calls_total", []string{"upstream=library", "grpc_method=" + svc + "DeleteShelf", "grpc_code=OK"}, 0},
		{"refract_http_requests_total", []string{"route=" + create, "method=POST", "code=200"}, 1},
		{"refract_http_request_bytes_total", []string{"route=" + create, "method=POST"}, float64(len(body))},
		{"refract_http_response_bytes_total", []string{"route=" + create, "method=POST"}, float64(len(created.body))},
		{"refract_http_request_bytes_total", []string{"route=" + book, "method=GET"}, 0},
		// 404s and 405s are nobody's rejection; nor is the backend's NOT_FOUND.
		{"refract_policy_rejections_total", []string{"policy=authenticate"}, 0},
		{"refract_policy_rejections_total", []string{"policy=cors"}, 0},
	})
	// Every policy that can refuse has its series from the start.
	if got := strings.Join(after.labelValues("refract_policy_rejections_total", "policy"), ","); got !=
		"authenticate,authorize,breaker,checks,cors,ext_authz,guard,ip_filter,rate_limit,size_limit,stream_limit,validate" {
		t.Errorf("policy label values %s", got)
	}
	if v := after.value("refract_http_requests_in_flight"); v != 0 {
		t.Errorf("in flight %v after every answer", v)
	}
	// Raw paths never become labels.
	for _, r := range after.labelValues("refract_http_requests_total", "route") {
		if strings.Contains(r, "nowhere") || strings.Contains(r, "shelves/1") {
			t.Errorf("a raw path became a route label: %q", r)
		}
	}
	// The fast-path series are the codec's counters, read at scrape time.
	fp := h.gw.FastPathStats()
	for _, c := range []struct {
		name, path string
		want       uint64
	}{
		{"refract_transcode_requests_total", "fast", fp.Requests},
		{"refract_transcode_requests_total", "fallback", fp.RequestFallbacks},
		{"refract_transcode_responses_total", "fast", fp.Responses},
		{"refract_transcode_responses_total", "fallback", fp.ResponseFallbacks},
	} {
		if got := after.value(c.name, "path="+c.path); got != float64(c.want) {
			t.Errorf("%s{path=%s} = %v, the codec says %d", c.name, c.path, got, c.want)
		}
	}
	// Every successful unary answer (3 GetBook, 1 CreateBook) went one way
	// or the other.
	if n := (fp.Responses + fp.ResponseFallbacks) - (fpBefore.Responses + fpBefore.ResponseFallbacks); n != 4 {
		t.Errorf("%d responses transcoded, want 4", n)
	}

	// Discovery and the descriptor cache, as the cache reports them.
	st := h.gw.Cache().Stats()[0]
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"refract_upstream_endpoints", []string{"upstream=library"}, 1},
		{"refract_upstream_endpoints_by_state", []string{"upstream=library", "state=READY"}, 1},
		{"refract_upstream_endpoints_by_state", []string{"upstream=library", "state=TRANSIENT_FAILURE"}, 0},
		{"refract_upstream_discovery_stale", []string{"upstream=library"}, 0},
		{"refract_descriptor_state", []string{"upstream=library", "state=ready"}, 1},
		{"refract_descriptor_state", []string{"upstream=library", "state=stale"}, 0},
		{"refract_descriptor_info", []string{"upstream=library", "hash=" + st.Hash}, 1},
		{"refract_descriptor_methods", []string{"upstream=library"}, float64(st.Methods)},
		{"refract_descriptor_refreshes_total", []string{"upstream=library"}, float64(st.Refreshes)},
		{"refract_descriptor_refresh_failures_total", []string{"upstream=library"}, 0},
		{"refract_routes", []string{"upstream=library"}, float64(len(h.gw.Routes()))},
		{"refract_streams_open", nil, 0},
	} {
		if got := after.value(c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, strings.Join(c.labels, ","), got, c.want)
		}
	}
	if after.series("refract_descriptor_age_seconds", "upstream=library") == nil ||
		after.series("refract_descriptor_fetch_duration_seconds", "upstream=library") == nil {
		t.Error("no descriptor age or fetch duration for library")
	}
	// The per-Gateway registry carries the runtime and process collectors.
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if after[name] == nil {
			t.Errorf("no %s series", name)
		}
	}
}

func TestMetricsStreams(t *testing.T) {
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "max_per_client: 4"))
	before := scrapeMetrics(t, h)
	r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"a","count":2}`).expect(t, 200)
	if n := strings.Count(string(r.body), `"result"`); n != 2 {
		t.Fatalf("stream body %s", r.body)
	}
	expectDeltas(t, h, before, []expectation{
		{"refract_streams_total", []string{"route=/echo.v1.EchoService/Expand", "method=POST", "upstream=echo",
			"grpc_method=echo.v1.EchoService.Expand"}, 1},
		{"refract_http_requests_total", []string{"route=/echo.v1.EchoService/Expand", "method=POST", "code=200"}, 1},
		{"refract_streams_open", nil, 0},
		// Streams are counted as streams, not as unary calls, and by how
		// they ended.
		{"refract_upstream_calls_total", []string{"upstream=echo", "grpc_method=echo.v1.EchoService.Expand", "grpc_code=OK"}, 0},
		{"refract_streams_ended_total", []string{"upstream=echo", "grpc_method=echo.v1.EchoService.Expand", "grpc_code=OK"}, 1},
	})

	// A stream refused before the upstream is asked (a body that is not
	// JSON) is a request, not a stream.
	before = scrapeMetrics(t, h)
	h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":`).expect(t, 400)
	expectDeltas(t, h, before, []expectation{
		{"refract_http_requests_total", []string{"route=/echo.v1.EchoService/Expand", "method=POST", "code=400"}, 1},
		{"refract_streams_total", []string{"route=/echo.v1.EchoService/Expand", "method=POST", "upstream=echo",
			"grpc_method=echo.v1.EchoService.Expand"}, 0},
		{"refract_streams_ended_total", []string{"upstream=echo", "grpc_method=echo.v1.EchoService.Expand", "grpc_code=OK"}, 0},
		{"refract_streams_ended_total", []string{"upstream=echo", "grpc_method=echo.v1.EchoService.Expand", "grpc_code=INVALID_ARGUMENT"}, 0},
	})

	// A raw download that fails midway is aborted (no final chunk): it
	// still counts, with the 200 and the bytes it had sent.
	before = scrapeMetrics(t, h)
	probe.failAfterSends(2)
	defer probe.failAfterSends(0)
	resp := h.open(t, "POST", "/echo.v1.EchoService/Download", strings.NewReader(`{"size":100,"chunkBytes":10}`))
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(body) != "abcdefghijklmnopqrst" {
		t.Fatalf("read %q, %v; want 20 bytes and an unexpected EOF", body, err)
	}
	download := []string{"route=/echo.v1.EchoService/Download", "method=POST"}
	expectDeltas(t, h, before, []expectation{
		{"refract_http_requests_total", append(download, "code=200"), 1},
		{"refract_http_response_bytes_total", download, 20},
		{"refract_http_requests_in_flight", nil, 0},
		{"refract_streams_open", nil, 0},
		{"refract_streams_ended_total", []string{"upstream=echo", "grpc_method=echo.v1.EchoService.Download", "grpc_code=DATA_LOSS"}, 1},
	})
}

func TestMetricsFollowSchemaChanges(t *testing.T) {
	lib := startLibrary(t)
	addr := lib.Addr
	h := startGateway(t, libraryConfig(addr, ""))
	before := scrapeMetrics(t, h)
	v1 := h.gw.Cache().Stats()[0]
	if before.value("refract_descriptor_info", "upstream=library", "hash="+v1.Hash) != 1 {
		t.Fatalf("no refract_descriptor_info for hash %s", v1.Hash)
	}
	h.do(t, "POST", "/library.v1.LibraryService/GetServerVersion", `{}`).expect(t, 404)

	// Redeploy the backend on the same address with one method more, and
	// force a refresh as an operator would.
	lib.Stop()
	v2b, err := examples.StartLibraryV2(addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	t.Cleanup(v2b.Stop)
	eventually(t, 10*time.Second, "a forced refresh reaching the v2 backend", func() bool {
		resp, err := adminPost(h.admin + "/admin/descriptors/library")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == 200 && h.gw.Cache().Stats()[0].Hash != v1.Hash
	})
	v2 := h.gw.Cache().Stats()[0]
	eventually(t, 5*time.Second, "the v2 route", func() bool {
		return h.do(t, "POST", "/library.v1.LibraryService/GetServerVersion", `{}`).status == 200
	})
	after := scrapeMetrics(t, h)
	if after.series("refract_descriptor_info", "upstream=library", "hash="+v1.Hash) != nil {
		t.Errorf("the old hash %s is still exported", v1.Hash)
	}
	if after.value("refract_descriptor_info", "upstream=library", "hash="+v2.Hash) != 1 {
		t.Errorf("the new hash %s is not exported: %v", v2.Hash, after.labelValues("refract_descriptor_info", "hash"))
	}
	if got, want := after.value("refract_descriptor_methods", "upstream=library"), float64(v1.Methods+1); got != want {
		t.Errorf("methods %v, want %v", got, want)
	}
	// The reconnect may ask for a refresh of its own at any time around
	// here: the series must agree with the cache's count on either side
	// of the scrape.
	refreshes := after.value("refract_descriptor_refreshes_total", "upstream=library") - before.value("refract_descriptor_refreshes_total", "upstream=library")
	lo, hi := float64(v2.Refreshes-v1.Refreshes), float64(h.gw.Cache().Stats()[0].Refreshes-v1.Refreshes)
	if refreshes < 1 || refreshes < lo || refreshes > hi {
		t.Errorf("refreshes moved by %v, the cache counted %v to %v", refreshes, lo, hi)
	}
	if got := after.value("refract_http_requests_total", "route=/library.v1.LibraryService/GetServerVersion", "method=POST", "code=200"); got != 1 {
		t.Errorf("requests to the new route: %v", got)
	}
	if got := after.value("refract_upstream_calls_total", "upstream=library", "grpc_method=library.v1.LibraryService.GetServerVersion", "grpc_code=OK"); got != 1 {
		t.Errorf("calls of the new method: %v", got)
	}

	// A failed refresh: the last good set stays (stale) and is counted.
	v2b.Stop()
	resp, err := adminPost(h.admin + "/admin/descriptors/library")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("refresh of a stopped backend answered %d", resp.StatusCode)
	}
	failed := scrapeMetrics(t, h)
	if got := failed.value("refract_descriptor_refresh_failures_total", "upstream=library") - after.value("refract_descriptor_refresh_failures_total", "upstream=library"); got < 1 {
		t.Errorf("failures moved by %v", got)
	}
	if failed.value("refract_descriptor_state", "upstream=library", "state=stale") != 1 ||
		failed.value("refract_descriptor_info", "upstream=library", "hash="+v2.Hash) != 1 {
		t.Errorf("after a failed refresh: state %v, hash series %v", failed.labelValues("refract_descriptor_state", "state"),
			failed.labelValues("refract_descriptor_info", "hash"))
	}
}

func TestMetricsConfigSeries(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	m := h.srv.Metrics()
	m.ConfigReloaded(true)
	m.ConfigReloaded(false)
	m.ConfigReloaded(false)
	m.SetConfigVersion("v1")
	m.SetConfigVersion("v2")
	s := scrapeMetrics(t, h)
	if ok, failed := s.value("refract_config_reloads_total", "result=ok"), s.value("refract_config_reloads_total", "result=failed"); ok != 1 || failed != 2 {
		t.Errorf("reloads ok %v failed %v", ok, failed)
	}
	if got := s.labelValues("refract_config_info", "version"); strings.Join(got, ",") != "v2" || s.value("refract_config_info", "version=v2") != 1 {
		t.Errorf("config_info versions %v", got)
	}
	if m.ConfigVersion() != "v2" {
		t.Errorf("ConfigVersion %q", m.ConfigVersion())
	}
}

// Two gateways in one process keep their own registries.
func TestMetricsPerGateway(t *testing.T) {
	lib := startLibrary(t)
	a := startGateway(t, libraryConfig(lib.Addr, ""))
	b := startGateway(t, libraryConfig(lib.Addr, ""))
	a.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	expectDeltas(t, a, scrape{}, []expectation{{"refract_http_requests_total", []string{"route=/v1/shelves", "method=GET", "code=200"}, 1}})
	if got := scrapeMetrics(t, b).value("refract_http_requests_total", "route=/v1/shelves", "method=GET", "code=200"); got != 0 {
		t.Fatalf("the other gateway counted %v requests", got)
	}
}

// Rejections at the edge (before any route) and by a route's rate limit
// are counted under their policy; the edge's has no route label.
func TestMetricsRejectionsByPolicy(t *testing.T) {
	lib := startLibrary(t)
	edge := startGateway(t, policyConfig(lib.Addr, "policies: {ip: {allow: [10.0.0.0/8]}}", ""))
	before := scrapeMetrics(t, edge)
	edge.do(t, "GET", "/v1/shelves", "").expect(t, 403)
	expectDeltas(t, edge, before, []expectation{
		{"refract_http_requests_total", []string{"route=unmatched", "method=GET", "code=403"}, 1},
		{"refract_policy_rejections_total", []string{"policy=ip_filter"}, 1},
		{"refract_http_requests_total", []string{"route=/v1/shelves", "method=GET", "code=403"}, 0},
	})

	limited := startGateway(t, policyConfig(lib.Addr, "", `
    routes:
      - match: "GET /v1/shelves"
        policies:
          rate_limits: [{key: route, rate: 2, per: 1h}]
`))
	before = scrapeMetrics(t, limited)
	for range 2 {
		limited.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	for range 3 {
		limited.do(t, "GET", "/v1/shelves", "").expect(t, 429)
	}
	limited.do(t, "GET", "/v1/shelves/1", "").expect(t, 200) // another route, another bucket
	expectDeltas(t, limited, before, []expectation{
		{"refract_http_requests_total", []string{"route=/v1/shelves", "method=GET", "code=200"}, 2},
		{"refract_http_requests_total", []string{"route=/v1/shelves", "method=GET", "code=429"}, 3},
		{"refract_policy_rejections_total", []string{"policy=rate_limit"}, 3},
		{"refract_upstream_calls_total", []string{"upstream=library", "grpc_method=library.v1.LibraryService.ListShelves", "grpc_code=OK"}, 2},
		{"refract_policy_rejections_total", []string{"policy=ip_filter"}, 0},
	})
}

// An open breaker and edge validation refuse beside the upstream call:
// counted under their names, with no upstream call.
func TestMetricsBreakerAndValidation(t *testing.T) {
	b := startFlaky(t)
	h := startGateway(t, libraryAt(b.Addr, `
    policies:
      breaker: {failures: 2, open_for: 1h}
`))
	b.set("ListShelves", failRule{code: codes.Unavailable})
	before := scrapeMetrics(t, h)
	for range 5 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	}
	calls := []string{"upstream=library", "grpc_method=library.v1.LibraryService.ListShelves", "grpc_code=UNAVAILABLE"}
	expectDeltas(t, h, before, []expectation{
		{"refract_upstream_calls_total", calls, 2},
		{"refract_policy_rejections_total", []string{"policy=breaker"}, 3},
		{"refract_http_requests_total", []string{"route=/v1/shelves", "method=GET", "code=503"}, 5},
	})

	acc := startCounted(t, examples.StartAccounts)
	v := startGateway(t, fmt.Sprintf("upstreams: [{name: accounts, static: [%q]}]\n", acc.Addr))
	before = scrapeMetrics(t, v)
	v.do(t, "POST", "/v1/accounts", `{"email":"not-an-email","displayName":"A","age":30}`).expect(t, 400)
	expectDeltas(t, v, before, []expectation{
		{"refract_policy_rejections_total", []string{"policy=validate"}, 1},
		{"refract_http_requests_total", []string{"route=/v1/accounts", "method=POST", "code=400"}, 1},
		{"refract_upstream_calls_total", []string{"upstream=accounts", "grpc_method=accounts.v1.AccountsService.CreateAccount", "grpc_code=OK"}, 0},
	})
	v.do(t, "POST", "/v1/accounts", `{"email":"ada@example.com","displayName":"Ada","age":36}`).expect(t, 200)
	expectDeltas(t, v, before, []expectation{
		{"refract_policy_rejections_total", []string{"policy=validate"}, 1},
		{"refract_upstream_calls_total", []string{"upstream=accounts", "grpc_method=accounts.v1.AccountsService.CreateAccount", "grpc_code=OK"}, 1},
	})
}
