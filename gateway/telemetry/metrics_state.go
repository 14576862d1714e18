package telemetry

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/reflection"
)

// stateCollector exports what the gateway already keeps (the descriptor
// cache's stats, discovery's endpoint sets, the routes built, open
// streams, the codec's fast-path counters) as metrics read from its read
// model at scrape time: nothing is counted twice, and a scrape sees the
// same numbers as the admin API.
type stateCollector struct {
	g   *atomic.Pointer[gateway.Gateway] // the one last given to Metrics.Watch
	now func() time.Time

	descState, descInfo, descAge, descFetch, descMethods *prometheus.Desc
	descRefreshes, descFailures                          *prometheus.Desc
	schemaChanges, schemaHeld                            *prometheus.Desc
	endpoints, discoveryStale, routes, streamsOpen       *prometheus.Desc
	endpointsByState                                     *prometheus.Desc
	datacenter                                           *prometheus.Desc
	routesRefused, selectorMisses, selectorPartial       *prometheus.Desc
	fastRequests, fastResponses                          *prometheus.Desc
	transformEdits                                       *prometheus.Desc
	breakerState                                         *prometheus.Desc
}

func newStateCollector(g *atomic.Pointer[gateway.Gateway], now func() time.Time) *stateCollector {
	up := []string{"upstream"}
	return &stateCollector{g: g, now: now,
		descState: prometheus.NewDesc("refract_descriptor_state",
			"1 for the descriptor cache's state of an upstream (pending, ready, stale or failed), 0 for the others.",
			[]string{"upstream", "state"}, nil),
		descInfo: prometheus.NewDesc("refract_descriptor_info",
			"1 for the hash of the descriptor set an upstream's routes are built from.",
			[]string{"upstream", "hash"}, nil),
		descAge: prometheus.NewDesc("refract_descriptor_age_seconds",
			"Seconds since an upstream's descriptors were last fetched successfully.", up, nil),
		descFetch: prometheus.NewDesc("refract_descriptor_fetch_duration_seconds",
			"How long an upstream's latest successful descriptor fetch took.", up, nil),
		descMethods: prometheus.NewDesc("refract_descriptor_methods",
			"Methods in an upstream's cached descriptor set.", up, nil),
		descRefreshes: prometheus.NewDesc("refract_descriptor_refreshes_total",
			"Descriptor fetches finished for an upstream, successful or not.", up, nil),
		descFailures: prometheus.NewDesc("refract_descriptor_refresh_failures_total",
			"Descriptor fetches that failed for an upstream.", up, nil),
		schemaChanges: prometheus.NewDesc("refract_schema_changes_total",
			"New schema versions fetched for an upstream, by whether they break clients of the version before (breaking=\"true\") or not.",
			[]string{"upstream", "breaking"}, nil),
		schemaHeld: prometheus.NewDesc("refract_schema_held",
			"1 while an upstream holds a breaking schema back from its routes, waiting for approval (schema_changes.breaking: hold).", up, nil),
		endpoints: prometheus.NewDesc("refract_upstream_endpoints",
			"Endpoints discovery reports for an upstream (the set being balanced over).", up, nil),
		endpointsByState: prometheus.NewDesc("refract_upstream_endpoints_by_state",
			"An upstream's endpoints by transport state (READY, CONNECTING, TRANSIENT_FAILURE, IDLE) as the gateway's dialer saw them: "+
				"alert on state=\"TRANSIENT_FAILURE\" > 0, and on READY = 0 while endpoints exist.",
			[]string{"upstream", "state"}, nil),
		discoveryStale: prometheus.NewDesc("refract_upstream_discovery_stale",
			"1 while an upstream's discovery source fails and its last known endpoints are served.", up, nil),
		datacenter: prometheus.NewDesc("refract_upstream_datacenter",
			"1 for the Consul datacenter whose instances an upstream listing several datacenters serves (absent while none has passing instances).",
			[]string{"upstream", "datacenter"}, nil),
		routes: prometheus.NewDesc("refract_routes",
			"Routes served from an upstream's descriptors.", up, nil),
		routesRefused: prometheus.NewDesc("refract_routes_refused",
			"Routes of an upstream left out because they collide with another upstream's (see refused in /admin/routes).", up, nil),
		selectorMisses: prometheus.NewDesc("refract_policy_selector_misses",
			"Route-keyed policy entries of an upstream that select no route (their policies apply nowhere), as of its last route build.", up, nil),
		selectorPartial: prometheus.NewDesc("refract_policy_selector_partial",
			"Route-keyed policy entries of an upstream that cover only some routes of a method, as of its last route build.", up, nil),
		breakerState: prometheus.NewDesc("refract_breaker_state",
			"1 for a circuit breaker's state (closed, open or half-open), 0 for the others; breaker names the upstream and, for per-method breakers, the method.",
			[]string{"breaker", "state"}, nil),
		streamsOpen: prometheus.NewDesc("refract_streams_open",
			"Streams in flight (HTTP and WebSocket).", nil, nil),
		fastRequests: prometheus.NewDesc("refract_transcode_requests_total",
			"Unary request bodies transcoded, by path: fast (JSON straight to wire bytes) or fallback (dynamic messages and protojson).",
			[]string{"path"}, nil),
		fastResponses: prometheus.NewDesc("refract_transcode_responses_total",
			"Unary responses transcoded, by path: fast (wire bytes straight to JSON) or fallback (dynamic messages and protojson).",
			[]string{"path"}, nil),
		transformEdits: prometheus.NewDesc("refract_transform_edits_total",
			"Edits made by routes' transforms, by what (request, response fields, body) and path: wire (bytes edited on the fast path), dynamic (the call's dynamic message) or json (the rendered body).",
			[]string{"what", "path"}, nil),
	}
}

