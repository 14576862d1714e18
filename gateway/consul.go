package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/config"
)

// consulSource is the discovery source of an upstream discovered in Consul.
func (g *Gateway) consulSource(name string, uc *config.UpstreamConsul) (discovery.Source, error) {
	if g.consul == nil {
		return nil, fmt.Errorf("upstream %q: consul discovery needs the top-level consul: key", name)
	}
	c := g.cfg.Consul
	pick := func(own, def string) string {
		if own != "" {
			return own
		}
		return def
	}
	return discovery.NewConsul(discovery.ConsulOptions{
		Client:      g.consul,
		Service:     uc.Service,
		Tags:        uc.TagFilter(),
		Datacenter:  pick(uc.Datacenter, c.Datacenter),
		Namespace:   pick(uc.Namespace, c.Namespace),
		Partition:   pick(uc.Partition, c.Partition),
		PassingOnly: *uc.PassingOnly,
		PortMetaKey: uc.PortMetaKey,
		WaitTime:    time.Duration(c.WaitTime),
		Logger:      g.log.With().Str("component", "discovery").Str("upstream", name).Logger(),
	})
}

// autoExpose follows the services tagged for exposure and adds or removes
// their upstreams, until ctx is done. Control path.
func (g *Gateway) autoExpose(ctx context.Context) {
	a := g.cfg.Consul.AutoExpose
	c := g.cfg.Consul
	src, err := discovery.NewConsulServices(discovery.ConsulOptions{
		Client: g.consul, Datacenter: c.Datacenter, Namespace: c.Namespace, Partition: c.Partition,
		WaitTime: time.Duration(c.WaitTime),
		Logger:   g.log.With().Str("component", "discovery").Logger(),
	}, a.Tag)
	if err != nil {
		g.log.Error().Err(err).Msg("auto-exposure disabled")
		return
	}
	src.Watch(ctx, func(names []string, err error) {
		if err != nil {
			return // keep what is exposed; the watch logged it
		}
		g.syncAutoUpstreams(names)
	})
}

// syncAutoUpstreams makes the auto-exposed upstreams exactly names (minus
// configured upstreams and invalid names).
func (g *Gateway) syncAutoUpstreams(names []string) {
	defer g.autoSynced.Store(true)
	want := map[string]bool{}
	for _, n := range names {
		if g.configured[n] {
			continue
		}
		if !config.UpstreamName.MatchString(n) {
			g.log.Warn().Str("service", n).Msg("not auto-exposed: not a valid upstream name (lower-case letters, digits, '.', '_', '-')")
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
	a := g.cfg.Consul.AutoExpose
	for n := range want {
		uc := a.Upstream
		uc.Name = n
		uc.Consul = &config.UpstreamConsul{Service: n, Tag: a.Tag}
		uc.ApplyDefaults()
		if err := g.addUpstream(uc, true); err != nil {
			g.log.Error().Err(err).Str("upstream", n).Msg("auto-exposure failed")
			continue
		}
		g.log.Info().Str("upstream", n).Msg("auto-exposed service from consul")
	}
}
