package setup

import (
	"fmt"
	"sort"
	"strings"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
)

// selector picks the routes a route-keyed policy entry applies to: one
// route, as mounted ("GET /v1/{name=shelves/*}"), or the methods a glob
// matches, every route (HTTP binding) of each. Immutable.
type selector struct {
	key   string       // where it is configured, for messages: upstreams[0].routes[1]
	route string       // "GET /v1/{name=shelves/*}"; "" for a method glob
	globs policy.Globs // the method glob; nil for a route
}

// newSelector is the selector of the entry rp at key, which validation
// accepted: method, or match without a space, is a method glob.
func newSelector(key string, rp config.RoutePolicies) selector {
	switch {
	case rp.Method != "":
		return selector{key: key, globs: policy.Globs{rp.Method}}
	case !strings.Contains(rp.Match, " "):
		return selector{key: key, globs: policy.Globs{rp.Match}}
	}
	return selector{key: key, route: rp.Match}
}

// selects reports whether s selects the route named route, which calls
// the gRPC method method (full name). Control path only.
func (s selector) selects(route, method string) bool {
	if s.globs != nil {
		_, ok := s.globs.Match(method)
		return ok
	}
	return s.route == route
}

// String is the selector as configured.
func (s selector) String() string {
	if s.globs != nil {
		return "method " + strings.Join(s.globs, ", ")
	}
	return "match " + s.route
}

// checkSelectors checks sels against the routes of one upstream, given as
// parallel slices of route names and their gRPC methods: Misses select no
// route at all (their policies apply nowhere: a typo, or routes that
// changed under them); Partial are route selectors covering some routes
// of a method but not all (the others are reachable without the entry's
// policies). Control path.
func checkSelectors(sels []selector, routes, methods []string) gateway.SelectorReport {
	var rep gateway.SelectorReport
	for _, s := range sels {
		touched := map[string]bool{}
		for i, r := range routes {
			if s.selects(r, methods[i]) {
				touched[methods[i]] = true
			}
		}
		if len(touched) == 0 {
			rep.Misses = append(rep.Misses, fmt.Sprintf("%s: %s selects no route; its policies apply nowhere "+
				"(a route is named as /admin/routes lists it, \"GET /v1/{name=shelves/*}\"; method: selects every route of a method)", s.key, s))
			continue
		}
		if s.globs != nil {
			continue // a method glob selects every route of its methods
		}
		for m := range touched {
			var left []string
			for i, r := range routes {
				if methods[i] == m && !s.selects(r, m) {
					left = append(left, r)
				}
			}
			if len(left) > 0 {
				sort.Strings(left)
				rep.Partial = append(rep.Partial, fmt.Sprintf("%s: %s covers only some routes of %s; not %s "+
					"(use method: %q to cover every route of the method)", s.key, s, m, strings.Join(left, ", "), m))
			}
		}
	}
	sort.Strings(rep.Partial)
	return rep
}
