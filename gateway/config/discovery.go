package config

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
)

// EtcdConfig is how refract reaches etcd (the top-level `etcd:` key), for
// upstreams discovered there.
type EtcdConfig struct {
	// Endpoints are the cluster's client URLs (https://host:2379) or
	// host:port; at least one.
	Endpoints []string `yaml:"endpoints"`
	// Username and Password authenticate when etcd has auth enabled.
	Username string        `yaml:"username"`
	Password *SecretConfig `yaml:"password"`
	// TLS dials etcd over TLS: ca, cert and key (mTLS), server_name.
	TLS *UpstreamTLS `yaml:"tls"`
	// DialTimeout bounds a connection attempt and the authentication
	// that starts the client; default 5s.
	DialTimeout Duration `yaml:"dial_timeout"`
}

// UpstreamEtcd discovers an upstream's endpoints under an etcd key prefix.
type UpstreamEtcd struct {
	// Prefix is the target of grpc-go's etcd naming (endpoints.Manager):
	// each key under prefix/ is one endpoint, {"Addr": "host:port",
	// "Metadata": {...}}; required.
	Prefix string `yaml:"prefix"`
	// SchemaMetaKey names the Metadata member in which instances may
	// publish a schema version; default "schema_hash" (as for Consul).
	SchemaMetaKey string `yaml:"schema_meta_key"`
}

// UpstreamDNS discovers an upstream's endpoints in DNS, re-resolved: the
// way to follow a Kubernetes headless service.
type UpstreamDNS struct {
	// Target is dns:[//server/]host:port (A and AAAA records), or with SRV
	// dns:[//server/]name (SRV records give hosts and ports); required.
	// Without a server the system's resolver is used.
	Target string `yaml:"target"`
	SRV    bool   `yaml:"srv"`
	// Interval is how often the name is resolved again; default 30s. A
	// failed connection to an endpoint also re-resolves (at most once a
	// second).
	Interval Duration `yaml:"interval"`
}

func (u *Upstream) applyDiscoveryDefaults() {
	if u.Etcd != nil && u.Etcd.SchemaMetaKey == "" {
		u.Etcd.SchemaMetaKey = "schema_hash"
	}
	if u.DNS != nil && u.DNS.Interval == 0 {
		u.DNS.Interval = Duration(30 * time.Second)
	}
}

func (e *EtcdConfig) validate(bad func(key, format string, args ...any)) {
	if len(e.Endpoints) == 0 {
		bad("etcd.endpoints", "required: the etcd client URLs, e.g. [https://etcd-0:2379]")
	}
	for i, ep := range e.Endpoints {
		host := ep
		if u, err := url.Parse(ep); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			host = u.Host
		}
		if _, _, err := net.SplitHostPort(host); err != nil {
			bad("etcd.endpoints["+strconv.Itoa(i)+"]", "%q is not host:port or http(s)://host:port", ep)
		}
	}
	if (e.Username == "") != (e.Password == nil) {
		bad("etcd", "username and password go together")
	} else if e.Password != nil {
		if _, err := e.Password.Read(); err != nil {
			bad("etcd.password", "%v", err)
		}
	}
	if t := e.TLS; t != nil {
		if (t.Cert == "") != (t.Key == "") {
			bad("etcd.tls", "cert and key go together")
		}
		if t.InsecureSkipVerify {
			bad("etcd.tls.insecure_skip_verify", "not offered for etcd: name its CA in etcd.tls.ca")
		}
	}
	if e.DialTimeout < 0 {
		bad("etcd.dial_timeout", "must be positive")
	}
}

// validateSource checks that exactly one endpoint source is set, and it.
func (u *Upstream) validateSource(key string, c *Config, bad func(key, format string, args ...any)) {
	var set []string
	for name, on := range map[string]bool{"static": len(u.Static) > 0, "consul": u.Consul != nil, "etcd": u.Etcd != nil, "dns": u.DNS != nil} {
		if on {
			set = append(set, name)
		}
	}
	slices.Sort(set)
	switch {
	case len(set) == 0:
		bad(key, "an endpoint source is required (static, consul, etcd or dns)")
	case len(set) > 1:
		bad(key, "%s exclude each other: use one endpoint source", joinAnd(set))
	case u.Consul != nil:
		u.Consul.validate(key+".consul", c, bad)
	case u.Etcd != nil:
		if u.Etcd.Prefix == "" || u.Etcd.Prefix == "/" {
			bad(key+".etcd.prefix", "required: the key prefix endpoints are registered under, e.g. services/library")
		}
		if c.Etcd == nil {
			bad(key+".etcd", "needs the top-level etcd: key (at least etcd: {endpoints: [host:port]})")
		}
	case u.DNS != nil:
		if _, err := discovery.ParseDNSTarget(u.DNS.Target, u.DNS.SRV); err != nil {
			bad(key+".dns.target", "%v", err)
		}
		if u.DNS.Interval < 0 {
			bad(key+".dns.interval", "must be positive")
		}
	default:
		if _, err := discovery.NewStatic(u.Static); err != nil {
			bad(key+".static", "%v", err)
		}
	}
}

// validate checks a Consul upstream's keys.
func (u *UpstreamConsul) validate(key string, c *Config, bad func(key, format string, args ...any)) {
	if u.Service == "" {
		bad(key+".service", "required: the Consul service name")
	}
	if c.Consul == nil {
		bad(key, "needs the top-level consul: key (at least consul: {address: host:port})")
	}
	if len(u.Datacenters) > 0 && u.Datacenter != "" {
		bad(key+".datacenters", "datacenter and datacenters exclude each other")
	}
	if len(u.Datacenters) == 1 {
		bad(key+".datacenters", "lists one datacenter: use datacenter, or list two or more in order of preference")
	}
	for i, dc := range u.Datacenters {
		if dc == "" || slices.Contains(u.Datacenters[:i], dc) {
			bad(key+".datacenters["+strconv.Itoa(i)+"]", "%q is empty or listed twice", dc)
		}
	}
}

// joinAnd is "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
