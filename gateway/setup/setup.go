package setup

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/compress"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/checks"
	"github.com/refract-gateway/refract/reflection"
	"github.com/rs/zerolog"
)

// Extra is what a config does not say but the gateway built from it
// needs.
type Extra struct {
	// Logger receives the gateway's logs; default: the zero Logger, which
	// discards everything.
	Logger zerolog.Logger
	// AccessLog, when set, receives the access log instead of Logger (a
	// logger writing through a policy.LogQueue, off the request path).
	AccessLog *zerolog.Logger
	// Now is the gateway's clock; default time.Now.
	Now func() time.Time
	// State is the policy state shared with the process's earlier and
	// later configs (see State); nil: this config's own, fresh.
	State *State
	// Checks gives the named pre-call checks their metrics hooks (the
	// server's telemetry); nil: none.
	Checks checks.Observer
}

// New validates cfg and translates it into the options of its Gateway,
// building what outlives route rebuilds (policies and their state, the
// Consul client). What it builds is released by the Gateway's Close, or
// by gateway.New or Gateway.Update when they fail; a caller that never calls gateway.New
// calls the options' Policies.Close and Release itself.
func New(cfg *config.Config, x Extra) (gateway.Options, error) {
	if err := cfg.Validate(); err != nil {
		return gateway.Options{}, err
	}
	log := x.Logger
	access := log
	if x.AccessLog != nil {
		access = *x.AccessLog
	}
	pol, err := buildPolicies(cfg, log, access, x.State, x.Checks)
	if err != nil {
		return gateway.Options{}, err
	}
	o := gateway.Options{
		Logger: log,
		Now:    x.Now,
		Reflection: reflection.Options{
			RefreshInterval: time.Duration(cfg.Reflection.RefreshInterval),
			FetchTimeout:    time.Duration(cfg.Reflection.FetchTimeout),
			MaxFiles:        cfg.Reflection.MaxFiles,
			MaxBytes:        cfg.Reflection.MaxBytes,
			MaxMethods:      cfg.Reflection.MaxMethods,
			History:         cfg.Reflection.History,
		},
		Limits:          limits(cfg),
		ServeReflection: cfg.Reflection.Serve,
		OpenAPI:         gateway.OpenAPIOptions{Enabled: cfg.OpenAPI.On(), Path: cfg.OpenAPI.ServedPath()},
		Policies:        pol,
	}
	if o.Composer, err = composer(cfg, log); err != nil {
		_ = pol.Close()
		return gateway.Options{}, err
	}
	if c := cfg.Compression; c.Enabled {
		if o.Compression, err = compress.NewResponses(compress.Options{MinBytes: c.MinBytes, Encodings: c.Encodings}); err != nil {
			_ = pol.Close()
			return gateway.Options{}, err
		}
	}
	for _, p := range cfg.Products {
		o.Products = append(o.Products, gateway.ProductOptions{Name: p.Name, Listen: p.Listen, Hosts: p.Hosts, Upstreams: p.Upstreams})
	}
	var cl clients
	if c := cfg.Consul; c != nil {
		var tr *http.Transport
		if cl.consul, tr, err = discovery.NewConsulClient(discovery.ConsulClientOptions{Address: c.Address,
			Token: c.Token, Datacenter: c.Datacenter, Namespace: c.Namespace, Partition: c.Partition}); err != nil {
			_ = pol.Close()
			return gateway.Options{}, err
		}
		o.Release = tr.CloseIdleConnections
	}
	if e := cfg.Etcd; e != nil {
		if cl.etcd, err = etcdClient(e); err != nil {
			_ = pol.Close()
			if o.Release != nil {
				o.Release()
			}
			return gateway.Options{}, err
		}
		release := o.Release
		o.Release = func() {
			if release != nil {
				release()
			}
			_ = cl.etcd.Close()
		}
	}
	cc := &caches{cfg: cfg, now: x.Now}
	if prev := o.Release; prev != nil {
		o.Release = func() { prev(); cc.release() }
	} else {
		o.Release = cc.release
	}
	fail := func(err error) (gateway.Options, error) {
		_ = pol.Close()
		o.Release()
		return gateway.Options{}, err
	}
	for _, uc := range cfg.Upstreams {
		uo, err := upstreamOptions(cfg, uc, cl, log)
		if err != nil {
			return fail(err)
		}
		if uo.Cache, err = cc.of(uc); err != nil {
			return fail(fmt.Errorf("upstream %q: cache: %w", uc.Name, err))
		}
		o.Upstreams = append(o.Upstreams, uo)
	}
	if c := cfg.Consul; c != nil && c.AutoExpose != nil {
		a := c.AutoExpose
		services, err := discovery.NewConsulServices(discovery.ConsulOptions{
			Client: cl.consul, Datacenter: c.Datacenter, Namespace: c.Namespace, Partition: c.Partition,
			WaitTime: time.Duration(c.WaitTime),
			Logger:   log.With().Str("component", "discovery").Logger(),
		}, a.Tag)
		if err != nil {
			return fail(fmt.Errorf("auto-exposure: %w", err))
		}
		o.AutoExpose = &gateway.AutoExposeOptions{Services: services, Upstream: func(service string) (gateway.UpstreamOptions, error) {
			if !config.UpstreamName.MatchString(service) {
				return gateway.UpstreamOptions{}, fmt.Errorf("%q is not a valid upstream name (lower-case letters, digits, '.', '_', '-')", service)
			}
			uc := a.Upstream
			uc.Name = service
			uc.PathPrefix = strings.ReplaceAll(a.PathPrefix, "{service}", service) + uc.PathPrefix
			uc.Consul = &config.UpstreamConsul{Service: service, Tag: a.Tag}
			uc.ApplyDefaults()
			return upstreamOptions(cfg, uc, cl, log)
		}}
	}
	return o, nil
}

// limits are the limits keys with their defaults.
func limits(cfg *config.Config) gateway.Limits {
	l := &cfg.Limits
	return gateway.Limits{
		URLBytes:         l.URLBytes(),
		HeaderBytes:      l.HeaderBytes(),
		ResponseBytes:    l.ResponseBytes(),
		PerClient:        l.PerClient(),
		Underscores:      l.Underscores(),
		BodyBytes:        cfg.MaxBodyBytes,
		BodyPace:         policy.BodyPace{Grace: l.BodyTimeout(), MinRate: int64(l.BodyRate())},
		MinClientTimeout: config.OrDuration(l.MinClientTimeout, config.DefaultMinClientTimeout),
		MaxClientTimeout: time.Duration(l.MaxClientTimeout),
		Routes:           cfg.Reflection.MaxRoutes,
	}
}

// Tracing is the config's tracing keys as telemetry.NewTracing takes them.
func Tracing(c config.TracingConfig) telemetry.TracingOptions {
	return telemetry.TracingOptions{On: c.On(), OTLPEndpoint: c.OTLPEndpoint, Protocol: c.Protocol,
		Insecure: c.Insecure, SampleRatio: c.SampleRatio, ServiceName: c.ServiceName, Headers: c.Headers}
}
