package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy/resilience"
)

// resilienceLevel is one level's resilience keys, built.
type resilienceLevel struct {
	cfg      config.Resilience
	fallback *resilience.Fallback
	split    *resilience.Split
}

// buildResilience checks and builds one level's keys. subsets are the
// upstream's subset names (nil at the global level).
func buildResilience(key string, r config.Resilience, subsets []string, global bool, bad func(string, error)) resilienceLevel {
	out := resilienceLevel{cfg: r}
	if r.Timeout < 0 {
		bad(key+".timeout", errors.New("must be positive"))
	}
	if b := r.Breaker; b != nil && !b.Off {
		if b.OpenFor < 0 {
			bad(key+".breaker.open_for", errors.New("must be positive"))
		}
	}
	if rc := r.Retry; rc != nil && !rc.Off {
		if _, err := newRetry(rc, false, nil); err != nil {
			bad(key+".retry", err)
		}
		if _, err := newBudget(rc.Budget); err != nil {
			bad(key+".retry.budget", err)
		}
	}
	if f := r.Fallback; f != nil {
		fb, err := newFallback(f)
		if err != nil {
			bad(key+".fallback", err)
		}
		out.fallback = fb
	}
	if s := r.Split; s != nil {
		if global {
			bad(key+".split", errors.New("splits belong to an upstream: set them in upstreams[].policies or its routes"))
			return out
		}
		so := s.SplitOptions()
		for _, ws := range so.Subsets {
			if !slices.Contains(subsets, ws.Name) {
				bad(key+".split.weights", fmt.Errorf("%q is not one of the upstream's subsets (%s)", ws.Name, strings.Join(subsets, ", ")))
			}
		}
		sp, err := resilience.NewSplit(so)
		if err != nil {
			bad(key+".split", err)
		}
		out.split = sp
	}
	return out
}

func newRetry(rc *config.RetryConfig, idempotent bool, budget *resilience.RetryBudget) (*resilience.Retry, error) {
	return resilience.NewRetry(rc.RetryOptions(idempotent, budget))
}

func newBudget(b config.RetryBudgetConfig) (*resilience.RetryBudget, error) {
	return resilience.NewRetryBudget(b.Values())
}

func newFallback(f *config.FallbackConfig) (*resilience.Fallback, error) {
	fo, err := f.FallbackOptions()
	if err != nil {
		return nil, err
	}
	return resilience.NewFallback(fo)
}
