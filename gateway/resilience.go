package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/refract-gateway/refract/gateway/observe"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/resilience"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// CallPlan is how one route's upstream call is made (resilience.Plan):
// Policies.Call makes one per route whenever routes are rebuilt; nil makes
// one plain call with the upstream's timeout.
type CallPlan = resilience.Plan

// compileCall is the route's call plan, with its split's subsets
// resolved into rt.subsets. Control path only.
func (g *Gateway) compileCall(rt *route, ref RouteRef) *CallPlan {
	plan := g.pol.Call(ref)
	rt.subsets = nil
	if plan != nil && plan.Split != nil {
		for _, n := range plan.Split.Names() {
			rt.subsets = append(rt.subsets, rt.up.conns.Subset(n))
		}
	}
	return plan
}

// invoke makes the route's upstream call into resp through its plan: on
// the split's subset when there is one, through the breaker, retried when
// safe. opts go to every try and must hold grpc.Peer(pr): pr receives the
// last try's peer. clientDeadline: ctx's deadline is the client's, shorter
// than the route's (resilience.Plan.Invoke).
func (rt *route) invoke(ctx context.Context, r *http.Request, clientDeadline bool, req, resp any, pr *peer.Peer, opts ...grpc.CallOption) error {
	conn := rt.conn
	if c := rt.call; c != nil && c.Split != nil {
		if s := rt.subsets[c.Split.Pick(policy.SplitRequest(r), policy.ClientAddrString(r, policy.InfoFrom(r.Context())))]; s != nil {
			conn = s.Conn()
		}
	}
	return rt.call.Invoke(ctx, resp, clientDeadline, func(ctx context.Context) (bool, error) {
		*pr = peer.Peer{}
		err := rt.up.conns.Invoke(ctx, conn, rt.binding.FullMethod, req, resp, opts...)
		rt.obs.Called(status.Code(err))
		// A peer is recorded only once a transport stream was opened: without
		// one the request cannot have reached a server.
		return pr.Addr != nil, err
	})
}

// callFailed answers a failed call itself when resilience has something to
// say: the fallback while the upstream cannot answer, or an open breaker's
// 503 with Retry-After. It returns false when the usual error mapping
// should answer.
func (g *Gateway) callFailed(w http.ResponseWriter, rt *route, err error) bool {
	var open *resilience.BreakerOpenError
	isOpen := errors.As(err, &open)
	if isOpen {
		g.obs.Rejected(observe.RejectBreaker)
	}
	if status.Code(err) == codes.Unavailable && rt.call != nil && rt.call.Fallback != nil {
		reason := "unavailable"
		if isOpen {
			reason = "breaker_open"
		}
		policy.ServeFallback(w, rt.call.Fallback, reason)
		return true
	}
	if isOpen {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(open.RetryAfter.Seconds()))))
		writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, open.Error(), rt.binding)
		return true
	}
	return false
}

// unavailableFallback serves the route's fallback when discovery knows no
// endpoint; false when there is none.
func (rt *route) unavailableFallback(w http.ResponseWriter) bool {
	if rt.call == nil || rt.call.Fallback == nil {
		return false
	}
	policy.ServeFallback(w, rt.call.Fallback, "unavailable")
	return true
}
