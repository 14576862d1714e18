package telemetry

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/refract-gateway/refract/gateway"
)

// Point is one step of the short history: the requests answered in that
// step, as a rate, the share of them answered 5xx, and the latency
// quantiles estimated from the duration histogram's buckets (as
// Prometheus' histogram_quantile does). The quantiles are absent for a
// step without requests.
type Point struct {
	At         time.Time `json:"at"`
	PerSecond  float64   `json:"per_second"`
	ErrorRatio float64   `json:"error_ratio"`
	P50        *float64  `json:"p50_seconds,omitempty"`
	P99        *float64  `json:"p99_seconds,omitempty"`
}

// HistoryOptions configure NewHistory.
type HistoryOptions struct {
	// Step is the time between points; default 10 s.
	Step time.Duration
	// Span is how much history is kept; default 15 min.
	Span time.Duration
	// MaxRoutes bounds the routes with a history of their own (the total
	// always has one); default 500. Prometheus is the long-term store.
	MaxRoutes int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// History is a short in-memory history of the request rate, error ratio
// and p50/p99, in total and per route, for the console's sparklines. It
// outlives a config reload: points are computed from the differences
// between two samples of the same Metrics, and a new Metrics (a new
// config's) only starts a new base. Its memory is bounded by Span/Step
// points times MaxRoutes+1 series. Safe for concurrent use.
type History struct {
	step, span time.Duration
	maxRoutes  int
	now        func() time.Time

	mu     sync.Mutex
	base   *Metrics              // the Metrics last sampled
	last   map[string]routeCumul // its totals then, by series key
	lastAt time.Time
	series map[string][]Point // by series key, oldest first
}

// NewHistory returns an empty history.
func NewHistory(o HistoryOptions) *History {
	if o.Step <= 0 {
		o.Step = 10 * time.Second
	}
	if o.Span <= 0 {
		o.Span = 15 * time.Minute
	}
	if o.MaxRoutes <= 0 {
		o.MaxRoutes = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &History{step: o.Step, span: o.Span, maxRoutes: o.MaxRoutes, now: o.Now, series: map[string][]Point{}}
}

// TotalKey is the series key of every request together; a route's key is
// its HTTP method, a space and its template ("* unmatched" for requests
// without a route).
const TotalKey = ""

// Run records a point every Step from the Metrics current returns (the
// current config's), until ctx ends. It blocks.
func (h *History) Run(ctx context.Context, current func() *Metrics) {
	t := time.NewTicker(h.step)
	defer t.Stop()
	h.Record(current())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.Record(current())
		}
	}
}

// Record samples m now and appends a point to every series that moved
// since the previous sample of the same m.
func (h *History) Record(m *Metrics) {
	if m == nil {
		return
	}
	now := h.now()
	cur := m.cumulative()
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, prevAt := h.last, h.lastAt
	h.last, h.lastAt = cur, now
	if h.base != m {
		h.base = m // a new config's metrics start from zero: a new base
		return
	}
	dt := now.Sub(prevAt).Seconds()
	if dt <= 0 {
		return
	}
	for key, c := range cur {
		p, ok := prev[key]
		if !ok {
			p = routeCumul{buckets: make([]float64, len(c.buckets))}
		}
		if _, has := h.series[key]; !has && key != TotalKey && len(h.series) > h.maxRoutes {
			continue
		}
		h.series[key] = append(h.series[key], c.pointSince(p, now, dt))
	}
	keep := now.Add(-h.span)
	for key, pts := range h.series {
		i := 0
		for i < len(pts) && pts[i].At.Before(keep) {
			i++
		}
		switch {
		case i == len(pts):
			delete(h.series, key)
		case i > 0:
			h.series[key] = append(pts[:0:0], pts[i:]...)
		}
	}
}

// HistoryView is the history as GET /admin/stats/history serves it.
type HistoryView struct {
	StepSeconds float64            `json:"step_seconds"`
	SpanSeconds float64            `json:"span_seconds"`
	Series      map[string][]Point `json:"series"`
}

// View copies the history out.
func (h *History) View() HistoryView {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := HistoryView{StepSeconds: h.step.Seconds(), SpanSeconds: h.span.Seconds(), Series: make(map[string][]Point, len(h.series))}
	for k, pts := range h.series {
		out.Series[k] = append([]Point(nil), pts...)
	}
	return out
}

