package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
	"google.golang.org/grpc"
)

// counted is a backend that counts the calls it serves, by method.
type counted struct {
	*examples.Backend
	mu    sync.Mutex
	calls map[string]int
}

func (c *counted) n(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if method == "" {
		total := 0
		for _, n := range c.calls {
			total += n
		}
		return total
	}
	return c.calls[method]
}

// startCounted starts a backend with start (examples.StartLibrary …) that
// counts the calls other than reflection and health.
func startCounted(t *testing.T, start func(string, ...grpc.ServerOption) (*examples.Backend, error)) *counted {
	t.Helper()
	c := &counted{calls: map[string]int{}}
	b, err := start("127.0.0.1:0", grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		c.mu.Lock()
		c.calls[info.FullMethod]++
		c.mu.Unlock()
		return h(ctx, req)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	c.Backend = b
	return c
}

func consulConfig(agent *consultest.Agent, rest string) string {
	return fmt.Sprintf("consul: {address: %q, wait_time: 5s}\nreflection: {refresh_interval: 1h}\n%s", agent.Addr, rest)
}

const libraryViaConsul = `
upstreams:
  - name: library
    consul: {service: library}
`

func (h *harness) upstream(t *testing.T, name string) gateway.UpstreamInfo {
	t.Helper()
	for _, u := range h.gw.Upstreams() {
		if u.Name == name {
			return u
		}
	}
	return gateway.UpstreamInfo{}
}

func TestConsulSpreadsLoadAndFollowsHealth(t *testing.T) {
	agent := consultest.Start(t)
	var bs []*counted
	for i := range 3 {
		b := startCounted(t, examples.StartLibrary)
		bs = append(bs, b)
		// Consul's own gRPC health check of the instance decides whether
		// it passes.
		agent.Register(consultest.Instance{ID: fmt.Sprint("lib", i), Service: "library", Addr: b.Addr, GRPCCheck: true})
	}
	h := startGateway(t, consulConfig(agent, libraryViaConsul))
	eventually(t, 10*time.Second, "three endpoints", func() bool { return len(h.upstream(t, "library").Endpoints) == 3 })

	const list = "/library.v1.LibraryService/ListShelves"
	for range 300 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	t.Logf("ListShelves calls served of 300: %d, %d, %d", bs[0].n(list), bs[1].n(list), bs[2].n(list))
	for i, b := range bs {
		// round_robin gives 100 each once all are connected; the bounds
		// leave room for the calls made while connections came up.
		if n := b.n(list); n < 60 || n > 141 {
			t.Errorf("backend %d served %d of 300 (want 20-47%%)", i, n)
		}
	}

	admin := func() gateway.UpstreamInfo {
		t.Helper()
		code, body := get(t, h.admin+"/admin/upstreams")
		var got []gateway.UpstreamInfo
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || len(got) != 1 {
			t.Fatalf("/admin/upstreams %d %v %s", code, err, body)
		}
		return got[0]
	}
	info := admin()
	if info.Balancer != "round_robin" || info.HealthCheck || info.Connectivity != "READY" || info.ConsulIndex == 0 || info.Discovery != "ok" {
		t.Errorf("/admin/upstreams: %+v", info)
	}
	indexBefore := info.ConsulIndex

	// A failing check takes an instance out; requests keep succeeding
	// while it leaves, and none reaches it afterwards.
	stopLoad := make(chan struct{})
	var failed atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopLoad:
				return
			default:
			}
			resp, err := http.Get(h.base + "/v1/shelves")
			if err != nil || resp.StatusCode != 200 {
				failed.Add(1)
			}
			if resp != nil {
				// Read to the end, so the connection is reused rather than
				// a new one dialled per request.
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	// quiet is one window of requests in which b got none, counting the
	// background load's requests too: round_robin over a set that still
	// held b would give it some.
	quiet := func(b *counted) func() bool {
		return func() bool {
			before := b.n(list)
			for range 10 {
				h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
			}
			return b.n(list) == before
		}
	}
	// lib1 fails its check (it says NOT_SERVING; the gateway does not
	// health-check here, Consul does): within 5 s it gets no new request.
	bs[1].SetServing(false)
	eventually(t, 5*time.Second, "lib1 to get no new requests", quiet(bs[1]))
	if u := h.upstream(t, "library"); len(u.Endpoints) != 2 || u.Endpoints[0].ID == "lib1" || u.Endpoints[1].ID == "lib1" {
		t.Errorf("endpoints after lib1 failed: %+v", u.Endpoints)
	}
	before := bs[1].n(list)
	if info := admin(); info.ConsulIndex <= indexBefore {
		t.Errorf("consul_index %d after a change, was %d", info.ConsulIndex, indexBefore)
	}
	for range 60 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	if got := bs[1].n(list); got != before {
		t.Errorf("failing instance got %d new requests", got-before)
	}

	// Deregistered and then stopped, as a deploy does it: within 5 s it
	// gets no new request, so stopping it fails none.
	agent.Deregister("lib2")
	eventually(t, 5*time.Second, "lib2 to get no new requests", quiet(bs[2]))
	if u := h.upstream(t, "library"); len(u.Endpoints) != 1 || u.Endpoints[0].ID != "lib0" {
		t.Errorf("endpoints after lib2 left: %+v", u.Endpoints)
	}
	bs[2].Stop()
	for range 30 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	close(stopLoad)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d requests failed while instances left", n)
	}

	// No passing instance: 503 saying so.
	bs[0].SetServing(false)
	eventually(t, 5*time.Second, "an empty set", func() bool { return len(h.upstream(t, "library").Endpoints) == 0 })
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	jsonEq(t, r.body, `{"code":14,"message":"upstream \"library\" unavailable: consul(library) reports no healthy endpoint","details":[]}`)
}

