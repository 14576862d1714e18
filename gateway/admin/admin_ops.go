package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// mountOperations adds the operator's endpoints to the admin mux:
// /metrics, /admin/config, /admin/stats, the console and its API explorer and, when
// o.Access.Pprof, /debug/pprof/.
// They exist on the admin listener only (127.0.0.1 by default), never on
// the public one: profiles and the effective config are for operators.
func mountOperations(mux *endpointMux, o Options) {
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	if o.Config != nil && o.Control == nil {
		mux.HandleFunc("GET /admin/config", func(w http.ResponseWriter, _ *http.Request) {
			cfg, err := EffectiveConfig(o.Config)
			if err != nil {
				writeAdminError(w, err)
				return
			}
			WriteJSON(w, http.StatusOK, cfg)
		})
	}
	if o.Stats != nil {
		mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, o.Stats())
		})
	}
	if o.History != nil {
		mux.HandleFunc("GET /admin/stats/history", func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, o.History())
		})
	}
	if o.Consumers != nil {
		mux.HandleFunc("GET /admin/consumers", func(w http.ResponseWriter, r *http.Request) {
			// A quota in Redis is read over the network: a slow Redis
			// costs the view its quotas (each says why), not the view.
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			WriteJSON(w, http.StatusOK, o.Consumers(ctx))
		})
	}
	mountConsole(mux)
	mountExplorer(mux, o)
	if !o.Access.Pprof {
		return // profiles show memory contents and cost CPU: opt-in
	}
	// Explicit handlers on this mux: importing net/http/pprof also
	// registers them on http.DefaultServeMux, which refract never serves.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// writeRefreshError answers a failed POST /admin/descriptors/{upstream}
// with a google.rpc.Status: 404 for an upstream the cache does not hold,
// 502 when the upstream's reflection failed (the gateway is fine; the
// backend is not), with the reflection error's own code.
func writeRefreshError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	httpStatus := http.StatusBadGateway
	if errors.Is(err, reflection.ErrUnknownUpstream) {
		httpStatus = http.StatusNotFound
	}
	rpcstatus.WriteProto(w, httpStatus, st.Proto())
}

// writeAdminError answers an admin request the gateway could not serve.
func writeAdminError(w http.ResponseWriter, err error) {
	rpcstatus.WriteStatus(w, http.StatusInternalServerError, codes.Internal, err.Error())
}

// descriptorView is one upstream of /admin/descriptors: the cache's stats
// with the fetch duration in seconds, as the admin API gives durations.
type descriptorView struct {
	reflection.Stats
	FetchDurationSeconds float64 `json:"fetch_duration_seconds"`
}

// indexView is GET /admin: which refract this is, and what it serves.
type indexView struct {
	Build     telemetry.Build `json:"build"`
	Endpoints []string        `json:"endpoints"`
}

// endpointMux is the admin mux, keeping the patterns it was given so that
// GET /admin lists exactly what is served.
type endpointMux struct {
	*http.ServeMux
	patterns []string
}

// Handle registers h for pattern and keeps the pattern.
func (m *endpointMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers f for pattern and keeps the pattern.
func (m *endpointMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// list is the registered patterns, sorted, with the exact-match marker
// dropped ("GET /{$}" is "GET /"); registration ends before the first
// request, so reading needs no lock.
func (m *endpointMux) list() []string {
	out := make([]string, 0, len(m.patterns))
	for _, p := range m.patterns {
		out = append(out, strings.TrimSuffix(p, "{$}"))
	}
	slices.Sort(out)
	return out
}