// Annotate sets the Recent point of st's totals and routes: their last
// step, when it is at most two steps old.
func (h *History) Annotate(st *Stats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	recent := func(key string) *Point {
		pts := h.series[key]
		if len(pts) == 0 || h.now().Sub(pts[len(pts)-1].At) > 2*h.step {
			return nil
		}
		p := pts[len(pts)-1]
		return &p
	}
	st.Requests.Recent = recent(TotalKey)
	for i := range st.Routes {
		st.Routes[i].Recent = recent(st.Routes[i].Method + " " + st.Routes[i].Route)
	}
}

// routeCumul is a series' totals at one sample: requests, 5xx answers
// and the duration histogram's cumulative bucket counts.
type routeCumul struct {
	requests, errors float64
	bounds           []float64 // upper bounds, +Inf excluded
	buckets          []float64 // cumulative counts per bound, then +Inf
}

// pointSince is the point of the step from p to c.
func (c routeCumul) pointSince(p routeCumul, at time.Time, dt float64) Point {
	pt := Point{At: at.UTC()}
	n := c.requests - p.requests
	if n <= 0 {
		return pt
	}
	pt.PerSecond = n / dt
	pt.ErrorRatio = math.Max(0, (c.errors-p.errors)/n)
	delta := make([]float64, len(c.buckets))
	for i := range c.buckets {
		if i < len(p.buckets) {
			delta[i] = c.buckets[i] - p.buckets[i]
		} else {
			delta[i] = c.buckets[i]
		}
	}
	if q, ok := quantile(0.5, c.bounds, delta); ok {
		pt.P50 = &q
	}
	if q, ok := quantile(0.99, c.bounds, delta); ok {
		pt.P99 = &q
	}
	return pt
}

// quantile estimates the q-quantile from cumulative bucket counts (the
// last one +Inf), interpolating linearly within the bucket, as
// Prometheus' histogram_quantile does; a rank in +Inf answers the
// highest finite bound.
func quantile(q float64, bounds, cum []float64) (float64, bool) {
	if len(cum) == 0 || cum[len(cum)-1] <= 0 {
		return 0, false
	}
	rank := q * cum[len(cum)-1]
	lower, below := 0.0, 0.0
	for i, b := range bounds {
		if cum[i] >= rank {
			in := cum[i] - below
			if in <= 0 {
				return b, true
			}
			return lower + (b-lower)*(rank-below)/in, true
		}
		lower, below = b, cum[i]
	}
	if len(bounds) == 0 {
		return 0, false
	}
	return bounds[len(bounds)-1], true
}

// cumulative reads the totals of every route series and of all of them.
func (m *Metrics) cumulative() map[string]routeCumul {
	out := map[string]routeCumul{}
	key := func(route, method string) string {
		if route == gateway.UnmatchedRoute {
			method = "*"
		}
		return method + " " + route
	}
	total := routeCumul{}
	for _, mt := range collectMetrics(m.requests) {
		l := labels(mt)
		k := key(l["route"], l["method"])
		c := out[k]
		n := mt.GetCounter().GetValue()
		c.requests += n
		total.requests += n
		if code := l["code"]; len(code) == 3 && code[0] == '5' {
			c.errors += n
			total.errors += n
		}
		out[k] = c
	}
	for _, mt := range collectMetrics(m.duration) {
		l := labels(mt)
		k := key(l["route"], l["method"])
		c := out[k]
		hist := mt.GetHistogram()
		bs := hist.GetBucket()
		if c.bounds == nil {
			c.bounds = make([]float64, 0, len(bs))
			c.buckets = make([]float64, len(bs)+1)
			for _, b := range bs {
				c.bounds = append(c.bounds, b.GetUpperBound())
			}
		}
		for i, b := range bs {
			if i < len(c.bounds) {
				c.buckets[i] += float64(b.GetCumulativeCount())
			}
		}
		c.buckets[len(c.bounds)] += float64(hist.GetSampleCount())
		out[k] = c
		if total.bounds == nil {
			total.bounds = c.bounds
			total.buckets = make([]float64, len(c.buckets))
		}
		for i, b := range bs {
			if i < len(total.bounds) {
				total.buckets[i] += float64(b.GetCumulativeCount())
			}
		}
		total.buckets[len(total.bounds)] += float64(hist.GetSampleCount())
	}
	out[TotalKey] = total
	return out
}
