package admin

import (
	"embed"
	"net/http"
)

// dashboardFiles is the dashboard: one page, its script and its styles,
// compiled in. No CDN and no external asset: the admin listener is often
// reachable only from a bastion without internet access.
//
//go:embed dashboard/index.html dashboard/dashboard.js dashboard/dashboard.css
var dashboardFiles embed.FS

// dashboardCSP is the Content-Security-Policy of the dashboard's files.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'"

// mountDashboard serves the dashboard on / (and /dashboard) of the admin
// listener. The page polls /admin/stats every two seconds.
func mountDashboard(mux *endpointMux) {
	page := func(name, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			b, err := dashboardFiles.ReadFile("dashboard/" + name)
			if err != nil {
				writeAdminError(w, err)
				return
			}
			h := w.Header()
			h.Set("Content-Type", contentType)
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Content-Type-Options", "nosniff")
			// Only its own script, styles and JSON: nothing else may load,
			// and no other page may frame it (clickjacking).
			h.Set("Content-Security-Policy", dashboardCSP)
			_, _ = w.Write(b)
		}
	}
	mux.HandleFunc("GET /{$}", page("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /dashboard", page("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /dashboard/dashboard.js", page("dashboard.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /dashboard/dashboard.css", page("dashboard.css", "text/css; charset=utf-8"))
}
