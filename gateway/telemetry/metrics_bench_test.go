package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/refract-gateway/refract/policy"
	"google.golang.org/grpc/codes"
)

// BenchmarkMetricsObserve is the metrics' cost per request alone: the
// hooks the gateway calls on a request (in flight, the route's bound
// series for the upstream call and the answer) around a handler that does
// nothing, against the same chain without them.
func BenchmarkMetricsObserve(b *testing.B) {
	m, err := NewMetrics(MetricsOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ro := m.Route("GET", "/v1/{name=shelves/*/books/*}", "library", "library.v1.LibraryService.GetBook")
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"name":"shelves/1/books/1"}`))
	})
	observed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := policy.InfoFrom(r.Context())
		m.InFlight(1)
		defer func() {
			m.InFlight(-1)
			ro.Answered(info.Status(), time.Since(info.Start), info.BytesIn(), info.BytesOut())
		}()
		final.ServeHTTP(w, r)
		ro.Called(codes.OK)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"without", policy.State()(final)},
		{"with", policy.State()(observed)},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v1/shelves/1/books/1", nil)
			w := discardWriter{http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the handlers, not a recorder's buffer.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
