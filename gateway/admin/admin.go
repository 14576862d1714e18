package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// Options are what the admin listener serves: the engine's read model
// and what the process around it knows.
type Options struct {
	// Gateway is the engine whose read model the API shows; required.
	Gateway *gateway.Gateway
	// Config is the config Gateway was built from, shown redacted on
	// /admin/config; nil: that endpoint answers 404.
	Config *config.Config
	// Metrics serves /metrics (the Prometheus exposition); nil: 404.
	Metrics http.Handler
	// Stats is the console's view, served on /admin/stats; nil: 404.
	Stats func() telemetry.Stats
	// History is the short history of rates and latencies, served on
	// /admin/stats/history; nil: 404.
	History func() telemetry.HistoryView
	// Consumers is the consumers view (requests, denials and quotas per
	// caller), served on /admin/consumers; nil: 404.
	Consumers func(context.Context) telemetry.ConsumersView
	// Reload, when set, serves GET and POST /admin/reload (the server's
	// config status and reload).
	Reload http.Handler
	// Listening reports whether the listeners are open; Draining whether
	// the process is draining. Both feed /readyz; nil: listening, not
	// draining.
	Listening, Draining func() bool
	// Access is who may use the API (allowed Hosts, tokens, client
	// certificates) and whether pprof is served; see Access.
	Access Access
	// Build is the running binary's version, shown on GET /admin.
	Build telemetry.Build
	// Control, when set, serves the config's write side (PUT, PATCH,
	// validate, history, rollback, gray releases) and the audit log, and
	// records every other state-changing request in the audit log; it
	// replaces the read-only GET /admin/config of Config.
	Control *Control
}

// Handler serves the admin API: /healthz (the process is alive), /readyz
// (200 once every required upstream has descriptors and the listeners
// are up and not draining; 503 with the reasons otherwise), /admin/routes
// (the routes being served), /admin (the running version and the
// endpoints), /admin/upstreams (endpoints, discovery state
// and schema splits), /admin/breakers (circuit breakers and their states),
// /admin/descriptors (the descriptor cache per upstream; POST refreshes
// now), /admin/reload, and the operator's endpoints: /metrics,
// /admin/config, /admin/stats (and its history), /admin/consumers, the operator console on
// /, the live OpenAPI document (/admin/openapi.json) and the explorer's
// calls (/admin/try/), and, when o.Access.Pprof, /debug/pprof/. Every request passes o.Access first.
// Safe for concurrent use.
func Handler(o Options) http.Handler {
	g := o.Gateway
	mux := &endpointMux{ServeMux: http.NewServeMux()}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, missing := g.Ready()
		var reasons []string
		if len(missing) > 0 {
			reasons = append(reasons, "no routes yet (descriptors pending) for upstreams: "+strings.Join(missing, ", "))
			for _, name := range missing { // the dial or reflection error of each
				if p := g.Cache().Problem(name); p != "" {
					reasons = append(reasons, p)
				}
			}
		}
		if o.Listening != nil && !o.Listening() {
			ok, reasons = false, append(reasons, "listeners are not up")
		}
		if o.Draining != nil && o.Draining() {
			ok, reasons = false, append(reasons, "draining")
		}
		stale, failing := g.DiscoveryProblems()
		if !ok {
			reasons = append(reasons, failing...)
			WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reasons": reasons})
			return
		}
		// Stale discovery does not make the gateway unready: it serves the
		// last known endpoints, which beats serving nothing. It is said.
		if warnings := append(stale, failing...); len(warnings) > 0 {
			WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "warnings": warnings})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /admin/routes", func(w http.ResponseWriter, _ *http.Request) {
		hidden := g.HiddenMethods()
		resp := map[string]any{"routes": g.Routes(), "unrouted": g.Unrouted(), "hidden": hidden, "refused": g.RefusedRoutes(),
			"policy_selectors": g.PolicySelectors()}
		if err := g.BuildError(); err != nil {
			resp["build_error"] = err.Error()
		}
		WriteJSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, indexView{Build: o.Build, Endpoints: mux.list()})
	})
	mux.HandleFunc("GET /admin/upstreams", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, g.Upstreams())
	})
	mux.HandleFunc("GET /admin/breakers", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{"breakers": g.Breakers()})
	})
	mux.HandleFunc("GET /admin/descriptors", func(w http.ResponseWriter, _ *http.Request) {
		stats := g.Cache().Stats()
		views := make([]descriptorView, len(stats))
		for i, s := range stats {
			views[i] = descriptorView{s, s.FetchDuration.Seconds()}
		}
		WriteJSON(w, http.StatusOK, views)
	})
	mux.HandleFunc("POST /admin/descriptors/{upstream}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("upstream")
		if _, err := g.Cache().Refresh(r.Context(), name); err != nil {
			writeRefreshError(w, err)
			return
		}
		// The upstream refreshed, not every one: the caller asked about it.
		for _, s := range g.Cache().Stats() {
			if s.Upstream == name {
				WriteJSON(w, http.StatusOK, descriptorView{s, s.FetchDuration.Seconds()})
				return
			}
		}
		// Removed by a reload between the refresh and now.
		rpcstatus.WriteStatus(w, http.StatusNotFound, codes.NotFound, fmt.Sprintf("upstream %q was removed by a reload", name))
	})
	if o.Reload != nil {
		mux.Handle("GET /admin/reload", o.Reload)
		mux.Handle("POST /admin/reload", o.Reload)
	}
	mux.HandleFunc("GET /admin/whoami", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, IdentityOf(r))
	})
	mountOperations(mux, o)
	mountDescriptors(mux, g)
	if o.Control == nil {
		return o.Access.guard(mux)
	}
	o.Control.mount(mux)
	return o.Access.guard(o.Control.auditOthers(mux))
}

// WriteJSON answers with v as indented JSON: the admin API's success
// shape (errors are google.rpc.Status bodies).
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
