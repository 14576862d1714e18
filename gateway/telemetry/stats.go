package telemetry

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/transform"
	"github.com/refract-gateway/refract/transcode"
)

// Stats is the gateway at a glance, for the dashboard (GET /admin/stats):
// totals and rates per route computed from the metrics, upstreams
// with their endpoints and descriptor cache, policy rejections and the
// fast-path counters. Rates are per second over the last ten seconds or
// so (since the previous sample when polls are further apart); zero on a
// first call.
type Stats struct {
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// Instance is the host name; Version the gateway's build version.
	Instance      string `json:"instance"`
	Version       string `json:"version"`
	ConfigVersion string `json:"config_version,omitempty"`
	// Problems is what is wrong right now, worst first: upstreams or
	// endpoints down, discovery failing, descriptor fetches failing,
	// breakers open, the route build or a config reload failed.
	Problems   []Problem         `json:"problems"`
	Requests   RequestStats      `json:"requests"`
	Routes     []RouteStats      `json:"routes"`
	Upstreams  []UpstreamStats   `json:"upstreams"`
	Rejections map[string]uint64 `json:"policy_rejections"`
	// BuildError is the last route build's error, if it failed.
	BuildError string                     `json:"build_error,omitempty"`
	FastPath   transcode.FastPathSnapshot `json:"fast_path"`
	// Transform counts the edits routes' transforms made, by path.
	Transform transform.Snapshot `json:"transform"`
	// Breakers are the circuit breakers routes use, with their states.
	Breakers []gateway.BreakerInfo `json:"breakers"`
}

// RequestStats are the totals over every route, unmatched requests
// included.
type RequestStats struct {
	Total        uint64  `json:"total"`
	ServerErrors uint64  `json:"server_errors"` // 5xx
	PerSecond    float64 `json:"per_second"`
	InFlight     int64   `json:"in_flight"`
	StreamsOpen  int     `json:"streams_open"`
	// Recent is the last step of the history (rate, error ratio,
	// p50/p99), when the history has one.
	Recent *Point `json:"recent,omitempty"`
}

// RouteStats is one route's traffic. The unmatched pseudo-route
// (route "unmatched", method "*") sums requests answered without a route.
type RouteStats struct {
	Method       string  `json:"method"`
	Route        string  `json:"route"`
	Upstream     string  `json:"upstream,omitempty"`
	GRPCMethod   string  `json:"grpc_method,omitempty"`
	Requests     uint64  `json:"requests"`
	ClientErrors uint64  `json:"client_errors"` // 4xx
	ServerErrors uint64  `json:"server_errors"` // 5xx
	PerSecond    float64 `json:"per_second"`
	// Streaming is server, client or bidi; empty for unary routes.
	Streaming string `json:"streaming,omitempty"`
	// Policies are the policies attached to the route.
	Policies []string `json:"policies,omitempty"`
	// FastPath says whether the route is transcoded on the fast path.
	FastPath *gateway.FastPathInfo `json:"fast_path,omitempty"`
	// Transcoded counts the route's unary requests by how their JSON
	// became the upstream's request: fast (wire bytes directly) or
	// fallback (a dynamic message). FastPathShare is the share (0 to 1) of them that ran on
	// the fast path both ways: the fast ones, when the route renders
	// responses on it too; absent before the first.
	Transcoded    *TranscodedStats `json:"transcoded,omitempty"`
	FastPathShare *float64         `json:"fast_path_share,omitempty"`
	// Breaker is the state of the route's circuit breaker; empty without.
	Breaker string `json:"breaker,omitempty"`
	// GRPCCodes counts the upstream calls of the route's gRPC method by
	// gRPC code (every route of the method together; each retry counts).
	GRPCCodes map[string]uint64 `json:"grpc_codes,omitempty"`
	// Recent is the route's last history step, when there is one.
	Recent *Point `json:"recent,omitempty"`
}

// TranscodedStats are a route's unary requests by transcoding path.
type TranscodedStats struct {
	Fast     uint64 `json:"fast"`
	Fallback uint64 `json:"fallback"`
}

// UpstreamStats is one upstream's discovery and descriptor state.
type UpstreamStats struct {
	Name      string `json:"name"`
	Source    string `json:"source"`
	Discovery string `json:"discovery"`
	// Error and Since: why and since when discovery fails, or when the
	// endpoint set last arrived.
	Error string    `json:"error,omitempty"`
	Since time.Time `json:"since,omitzero"`
	// Connectivity is grpc-go's state of the upstream's connection across
	// its endpoints: IDLE, CONNECTING, READY, TRANSIENT_FAILURE.
	Connectivity string `json:"connectivity"`
	HealthCheck  bool   `json:"health_check"`
	// Endpoints are what discovery reports, each with its transport
	// state and last error with their times.
	Endpoints   []gateway.EndpointInfo `json:"endpoints"`
	Routes      int                    `json:"routes"`
	Descriptors DescriptorStats        `json:"descriptors"`
}

