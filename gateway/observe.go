package gateway

import (
	"net/http"

	"github.com/refract-gateway/refract/gateway/observe"
	"github.com/refract-gateway/refract/policy"
)

// The observer contract lives in package observe, so that observers
// (telemetry) and the engine share it without one importing the other's
// internals.
type (
	Observer      = observe.Observer
	RouteObserver = observe.RouteObserver
)

// UnmatchedRoute is the route template reported for requests answered
// without a route.
const UnmatchedRoute = observe.UnmatchedRoute

// RejectReasons lists every reason Observer.Rejected may be given.
func RejectReasons() []string { return observe.RejectReasons() }

// observed wraps the public handler (inside policy.State, so the request's
// Info exists and records the response, and outside every policy, so that
// their rejections and time count): in-flight, status, duration, bytes,
// and which policy rejected. Without an observer it wraps nothing.
func (g *Gateway) observed(next http.Handler) http.Handler {
	if _, none := g.obs.(observe.Nop); none {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := policy.InfoFrom(r.Context())
		if info == nil {
			// Mounted without policy.State: nothing records the answer.
			next.ServeHTTP(w, r)
			return
		}
		g.obs.InFlight(1)
		// Deferred: a raw download the gateway aborts (panic with
		// http.ErrAbortHandler) is still counted, with the status it sent.
		defer g.record(info, r.Method)
		next.ServeHTTP(w, r)
	})
}

// record reports one answered request.
func (g *Gateway) record(info *policy.Info, method string) {
	g.obs.InFlight(-1)
	ro, _ := info.Observer.(RouteObserver)
	if ro == nil {
		ro = g.obs.Unmatched(method)
	}
	status := info.Status()
	if status == 0 {
		status = http.StatusOK
	}
	ro.Answered(status, g.now().Sub(info.Start), info.BytesIn(), info.BytesOut())
	reason := ""
	if status >= 400 && info.Stage.Refuses() {
		reason = info.Stage.String()
		g.obs.Rejected(reason)
	}
	g.obs.Consumed(info.ConsumerName(), info.Subject, status, reason)
}
