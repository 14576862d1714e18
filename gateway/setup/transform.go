package setup

import (
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/transform"
)

// Transform is a route's transform: its levels' transform keys folded,
// least specific first (global < product < upstream < route entries).
func (p *policies) Transform(r gateway.RouteRef) *transform.Spec {
	var specs []*transform.Spec
	for _, l := range p.levelsFor(r) {
		specs = append(specs, l.cfg.Transform.Spec())
	}
	return transform.Merge(specs...)
}
