package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
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

// callPlan is how one route's upstream call is made: its deadline, the
// breaker it passes, its retries, the fallback served when the upstream
// cannot answer, and the split between the upstream's subsets. Built by
// compileCall whenever routes are rebuilt; immutable. A nil plan makes one
// plain call with the upstream's timeout.
type callPlan struct {
	timeout  time.Duration
	breaker  *resilience.Breaker
	retry    *resilience.Retry
	fallback *resilience.Fallback
	split    *resilience.Split
	subsets  []*upconn.Subset // split index → subset
}

// resilienceState is what outlives route rebuilds: breakers and retry
// budgets, keyed by upstream (and method) and the config entry that
// declared them, so a rebuild never closes an open breaker.
type resilienceState struct {
	mu       sync.Mutex
	log      func(name, from, to string)
	breakers map[string]*resilience.Breaker
	budgets  map[string]*resilience.RetryBudget
}

func newResilienceState(onChange func(name, from, to string)) *resilienceState {
	return &resilienceState{log: onChange, breakers: map[string]*resilience.Breaker{}, budgets: map[string]*resilience.RetryBudget{}}
}

// BreakerInfo is one circuit breaker's state, for the admin API.
type BreakerInfo struct {
	Name  string `json:"name"`  // upstream "library" [method …]
	State string `json:"state"` // closed, open or half-open
}

// Breakers lists the circuit breakers routes use, sorted by name. Safe
// for concurrent use.
func (g *Gateway) Breakers() []BreakerInfo {
	st := g.pol.res
	st.mu.Lock()
	out := make([]BreakerInfo, 0, len(st.breakers))
	for _, b := range st.breakers {
		out = append(out, BreakerInfo{Name: b.Name(), State: b.State()})
	}
	st.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// levelsFor lists the policy levels that apply to a route, least specific
// first: global, the upstream's, then each matching route entry.
func (p *policies) levelsFor(upstream, method, routeName string) []*levelPolicies {
	levels := []*levelPolicies{&p.global}
	if pl := p.products[p.productOf[upstream]]; pl != nil {
		levels = append(levels, pl)
	}
	if up := p.upstreams[upstream]; up != nil {
		levels = append(levels, &up.levelPolicies)
		for i := range up.routes {
			rl := &up.routes[i]
			if rl.glob != nil {
				if _, ok := rl.glob.Match(method); ok {
					levels = append(levels, &rl.levelPolicies)
				}
			} else if rl.match == routeName {
				levels = append(levels, &rl.levelPolicies)
			}
		}
	}
	return levels
}

// compileCall resolves the route's resilience keys (each replaced whole
// by a more specific level) into its call plan. Control path only.
func (p *policies) compileCall(rt *route) *callPlan {
	plan := &callPlan{timeout: rt.up.timeout}
	var (
		bc *config.BreakerConfig
		rc *config.RetryConfig
	)
	for _, l := range p.levelsFor(rt.up.name, rt.method, rt.name) {
		r := &l.res
		if r.cfg.Timeout > 0 {
			plan.timeout = time.Duration(r.cfg.Timeout)
		}
		if r.cfg.Breaker != nil {
			bc = r.cfg.Breaker
		}
		if r.cfg.Retry != nil {
			rc = r.cfg.Retry
		}
		if r.fallback != nil {
			plan.fallback = r.fallback
		}
		if r.split != nil {
			plan.split = r.split
		}
	}
	st := p.res
	st.mu.Lock()
	defer st.mu.Unlock()
	if bc != nil && !bc.Off {
		name := fmt.Sprintf("upstream %q", rt.up.name)
		if bc.PerMethod {
			name += " method " + rt.method
		}
		key := fmt.Sprintf("%s|%p", name, bc)
		b := st.breakers[key]
		if b == nil {
			// Validated in buildPolicies.
			b, _ = resilience.NewBreaker(resilience.BreakerOptions{Name: name, Failures: bc.Failures,
				OpenFor: time.Duration(bc.OpenFor), Probes: bc.HalfOpenProbes, OnChange: st.log})
			st.breakers[key] = b
		}
		plan.breaker = b
	}
	if rc != nil && !rc.Off {
		key := fmt.Sprintf("%s|%p", rt.up.name, rc)
		bud := st.budgets[key]
		if bud == nil {
			bud, _ = newBudget(rc.Budget)
			st.budgets[key] = bud
		}
		idem := methodIdempotent(rt.binding.Method)
		if rc.Idempotent != nil {
			idem = *rc.Idempotent
		}
		plan.retry, _ = newRetry(rc, idem, bud)
	}
	if plan.split != nil {
		for _, n := range plan.split.Names() {
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
func (c *callPlan) names() []string {
	var out []string
	if c.split != nil {
		out = append(out, "split")
	}
	if c.fallback != nil {
		out = append(out, "fallback")
	}
	if c.breaker != nil {
		out = append(out, "breaker")
	}
	if c.retry != nil {
		out = append(out, "retry")
	}
	return out
}

// deadline is the route's timeout (the upstream's unless a level set one).
func (c *callPlan) deadline(u *upstream) time.Duration {
	if c == nil {
		return u.timeout
	}
	return c.timeout
}

// invoke makes the route's upstream call into resp: on the split's subset
// when there is one, through the breaker, retried when safe. header,
// trailer and pr receive the last try's; opts (a codec, say) go to every
// try. resp is reset between tries when it can be (a proto.Message, or
// anything with Reset()).
func (c *callPlan) invoke(ctx context.Context, r *http.Request, rt *route, req, resp any, header, trailer *metadata.MD, pr *peer.Peer, opts ...grpc.CallOption) error {
	conn := rt.conn
	if c != nil && c.split != nil {
		if s := c.subsets[c.split.Pick(policy.SplitRequest(r), clientIP(r, policy.InfoFrom(r.Context())))]; s != nil {
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
		if c.breaker == nil {
			return once(ctx)
		}
		var reached bool
		err := c.breaker.Do(func() error {
			var err error
			reached, err = once(ctx)
			return err
		})
		return reached, err
	}
	if c.retry == nil {
		_, err := try(ctx)
		return err
	}
	return c.retry.Do(ctx, try)
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
	if status.Code(err) == codes.Unavailable && rt.call != nil && rt.call.fallback != nil {
		reason := "unavailable"
		if isOpen {
			reason = "breaker_open"
		}
		policy.ServeFallback(w, rt.call.fallback, reason)
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
	if rt.call == nil || rt.call.fallback == nil {
		return false
	}
	policy.ServeFallback(w, rt.call.fallback, "unavailable")
	return true
}