// DescriptorStats is an upstream's descriptor cache entry.
type DescriptorStats struct {
	State       string    `json:"state"`
	Hash        string    `json:"hash,omitempty"`
	AgeSeconds  float64   `json:"age_seconds"`
	FetchedAt   time.Time `json:"fetched_at,omitzero"`
	Endpoint    string    `json:"endpoint,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Refreshes   uint64    `json:"refreshes"`
	Failures    uint64    `json:"failures"`
	Services    []string  `json:"services"`
	Methods     int       `json:"methods"`
}

// Stats gathers the dashboard's view of the gateway given to Watch (only
// the metrics' part before Watch). Admin path: it reads the metrics and
// the gateway's read model, which takes the control path's locks briefly.
// Safe for concurrent use.
func (m *Metrics) Stats() Stats {
	now := m.now()
	out := Stats{Time: now.UTC(), UptimeSeconds: now.Sub(m.started).Seconds(), ConfigVersion: m.ConfigVersion(),
		Instance: m.instance, Version: m.version, Problems: []Problem{}, Breakers: []gateway.BreakerInfo{},
		Rejections: map[string]uint64{}, Routes: []RouteStats{}, Upstreams: []UpstreamStats{}}
	g := m.gw.Load()
	if g != nil {
		out.FastPath, out.Transform = g.FastPathStats(), g.TransformStats()
		if err := g.BuildError(); err != nil {
			out.BuildError = err.Error()
		}
	}

	// Totals per route from the requests counter: one pass over its series.
	type key struct{ method, route string }
	counts := map[key]*RouteStats{}
	totals := map[string]float64{}
	for _, mt := range collectMetrics(m.requests) {
		l := labels(mt)
		k := key{l["method"], l["route"]}
		if l["route"] == gateway.UnmatchedRoute {
			k.method = "*"
		}
		rs := counts[k]
		if rs == nil {
			rs = &RouteStats{Method: k.method, Route: k.route}
			counts[k] = rs
		}
		n := uint64(mt.GetCounter().GetValue())
		rs.Requests += n
		out.Requests.Total += n
		code, _ := strconv.Atoi(l["code"])
		switch {
		case code >= 500:
			rs.ServerErrors += n
			out.Requests.ServerErrors += n
		case code >= 400:
			rs.ClientErrors += n
		}
	}
	for k, rs := range counts {
		totals[k.method+" "+k.route] = float64(rs.Requests)
	}
	totals[""] = float64(out.Requests.Total)
	rates := m.rates.sample(now, totals)
	out.Requests.PerSecond = rates[""]
	var gm dto.Metric
	if err := m.inFlight.Write(&gm); err == nil {
		out.Requests.InFlight = int64(gm.GetGauge().GetValue())
	}

	// Every served route is listed, with or without traffic.
	var served []gateway.RouteInfo
	breakers := map[string]string{} // name → worst state
	if g != nil {
		served = g.Routes()
		out.Requests.StreamsOpen = g.StreamsOpen()
		out.Breakers = g.Breakers()
		for _, b := range out.Breakers {
			if breakerRank(b.State) >= breakerRank(breakers[b.Name]) {
				breakers[b.Name] = b.State
			}
		}
	}
	codes := m.callCodes()
	transcoded := map[key]*TranscodedStats{}
	for _, mt := range collectMetrics(m.transcoded) {
		l := labels(mt)
		k := key{l["method"], l["route"]}
		ts := transcoded[k]
		if ts == nil {
			ts = &TranscodedStats{}
			transcoded[k] = ts
		}
		if n := uint64(mt.GetCounter().GetValue()); l["path"] == "fast" {
			ts.Fast += n
		} else {
			ts.Fallback += n
		}
	}
	for _, ri := range served {
		k := key{ri.HTTPMethod, ri.Path}
		rs := counts[k]
		if rs == nil {
			rs = &RouteStats{Method: k.method, Route: k.route}
		}
		delete(counts, k)
		rs.Upstream, rs.GRPCMethod = ri.Upstream, ri.GRPCMethod
		rs.Streaming, rs.Policies = ri.Streaming, ri.Policies
		fp := ri.FastPath
		rs.FastPath = &fp
		if ts := transcoded[k]; ts != nil && ts.Fast+ts.Fallback > 0 {
			share := 0.0
			if fp.Response {
				share = float64(ts.Fast) / float64(ts.Fast+ts.Fallback)
			}
			rs.Transcoded, rs.FastPathShare = ts, &share
		}
		rs.GRPCCodes = codes[ri.Upstream+" "+ri.GRPCMethod]
		up := fmt.Sprintf("upstream %q", ri.Upstream)
		if st, ok := breakers[up+" method "+ri.GRPCMethod]; ok {
			rs.Breaker = st
		} else if st, ok := breakers[up]; ok {
			rs.Breaker = st
		}
		rs.PerSecond = rates[k.method+" "+k.route]
		out.Routes = append(out.Routes, *rs)
	}
	// Routes no longer served keep their counts until the process ends;
	// only the unmatched pseudo-route is worth showing among them.
	if rs := counts[key{"*", gateway.UnmatchedRoute}]; rs != nil {
		rs.PerSecond = rates["* "+gateway.UnmatchedRoute]
		out.Routes = append(out.Routes, *rs)
	}

	for _, mt := range collectMetrics(m.rejections) {
		if v := uint64(mt.GetCounter().GetValue()); v > 0 {
			out.Rejections[labels(mt)["policy"]] = v
		}
	}

	if g == nil {
		return out
	}
	desc := map[string]DescriptorStats{}
	for _, s := range g.Cache().Stats() {
		d := DescriptorStats{State: s.State.String(), Hash: s.Hash, FetchedAt: s.FetchedAt, Endpoint: s.Endpoint,
			LastError: s.LastError, LastErrorAt: s.LastErrorAt, Refreshes: s.Refreshes, Failures: s.Failures,
			Services: s.Services, Methods: s.Methods}
		if d.Services == nil {
			d.Services = []string{}
		}
		if !s.FetchedAt.IsZero() {
			d.AgeSeconds = now.Sub(s.FetchedAt).Seconds()
		}
		desc[s.Upstream] = d
	}
	routesPer := map[string]int{}
	for _, rs := range out.Routes {
		if rs.Upstream != "" {
			routesPer[rs.Upstream]++
		}
	}
	for _, u := range g.Upstreams() {
		us := UpstreamStats{Name: u.Name, Source: u.Source, Discovery: u.Discovery, Error: u.Error, Since: u.Since,
			Connectivity: u.Connectivity, HealthCheck: u.HealthCheck, Endpoints: u.Endpoints,
			Routes: routesPer[u.Name], Descriptors: desc[u.Name]}
		if us.Descriptors.State == "" {
			us.Descriptors = DescriptorStats{State: "pending", Services: []string{}}
		}
		out.Upstreams = append(out.Upstreams, us)
	}
	out.Problems = m.problems(now, &out)
	return out
}

// collectMetrics reads a collector's series.
func collectMetrics(c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var out []*dto.Metric
	for pm := range ch {
		var d dto.Metric
		if err := pm.Write(&d); err == nil {
			out = append(out, &d)
		}
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// rateWindow keeps recent samples of counter totals, so that rates are
// computed on the server whoever polls, and however many dashboards do.
// Safe for concurrent use.
type rateWindow struct {
	mu      sync.Mutex
	samples []rateSample // oldest first, at least rateStep apart
}

type rateSample struct {
	at     time.Time
	totals map[string]float64
}

const (
	rateSpan = 10 * time.Second // rates cover about this much time
	rateStep = time.Second      // samples are kept at most this often
)

// sample records totals taken at now and returns each key's rate per
// second since the oldest sample kept within rateSpan (or, when polls are
// sparse, the newest one older than that). Keys without a base get 0.
func (w *rateWindow) sample(now time.Time, totals map[string]float64) map[string]float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Keep one sample at or beyond the span as the base.
	for len(w.samples) > 1 && !w.samples[1].at.After(now.Add(-rateSpan)) {
		w.samples = w.samples[1:]
	}
	rates := make(map[string]float64, len(totals))
	if len(w.samples) > 0 {
		base := w.samples[0]
		if dt := now.Sub(base.at).Seconds(); dt > 0 {
			for k, v := range totals {
				if d := v - base.totals[k]; d > 0 {
					rates[k] = d / dt
				}
			}
		}
	}
	if n := len(w.samples); n == 0 || now.Sub(w.samples[n-1].at) >= rateStep {
		w.samples = append(w.samples, rateSample{at: now, totals: totals})
	}
	return rates
}

// callCodes sums the upstream calls counter by upstream and gRPC method
// ("library library.v1.LibraryService.GetBook"), then gRPC code.
func (m *Metrics) callCodes() map[string]map[string]uint64 {
	out := map[string]map[string]uint64{}
	for _, mt := range collectMetrics(m.calls) {
		l := labels(mt)
		k := l["upstream"] + " " + l["grpc_method"]
		if out[k] == nil {
			out[k] = map[string]uint64{}
		}
		out[k][l["grpc_code"]] += uint64(mt.GetCounter().GetValue())
	}
	return out
}
