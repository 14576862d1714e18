package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/policy/resilience"
)

// Resilience are the resilience and traffic keys of Policies (inlined), at
// any level. Each key set at a more specific level replaces the less
// specific one whole (global < upstream < route); docs/resilience.md
// describes them.
type Resilience struct {
	// Timeout is the call's deadline, replacing the upstream's timeout; a
	// shorter Grpc-Timeout from the client still wins.
	Timeout Duration `yaml:"timeout"`
	// Breaker stops calling an upstream that keeps failing.
	Breaker *BreakerConfig `yaml:"breaker"`
	// Retry repeats failed calls when that is safe.
	Retry *RetryConfig `yaml:"retry"`
	// Fallback is served instead of an error while the upstream cannot answer.
	Fallback *FallbackConfig `yaml:"fallback"`
	// Split divides traffic between the upstream's subsets (upstream and
	// route levels only: subsets belong to an upstream).
	Split *SplitConfig `yaml:"split"`
}

// BreakerConfig is a circuit breaker, one per upstream (or per upstream
// method with per_method) for the scope where it is declared.
type BreakerConfig struct {
	// Failures in a row that open the breaker; default 5.
	Failures uint32 `yaml:"failures"`
	// OpenFor is how long an open breaker refuses calls before it lets a
	// probe through; default 30s.
	OpenFor Duration `yaml:"open_for"`
	// HalfOpenProbes is how many probes may be in flight; default 1.
	HalfOpenProbes uint32 `yaml:"half_open_probes"`
	// PerMethod gives each method its own breaker.
	PerMethod bool `yaml:"per_method"`
	// Off switches a breaker declared at a less specific level off.
	Off bool `yaml:"off"`
}

// RetryConfig retries failed calls when safe: always when the request never
// reached a server (UNAVAILABLE before sending), and for idempotent methods
// also on UNAVAILABLE, ABORTED and per-try timeouts.
type RetryConfig struct {
	// Attempts counts the first try; default 3.
	Attempts int `yaml:"attempts"`
	// PerTryTimeout bounds each try; default none (the call's timeout).
	PerTryTimeout Duration `yaml:"per_try_timeout"`
	// Backoff and MaxBackoff bound the jittered delay; default 25ms, 250ms.
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// Idempotent marks the selected methods as safe to run twice; unset,
	// the method's idempotency_level option decides (IDEMPOTENT or
	// NO_SIDE_EFFECTS).
	Idempotent *bool `yaml:"idempotent"`
	// Budget caps retries per upstream.
	Budget RetryBudgetConfig `yaml:"budget"`
	// Off switches retries declared at a less specific level off.
	Off bool `yaml:"off"`
}

// RetryBudgetConfig: retries may add Ratio of the calls (default 0.2),
// with a reserve of Reserve retries for quiet upstreams (default 10).
type RetryBudgetConfig struct {
	// Ratio is the share of calls retries may add; default 0.2.
	Ratio *float64 `yaml:"ratio"`
	// Reserve is the retries allowed however few the calls; default 10.
	Reserve *int `yaml:"reserve"`
}

// FallbackConfig is a static response served, marked X-Refract-Fallback,
// when the breaker is open or the upstream is unavailable.
type FallbackConfig struct {
	// Status defaults to 200.
	Status int `yaml:"status"`
	// Body is any YAML value, sent as JSON; default {}.
	Body any `yaml:"body"`
	// Headers are added to the response.
	Headers map[string]string `yaml:"headers"`
}

// SplitConfig divides a route's traffic between the upstream's subsets.
type SplitConfig struct {
	// Weights by subset name (relative).
	Weights map[string]int `yaml:"weights"`
	// Header and Cookie name a header or cookie whose value, when it names
	// a subset, chooses it.
	Header string `yaml:"header"`
	Cookie string `yaml:"cookie"`
	// Sticky: ip, header:<Name> or cookie:<name> keeps a client on one side.
	Sticky string `yaml:"sticky"`
}

// SubsetConfig is a named part of an upstream's endpoints: those carrying
// every one of Tags (Consul tags), or a Static list of its own.
type SubsetConfig struct {
	// Name is what splits and the split header or cookie call the subset.
	Name string `yaml:"name"`
	// Tags select the upstream's Consul instances carrying all of them.
	Tags []string `yaml:"tags"`
	// Static lists the subset's own endpoints, host:port.
	Static []string `yaml:"static"`
}

