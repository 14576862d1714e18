package setup

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy/resilience"
)

// resilienceLevel is one level's resilience keys, built.
type resilienceLevel struct {
	cfg      config.Resilience
	fallback *resilience.Fallback
	split    *resilience.Split
}

// buildResilience builds one level's keys, which config.Validate checked.
func buildResilience(r config.Resilience, bad func(string, error)) resilienceLevel {
	out := resilienceLevel{cfg: r}
	if f := r.Fallback; f != nil {
		fo, err := f.FallbackOptions()
		if err == nil {
			out.fallback, err = resilience.NewFallback(fo)
		}
		if err != nil {
			bad("fallback", err)
		}
	}
	if s := r.Split; s != nil {
		sp, err := resilience.NewSplit(s.SplitOptions())
		if err != nil {
			bad("split", err)
		}
		out.split = sp
	}
	return out
}

// resilienceState is what outlives route rebuilds and reloads: breakers
// and retry budgets, keyed by upstream (and method) and their settings, so
// that neither a rebuild nor a reload that keeps them closes an open
// breaker or refills a spent budget.
type resilienceState struct {
	mu       sync.Mutex
	log      func(name, from, to string)
	breakers map[string]*resilience.Breaker
	budgets  map[string]*resilience.RetryBudget
}

func newResilienceState(onChange func(name, from, to string)) *resilienceState {
	return &resilienceState{log: onChange, breakers: map[string]*resilience.Breaker{}, budgets: map[string]*resilience.RetryBudget{}}
}

// Breakers lists the circuit breakers routes use, sorted by name. Safe
// for concurrent use.
func (p *policies) Breakers() []gateway.BreakerInfo {
	p.usedMu.Lock()
	out := make([]gateway.BreakerInfo, 0, len(p.breakers))
	for b := range p.breakers {
		out = append(out, gateway.BreakerInfo{Name: b.Name(), State: b.State()})
	}
	p.usedMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Call resolves the route's resilience keys (each replaced whole by a
// more specific level) into its call plan, reusing the breakers and
// budgets of earlier builds. Control path only.
func (p *policies) Call(r gateway.RouteRef) *gateway.CallPlan {
	plan := &gateway.CallPlan{Timeout: r.Timeout}
	var (
		bc *config.BreakerConfig
		rc *config.RetryConfig
	)
	for _, l := range p.levelsFor(r) {
		res := &l.res
		if res.cfg.Timeout > 0 {
			plan.Timeout = time.Duration(res.cfg.Timeout)
		}
		if res.cfg.Breaker != nil {
			bc = res.cfg.Breaker
		}
		if res.cfg.Retry != nil {
			rc = res.cfg.Retry
		}
		if res.fallback != nil {
			plan.Fallback = res.fallback
		}
		if res.split != nil {
			plan.Split = res.split
		}
	}
	st := p.res
	st.mu.Lock()
	defer st.mu.Unlock()
	if bc != nil && !bc.Off {
		name := fmt.Sprintf("upstream %q", r.Upstream)
		if bc.PerMethod {
			name += " method " + r.Method
		}
		key := fmt.Sprintf("%s|%+v", name, *bc)
		b := st.breakers[key]
		if b == nil {
			// Validated with the config.
			b, _ = resilience.NewBreaker(resilience.BreakerOptions{Name: name, Failures: bc.Failures,
				OpenFor: time.Duration(bc.OpenFor), Probes: bc.HalfOpenProbes, OnChange: st.log})
			st.breakers[key] = b
		}
		plan.Breaker = b
		p.usedMu.Lock()
		p.breakers[b] = true
		p.usedMu.Unlock()
	}
	if rc != nil && !rc.Off {
		ratio, reserve := rc.Budget.Values()
		key := fmt.Sprintf("%s|%v|%v", r.Upstream, ratio, reserve)
		bud := st.budgets[key]
		if bud == nil {
			bud, _ = resilience.NewRetryBudget(rc.Budget.Values())
			st.budgets[key] = bud
		}
		idem := r.Idempotent
		if rc.Idempotent != nil {
			idem = *rc.Idempotent
		}
		plan.Retry, _ = resilience.NewRetry(rc.RetryOptions(idem, bud))
	}
	return plan
}
