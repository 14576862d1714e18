package aggregate

import (
	"github.com/refract-gateway/refract/transcode/openapi"
)

// OpenAPI describes the aggregates served now: their path and query
// parameters and the answer's members, typed by the called methods'
// response types.
func (s *Set) OpenAPI() []openapi.Route {
	var out []openapi.Route
	for _, c := range s.cur.Load().list {
		cp := &openapi.Composite{Name: c.Name, HTTPMethod: c.HTTPMethod, Template: c.Template, Body: c.readsBody, Partial: c.Partial}
		seen := map[string]bool{}
		for _, cc := range c.calls {
			cp.Calls = append(cp.Calls, cc.Method)
			for _, f := range cc.Fields {
				for _, p := range f.Parts {
					if p.Source == FromQuery && !seen[p.Name] {
						seen[p.Name] = true
						cp.Query = append(cp.Query, p.Name)
					}
				}
			}
		}
		if len(c.picks) == 0 {
			for _, cc := range c.calls {
				cp.Members = append(cp.Members, openapi.Member{Name: cc.Name, Message: cc.md.Output()})
			}
		}
		for _, pk := range c.picks {
			m := openapi.Member{Name: pk.Key, Message: c.calls[pk.from].md.Output()}
			if len(pk.fds) > 0 {
				m.Field = pk.fds[len(pk.fds)-1]
			}
			cp.Members = append(cp.Members, m)
		}
		out = append(out, openapi.Route{Composite: cp})
	}
	return out
}
