package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
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

// buildTables splits the routes into the main table and one per product;
// the product tables are stored when every table builds.
func (g *Gateway) buildTables(all []router.Entry[*route]) (*router.Table[*route], error) {
	if len(g.prod.list) == 0 {
		return router.NewTable(all)
	}
	parts := map[string][]router.Entry[*route]{}
	var main []router.Entry[*route]
	for _, e := range all {
		if p := g.prod.of[e.Value.up.name]; p != "" {
			parts[p] = append(parts[p], e)
		} else {
			main = append(main, e)
		}
	}
	tables := map[string]*router.Table[*route]{}
	for _, p := range g.prod.list {
		t, err := router.NewTable(parts[p.Name])
		if err != nil {
			return nil, fmt.Errorf("product %s: %w", p.Name, err)
		}
		tables[p.Name] = t
	}
	tbl, err := router.NewTable(main)
	if err != nil {
		return nil, err
	}
	g.prod.tables.Store(&tables)
	return tbl, nil
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

// mountPrefix mounts an upstream's routes under its path_prefix: the
// router matches /orders/v1/… while the binding keeps the upstream's own
// template (a literal prefix adds no variable, so variables line up).
func (g *Gateway) mountPrefix(u *upstream, set *upstreamRoutes) {
	prefix := u.o.PathPrefix
	if prefix == "" {
		return
	}
	kept := set.entries[:0]
	for _, e := range set.entries {
		t, err := router.ParseTemplate(prefix + e.Template.String())
		if err != nil {
			set.problems = append(set.problems, fmt.Sprintf("%s %s: cannot be mounted under %s: %v", e.Method, e.Template, prefix, err))
			continue
		}
		e.Template = t
		kept = append(kept, e)
	}
	set.entries = kept
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
