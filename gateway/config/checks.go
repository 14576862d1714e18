package config

import (
	"fmt"

	"github.com/refract-gateway/refract/gateway/config/extauthz"
	"github.com/refract-gateway/refract/policy/checks"
)

// CheckConfig is one named pre-call check (top-level key checks): an
// external authorizer or risk service that the routes whose policies list
// its name ask in parallel with their other checks, after the local
// stages and the ext_authz authorizer.
type CheckConfig struct {
	// Name is what policies' checks lists, and what rejections, logs and
	// metrics call the check; required, unique: letters, digits, '-'
	// and '_'.
	Name string `yaml:"name"`
	// The service and how it is asked: http or grpc, timeout (default
	// 1s), failure_mode (closed: 503, or 504 on a timeout; open: admit),
	// cache_ttl, cache_size and send_headers, as ext_authz's keys. A
	// denial is always 403 naming the check: the service's own status,
	// headers and body never reach the client.
	extauthz.Authorizer `yaml:",inline"`
}

// maxRouteChecks bounds the checks one route asks (each is a call in
// flight per request).
const maxRouteChecks = 16

// validateChecks reports the checks' problems: names missing, malformed
// or used twice, an authorizer's keys (extauthz.Authorizer.Check), and a
// policies' checks list naming an undeclared check, naming one twice, or
// too long.
func (c *Config) validateChecks(bad func(string, error)) {
	names := map[string]bool{}
	for i, ch := range c.Checks {
		key := fmt.Sprintf("checks[%d]", i)
		if err := checks.CheckName(ch.Name); err != nil {
			bad(key+".name", err)
		} else if names[ch.Name] {
			bad(key+".name", fmt.Errorf("%q is declared twice", ch.Name))
		}
		names[ch.Name] = true
		if err := ch.Check(); err != nil {
			bad(key, err)
		}
	}
	use := func(key string, list []string) {
		key += ".checks"
		if len(list) > maxRouteChecks {
			bad(key, fmt.Errorf("%d checks; at most %d", len(list), maxRouteChecks))
		}
		seen := map[string]bool{}
		for _, n := range list {
			switch {
			case !names[n]:
				bad(key, fmt.Errorf("%q is not a check declared under the top-level checks key", n))
			case seen[n]:
				bad(key, fmt.Errorf("%q is listed twice", n))
			}
			seen[n] = true
		}
	}
	use("policies", c.Policies.Checks)
	for i, u := range c.Upstreams {
		use(fmt.Sprintf("upstreams[%d].policies", i), u.Policies.Checks)
		for j, r := range u.Routes {
			use(fmt.Sprintf("upstreams[%d].routes[%d].policies", i, j), r.Policies.Checks)
		}
	}
	if c.Consul != nil && c.Consul.AutoExpose != nil {
		use("consul.auto_expose.upstream.policies", c.Consul.AutoExpose.Upstream.Policies.Checks)
	}
	for i, p := range c.Products {
		use(fmt.Sprintf("products[%d].policies", i), p.Policies.Checks)
	}
}
