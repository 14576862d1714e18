package telemetry

import (
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/refract-gateway/refract/gateway"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
)

// Metrics is one Gateway's Prometheus instrumentation: a registry of its
// own (never the process-wide default, so two gateways in one process do
// not mix), the request-path series it counts as the gateway's Observer,
// and collectors that read the descriptor cache, discovery, open streams
// and the transcoding counters from the gateway's read model at scrape
// time instead of keeping a second copy of that state. Every series is
// named refract_*; docs/operating.md lists them.
// Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	watchOnce sync.Once
	gw        atomic.Pointer[gateway.Gateway] // the gateway Watch reads; nil before

	requests   *prometheus.CounterVec   // route, method, code
	duration   *prometheus.HistogramVec // route, method
	inFlight   prometheus.Gauge
	reqBytes   *prometheus.CounterVec // route, method
	respBytes  *prometheus.CounterVec // route, method
	calls      *prometheus.CounterVec // upstream, grpc_method, grpc_code
	streams    *prometheus.CounterVec // route, method, upstream, grpc_method
	streamEnds *prometheus.CounterVec // upstream, grpc_method, grpc_code
	rejections *prometheus.CounterVec // policy
	transcoded *prometheus.CounterVec // route, method, path (fast, fallback)
	consumers  *consumerCounts
	// checkDecisions (check, outcome) and checkDuration (check) are the
	// named pre-call checks' series.
	checkDecisions *prometheus.CounterVec
	checkDuration  *prometheus.HistogramVec

	// rejectedBy holds the rejections counter of every reason the
	// gateway names (gateway.RejectReasons), bound once; read only.
	rejectedBy               map[string]prometheus.Counter
	reloadsOK, reloadsFailed prometheus.Counter
	configInfo               *prometheus.GaugeVec
	configVersion            atomic.Pointer[string]
	// unmatched holds the unmatched route's series per HTTP method, the
	// last one for every other method token.
	unmatched [numMethods]*routeMetrics
	rates     rateWindow // the stats view's request rates
	// seriesMu guards routeSeries, the routes (template and method) given
	// series of their own; past maxRoutes, routes share OtherRoute's.
	seriesMu    sync.Mutex
	routeSeries map[[2]string]bool
	maxRoutes   int
	handler     http.Handler
	started     time.Time
	// instance and version name this process in the stats view.
	instance, version string
	// openSince is when each breaker was first seen open or half-open,
	// by name, for the problems' since-when; guarded by openMu.
	openMu    sync.Mutex
	openSince map[string]time.Time
}

// numMethods is the number of method label values of unmatched
// requests: the standard methods (methodSlot), then OTHER for any other
// token a client sends.
const numMethods = 10

// methodSlot numbers the standard HTTP methods, 9 (OTHER) for the rest.
func methodSlot(method string) int {
	switch method {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodConnect:
		return 7
	case http.MethodTrace:
		return 8
	}
	return numMethods - 1
}

// latencyBuckets are the request duration histogram's bounds, in seconds:
// from half a millisecond (a fast-path call on loopback) to a minute
// (long streams land in +Inf).
func latencyBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

// MetricsOptions configure NewMetrics.
type MetricsOptions struct {
	// Registry receives the series; default a new registry. Give each
	// Gateway its own: the series of two would clash.
	Registry *prometheus.Registry
	// Now is the clock of uptime, rates and descriptor ages; default
	// time.Now.
	Now func() time.Time
	// MaxRouteSeries bounds the routes (template and HTTP method) with
	// series of their own, so that a backend publishing thousands of
	// methods cannot grow a scrape without bound: later routes count under
	// route="other" (and grpc_method="other"). Default
	// DefaultMaxRouteSeries.
	MaxRouteSeries int
	// Build labels refract_build_info; the zero value reads the running
	// binary's (ReadBuild with nothing set at link time).
	Build Build
	// AccessLogDropped, when set, is the number of access log lines
	// dropped because the log output did not keep up, exported as
	// refract_access_log_dropped_lines_total.
	AccessLogDropped func() float64
	// MaxConsumers bounds the callers (API-key consumers and JWT subjects)
	// counted by name; later ones count together as OtherConsumer.
	// Default DefaultMaxConsumers.
	MaxConsumers int
}