// Describe sends every series' description.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descState, c.descInfo, c.descAge, c.descFetch, c.descMethods,
		c.descRefreshes, c.descFailures, c.schemaChanges, c.schemaHeld, c.endpoints, c.endpointsByState, c.discoveryStale, c.datacenter, c.routes, c.streamsOpen,
		c.routesRefused, c.selectorMisses, c.selectorPartial,
		c.fastRequests, c.fastResponses, c.transformEdits, c.breakerState} {
		ch <- d
	}
}

// Collect reads the gateway's state. It runs on the scraping goroutine
// and takes the same short locks the admin API takes.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.g.Load()
	if g == nil {
		return
	}
	now := c.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, s := range g.Cache().Stats() {
		for st := reflection.StatePending; st <= reflection.StateFailed; st++ {
			v := 0.0
			if s.State == st {
				v = 1
			}
			gauge(c.descState, v, s.Upstream, st.String())
		}
		if s.Hash != "" {
			gauge(c.descInfo, 1, s.Upstream, s.Hash)
			gauge(c.descMethods, float64(s.Methods), s.Upstream)
		}
		if !s.FetchedAt.IsZero() {
			gauge(c.descAge, now.Sub(s.FetchedAt).Seconds(), s.Upstream)
			gauge(c.descFetch, s.FetchDuration.Seconds(), s.Upstream)
		}
		counter(c.descRefreshes, float64(s.Refreshes), s.Upstream)
		counter(c.descFailures, float64(s.Failures), s.Upstream)
		counter(c.schemaChanges, float64(s.SchemaChanges[0]), s.Upstream, "false")
		counter(c.schemaChanges, float64(s.SchemaChanges[1]), s.Upstream, "true")
		held := 0.0
		if s.Held != nil {
			held = 1
		}
		gauge(c.schemaHeld, held, s.Upstream)
	}
	for _, u := range g.Upstreams() {
		// Stale while the discovery source fails: it serves its last
		// known set, or none when it failed before its first answer.
		stale := 0.0
		if u.Error != "" {
			stale = 1
		}
		gauge(c.endpoints, float64(len(u.Endpoints)), u.Name)
		byState := map[string]int{"READY": 0, "CONNECTING": 0, "TRANSIENT_FAILURE": 0, "IDLE": 0}
		for _, e := range u.Endpoints {
			byState[e.State]++
		}
		for st, n := range byState {
			gauge(c.endpointsByState, float64(n), u.Name, st)
		}
		gauge(c.discoveryStale, stale, u.Name)
		if u.Datacenter != "" {
			gauge(c.datacenter, 1, u.Name, u.Datacenter)
		}
	}
	refused := map[string]int{}
	for _, r := range g.RefusedRoutes() {
		refused[r.Upstream]++
	}
	for name, n := range g.RouteCounts() {
		gauge(c.routes, float64(n-refused[name]), name)
		gauge(c.routesRefused, float64(refused[name]), name)
	}
	for name, rep := range g.PolicySelectors() {
		gauge(c.selectorMisses, float64(len(rep.Misses)), name)
		gauge(c.selectorPartial, float64(len(rep.Partial)), name)
	}
	for _, b := range g.Breakers() {
		for _, st := range []string{"closed", "open", "half-open"} {
			v := 0.0
			if b.State == st {
				v = 1
			}
			gauge(c.breakerState, v, b.Name, st)
		}
	}
	gauge(c.streamsOpen, float64(g.StreamsOpen()))
	fp := g.FastPathStats()
	counter(c.fastRequests, float64(fp.Requests), "fast")
	counter(c.fastRequests, float64(fp.RequestFallbacks), "fallback")
	counter(c.fastResponses, float64(fp.Responses), "fast")
	counter(c.fastResponses, float64(fp.ResponseFallbacks), "fallback")
	xf := g.TransformStats()
	counter(c.transformEdits, float64(xf.WireRequests), "request", "wire")
	counter(c.transformEdits, float64(xf.DynamicRequests), "request", "dynamic")
	counter(c.transformEdits, float64(xf.WireResponses), "response", "wire")
	counter(c.transformEdits, float64(xf.DynamicResponses), "response", "dynamic")
	counter(c.transformEdits, float64(xf.Bodies), "body", "json")
}
