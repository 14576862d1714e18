package gateway_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/discovery/dnstest"
	"github.com/refract-gateway/refract/discovery/etcdtest"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/internal/testkit"
	"google.golang.org/grpc"
)

const serverVersion = "/library.v1.LibraryService/GetServerVersion"

// startCountedAt is startCounted on a given address.
func startCountedAt(t *testing.T, start func(string, ...grpc.ServerOption) (*examples.Backend, error), addr string) *counted {
	t.Helper()
	return startCounted(t, func(_ string, opts ...grpc.ServerOption) (*examples.Backend, error) { return start(addr, opts...) })
}

func adminUpstreams(t *testing.T, h *harness) map[string]gateway.UpstreamInfo {
	t.Helper()
	var list []gateway.UpstreamInfo
	code, body := get(t, h.admin+"/admin/upstreams")
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("/admin/upstreams %d %v %s", code, err, body)
	}
	out := map[string]gateway.UpstreamInfo{}
	for _, u := range list {
		out[u.Name] = u
	}
	return out
}

// TestEtcdUpstream discovers a library in a real etcd server (in process):
// instances registered by grpc-go's endpoints.Manager with a schema
// version in their metadata are reflected once per version and routed by
// schema; adds and removals are followed; through etcd's outage the last
// set is served, stale; after it the watch resumes.
func TestEtcdUpstream(t *testing.T) {
	srv := etcdtest.Start(t, etcdtest.Options{})
	admin := srv.Client()
	a := startCounted(t, examples.StartLibrary)
	b := startCounted(t, examples.StartLibrary)
	c := startCounted(t, examples.StartLibraryV2)
	const prefix = "services/library"
	srv.Register(admin, prefix, "a", a.Addr, map[string]any{"schema_hash": "build-1"})
	srv.Register(admin, prefix, "b", b.Addr, map[string]any{"schema_hash": "build-1"})
	h := startGateway(t, fmt.Sprintf(`
reflection: {refresh_interval: 1h}
etcd: {endpoints: [%q]}
upstreams:
  - name: library
    etcd: {prefix: %s}
`, srv.Endpoint, prefix))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	h.do(t, "POST", serverVersion, `{}`).expect(t, 404)
	if u := h.upstream(t, "library"); u.Source != "etcd(services/library)" || len(u.Endpoints) != 2 || u.Endpoints[0].Meta["schema_hash"] != "build-1" {
		t.Fatalf("upstream = %+v", u)
	}

	// A new build joins: reflected once for its version, its new method
	// sent only to it.
	start := time.Now()
	srv.Register(admin, prefix, "c", c.Addr, map[string]any{"schema_hash": "build-2"})
	eventually(t, 10*time.Second, "the build-2 method", func() bool { return h.do(t, "POST", serverVersion, `{}`).status == 200 })
	t.Logf("etcd: a new instance's new method was served %s after its registration (reflection included)", time.Since(start))
	var entries []string
	for _, s := range h.gw.Cache().Stats() {
		entries = append(entries, s.Upstream)
	}
	if got := strings.Join(entries, " "); got != "library library@build-1 library@build-2" {
		t.Errorf("descriptor cache entries = %s", got)
	}
	for range 10 {
		h.do(t, "POST", serverVersion, `{}`).expect(t, 200)
	}
	if n := a.n(serverVersion) + b.n(serverVersion); n != 0 {
		t.Errorf("build-1 instances got %d calls of the build-2 method", n)
	}

	// a leaves: its calls stop.
	srv.Deregister(admin, prefix, "a")
	eventually(t, 10*time.Second, "a to leave", func() bool { return len(h.upstream(t, "library").Endpoints) == 2 })
	before := a.n("")
	for range 20 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	if a.n("") != before {
		t.Errorf("a got %d calls after leaving", a.n("")-before)
	}

	// etcd goes away: the last set is served, stale.
	srv.Stop()
	eventually(t, 15*time.Second, "discovery to be stale", func() bool { return h.upstream(t, "library").Discovery == "stale" })
	for range 10 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	if u := adminUpstreams(t, h)["library"]; !strings.Contains(u.Error, "etcd") || len(u.Endpoints) != 2 {
		t.Errorf("while etcd is down, /admin/upstreams says %+v", u)
	}
	// It comes back with its data; a change made then is followed.
	srv.Restart()
	admin = srv.Client()
	srv.Register(admin, prefix, "a", a.Addr, map[string]any{"schema_hash": "build-1"})
	eventually(t, 20*time.Second, "discovery to follow etcd again", func() bool {
		u := h.upstream(t, "library")
		return u.Discovery == "ok" && len(u.Endpoints) == 3
	})
}

