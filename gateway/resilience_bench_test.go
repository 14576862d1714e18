package gateway_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
)

// BenchmarkHandlerGetBookResilience is BenchmarkHandlerGetBook with a
// breaker, retries (idempotent, budgeted, per-try timeout), a fallback and
// a 90/10 split over two subsets on the route: what resilience adds to a
// call that succeeds.
func BenchmarkHandlerGetBookResilience(b *testing.B) {
	lib := startLibrary(b)
	canary := startLibrary(b)
	gw := benchGatewayConfig(b, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    subsets:
      - {name: stable, static: [%q]}
      - {name: canary, static: [%q]}
    policies:
      timeout: 5s
      breaker: {failures: 5, open_for: 10s}
      retry: {attempts: 3, per_try_timeout: 2s, idempotent: true}
      fallback: {body: {degraded: true}}
      split: {weights: {stable: 90, canary: 10}}
`, lib.Addr, lib.Addr, canary.Addr))
	benchGet(b, gw, "/v1/shelves/1/books/1")
}

// BenchmarkHandlerCreateAccountValidated is a POST whose request carries
// buf.validate rules, checked at the edge, next to the same call with
// validation off.
func BenchmarkHandlerCreateAccountValidated(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("validate=%v", on), func(b *testing.B) {
			acc, err := examples.StartAccounts("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(acc.Stop)
			gw := benchGatewayConfig(b, fmt.Sprintf("upstreams: [{name: accounts, static: [%q], validate: %v}]\n", acc.Addr, on))
			body := `{"email":"ada@example.com","displayName":"Ada","age":36,"tags":["math","logic"]}`
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/accounts", stringsReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				gw.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

func benchGet(b *testing.B, gw *gateway.Gateway, path string) {
	b.Helper()
	req := httptest.NewRequest("GET", path, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
