package gateway

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/refract-gateway/refract/gateway/compress"
	"github.com/refract-gateway/refract/gateway/grpcproxy"
	"github.com/refract-gateway/refract/gateway/transform"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/compat"
	"github.com/refract-gateway/refract/transcode/httpmeta"
	"google.golang.org/grpc/codes"
)

// The request path: edge policies (recover, request id, access log, client
// IP, IP filter, CORS, the guard) → serveMatch (route lookup, 404/405) →
// the route's compiled chain (size limit, auth, authorization, rate limit,
// and later the resilience policies) → serveCall, the upstream call.

// ServeHTTP is the public handler. It never waits on reflection: routes
// come from the last table swapped in.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := grpcproxy.Classify(r); p != grpcproxy.NotRPC {
		g.serveRPC(w, r, p)
		return
	}
	edge := *g.edge.Load()
	if g.compress != nil {
		g.compress.Serve(w, r, edge)
		return
	}
	edge.ServeHTTP(w, r)
}

// serveMatch finds the route and runs its chain.
func (g *Gateway) serveMatch(w http.ResponseWriter, r *http.Request) {
	if grpcproxy.Classify(r) == grpcproxy.GRPC {
		g.serveGRPC(w, r)
		return
	}
	if err := compress.DecodeRequest(r); err != nil {
		writeStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument, err.Error(), nil)
		return
	}
	if g.docs != nil && r.URL.Path == g.docs.Path() {
		g.serveOpenAPI(w, r)
		return
	}
	info := policy.InfoFrom(r.Context())
	var vars []string // the request's own buffer: matching does not allocate
	if info != nil {
		info.Stage = policy.NoStage // past the edge policies: a 404 is nobody's rejection
		vars = info.VarsBuffer()
	}
	tbl := g.tableFor(r)
	path := r.URL.EscapedPath() // derived anew by each call: once here
	m, found := tbl.MatchAppend(r.Method, path, vars)
	if found == router.MethodNotAllowed && policy.WebSocketUpgrade(r) {
		// A WebSocket handshake is a GET: it reaches a streaming method's
		// route whatever HTTP method the route was declared with.
		if wm, ok := matchWebSocket(tbl, path); ok {
			m, found = wm, router.Found
		}
	}
	switch found {
	case router.NotFound:
		if g.composer != nil && g.composer.Serve(w, r) {
			return
		}
		if why := g.undescribed(path); why != "" { // not a routing error: the routes are not known yet
			writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, why, nil)
			return
		}
		writeStatus(w, http.StatusNotFound, codes.NotFound, g.prod.NoRouteMessage(r, path), nil)
		return
	case router.MethodNotAllowed:
		allowed := tbl.Allowed(path)
		if m, _ := tbl.Match(allowed[0], path); m.Value != nil && m.Value.up.o.Compat == compat.GRPCGateway {
			compat.WriteMethodNotAllowed(w) // the dialect of the upstream serving the path
			return
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented,
			fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, path, strings.Join(allowed, ", ")), nil)
		return
	}
	if rejectEscapes(w, path, m.Template) {
		return
	}
	rt := m.Value
	if info != nil {
		info.Route, info.Method, info.Upstream = rt.name, rt.method, rt.up.name
		info.PathVars = m.Vars
		info.Observer = rt.obs
	}
	rt.handler.ServeHTTP(w, r)
}

// Chain wraps h in ref's route policies, for a Composer's route, and
// binds its metrics (Info.Observer); stages names the policies.
func (g *Gateway) Chain(ref RouteRef, h http.Handler) (chain http.Handler, stages []string, obs RouteObserver) {
	chain, stages = compileRoute(g.pol.Route(ref), h)
	method, tmpl, _ := strings.Cut(ref.Route, " ")
	return chain, stages, g.obs.Route(method, tmpl, ref.Upstream, ref.Method)
}

// Invoke serves a gRPC request through its method's route chain, for a Composer's call.
func (g *Gateway) Invoke(w http.ResponseWriter, r *http.Request) { g.serveGRPC(w, r) }

