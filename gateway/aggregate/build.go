package aggregate

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/router"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Set is the aggregates of one config: immutable plans, and what the last
// route build compiled from them. It is a gateway.Composer. Safe for
// concurrent use.
type Set struct {
	log       zerolog.Logger
	plans     []*plan
	upstreams []string // whose descriptors the calls' methods are looked up in
	cur       atomic.Pointer[built]
}

// built is what one route build compiled: the aggregates that check
// against the descriptors, and the problems of those that do not.
type built struct {
	table *router.Table[*compiled]
	list  []*compiled
}

// compiled is one aggregate checked against the descriptors of a route
// build. Immutable.
type compiled struct {
	*plan
	g         *gateway.Gateway
	chain     http.Handler // the aggregate route's policies, then serve
	stages    []string     // the policies' names
	invoker   http.Handler // a call: a fresh policy.Info, then the engine's Invoke
	obs       gateway.RouteObserver
	calls     []*compiledCall
	picks     []compiledPick
	readsBody bool
}

type compiledCall struct {
	Call
	md      protoreflect.MethodDescriptor
	path    string                   // "/package.Service/Method"
	types   *reflection.TypeResolver // of the upstream's descriptors: Any in responses
	setters []setter
}

// setter sets one request field.
type setter struct {
	name  string // the field path as written, for errors
	fds   []protoreflect.FieldDescriptor
	parts []Part
	// src is the field chain a lone call reference reads (nil otherwise);
	// from is that call's index.
	src  []protoreflect.FieldDescriptor
	from int
}

type compiledPick struct {
	Pick
	from int
	fds  []protoreflect.FieldDescriptor // nil: the whole response
}

// New checks the aggregates' structure and returns their Set; nothing is
// served until a route build (Build) checks them against the descriptors
// of upstreams (auto-exposed ones are not looked in).
func New(endpoints []Endpoint, upstreams []string, log zerolog.Logger) (*Set, error) {
	s := &Set{log: log.With().Str("component", "aggregate").Logger(), upstreams: upstreams}
	for _, e := range endpoints {
		p, err := newPlan(e)
		if err != nil {
			return nil, err
		}
		s.plans = append(s.plans, p)
	}
	s.cur.Store(&built{table: &router.Table[*compiled]{}})
	return s, nil
}

// Build compiles every aggregate against the descriptors g's upstreams
// have now; one that does not check is not served, and is returned as a
// refused route naming the aggregate, the call and the field (the engine
// logs it and lists it in the admin API). It runs on the engine's route
// build, before the new table is served.
func (s *Set) Build(g *gateway.Gateway) []gateway.RefusedRoute {
	b := &built{}
	var refused []gateway.RefusedRoute
	var entries []router.Entry[*compiled]
	for _, p := range s.plans {
		c, err := compile(g, s.upstreams, p)
		if err != nil {
			refused = append(refused, gateway.RefusedRoute{Upstream: PolicyKey(p.Name), HTTPMethod: p.HTTPMethod, Path: p.Template.String(),
				Reason: fmt.Sprintf("aggregate %s is not served: %v", p.Name, err)})
			continue
		}
		c.chain, c.stages, c.obs = g.Chain(gateway.RouteRef{Upstream: PolicyKey(p.Name), Route: p.route, Method: PolicyKey(p.Name)}, http.HandlerFunc(c.serve))
		entries = append(entries, router.Entry[*compiled]{Method: p.HTTPMethod, Template: p.Template, Name: PolicyKey(p.Name), Value: c})
		b.list = append(b.list, c)
	}
	tbl, err := router.NewTable(entries)
	if err != nil { // two aggregates of one shape (config refuses the same route only)
		for _, c := range b.list {
			refused = append(refused, gateway.RefusedRoute{Upstream: PolicyKey(c.Name), HTTPMethod: c.HTTPMethod, Path: c.Template.String(),
				Reason: fmt.Sprintf("aggregates are not served: %v", err)})
		}
		b.list, tbl = nil, &router.Table[*compiled]{}
	}
	b.table = tbl
	s.cur.Store(b)
	return refused
}

