package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
)

// resilienceLevel is one level's resilience keys, built.
type resilienceLevel struct {
	cfg      config.Resilience
	fallback *policy.Fallback
	split    *policy.Split
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
		names := make([]string, 0, len(s.Weights))
		for n := range s.Weights {
			names = append(names, n)
		}
		slices.Sort(names) // map order is random; the split's must not be
		so := policy.SplitOptions{Header: s.Header, Cookie: s.Cookie, Sticky: s.Sticky}
		for _, n := range names {
			if !slices.Contains(subsets, n) {
				bad(key+".split.weights", fmt.Errorf("%q is not one of the upstream's subsets (%s)", n, strings.Join(subsets, ", ")))
			}
			so.Subsets = append(so.Subsets, policy.WeightedSubset{Name: n, Weight: s.Weights[n]})
		}
		sp, err := policy.NewSplit(so)
		if err != nil {
			bad(key+".split", err)
		}
		out.split = sp
	}
	return out
}

func newRetry(rc *config.RetryConfig, idempotent bool, budget *policy.RetryBudget) (*policy.Retry, error) {
	attempts := rc.Attempts
	if attempts == 0 {
		attempts = 3
	}
	return policy.NewRetry(policy.RetryOptions{Attempts: attempts, PerTry: time.Duration(rc.PerTryTimeout),
		Backoff: time.Duration(rc.Backoff), MaxBackoff: time.Duration(rc.MaxBackoff), Idempotent: idempotent, Budget: budget})
}

func newBudget(b config.RetryBudgetConfig) (*policy.RetryBudget, error) {
	ratio, reserve := 0.2, 10
	if b.Ratio != nil {
		ratio = *b.Ratio
	}
	if b.Reserve != nil {
		reserve = *b.Reserve
	}
	return policy.NewRetryBudget(ratio, reserve)
}

func newFallback(f *config.FallbackConfig) (*policy.Fallback, error) {
	var body []byte
	if f.Body != nil {
		var err error
		if body, err = json.Marshal(jsonable(f.Body)); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	}
	return policy.NewFallback(policy.FallbackOptions{Status: f.Status, Body: body, Headers: f.Headers})
}

// jsonable turns the map[any]any a YAML decoder may produce into
// map[string]any, which encoding/json accepts.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = jsonable(x)
		}
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = jsonable(x)
		}
	}
	return v
}
