package gateway

import (
	"encoding/json"
	"log"
	"net/http"
	"strings"

	"github.com/rs/zerolog"
)

// AdminHandler serves the admin API: /healthz (the process is alive),
// /readyz (200 once every required upstream has descriptors and the
// gateway is serving and not draining; 503 with the reasons otherwise),
// /admin/routes (the routes being served), /admin/upstreams (endpoints,
// discovery state and schema splits), /admin/breakers (circuit breakers
// and their states), /admin/descriptors (the descriptor cache per
// upstream; POST refreshes now), and the operations endpoints of
// admin_ops.go: /metrics, /admin/config, /admin/stats, the dashboard on /
// and /debug/pprof/.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, missing := g.Ready()
		var reasons []string
		if len(missing) > 0 {
			reasons = append(reasons, "no routes yet (descriptors pending) for upstreams: "+strings.Join(missing, ", "))
		}
		if !g.serving.Load() {
			ok, reasons = false, append(reasons, "listeners are not up")
		}
		if g.draining.Load() {
			ok, reasons = false, append(reasons, "draining")
		}
		stale, failing := g.discoveryProblems()
		if !ok {
			reasons = append(reasons, failing...)
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reasons": reasons})
			return
		}
		// Stale discovery does not make the gateway unready: it serves the
		// last known endpoints, which beats serving nothing. It is said.
		if warnings := append(stale, failing...); len(warnings) > 0 {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "warnings": warnings})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /admin/routes", func(w http.ResponseWriter, _ *http.Request) {
		g.buildMu.Lock()
		hidden := map[string][]HiddenMethod{}
		for name, b := range g.built {
			if len(b.hidden) > 0 {
				hidden[name] = b.hidden
			}
		}
		g.buildMu.Unlock()
		resp := map[string]any{"routes": g.Routes(), "unrouted": g.Unrouted(), "hidden": hidden}
		if be := g.buildErr.Load(); be != nil {
			resp["build_error"] = be.err.Error()
		}
		writeJSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("GET /admin/upstreams", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.Upstreams())
	})
	mux.HandleFunc("GET /admin/breakers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"breakers": g.Breakers()})
	})
	mux.HandleFunc("GET /admin/descriptors", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.cache.Stats())
	})
	mux.HandleFunc("POST /admin/descriptors/{upstream}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := g.cache.Refresh(r.Context(), r.PathValue("upstream")); err != nil {
			writeRefreshError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, g.cache.Stats())
	})
	g.mountOperations(mux) // admin_ops.go
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// newStdLogger routes net/http's internal errors (TLS handshakes, bad
// requests it rejects itself) into the structured log.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(l.With().Str("component", "http").Logger(), "", 0)
}
