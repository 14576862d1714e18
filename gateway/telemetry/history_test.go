package telemetry

import (
	"math"
	"strconv"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{0.01, 0.1, 1}
	for _, c := range []struct {
		q    float64
		cum  []float64
		want float64
		ok   bool
	}{
		{0.5, []float64{0, 0, 0, 0}, 0, false},
		{0.5, []float64{10, 10, 10, 10}, 0.005, true},             // half-way in the first bucket
		{0.5, []float64{0, 100, 100, 100}, 0.055, true},           // half-way between 0.01 and 0.1
		{0.99, []float64{50, 99, 100, 100}, 0.1, true},            // the 99th of 100 ends the second bucket
		{0.99, []float64{0, 0, 0, 10}, 1, true},                   // in +Inf: the highest finite bound
		{0.5, []float64{0, 0, 4, 4}, 0.1 + (1-0.1)*(2.0/4), true}, // interpolated in the third
	} {
		got, ok := quantile(c.q, bounds, c.cum)
		if ok != c.ok || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v %v, want %v %v", c.q, c.cum, got, ok, c.want, c.ok)
		}
	}
}

// TestHistory feeds a real Metrics through two steps and a config
// reload: each point holds that step's rate, error share and quantiles,
// and a new Metrics starts a new base instead of a negative step.
func TestHistory(t *testing.T) {
	clock := time.Unix(1000, 0)
	now := func() time.Time { return clock }
	m, err := NewMetrics(MetricsOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHistory(HistoryOptions{Step: 10 * time.Second, Span: 30 * time.Second, Now: now})
	h.Record(m) // the base
	rm := m.Route("GET", "/v1/books", "library", "library.v1.LibraryService.ListBooks")
	for range 18 {
		rm.Answered(200, 3*time.Millisecond, 0, 10)
	}
	rm.Answered(503, 40*time.Millisecond, 0, 10)
	rm.Answered(503, 40*time.Millisecond, 0, 10)
	clock = clock.Add(10 * time.Second)
	h.Record(m)

	v := h.View()
	pts := v.Series["GET /v1/books"]
	if len(pts) != 1 || pts[0].PerSecond != 2 || pts[0].ErrorRatio != 0.1 || pts[0].P50 == nil || pts[0].P99 == nil {
		t.Fatalf("route points %+v", pts)
	}
	if p50, p99 := *pts[0].P50, *pts[0].P99; p50 <= 0.0025 || p50 > 0.005 || p99 <= 0.025 || p99 > 0.05 {
		t.Errorf("p50 %v (want in the 2.5–5 ms bucket), p99 %v (want in the 25–50 ms bucket)", p50, p99)
	}
	if tot := v.Series[TotalKey]; len(tot) != 1 || tot[0].PerSecond != 2 {
		t.Fatalf("total points %+v", tot)
	}

	// A quiet step: a point without quantiles.
	clock = clock.Add(10 * time.Second)
	h.Record(m)
	if pts := h.View().Series["GET /v1/books"]; len(pts) != 2 || pts[1].PerSecond != 0 || pts[1].P50 != nil {
		t.Fatalf("quiet step %+v", pts)
	}
	var st Stats
	st.Routes = []RouteStats{{Method: "GET", Route: "/v1/books"}}
	h.Annotate(&st)
	if st.Requests.Recent == nil || st.Routes[0].Recent == nil || st.Routes[0].Recent.PerSecond != 0 {
		t.Fatalf("annotate %+v %+v", st.Requests.Recent, st.Routes[0].Recent)
	}

	// A reload: the new config's Metrics counts from zero.
	m2, err := NewMetrics(MetricsOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(10 * time.Second)
	h.Record(m2)
	if pts := h.View().Series["GET /v1/books"]; len(pts) != 2 {
		t.Fatalf("a new Metrics added a point: %+v", pts)
	}
	// Past the span, old points go.
	clock = clock.Add(40 * time.Second)
	h.Record(m2)
	if pts, ok := h.View().Series["GET /v1/books"]; ok {
		t.Fatalf("points older than the span kept: %+v", pts)
	}
}

// BenchmarkHistoryRecord is one step of the history over 200 routes with
// traffic: what the sampler costs every 10 s.
func BenchmarkHistoryRecord(b *testing.B) {
	clock := time.Unix(1000, 0)
	m, err := NewMetrics(MetricsOptions{Now: func() time.Time { return clock }})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		rm := m.Route("GET", "/v1/r"+strconv.Itoa(i), "up", "pkg.S.M"+strconv.Itoa(i))
		rm.Answered(200, time.Millisecond, 0, 1)
		rm.Answered(503, 30*time.Millisecond, 0, 1)
	}
	h := NewHistory(HistoryOptions{Now: func() time.Time { return clock }})
	b.ReportAllocs()
	for b.Loop() {
		clock = clock.Add(10 * time.Second)
		h.Record(m)
	}
}
