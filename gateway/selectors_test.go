package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
)

const selectorConsumers = `
consumers:
  - name: mobile
    keys: [{value: mobile-key-1}]
`

// TestPolicySelectorsMissAndPartial: Routes come from live
// reflection, so a route-keyed policy entry is checked at every route
// build: one that selects no route (a typo'd DELETE) is an error in the
// log, in /admin/routes and in a metric; a route match covering one
// binding of a method is a warning naming the uncovered route; method:
// covers every binding.
func TestPolicySelectorsMissAndPartial(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, policyConfig(lib.Addr, selectorConsumers, `
    routes:
      - match: "GET /v1/{name=shelves/*/books/*}"
        policies: {auth: [api_key]}
      - match: "DELETE /v1/{name=shelves/*/book/*}"
        policies: {auth: [api_key]}
      - method: "library.v1.LibraryService.GetBookTitle"
        policies: {auth: [api_key]}
`))
	code, body := get(t, h.admin+"/admin/routes")
	if code != 200 {
		t.Fatalf("/admin/routes: %d %s", code, body)
	}
	var resp struct {
		Selectors map[string]struct{ Misses, Partial []string } `json:"policy_selectors"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	rep := resp.Selectors["library"]
	if len(rep.Misses) != 1 || !strings.Contains(rep.Misses[0], "upstreams[0].routes[1]: match DELETE /v1/{name=shelves/*/book/*} selects no route") {
		t.Fatalf("misses = %q", rep.Misses)
	}
	if len(rep.Partial) != 1 || !strings.Contains(rep.Partial[0], "covers only some routes of library.v1.LibraryService.GetBook; not GET /v1/{name=authors/*/books/*}") ||
		!strings.Contains(rep.Partial[0], `use method: "library.v1.LibraryService.GetBook"`) {
		t.Fatalf("partial = %q", rep.Partial)
	}
	m := scrapeMetrics(t, h)
	if v := m.value("refract_policy_selector_misses", "upstream=library"); v != 1 {
		t.Fatalf("refract_policy_selector_misses = %v, want 1", v)
	}
	if v := m.value("refract_policy_selector_partial", "upstream=library"); v != 1 {
		t.Fatalf("refract_policy_selector_partial = %v, want 1", v)
	}
	// The route match guards its binding only (hence the warning); the
	// method selector guards every binding of GetBookTitle.
	h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 401)
	h.do(t, "GET", "/v1/authors/ursula-k-le-guin/books/1", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves/1/books/1/title", "").expect(t, 401)
	h.do(t, "GET", "/v1/shelves/1/books/1/title", "", "X-Api-Key", "mobile-key-1").expect(t, 200)
}

// TestPolicyMethodSelectorCoversEveryBinding: method: selects
// every HTTP binding of the method, additional bindings included.
func TestPolicyMethodSelectorCoversEveryBinding(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, policyConfig(lib.Addr, selectorConsumers, `
    routes:
      - method: "library.v1.LibraryService.GetBook"
        policies: {auth: [api_key]}
`))
	h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 401)
	h.do(t, "GET", "/v1/authors/ursula-k-le-guin/books/1", "").expect(t, 401)
	h.do(t, "GET", "/v1/authors/ursula-k-le-guin/books/1", "", "X-Api-Key", "mobile-key-1").expect(t, 200)
	_, body := get(t, h.admin+"/admin/routes")
	if strings.Contains(body, `"misses"`) || strings.Contains(body, `"partial"`) {
		t.Fatalf("a method selector was reported: %s", body)
	}
}
