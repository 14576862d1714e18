package products

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/router"
)

func table(t *testing.T, method, tmpl string) *router.Table[string] {
	t.Helper()
	tp, err := router.ParseTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := router.NewTable([]router.Entry[string]{{Method: method, Template: tp, Name: tmpl, Value: tmpl}})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestRequestsFindTheirProduct(t *testing.T) {
	var s State[string]
	s.Init([]Options{{Name: "shop", Hosts: []string{"Shop.Example"}, Upstreams: []string{"orders"}}})
	main := table(t, "GET", "/v1/books")
	s.Store(map[string]*router.Table[string]{"": main, "shop": table(t, "GET", "/v1/orders")})
	if got := s.Of("orders"); got != "shop" {
		t.Errorf("Of(orders) = %q, want shop", got)
	}

	byHost := httptest.NewRequest("GET", "http://shop.example:8080/v1/orders", nil)
	if got := s.OfRequest(byHost); got != "shop" {
		t.Errorf("host-selected product = %q, want shop", got)
	}
	if _, found := s.TableFor(byHost, main).Match("GET", "/v1/orders"); found != router.Found {
		t.Errorf("the shop table does not serve /v1/orders: %v", found)
	}

	other := httptest.NewRequest("GET", "http://other.example/v1/orders", nil)
	if s.TableFor(other, main) != main {
		t.Error("a request for no product should match the main table")
	}
	if msg := s.NoRouteMessage(other, "/v1/orders"); !strings.Contains(msg, `no product matched the host "other.example"`) {
		t.Errorf("no-route message = %q; want it to say no product matched the host", msg)
	}

	var seen string
	h := Handler("shop", httpHandler(func(r string) { seen = r }, &s))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://other.example/", nil))
	if seen != "shop" {
		t.Errorf("a product listener's request is for %q, want shop", seen)
	}
	if len(s.Entries(main)) != 2 {
		t.Errorf("Entries = %d routes, want 2", len(s.Entries(main)))
	}
	if got := s.Table("unbuilt", main); got == main || got == nil {
		t.Error("a product without routes yet should get an empty table")
	}
}

func httpHandler(f func(string), s *State[string]) http.HandlerFunc {
	return func(_ http.ResponseWriter, r *http.Request) { f(s.OfRequest(r)) }
}
