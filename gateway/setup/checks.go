package setup

import (
	"fmt"
	"strings"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/checks"
)

// buildChecks builds the named checks, each sharing its client (and its
// decision cache) through st with every config of the process that
// declares it with the same settings: a reload keeps them.
func (p *policies) buildChecks(cfg []config.CheckConfig, st *State, obs checks.Observer, bad func(string, error)) {
	p.checks = map[string]*checks.Check{}
	for i, cc := range cfg {
		key := fmt.Sprintf("checks[%d]", i)
		c, release, err := acquire(st, "check", cc, func() (*checks.Check, func() error, error) {
			log := p.log.With().Str("component", "checks").Logger()
			az, conn, err := buildExtAuthz(&cc.Authorizer, log)
			if err != nil {
				return nil, nil, err
			}
			c, err := checks.New(checks.Options{Name: cc.Name, Authorizer: az, FailOpen: cc.FailOpen(),
				Vouches: cc.ExtAuthzOptions().UpstreamHeaders, Observer: obs, Logger: log})
			closeConn := func() error {
				if conn != nil {
					return conn.Close()
				}
				return nil
			}
			if err != nil {
				_ = closeConn()
				return nil, nil, err
			}
			return c, closeConn, nil
		})
		if err != nil {
			bad(key, err)
			continue
		}
		p.releases = append(p.releases, release)
		p.checks[cc.Name] = c
		// What a check vouches for, no client may send on any route.
		for _, h := range cc.ExtAuthzOptions().UpstreamHeaders {
			p.identityKeys = append(p.identityKeys, strings.ToLower(h))
		}
	}
}

// checksStage is the route's checks stage: the most specific level's
// checks list decides; nil when it names none. A name with no check
// built (validation refuses that; this is the run-time fail-safe) is
// answered 503, never served unchecked.
func (p *policies) checksStage(levels []*levelPolicies, r gateway.RouteRef) policy.Policy {
	var names []string
	for _, l := range levels {
		if l.cfg.Checks != nil {
			names = l.cfg.Checks
		}
	}
	cs := make([]*checks.Check, 0, len(names))
	for _, n := range names {
		c := p.checks[n]
		if c == nil {
			p.log.Error().Str("route", r.Route).Str("check", n).Msg("route asks for a check that is not configured; answering 503")
			return policy.Unavailable("the check " + n + " of " + r.Route + " is not configured; refusing rather than serving it unchecked")
		}
		cs = append(cs, c)
	}
	return checks.Policy(cs, r.Route, r.Method, r.Upstream)
}
