package gateway

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode/openapi"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
)

// openapiDocs serves the live OpenAPI document of each public listener:
// the routes of the table the request would be matched against, so a
// product's listener (or host) describes that product only and hidden
// methods never appear. A document is built on the first request after a
// table swap and kept for that table: never per request, and never on the
// route-build path.
type openapiDocs struct {
	path string
	mu   sync.Mutex
	docs map[string]*openapiDoc // by product; "" is the main table
}

// openapiDoc is one table's document.
type openapiDoc struct {
	table *router.Table[*route]
	body  []byte
	etag  string
	err   error
}

func newOpenAPIDocs(o OpenAPIOptions) *openapiDocs {
	if !o.Enabled {
		return nil
	}
	path := o.Path
	if path == "" {
		path = "/openapi.json"
	}
	return &openapiDocs{path: path, docs: map[string]*openapiDoc{}}
}

// serveOpenAPI answers GET and HEAD on the document's path.
func (g *Gateway) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if info := policy.InfoFrom(r.Context()); info != nil {
		info.Route = r.Method + " " + g.docs.path
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented,
			fmt.Sprintf("method %s is not allowed on %s; allowed: GET, HEAD", r.Method, g.docs.path), nil)
		return
	}
	doc := g.openAPIDoc(g.productOfRequest(r))
	if doc.err != nil {
		g.log.Error().Err(doc.err).Msg("openapi: cannot describe the routes")
		writeStatus(w, http.StatusInternalServerError, codes.Internal, "the OpenAPI document could not be built; the error is logged", nil)
		return
	}
	h := w.Header()
	h.Set("ETag", doc.etag)
	// Clients revalidate each time: the document changes with the backends.
	h.Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == doc.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(doc.body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc.body)
	}
}

// openAPIDoc returns the document of a product's current table, building
// it when the table changed since the last one.
func (g *Gateway) openAPIDoc(product string) *openapiDoc {
	tbl := g.productTable(product)
	d := g.docs
	d.mu.Lock()
	defer d.mu.Unlock()
	if doc := d.docs[product]; doc != nil && doc.table == tbl {
		return doc
	}
	doc := &openapiDoc{table: tbl}
	title := "refract"
	if product != "" {
		title += " — " + product
	}
	doc.body, doc.err = openapi.Document(openapi.Info{Title: title, Description: openapiDescription}, g.openAPIRoutes(tbl))
	if doc.err == nil {
		h := fnv.New64a()
		h.Write(doc.body)
		doc.etag = `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	}
	d.docs[product] = doc
	return doc
}

// openAPIRoutes lists a table's routes for the document, each method's
// routes in the order of its rule (the primary binding first, then
// additional_bindings), so that operation IDs are numbered by the rule.
func (g *Gateway) openAPIRoutes(tbl *router.Table[*route]) []openapi.Route {
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
	rule, _ := ruleFor(rt.up, rt.binding.Method)
	if rule == nil {
		return 1
	}
	var path string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		path = p.Get
	case *annotations.HttpRule_Put:
		path = p.Put
	case *annotations.HttpRule_Post:
		path = p.Post
	case *annotations.HttpRule_Delete:
		path = p.Delete
	case *annotations.HttpRule_Patch:
		path = p.Patch
	case *annotations.HttpRule_Custom:
		path = p.Custom.GetPath()
	}
	if t, err := router.ParseTemplate(path); err == nil && t.String() == rt.binding.Template.String() {
		return 0
	}
	return 1
}

// openapiDescription heads every document.
const openapiDescription = "Served by refract from the backends' reflected descriptors; it changes when they do.\n\n" +
	"Bodies follow the proto3 JSON mapping: requests take field names in lowerCamelCase (json_name) or as in the .proto; " +
	"64-bit integers are strings, bytes are base64, enums are their value names. " +
	"Every error is a google.rpc.Status JSON body with the HTTP status of its gRPC code."
