package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	upconn "github.com/refract-gateway/refract/gateway/upstream"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/resilience"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// CallPlan is how one route's upstream call is made: its deadline, the
// breaker it passes, its retries, the fallback served when the upstream
// cannot answer, and the split between the upstream's subsets. Made by
// Policies.Call whenever routes are rebuilt; immutable once the route
// holds it. A nil plan makes one plain call with the upstream's timeout.
type CallPlan struct {
	// Timeout is the call's deadline (a shorter Grpc-Timeout wins).
	Timeout time.Duration
	// Breaker, when set, every try passes.
	Breaker *resilience.Breaker
	// Retry, when set, retries failed tries when safe.
	Retry *resilience.Retry
	// Fallback, when set, answers while the upstream cannot.
	Fallback *resilience.Fallback
	// Split, when set, sends each call to one of the upstream's subsets,
	// by the names it picks among.
	Split *resilience.Split

	subsets []*upconn.Subset // split index → subset, resolved by the gateway
}

// compileCall is the route's call plan, its split's subsets resolved.
// Control path only.
func (g *Gateway) compileCall(rt *route, ref RouteRef) *CallPlan {
	plan := g.pol.Call(ref)
	if plan != nil && plan.Split != nil {
		for _, n := range plan.Split.Names() {
			plan.subsets = append(plan.subsets, rt.up.conns.Subset(n))
		}
	}
	return plan
}

// methodIdempotent reads the method's idempotency_level option.
func methodIdempotent(md protoreflect.MethodDescriptor) bool {
	if md == nil {
		return false
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return false
	}
	switch opts.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_IDEMPOTENT, descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
		return true
	}
	return false
}

// names lists the plan's parts for /admin/routes, after the chain's
// stages (they wrap the upstream call, inside the chain).
func (c *CallPlan) names() []string {
	if c == nil {
		return nil
	}
	var out []string
	if c.Split != nil {
		out = append(out, "split")
	}
	if c.Fallback != nil {
		out = append(out, "fallback")
	}
	if c.Breaker != nil {
		out = append(out, "breaker")
	}
	if c.Retry != nil {
		out = append(out, "retry")
	}
	return out
}

// deadline is the route's timeout (the upstream's unless a level set one).
func (c *CallPlan) deadline(u *upstream) time.Duration {
	if c == nil {
		return u.timeout
	}
	return c.Timeout
}

// invoke makes the route's upstream call into resp: on the split's subset
// when there is one, through the breaker, retried when safe. header,
// trailer and pr receive the last try's; opts (a codec, say) go to every
// try. resp is reset between tries when it can be (a proto.Message, or
// anything with Reset()).
func (c *CallPlan) invoke(ctx context.Context, r *http.Request, rt *route, req, resp any, header, trailer *metadata.MD, pr *peer.Peer, opts ...grpc.CallOption) error {
	conn := rt.conn
	if c != nil && c.Split != nil {
		if s := c.subsets[c.Split.Pick(policy.SplitRequest(r), clientIP(r, policy.InfoFrom(r.Context())))]; s != nil {
			conn = s.Conn()
		}
	}
	// Built once for every try: the options only hold pointers.
	callOpts := make([]grpc.CallOption, 0, 3+len(opts))
	callOpts = append(append(callOpts, grpc.Header(header), grpc.Trailer(trailer), grpc.Peer(pr)), opts...)
	once := func(ctx context.Context) (bool, error) {
		*pr = peer.Peer{}
		err := conn.Invoke(ctx, rt.binding.FullMethod, req, resp, callOpts...)
		rt.obs.Called(status.Code(err))
		// A peer is recorded only once a transport stream was opened: without
		// one the request cannot have reached a server.
		return pr.Addr != nil, err
	}
	if c == nil {
		_, err := once(ctx)
		return err
	}
	tries := 0
	try := func(ctx context.Context) (bool, error) {
		if tries > 0 {
			switch m := resp.(type) {
			case proto.Message:
				proto.Reset(m)
			case interface{ Reset() }:
				m.Reset()
			}
		}
		tries++
		if c.Breaker == nil {
			return once(ctx)
		}
		var reached bool
		err := c.Breaker.Do(func() error {
			var err error
			reached, err = once(ctx)
			return err
		})
		return reached, err
	}
	if c.Retry == nil {
		_, err := try(ctx)
		return err
	}
	return c.Retry.Do(ctx, try)
}

// callFailed answers a failed call itself when resilience has something to
// say: the fallback while the upstream cannot answer, or an open breaker's
// 503 with Retry-After. It returns false when the usual error mapping
// should answer.
func (g *Gateway) callFailed(w http.ResponseWriter, rt *route, err error) bool {
	var open *resilience.BreakerOpenError
	isOpen := errors.As(err, &open)
	if isOpen {
		g.obs.Rejected(rejectBreaker)
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
