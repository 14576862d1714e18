package gateway

import (
	"net/http"
	"slices"

	"github.com/refract-gateway/refract/gateway/products"
	"github.com/refract-gateway/refract/router"
)

// ProductOptions is one product: upstreams whose routes are matched in a
// table of their own.
type ProductOptions = products.Options

// ProductHandler serves a product's own listener: only that product's
// routes, whatever the Host.
func (g *Gateway) ProductHandler(name string) http.Handler { return products.Handler(name, g) }

// tableFor is the route table for r: its listener's product, else the
// product its Host names, else the main table.
func (g *Gateway) tableFor(r *http.Request) *router.Table[*route] {
	return g.prod.TableFor(r, g.routes.Load())
}

// buildTables splits the routes into the main table and one per product,
// leaves out in each the routes that collide with another upstream's
// (router.Arbitrate, in all's order), and stores the product tables when
// every table builds.
func (g *Gateway) buildTables(all []router.Entry[*route]) (*router.Table[*route], []RefusedRoute, error) {
	parts := map[string][]router.Entry[*route]{}
	for _, e := range all {
		p := g.prod.Of(e.Value.up.name)
		parts[p] = append(parts[p], e)
	}
	tables := map[string]*router.Table[*route]{}
	idx := map[string]map[string]*route{}
	var refused []RefusedRoute
	for _, p := range append([]ProductOptions{{}}, g.prod.List()...) {
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
	g.prod.Store(tables)
	g.grpcIdx.Store(&idx)
	return tables[""], refused, nil
}

// mayOverlap: one of a and b grants the other may_overlap.
func mayOverlap(a, b *upstream) bool {
	return slices.Contains(a.o.MayOverlap, b.name) || slices.Contains(b.o.MayOverlap, a.name)
}

// allEntries lists the routes of every table, for the admin API.
func (g *Gateway) allEntries() []router.Entry[*route] { return g.prod.Entries(g.routes.Load()) }

// SetProductAddrs records the address each product's own listener
// serves on, for ProductAddr (and what documents name); the server that
// opened the listeners calls it. Safe for concurrent use.
func (g *Gateway) SetProductAddrs(addrs map[string]string) { g.prod.SetAddrs(addrs) }

// ProductAddr is the address a product's own listener serves on ("" when
// it has none or its listener is not open).
func (g *Gateway) ProductAddr(name string) string { return g.prod.Addr(name) }
