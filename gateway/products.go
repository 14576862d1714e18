package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/refract-gateway/refract/router"
)

// ProductConfig is one product: a set of upstreams served on a listener of
// its own, or on the main listener for some host names, with its own
// policies (a level between the global and the upstreams' ones). Its
// routes are matched in a table of their own, so two products may serve
// the same paths.
type ProductConfig struct {
	Name string `yaml:"name"`
	// Listen is host:port of the product's own listener (plain HTTP).
	Listen string `yaml:"listen"`
	// Hosts are the Host names (without port) that select the product on
	// the main listener.
	Hosts []string `yaml:"hosts"`
	// Upstreams are the product's upstreams; an upstream belongs to one
	// product at most. Upstreams in no product are served on the main
	// listener to requests no product's host claims.
	Upstreams []string `yaml:"upstreams"`
	// Policies apply to the product's routes: global < product < upstream
	// < route.
	Policies Policies `yaml:"policies"`
}

var pathPrefix = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// validateProducts checks products and path prefixes; it returns the
// product of each upstream and the product of each host.
func validateProducts(cfg *Config, bad func(string, error)) (productOf, byHost map[string]string) {
	productOf, byHost = map[string]string{}, map[string]string{}
	known := map[string]bool{}
	for i, u := range cfg.Upstreams {
		known[u.Name] = true
		if p := u.PathPrefix; p != "" && !pathPrefix.MatchString(p) {
			bad(fmt.Sprintf("upstreams[%d].path_prefix", i), fmt.Errorf("%q must be literal path segments such as /orders (no trailing slash, no variables)", p))
		}
	}
	names := map[string]bool{}
	listens := map[string]bool{cfg.Listen: true, cfg.Admin: true}
	for i, p := range cfg.Products {
		key := fmt.Sprintf("products[%d]", i)
		if !upstreamName.MatchString(p.Name) || names[p.Name] {
			bad(key+".name", fmt.Errorf("%q must be distinct, 1-64 lower-case letters, digits, '.', '_' or '-'", p.Name))
		}
		names[p.Name] = true
		if p.Listen == "" && len(p.Hosts) == 0 {
			bad(key, errors.New("needs listen (its own port) or hosts (names on the main listener)"))
		}
		if p.Listen != "" {
			if _, _, err := net.SplitHostPort(p.Listen); err != nil {
				bad(key+".listen", fmt.Errorf("%q is not host:port", p.Listen))
			} else if listens[p.Listen] && !strings.HasSuffix(p.Listen, ":0") {
				bad(key+".listen", fmt.Errorf("%s is already used by another listener", p.Listen))
			}
			listens[p.Listen] = true
		}
		for _, h := range p.Hosts {
			h = strings.ToLower(h)
			if other, ok := byHost[h]; ok {
				bad(key+".hosts", fmt.Errorf("%q is already product %s's", h, other))
			}
			byHost[h] = p.Name
		}
		if len(p.Upstreams) == 0 {
			bad(key+".upstreams", errors.New("a product needs upstreams"))
		}
		for _, u := range p.Upstreams {
			switch {
			case !known[u]:
				bad(key+".upstreams", fmt.Errorf("%q is not a configured upstream", u))
			case productOf[u] != "":
				bad(key+".upstreams", fmt.Errorf("%q is already in product %s", u, productOf[u]))
			}
			productOf[u] = p.Name
		}
	}
	return productOf, byHost
}

// productState is what the request path needs to find a request's
// product: its tables, swapped with the main table, and the listeners'
// addresses once open.
type productState struct {
	tables atomic.Pointer[map[string]*router.Table[*route]]
	empty  router.Table[*route] // what a product without routes yet matches against
	mu     sync.Mutex
	addrs  map[string]string // product → its listener's address
}

type productKey struct{}

// productHandler serves a product's own listener.
func (g *Gateway) productHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), productKey{}, name)))
	})
}

// tableFor is the route table for r: its listener's product, else the
// product its Host names, else the main table.
func (g *Gateway) tableFor(r *http.Request) *router.Table[*route] {
	if len(g.cfg.Products) == 0 {
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
		name = g.pol.productByHost[strings.ToLower(host)]
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
	if len(g.cfg.Products) == 0 {
		return router.NewTable(all)
	}
	parts := map[string][]router.Entry[*route]{}
	var main []router.Entry[*route]
	for _, e := range all {
		if p := g.pol.productOf[e.Value.up.name]; p != "" {
			parts[p] = append(parts[p], e)
		} else {
			main = append(main, e)
		}
	}
	tables := map[string]*router.Table[*route]{}
	for _, p := range g.cfg.Products {
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
		for _, p := range g.cfg.Products {
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
	prefix := u.cfg.PathPrefix
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

// openProductListeners listens on every product's listen address.
func (g *Gateway) openProductListeners() ([]net.Listener, []http.Handler, error) {
	var ls []net.Listener
	var hs []http.Handler
	g.prod.mu.Lock()
	defer g.prod.mu.Unlock()
	g.prod.addrs = map[string]string{}
	for _, p := range g.cfg.Products {
		if p.Listen == "" {
			continue
		}
		l, err := net.Listen("tcp", p.Listen)
		if err != nil {
			for _, o := range ls {
				_ = o.Close()
			}
			return nil, nil, fmt.Errorf("gateway: product %s: %w", p.Name, err)
		}
		g.prod.addrs[p.Name] = l.Addr().String()
		g.log.Info().Str("product", p.Name).Str("listen", l.Addr().String()).Msg("product listener open")
		ls = append(ls, l)
		hs = append(hs, g.productHandler(p.Name))
	}
	return ls, hs, nil
}

// ProductAddr is the address a product's own listener serves on ("" when
// it has none or Serve has not opened it).
func (g *Gateway) ProductAddr(name string) string {
	g.prod.mu.Lock()
	defer g.prod.mu.Unlock()
	return g.prod.addrs[name]
}
