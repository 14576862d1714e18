package gateway

import (
	"errors"
	"net/http"
	"net/http/pprof"

	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// mountOperations adds the operator's endpoints to the admin mux:
// /metrics, /admin/config, /admin/stats, the dashboard and /debug/pprof/.
// They exist on the admin listener only (127.0.0.1 by default), never on
// the public one: profiles and the effective config are for operators.
func (g *Gateway) mountOperations(mux *http.ServeMux) {
	mux.Handle("GET /metrics", g.metrics.Handler())
	mux.HandleFunc("GET /admin/config", func(w http.ResponseWriter, _ *http.Request) {
		cfg, err := g.EffectiveConfig()
		if err != nil {
			writeAdminError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, cfg)
	})
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.Stats())
	})
	g.mountDashboard(mux)
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
	writeStatusProto(w, httpStatus, st.Proto(), nil)
}

// writeAdminError answers an admin request the gateway could not serve.
func writeAdminError(w http.ResponseWriter, err error) {
	writeStatus(w, http.StatusInternalServerError, codes.Internal, err.Error(), nil)
}
