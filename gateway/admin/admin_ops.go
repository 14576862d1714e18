package admin

import (
	"errors"
	"net/http"
	"net/http/pprof"

	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// mountOperations adds the operator's endpoints to the admin mux:
// /metrics, /admin/config, /admin/stats, the dashboard and, when
// o.Access.Pprof, /debug/pprof/.
// They exist on the admin listener only (127.0.0.1 by default), never on
// the public one: profiles and the effective config are for operators.
func mountOperations(mux *http.ServeMux, o Options) {
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
	mountDashboard(mux)
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
