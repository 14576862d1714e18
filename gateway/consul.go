package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery"
)

// ConsulConfig is how refract reaches Consul (the top-level `consul:` key).
type ConsulConfig struct {
	// Address is the agent's HTTP API, host:port; default 127.0.0.1:8500.
	Address string `yaml:"address"`
	// Token is the ACL token; default $CONSUL_HTTP_TOKEN.
	Token string `yaml:"token"`
	// Datacenter, Namespace and Partition are the defaults for every
	// Consul upstream (the agent's own when empty).
	Datacenter string `yaml:"datacenter"`
	Namespace  string `yaml:"namespace"`
	Partition  string `yaml:"partition"`
	// WaitTime bounds each blocking query; default 1m.
	WaitTime Duration `yaml:"wait_time"`
	// AutoExpose turns every service carrying a tag into an upstream.
	AutoExpose *AutoExpose `yaml:"auto_expose"`
}

// AutoExpose serves the services registered in Consul with Tag without a
// config change: each becomes an upstream named after the service (names
// that are not valid upstream names are skipped and logged), discovered
// by the same tag, with Upstream's settings. A configured upstream of the
// same name wins.
type AutoExpose struct {
	Tag string `yaml:"tag"`
	// Upstream holds the settings applied to every exposed service: any
	// upstream key but name, static and consul.service/tag.
	Upstream Upstream `yaml:"upstream"`
}

// UpstreamConsul discovers an upstream's endpoints in Consul.
type UpstreamConsul struct {
	// Service is the Consul service name; required.
	Service string `yaml:"service"`
	// Tag (and Tags) keep only instances carrying every tag listed.
	Tag  string   `yaml:"tag"`
	Tags []string `yaml:"tags"`
	// PassingOnly keeps only instances whose health checks all pass;
	// default true.
	PassingOnly *bool `yaml:"passing_only"`
	// Datacenter, Namespace and Partition override the consul: defaults.
	Datacenter string `yaml:"datacenter"`
	Namespace  string `yaml:"namespace"`
	Partition  string `yaml:"partition"`
	// PortMetaKey names a service-meta key holding the gRPC port, for
	// services registered with another protocol's port.
	PortMetaKey string `yaml:"port_meta_key"`
	// SchemaMetaKey names the service-meta key in which instances may
	// publish a schema version; default "schema_hash". Instances with the
	// same value are reflected once; instances without it are reflected
	// one by one.
	SchemaMetaKey string `yaml:"schema_meta_key"`
}

func (c *ConsulConfig) applyDefaults() {
	if c.Address == "" {
		c.Address = "127.0.0.1:8500"
	}
	if c.WaitTime == 0 {
		c.WaitTime = Duration(time.Minute)
	}
}

func (u *UpstreamConsul) applyDefaults() {
	if u.PassingOnly == nil {
		u.PassingOnly = ptr(true)
	}
	if u.SchemaMetaKey == "" {
		u.SchemaMetaKey = "schema_hash"
	}
}

func (c *ConsulConfig) validate(bad func(key, format string, args ...any)) {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		bad("consul.address", "%q is not host:port", c.Address)
	}
	if a := c.AutoExpose; a != nil {
		if a.Tag == "" {
			bad("consul.auto_expose.tag", "required: the tag that marks services to expose, e.g. refract")
		}
		t := a.Upstream
		if t.Name != "" || len(t.Static) > 0 || t.Consul != nil {
			bad("consul.auto_expose.upstream", "name, static and consul come from the service; set only the other upstream keys")
		}
	}
}

// tags is the tag filter: Tag and Tags together.
func (u *UpstreamConsul) tags() []string {
	if u.Tag == "" {
		return u.Tags
	}
	return append([]string{u.Tag}, u.Tags...)
}

// consulClient builds the API client; its transport is closed with the
// gateway.
func newConsulClient(c *ConsulConfig) (*api.Client, *http.Transport, error) {
	cfg := api.DefaultConfig() // reads CONSUL_HTTP_TOKEN and friends
	cfg.Address = c.Address
	cfg.Scheme = "http"
	if c.Token != "" {
		cfg.Token = c.Token
	}
	cfg.Datacenter = c.Datacenter
	cfg.Namespace = c.Namespace
	cfg.Partition = c.Partition
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	cfg.Transport = tr
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("consul: %w", err)
	}
	return client, tr, nil
}

// consulSource is the discovery source of an upstream discovered in Consul.
func (g *Gateway) consulSource(name string, uc *UpstreamConsul) (discovery.Source, error) {
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
		Tags:        uc.tags(),
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
		if !upstreamName.MatchString(n) {
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
		uc.Consul = &UpstreamConsul{Service: n, Tag: a.Tag}
		uc.applyDefaults()
		if err := g.addUpstream(uc, true); err != nil {
			g.log.Error().Err(err).Str("upstream", n).Msg("auto-exposure failed")
			continue
		}
		g.log.Info().Str("upstream", n).Msg("auto-exposed service from consul")
	}
}
