package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/refract-gateway/refract/gateway"
)

// TestFastPathServesCalls checks that calls go through the direct
// JSON↔wire path end to end (the counters move), that a route the fast
// path does not cover (PATCH deriving update_mask) is served by protojson
// and counted as a fallback, and that /admin/routes says which is which.
func TestFastPathServesCalls(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))

	before := h.gw.FastPathStats()
	r := h.do(t, "POST", "/v1/shelves/1/books?book_id=fast", `{"title":"Fast","author":"A","pageCount":"12","labels":{"k":"v"}}`).expect(t, 200)
	if got := field(t, r.body, "pageCount"); got != "12" {
		t.Fatalf("pageCount %v", got)
	}
	h.do(t, "GET", "/v1/shelves/1/books/fast", "").expect(t, 200)
	after := h.gw.FastPathStats()
	if d := after.Requests - before.Requests; d != 2 {
		t.Fatalf("fast-path requests +%d, want +2 (%+v → %+v)", d, before, after)
	}
	if d := after.Responses - before.Responses; d != 2 {
		t.Fatalf("fast-path responses +%d, want +2", d)
	}
	if after.RequestFallbacks != before.RequestFallbacks {
		t.Fatalf("unexpected request fallback: %+v", after)
	}

	r = h.do(t, "PATCH", "/v1/shelves/1/books/fast", `{"title":"Patched"}`).expect(t, 200)
	if got := field(t, r.body, "title"); got != "Patched" {
		t.Fatalf("title %v", got)
	}
	if got := field(t, r.body, "author"); got != "A" {
		t.Fatalf("PATCH with a derived mask changed author to %v", got)
	}
	final := h.gw.FastPathStats()
	if final.RequestFallbacks != after.RequestFallbacks+1 {
		t.Fatalf("PATCH not counted as a fallback: %+v → %+v", after, final)
	}

	res, err := http.Get(h.admin + "/admin/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/admin/routes: %d %v", res.StatusCode, err)
	}
	var routes struct {
		Routes []gateway.RouteInfo `json:"routes"`
	}
	if err := json.Unmarshal(raw, &routes); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, rt := range routes.Routes {
		switch rt.GRPCMethod {
		case "library.v1.LibraryService.UpdateBook":
			if rt.FastPath.Request || rt.FastPath.Fallback == "" {
				t.Fatalf("UpdateBook fast path %+v; want a request fallback with a reason", rt.FastPath)
			}
			seen++
		case "library.v1.LibraryService.GetBook":
			if rt.FastPath != (gateway.FastPathInfo{Request: true, Response: true}) {
				t.Fatalf("GetBook fast path %+v", rt.FastPath)
			}
			seen++
		}
	}
	if seen < 2 {
		t.Fatalf("routes missing from /admin/routes: %s", raw)
	}
}
