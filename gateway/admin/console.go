package admin

import (
	"embed"
	"net/http"
	"path"
	"strings"
)

// consoleFiles are the console (one page, its script and styles) and the
// OpenAPI viewer (swagger-ui-dist's bundle, styles and licenses),
// compiled in. No CDN and no external asset: the admin listener is often
// reachable only from a bastion without internet access.
//
//go:embed console/index.html console/console.js console/console.css console/docs.html console/docs.js console/favicon.svg
//go:embed console/swagger-ui/swagger-ui-bundle.js console/swagger-ui/swagger-ui.css
//go:embed console/swagger-ui/LICENSE console/swagger-ui/NOTICE console/swagger-ui/swagger-ui-bundle.js.LICENSE.txt
var consoleFiles embed.FS

// ConsoleCSP is the Content-Security-Policy of the console's and the
// API documentation's files: only their own scripts, styles and JSON
// load (the viewer's icons are data: images in its styles), nothing
// inline runs, and no other page may frame them (clickjacking).
const ConsoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes are the types of the console's files, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
	".txt": "text/plain; charset=utf-8", "": "text/plain; charset=utf-8", ".svg": "image/svg+xml",
}

// serveConsoleFile answers with the embedded file name (relative to
// console/), 404 when there is none.
func serveConsoleFile(w http.ResponseWriter, name string) {
	b, err := consoleFiles.ReadFile("console/" + name)
	if err != nil || strings.Contains(name, "..") {
		http.NotFound(w, nil)
		return
	}
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		ct = "application/octet-stream"
	}
	writeStatic(w, ct, b)
}

// writeStatic writes a console file with the headers every one carries.
func writeStatic(w http.ResponseWriter, contentType string, b []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", ConsoleCSP)
	_, _ = w.Write(b)
}

// mountConsole serves the console on / (and /dashboard, its former
// name) and its files under /console/ of the admin listener.
func mountConsole(mux *endpointMux) {
	index := func(w http.ResponseWriter, _ *http.Request) { serveConsoleFile(w, "index.html") }
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("GET /dashboard", index)
	mux.HandleFunc("GET /console/{file...}", func(w http.ResponseWriter, r *http.Request) {
		if f := r.PathValue("file"); f != "docs.html" { // the public page's template
			serveConsoleFile(w, f)
			return
		}
		http.NotFound(w, r)
	})
}