func TestConsulRollingDeployWithANewMethod(t *testing.T) {
	agent := consultest.Start(t)
	v1a := startCounted(t, examples.StartLibrary)
	v1b := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "v1a", Service: "library", Addr: v1a.Addr})
	agent.Register(consultest.Instance{ID: "v1b", Service: "library", Addr: v1b.Addr})
	h := startGateway(t, consulConfig(agent, libraryViaConsul))
	const version = "/library.v1.LibraryService/GetServerVersion"
	h.do(t, "POST", version, `{}`).expect(t, 404)

	v2 := startCounted(t, examples.StartLibraryV2)
	agent.Register(consultest.Instance{ID: "v2", Service: "library", Addr: v2.Addr})
	eventually(t, 10*time.Second, "the v2 method routable", func() bool {
		return h.do(t, "POST", version, `{}`).status == 200
	})
	for range 30 {
		r := h.do(t, "POST", version, `{}`).expect(t, 200)
		jsonEq(t, r.body, `"v2"`)
	}
	if v1a.n(version)+v1b.n(version) != 0 {
		t.Errorf("v1 instances got the v2-only method: %d, %d", v1a.n(version), v1b.n(version))
	}
	// Methods every instance has still go to all of them.
	const list = "/library.v1.LibraryService/ListShelves"
	for range 60 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	for name, b := range map[string]*counted{"v1a": v1a, "v1b": v1b, "v2": v2} {
		if b.n(list) == 0 {
			t.Errorf("%s got none of the shared method's calls", name)
		}
	}

	// The admin API shows the split and the restricted route, once both
	// old instances' own reflections are in (each is reflected on its own,
	// and one may still be fetching on a busy machine).
	eventually(t, 30*time.Second, "both old instances in the split", func() bool {
		u := h.upstream(t, "library")
		return len(u.Schemas) == 2 && len(u.Schemas[1].Endpoints) == 2
	})
	u := h.upstream(t, "library")
	if len(u.Schemas) != 2 || !u.Schemas[0].Primary || strings.Join(u.Schemas[0].Endpoints, ",") != v2.Addr ||
		len(u.Schemas[1].Endpoints) != 2 || u.Schemas[0].Methods != u.Schemas[1].Methods+1 {
		b, _ := json.Marshal(u.Schemas)
		t.Fatalf("schemas = %s", b)
	}
	var restricted []string
	for _, r := range h.gw.Routes() {
		if len(r.RestrictedTo) > 0 {
			restricted = append(restricted, r.GRPCMethod+"→"+strings.Join(r.RestrictedTo, ","))
		}
	}
	if want := "library.v1.LibraryService.GetServerVersion→" + u.Schemas[0].Hash; strings.Join(restricted, " ") != want {
		t.Errorf("restricted routes = %v, want %s", restricted, want)
	}

	// The old instances leave: the split ends, the method stays.
	agent.Deregister("v1a")
	agent.Deregister("v1b")
	eventually(t, 10*time.Second, "the split to end", func() bool {
		u := h.upstream(t, "library")
		return len(u.Schemas) == 0 && len(u.Endpoints) == 1
	})
	eventually(t, 10*time.Second, "routes from v2 alone", func() bool {
		return h.do(t, "POST", version, `{}`).status == 200 && len(h.upstream(t, "library").Schemas) == 0
	})
	for _, r := range h.gw.Routes() {
		if len(r.RestrictedTo) > 0 {
			t.Errorf("still restricted after the split: %+v", r)
		}
	}
}

