package checks_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/checks"
)

// benchChecks serves requests through n checks, each an HTTP service on
// loopback that answers 204 after delay; cacheTTL > 0 answers from the
// decision cache after the first request (the stage's own cost alone).
func benchChecks(b *testing.B, n int, delay, cacheTTL time.Duration) {
	var cs []*checks.Check
	for i := range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if delay > 0 {
				time.Sleep(delay)
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		b.Cleanup(srv.Close)
		az, err := policy.NewExtAuthz(policy.ExtAuthzOptions{HTTPURL: srv.URL, CacheTTL: cacheTTL,
			HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}})
		if err != nil {
			b.Fatal(err)
		}
		c, err := checks.New(checks.Options{Name: fmt.Sprintf("c%d", i), Authorizer: az})
		if err != nil {
			b.Fatal(err)
		}
		cs = append(cs, c)
	}
	var set policy.Set
	set.Put(policy.StageChecks, checks.Policy(cs, "GET /v1/things", "things.v1.Things.Get", "things"))
	h := policy.State()(policy.Compile(set, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	r := httptest.NewRequest("GET", "/v1/things", nil)
	r.Header.Set("Authorization", "Bearer x")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

func BenchmarkChecksOneLoopback(b *testing.B)    { benchChecks(b, 1, 0, 0) }
func BenchmarkChecksTwoLoopback(b *testing.B)    { benchChecks(b, 2, 0, 0) }
func BenchmarkChecksOneCached(b *testing.B)      { benchChecks(b, 1, 0, time.Hour) }
func BenchmarkChecksTwoCached(b *testing.B)      { benchChecks(b, 2, 0, time.Hour) }
func BenchmarkChecksOneService5ms(b *testing.B)  { benchChecks(b, 1, 5*time.Millisecond, 0) }
func BenchmarkChecksTwoServices5ms(b *testing.B) { benchChecks(b, 2, 5*time.Millisecond, 0) }
func BenchmarkChecksNoneBaseline(b *testing.B)   { benchChecks(b, 0, 0, 0) }