// DefaultMaxRouteSeries is the default MetricsOptions.MaxRouteSeries.
const DefaultMaxRouteSeries = 2000

// OtherRoute is the route label (and gRPC method label) of the routes
// past MetricsOptions.MaxRouteSeries.
const OtherRoute = "other"

// NewMetrics registers a gateway's series, the Go runtime and process
// collectors on the registry. Pass it to gateway.New with
// gateway.WithObserver, then call Watch with the gateway built.
func NewMetrics(o MetricsOptions) (*Metrics, error) {
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxRouteSeries <= 0 {
		o.MaxRouteSeries = DefaultMaxRouteSeries
	}
	if o.Build == (Build{}) {
		o.Build = ReadBuild("", "", "")
	}
	now := o.Now
	m := &Metrics{reg: o.Registry, now: now, started: now(), routeSeries: map[[2]string]bool{}, maxRoutes: o.MaxRouteSeries,
		openSince: map[string]time.Time{}, version: buildVersion()}
	m.instance, _ = os.Hostname()
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_http_requests_total",
		Help: "HTTP requests answered, by route template, HTTP method and status code (route=\"unmatched\" when no route was matched).",
	}, []string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "refract_http_request_duration_seconds",
		Help:    "Time from a request's arrival to the end of its answer, by route template and HTTP method.",
		Buckets: latencyBuckets(),
	}, []string{"route", "method"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "refract_http_requests_in_flight",
		Help: "HTTP requests being served on the public listeners (open streams included).",
	})
	m.reqBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_http_request_bytes_total",
		Help: "Request body bytes read, by route template and HTTP method.",
	}, []string{"route", "method"})
	m.respBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_http_response_bytes_total",
		Help: "Response body bytes written, by route template and HTTP method.",
	}, []string{"route", "method"})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_upstream_calls_total",
		Help: "Unary calls made to upstreams (each retry counts), by upstream, gRPC method and gRPC code.",
	}, []string{"upstream", "grpc_method", "grpc_code"})
	m.streams = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_streams_total",
		Help: "Streams opened to upstreams (HTTP or WebSocket), by route template, HTTP method, upstream and gRPC method.",
	}, []string{"route", "method", "upstream", "grpc_method"})
	m.streamEnds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_streams_ended_total",
		Help: "Upstream streams that ended, by upstream, gRPC method and the gRPC code they ended with (CANCELLED when the client went away).",
	}, []string{"upstream", "grpc_method", "grpc_code"})
	m.transcoded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_transcode_route_requests_total",
		Help: "Unary requests transcoded, by route template, HTTP method and path (fast: JSON straight to wire bytes; fallback: a dynamic message and protojson).",
	}, []string{"route", "method", "path"})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_policy_rejections_total",
		Help: "Requests a policy refused before or instead of the upstream call, by policy.",
	}, []string{"policy"})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_config_reloads_total",
		Help: "Configuration reloads, by result (ok: swapped in; failed: refused, the previous config kept).",
	}, []string{"result"})
	m.configInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "refract_config_info",
		Help: "1 for the version of the configuration being served.",
	}, []string{"version"})

	// Known label values exist from the start at zero, so that rate() and
	// alerts see the first increment.
	m.rejectedBy = map[string]prometheus.Counter{}
	for _, reason := range gateway.RejectReasons() {
		m.rejectedBy[reason] = m.rejections.WithLabelValues(reason)
	}
	m.consumers = newConsumerCounts(o.MaxConsumers)
	m.reloadsOK, m.reloadsFailed = reloads.WithLabelValues("ok"), reloads.WithLabelValues("failed")
	for _, meth := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "OTHER"} {
		m.unmatched[methodSlot(meth)] = m.forRoute(meth, gateway.UnmatchedRoute, "", "")
	}

	cs := []prometheus.Collector{
		m.requests, m.duration, m.inFlight, m.reqBytes, m.respBytes, m.calls, m.streams, m.streamEnds,
		m.rejections, m.transcoded, reloads, m.configInfo, o.Build.collector(), newConsumerCollector(m.consumers),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	cs = append(cs, m.checkSeries()...)
	if o.AccessLogDropped != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "refract_access_log_dropped_lines_total",
			Help: "Access log lines dropped because the log output did not keep up (access_log.queue_lines were waiting).",
		}, o.AccessLogDropped))
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(versionLabeled{g: m.reg, version: m.ConfigVersion}, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
	return m, nil
}

