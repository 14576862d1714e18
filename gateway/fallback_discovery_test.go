package gateway_test

import (
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
)

// The fallback also answers when discovery knows no endpoint: the routes
// stay (last good descriptors), the backend is never asked, and routes
// without a fallback get the 503 naming the upstream.
func TestFallbackWhenDiscoveryKnowsNoEndpoint(t *testing.T) {
	agent := consultest.Start(t)
	lib := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "lib-1", Service: "library", Addr: lib.Addr})
	h := startGateway(t, consulConfig(agent, `
upstreams:
  - name: library
    consul: {service: library}
    routes:
      - match: "GET /v1/shelves"
        policies:
          fallback: {status: 200, body: {shelves: [], degraded: true}, headers: {Cache-Control: no-store}}
`))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	agent.Deregister("lib-1")
	eventually(t, 10*time.Second, "no endpoint", func() bool { return len(h.upstream(t, "library").Endpoints) == 0 })
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	jsonEq(t, r.body, `{"shelves":[],"degraded":true}`)
	if r.header.Get("X-Refract-Fallback") != "unavailable" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("fallback headers %v", r.header)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	if field(t, r.body, "code") != float64(14) || field(t, r.body, "message") != `upstream "library" unavailable: consul(library) reports no healthy endpoint` {
		t.Fatalf("no fallback: %s", r.body)
	}
	if n := lib.n("/library.v1.LibraryService/ListShelves"); n != 1 {
		t.Fatalf("backend served ListShelves %d times, want 1 (before it left)", n)
	}
}
