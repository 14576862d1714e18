package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/refract-gateway/refract/router"
)

// productState is what the request path needs to find a request's
// product: its tables, swapped with the main table, and the listeners'
// addresses once open.
type productState struct {
	list   []ProductOptions
	of     map[string]string // upstream → its product
	byHost map[string]string // lower-case host → its product
	tables atomic.Pointer[map[string]*router.Table[*route]]
	empty  router.Table[*route] // what a product without routes yet matches against
	mu     sync.Mutex
	addrs  map[string]string // product → its listener's address
}

type productKey struct{}

// ProductHandler serves a product's own listener: only that product's
// routes, whatever the Host.
func (g *Gateway) ProductHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), productKey{}, name)))
	})
}

// tableFor is the route table for r: its listener's product, else the
// product its Host names, else the main table.
func (g *Gateway) tableFor(r *http.Request) *router.Table[*route] {
	if len(g.prod.list) == 0 {
		return g.routes.Load()
	}
	return g.productTable(g.productOfRequest(r))
}

// productOfRequest is the product r is for: its listener's, else the one
// its Host names; "" for the main table.
func (g *Gateway) productOfRequest(r *http.Request) string {
	name, _ := r.Context().Value(productKey{}).(string)
	if name == "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		name = g.prod.byHost[strings.ToLower(host)]
	}
	return name
}

// noRouteMessage says why a request found no route: on the main table,
// when a product's host-selected table has the path, that no product
// matched the request's host (the host names themselves stay unsaid).
func (g *Gateway) noRouteMessage(r *http.Request, path string) string {
	msg := fmt.Sprintf("no route for %s %s", r.Method, path)
	if len(g.prod.byHost) == 0 || g.productOfRequest(r) != "" {
		return msg
	}
	ts := g.prod.tables.Load()
	if ts == nil {
		return msg
	}
	for _, p := range g.prod.list {
		if t := (*ts)[p.Name]; len(p.Hosts) > 0 && t != nil {
			if _, found := t.Match(r.Method, path); found != router.NotFound {
				return fmt.Sprintf("%s: no product matched the host %q (a product serving this path is chosen by its Host header)", msg, r.Host)
			}
		}
	}
	return msg
}

// productTable is a product's table ("" is the main table); an empty
// table while the product has none.
func (g *Gateway) productTable(name string) *router.Table[*route] {
	if name == "" {
		return g.routes.Load()
	}
	if ts := g.prod.tables.Load(); ts != nil {
		if t := (*ts)[name]; t != nil {
			return t
		}
	}
	return &g.prod.empty
}

// buildTables splits the routes into the main table and one per product,
// leaves out in each the routes that collide with another upstream's
// (router.Arbitrate, in all's order), and stores the product tables when
// every table builds.
func (g *Gateway) buildTables(all []router.Entry[*route]) (*router.Table[*route], []RefusedRoute, error) {
	parts := map[string][]router.Entry[*route]{}
	for _, e := range all {
		parts[g.prod.of[e.Value.up.name]] = append(parts[g.prod.of[e.Value.up.name]], e)
	}
	tables := map[string]*router.Table[*route]{}
	idx := map[string]map[string]*route{}
	var refused []RefusedRoute
	for _, p := range append([]ProductOptions{{}}, g.prod.list...) {
		kept, ref := router.Arbitrate(parts[p.Name], func(r *route) *upstream { return r.up }, mayOverlap)
		for _, r := range ref {
			refused = append(refused, refusal(parts[p.Name][r.Index], parts[p.Name][r.By], r))
		}
		t, err := router.NewTable(kept)
		if err != nil {
			return nil, nil, err // an unusable entry: it names its upstream
		}
		tables[p.Name] = t
		idx[p.Name] = grpcIndex(kept)
	}

	if len(g.prod.list) > 0 {
		g.prod.tables.Store(&tables)
	}
	g.grpcIdx.Store(&idx)
	return tables[""], refused, nil
}

// mayOverlap: one of a and b grants the other may_overlap.
func mayOverlap(a, b *upstream) bool {
	return slices.Contains(a.o.MayOverlap, b.name) || slices.Contains(b.o.MayOverlap, a.name)
}

// allEntries lists the routes of every table, for the admin API.
func (g *Gateway) allEntries() []router.Entry[*route] {
	entries := g.routes.Load().Entries()
	if ts := g.prod.tables.Load(); ts != nil {
		for _, p := range g.prod.list {
			if t := (*ts)[p.Name]; t != nil {
				entries = append(entries, t.Entries()...)
			}
		}
	}
	return entries
}

// SetProductAddrs records the address each product's own listener
// serves on, for ProductAddr (and what documents name); the server that
// opened the listeners calls it. Safe for concurrent use.
func (g *Gateway) SetProductAddrs(addrs map[string]string) {
	g.prod.mu.Lock()
	defer g.prod.mu.Unlock()
	g.prod.addrs = addrs
}

// ProductAddr is the address a product's own listener serves on ("" when
// it has none or its listener is not open).
func (g *Gateway) ProductAddr(name string) string {
	g.prod.mu.Lock()
	defer g.prod.mu.Unlock()
	return g.prod.addrs[name]
}

// init indexes the products: the product of each upstream and
// of each host name.
func (ps *productState) init(list []ProductOptions) {
	ps.list, ps.of, ps.byHost = list, map[string]string{}, map[string]string{}
	for _, p := range list {
		for _, u := range p.Upstreams {
			ps.of[u] = p.Name
		}
		for _, h := range p.Hosts {
			ps.byHost[strings.ToLower(h)] = p.Name
		}
	}
}
