package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/config"
	upconn "github.com/refract-gateway/refract/gateway/upstream"
	"github.com/refract-gateway/refract/transcode"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
)

// upstream is one backend as the request path sees it: its connections
// (conns: one per upstream, balanced by grpc-go over what discovery
// reports, with its subsets and schema tracking), header rules and call
// options. Immutable after newUpstream but for what conns publishes
// atomically and its schema tracking, which the control path owns
// (guarded by Gateway.buildMu).
type upstream struct {
	name    string
	cfg     config.Upstream
	auto    bool // exposed from Consul by tag, not configured
	conns   *upconn.Upstream
	headers *transcode.HeaderRules
	timeout time.Duration
	rules   map[string]*annotations.HttpRule // config rules by method full name
	opts    transcode.Options                // without Resolver: that comes per snapshot

	cancel context.CancelFunc // stops the watch
	done   chan struct{}      // closed when the watch has returned
}

// newUpstream connects an upstream; retire closes connections no longer
// used after a grace; extra are dial options of the gateway's (tracing)
// added to every connection of it.
func newUpstream(cfg config.Upstream, src discovery.Source, lim *config.LimitsConfig, log zerolog.Logger,
	retire func(*grpc.ClientConn, time.Duration), extra ...grpc.DialOption) (*upstream, error) {
	headers, err := transcode.NewHeaderRules(cfg.ForwardHeaders)
	if err != nil {
		return nil, err
	}
	conns, err := upconn.New(upstreamOptions(cfg, src, log, retire, extra))
	if err != nil {
		return nil, err
	}
	u := &upstream{
		name:    cfg.Name,
		cfg:     cfg,
		conns:   conns,
		headers: headers,
		timeout: time.Duration(cfg.Timeout),
		rules:   make(map[string]*annotations.HttpRule, len(cfg.Rules)),
		opts: transcode.Options{
			UseProtoNames:   cfg.JSON.UseProtoNames,
			OmitUnpopulated: !*cfg.JSON.EmitUnpopulated,
			Strict:          cfg.Strict,
			MaxDepth:        lim.JSONDepth(),
		},
	}
	for _, r := range cfg.Rules {
		if u.rules[r.Selector], err = r.Proto(true); err != nil {
			return nil, fmt.Errorf("upstream %q: rule %s: %w", cfg.Name, r.Selector, err)
		}
	}
	return u, nil
}

// upstreamOptions translates an upstream's config into the options of its
// connections.
func upstreamOptions(cfg config.Upstream, src discovery.Source, log zerolog.Logger,
	retire func(*grpc.ClientConn, time.Duration), extra []grpc.DialOption) upconn.Options {
	o := upconn.Options{
		Name:        cfg.Name,
		Source:      src,
		Timeout:     time.Duration(cfg.Timeout),
		Balancer:    cfg.Balancer,
		HealthCheck: cfg.HealthCheck,
		DialOptions: extra,
		Logger:      log,
		Retire:      retire,
	}
	if t := cfg.TLS; t != nil {
		o.TLS = &upconn.TLS{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	}
	for _, s := range cfg.Subsets {
		o.Subsets = append(o.Subsets, upconn.SubsetOptions{Name: s.Name, Tags: s.Tags, Static: s.Static})
	}
	if cfg.Consul != nil {
		o.SchemaMetaKey = cfg.Consul.SchemaMetaKey
	}
	return o
}

// unavailable says why calls cannot go out at all, or "" when they can.
func (u *upstream) unavailable() string { return u.conns.Unavailable() }