// compile checks p against the published methods.
func compile(g *gateway.Gateway, upstreams []string, p *plan) (*compiled, error) {
	c := &compiled{plan: p, g: g, invoker: policy.State()(http.HandlerFunc(g.Invoke))}
	for _, call := range p.Calls {
		md, types := lookup(g, upstreams, call.Method)
		if md == nil {
			var waiting []string
			for _, up := range upstreams {
				if g.Cache().Snapshot(up) == nil {
					waiting = append(waiting, up)
				}
			}
			if len(waiting) > 0 {
				return nil, fmt.Errorf("call %s: method %s is not in the descriptors of any upstream; waiting for those of %s",
					call.Name, call.Method, strings.Join(waiting, ", "))
			}
			return nil, fmt.Errorf("call %s: method %s is not in the descriptors of any upstream (%s)", call.Name, call.Method, strings.Join(upstreams, ", "))
		}
		if md.IsStreamingClient() || md.IsStreamingServer() {
			return nil, fmt.Errorf("call %s: method %s streams: only unary methods can be aggregated", call.Name, call.Method)
		}
		path := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
		if !g.Invokable(path) {
			return nil, fmt.Errorf("call %s: method %s is not published (it has no route, is hidden by expose/hide, or a transform of its routes edits what the backend receives, which in-process calls would bypass)",
				call.Name, call.Method)
		}
		c.calls = append(c.calls, &compiledCall{Call: call, md: md, types: types, path: path})
	}
	for i, cc := range c.calls {
		for _, f := range cc.Fields {
			st, err := c.compileField(cc, f)
			if err != nil {
				return nil, fmt.Errorf("call %s: request field %s: %w", cc.Name, strings.Join(f.Path, "."), err)
			}
			for _, part := range f.Parts {
				if part.Source == FromBody {
					c.readsBody = true
				}
			}
			c.calls[i].setters = append(c.calls[i].setters, st)
		}
	}
	for _, pk := range p.Pick {
		from := c.callIndex(pk.Call)
		cp := compiledPick{Pick: pk, from: from}
		if len(pk.Path) > 0 {
			fds, err := fieldChain(c.calls[from].md.Output(), pk.Path)
			if err != nil {
				return nil, fmt.Errorf("pick %s: call %s's response (%s): %w", pk.Key, pk.Call, c.calls[from].md.Output().FullName(), err)
			}
			cp.fds = fds
		}
		c.picks = append(c.picks, cp)
	}
	return c, nil
}

// lookup finds a method in the upstreams' current descriptors.
func lookup(g *gateway.Gateway, upstreams []string, method string) (protoreflect.MethodDescriptor, *reflection.TypeResolver) {
	i := strings.LastIndexByte(method, '.')
	if i < 0 {
		return nil, nil
	}
	svc, name := protoreflect.FullName(method[:i]), protoreflect.Name(method[i+1:])
	for _, up := range upstreams {
		snap := g.Cache().Snapshot(up)
		if snap == nil {
			continue
		}
		for _, sd := range snap.Services {
			if sd.FullName() == svc {
				if md := sd.Methods().ByName(name); md != nil {
					return md, snap.Types
				}
			}
		}
	}
	return nil, nil
}

func (c *compiled) callIndex(name string) int {
	for i, cc := range c.calls {
		if cc.Name == name {
			return i
		}
	}
	return -1
}

