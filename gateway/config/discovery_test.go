package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDiscoveryKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
etcd: {endpoints: ["https://127.0.0.1:2379", "127.0.0.1:2380"], username: gw, password: {env: PATH}}
consul: {address: 127.0.0.1:8500}
upstreams:
  - {name: a, etcd: {prefix: services/a}}
  - {name: b, dns: {target: "dns:///b.default.svc.cluster.local:9090"}}
  - {name: c, dns: {target: "dns://10.96.0.10/_grpc._tcp.c.default.svc.cluster.local", srv: true, interval: 5s}}
  - {name: d, consul: {service: d, datacenters: [dc1, dc2]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upstreams
	if u[0].Etcd.SchemaMetaKey != "schema_hash" || time.Duration(u[1].DNS.Interval) != 30*time.Second ||
		time.Duration(u[2].DNS.Interval) != 5*time.Second || strings.Join(u[3].Consul.Datacenters, ",") != "dc1,dc2" {
		t.Errorf("defaults or values wrong: %+v %+v %+v %+v", u[0].Etcd, u[1].DNS, u[2].DNS, u[3].Consul)
	}
	for _, c := range []struct{ yaml, want string }{
		{"upstreams:\n  - {name: a, etcd: {prefix: x}}\n", "line 2: upstreams[0].etcd: needs the top-level etcd: key"},
		{"etcd: {endpoints: [\"127.0.0.1:2379\"]}\nupstreams:\n  - {name: a, etcd: {}}\n", "line 3: upstreams[0].etcd.prefix: required"},
		{"etcd: {}\nupstreams:\n  - {name: a, etcd: {prefix: x}}\n", "line 1: etcd.endpoints: required"},
		{"etcd: {endpoints: [nowhere]}\nupstreams:\n  - {name: a, etcd: {prefix: x}}\n", `line 1: etcd.endpoints[0]: "nowhere" is not host:port`},
		{"etcd: {endpoints: [\"127.0.0.1:2379\"], username: gw}\nupstreams:\n  - {name: a, etcd: {prefix: x}}\n", "line 1: etcd: username and password go together"},
		{"etcd: {endpoints: [\"127.0.0.1:2379\"], tls: {insecure_skip_verify: true}}\nupstreams:\n  - {name: a, etcd: {prefix: x}}\n", "etcd.tls.insecure_skip_verify: not offered for etcd"},
		{"upstreams:\n  - {name: a, dns: {target: \"b:9090\"}}\n", "line 2: upstreams[0].dns.target: discovery: dns target \"b:9090\" must start with dns:"},
		{"upstreams:\n  - {name: a, dns: {target: \"dns:///b\"}}\n", "needs a port"},
		{"upstreams:\n  - {name: a, dns: {target: \"dns:///b:1\"}, static: [\"127.0.0.1:1\"]}\n", "line 2: upstreams[0]: dns and static exclude each other"},
		{"consul: {}\nupstreams:\n  - {name: a, consul: {service: a, datacenters: [dc1]}}\n", "upstreams[0].consul.datacenters: lists one datacenter"},
		{"consul: {}\nupstreams:\n  - {name: a, consul: {service: a, datacenter: dc1, datacenters: [dc1, dc2]}}\n", "upstreams[0].consul.datacenters: datacenter and datacenters exclude each other"},
		{"consul: {}\nupstreams:\n  - {name: a, consul: {service: a, datacenters: [dc1, dc1]}}\n", `upstreams[0].consul.datacenters[1]: "dc1" is empty or listed twice`},
	} {
		_, err := Parse([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %s", c.yaml, err, c.want)
		}
	}
}

// TestDiscoveryDocExamples loads every YAML example of docs/discovery.md,
// so that the page never shows a config refract would refuse.
func TestDiscoveryDocExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "discovery.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) < 4 {
		t.Fatalf("%d yaml examples, want one per source (etcd, dns A, dns SRV, datacenters)", len(blocks))
	}
	for i, blk := range blocks {
		src, _, ok := strings.Cut(blk, "```")
		if !ok {
			t.Fatalf("example %d is not closed", i+1)
		}
		if _, err := Parse([]byte(src)); err != nil {
			t.Errorf("example %d does not load: %v\n%s", i+1, err, src)
		}
	}
}
