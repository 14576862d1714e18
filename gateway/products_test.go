package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"google.golang.org/grpc/codes"
)

// doHost sends a request to base with a Host header of host.
func doHost(t *testing.T, base, host, method, path, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestPathPrefixMountsAnUpstream(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    path_prefix: /lib
    routes:
      - match: "GET /lib/v1/{name=shelves/*}"
        policies: {fallback: {body: {never: "used"}}}
  - {name: echo, static: [%q]}
`, lib.Addr, echo.Addr))
	r := h.do(t, "GET", "/lib/v1/shelves/1", "").expect(t, 200)
	if field(t, r.body, "name") != "shelves/1" {
		t.Fatalf("path variables under a prefix: %s", r.body)
	}
	h.do(t, "GET", "/lib/v1/shelves", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves", "").expect(t, 404)
	h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 200)
	for _, rt := range h.gw.Routes() {
		if rt.GRPCMethod == "library.v1.LibraryService.GetShelf" {
			if rt.Path != "/lib/v1/{name=shelves/*}" || len(rt.Policies) != 1 || rt.Policies[0] != "fallback" {
				t.Fatalf("route %+v", rt)
			}
		}
	}
}

func TestProductsByHostAndListener(t *testing.T) {
	a := startCounted(t, examples.StartLibrary)
	b := startCounted(t, examples.StartLibrary)
	c := startCounted(t, examples.StartLibrary)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
products:
  - {name: shop, hosts: [shop.example.com], upstreams: [lib-a]}
  - name: books
    hosts: [Books.example.com]
    upstreams: [lib-b]
    policies: {max_body_bytes: 10}
  - {name: internal, listen: "127.0.0.1:0", upstreams: [lib-c]}
upstreams:
  - {name: lib-a, static: [%q]}
  - {name: lib-b, static: [%q]}
  - {name: lib-c, static: [%q]}
  - {name: echo, static: [%q]}
`, a.Addr, b.Addr, c.Addr, echo.Addr))
	const list = "/library.v1.LibraryService/ListShelves"
	// The same paths, one product per host.
	for range 3 {
		doHost(t, h.base, "shop.example.com", "GET", "/v1/shelves", "").expect(t, 200)
	}
	for range 2 {
		doHost(t, h.base, "books.example.com:8080", "GET", "/v1/shelves", "").expect(t, 200)
	}
	if a.n(list) != 3 || b.n(list) != 2 || c.n(list) != 0 {
		t.Fatalf("shop %d (want 3), books %d (want 2), internal %d (want 0)", a.n(list), b.n(list), c.n(list))
	}
	// A product's own policies: books limits bodies, shop does not.
	big := `{"theme":"a theme longer than ten bytes"}`
	doHost(t, h.base, "books.example.com", "POST", "/v1/shelves", big).expect(t, 413)
	doHost(t, h.base, "shop.example.com", "POST", "/v1/shelves", big).expect(t, 200)
	// Hosts no product claims get the upstreams in no product, and only those.
	h.do(t, "GET", "/v1/shelves", "").expect(t, 404)
	h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 200)
	doHost(t, h.base, "shop.example.com", "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 404)
	// A product with its own listener is served there only.
	addr := h.gw.ProductAddr("internal")
	if addr == "" {
		t.Fatal("no listener for product internal")
	}
	doHost(t, "http://"+addr, "anything", "GET", "/v1/shelves", "").expect(t, 200)
	doHost(t, "http://"+addr, "anything", "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 404)
	if c.n(list) != 1 {
		t.Fatalf("internal served %d, want 1", c.n(list))
	}
	products := map[string]bool{}
	for _, rt := range h.gw.Routes() {
		products[rt.Product] = true
	}
	if len(products) != 4 { // shop, books, internal and "" (echo)
		t.Fatalf("routes' products %v", products)
	}
}

// The products example of docs/routes.md serves what its comments say.
func TestProductsExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../examples/refract-products.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	cfg := strings.NewReplacer("127.0.0.1:50051", lib.Addr, "127.0.0.1:50052", echo.Addr, "127.0.0.1:8090", "127.0.0.1:0").Replace(string(data))
	h := startGateway(t, cfg)
	doHost(t, h.base, "shop.example.com", "GET", "/library/v1/shelves", "").expect(t, 200)
	// The comment's 404 says that no product matched the host, without
	// naming the products' hosts.
	r := h.do(t, "GET", "/library/v1/shelves", "").expect(t, 404)
	host := strings.TrimPrefix(h.base, "http://")
	jsonEq(t, r.body, fmt.Sprintf(`{"code":5,"message":"no route for GET /library/v1/shelves: no product matched the host \"%s\" (a product serving this path is chosen by its Host header)","details":[]}`, host))
	// A path no product serves either is a plain no route.
	r = h.do(t, "GET", "/v9/nothing", "").expect(t, 404)
	jsonEq(t, r.body, `{"code":5,"message":"no route for GET /v9/nothing","details":[]}`)
	doHost(t, "http://"+h.gw.ProductAddr("internal"), "x", "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 200)
}

// A product's policies take the resilience keys too, for its upstreams
// only: its timeout and fallback apply to them, not to other upstreams.
func TestProductResiliencePolicies(t *testing.T) {
	shop := startFlaky(t)
	other := startFlaky(t)
	shop.set("ListShelves", failRule{hang: true})
	other.set("ListShelves", failRule{hang: true})
	shop.set("GetShelf", failRule{code: codes.Unavailable})
	other.set("GetShelf", failRule{code: codes.Unavailable})
	h := startGateway(t, fmt.Sprintf(`
products:
  - name: shop
    hosts: [shop.example.com]
    upstreams: [shop]
    policies:
      timeout: 100ms
      fallback: {status: 200, body: {degraded: true}}
upstreams:
  - {name: shop, static: [%q]}
  - {name: other, static: [%q], timeout: 150ms}
`, shop.Addr, other.Addr))
	r := doHost(t, h.base, "shop.example.com", "GET", "/v1/shelves", "").expect(t, 504)
	if !strings.Contains(string(r.body), `upstream \"shop\" did not answer within 100ms`) {
		t.Fatalf("shop timeout: %s", r.body)
	}
	r = doHost(t, h.base, "shop.example.com", "GET", "/v1/shelves/1", "").expect(t, 200)
	if string(r.body) != `{"degraded":true}` || r.header.Get("X-Refract-Fallback") != "unavailable" {
		t.Fatalf("shop fallback: %v %s", r.header, r.body)
	}
	r = h.do(t, "GET", "/v1/shelves", "").expect(t, 504)
	if !strings.Contains(string(r.body), `upstream \"other\" did not answer within 150ms`) {
		t.Fatalf("other timeout: %s", r.body)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	if r.header.Get("X-Refract-Fallback") != "" {
		t.Fatalf("the shop's fallback answered for another upstream: %v", r.header)
	}
}
