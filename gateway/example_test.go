package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
	upconn "github.com/refract-gateway/refract/gateway/upstream"
)

// oneEndpoint is a discovery.Source that knows one address for good.
type oneEndpoint struct{ addr string }

func (s oneEndpoint) Watch(ctx context.Context, push func(discovery.Update)) {
	push(discovery.Update{Endpoints: []discovery.Endpoint{{Addr: s.addr}}})
	<-ctx.Done()
}

func (s oneEndpoint) String() string { return "one endpoint " + s.addr }

// A gateway built from options alone, with no configuration file: one
// upstream found through a discovery source of its own, served under a
// program's own mux next to its own route.
func Example() {
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lib.Stop()

	gw, err := gateway.New(gateway.Options{
		Upstreams: []gateway.UpstreamOptions{{
			Conn:          upconn.Options{Name: "library", Source: oneEndpoint{lib.Addr}, Timeout: 5 * time.Second},
			DefaultRoutes: true,
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gw.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") })
	mux.Handle("/", gw.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}
	hello, err := http.Get(srv.URL + "/hello") // the program's own route
	if err != nil {
		fmt.Println(err)
		return
	}
	greeting, _ := io.ReadAll(hello.Body)
	hello.Body.Close()
	fmt.Println(string(greeting))
	resp, err := http.Get(srv.URL + "/v1/shelves") // the gateway's route
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.HasPrefix(string(body), `{"shelves":[`))
	// Output:
	// hello
	// 200 true
}