// ValidateSubsets checks an upstream's subsets and returns their names.
func ValidateSubsets(key string, u Upstream, bad func(string, error)) []string {
	var names []string
	for i, s := range u.Subsets {
		sk := fmt.Sprintf("%s.subsets[%d]", key, i)
		switch {
		case !UpstreamName.MatchString(s.Name):
			bad(sk+".name", fmt.Errorf("%q must be 1-64 lower-case letters, digits, '.', '_' or '-'", s.Name))
		case slices.Contains(names, s.Name):
			bad(sk+".name", fmt.Errorf("%q is used twice", s.Name))
		}
		names = append(names, s.Name)
		switch {
		case len(s.Tags) > 0 && len(s.Static) > 0:
			bad(sk, errors.New("tags and static exclude each other"))
		case len(s.Tags) > 0:
			if u.Consul == nil {
				bad(sk+".tags", errors.New("tags select Consul instances: this upstream is static, give the subset a static list"))
			}
		case len(s.Static) > 0:
			if _, err := discovery.NewStatic(s.Static); err != nil {
				bad(sk+".static", err)
			}
		default:
			bad(sk, errors.New("needs tags (Consul) or static addresses"))
		}
	}
	return names
}

// DefaultRetryAttempts is the attempts of a retry that does not say.
const DefaultRetryAttempts = 3

// RetryAttempts is Attempts, DefaultRetryAttempts when unset.
func (rc *RetryConfig) RetryAttempts() int {
	if rc.Attempts == 0 {
		return DefaultRetryAttempts
	}
	return rc.Attempts
}

// RetryOptions are the resilience.RetryOptions the retry keys describe, for a
// method that is idempotent or not, spending budget (nil: no cap).
func (rc *RetryConfig) RetryOptions(idempotent bool, budget *resilience.RetryBudget) resilience.RetryOptions {
	return resilience.RetryOptions{Attempts: rc.RetryAttempts(), PerTry: time.Duration(rc.PerTryTimeout),
		Backoff: time.Duration(rc.Backoff), MaxBackoff: time.Duration(rc.MaxBackoff), Idempotent: idempotent, Budget: budget}
}

// Values are the budget's ratio and reserve with their defaults (0.2, 10).
func (b RetryBudgetConfig) Values() (ratio float64, reserve int) {
	ratio, reserve = 0.2, 10
	if b.Ratio != nil {
		ratio = *b.Ratio
	}
	if b.Reserve != nil {
		reserve = *b.Reserve
	}
	return ratio, reserve
}

// FallbackOptions are the resilience.FallbackOptions the fallback keys
// describe: Body encoded as JSON.
func (f *FallbackConfig) FallbackOptions() (resilience.FallbackOptions, error) {
	var body []byte
	if f.Body != nil {
		var err error
		if body, err = json.Marshal(jsonable(f.Body)); err != nil {
			return resilience.FallbackOptions{}, fmt.Errorf("body: %w", err)
		}
	}
	return resilience.FallbackOptions{Status: f.Status, Body: body, Headers: f.Headers}, nil
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

// SplitOptions are the resilience.SplitOptions the split keys describe,
// subsets in name order (the map's order is random; the split's must not
// be).
func (s *SplitConfig) SplitOptions() resilience.SplitOptions {
	names := make([]string, 0, len(s.Weights))
	for n := range s.Weights {
		names = append(names, n)
	}
	slices.Sort(names)
	so := resilience.SplitOptions{Header: s.Header, Cookie: s.Cookie, Sticky: s.Sticky}
	for _, n := range names {
		so.Subsets = append(so.Subsets, resilience.WeightedSubset{Name: n, Weight: s.Weights[n]})
	}
	return so
}

// validateResilience checks one level's resilience keys under key (e.g.
// "upstreams[0].policies"). subsets are the upstream's subset names (nil
// at the global and product levels); global says splits are refused.
func validateResilience(key string, r Resilience, subsets []string, global bool, bad func(string, error)) {
	if r.Timeout < 0 {
		bad(key+".timeout", errors.New("must be positive"))
	}
	if b := r.Breaker; b != nil && !b.Off {
		if b.OpenFor < 0 {
			bad(key+".breaker.open_for", errors.New("must be positive"))
		}
	}
	if rc := r.Retry; rc != nil && !rc.Off {
		if err := rc.RetryOptions(false, nil).Validate(); err != nil {
			bad(key+".retry", err)
		}
		if err := resilience.CheckRetryBudget(rc.Budget.Values()); err != nil {
			bad(key+".retry.budget", err)
		}
	}
	if f := r.Fallback; f != nil {
		fo, err := f.FallbackOptions()
		if err == nil {
			err = fo.Validate()
		}
		if err != nil {
			bad(key+".fallback", err)
		}
	}
	if s := r.Split; s != nil {
		if global {
			bad(key+".split", errors.New("splits belong to an upstream: set them in upstreams[].policies or its routes"))
			return
		}
		so := s.SplitOptions()
		for _, ws := range so.Subsets {
			if !slices.Contains(subsets, ws.Name) {
				bad(key+".split.weights", fmt.Errorf("%q is not one of the upstream's subsets (%s)", ws.Name, strings.Join(subsets, ", ")))
			}
		}
		if err := so.Validate(); err != nil {
			bad(key+".split", err)
		}
	}
}
