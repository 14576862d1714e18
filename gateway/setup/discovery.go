package setup

import (
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
)

// clients are the discovery clients a config's upstreams share; nil for
// the ones it does not use.
type clients struct {
	consul *api.Client
	etcd   *discovery.EtcdClient
}

// source is an upstream's discovery source.
func source(cfg *config.Config, uc config.Upstream, cl clients, log zerolog.Logger) (discovery.Source, error) {
	log = log.With().Str("component", "discovery").Str("upstream", uc.Name).Logger()
	switch {
	case uc.Consul != nil:
		return consulSource(cfg.Consul, cl.consul, uc.Name, uc.Consul, log)
	case uc.Etcd != nil:
		if cl.etcd == nil {
			return nil, fmt.Errorf("upstream %q: etcd discovery needs the top-level etcd: key", uc.Name)
		}
		return discovery.NewEtcd(discovery.EtcdOptions{Client: cl.etcd, Prefix: uc.Etcd.Prefix, Logger: log})
	case uc.DNS != nil:
		t, err := discovery.ParseDNSTarget(uc.DNS.Target, uc.DNS.SRV)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", uc.Name, err)
		}
		return discovery.NewDNS(discovery.DNSOptions{Target: t, SRV: uc.DNS.SRV, Interval: time.Duration(uc.DNS.Interval), Logger: log})
	}
	return discovery.NewStatic(uc.Static)
}

// etcdClient is the client of the top-level etcd key (validated).
func etcdClient(e *config.EtcdConfig) (*discovery.EtcdClient, error) {
	o := discovery.EtcdClientOptions{Endpoints: e.Endpoints, Username: e.Username, DialTimeout: time.Duration(e.DialTimeout)}
	if e.Password != nil {
		pw, err := e.Password.Read()
		if err != nil {
			return nil, fmt.Errorf("etcd.password: %w", err)
		}
		o.Password = string(pw)
	}
	if t := e.TLS; t != nil {
		o.TLS = &discovery.EtcdTLS{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName}
	}
	return discovery.NewEtcdClient(o)
}
