package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/server"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
)

// memConfig is a config source the test sets by hand; it pushes nothing
// on its own, so reloads happen exactly when the test calls Reload.
type memConfig struct {
	mu   sync.Mutex
	data []byte
}

func (m *memConfig) set(yaml string) { m.mu.Lock(); m.data = []byte(yaml); m.mu.Unlock() }
func (m *memConfig) Read(context.Context) (configsource.Data, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return configsource.Data{Bytes: m.data, Source: "memory"}, nil
}
func (m *memConfig) Watch(ctx context.Context, _ zerolog.Logger, _ func(configsource.Data)) {
	<-ctx.Done()
}
func (m *memConfig) Close() error   { return nil }
func (m *memConfig) String() string { return "memory" }

// runServer runs a Server on src until the test ends (or stop is called).
func runServer(t *testing.T, src configsource.Source) (s *server.Server, stop func() error) {
	t.Helper()
	s, err := server.New(t.Context(), server.Options{Source: src, LogOutput: zerolog.NewTestWriter(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		s.Close()
	})
	eventually(t, 10*time.Second, "listeners open", func() bool { return s.Addr("public") != "" })
	return s, stop
}

// fetch sends one request and reads the whole answer; status 0 when the
// connection failed. The transport takes Connection: close out of the
// header (it sets resp.Close); fetch puts it back for tests to see.
func fetch(method, url, body string, hdr ...string) (int, http.Header, string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err.Error()
	}
	if resp.Close {
		resp.Header.Set("Connection", "close")
	}
	return resp.StatusCode, resp.Header, string(b)
}

