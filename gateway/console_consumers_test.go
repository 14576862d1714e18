package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/refract-gateway/refract/gateway/telemetry"
)

// consumersConfig has two API-key consumers: mobile with a quota of 5
// per minute, web allowed only GetShelf.
func consumersConfig(libAddr string) string {
	return libraryConfig(libAddr, `
consumers:
  - name: mobile
    keys: [{value: mobile-key}]
    quota: {rate: 5, per: 1m}
  - name: web
    keys: [{value: web-key}]
    allow: ["library.v1.LibraryService.GetShelf"]
policies:
  auth: [api_key]
`)
}

// consumersTraffic: mobile spends its quota and is refused once, web is
// refused a method outside its allow list, a wrong key is refused.
func consumersTraffic(t *testing.T, h *harness) {
	t.Helper()
	for range 5 {
		h.do(t, "GET", "/v1/shelves/1/books/1", "", "X-Api-Key", "mobile-key").expect(t, 200)
	}
	h.do(t, "GET", "/v1/shelves/1/books/1", "", "X-Api-Key", "mobile-key").expect(t, 429)
	h.do(t, "GET", "/v1/shelves/1", "", "X-Api-Key", "web-key").expect(t, 200)
	h.do(t, "GET", "/v1/shelves", "", "X-Api-Key", "web-key").expect(t, 403)
	h.do(t, "GET", "/v1/shelves", "", "X-Api-Key", "not-a-key").expect(t, 401)
}

// TestConsumersAPI: GET /admin/consumers counts each caller's requests
// and denials by the policy that refused them, from the request path,
// and reads each quota from its limiter: mobile's is spent.
func TestConsumersAPI(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, consumersConfig(lib.Addr))
	consumersTraffic(t, h)

	code, body := get(t, h.admin+"/admin/consumers")
	if code != 200 {
		t.Fatalf("/admin/consumers %d %s", code, body)
	}
	var v telemetry.ConsumersView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	by := map[string]telemetry.ConsumerStats{}
	for _, c := range v.Consumers {
		by[c.Kind+":"+c.Name] = c
	}
	mobile := by["api_key:mobile"]
	if mobile.Requests != 6 || mobile.ClientErrors != 1 || mobile.Denied != 1 || mobile.Denials["rate_limit"] != 1 {
		t.Errorf("mobile: %+v", mobile)
	}
	if q := mobile.Quota; q == nil || q.Rate != 5 || q.PeriodSeconds != 60 || q.Burst != 5 || q.Used != 5 || q.Left != 0 ||
		q.RetryInSeconds <= 0 || q.FullInSeconds <= 0 || q.Error != "" {
		t.Errorf("mobile's quota: %+v", mobile.Quota)
	}
	web := by["api_key:web"]
	if web.Requests != 2 || web.Denials["authorize"] != 1 || web.Quota != nil {
		t.Errorf("web: %+v", web)
	}
	anon := by["anonymous:"]
	if anon.Requests != 1 || anon.Denials["authenticate"] != 1 {
		t.Errorf("anonymous: %+v", anon)
	}
	if v.Consumers[0].Name != "mobile" || v.Tracked != 2 || v.MaxTracked != telemetry.DefaultMaxConsumers {
		t.Errorf("order or cap: first %q, tracked %d of %d", v.Consumers[0].Name, v.Tracked, v.MaxTracked)
	}
	// Prometheus has the same counts, for the long term.
	_, metrics := get(t, h.admin+"/metrics")
	for _, want := range []string{
		`refract_consumer_requests_total{config_version="`, `consumer="mobile",kind="api_key",outcome="ok"} 5`,
		`consumer="mobile",kind="api_key",outcome="4xx"} 1`, `consumer="mobile",kind="api_key",policy="rate_limit"} 1`,
		`consumer="",kind="anonymous",policy="authenticate"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	// A declared consumer that has not called yet is listed, its quota full.
	h2 := startGateway(t, consumersConfig(lib.Addr))
	_, body = get(t, h2.admin+"/admin/consumers")
	if !strings.Contains(body, `"name": "mobile"`) || !strings.Contains(body, `"left": 5`) {
		t.Errorf("an idle gateway's consumers: %s", body)
	}
}

// TestRouteFastPathShare: /admin/stats counts each route's unary requests
// by transcoding path: GetBook runs on the fast path both ways.
func TestRouteFastPathShare(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	for range 3 {
		h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	}
	_, body := get(t, h.admin+"/admin/stats")
	var st telemetry.Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Routes {
		if r.Route != "/v1/{name=shelves/*/books/*}" || r.Method != "GET" {
			continue
		}
		if r.Transcoded == nil || r.Transcoded.Fast != 3 || r.Transcoded.Fallback != 0 || r.FastPathShare == nil || *r.FastPathShare != 1 {
			t.Fatalf("GetBook's transcoding: %+v share %v", r.Transcoded, r.FastPathShare)
		}
		return
	}
	t.Fatalf("no GetBook route in %s", body)
}

// TestConsoleConsumers: the consumers view in a real browser shows who
// calls, how often they are refused and why, and each quota's state.
func TestConsoleConsumers(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, consumersConfig(lib.Addr), withHistoryStep(time.Second))
	consumersTraffic(t, h)

	b := newBrowser(t)
	b.run(t, "open the consumers", chromedp.Navigate(h.admin+"/#consumers"),
		visible(`body[data-ready="true"]`), visible(`tr[data-consumer="api_key:mobile"]`))
	row := b.text(t, `tr[data-consumer="api_key:mobile"]`)
	for _, want := range []string{"mobile", "api key", "rate_limit 1", "5 per 60 s, burst 5"} {
		if !strings.Contains(row, want) {
			t.Errorf("mobile's row %q has no %q", row, want)
		}
	}
	left := value(t, b, "mobile's quota left", chromedp.Evaluate[float64](
		`document.querySelector('tr[data-consumer="api_key:mobile"] meter').value`))
	if left != 0 {
		t.Errorf("mobile's meter shows %v left", left)
	}
	if row := b.text(t, `tr[data-consumer="api_key:web"]`); !strings.Contains(row, "authorize 1") {
		t.Errorf("web's row: %q", row)
	}
	if row := b.text(t, `tr[data-consumer="anonymous:"]`); !strings.Contains(row, "(anonymous)") || !strings.Contains(row, "authenticate 1") {
		t.Errorf("the anonymous row: %q", row)
	}
	b.screenshot(t, "console-consumers")
	// The overview counts the refusals, by policy.
	b.run(t, "the overview", chromedp.Navigate(h.admin+"/#overview"), visible(`#tile-refused`))
	if tile := b.text(t, `#tile-refused`); !strings.Contains(tile, "3") || !strings.Contains(tile, "rate_limit 1") {
		t.Errorf("the refused tile reads %q", tile)
	}
	// The refused requests are the public API's, not the console's.
	b.noErrors(t)
}
