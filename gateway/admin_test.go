package gateway_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// adminPost sends a POST to the admin API as an operator's tool does:
// with the X-Refract-Admin header that state-changing requests need.
func adminPost(url string) (*http.Response, error) {
	req, err := http.NewRequest("POST", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Refract-Admin", "1")
	return http.DefaultClient.Do(req)
}

func TestAdminEndpoints(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	if code, body := get(t, h.admin+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz %d %s", code, body)
	}
	if code, body := get(t, h.admin+"/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Fatalf("readyz %d %s", code, body)
	}
	code, body := get(t, h.admin+"/admin/routes")
	var routes struct {
		Routes []gateway.RouteInfo `json:"routes"`
	}
	if err := json.Unmarshal([]byte(body), &routes); err != nil || code != 200 || len(routes.Routes) != 16 {
		t.Fatalf("routes %d %v %s", code, err, body)
	}
	code, body = get(t, h.admin+"/admin/descriptors")
	if code != 200 || !strings.Contains(body, "library.v1.LibraryService") {
		t.Fatalf("descriptors %d %s", code, body)
	}
	resp, err := adminPost(h.admin + "/admin/descriptors/library")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("refresh %v %v", resp, err)
	}
	resp.Body.Close()
	// The admin API is not on the public listener.
	if code, _ := get(t, h.base+"/healthz"); code != 404 {
		t.Fatalf("public /healthz answered %d", code)
	}
}

func TestReadyzWaitsForDescriptors(t *testing.T) {
	// Reserve a port with nothing behind it: the upstream never answers.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	h := serveGateway(t, libraryConfig(addr, ""))
	code, body := get(t, h.admin+"/readyz")
	if code != 503 || !strings.Contains(body, "no routes yet (descriptors pending) for upstreams: library") {
		t.Fatalf("readyz %d %s", code, body)
	}
}

func TestPanicBecomes500(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	// Break a route on purpose: a nil upstream panics in the handler.
	if err := h.gw.BreakRoutes(); err != nil {
		t.Fatal(err)
	}
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 500)
	jsonEq(t, r.body, `{"code":13,"message":"internal error in the gateway; it has been logged","details":[]}`)
}
