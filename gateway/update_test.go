package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// countingBackend is an example backend that counts the connections
// opened to it (each a dial by the gateway) and the reflection streams
// (each a descriptor fetch), and fails a method on demand.
type countingBackend struct {
	*examples.Backend
	conns, fetches atomic.Int64
	mu             sync.Mutex
	failing        map[string]bool // method name → answer UNAVAILABLE
	calls          map[string]int
}

func startCounting(t *testing.T, start func(string, ...grpc.ServerOption) (*examples.Backend, error)) *countingBackend {
	t.Helper()
	c := &countingBackend{failing: map[string]bool{}, calls: map[string]int{}}
	b, err := start("127.0.0.1:0", grpc.StatsHandler(connCounter{&c.conns}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if strings.HasSuffix(info.FullMethod, "/ServerReflectionInfo") {
				c.fetches.Add(1)
			}
			return h(srv, ss)
		}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			m := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
			c.mu.Lock()
			c.calls[m]++
			fail := c.failing[m]
			c.mu.Unlock()
			if fail {
				return nil, status.Errorf(codes.Unavailable, "injected failure of %s", m)
			}
			return h(ctx, req)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	c.Backend = b
	return c
}

func (c *countingBackend) fail(method string) { c.mu.Lock(); c.failing[method] = true; c.mu.Unlock() }
func (c *countingBackend) n(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

// connCounter counts the transport connections a gRPC server accepts.
type connCounter struct{ n *atomic.Int64 }

func (c connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c connCounter) HandleRPC(context.Context, stats.RPCStats)                         {}
func (c connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnBegin); ok {
		c.n.Add(1)
	}
}

// updateConfig is the config of the reload tests: the library with a
// per-method breaker, a rate limit on ListShelves and a timeout on
// ListBooks, and the echo backend with extra upstream keys.
func updateConfig(head, lib, echo, booksTimeout, echoExtra string) string {
	return head + fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    policies:
      breaker: {failures: 2, open_for: 1h, per_method: true}
    routes:
      - match: library.v1.LibraryService.ListShelves
        policies:
          rate_limits: [{name: shelves, key: route, rate: 2, per: 1h}]
      - match: library.v1.LibraryService.ListBooks
        policies:
          timeout: %s
  - name: echo
    static: [%q]
%s`, lib, booksTimeout, echo, echoExtra)
}

// updateStack is a server with the library and echo backends, both
// counted, serving updateConfig.
type updateStack struct {
	s         *server.Server
	src       *memConfig
	h         *harness
	lib, echo *countingBackend
	head      string
}

func startUpdateStack(t *testing.T, booksTimeout, echoExtra string) *updateStack {
	t.Helper()
	st := &updateStack{src: &memConfig{},
		lib:  startCounting(t, examples.StartLibrary),
		echo: startCounting(t, examples.StartEcho),
		head: fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\n", testkit.FreeAddr(t), testkit.FreeAddr(t))}
	st.set(booksTimeout, echoExtra)
	st.s, _ = runServer(t, st.src)
	if err := st.s.WaitReady(withTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	st.h = &harness{srv: st.s, gw: st.s.Gateway(), base: "http://" + st.s.Addr("public"), admin: "http://" + st.s.Addr("admin")}
	return st
}

func (st *updateStack) set(booksTimeout, echoExtra string) {
	st.src.set(updateConfig(st.head, st.lib.Addr, st.echo.Addr, booksTimeout, echoExtra))
}

// counts are what a reload must leave alone, read at one moment.
type counts struct {
	libConns, libFetches, echoConns, echoFetches int64
	getBook200, shelves429                       float64
	uptime                                       float64
}

func (st *updateStack) counts(t *testing.T) counts {
	t.Helper()
	m := scrapeMetrics(t, st.h)
	return counts{
		libConns: st.lib.conns.Load(), libFetches: st.lib.fetches.Load(),
		echoConns: st.echo.conns.Load(), echoFetches: st.echo.fetches.Load(),
		getBook200: m.value("refract_http_requests_total", "route=/v1/{name=shelves/*/books/*}", "method=GET", "code=200"),
		shelves429: m.value("refract_http_requests_total", "route=/v1/shelves", "method=GET", "code=429"),
		uptime:     adminStats(t, st.h).UptimeSeconds,
	}
}

func adminStats(t *testing.T, h *harness) telemetry.Stats {
	t.Helper()
	resp, err := http.Get(h.admin + "/admin/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s telemetry.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// exhaust spends the ListShelves bucket, opens GetShelf's breaker and
// answers GetBook three times.
func (st *updateStack) exhaust(t *testing.T) {
	t.Helper()
	h := st.h
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves", "").expect(t, 429)
	st.lib.fail("GetShelf")
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	st.expectProtected(t)
	for range 3 {
		h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	}
}

// expectProtected checks that the bucket is still spent and the breaker
// still open (the backend is not called).
func (st *updateStack) expectProtected(t *testing.T) {
	t.Helper()
	r := st.h.do(t, "GET", "/v1/shelves", "").expect(t, 429)
	if !strings.Contains(string(r.body), "rate limit shelves exceeded") {
		t.Fatalf("spent bucket answered %s", r.body)
	}
	before := st.lib.n("GetShelf")
	r = st.h.do(t, "GET", "/v1/shelves/1", "").expect(t, 503)
	if !strings.Contains(string(r.body), "circuit breaker for upstream \\\"library\\\" method library.v1.LibraryService.GetShelf is open") {
		t.Fatalf("open breaker answered %s", r.body)
	}
	if st.lib.n("GetShelf") != before {
		t.Fatal("the open breaker let a call through")
	}
	// One breaker per name (a reload makes no second one), GetShelf's open.
	resp, err := http.Get(st.h.admin + "/admin/breakers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Breakers []struct{ Name, State string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, b := range got.Breakers {
		if _, dup := states[b.Name]; dup {
			t.Fatalf("two breakers named %s", b.Name)
		}
		states[b.Name] = b.State
	}
	if s := states[`upstream "library" method library.v1.LibraryService.GetShelf`]; s != "open" || len(states) != 15 {
		t.Fatalf("GetShelf's breaker is %q among %d: %+v", s, len(states), got.Breakers)
	}
}

// openExpand opens a server stream on echo that sends 3 messages, one
// every interval, and reads the first.
func openExpand(t *testing.T, h *harness, interval time.Duration) *bufio.Reader {
	t.Helper()
	resp := h.open(t, "POST", "/echo.v1.EchoService/Expand",
		strings.NewReader(fmt.Sprintf(`{"text":"a","count":3,"intervalMs":%d}`, interval.Milliseconds())), "Accept", "text/event-stream")
	if resp.StatusCode != 200 {
		t.Fatalf("Expand: %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if got := readEvent(t, br); !strings.Contains(got, `"message":"a"`) {
		t.Fatalf("first message %q", got)
	}
	return br
}

// A reload that changes one route's timeout rebuilds nothing else: no
// dial, no descriptor fetch; the open breaker stays open, the spent
// bucket spent, the request counters and the uptime carry on, the gateway
// is the same, and a stream open on an unchanged route runs to its end.
func TestUpdateChangingOneRouteKeepsEverythingElse(t *testing.T) {
	st := startUpdateStack(t, "5s", "")
	st.exhaust(t)
	br := openExpand(t, st.h, 300*time.Millisecond)
	before := st.counts(t)
	gw := st.s.Gateway()

	st.set("6s", "")
	if err := st.s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st.s.Gateway() != gw {
		t.Fatal("the reload built a new gateway")
	}
	if got := st.s.Config().Upstreams[0].Routes[1].Policies.Timeout; time.Duration(got) != 6*time.Second {
		t.Fatalf("the running config's timeout is %v", time.Duration(got))
	}
	st.expectProtected(t)
	st.h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	after := st.counts(t)
	if after.libConns != before.libConns || after.echoConns != before.echoConns {
		t.Errorf("dials: library %d → %d, echo %d → %d", before.libConns, after.libConns, before.echoConns, after.echoConns)
	}
	if after.libFetches != before.libFetches || after.echoFetches != before.echoFetches {
		t.Errorf("descriptor fetches: library %d → %d, echo %d → %d", before.libFetches, after.libFetches, before.echoFetches, after.echoFetches)
	}
	if before.getBook200 != 3 || after.getBook200 != 4 {
		t.Errorf("GetBook 200s: %v before the reload, %v after one more (want 3, 4)", before.getBook200, after.getBook200)
	}
	if after.shelves429 != before.shelves429+1 {
		t.Errorf("ListShelves 429s: %v → %v", before.shelves429, after.shelves429)
	}
	if after.uptime <= before.uptime {
		t.Errorf("uptime went from %v to %v", before.uptime, after.uptime)
	}
	if v := adminStats(t, st.h).ConfigVersion; v != st.s.ConfigStatus().Version {
		t.Errorf("stats show config version %q, the server runs %q", v, st.s.ConfigStatus().Version)
	}
	// The stream opened before the reload delivers the rest and ends well.
	for i := 2; i <= 3; i++ {
		if got := readEvent(t, br); !strings.Contains(got, `"message":"a"`) || strings.Contains(got, "error") {
			t.Fatalf("message %d after the reload: %q", i, got)
		}
	}
}

// Reloading the very same bytes changes nothing observable.
func TestUpdateWithIdenticalBytesChangesNothing(t *testing.T) {
	st := startUpdateStack(t, "5s", "")
	st.exhaust(t)
	before := st.counts(t)
	routes := st.s.Gateway().Routes()
	// As an operator would: POST /admin/reload, the same bytes.
	if code, _, body := fetch("POST", st.h.admin+"/admin/reload", "", "X-Refract-Admin", "1"); code != 200 {
		t.Fatalf("POST /admin/reload: %d %s", code, body)
	}
	if st.s.ConfigStatus().ReloadsOK != 1 {
		t.Fatalf("status after the reload: %+v", st.s.ConfigStatus())
	}
	after := st.counts(t)
	if after.libConns != before.libConns || after.libFetches != before.libFetches ||
		after.echoConns != before.echoConns || after.echoFetches != before.echoFetches ||
		after.getBook200 != before.getBook200 || after.shelves429 != before.shelves429 {
		t.Errorf("counts before %+v, after %+v", before, after)
	}
	if after.uptime <= before.uptime {
		t.Errorf("uptime went from %v to %v", before.uptime, after.uptime)
	}
	if got := st.s.Gateway().Routes(); len(got) != len(routes) {
		t.Errorf("%d routes before, %d after", len(routes), len(got))
	}
	st.expectProtected(t)
}

// A reload that changes one upstream dials and reflects that one alone;
// its routes are served throughout.
func TestUpdateRebuildsTheChangedUpstreamAlone(t *testing.T) {
	st := startUpdateStack(t, "5s", "")
	st.exhaust(t)
	before := st.counts(t)
	// A change whose new connections never answer is refused, and changes
	// nothing.
	dead := strings.Replace(updateConfig(st.head, st.lib.Addr, testkit.FreeAddr(t), "5s", ""), "drain_period: 0s\n", "drain_period: 0s\nreload: {ready_timeout: 300ms}\n", 1)
	st.src.set(dead)
	if err := st.s.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "[echo]") {
		t.Fatalf("Reload to a dead echo: %v", err)
	}
	if got := st.counts(t); got.libConns != before.libConns || got.echoConns != before.echoConns || got.echoFetches != before.echoFetches {
		t.Fatalf("the refused reload changed connections: before %+v, after %+v", before, got)
	}

	// Echo's routes answer while it is replaced.
	stop := make(chan struct{})
	failed := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, _, body := fetch("POST", st.h.base+"/echo.v1.EchoService/Echo", `{"message":"x"}`); c != 200 {
				select {
				case failed <- fmt.Sprintf("%d %s", c, body):
				default:
				}
			}
		}
	}()
	st.set("5s", "    timeout: 7s\n")
	err := st.s.Reload(t.Context())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-failed:
		t.Fatalf("echo during its replacement: %s", f)
	default:
	}
	r := st.h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 200)
	if !strings.Contains(string(r.body), `"hi"`) {
		t.Fatalf("echo after the reload: %s", r.body)
	}
	after := st.counts(t)
	if after.libConns != before.libConns || after.libFetches != before.libFetches {
		t.Errorf("the library was rebuilt: dials %d → %d, fetches %d → %d", before.libConns, after.libConns, before.libFetches, after.libFetches)
	}
	if after.echoConns <= before.echoConns || after.echoFetches <= before.echoFetches {
		t.Errorf("the echo upstream was not rebuilt: dials %d → %d, fetches %d → %d", before.echoConns, after.echoConns, before.echoFetches, after.echoFetches)
	}
	for _, u := range st.s.Gateway().Upstreams() {
		if u.Name == "echo" && u.Connectivity == "SHUTDOWN" {
			t.Errorf("echo's connection is shut down")
		}
	}
	st.expectProtected(t)
}

// BenchmarkReloadOneRouteOf1000 measures a reload that changes one
// route's timeout in a config of over 1,000 routes: 64 upstreams (the
// library example under 64 path prefixes, 16 routes each). Each op is
// the whole Server.Reload: read, validate, translate, apply.
func BenchmarkReloadOneRouteOf1000(b *testing.B) {
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer lib.Stop()
	cfg := func(timeout string) string {
		var sb strings.Builder
		sb.WriteString("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ndrain_period: 0s\nupstreams:\n")
		for i := range 64 {
			fmt.Fprintf(&sb, "  - name: u%d\n    static: [%q]\n    path_prefix: /u%d\n", i, lib.Addr, i)
		}
		fmt.Fprintf(&sb, "    routes: [{match: library.v1.LibraryService.ListBooks, policies: {timeout: %s}}]\n", timeout)
		return sb.String()
	}
	src := &memConfig{}
	src.set(cfg("5s"))
	log := zerolog.Nop()
	s, err := server.New(b.Context(), server.Options{Source: src, Logger: &log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done; s.Close() }()
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if err := s.WaitReady(wctx); err != nil {
		b.Fatal(err)
	}
	routes := len(s.Gateway().Routes())
	if routes < 1000 {
		b.Fatalf("%d routes", routes)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		src.set(cfg([]string{"5s", "6s"}[i%2]))
		if err := s.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(routes), "routes")
}

// A reload that needs a new gateway (here: the log level) dials and
// reflects every upstream again, but the policy state and the metrics are
// the process's: the breaker stays open, the bucket spent, the counters
// carry on.
func TestRebuildKeepsPolicyStateAndMetrics(t *testing.T) {
	st := startUpdateStack(t, "5s", "")
	st.exhaust(t)
	before := st.counts(t)
	gw := st.s.Gateway()
	st.src.set(updateConfig(st.head+"log: {level: warn}\n", st.lib.Addr, st.echo.Addr, "5s", ""))
	if err := st.s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st.s.Gateway() == gw {
		t.Fatal("a log level change was taken in place")
	}
	st.h.gw = st.s.Gateway()
	st.expectProtected(t)
	st.h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	after := st.counts(t)
	if after.libConns <= before.libConns || after.libFetches <= before.libFetches {
		t.Errorf("the new gateway did not dial and reflect: %+v → %+v", before, after)
	}
	if after.getBook200 != before.getBook200+1 || after.uptime <= before.uptime {
		t.Errorf("metrics before %+v, after %+v", before, after)
	}
}

// An upstream added by a reload serves its routes when the reload
// returns, without touching the others; one removed stops serving.
func TestUpdateAddsAndRemovesUpstreams(t *testing.T) {
	st := startUpdateStack(t, "5s", "")
	st.exhaust(t)
	before := st.counts(t)
	extra := fmt.Sprintf("  - name: second\n    static: [%q]\n    path_prefix: /second\n", st.lib.Addr)
	st.src.set(updateConfig(st.head, st.lib.Addr, st.echo.Addr, "5s", "") + extra)
	if err := st.s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.h.do(t, "GET", "/second/v1/shelves", "").expect(t, 200)
	after := st.counts(t)
	// The new upstream dials the library's backend once more and reflects
	// it (once to be accepted, once into the gateway's cache); the library
	// and echo upstreams are not touched.
	if after.libConns <= before.libConns || after.echoConns != before.echoConns || after.echoFetches != before.echoFetches {
		t.Errorf("counts before %+v, after %+v", before, after)
	}
	st.expectProtected(t)

	st.set("5s", "")
	if err := st.s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.h.do(t, "GET", "/second/v1/shelves", "").expect(t, 404)
	st.h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	for _, u := range st.s.Gateway().Upstreams() {
		if u.Name == "second" {
			t.Fatal("the removed upstream is still listed")
		}
	}
}