// Invokable reports whether Invoke can call the method at gRPC path
// (/package.Service/Method) on the main table: it is routed, not hidden,
// and no transform keeps it off the gRPC proxy. As of the last route build.
func (g *Gateway) Invokable(path string) bool {
	idx := g.grpcIdx.Load()
	return idx != nil && (*idx)[""][path] != nil
}

// serveCall is the innermost handler of every route's chain: the upstream
// call, unary or streaming.
func (g *Gateway) serveCall(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var vars []string
		if info := policy.InfoFrom(r.Context()); info != nil {
			vars = info.PathVars
			info.Stage = policy.NoStage // past the route's policies
		}
		if why := rt.up.unavailable(); why != "" {
			if rt.unavailableFallback(w) {
				return
			}
			writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, why, rt.binding)
			return
		}
		if b := rt.binding; b.ClientStreaming || b.ServerStreaming || policy.WebSocketUpgrade(r) {
			g.serveStream(w, r, rt, vars)
			return
		}
		g.serveUnary(w, r, rt, vars)
	})
}

// attachPolicies compiles the chain of every route of a freshly compiled
// upstream route set, checks its policy selectors against them, and sorts
// its hidden methods for the admin API. Control path only.
func (g *Gateway) attachPolicies(upstream string, set *upstreamRoutes) {
	sort.Slice(set.hidden, func(i, j int) bool { return set.hidden[i].Method < set.hidden[j].Method })
	refs := make([]RouteRef, 0, len(set.entries))
	first := map[string]*route{} // methods' routes whose gRPC chain is compiled
	kept := set.entries[:0]
	for _, e := range set.entries {
		rt := e.Value
		rt.name = e.Method + " " + e.Template.String()
		rt.method = string(rt.binding.Method.FullName())
		rt.obs = g.obs.Route(e.Method, e.Template.String(), rt.up.name, rt.method)
		ref := RouteRef{Upstream: rt.up.name, Product: g.prod.Of(rt.up.name), Method: rt.method, Route: rt.name,
			Idempotent: transcode.MethodIdempotent(rt.binding.Method), Timeout: rt.up.timeout}
		refs = append(refs, ref)
		var err error
		if rt.xf, err = transform.Compile(g.pol.Transform(ref), rt.binding, &g.xfStats); err != nil {
			set.problems = append(set.problems, fmt.Sprintf("%s: route %s: %v; left unrouted", rt.method, rt.name, err))
			continue
		}
		kept = append(kept, e)
		rt.handler, rt.stages = compileRoute(g.pol.Route(ref), g.serveCall(rt))
		cacheable := httpmeta.Cacheable(rt.binding.HTTPMethod, rt.binding.Method) && !rt.binding.ClientStreaming && !rt.binding.ServerStreaming
		rt.etag, rt.cache = rt.up.o.ETag && cacheable, nil
		if cacheable {
			rt.cache = rt.up.o.Cache
		}
		if first[rt.method] == nil {
			first[rt.method] = rt
			rt.grpc, _ = compileRoute(g.pol.Route(ref), g.serveGRPCCall(rt))
			rt.grpcObs, rt.grpcRef = g.obs.Route(http.MethodPost, rt.binding.FullMethod, rt.up.name, rt.method), "gRPC "+rt.binding.FullMethod
		}
		if rt.xf.HTTPOnly() { // the gRPC proxy would pass messages through unedited
			first[rt.method].grpc = nil
		}
		rt.call = g.compileCall(rt, ref)
		rt.stages = append(append(rt.stages, rt.call.Names()...), rt.xf.Names()...)
		if rt.validator = nil; rt.up.o.Validate {
			rt.validator = g.validation.ForMethod(rt.binding.Method)
		}
		if rt.validator != nil {
			rt.stages = append(rt.stages, "validate")
		}
		rt.bodies = nil
		if bf, ok := g.pol.cur.Load().Policies.(BodyFormatter); ok {
			rt.bodies = bf.BodyFormats(rt.binding, ref)
		}
	}
	set.entries = kept
	set.selectors = g.pol.Selectors(upstream, refs)
}
