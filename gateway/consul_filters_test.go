package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
)

// The per-upstream filters reach Consul: a tag keeps only the instances
// carrying it, a service-meta key overrides the registered port, and the
// top-level datacenter is the default for every upstream.
func TestConsulTagAndPortMetaFilters(t *testing.T) {
	agent := consultest.Start(t)
	lib := startCounted(t, examples.StartLibrary)
	echo := startCounted(t, examples.StartEcho)
	// Without the tag filter, the untagged instance (nothing listens on
	// port 1) would be in the set.
	agent.Register(consultest.Instance{ID: "lib", Service: "library", Addr: lib.Addr, Tags: []string{"blue"}})
	agent.Register(consultest.Instance{ID: "lib-untagged", Service: "library", Addr: "127.0.0.1:1"})
	// Registered with another protocol's port; the gRPC port is in meta.
	_, echoPort, _ := strings.Cut(echo.Addr, "127.0.0.1:")
	agent.Register(consultest.Instance{ID: "echo", Service: "echo", Addr: "127.0.0.1:1", Meta: map[string]string{"grpc_port": echoPort}})

	h := startGateway(t, fmt.Sprintf(`
consul: {address: %q, datacenter: dc1, wait_time: 5s}
upstreams:
  - name: library
    consul: {service: library, tag: blue}
  - name: echo
    consul: {service: echo, port_meta_key: grpc_port}
`, agent.Addr))
	if u := h.upstream(t, "library"); u.Source != "consul(library,tag=blue,dc=dc1)" || len(u.Endpoints) != 1 ||
		u.Endpoints[0].Addr != lib.Addr || u.Endpoints[0].ID != "lib" {
		t.Errorf("library upstream: %+v", u)
	}
	if u := h.upstream(t, "echo"); len(u.Endpoints) != 1 || u.Endpoints[0].Addr != echo.Addr || u.Endpoints[0].Meta["grpc_port"] != echoPort {
		t.Errorf("echo upstream: %+v", u)
	}
	for range 10 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		r := h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 200)
		jsonEq(t, r.body, `{"message":"hi","index":0}`)
	}
	if n := echo.n("/echo.v1.EchoService/Echo"); n != 10 {
		t.Errorf("echo served %d of 10 calls", n)
	}
}

// Namespaces and partitions are Consul Enterprise features, and a
// datacenter may not exist: Consul refuses such queries, and the operator
// learns why from /readyz and /admin/upstreams rather than from silence.
func TestConsulRefusedFiltersAreReported(t *testing.T) {
	agent := consultest.Start(t)
	// A passing instance that each query would find without its filter.
	lib := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "lib", Service: "library", Addr: lib.Addr})
	h := serveGateway(t, fmt.Sprintf(`
consul: {address: %q, datacenter: nowhere, wait_time: 5s}
upstreams:
  - name: by-namespace
    consul: {service: library, datacenter: dc1, namespace: team-a}
  - name: by-partition
    consul: {service: library, datacenter: dc1, partition: part-a}
  - name: elsewhere
    consul: {service: library}
`, agent.Addr))
	want := map[string]string{
		"by-namespace": `consul(library,dc=dc1,ns=team-a)`,
		"by-partition": `consul(library,dc=dc1,partition=part-a)`,
		"elsewhere":    `consul(library,dc=nowhere)`,
	}
	wantErr := map[string]string{
		"by-namespace": `discovery: consul health of "library": Unexpected response code: 400 (Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature)`,
		"by-partition": `discovery: consul health of "library": Unexpected response code: 400 (Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature)`,
		"elsewhere":    `discovery: consul health of "library": Unexpected response code: 500 (No path to datacenter)`,
	}
	eventually(t, 10*time.Second, "every upstream to report its error", func() bool {
		for name := range want {
			if h.upstream(t, name).Error == "" {
				return false
			}
		}
		return true
	})
	for name, src := range want {
		u := h.upstream(t, name)
		if u.Source != src || u.Discovery != "waiting" || u.Error != wantErr[name] || u.Since.IsZero() || len(u.Endpoints) != 0 {
			t.Errorf("%s: %+v", name, u)
		}
	}

	code, body := get(t, h.admin+"/readyz")
	var ready struct {
		Status  string   `json:"status"`
		Reasons []string `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != 503 || ready.Status != "not ready" || len(ready.Reasons) != 4 ||
		ready.Reasons[0] != "no routes yet (descriptors pending) for upstreams: by-namespace, by-partition, elsewhere" {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	for i, name := range []string{"by-namespace", "by-partition", "elsewhere"} {
		r := ready.Reasons[i+1]
		if !strings.HasPrefix(r, "upstream "+name+": "+want[name]+" failing since ") ||
			!strings.HasSuffix(r, ", no endpoint known yet: "+wantErr[name]) {
			t.Errorf("/readyz reason %d = %q", i+1, r)
		}
	}
}

// The top-level token reaches Consul (an agent that denies by default
// answers nothing without it), and passing_only: false keeps instances
// whose checks fail.
func TestConsulTokenAndPassingOnly(t *testing.T) {
	agent := consultest.StartWithACL(t, "refract-test-token")
	a := startCounted(t, examples.StartLibrary)
	b := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "a", Service: "library", Addr: a.Addr})
	agent.Register(consultest.Instance{ID: "b", Service: "library", Addr: b.Addr})
	agent.Fail("b")
	t.Setenv("CONSUL_HTTP_TOKEN", "") // only the config's token may count

	h := startGateway(t, fmt.Sprintf(`
consul: {address: %q, token: refract-test-token, wait_time: 5s}
upstreams:
  - name: library
    consul: {service: library, passing_only: false}
`, agent.Addr))
	if u := h.upstream(t, "library"); len(u.Endpoints) != 2 || u.Endpoints[0].ID == u.Endpoints[1].ID {
		t.Errorf("with passing_only: false: %+v", u.Endpoints)
	}
	for range 20 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	if na, nb := a.n("/library.v1.LibraryService/ListShelves"), b.n("/library.v1.LibraryService/ListShelves"); na == 0 || nb == 0 {
		t.Errorf("calls: %d to the passing instance, %d to the failing one; want both", na, nb)
	}

	// A token that may not read the service gets an empty list from
	// Consul, flagged as filtered by ACLs: that is said, not taken for
	// "no instance passes".
	weak, _, err := agent.Client().ACL().TokenCreate(&api.ACLToken{Description: "no policies"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h2 := serveGateway(t, fmt.Sprintf(`
consul: {address: %q, token: %s, wait_time: 5s}
upstreams:
  - name: library
    consul: {service: library}
`, agent.Addr, weak.SecretID))
	eventually(t, 10*time.Second, "the refusal", func() bool { return h2.upstream(t, "library").Error != "" })
	if u := h2.upstream(t, "library"); u.Discovery != "waiting" || len(u.Endpoints) != 0 ||
		u.Error != `discovery: consul health of "library": every instance is hidden by ACLs: the token needs service:read on it and node:read on its nodes` {
		t.Errorf("with a token that may not read the service: %+v", u)
	}
}
