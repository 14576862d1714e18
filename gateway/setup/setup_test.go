package setup_test

import (
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/setup"
	"github.com/refract-gateway/refract/policy"
)

func TestNewTranslates(t *testing.T) {
	cfg, err := config.Parse([]byte(`
max_body_bytes: 1024
limits: {body_read_timeout: 3s, min_body_rate: 2048}
products: [{name: shop, hosts: [Shop.Example.com], upstreams: [library]}]
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    timeout: 3s
    path_prefix: /lib
    hide: ["*.Delete*"]
    policies:
      breaker: {failures: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	o, err := setup.New(cfg, setup.Extra{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Policies.Close()
	if len(o.Upstreams) != 1 {
		t.Fatalf("upstreams = %d, want 1", len(o.Upstreams))
	}
	u := o.Upstreams[0]
	if u.Conn.Name != "library" || u.Conn.Timeout != 3*time.Second || u.PathPrefix != "/lib" || !u.DefaultRoutes || !u.Validate {
		t.Fatalf("upstream = %+v", u)
	}
	if rule, hidden := u.Hidden("library.v1.LibraryService.DeleteShelf"); !hidden || rule != "hide: *.Delete*" {
		t.Fatalf("Hidden(DeleteShelf) = %q, %v", rule, hidden)
	}
	if _, hidden := u.Hidden("library.v1.LibraryService.GetShelf"); hidden {
		t.Fatal("GetShelf hidden")
	}
	if o.Limits.BodyBytes != 1024 || o.Limits.BodyPace != (policy.BodyPace{Grace: 3 * time.Second, MinRate: 2048}) || len(o.Products) != 1 || o.Products[0].Hosts[0] != "Shop.Example.com" {
		t.Fatalf("limits %+v, products %+v", o.Limits, o.Products)
	}
	plan := o.Policies.Call(gateway.RouteRef{Upstream: "library", Method: "library.v1.LibraryService.GetShelf", Timeout: time.Second})
	if plan.Breaker == nil || plan.Timeout != time.Second {
		t.Fatalf("plan = %+v", plan)
	}
	// The breaker outlives a rebuild: the same one comes back.
	if again := o.Policies.Call(gateway.RouteRef{Upstream: "library", Method: "library.v1.LibraryService.ListShelves", Timeout: time.Second}); again.Breaker != plan.Breaker {
		t.Fatal("a rebuild made a new breaker")
	}
	if bs := o.Policies.Breakers(); len(bs) != 1 || bs[0].Name != `upstream "library"` || bs[0].State != "closed" {
		t.Fatalf("breakers = %+v", bs)
	}
}
