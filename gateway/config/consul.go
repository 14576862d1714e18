package config

import (
	"net"
	"strings"
	"time"
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
	// Tag marks the services to expose; required (e.g. refract).
	Tag string `yaml:"tag"`
	// PathPrefix confines the exposed services to literal path segments:
	// their routes are mounted under it (before any upstream.path_prefix),
	// so a registrant cannot claim paths outside it. "{service}" in it
	// stands for the service's name. Default none.
	PathPrefix string `yaml:"path_prefix"`
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
	// Datacenters, two or more in order of preference, serve the first
	// with passing instances (the next only while none pass there, and
	// back when they return); excludes datacenter.
	Datacenters []string `yaml:"datacenters"`
	Namespace   string   `yaml:"namespace"`
	Partition   string   `yaml:"partition"`
	// PortMetaKey names a service-meta key holding the gRPC port, for
	// services registered with another protocol's port.
	PortMetaKey string `yaml:"port_meta_key"`
	// SchemaMetaKey names the service-meta key in which instances may
	// publish a schema version; default "schema_hash". Instances with the
	// same value are reflected once; instances without it are reflected
	// one by one.
	SchemaMetaKey string `yaml:"schema_meta_key"`
}

// ApplyDefaults fills the unset address and wait time.
func (c *ConsulConfig) ApplyDefaults() {
	if c.Address == "" {
		c.Address = "127.0.0.1:8500"
	}
	if c.WaitTime == 0 {
		c.WaitTime = Duration(time.Minute)
	}
}

// ApplyDefaults fills the unset passing_only and schema_meta_key.
func (u *UpstreamConsul) ApplyDefaults() {
	if u.PassingOnly == nil {
		u.PassingOnly = Ptr(true)
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
		if p := strings.ReplaceAll(a.PathPrefix, "{service}", "s"); p != "" && !PathPrefixPattern.MatchString(p) {
			bad("consul.auto_expose.path_prefix", "%q must be literal path segments such as /services or /services/{service} (no trailing slash)", a.PathPrefix)
		}
		t := a.Upstream
		if t.Name != "" || len(t.Static) > 0 || t.Consul != nil || t.Etcd != nil || t.DNS != nil {
			bad("consul.auto_expose.upstream", "name, static, consul, etcd and dns come from the service; set only the other upstream keys")
		}
	}
}

// TagFilter is the tag filter: Tag and Tags together.
func (u *UpstreamConsul) TagFilter() []string {
	if u.Tag == "" {
		return u.Tags
	}
	return append([]string{u.Tag}, u.Tags...)
}
