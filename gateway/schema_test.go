package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
)

// eventually retries check until it passes or the timeout ends.
func eventually(t *testing.T, timeout time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSchemaChangeByPeriodicRefresh(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	addr := echo.Addr
	h := startGateway(t, fmt.Sprintf(`
reflection: {refresh_interval: 200ms}
upstreams:
  - name: svc
    static: [%q]
`, addr))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 404)
	h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"a"}`).expect(t, 200)

	// Redeploy: the same address now serves the library API.
	echo.Stop()
	lib, err := examples.StartLibrary(addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	t.Cleanup(lib.Stop)
	eventually(t, 10*time.Second, "the library routes", func() bool {
		return h.do(t, "GET", "/v1/shelves", "").status == 200
	})
	h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"a"}`).expect(t, 404)
}

func TestSchemaChangeByUnimplemented(t *testing.T) {
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lib.Addr
	h := startGateway(t, fmt.Sprintf(`
reflection: {refresh_interval: 1h}
upstreams:
  - name: svc
    static: [%q]
`, addr))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	lib.Stop()
	echo := startEcho(t, addr)
	_ = echo
	// The old route still exists; the backend answers UNIMPLEMENTED, which
	// is passed on and makes the gateway reflect again at once.
	eventually(t, 5*time.Second, "UNIMPLEMENTED from the new backend", func() bool {
		return h.do(t, "GET", "/v1/shelves", "").status == 501
	})
	eventually(t, 10*time.Second, "the echo routes", func() bool {
		return h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"a"}`).status == 200
	})
	h.do(t, "GET", "/v1/shelves", "").expect(t, 404)
}

// A static upstream restarted on the same address with a new schema: the
// connection coming back triggers a refresh, so the new method is routed
// long before the periodic refresh (an hour here) would notice.
func TestRestartOnTheSameAddressRefreshes(t *testing.T) {
	lib := startLibrary(t)
	addr := lib.Addr
	h := startGateway(t, libraryConfig(addr, "")+"reflection: {refresh_interval: 1h}\n")
	const version = "/library.v1.LibraryService/GetServerVersion"
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200) // the connection is READY
	h.do(t, "POST", version, `{}`).expect(t, 404)
	refreshes := h.gw.Cache().Stats()[0].Refreshes

	lib.Stop()
	v2, err := examples.StartLibraryV2(addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	t.Cleanup(v2.Stop)
	eventually(t, 15*time.Second, "the v2 method routed", func() bool {
		return h.do(t, "POST", version, `{}`).status == 200
	})
	if got := h.gw.Cache().Stats()[0].Refreshes; got <= refreshes {
		t.Errorf("refreshes %d → %d: the route came without a fetch?", refreshes, got)
	}
}
