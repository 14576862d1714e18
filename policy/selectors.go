package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Selector picks the routes a route-keyed policy entry applies to: one
// route, as mounted ("GET /v1/{name=shelves/*}"), or the methods a glob
// matches, every route (HTTP binding) of each. Immutable.
type Selector struct {
	Key   string // where it is configured, for messages: upstreams[0].routes[1]
	Route string // "GET /v1/{name=shelves/*}"; "" for a method glob
	Globs Globs  // the method glob; nil for a route
}

// Selects reports whether s selects the route named route, which calls
// the gRPC method method (full name). Control path only.
func (s Selector) Selects(route, method string) bool {
	if s.Globs != nil {
		_, ok := s.Globs.Match(method)
		return ok
	}
	return s.Route == route
}

// String is the selector as configured.
func (s Selector) String() string {
	if s.Globs != nil {
		return "method " + strings.Join(s.Globs, ", ")
	}
	return "match " + s.Route
}

// SelectorReport is what CheckSelectors found wrong with an upstream's
// selectors: Misses select no route at all (their policies apply
// nowhere: a typo, or routes that changed under them); Partial are route
// selectors that cover some routes of a method but not all of them (the
// others are reachable without the entry's policies).
type SelectorReport struct {
	Misses  []string `json:"misses,omitempty"`
	Partial []string `json:"partial,omitempty"`
}

// CheckSelectors checks sels against the routes of one upstream, given as
// parallel slices of route names and their gRPC methods. Control path.
func CheckSelectors(sels []Selector, routes, methods []string) SelectorReport {
	var rep SelectorReport
	for _, s := range sels {
		touched := map[string]bool{}
		for i, r := range routes {
			if s.Selects(r, methods[i]) {
				touched[methods[i]] = true
			}
		}
		if len(touched) == 0 {
			rep.Misses = append(rep.Misses, fmt.Sprintf("%s: %s selects no route; its policies apply nowhere "+
				"(a route is named as /admin/routes lists it, \"GET /v1/{name=shelves/*}\"; method: selects every route of a method)", s.Key, s))
			continue
		}
		if s.Globs != nil {
			continue // a method glob selects every route of its methods
		}
		for m := range touched {
			var left []string
			for i, r := range routes {
				if methods[i] == m && !s.Selects(r, m) {
					left = append(left, r)
				}
			}
			if len(left) > 0 {
				sort.Strings(left)
				rep.Partial = append(rep.Partial, fmt.Sprintf("%s: %s covers only some routes of %s; not %s "+
					"(use method: %q to cover every route of the method)", s.Key, s, m, strings.Join(left, ", "), m))
			}
		}
	}
	sort.Strings(rep.Partial)
	return rep
}