func TestConsulSchemaFromServiceMeta(t *testing.T) {
	agent := consultest.Start(t)
	a := startCounted(t, examples.StartLibrary)
	b := startCounted(t, examples.StartLibrary)
	c := startCounted(t, examples.StartLibraryV2)
	// a and b say they run the same build: one reflection serves both.
	agent.Register(consultest.Instance{ID: "a", Service: "library", Addr: a.Addr, Meta: map[string]string{"schema_hash": "build-1"}})
	agent.Register(consultest.Instance{ID: "b", Service: "library", Addr: b.Addr, Meta: map[string]string{"schema_hash": "build-1"}})
	agent.Register(consultest.Instance{ID: "c", Service: "library", Addr: c.Addr, Meta: map[string]string{"schema_hash": "build-2"}})
	h := startGateway(t, consulConfig(agent, libraryViaConsul))
	eventually(t, 10*time.Second, "the split", func() bool { return len(h.upstream(t, "library").Schemas) == 2 })
	var entries []string
	for _, s := range h.gw.Cache().Stats() {
		entries = append(entries, s.Upstream)
	}
	if got := strings.Join(entries, " "); got != "library library@build-1 library@build-2" {
		t.Errorf("descriptor cache entries = %s", got)
	}
	eventually(t, 10*time.Second, "the v2 method", func() bool {
		return h.do(t, "POST", "/library.v1.LibraryService/GetServerVersion", `{}`).status == 200
	})
	if n := a.n("/library.v1.LibraryService/GetServerVersion") + b.n("/library.v1.LibraryService/GetServerVersion"); n != 0 {
		t.Errorf("build-1 instances got %d calls of the build-2 method", n)
	}
}

func TestConsulAgentDownKeepsServing(t *testing.T) {
	agent := consultest.Start(t)
	first := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "first", Service: "library", Addr: first.Addr})
	h := startGateway(t, consulConfig(agent, libraryViaConsul))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)

	agent.Stop()
	eventually(t, 10*time.Second, "discovery to be stale", func() bool { return h.upstream(t, "library").Discovery == "stale" })
	for range 20 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	resp, err := http.Get(h.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status   string
		Warnings []string
	}
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || ready.Status != "ready" || len(ready.Warnings) != 1 ||
		!strings.Contains(ready.Warnings[0], "upstream library: consul(library) failing since") ||
		!strings.Contains(ready.Warnings[0], "serving the last known 1 endpoint(s)") {
		t.Errorf("/readyz while consul is down: %d %+v", resp.StatusCode, ready)
	}

	// Consul comes back (empty: a dev agent keeps nothing) and a new
	// instance is registered: the gateway follows it.
	agent.Restart()
	eventually(t, 20*time.Second, "discovery to hear the empty agent", func() bool {
		u := h.upstream(t, "library")
		return u.Discovery == "ok" && len(u.Endpoints) == 0
	})
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	jsonEq(t, r.body, `{"code":14,"message":"upstream \"library\" unavailable: consul(library) reports no healthy endpoint","details":[]}`)
	second := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "second", Service: "library", Addr: second.Addr})
	eventually(t, 15*time.Second, "discovery to follow consul again", func() bool {
		u := h.upstream(t, "library")
		return u.Discovery == "ok" && len(u.Endpoints) == 1 && u.Endpoints[0].Addr == second.Addr
	})
	before := first.n("")
	for range 20 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	if first.n("") != before || second.n("") < 20 {
		t.Errorf("after consul came back: first got %d more, second %d", first.n("")-before, second.n(""))
	}
}

func TestConsulAutoExposure(t *testing.T) {
	agent := consultest.Start(t)
	h := serveGateway(t, fmt.Sprintf(`
consul:
  address: %q
  wait_time: 5s
  auto_expose:
    tag: refract
    upstream: {timeout: 5s}
`, agent.Addr))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 404)

	lib := startCounted(t, examples.StartLibrary)
	agent.Register(consultest.Instance{ID: "lib", Service: "library", Addr: lib.Addr, Tags: []string{"refract"}})
	echo := startCounted(t, examples.StartEcho)
	agent.Register(consultest.Instance{ID: "echo", Service: "echo", Addr: echo.Addr}) // not tagged
	eventually(t, 10*time.Second, "the library API", func() bool { return h.do(t, "GET", "/v1/shelves", "").status == 200 })
	if u := h.upstream(t, "library"); !u.Auto || u.Source != "consul(library,tag=refract)" {
		t.Errorf("auto upstream = %+v", u)
	}
	h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 404)

	agent.Deregister("lib")
	eventually(t, 10*time.Second, "the library routes to go", func() bool { return h.do(t, "GET", "/v1/shelves", "").status == 404 })
	if u := h.upstream(t, "library"); u.Name != "" {
		t.Errorf("library still an upstream: %+v", u)
	}
}

func TestHealthCheckedEndpoints(t *testing.T) {
	a := startCounted(t, examples.StartLibrary)
	b := startCounted(t, examples.StartLibrary)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q, %q]
    health_check: true
`, a.Addr, b.Addr))
	const list = "/library.v1.LibraryService/ListShelves"
	eventually(t, 10*time.Second, "both endpoints serving", func() bool {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		return a.n(list) > 0 && b.n(list) > 0
	})
	// b says it is not serving: grpc-go's health watch takes it out.
	b.SetServing(false)
	eventually(t, 10*time.Second, "b out of rotation", func() bool {
		before := b.n(list)
		for range 10 {
			h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		}
		return b.n(list) == before
	})
	b.SetServing(true)
	eventually(t, 10*time.Second, "b back", func() bool {
		before := b.n(list)
		for range 10 {
			h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		}
		return b.n(list) > before
	})
}
