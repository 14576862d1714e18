package config

import (
	"fmt"
	"reflect"

	"github.com/refract-gateway/refract/gateway/config/aggregates"
)

// Aggregate is one aggregation endpoint (see aggregates.Endpoint) and the
// policies of its route.
type Aggregate struct {
	// Endpoint is the aggregate's route, calls and answer.
	aggregates.Endpoint `yaml:",inline"`
	// Policies apply to the aggregate's route over the global ones (ip,
	// auth, require, rate_limits, max_body_bytes, ext_authz); each call
	// also runs its method's own route policies. Resilience is set per
	// call (timeout) or on the called methods.
	Policies Policies `yaml:"policies"`
}

// validateAggregates checks what the aggregates say without descriptors.
func (c *Config) validateAggregates(bad func(key, format string, args ...any)) {
	names, routes := map[string]bool{}, map[string]bool{}
	for i := range c.Aggregates {
		a := &c.Aggregates[i]
		key := fmt.Sprintf("aggregates[%d]", i)
		a.Validate(key, bad)
		if names[a.Name] {
			bad(key+".name", "%q is used twice", a.Name)
		}
		if routes[a.Route] {
			bad(key+".route", "%q is served by an aggregate above", a.Route)
		}
		names[a.Name], routes[a.Route] = true, true
		if !reflect.ValueOf(a.Policies.Resilience).IsZero() {
			bad(key+".policies", "timeout, breaker, retry, fallback and split are not aggregate policies: set timeout per call, the rest on the called methods")
		}
	}
}