// compileField checks one request field and the types of its value.
func (c *compiled) compileField(cc *compiledCall, f Field) (setter, error) {
	st := setter{name: strings.Join(f.Path, "."), parts: f.Parts, from: -1}
	fds, err := fieldChain(cc.md.Input(), f.Path)
	if err != nil {
		return st, fmt.Errorf("%s: %w", cc.md.Input().FullName(), err)
	}
	st.fds = fds
	leaf := fds[len(fds)-1]
	for _, part := range f.Parts {
		if part.Source == FromPath && !containsString(c.vars, part.Name) {
			return st, fmt.Errorf("{path.%s}: the route %s has no such variable", part.Name, c.route)
		}
	}
	if len(f.Parts) == 1 && f.Parts[0].Source == FromCall {
		part := f.Parts[0]
		st.from = c.callIndex(part.Name)
		src, err := fieldChain(c.calls[st.from].md.Output(), part.Path)
		if err != nil {
			return st, fmt.Errorf("{calls.%s.%s}: %s: %w", part.Name, strings.Join(part.Path, "."), c.calls[st.from].md.Output().FullName(), err)
		}
		if why := assignable(src[len(src)-1], leaf); why != "" {
			return st, fmt.Errorf("{calls.%s.%s}: %s", part.Name, strings.Join(part.Path, "."), why)
		}
		st.src = src
		return st, nil
	}
	if len(f.Parts) == 1 && f.Parts[0].Source == FromBody && !leaf.IsMap() {
		return st, nil // a JSON value from the body, checked when it comes
	}
	if leaf.IsList() || leaf.IsMap() || leaf.Message() != nil {
		return st, fmt.Errorf("a %s field takes a lone {calls.…} reference to a field of the same type, or a {body.…} value", kindName(leaf))
	}
	for _, part := range f.Parts {
		if part.Source != FromCall {
			continue
		}
		i := c.callIndex(part.Name)
		src, err := fieldChain(c.calls[i].md.Output(), part.Path)
		if err != nil {
			return st, fmt.Errorf("{calls.%s.%s}: %s: %w", part.Name, strings.Join(part.Path, "."), c.calls[i].md.Output().FullName(), err)
		}
		if l := src[len(src)-1]; l.IsList() || l.IsMap() || l.Message() != nil {
			return st, fmt.Errorf("{calls.%s.%s} is a %s field: text takes scalar fields only", part.Name, strings.Join(part.Path, "."), kindName(l))
		}
	}
	return st, nil
}

// fieldChain resolves a field path in md: every field but the last must
// be a singular message.
func fieldChain(md protoreflect.MessageDescriptor, path []string) ([]protoreflect.FieldDescriptor, error) {
	var out []protoreflect.FieldDescriptor
	for i, name := range path {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = md.Fields().ByJSONName(name)
		}
		if fd == nil {
			return nil, fmt.Errorf("field %s does not exist in %s", strings.Join(path[:i+1], "."), md.FullName())
		}
		out = append(out, fd)
		if i < len(path)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, fmt.Errorf("field %s of %s is a %s, not a message to go into", name, md.FullName(), kindName(fd))
			}
			md = fd.Message()
		}
	}
	return out, nil
}

// assignable says why src's value cannot be set into dst ("" when it can).
func assignable(src, dst protoreflect.FieldDescriptor) string {
	switch {
	case src.IsMap() || dst.IsMap():
		if src.IsMap() && dst.IsMap() && assignable(src.MapKey(), dst.MapKey()) == "" && assignable(src.MapValue(), dst.MapValue()) == "" {
			return ""
		}
	case src.IsList() != dst.IsList():
	case src.Kind() == dst.Kind() && (src.Message() == nil || src.Message().FullName() == dst.Message().FullName()) &&
		(src.Enum() == nil || src.Enum().FullName() == dst.Enum().FullName()):
		return ""
	case !src.IsList() && dst.Kind() == protoreflect.StringKind && src.Message() == nil:
		return "" // a scalar into a string: its text
	}
	return fmt.Sprintf("a %s field cannot be set into %s, a %s field", kindName(src), dst.FullName(), kindName(dst))
}

// kindName describes a field's type for problems: "repeated string",
// "library.v1.Shelf".
func kindName(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map<" + kindName(fd.MapKey()) + ", " + kindName(fd.MapValue()) + ">"
	}
	k := fd.Kind().String()
	if m := fd.Message(); m != nil {
		k = string(m.FullName())
	} else if e := fd.Enum(); e != nil {
		k = string(e.FullName())
	}
	if fd.IsList() {
		return "repeated " + k
	}
	return k
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Routes lists the aggregates served since the last route build, for the
// admin API and the routes command: upstream "aggregate NAME", the called
// methods in call order, and the aggregate route's own policies.
func (s *Set) Routes() []gateway.RouteInfo {
	list := s.cur.Load().list
	out := make([]gateway.RouteInfo, 0, len(list))
	for _, c := range list {
		methods := make([]string, len(c.calls))
		for i, cc := range c.calls {
			methods[i] = cc.Method
		}
		out = append(out, gateway.RouteInfo{HTTPMethod: c.HTTPMethod, Path: c.Template.String(), Upstream: PolicyKey(c.Name),
			GRPCMethod: strings.Join(methods, ", "), Origin: "aggregate", Policies: c.stages,
			FastPath: gateway.FastPathInfo{Fallback: "an aggregate decodes and merges dynamic messages"}})
	}
	return out
}
