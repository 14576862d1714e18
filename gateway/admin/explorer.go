package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// TryPrefix is where the console's API explorer sends its calls: the
// rest of the path, the query, the body and the headers go to the public
// handler as a request of its own, through every policy of the public
// chain. The admin token never goes along: Authorization and AdminHeader
// are removed, and TryAuthorizationHeader, when sent, becomes the call's
// Authorization (the API's own credentials).
const TryPrefix = "/admin/try"

// TryAuthorizationHeader carries the API's own Authorization through
// TryPrefix, since Authorization carries the admin token.
const TryAuthorizationHeader = "X-Refract-Try-Authorization"

// mountExplorer serves the API explorer's endpoints: the live OpenAPI
// document with its server set to TryPrefix, and TryPrefix itself.
func mountExplorer(mux *endpointMux, o Options) {
	g := o.Gateway
	mux.HandleFunc("GET /admin/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		doc, err := g.OpenAPIDocument("")
		if err != nil {
			writeAdminError(w, err)
			return
		}
		if doc == nil {
			rpcstatus.WriteStatus(w, http.StatusNotFound, codes.NotFound, "admin API: the OpenAPI document is off (openapi.enabled: false)")
			return
		}
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			writeAdminError(w, err)
			return
		}
		m["servers"] = []map[string]string{{"url": TryPrefix, "description": "the public handler, called through the admin listener"}}
		WriteJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc(TryPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		raw := strings.TrimPrefix(r.URL.EscapedPath(), TryPrefix)
		p, err := url.PathUnescape(raw)
		if err != nil {
			rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, "admin API: bad path: "+err.Error())
			return
		}
		call := r.Clone(r.Context())
		call.URL.Path, call.URL.RawPath, call.RequestURI = p, raw, ""
		hd := call.Header
		for _, k := range []string{"Authorization", AdminHeader, "Cookie", "Origin", "Referer"} {
			hd.Del(k)
		}
		if a := hd.Get(TryAuthorizationHeader); a != "" {
			hd.Set("Authorization", a)
		}
		hd.Del(TryAuthorizationHeader)
		g.ServeHTTP(w, call)
	})
}

// docsPage is the public documentation page; Spec is the document's path.
var docsPage = template.Must(template.ParseFS(consoleFiles, "console/docs.html"))

// Docs serves the API documentation under prefix (e.g. /docs) of a public
// listener: the OpenAPI viewer over the document served at spec, whose
// "try it out" calls that listener. Its files carry ConsoleCSP. Safe for
// concurrent use.
func Docs(prefix, spec string) (http.Handler, error) {
	prefix = strings.TrimSuffix(prefix, "/")
	var page bytes.Buffer
	if err := docsPage.Execute(&page, struct{ Prefix, Spec string }{prefix, spec}); err != nil {
		return nil, fmt.Errorf("admin: API documentation page: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			rpcstatus.WriteStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented, "the API documentation is read with GET")
			return
		}
		switch rest := strings.TrimPrefix(r.URL.Path, prefix); rest {
		case "", "/":
			writeStatic(w, "text/html; charset=utf-8", page.Bytes())
		case "/docs.js", "/favicon.svg", "/swagger-ui/swagger-ui-bundle.js", "/swagger-ui/swagger-ui.css", "/swagger-ui/LICENSE", "/swagger-ui/NOTICE":
			serveConsoleFile(w, strings.TrimPrefix(rest, "/"))
		default:
			rpcstatus.WriteStatus(w, http.StatusNotFound, codes.NotFound, "no such file of the API documentation: "+r.URL.Path)
		}
	}), nil
}
