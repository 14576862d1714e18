package gateway

import (
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
)

// HiddenMethod is a reflected method that gets no route, and the rule that
// hid it, for the admin API.
type HiddenMethod struct {
	Method string `json:"method"`
	Rule   string `json:"rule"` // "hide: *.Admin*" or "not in expose"
}

// hiddenBy applies an upstream's expose and hide globs to a method's full
// name. With expose set, only matching methods are published; hide then
// removes matches. The globs were validated with the config.
func hiddenBy(u config.Upstream, method string) (HiddenMethod, bool) {
	if len(u.Expose) > 0 {
		if _, ok := policy.Globs(u.Expose).Match(method); !ok {
			return HiddenMethod{Method: method, Rule: "not in expose"}, true
		}
	}
	if p, ok := policy.Globs(u.Hide).Match(method); ok {
		return HiddenMethod{Method: method, Rule: "hide: " + p}, true
	}
	return HiddenMethod{}, false
}
