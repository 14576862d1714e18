package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/refract-gateway/refract/examples"
)

// aggregateBench serves the library and echo backends behind a real HTTP
// listener with the dashboard aggregate (three calls, one depending on
// another).
func aggregateBench(b *testing.B) (*httptest.Server, *http.Client) {
	lib := startLibrary(b)
	echo, err := startEchoB(b)
	if err != nil {
		b.Fatal(err)
	}
	gw := benchGatewayConfig(b, fmt.Sprintf(`
log: {level: error}
access_log: {enabled: false}
upstreams:
  - name: library
    static: [%q]
  - name: echo
    static: [%q]
aggregates:
  - name: dashboard
    route: GET /v1/dashboard/{shelf}
    calls:
      - name: shelf
        method: library.v1.LibraryService.GetShelf
        request: {name: "shelves/{path.shelf}"}
      - name: books
        method: library.v1.LibraryService.ListBooks
        request: {parent: "{calls.shelf.name}"}
      - name: greeting
        method: echo.v1.EchoService.Echo
        request: {message: "hello {path.shelf}"}
`, lib.Addr, echo))
	srv := httptest.NewServer(gw)
	b.Cleanup(srv.Close)
	return srv, srv.Client()
}

// BenchmarkAggregateDashboard is one aggregate request: three calls
// through their methods' chains, the books call after the shelf call.
func BenchmarkAggregateDashboard(b *testing.B) {
	srv, client := aggregateBench(b)
	b.ReportAllocs()
	for b.Loop() {
		benchDo(b, client, "GET", srv.URL+"/v1/dashboard/1", "")
	}
}

// BenchmarkAggregateSequentialCalls is what a client does without the
// aggregate: the same three calls, one HTTP request after another.
func BenchmarkAggregateSequentialCalls(b *testing.B) {
	srv, client := aggregateBench(b)
	b.ReportAllocs()
	for b.Loop() {
		benchDo(b, client, "GET", srv.URL+"/v1/shelves/1", "")
		benchDo(b, client, "GET", srv.URL+"/v1/shelves/1/books", "")
		benchDo(b, client, "POST", srv.URL+"/echo.v1.EchoService/Echo", `{"message":"hello 1"}`)
	}
}

func startEchoB(b *testing.B) (string, error) {
	b.Helper()
	e, err := examples.StartEcho("127.0.0.1:0")
	if err != nil {
		return "", err
	}
	b.Cleanup(e.Stop)
	return e.Addr, nil
}
