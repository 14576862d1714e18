package setup

import (
	"cmp"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	upconn "github.com/refract-gateway/refract/gateway/upstream"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/compat"
	"github.com/refract-gateway/refract/transcode/httpmeta"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/api/annotations"
)

// upstreamOptions translates one upstream's config (defaults applied):
// its discovery source, its connections and its route compilation.
func upstreamOptions(cfg *config.Config, uc config.Upstream, cl clients, log zerolog.Logger) (gateway.UpstreamOptions, error) {
	src, err := source(cfg, uc, cl, log)
	if err != nil {
		return gateway.UpstreamOptions{}, err
	}
	headers, err := transcode.NewHeaderRules(uc.ForwardHeaders)
	if err != nil {
		return gateway.UpstreamOptions{}, err
	}
	respHeaders, err := httpmeta.NewRules(uc.ResponseHeaders)
	if err != nil {
		return gateway.UpstreamOptions{}, err
	}
	o := gateway.UpstreamOptions{
		Conn:            connOptions(uc, src),
		Rules:           make(map[string]*annotations.HttpRule, len(uc.Rules)),
		Headers:         headers,
		Response:        respHeaders,
		GRPCCompression: uc.GRPCCompression,
		ETag:            uc.ETag,
		DefaultRoutes:   *uc.DefaultRoutes,
		PathPrefix:      uc.PathPrefix,
		Optional:        uc.Optional,
		MayOverlap:      uc.MayOverlap,
		Validate:        uc.Validate == nil || *uc.Validate,
		Hidden:          hidden(uc.Expose, uc.Hide),
		Transcode: transcode.Options{
			UseProtoNames:   uc.JSON.UseProtoNames,
			OmitUnpopulated: !*uc.JSON.EmitUnpopulated,
			Strict:          uc.Strict,
			MaxDepth:        cfg.Limits.JSONDepth(),
		},
		Streams: streamLimits(&uc.Streams),
		Key:     upstreamKey(uc),
	}
	if o.Compat, err = compat.ParseMode(uc.Compat); err != nil {
		return gateway.UpstreamOptions{}, fmt.Errorf("upstream %q: %w", uc.Name, err)
	}
	o.Transcode.UnpopulatedDetails = o.Compat == compat.GRPCGateway
	if o.Descriptors, err = descriptors(cfg, uc); err != nil {
		return gateway.UpstreamOptions{}, err
	}
	for _, r := range uc.Rules {
		if o.Rules[r.Selector], err = r.Proto(true); err != nil {
			return gateway.UpstreamOptions{}, fmt.Errorf("upstream %q: rule %s: %w", uc.Name, r.Selector, err)
		}
	}
	return o, nil
}

// connOptions translates an upstream's config into the options of its
// connections.
func connOptions(uc config.Upstream, src discovery.Source) upconn.Options {
	o := upconn.Options{
		Name:        uc.Name,
		Source:      src,
		Timeout:     time.Duration(uc.Timeout),
		Balancer:    uc.Balancer,
		HealthCheck: uc.HealthCheck,
		NoLeanUnary: uc.UnaryTransport == "grpc-go",
	}
	if t := uc.TLS; t != nil {
		o.TLS = &upconn.TLS{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	}
	for _, s := range uc.Subsets {
		o.Subsets = append(o.Subsets, upconn.SubsetOptions{Name: s.Name, Tags: s.Tags, Static: s.Static})
	}
	switch {
	case uc.Consul != nil:
		o.SchemaMetaKey = uc.Consul.SchemaMetaKey
	case uc.Etcd != nil:
		o.SchemaMetaKey = uc.Etcd.SchemaMetaKey
	}
	return o
}

// consulSource is the discovery source of an upstream discovered in
// Consul: its own keys, else the top-level consul key's.
func consulSource(c *config.ConsulConfig, client *api.Client, name string, uc *config.UpstreamConsul, log zerolog.Logger) (discovery.Source, error) {
	if client == nil {
		return nil, fmt.Errorf("upstream %q: consul discovery needs the top-level consul: key", name)
	}
	pick := func(own, def string) string {
		if own != "" {
			return own
		}
		return def
	}
	o := discovery.ConsulOptions{
		Client:      client,
		Service:     uc.Service,
		Tags:        uc.TagFilter(),
		Datacenter:  pick(uc.Datacenter, c.Datacenter),
		Namespace:   pick(uc.Namespace, c.Namespace),
		Partition:   pick(uc.Partition, c.Partition),
		PassingOnly: *uc.PassingOnly,
		PortMetaKey: uc.PortMetaKey,
		WaitTime:    time.Duration(c.WaitTime),
		Logger:      log,
	}
	if len(uc.Datacenters) > 0 {
		return discovery.NewConsulFailover(o, uc.Datacenters)
	}
	return discovery.NewConsul(o)
}

// hidden applies an upstream's expose and hide globs to a method's full
// name: with expose set, only matching methods are published; hide then
// removes matches. The globs were validated with the config.
func hidden(expose, hide []string) func(string) (string, bool) {
	if len(expose) == 0 && len(hide) == 0 {
		return nil
	}
	return func(method string) (string, bool) {
		if len(expose) > 0 {
			if _, ok := policy.Globs(expose).Match(method); !ok {
				return "not in expose", true
			}
		}
		if p, ok := policy.Globs(hide).Match(method); ok {
			return "hide: " + p, true
		}
		return "", false
	}
}

// streamLimits are an upstream's stream keys (defaults applied).
func streamLimits(s *config.StreamConfig) gateway.StreamLimits {
	l := gateway.StreamLimits{
		MaxMessageBytes:  s.MaxMessageBytes,
		IdleTimeout:      time.Duration(s.IdleTimeout),
		MaxDuration:      time.Duration(s.MaxDuration),
		MaxPerClient:     s.MaxPerClient,
		KeepAlive:        time.Duration(s.KeepAlive),
		BufferMessages:   s.BufferMessages,
		WebSocketOrigins: s.WebSocketOrigins,
	}
	for m := range s.Framing {
		if l.Framing == nil {
			l.Framing = map[string]transcode.Framing{}
		}
		l.Framing[m] = s.FramingFor(m)
	}
	return l
}

// descriptors translates an upstream's descriptor sources and schema
// guard; the snapshot directory is the config's, shared by all upstreams.
func descriptors(cfg *config.Config, uc config.Upstream) (reflection.UpstreamOptions, error) {
	d := uc.Descriptors
	o := reflection.UpstreamOptions{
		Files:        d.Files,
		Timeout:      time.Duration(d.Timeout),
		HoldBreaking: uc.SchemaChanges.Breaking == "hold",
		SnapshotDir:  cfg.Reflection.SnapshotDir,
	}
	for _, s := range d.Sources {
		o.Sources = append(o.Sources, reflection.Source(s))
	}
	// Read now, so that a missing or malformed file refuses the config
	// (a reload keeps the running one) instead of failing every fetch.
	if _, err := reflection.ReadDescriptorSets(d.Files, int64(cmp.Or(cfg.Reflection.MaxBytes, reflection.DefaultMaxBytes))); err != nil {
		return o, fmt.Errorf("upstream %q: descriptors.files: %w", uc.Name, err)
	}
	if len(d.Metadata) > 0 {
		o.Metadata = make(map[string]string, len(d.Metadata))
		for k, s := range d.Metadata {
			v, err := s.Read()
			if err != nil {
				return o, fmt.Errorf("upstream %q: descriptors.metadata.%s: %w", uc.Name, k, err)
			}
			o.Metadata[k] = string(v)
		}
	}
	return o, nil
}