func reloadStatus(t *testing.T, s *server.Server) server.ConfigStatus {
	t.Helper()
	code, _, body := fetch("GET", "http://"+s.Addr("admin")+"/admin/reload", "")
	if code != 200 {
		t.Fatalf("GET /admin/reload: %d %s", code, body)
	}
	var st server.ConfigStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// writeRename saves a file the way editors do: a new file renamed over
// the old one.
func writeRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestReloadFromWatchedFile(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	listen, admin := testkit.FreeAddr(t), testkit.FreeAddr(t)
	head := fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\n", listen, admin)
	v1 := head + libraryConfig(lib.Addr, "")
	v2 := v1 + fmt.Sprintf("  - name: echo\n    static: [%q]\n", echo.Addr)
	broken := v2 + "    balancer: fastest\n"

	path := filepath.Join(t.TempDir(), "refract.yaml")
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := runServer(t, &configsource.File{Path: path, Debounce: 50 * time.Millisecond})
	base := "http://" + listen
	eventually(t, 10*time.Second, "library routes", func() bool { c, _, _ := fetch("GET", base+"/v1/shelves", ""); return c == 200 })
	if c, _, _ := fetch("POST", base+"/echo.v1.EchoService/Echo", `{"message":"hi"}`); c != 404 {
		t.Fatalf("echo before reload: %d", c)
	}
	if st := reloadStatus(t, s); st.Version != (configsource.Data{Bytes: []byte(v1)}).Version() || st.Source != path || st.ReloadsOK != 0 {
		t.Fatalf("status at start: %+v", st)
	}

	writeRename(t, path, v2)
	eventually(t, 15*time.Second, "echo routes after the save", func() bool {
		c, _, body := fetch("POST", base+"/echo.v1.EchoService/Echo", `{"message":"hi"}`)
		return c == 200 && strings.Contains(body, `"message":"hi"`)
	})
	st := reloadStatus(t, s)
	if st.Version != (configsource.Data{Bytes: []byte(v2)}).Version() || st.ReloadsOK != 1 || st.ReloadsFailed != 0 {
		t.Fatalf("status after reload: %+v", st)
	}

	// A broken save in place: refused, counted, the old config serves on.
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the broken config counted", func() bool { return s.ConfigStatus().ReloadsFailed == 1 })
	st = reloadStatus(t, s)
	if st.Version != (configsource.Data{Bytes: []byte(v2)}).Version() || st.ReloadsOK != 1 ||
		!strings.Contains(st.LastError, `balancer: "fastest" is not round_robin`) || st.LastErrorVersion != (configsource.Data{Bytes: []byte(broken)}).Version() {
		t.Fatalf("status after a broken config: %+v", st)
	}
	if c, _, _ := fetch("POST", base+"/echo.v1.EchoService/Echo", `{"message":"hi"}`); c != 200 {
		t.Fatalf("echo after a refused reload: %d", c)
	}
	// POST /admin/reload reads it again and says why it is refused.
	c, _, body := fetch("POST", "http://"+admin+"/admin/reload", "", "X-Refract-Admin", "1")
	if c != 400 || !strings.Contains(body, `"code":9`) || !strings.Contains(body, "fastest") {
		t.Fatalf("POST /admin/reload: %d %s", c, body)
	}
	if st := s.ConfigStatus(); st.ReloadsFailed != 2 {
		t.Fatalf("failures after POST: %+v", st)
	}
}

// A Kubernetes ConfigMap volume: refract.yaml → ..data/refract.yaml, and
// an update swaps the ..data symlink to a new directory in one rename.
func TestReloadFollowsConfigMapSymlinkSwap(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	head := fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\n", testkit.FreeAddr(t), testkit.FreeAddr(t))
	v1 := head + libraryConfig(lib.Addr, "")
	v2 := v1 + fmt.Sprintf("  - name: echo\n    static: [%q]\n", echo.Addr)
	dir := t.TempDir()
	version := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "refract.yaml"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_a", v1)
	if err := os.Symlink("..data/refract.yaml", filepath.Join(dir, "refract.yaml")); err != nil {
		t.Fatal(err)
	}
	s, _ := runServer(t, &configsource.File{Path: filepath.Join(dir, "refract.yaml"), Debounce: 50 * time.Millisecond})
	version("..2026_01_01_b", v2)
	want := (configsource.Data{Bytes: []byte(v2)}).Version()
	eventually(t, 15*time.Second, "the swapped config", func() bool { return s.ConfigStatus().Version == want })
	if st := s.ConfigStatus(); st.ReloadsOK != 1 || st.ReloadsFailed != 0 {
		t.Fatalf("status: %+v", st)
	}
}

// Moving the public and admin listeners: the new ones open before the old
// ones close, and a request in flight on the old listener finishes.
func TestReloadMovesListenersWithoutDroppingRequests(t *testing.T) {
	g := testkit.NewHold(1000)
	defer g.Release()
	lib := startLibrary(t, grpc.UnaryInterceptor(g.Interceptor))
	listen1, admin1, listen2, admin2 := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	src := &memConfig{}
	src.set(fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\n", listen1, admin1) + libraryConfig(lib.Addr, ""))
	s, _ := runServer(t, src)
	eventually(t, 10*time.Second, "routes", func() bool { c, _, _ := fetch("GET", "http://"+listen1+"/v1/shelves", ""); return c == 200 })

	type result struct {
		code int
		body string
	}
	held := make(chan result, 1)
	go func() {
		c, _, body := fetch("GET", "http://"+listen1+"/v1/shelves/1", "", "Grpc-Metadata-X-Hold", "1")
		held <- result{c, body}
	}()
	<-g.Arrived

	src.set(fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\n", listen2, admin2) + libraryConfig(lib.Addr, ""))
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.Addr("public") != listen2 || s.Addr("admin") != admin2 {
		t.Fatalf("listeners at %s and %s", s.Addr("public"), s.Addr("admin"))
	}
	if c, _, body := fetch("GET", "http://"+listen2+"/v1/shelves/1", ""); c != 200 || !strings.Contains(body, `"name":"shelves/1"`) {
		t.Fatalf("new listener: %d %s", c, body)
	}
	if st := reloadStatus(t, s); st.ReloadsOK != 1 {
		t.Fatalf("status on the new admin listener: %+v", st)
	}
	eventually(t, 10*time.Second, "the old listener closed", func() bool {
		c, err := net.Dial("tcp", listen1)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	g.Release()
	if r := <-held; r.code != 200 || !strings.Contains(r.body, `"name":"shelves/1"`) {
		t.Fatalf("request in flight across the reload: %d %s", r.code, r.body)
	}

	// A product's own listener is opened by a reload, then moved.
	echo := startEcho(t, "127.0.0.1:0")
	product1, product2 := testkit.FreeAddr(t), testkit.FreeAddr(t)
	withProduct := func(listen string) string {
		return fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\nproducts: [{name: internal, listen: %q, upstreams: [echo]}]\n", listen2, admin2, listen) +
			libraryConfig(lib.Addr, fmt.Sprintf("  - name: echo\n    static: [%q]\n", echo.Addr))
	}
	for _, addr := range []string{product1, product2} {
		src.set(withProduct(addr))
		if err := s.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := s.Gateway().ProductAddr("internal"); got != addr {
			t.Fatalf("product listener at %q, want %s", got, addr)
		}
		if c, _, body := fetch("POST", "http://"+addr+"/echo.v1.EchoService/Echo", `{"message":"p"}`, "Content-Type", "application/json"); c != 200 {
			t.Fatalf("product listener %s: %d %s", addr, c, body)
		}
	}
	eventually(t, 10*time.Second, "the old product listener closed", func() bool {
		c, err := net.Dial("tcp", product1)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// A reload whose required upstream never gets descriptors is refused
// after reload.ready_timeout: routes never vanish.
func TestReloadWaitsForDescriptorsThenRefuses(t *testing.T) {
	lib := startLibrary(t)
	head := fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\nreload: {ready_timeout: 300ms}\n", testkit.FreeAddr(t), testkit.FreeAddr(t))
	src := &memConfig{}
	src.set(head + libraryConfig(lib.Addr, ""))
	s, _ := runServer(t, src)
	base := "http://" + s.Addr("public")
	eventually(t, 10*time.Second, "routes", func() bool { c, _, _ := fetch("GET", base+"/v1/shelves", ""); return c == 200 })

	src.set(head + libraryConfig(testkit.FreeAddr(t), "")) // the library moved to where nothing listens
	err := s.Reload(t.Context())
	if err == nil || !strings.Contains(err.Error(), "reload.ready_timeout (300ms) passed") || !strings.Contains(err.Error(), "[library]") {
		t.Fatalf("Reload: %v", err)
	}
	if c, _, _ := fetch("GET", base+"/v1/shelves", ""); c != 200 {
		t.Fatalf("after the refused reload: %d", c)
	}
	if st := s.ConfigStatus(); st.ReloadsFailed != 1 || st.ReloadsOK != 0 {
		t.Fatalf("status: %+v", st)
	}
}

// The drain: /readyz turns 503 at once, requests are still served (with
// Connection: close) until the drain period ends, then the shutdown lets
// a request in flight finish and ends streams with a clean error.
func TestDrainKeepsServingThenShutsDownGracefully(t *testing.T) {
	g := testkit.NewHold(1000)
	defer g.Release()
	lib := startLibrary(t, grpc.UnaryInterceptor(g.Interceptor))
	echo := startEcho(t, "127.0.0.1:0")
	src := &memConfig{}
	src.set(fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 1h\nshutdown_timeout: 30s\n", testkit.FreeAddr(t), testkit.FreeAddr(t)) +
		libraryConfig(lib.Addr, fmt.Sprintf("  - name: echo\n    static: [%q]\n", echo.Addr)))
	s, stop := runServer(t, src)
	base, admin := "http://"+s.Addr("public"), "http://"+s.Addr("admin")
	eventually(t, 10*time.Second, "ready", func() bool { c, _, _ := fetch("GET", admin+"/readyz", ""); return c == 200 })

	held := make(chan int, 1)
	go func() {
		c, _, _ := fetch("GET", base+"/v1/shelves/1", "", "Grpc-Metadata-X-Hold", "1")
		held <- c
	}()
	<-g.Arrived
	req, _ := http.NewRequest("POST", base+"/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"a","count":2,"intervalMs":10000}`))
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	readEvent(t, br)

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	eventually(t, 10*time.Second, "/readyz 503 draining", func() bool {
		c, _, body := fetch("GET", admin+"/readyz", "")
		return c == 503 && strings.Contains(body, "draining")
	})
	c, hdr, body := fetch("GET", base+"/v1/shelves/1", "")
	if c != 200 || !strings.Contains(body, `"name":"shelves/1"`) || hdr.Get("Connection") != "close" {
		t.Fatalf("during the drain: %d %v %s", c, hdr, body)
	}
	if c, _, body := fetch("POST", admin+"/admin/reload", "", "X-Refract-Admin", "1"); c != 503 || !strings.Contains(body, `"code":14`) {
		t.Fatalf("reload while draining: %d %s", c, body)
	}

	s.EndDrain()
	if got := readEvent(t, br); got != "event: error\n"+`data: {"code":14,"message":"the gateway is shutting down; open the stream again","details":[]}` {
		t.Fatalf("stream at shutdown: %q", got)
	}
	eventually(t, 10*time.Second, "the listener closed", func() bool {
		conn, err := net.Dial("tcp", s.Addr("public"))
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned with a request in flight: %v", err)
	default:
	}
	g.Release()
	if c := <-held; c != 200 {
		t.Fatalf("request in flight at shutdown: %d", c)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TLS switched on by a reload, on the listener already open: the port is
// kept, new connections speak TLS (HTTP/2 by ALPN), and a new certificate
// is read on each reload.
func TestReloadSwitchesTLSOnTheSameListener(t *testing.T) {
	pki := newTestPKI(t)
	lib := startLibrary(t)
	head := fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\n", testkit.FreeAddr(t), testkit.FreeAddr(t))
	src := &memConfig{}
	src.set(head + libraryConfig(lib.Addr, ""))
	s, _ := runServer(t, src)
	addr := s.Addr("public")
	eventually(t, 10*time.Second, "routes", func() bool { c, _, _ := fetch("GET", "http://"+addr+"/v1/shelves/1", ""); return c == 200 })

	src.set(head + fmt.Sprintf("tls: {cert: %s, key: %s}\n", pki.serverCert, pki.serverKey) + libraryConfig(lib.Addr, ""))
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.Addr("public") != addr {
		t.Fatalf("listener moved from %s to %s", addr, s.Addr("public"))
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pki.pool, ServerName: "library.internal"},
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/v1/shelves/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("TLS after reload: status %d over %s", resp.StatusCode, resp.Proto)
	}

	// A certificate that cannot be read refuses the reload; TLS stays.
	src.set(head + "tls: {cert: /nonexistent.pem, key: /nonexistent-key.pem}\n" + libraryConfig(lib.Addr, ""))
	if err := s.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "config: tls: open /nonexistent.pem") {
		t.Fatalf("Reload with a missing certificate: %v", err)
	}
	client.CloseIdleConnections()
	if resp, err = client.Get("https://" + addr + "/v1/shelves/1"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("TLS after a refused reload: %d", resp.StatusCode)
	}
}

// A reload keeps serving the upstreams auto-exposed from Consul: the new
// gateway takes over once it has discovered and reflected them again.
func TestReloadKeepsAutoExposedRoutes(t *testing.T) {
	agent := consultest.Start(t)
	lib := startLibrary(t)
	agent.Register(consultest.Instance{ID: "lib", Service: "library", Addr: lib.Addr, Tags: []string{"refract"}})
	config := func(timeout string) string {
		return fmt.Sprintf(`listen: %s
admin: %s
drain_period: 0s
consul:
  address: %q
  wait_time: 5s
  auto_expose:
    tag: refract
    upstream: {timeout: %s}
`, "127.0.0.1:0", "localhost:0", agent.Addr, timeout)
	}
	src := &memConfig{}
	src.set(config("5s"))
	s, _ := runServer(t, src)
	base := "http://" + s.Addr("public")
	eventually(t, 15*time.Second, "the auto-exposed library", func() bool { c, _, _ := fetch("GET", base+"/v1/shelves", ""); return c == 200 })

	src.set(config("4s"))
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c, _, body := fetch("GET", base+"/v1/shelves", ""); c != 200 {
		t.Fatalf("right after the reload: %d %s", c, body)
	}
	if st := s.ConfigStatus(); st.ReloadsOK != 1 {
		t.Fatalf("status: %+v", st)
	}
}

// Streams open on a replaced gateway (a reload that changes what the
// running one cannot take, here the log level) run on until the old
// config's shutdown_timeout, then end with a clean error; a stop ends them
// at once rather than waiting for that grace. (A reload the running
// gateway takes leaves them alone: TestUpdateChangingOneRouteKeepsEverythingElse.)
func TestReloadEndsStreamsOfTheOldConfig(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	openStream := func(t *testing.T, base string) *bufio.Reader {
		req, _ := http.NewRequest("POST", base+"/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"a","count":3,"intervalMs":10000}`))
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		br := bufio.NewReader(resp.Body)
		readEvent(t, br)
		return br
	}
	serve := func(t *testing.T, grace string) (*server.Server, *memConfig, func() error) {
		src := &memConfig{}
		src.set(fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\nshutdown_timeout: %s\n", testkit.FreeAddr(t), testkit.FreeAddr(t), grace) + echoConfig(echo.Addr, ""))
		s, stop := runServer(t, src)
		if err := s.WaitReady(withTimeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		return s, src, stop
	}

	t.Run("after the old config's grace", func(t *testing.T) {
		s, src, _ := serve(t, "200ms")
		br := openStream(t, "http://"+s.Addr("public"))
		src.set(strings.Replace(string(src.data), "200ms", "1h", 1) + "log: {level: warn}\n")
		if err := s.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := readEvent(t, br); got != "event: error\n"+`data: {"code":14,"message":"the gateway reloaded its config; open the stream again","details":[]}` {
			t.Fatalf("stream of the old config: %q", got)
		}
	})
	t.Run("at once on stop", func(t *testing.T) {
		s, src, stop := serve(t, "1h")
		br := openStream(t, "http://"+s.Addr("public"))
		src.set(strings.Replace(string(src.data), "drain_period: 0s", "drain_period: 0ms", 1))
		if err := s.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := stop(); err != nil { // would wait the old config's hour
			t.Fatal(err)
		}
		if got := readEvent(t, br); got != "event: error\n"+`data: {"code":14,"message":"the gateway is shutting down; open the stream again","details":[]}` {
			t.Fatalf("stream of the old config at stop: %q", got)
		}
	})
}

// A reload that builds a new gateway (the log level changes) keeps the
// server's one registry: the reload series and the config version read
// across generations.
func TestReloadMetricsAcrossGenerations(t *testing.T) {
	lib := startLibrary(t)
	head := fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\n", testkit.FreeAddr(t), testkit.FreeAddr(t))
	src := &memConfig{}
	v1 := head + libraryConfig(lib.Addr, "")
	src.set(v1)
	s, _ := runServer(t, src)
	h := &harness{admin: "http://" + s.Addr("admin")}
	check := func(ok, failed float64, version string) {
		t.Helper()
		m := scrapeMetrics(t, h)
		if got := m.value("refract_config_reloads_total", "result=ok"); got != ok {
			t.Errorf("reloads ok = %v, want %v", got, ok)
		}
		if got := m.value("refract_config_reloads_total", "result=failed"); got != failed {
			t.Errorf("reloads failed = %v, want %v", got, failed)
		}
		if got := m.labelValues("refract_config_info", "version"); strings.Join(got, ",") != version {
			t.Errorf("config_info versions %v, want %s", got, version)
		}
	}
	check(0, 0, (configsource.Data{Bytes: []byte(v1)}).Version())

	src.set("upstreams: [")
	if err := s.Reload(t.Context()); err == nil {
		t.Fatal("a broken config was accepted")
	}
	check(0, 1, (configsource.Data{Bytes: []byte(v1)}).Version())

	v2 := v1 + "log: {level: warn}\n"
	src.set(v2)
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	check(1, 1, (configsource.Data{Bytes: []byte(v2)}).Version())
}