// TestDNSUpstream follows a name the way a Kubernetes headless service is
// followed, against a real DNS server on loopback: the A records change
// (pods come and go) and are followed on the interval; a pod that goes
// away makes grpc-go ask for a new resolution at once; through the DNS
// server's outage the last answer is served. The endpoints carry no
// schema version, so each is reflected on its own, and a method only the
// new build has goes only to it.
func TestDNSUpstream(t *testing.T) {
	dns := dnstest.Start(t)
	port := testkit.FreePort(t)
	at := func(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
	a := startCountedAt(t, examples.StartLibrary, at("127.0.0.1"))
	b := startCountedAt(t, examples.StartLibraryV2, at("127.0.0.2"))
	const name = "library.default.svc.cluster.local."
	dns.Set(name, "127.0.0.1")
	h := startGateway(t, fmt.Sprintf(`
reflection: {refresh_interval: 1h}
upstreams:
  - name: library
    dns: {target: "dns://%s/%s:%d", interval: 200ms}
`, dns.Addr, name, port))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)

	start := time.Now()
	dns.Set(name, "127.0.0.1", "127.0.0.2")
	eventually(t, 10*time.Second, "the second pod", func() bool { return len(h.upstream(t, "library").Endpoints) == 2 })
	t.Logf("dns: a new pod was followed in %s (interval 200ms)", time.Since(start))
	eventually(t, 10*time.Second, "the new build's method", func() bool { return h.do(t, "POST", serverVersion, `{}`).status == 200 })
	for range 10 {
		h.do(t, "POST", serverVersion, `{}`).expect(t, 200)
	}
	if n := a.n(serverVersion); n != 0 {
		t.Errorf("the old build got %d calls of the new build's method", n)
	}
	for range 20 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	if a.n("") == 0 || b.n("/library.v1.LibraryService/ListShelves") == 0 {
		t.Errorf("calls not spread over both pods: %d, %d", a.n(""), b.n(""))
	}

	// The DNS server goes away: the last answer is served, stale.
	dns.Stop()
	eventually(t, 10*time.Second, "discovery to be stale", func() bool { return h.upstream(t, "library").Discovery == "stale" })
	for range 10 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	dns.Set(name, "127.0.0.2")
	dns.Restart()
	eventually(t, 10*time.Second, "the answer after the outage", func() bool {
		u := h.upstream(t, "library")
		return u.Discovery == "ok" && len(u.Endpoints) == 1 && u.Endpoints[0].Addr == at("127.0.0.2")
	})
}

// TestDNSReResolvesWhenAConnectionFails sets an interval no test waits
// for: the only thing that can make the gateway look again is grpc-go
// asking after the pod it was connected to went away.
func TestDNSReResolvesWhenAConnectionFails(t *testing.T) {
	dns := dnstest.Start(t)
	port := testkit.FreePort(t)
	at := func(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
	old := startCountedAt(t, examples.StartLibrary, at("127.0.0.1"))
	const name = "library.default.svc.cluster.local."
	dns.Set(name, "127.0.0.1")
	h := startGateway(t, fmt.Sprintf(`
reflection: {refresh_interval: 1h}
upstreams:
  - name: library
    dns: {target: "dns://%s/%s:%d", interval: 1h}
`, dns.Addr, name, port))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)

	// The pod is replaced: a new one elsewhere, the old one gone.
	startCountedAt(t, examples.StartLibrary, at("127.0.0.3"))
	dns.Set(name, "127.0.0.3")
	queries := dns.Queries()
	old.Stop()
	start := time.Now()
	eventually(t, 15*time.Second, "calls to reach the new pod", func() bool {
		return h.do(t, "GET", "/v1/shelves", "").status == 200 && h.upstream(t, "library").Endpoints[0].Addr == at("127.0.0.3")
	})
	t.Logf("dns: a replaced pod was followed in %s after the old one stopped (interval 1h)", time.Since(start))
	if dns.Queries() == queries {
		t.Error("no DNS query after the connection failed")
	}
}

// TestConsulDatacenterFailover runs two Consul datacenters federated over
// WAN (two dev agents on loopback) and an upstream listing both: dc1's
// instance serves while it passes, dc2's while it fails, dc1's again when
// it passes; the admin API and the metrics name the datacenter.
func TestConsulDatacenterFailover(t *testing.T) {
	dc1 := consultest.StartDC(t, "dc1")
	dc2 := consultest.StartDC(t, "dc2")
	dc1.JoinWAN(dc2)
	local := startCounted(t, examples.StartLibrary)
	remote := startCounted(t, examples.StartLibrary)
	dc1.Register(consultest.Instance{ID: "local", Service: "library", Addr: local.Addr})
	dc2.Register(consultest.Instance{ID: "remote", Service: "library", Addr: remote.Addr})
	h := startGateway(t, consulConfig(dc1, `
upstreams:
  - name: library
    consul: {service: library, datacenters: [dc1, dc2]}
`))
	serving := func(dc string, b *counted) {
		t.Helper()
		eventually(t, 15*time.Second, dc+" to serve", func() bool {
			u := adminUpstreams(t, h)["library"]
			return u.Datacenter == dc && len(u.Endpoints) == 1 && u.Endpoints[0].Addr == b.Addr
		})
		before := b.n("")
		for range 10 {
			h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		}
		if b.n("")-before != 10 {
			t.Errorf("%s's instance got %d of 10 calls", dc, b.n("")-before)
		}
		if m := scrapeMetrics(t, h); m.value("refract_upstream_datacenter", "upstream=library", "datacenter="+dc) != 1 ||
			len(m.labelValues("refract_upstream_datacenter", "datacenter")) != 1 {
			t.Errorf("refract_upstream_datacenter does not name %s alone: %v", dc, m.labelValues("refract_upstream_datacenter", "datacenter"))
		}
	}
	serving("dc1", local)
	u := adminUpstreams(t, h)["library"]
	if u.Source != "consul(library,dc=dc1>dc2)" || u.ConsulIndex == 0 {
		b, _ := json.Marshal(u)
		t.Errorf("/admin/upstreams: %s", b)
	}
	dc1.Fail("local")
	serving("dc2", remote)
	dc1.Pass("local")
	serving("dc1", local)
}
