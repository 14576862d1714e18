package openapi

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"sync"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Path is where the documents are served; default "/openapi.json".
	Path string
	// OnError is told why a document could not be built (the client gets
	// a 500 saying the error is logged); default nil: nobody is.
	OnError func(error)
}

// Table is one route table a Server describes: the routes a listener (or
// a Host) serves, so that a product's listener describes that product
// only.
type Table struct {
	// Name is the table's product: one document is kept per name, and a
	// name is appended to the title ("refract — shop"). "" is the main
	// table.
	Name string
	// Version identifies the table's value, compared with ==: the
	// document is built again when it changes (a table swap), never
	// otherwise.
	Version any
	// Routes lists the table's routes, each method's in the order of its
	// rule (the primary binding first), so that operation IDs are numbered
	// by the rule. Called once per build.
	Routes func() []Route
}

// Server serves the live OpenAPI document of each table it is handed: a
// document is built on the first request after the table changed and kept
// for that table, with its ETag; never per request. Safe for concurrent
// use.
type Server struct {
	path    string
	onError func(error)
	mu      sync.Mutex
	docs    map[string]*served // by Table.Name
}

// served is one table's document.
type served struct {
	version any
	body    []byte
	etag    string
	err     error
}

// NewServer returns a Server with o's defaults applied.
func NewServer(o ServerOptions) *Server {
	if o.Path == "" {
		o.Path = "/openapi.json"
	}
	return &Server{path: o.Path, onError: o.OnError, docs: map[string]*served{}}
}

// Path is where the documents are served.
func (s *Server) Path() string { return s.path }

// Serve answers a request for t's document: GET and HEAD (405 with Allow
// otherwise), 304 when If-None-Match holds its ETag, 500 when it cannot be
// built. Clients are told to revalidate each time (Cache-Control:
// no-cache): the document changes with the backends.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, t Table) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		rpcstatus.WriteStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented,
			fmt.Sprintf("method %s is not allowed on %s; allowed: GET, HEAD", r.Method, s.path))
		return
	}
	doc := s.document(t)
	if doc.err != nil {
		if s.onError != nil {
			s.onError(doc.err)
		}
		rpcstatus.WriteStatus(w, http.StatusInternalServerError, codes.Internal, "the OpenAPI document could not be built; the error is logged")
		return
	}
	h := w.Header()
	h.Set("ETag", doc.etag)
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

// Document returns t's document and its ETag, or why it could not be
// built: the value kept for t's version when there is one (the same
// body, not a copy; callers must not change it), else a new build.
func (s *Server) Document(t Table) (body []byte, etag string, err error) {
	doc := s.document(t)
	return doc.body, doc.etag, doc.err
}

func (s *Server) document(t Table) *served {
	s.mu.Lock()
	defer s.mu.Unlock()
	if doc := s.docs[t.Name]; doc != nil && doc.version == t.Version {
		return doc
	}
	doc := &served{version: t.Version}
	title := "refract"
	if t.Name != "" {
		title += " — " + t.Name
	}
	doc.body, doc.err = Document(Info{Title: title, Description: servedDescription}, t.Routes())
	if doc.err == nil {
		h := fnv.New64a()
		h.Write(doc.body)
		doc.etag = `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	}
	s.docs[t.Name] = doc
	return doc
}

// servedDescription heads every document a Server serves.
const servedDescription = "Served by refract from the backends' reflected descriptors; it changes when they do.\n\n" +
	"Bodies follow the proto3 JSON mapping: requests take field names in lowerCamelCase (json_name) or as in the .proto; " +
	"64-bit integers are strings, bytes are base64, enums are their value names. " +
	"Every error is a google.rpc.Status JSON body with the HTTP status of its gRPC code."
