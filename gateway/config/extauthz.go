package config

import (
	"errors"
	"fmt"
)

// CheckExtAuthzUse reports ext_authz: true set without an authorizer.
func CheckExtAuthzUse(cfg *Config, bad func(string, error)) {
	if cfg.ExtAuthz != nil {
		return
	}
	need := errors.New("needs the top-level ext_authz key (the authorizer to ask)")
	if v := cfg.Policies.ExtAuthz; v != nil && *v {
		bad("policies.ext_authz", need)
	}
	for i, u := range cfg.Upstreams {
		if v := u.Policies.ExtAuthz; v != nil && *v {
			bad(fmt.Sprintf("upstreams[%d].policies.ext_authz", i), need)
		}
		for j, r := range u.Routes {
			if v := r.Policies.ExtAuthz; v != nil && *v {
				bad(fmt.Sprintf("upstreams[%d].routes[%d].policies.ext_authz", i, j), need)
			}
		}
	}
	for i, p := range cfg.Products {
		if v := p.Policies.ExtAuthz; v != nil && *v {
			bad(fmt.Sprintf("products[%d].policies.ext_authz", i), need)
		}
	}
	for i, a := range cfg.Aggregates {
		if v := a.Policies.ExtAuthz; v != nil && *v {
			bad(fmt.Sprintf("aggregates[%d].policies.ext_authz", i), need)
		}
	}
}