// Watch makes g the gateway whose read model (the descriptor cache,
// discovery, routes, open streams, fast-path counters) is exported at
// scrape time and described by Stats: the gateway built with m as its
// observer. A server that replaces its gateway calls it again with the
// new one; the series counted so far carry on.
func (m *Metrics) Watch(g *gateway.Gateway) error {
	var err error
	m.watchOnce.Do(func() { err = m.reg.Register(newStateCollector(&m.gw, m.now)) })
	if err == nil {
		m.gw.Store(g)
	}
	return err
}

// SetMaxRouteSeries changes MetricsOptions.MaxRouteSeries (a reload):
// routes that have series keep them; new ones get theirs while fewer than
// n routes have some. Safe for concurrent use.
func (m *Metrics) SetMaxRouteSeries(n int) {
	if n <= 0 {
		n = DefaultMaxRouteSeries
	}
	m.seriesMu.Lock()
	m.maxRoutes = n
	m.seriesMu.Unlock()
}

// Registry is the gateway's own registry, for callers that add their
// collectors or gather in process.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats (what
// the admin listener's /metrics answers).
func (m *Metrics) Handler() http.Handler { return m.handler }

// ConfigReloaded counts one configuration reload: ok when the new config
// was validated and swapped in, !ok when it was refused and the previous
// one kept.
func (m *Metrics) ConfigReloaded(ok bool) {
	if ok {
		m.reloadsOK.Inc()
	} else {
		m.reloadsFailed.Inc()
	}
}

// SetConfigVersion makes refract_config_info{version=v} the one series of
// that gauge, at 1 (the previous version's series goes).
func (m *Metrics) SetConfigVersion(v string) {
	// Reset and Set are two steps; a scrape between them sees no version
	// for an instant, which beats two versions at once.
	m.configInfo.Reset()
	m.configInfo.WithLabelValues(v).Set(1)
	m.configVersion.Store(&v)
}

// ConfigVersion is the version last given to SetConfigVersion, or "".
func (m *Metrics) ConfigVersion() string {
	if v := m.configVersion.Load(); v != nil {
		return *v
	}
	return ""
}

// routeMetrics are one route's series with their labels bound, made when
// the route is compiled so that a request only picks counters from
// arrays: no label hashing, no map, no lock on the request path. Status
// and gRPC code counters are bound on first use, so a route shows only the
// codes it answered.
type routeMetrics struct {
	m                    *Metrics
	route, method        string
	upstream, grpcMethod string
	duration             prometheus.Observer
	reqBytes, respBytes  prometheus.Counter
	statuses             [numStatusSlots]atomic.Pointer[prometheus.Counter]
	grpcCodes            [numGRPCCodes]atomic.Pointer[prometheus.Counter]
	streams              prometheus.Counter
	fast, fallback       prometheus.Counter // Transcoded; nil on the unmatched route
}

// numStatusSlots is the number of HTTP statuses whose counters are cached
// per route: those the gateway answers with (statusSlot). Others are
// looked up in the vector.
const numStatusSlots = 17

// numGRPCCodes is the number of gRPC codes, OK to UNAUTHENTICATED.
const numGRPCCodes = 17

func statusSlot(code int) int {
	switch code {
	case 200:
		return 0
	case 201:
		return 1
	case 204:
		return 2
	case 400:
		return 3
	case 401:
		return 4
	case 403:
		return 5
	case 404:
		return 6
	case 405:
		return 7
	case 409:
		return 8
	case 413:
		return 9
	case 415:
		return 10
	case 429:
		return 11
	case 499:
		return 12
	case 500:
		return 13
	case 501:
		return 14
	case 503:
		return 15
	case 504:
		return 16
	}
	return -1
}

// Route binds a route's labels (gateway.Observer). Control path: called
// when routes are compiled. Routes recompiled with the same template
// share the series; past MaxRouteSeries routes, new ones share
// route="other".
func (m *Metrics) Route(method, template, upstream, grpcMethod string) gateway.RouteObserver {
	m.seriesMu.Lock()
	key := [2]string{template, method}
	if !m.routeSeries[key] {
		if len(m.routeSeries) >= m.maxRoutes {
			template, grpcMethod = OtherRoute, OtherRoute
		} else {
			m.routeSeries[key] = true
		}
	}
	m.seriesMu.Unlock()
	return m.forRoute(method, template, upstream, grpcMethod)
}

