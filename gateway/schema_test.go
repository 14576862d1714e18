package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	h.expectNoRoute(t, "GET", "/v1/shelves", "")
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
	h.expectNoRoute(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"a"}`)
}

// A routed method the backend answers UNIMPLEMENTED for: the schema may
// have moved on without the connection dropping (nothing else would say
// so), so the answer passes through and the gateway reflects again.
func TestUnimplementedAsksForARefresh(t *testing.T) {
	lib, err := examples.StartLibrary("127.0.0.1:0", grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if info.FullMethod == "/library.v1.LibraryService/ListShelves" {
				return nil, status.Error(codes.Unimplemented, "gone in this version")
			}
			return h(ctx, req)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lib.Stop)
	h := startGateway(t, libraryConfig(lib.Addr, "")+"reflection: {refresh_interval: 1h}\n")
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	refreshes := h.gw.Cache().Stats()[0].Refreshes
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 501)
	jsonEq(t, r.body, `{"code":12,"message":"gone in this version","details":[]}`)
	eventually(t, 10*time.Second, "a refresh after UNIMPLEMENTED", func() bool {
		return h.gw.Cache().Stats()[0].Refreshes > refreshes
	})
}

// Redeployed on the same address with another API: the routes follow,
// whichever comes first of the reconnect's refresh and an UNIMPLEMENTED
// answer; meanwhile callers see 501, 503 or 404, never a 500.
func TestSchemaChangeOnRedeploy(t *testing.T) {
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
	startEcho(t, addr)
	eventually(t, 10*time.Second, "the echo routes", func() bool {
		switch st := h.do(t, "GET", "/v1/shelves", "").status; st {
		case 501, 503, 404:
		default:
			t.Fatalf("GET /v1/shelves during the redeploy: %d", st)
		}
		return h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"a"}`).status == 200
	})
	h.expectNoRoute(t, "GET", "/v1/shelves", "")
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
	h.expectNoRoute(t, "POST", version, `{}`)
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
