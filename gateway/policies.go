package gateway

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/gateway/transform"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/bodyformat"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/metadata"
)

// Policies are the HTTP stages and call plans of a gateway's routes, as
// its maker configured them. The gateway asks for a route's stages and
// plan when it compiles the route (never per request), so an
// implementation resolves everything there; state that must outlive route
// rebuilds (rate-limit buckets, breakers, retry budgets) lives in it.
// Its methods may be called concurrently.
type Policies interface {
	// Edge is the stages that run before the route is matched (recover,
	// request ID, access log, client IP, IP filter, CORS …); the gateway
	// puts its own guard of Options.Limits at policy.StageGuard.
	Edge() policy.Set
	// Route is the stages of one route's chain, around the upstream call.
	Route(r RouteRef) policy.Set
	// Call is one route's call plan: a new value the route keeps; nil
	// makes plain calls with the upstream's timeout.
	Call(r RouteRef) *CallPlan
	// Transform is one route's transform spec; nil: none.
	Transform(r RouteRef) *transform.Spec
	// Identity writes into md what authentication established in info
	// (nil when none ran), after dropping what the client sent under the
	// same keys. It runs on the request path.
	Identity(md metadata.MD, info *policy.Info)
	// Selectors checks an upstream's route-keyed policy selectors against
	// the routes just compiled from its descriptors (only a build can tell
	// what they select) and reports, and logs, what they miss. Control path.
	Selectors(upstream string, routes []RouteRef) SelectorReport
	// Breakers lists the circuit breakers of the call plans, sorted by
	// name, for the admin API.
	Breakers() []BreakerInfo
	// Run does background work (key refreshes …) until ctx ends.
	Run(ctx context.Context)
	// Close releases connections (a Redis client, an authorizer's); called
	// once, after Run returned.
	Close() error
}

// BodyFormatter is implemented by Policies under which some routes take
// form, multipart or XML bodies: asked at route compile, nil for JSON only.
type BodyFormatter interface {
	BodyFormats(b *transcode.Binding, r RouteRef) *bodyformat.Route
}

// SelectorReport is an upstream's route policy entries that select no
// route (Misses) or only some routes of a method (Partial).
type SelectorReport struct {
	Misses  []string `json:"misses,omitempty"`
	Partial []string `json:"partial,omitempty"`
}

// RouteRef names a route for its policies.
type RouteRef struct {
	Upstream string // the upstream's name
	Product  string // the upstream's product; "" for none
	Method   string // the gRPC method's full name, library.v1.LibraryService.GetShelf
	Route    string // "GET /v1/{name=shelves/*}", as mounted
	// Idempotent is the method's idempotency_level (IDEMPOTENT or
	// NO_SIDE_EFFECTS): whether retries are safe when not configured.
	Idempotent bool
	// Timeout is the upstream's call timeout.
	Timeout time.Duration
}

// BreakerInfo is one circuit breaker's state, for the admin API.
type BreakerInfo struct {
	Name  string `json:"name"`  // upstream "library" [method …]
	State string `json:"state"` // closed, open or half-open
}

// Breakers lists the circuit breakers routes use, sorted by name. Safe
// for concurrent use.
func (g *Gateway) Breakers() []BreakerInfo { return g.pol.Breakers() }

// noPolicies is the Policies of a gateway given none: panics are
// recovered and the client's address is its peer's; nothing else.
type noPolicies struct{ log zerolog.Logger }

func (n noPolicies) Edge() policy.Set {
	var s policy.Set
	s.Put(policy.StageRecover, policy.Recover(n.log))
	s.Put(policy.StageClientIP, policy.ClientIP(nil))
	return s
}
func (noPolicies) Route(RouteRef) policy.Set                   { return policy.Set{} }
func (noPolicies) Call(RouteRef) *CallPlan                     { return nil }
func (noPolicies) Transform(RouteRef) *transform.Spec          { return nil }
func (noPolicies) Identity(metadata.MD, *policy.Info)          {}
func (noPolicies) Selectors(string, []RouteRef) SelectorReport { return SelectorReport{} }
func (noPolicies) Breakers() []BreakerInfo                     { return []BreakerInfo{} }
func (noPolicies) Run(context.Context)                         {}
func (noPolicies) Close() error                                { return nil }

// edgeHandler wraps next (the route match) in set, the stages that run
// before a route is known, the gateway's own guard of limits l last among them,
// and those in observe (the metrics).
func edgeHandler(set policy.Set, l Limits, next http.Handler, observe func(http.Handler) http.Handler) http.Handler {
	set.Put(policy.StageGuard, policy.Guard(policy.GuardOptions{URLBytes: l.URLBytes, HeaderBytes: l.HeaderBytes,
		PerClient: l.PerClient, Underscores: l.Underscores}))
	// State first: serveMatch hands the path variables to the route's
	// chain through the request's Info, whichever policies are on.
	return policy.State()(observe(policy.Compile(set.Marked(), next)))
}

// compileRoute assembles one route's chain of stages set around final
// (the upstream call) and names the stages it holds.
func compileRoute(set policy.Set, final http.Handler) (http.Handler, []string) {
	var names []string
	for _, s := range set.Stages() {
		names = append(names, s.String())
	}
	return policy.Compile(set.Marked(), final), names
}

// livePolicies are a gateway's current Policies, which Update replaces:
// the request path and route builds read them with one atomic load. Each
// Policies runs its background work from start until it is replaced.
type livePolicies struct {
	cur atomic.Pointer[runningPolicies]
}

type runningPolicies struct {
	Policies
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *livePolicies) Edge() policy.Set            { return l.cur.Load().Edge() }
func (l *livePolicies) Route(r RouteRef) policy.Set { return l.cur.Load().Route(r) }
func (l *livePolicies) Call(r RouteRef) *CallPlan   { return l.cur.Load().Call(r) }
func (l *livePolicies) Identity(md metadata.MD, info *policy.Info) {
	l.cur.Load().Identity(md, info)
}
func (l *livePolicies) Selectors(upstream string, routes []RouteRef) SelectorReport {
	return l.cur.Load().Selectors(upstream, routes)
}
func (l *livePolicies) Breakers() []BreakerInfo              { return l.cur.Load().Breakers() }
func (l *livePolicies) Transform(r RouteRef) *transform.Spec { return l.cur.Load().Transform(r) }

// start makes p current, runs its background work and rebuilds the edge
// handler over it. It returns the Policies it replaced (nil at first),
// still running: stop them once no route uses them.
func (l *livePolicies) start(g *Gateway, p Policies) *runningPolicies {
	ctx, cancel := context.WithCancel(g.ctx)
	rp := &runningPolicies{Policies: p, cancel: cancel, done: make(chan struct{})}
	g.wg.Add(1)
	go func() { defer g.wg.Done(); defer close(rp.done); p.Run(ctx) }()
	old := l.cur.Swap(rp)
	edge := edgeHandler(p.Edge(), g.limits, http.HandlerFunc(g.serveMatch), g.observed)
	for _, mw := range g.middleware {
		edge = mw(edge)
	}
	g.edge.Store(&edge)
	return old
}

// stop ends rp's background work and closes it; nil: the current ones.
func (l *livePolicies) stop(rp *runningPolicies) error {
	if rp == nil {
		rp = l.cur.Load()
	}
	rp.cancel()
	<-rp.done
	return rp.Close()
}
