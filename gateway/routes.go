package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"sort"

	"buf.build/go/protovalidate"
	"github.com/refract-gateway/refract/gateway/respcache"
	"github.com/refract-gateway/refract/gateway/transform"
	upconn "github.com/refract-gateway/refract/gateway/upstream"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/bodyformat"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// route is the value a router entry carries: everything the request path
// needs, compiled. Immutable.
type route struct {
	up      *upstream
	conn    *grpc.ClientConn // the upstream's, or a subset's during a schema split
	binding *transcode.Binding
	origin  string   // where the rule came from: annotation, config or default
	schemas []string // during a schema split: the schemas conn is restricted to
	// handler is the route's compiled policy chain ending in the upstream
	// call; stages names its policies (attachPolicies).
	handler http.Handler
	stages  []string
	grpc    http.Handler     // the same chain ending in the gRPC proxy; the method's first route only
	grpcObs RouteObserver    // the gRPC path's series (POST /package.Service/Method), with grpc
	grpcRef string           // "gRPC /package.Service/Method", its route in logs
	etag    bool             // responses carry an ETag and answer If-None-Match
	cache   *respcache.Cache // nil: responses are not cached
	call    *CallPlan        // timeout, breaker, retries, fallback, split; nil: a plain call
	xf      *transform.Route // request, response and error edits; nil: none
	subsets []*upconn.Subset // the split's index → subset (compileCall)
	name    string           // "GET /v1/{name=shelves/*}"
	method  string           // the gRPC method's full name, library.v1.LibraryService.GetShelf
	obs     RouteObserver

	// validator checks requests' buf.validate rules; nil: none or off.
	validator protovalidate.Validator
	bodies    *bodyformat.Route // form, multipart and XML bodies; nil: JSON only
}

// HiddenMethod is a reflected method that gets no route, and the rule that
// hid it, for the admin API.
type HiddenMethod struct {
	Method string `json:"method"`
	Rule   string `json:"rule"` // "hide: *.Admin*" or "not in expose"
}

// RouteInfo describes one served route, for the admin API and the CLI.
type RouteInfo struct {
	HTTPMethod string   `json:"http_method"`
	Path       string   `json:"path"`
	Upstream   string   `json:"upstream"`
	Product    string   `json:"product,omitempty"`
	GRPCMethod string   `json:"grpc_method"`
	Body       string   `json:"body,omitempty"`
	Origin     string   `json:"origin"`
	Streaming  string   `json:"streaming,omitempty"` // server, client or bidi; empty for unary
	Policies   []string `json:"policies,omitempty"`
	// RestrictedTo lists, while the upstream's endpoints serve different
	// schemas, the schema hashes whose endpoints this route is sent to.
	RestrictedTo []string `json:"restricted_to,omitempty"`
	// FastPath tells whether requests and responses are transcoded
	// directly between JSON and wire bytes, and if not, why protojson
	// serves them.
	FastPath FastPathInfo `json:"fast_path"`
}

// FastPathInfo is a route's transcoding path (see transcode.Binding.FastPath).
type FastPathInfo = transcode.FastPathInfo

// upstreamRoutes is the last good route set compiled from one upstream's
// descriptors.
type upstreamRoutes struct {
	hash     string
	sig      string                // upconn.SchemaView.Sig it was compiled for
	classes  []*upconn.SchemaClass // upconn.SchemaView.Classes, for the admin API
	entries  []router.Entry[*route]
	problems []string // methods left unrouted, and why
	hidden   []HiddenMethod
	// selectors: route-keyed policies selecting none or part of these routes
	selectors SelectorReport
}

// compileRoutes turns an upstream's reflected services into router entries.
// A method whose rule does not compile is left out and reported, so that
// one bad annotation costs one method, not the upstream.
func compileRoutes(u *upstream, view *upconn.SchemaView) *upstreamRoutes {
	snap := view.Snap
	out := &upstreamRoutes{hash: snap.Hash, sig: view.Sig, classes: view.Classes}
	opts := u.opts
	if snap.Types != nil {
		opts.Resolver = snap.Types
	}
	usedRules := map[string]bool{} // config selectors that matched a method
	for _, sd := range snap.Services {
		methods := sd.Methods()
		for i := 0; i < methods.Len(); i++ {
			md := methods.Get(i)
			name := string(md.FullName())
			if h, ok := u.hidden(name); ok {
				out.hidden = append(out.hidden, h)
				continue
			}
			rule, origin := ruleFor(u, md)
			if origin == "config" {
				usedRules[name] = true
			}
			if rule == nil {
				continue
			}
			bindings, err := transcode.Compile(md, rule, opts)
			if err != nil {
				out.problems = append(out.problems, err.Error())
				continue
			}
			conn, schemas := view.Conn("/" + string(sd.FullName()) + "/" + string(md.Name()))
			for _, b := range bindings {
				out.entries = append(out.entries, router.Entry[*route]{
					Method:   b.HTTPMethod,
					Template: b.Template,
					Name:     u.name + " " + name,
					Value:    &route{up: u, conn: conn, binding: b, origin: origin, schemas: schemas},
				})
			}
		}
	}
	// Two bindings of one shape cost the later one, not the upstream.
	kept, refused := router.Arbitrate(out.entries, func(*route) bool { return true }, nil)
	for _, r := range refused {
		e, k := out.entries[r.Index], out.entries[r.By]
		out.problems = append(out.problems, fmt.Sprintf("%s: %s %s has the same method and path shape as %s's %s %s; left out",
			e.Value.binding.Method.FullName(), e.Method, e.Template, k.Value.binding.Method.FullName(), k.Method, k.Template))
	}
	out.entries = kept
	for sel := range u.rules {
		if !usedRules[sel] {
			out.problems = append(out.problems, fmt.Sprintf("config rule %s: no such method in the upstream's services", sel))
		}
	}
	sort.Strings(out.problems)
	return out
}

