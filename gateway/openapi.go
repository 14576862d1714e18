package gateway

import (
	"net/http"
	"sort"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode/openapi"
)

// newOpenAPIServer is the server of the live OpenAPI documents; nil when
// they are off.
func (g *Gateway) newOpenAPIServer(o OpenAPIOptions) *openapi.Server {
	if !o.Enabled {
		return nil
	}
	return openapi.NewServer(openapi.ServerOptions{Path: o.Path, OnError: func(err error) {
		g.log.Error().Err(err).Msg("openapi: cannot describe the routes")
	}})
}

// serveOpenAPI answers a request on the document's path with the document
// of the table the request would be matched against, so a product's
// listener (or host) describes that product only and hidden methods never
// appear.
func (g *Gateway) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if info := policy.InfoFrom(r.Context()); info != nil {
		info.Route = r.Method + " " + g.docs.Path()
		// Counted under the document's path, not as unmatched; any method
		// but GET and HEAD (405) under one label, so clients cannot grow
		// the series.
		method := r.Method
		if method != http.MethodGet && method != http.MethodHead {
			method = "OTHER"
		}
		info.Observer = g.obs.Route(method, g.docs.Path(), "", "")
	}
	g.docs.Serve(w, r, g.openAPITable(g.prod.OfRequest(r)))
}

// openAPITable is a product's current table, for its document.
func (g *Gateway) openAPITable(product string) openapi.Table {
	tbl := g.prod.Table(product, g.routes.Load())
	routes := func() []openapi.Route { return openAPIRoutes(tbl) }
	if g.composer != nil && product == "" {
		routes = func() []openapi.Route { return append(openAPIRoutes(tbl), g.composer.OpenAPI()...) }
	}
	return openapi.Table{Name: product, Version: tbl, Routes: routes}
}

// openAPIRoutes lists a table's routes for the document, each method's
// routes in the order of its rule (the primary binding first, then
// additional_bindings), so that operation IDs are numbered by the rule.
func openAPIRoutes(tbl *router.Table[*route]) []openapi.Route {
	entries := tbl.Entries()
	rank := make(map[*route]int, len(entries))
	for _, e := range entries {
		rank[e.Value] = bindingRank(e.Value)
	}
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i].Value, entries[j].Value
		if a.method != b.method {
			return a.method < b.method
		}
		return rank[a] < rank[b]
	})
	out := make([]openapi.Route, len(entries))
	for i, e := range entries {
		out[i] = openapi.Route{Binding: e.Value.binding, Path: e.Template}
	}
	return out
}

// bindingRank is 0 for the binding of a rule's own pattern, 1 for one of
// its additional bindings.
func bindingRank(rt *route) int {
	if rule, _ := ruleFor(rt.up, rt.binding.Method); rt.binding.FromRuleOwnPattern(rule) {
		return 0
	}
	return 1
}

// OpenAPIDocument is the live document of product's table ("": the
// default), as its listener serves it; nil when documents are off.
func (g *Gateway) OpenAPIDocument(product string) ([]byte, error) {
	if g.docs == nil {
		return nil, nil
	}
	doc, _, err := g.docs.Document(g.openAPITable(product))
	return doc, err
}