// Unmatched is the unmatched route's series for a client's method
// (gateway.Observer).
func (m *Metrics) Unmatched(method string) gateway.RouteObserver {
	return m.unmatched[methodSlot(method)]
}

// InFlight moves the requests-in-flight gauge (gateway.Observer).
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(float64(delta)) }

// Rejected counts a refused request under its policy (gateway.Observer).
// The reasons the gateway names are bound up front; another is looked up.
func (m *Metrics) Rejected(reason string) {
	if c := m.rejectedBy[reason]; c != nil {
		c.Inc()
		return
	}
	m.rejections.WithLabelValues(reason).Inc()
}

func (m *Metrics) forRoute(method, template, upstream, grpcMethod string) *routeMetrics {
	rm := &routeMetrics{m: m, route: template, method: method, upstream: upstream, grpcMethod: grpcMethod,
		duration:  m.duration.WithLabelValues(template, method),
		reqBytes:  m.reqBytes.WithLabelValues(template, method),
		respBytes: m.respBytes.WithLabelValues(template, method),
	}
	if upstream != "" {
		rm.streams = m.streams.WithLabelValues(template, method, upstream, grpcMethod)
		rm.fast = m.transcoded.WithLabelValues(template, method, "fast")
		rm.fallback = m.transcoded.WithLabelValues(template, method, "fallback")
	}
	return rm
}

// Answered counts one answered request: status, duration and body bytes.
func (rm *routeMetrics) Answered(status int, elapsed time.Duration, bytesIn, bytesOut int64) {
	rm.status(status).Inc()
	rm.duration.Observe(elapsed.Seconds())
	if bytesIn > 0 {
		rm.reqBytes.Add(float64(bytesIn))
	}
	if bytesOut > 0 {
		rm.respBytes.Add(float64(bytesOut))
	}
}

// status is the requests counter for an HTTP status.
func (rm *routeMetrics) status(code int) prometheus.Counter {
	i := statusSlot(code)
	if i < 0 {
		return rm.m.requests.WithLabelValues(rm.route, rm.method, strconv.Itoa(code))
	}
	if c := rm.statuses[i].Load(); c != nil {
		return *c
	}
	// Two first requests may both bind: WithLabelValues gives both the
	// same child, so either store is right.
	c := rm.m.requests.WithLabelValues(rm.route, rm.method, strconv.Itoa(code))
	rm.statuses[i].Store(&c)
	return c
}

// Called counts one upstream call attempt that ended with code.
func (rm *routeMetrics) Called(code codes.Code) {
	if int(code) >= len(rm.grpcCodes) {
		rm.m.calls.WithLabelValues(rm.upstream, rm.grpcMethod, grpcCodeName(code)).Inc()
		return
	}
	if c := rm.grpcCodes[code].Load(); c != nil {
		(*c).Inc()
		return
	}
	c := rm.m.calls.WithLabelValues(rm.upstream, rm.grpcMethod, grpcCodeName(code))
	rm.grpcCodes[code].Store(&c)
	c.Inc()
}

// StreamOpened counts one stream.
func (rm *routeMetrics) StreamOpened() {
	if rm.streams != nil {
		rm.streams.Inc()
	}
}

// Transcoded counts one unary request by how it was transcoded.
func (rm *routeMetrics) Transcoded(fast bool) {
	switch {
	case rm.fast == nil:
	case fast:
		rm.fast.Inc()
	default:
		rm.fallback.Inc()
	}
}

// StreamEnded counts one upstream stream that ended with code. Streams
// are few next to unary calls, so the label lookup is not cached.
func (rm *routeMetrics) StreamEnded(code codes.Code) {
	if rm.upstream != "" {
		rm.m.streamEnds.WithLabelValues(rm.upstream, rm.grpcMethod, grpcCodeName(code)).Inc()
	}
}

// grpcCodeName is the code as the gRPC spec writes it (NOT_FOUND), the
// form operators grep for in backends' logs: google.rpc.Code's names;
// CODE_n for a number past them.
func grpcCodeName(c codes.Code) string {
	if c > codes.Unauthenticated {
		return "CODE_" + strconv.Itoa(int(c))
	}
	return rpccode.Code(c).String()
}
