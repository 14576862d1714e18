package config

import (
	"errors"
	"fmt"
	"slices"

	"github.com/refract-gateway/refract/discovery"
)

// Resilience are the resilience and traffic keys of Policies (inlined), at
// any level. Each key set at a more specific level replaces the less
// specific one whole (global < upstream < route). See the README's
// "Resilience and traffic" section.
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
	Ratio   *float64 `yaml:"ratio"`
	Reserve *int     `yaml:"reserve"`
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
	Name   string   `yaml:"name"`
	Tags   []string `yaml:"tags"`
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
