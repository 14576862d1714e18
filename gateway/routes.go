package gateway

import (
	"fmt"
	"sort"

	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// route is the value a router entry carries: everything the request path
// needs, compiled. Immutable.
type route struct {
	up      *upstream
	binding *transcode.Binding
	origin  string // where the rule came from: annotation, config or default
}

// RouteInfo describes one served route, for the admin API and the CLI.
type RouteInfo struct {
	HTTPMethod string `json:"http_method"`
	Path       string `json:"path"`
	Upstream   string `json:"upstream"`
	GRPCMethod string `json:"grpc_method"`
	Body       string `json:"body,omitempty"`
	Origin     string `json:"origin"`
	Streaming  string `json:"streaming,omitempty"` // server, client or bidi; empty for unary
}

// upstreamRoutes is the last good route set compiled from one upstream's
// descriptors.
type upstreamRoutes struct {
	hash     string
	entries  []router.Entry[*route]
	problems []string // methods left unrouted, and why
}

// compileRoutes turns an upstream's reflected services into router entries.
// A method whose rule does not compile is left out and reported, so that
// one bad annotation costs one method, not the upstream.
func compileRoutes(u *upstream, snap *reflection.Snapshot) *upstreamRoutes {
	out := &upstreamRoutes{hash: snap.Hash}
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
			for _, b := range bindings {
				out.entries = append(out.entries, router.Entry[*route]{
					Method:   b.HTTPMethod,
					Template: b.Template,
					Name:     u.name + " " + name,
					Value:    &route{up: u, binding: b, origin: origin},
				})
			}
		}
	}
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
	if *u.cfg.DefaultRoutes {
		return transcode.DefaultRule(md), "default"
	}
	return nil, ""
}

// rebuildRoutes recompiles the routes of upstreams whose descriptors
// changed, validates the whole table and swaps it in. On any conflict the
// previous set stays: for one upstream when its own routes conflict, for
// the whole table when upstreams conflict with each other. Control path
// only; serialized by buildMu.
func (g *Gateway) rebuildRoutes() {
	g.buildMu.Lock()
	defer g.buildMu.Unlock()
	var all []router.Entry[*route]
	routed := map[string]bool{}
	for _, u := range g.upstreams {
		snap := g.cache.Snapshot(u.name)
		prev := g.built[u.name]
		if snap == nil {
			delete(g.built, u.name)
			continue
		}
		if prev == nil || prev.hash != snap.Hash {
			next := compileRoutes(u, snap)
			if _, err := router.NewTable(next.entries); err != nil {
				g.log.Error().Err(err).Str("upstream", u.name).Str("hash", snap.Hash).
					Msg("new descriptors give conflicting routes; keeping the previous routes")
				g.buildErr.Store(&buildError{upstream: u.name, err: err})
				if prev != nil {
					all = append(all, prev.entries...)
					routed[u.name] = true
				}
				continue
			}
			for _, p := range next.problems {
				g.log.Warn().Str("upstream", u.name).Msg("method not routed: " + p)
			}
			g.log.Info().Str("upstream", u.name).Str("hash", snap.Hash).Int("routes", len(next.entries)).Msg("routes compiled")
			g.built[u.name] = next
			prev = next
		}
		all = append(all, prev.entries...)
		routed[u.name] = true
	}
	tbl, err := router.NewTable(all)
	if err != nil {
		g.log.Error().Err(err).Msg("routes of different upstreams conflict; keeping the previous table")
		g.buildErr.Store(&buildError{err: err})
		return
	}
	g.buildErr.Store(nil)
	g.routes.Store(tbl)
	g.routed.Store(&routed)
}

type buildError struct {
	upstream string
	err      error
}

// Routes lists the routes being served, sorted by path then method.
func (g *Gateway) Routes() []RouteInfo {
	entries := g.routes.Load().Entries()
	out := make([]RouteInfo, 0, len(entries))
	for _, e := range entries {
		r := e.Value
		out = append(out, RouteInfo{
			HTTPMethod: e.Method,
			Path:       e.Template.String(),
			Upstream:   r.up.name,
			GRPCMethod: string(r.binding.Method.FullName()),
			Body:       r.binding.BodyField(),
			Origin:     r.origin,
			Streaming:  streamingKind(r.binding),
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].HTTPMethod < out[j].HTTPMethod
	})
	return out
}
