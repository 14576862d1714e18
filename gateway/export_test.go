package gateway

import (
	"net/http"

	"github.com/refract-gateway/refract/router"
)

// This file lends the package's black-box tests the few internals they
// check directly; it is compiled only into the tests.

// EdgeWrapped reports whether anything wraps the public handler's policy chain.
func (g *Gateway) EdgeWrapped() bool {
	_, wrapped := (*g.edge.Load()).(interface{ Unwrap() http.Handler })
	return wrapped
}

// BreakRoutes replaces every route's upstream with nil, so that serving
// one panics.
func (g *Gateway) BreakRoutes() error {
	entries := g.routes.Load().Entries()
	for i := range entries {
		broken := *entries[i].Value
		broken.up = nil
		entries[i].Value = &broken
	}
	bad, err := router.NewTable(entries)
	if err != nil {
		return err
	}
	g.routes.Store(bad)
	return nil
}

// RecompileRoutes compiles upstream's routes again, as new descriptors
// would, and reports whether a new set was built.
func (g *Gateway) RecompileRoutes(upstream string) bool {
	g.buildMu.Lock()
	defer g.buildMu.Unlock()
	before := g.built[upstream]
	delete(g.built, upstream)
	g.rebuildRoutesLocked()
	after := g.built[upstream]
	return after != nil && after != before
}

// SameOpenAPIDoc reports whether two requests for the main table's
// document get the one value built for it.
func (g *Gateway) SameOpenAPIDoc() bool {
	a, _, errA := g.docs.Document(g.openAPITable(""))
	b, _, errB := g.docs.Document(g.openAPITable(""))
	return errA == nil && errB == nil && len(a) > 0 && &a[0] == &b[0]
}

// BuildOpenAPIDoc builds the main table's document afresh, as the first
// request after a table swap does.
func (g *Gateway) BuildOpenAPIDoc() error {
	g.docs = g.newOpenAPIServer(OpenAPIOptions{Enabled: true, Path: g.docs.Path()})
	_, _, err := g.docs.Document(g.openAPITable(""))
	return err
}
