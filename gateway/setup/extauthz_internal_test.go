package setup

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
	"github.com/rs/zerolog"
)

// TestExtAuthzWithoutAuthorizerFailsClosed: Validation
// refuses ext_authz switched on without an authorizer; should a route ever
// ask for it anyway (a config built around validation), it answers 503
// instead of serving the request unchecked.
func TestExtAuthzWithoutAuthorizerFailsClosed(t *testing.T) {
	cfg, err := config.Parse([]byte(`
products: [{name: shop, hosts: [shop.example.com], upstreams: [library]}]
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Products[0].Policies.ExtAuthz = config.Ptr(true)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "products[0].policies.ext_authz") {
		t.Fatalf("Validate = %v, want the product's ext_authz refused", err)
	}
	p, err := buildPolicies(cfg, zerolog.Nop(), zerolog.Nop(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	called := false
	set := p.Route(gateway.RouteRef{Upstream: "library", Product: "shop", Method: "library.v1.LibraryService.GetShelf",
		Route: "GET /v1/{name=shelves/*}"})
	srv := httptest.NewServer(policy.Compile(set, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		called = true
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/shelves/1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || st.Code != 14 || !strings.Contains(st.Message, "no authorizer is configured") || called {
		t.Fatalf("status %d, body %s, upstream called %v; want 503 UNAVAILABLE naming the missing authorizer", resp.StatusCode, body, called)
	}
}