// ruleFor picks a method's HTTP rule: config first (it replaces the
// annotation, as in a Google service config), then the annotation, then
// the default route when the upstream allows it.
func ruleFor(u *upstream, md protoreflect.MethodDescriptor) (*annotations.HttpRule, string) {
	if r := u.rules[string(md.FullName())]; r != nil {
		return r, "config"
	}
	if r := transcode.Rules(md); r != nil {
		return r, "annotation"
	}
	if u.o.DefaultRoutes {
		return transcode.DefaultRule(md), "default"
	}
	return nil, ""
}

// rebuildRoutes recompiles the routes of upstreams whose descriptors changed and swaps in a
// table of every upstream's routes but those refused (RefusedRoutes). Serialized by buildMu.
func (g *Gateway) rebuildRoutes() {
	g.buildMu.Lock()
	defer g.buildMu.Unlock()
	g.rebuildRoutesLocked()
}

func (g *Gateway) rebuildRoutesLocked() {
	var all []router.Entry[*route]
	var upErr error // an upstream whose new routes were refused: shown until a build succeeds
	routed := map[string]bool{}
	for _, u := range g.upstreamList() {
		prev := g.built[u.name]
		var view *upconn.SchemaView
		if !u.staged.Load() {
			view = u.conns.SchemaView(g.cache)
		}
		if view == nil || view.Snap == nil {
			if u.pred != nil && prev != nil { // the upstream it replaces serves until it has descriptors
				all = append(all, prev.entries...)
				routed[u.name] = true
				continue
			}
			delete(g.built, u.name)
			continue
		}
		snap := view.Snap
		if prev == nil || u.pred != nil || prev.hash != snap.Hash || prev.sig != view.Sig {
			next := compileRoutes(u, view)
			if len(next.entries) > g.limits.Routes {
				err := fmt.Errorf("%d routes exceed the limit of %d (reflection.max_routes)", len(next.entries), g.limits.Routes)
				g.log.Error().Err(err).Str("upstream", u.name).Str("hash", snap.Hash).
					Msg("new descriptors give more routes than allowed; keeping the previous routes")
				upErr = fmt.Errorf("upstream %s: %w", u.name, err)
				if prev != nil {
					all = append(all, prev.entries...)
					routed[u.name] = true
				}
				continue
			}
			// Under path_prefix: the binding keeps the upstream's own template.
			var bad []string
			next.entries, bad = router.Mount(u.o.PathPrefix, next.entries)
			next.problems = append(next.problems, bad...)
			g.attachPolicies(u.name, next)
			for _, p := range next.problems {
				g.log.Warn().Str("upstream", u.name).Msg("method not routed: " + p)
			}
			g.log.Info().Str("upstream", u.name).Str("hash", snap.Hash).Int("routes", len(next.entries)).Msg("routes compiled")
			g.built[u.name] = next
			prev = next
			if u.pred != nil { // its calls in flight get its timeout to finish
				u.pred.conns.Retire()
				u.pred = nil
			}
		}
		all = append(all, prev.entries...)
		routed[u.name] = true
	}
	tbl, refused, err := g.buildTables(g.claimOrder(all))
	if err != nil {
		g.log.Error().Err(err).Msg("the route table does not build; keeping the previous table")
		g.buildErr.Store(&err)
		return
	}
	if g.composer != nil {
		refused = append(refused, g.composer.Build(g)...)
	}
	was := map[RefusedRoute]bool{}
	for _, r := range g.refused {
		was[r] = true
	}
	for _, r := range refused {
		if !was[r] {
			g.log.Warn().Str("upstream", r.Upstream).Msg("route refused: " + r.Reason)
		}
	}
	g.refused = refused
	if upErr != nil {
		g.buildErr.Store(&upErr)
	} else {
		g.buildErr.Store(nil)
	}
	g.routes.Store(tbl)
	g.routed.Store(&routed)
	g.rebuildWeb()
}

