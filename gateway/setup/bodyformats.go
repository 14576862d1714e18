package setup

import (
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/bodyformat"
)

var _ gateway.BodyFormatter = (*policies)(nil)

// BodyFormats compiles the body formats of a unary route from the most
// specific level that sets body_formats; nil when none does or it accepts
// no format.
func (p *policies) BodyFormats(b *transcode.Binding, r gateway.RouteRef) *bodyformat.Route {
	if b.StreamingKind() != "" {
		return nil
	}
	var o bodyformat.Options
	for _, l := range p.levelsFor(r) {
		if bf := l.cfg.BodyFormats; bf != nil {
			o = bf.Options()
		}
	}
	rt, err := bodyformat.New(b, o, transcode.Options{MaxDepth: p.jsonDepth})
	if err != nil { // config validation checked the origins: not expected
		p.log.Error().Err(err).Str("route", r.Route).Msg("body formats left off: the route takes JSON only")
		return nil
	}
	return rt
}
