package setup

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/aggregate"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/config/aggregates"
	"github.com/rs/zerolog"
)

// composer translates the aggregates of cfg (validated) into the engine's
// Composer; nil when there are none.
func composer(cfg *config.Config, log zerolog.Logger) (gateway.Composer, error) {
	if len(cfg.Aggregates) == 0 {
		return nil, nil
	}
	var eps []aggregate.Endpoint
	for i, a := range cfg.Aggregates {
		method, tmpl, err := aggregates.ParseRoute(a.Route)
		if err != nil {
			return nil, fmt.Errorf("aggregates[%d].route: %w", i, err)
		}
		e := aggregate.Endpoint{Name: a.Name, HTTPMethod: method, Template: tmpl, Partial: a.OnError == "partial",
			MaxResponseBytes: config.OrInt(a.MaxResponseBytes, aggregates.DefaultMaxResponseBytes), MaxBodyBytes: cfg.MaxBodyBytes}
		if b := a.Policies.MaxBodyBytes; b > 0 {
			e.MaxBodyBytes = b
		}
		for _, c := range a.Calls {
			call := aggregate.Call{Name: c.Name, Method: c.Method, Timeout: time.Duration(c.Timeout)}
			fields := make([]string, 0, len(c.Request))
			for f := range c.Request {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			for _, f := range fields {
				parts, err := aggregates.ParseValue(c.Request[f])
				if err != nil {
					return nil, fmt.Errorf("aggregates[%d] call %s request.%s: %w", i, c.Name, f, err)
				}
				field := aggregate.Field{Path: strings.Split(f, ".")}
				for _, p := range parts {
					field.Parts = append(field.Parts, aggregate.Part{Lit: p.Lit, Source: aggregate.Source(p.Source), Name: p.Name, Path: p.Path})
				}
				call.Fields = append(call.Fields, field)
			}
			e.Calls = append(e.Calls, call)
		}
		keys := make([]string, 0, len(a.Pick))
		for k := range a.Pick {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			call, path, err := aggregates.ParsePick(a.Pick[k])
			if err != nil {
				return nil, fmt.Errorf("aggregates[%d].pick.%s: %w", i, k, err)
			}
			e.Pick = append(e.Pick, aggregate.Pick{Key: k, Call: call, Path: path})
		}
		eps = append(eps, e)
	}
	ups := make([]string, len(cfg.Upstreams))
	for i, u := range cfg.Upstreams {
		ups[i] = u.Name
	}
	set, err := aggregate.New(eps, ups, log)
	if err != nil {
		return nil, err
	}
	return set, nil
}