// claimOrder sorts routes for router.Arbitrate, winners first: configured upstreams, then
// optional ones, then auto-exposed ones; within each, once the gateway has been ready (so
// that the start does not depend on who answers first), the routes served before newcomers.
func (g *Gateway) claimOrder(all []router.Entry[*route]) []router.Entry[*route] {
	served := map[string]bool{}
	if ready, _ := g.Ready(); ready {
		for _, e := range g.allEntries() {
			served[e.Name+" "+e.Method+" "+e.Template.String()] = true
		}
	}
	var ranks [6][]router.Entry[*route]
	for _, e := range all {
		r := 0
		switch {
		case e.Value.up.auto:
			r = 4
		case e.Value.up.o.Optional:
			r = 2
		}
		if !served[e.Name+" "+e.Method+" "+e.Template.String()] {
			r++
		}
		ranks[r] = append(ranks[r], e)
	}
	return slices.Concat(ranks[:]...)
}

// RefusedRoute is a route left out because a route of another upstream, served first or
// ranking higher, can match its paths (without may_overlap), or has its method and shape.
type RefusedRoute struct {
	Upstream   string `json:"upstream"`
	HTTPMethod string `json:"http_method"`
	Path       string `json:"path"`
	GRPCMethod string `json:"grpc_method"`
	Reason     string `json:"reason"`
}

// RefusedRoutes lists the routes the last build refused, and why.
func (g *Gateway) RefusedRoutes() []RefusedRoute {
	g.buildMu.Lock()
	defer g.buildMu.Unlock()
	return append([]RefusedRoute{}, g.refused...)
}

// refusal describes entry e, refused because of kept entry k.
func refusal(e, k router.Entry[*route], r router.Refusal) RefusedRoute {
	why := "can match paths of %s %s of upstream %q, served first or ranking higher; left out unless one upstream grants the other may_overlap"
	if r.Same {
		why = "has the same method and path shape as %s %s of upstream %q, served first or ranking higher"
	}
	return RefusedRoute{Upstream: e.Value.up.name, HTTPMethod: e.Method, Path: e.Template.String(), GRPCMethod: string(e.Value.binding.Method.FullName()),
		Reason: fmt.Sprintf("%s %s of upstream %q ", e.Method, e.Template, e.Value.up.name) + fmt.Sprintf(why, k.Method, k.Template, k.Value.up.name)}
}

// Routes lists the routes being served, sorted by path then method.
func (g *Gateway) Routes() []RouteInfo {
	entries := g.allEntries()
	out := make([]RouteInfo, 0, len(entries))
	for _, e := range entries {
		r := e.Value
		out = append(out, RouteInfo{
			HTTPMethod:   e.Method,
			Path:         e.Template.String(),
			Upstream:     r.up.name,
			Product:      g.prod.Of(r.up.name),
			GRPCMethod:   string(r.binding.Method.FullName()),
			Body:         r.binding.BodyField(),
			Origin:       r.origin,
			Streaming:    r.binding.StreamingKind(),
			Policies:     r.stages,
			RestrictedTo: r.schemas,
			FastPath:     r.binding.Info(),
		})
	}
	if g.composer != nil {
		out = append(out, g.composer.Routes()...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].HTTPMethod < out[j].HTTPMethod
	})
	return out
}

// Unrouted lists, per upstream, the methods its descriptors hold that got
// no route, and why (a rule that does not compile, a config rule naming no
// method, two bindings of one shape …).
func (g *Gateway) Unrouted() map[string][]string {
	return perUpstream(g, func(b *upstreamRoutes) ([]string, bool) { return b.problems, len(b.problems) > 0 })
}

// HiddenMethods lists, per upstream, the reflected methods its expose
// and hide rules keep unrouted, and the rule that did.
func (g *Gateway) HiddenMethods() map[string][]HiddenMethod {
	return perUpstream(g, func(b *upstreamRoutes) ([]HiddenMethod, bool) { return b.hidden, len(b.hidden) > 0 })
}

// PolicySelectors lists, per upstream, the route-keyed policy selectors
// that select no route or only some routes of a method, as of its last
// build.
func (g *Gateway) PolicySelectors() map[string]SelectorReport {
	return perUpstream(g, func(b *upstreamRoutes) (SelectorReport, bool) {
		return b.selectors, len(b.selectors.Misses)+len(b.selectors.Partial) > 0
	})
}

// RouteCounts is the number of routes compiled from each upstream's
// descriptors (refused ones included: see RefusedRoutes).
func (g *Gateway) RouteCounts() map[string]int {
	return perUpstream(g, func(b *upstreamRoutes) (int, bool) { return len(b.entries), true })
}

// perUpstream maps each built upstream's name to what f reads of its
// routes, when f says there is something.
func perUpstream[V any](g *Gateway, f func(*upstreamRoutes) (V, bool)) map[string]V {
	g.buildMu.Lock()
	defer g.buildMu.Unlock()
	out := map[string]V{}
	for name, b := range g.built {
		if v, ok := f(b); ok {
			out[name] = v
		}
	}
	return out
}

// BuildError is why the last route build failed (the previous table is
// still served), or nil.
func (g *Gateway) BuildError() error {
	if err := g.buildErr.Load(); err != nil {
		return *err
	}
	return nil
}
