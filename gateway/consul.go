package gateway

import "context"

// autoExpose follows the services tagged for exposure and adds or removes
// their upstreams, until ctx is done. Control path.
func (g *Gateway) autoExpose(ctx context.Context) {
	src := g.auto.Services
	src.Watch(ctx, func(names []string, err error) {
		if err != nil {
			return // keep what is exposed; the watch logged it
		}
		g.syncAutoUpstreams(names)
	})
}

// syncAutoUpstreams makes the auto-exposed upstreams exactly names (minus
// configured upstreams and those the catalog's factory refuses).
func (g *Gateway) syncAutoUpstreams(names []string) {
	defer g.autoSynced.Store(true)
	g.upMu.Lock()
	configured := g.configured // Update replaces it whole
	g.upMu.Unlock()
	want := map[string]bool{}
	for _, n := range names {
		if configured[n] {
			continue
		}
		want[n] = true
	}
	for _, u := range g.upstreamList() {
		if u.auto && !want[u.name] {
			g.log.Info().Str("upstream", u.name).Msg("auto-exposed service gone from consul; removing its routes")
			g.removeUpstream(u)
		}
		delete(want, u.name)
	}
	for n := range want {
		uo, err := g.auto.Upstream(n)
		if err != nil {
			g.log.Warn().Err(err).Str("service", n).Msg("not auto-exposed")
			continue
		}
		if err := g.addUpstream(uo, true); err != nil {
			g.log.Error().Err(err).Str("upstream", n).Msg("auto-exposure failed")
			continue
		}
		g.log.Info().Str("upstream", n).Msg("auto-exposed service from consul")
	}
}
