package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/internal/testkit"
	"google.golang.org/grpc"
)

// These tests run refract as the operator does: a binary built from this
// package, real processes, signals, real backends and a real Consul agent.

// buildRefract builds the binary into the test's temporary directory.
func buildRefract(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "refract")
	goTool := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running refract.
type process struct {
	cmd    *exec.Cmd
	out    *testkit.SyncBuffer
	exited chan struct{}
	err    error // Wait's, once exited is closed
	listen string
	admin  string
}

// startRefract starts bin serving on free loopback ports; it is killed
// when the test ends if it is still running, and its output is shown when
// the test failed.
func startRefract(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{out: &testkit.SyncBuffer{}, exited: make(chan struct{}), listen: testkit.FreeAddr(t), admin: testkit.FreeAddr(t)}
	p.cmd = exec.Command(bin, append(args, "-listen", p.listen, "-admin", p.admin)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("refract %v output:\n%s", args, p.out.String())
		}
	})
	return p
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("refract did not exit")
	}
	if p.err != nil {
		if ee, ok := p.err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatal(p.err)
	}
	return 0
}

// call sends one request with its own connection and reads the whole
// answer; status 0 and the error when the exchange failed.
func call(client *http.Client, method, url, body string, hdr ...string) (int, string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, err.Error()
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

func configStatus(t *testing.T, p *process) server.ConfigStatus {
	t.Helper()
	var st server.ConfigStatus
	code, body := call(http.DefaultClient, "GET", "http://"+p.admin+"/admin/reload", "")
	if code != 200 {
		return st
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /admin/reload: %v: %s", err, body)
	}
	return st
}

func version(yaml string) string { return configsource.Data{Bytes: []byte(yaml)}.Version() }

// Two instances share one config in Consul KV: both serve it, both switch
// to a new valid one, both refuse a broken one (counted, the previous
// config still serving), both keep serving while Consul is down, and both
// take the next config once it is back (a restarted dev agent starts its
// indexes over, so the watch must reset its wait index).
func TestFleetSharesConfigInConsulKV(t *testing.T) {
	agent := consultest.Start(t)
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Stop()
	echo, err := examples.StartEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Stop()
	const key = "refract/fleet/config"
	put := func(yaml string) uint64 {
		t.Helper()
		kv := agent.Client().KV()
		if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte(yaml)}, nil); err != nil {
			t.Fatal(err)
		}
		pair, _, err := kv.Get(key, nil)
		if err != nil || pair == nil {
			t.Fatalf("get %s: %v", key, err)
		}
		return pair.ModifyIndex
	}
	v1 := fmt.Sprintf("drain_period: 0s\nupstreams:\n  - name: library\n    static: [%q]\n", lib.Addr)
	v2 := v1 + fmt.Sprintf("  - name: echo\n    static: [%q]\n", echo.Addr)
	broken := v2 + "    balancer: fastest\n"
	v3 := v2 + "    rules:\n      - {selector: echo.v1.EchoService.Echo, get: \"/v1/echo/{message}\"}\n"
	index1 := put(v1)

	bin := buildRefract(t)
	location := "consul://" + agent.Addr + "/" + key
	fleet := []*process{startRefract(t, bin, "-config", location), startRefract(t, bin, "-config", location)}
	each := func(what string, check func(p *process) bool) {
		t.Helper()
		for i, p := range fleet {
			testkit.Eventually(t, 30*time.Second, fmt.Sprintf("instance %d: %s", i, what), func() bool { return check(p) })
		}
	}
	echoOK := func(p *process) bool {
		code, body := call(http.DefaultClient, "POST", "http://"+p.listen+"/echo.v1.EchoService/Echo", `{"message":"hi"}`)
		return code == 200 && strings.Contains(body, `"message":"hi"`)
	}

	each("serves v1", func(p *process) bool {
		code, _ := call(http.DefaultClient, "GET", "http://"+p.listen+"/v1/shelves", "")
		st := configStatus(t, p)
		return code == 200 && st.Version == version(v1) && st.ModifyIndex == index1 && st.Source == location
	})
	for _, p := range fleet {
		if code, _ := call(http.DefaultClient, "POST", "http://"+p.listen+"/echo.v1.EchoService/Echo", `{"message":"hi"}`); code != 404 {
			t.Fatalf("echo served before it is configured: %d", code)
		}
	}

	start := time.Now()
	index2 := put(v2)
	each("switches to v2", func(p *process) bool {
		st := configStatus(t, p)
		return st.Version == version(v2) && st.ModifyIndex == index2 && st.ReloadsOK == 1 && echoOK(p)
	})
	t.Logf("both instances serve the new config %s after the put", time.Since(start).Round(time.Millisecond))

	put(broken)
	each("refuses the broken config", func(p *process) bool { return configStatus(t, p).ReloadsFailed == 1 })
	for i, p := range fleet {
		st := configStatus(t, p)
		if st.Version != version(v2) || st.ReloadsOK != 1 || st.LastErrorVersion != version(broken) ||
			!strings.Contains(st.LastError, `balancer: "fastest" is not round_robin`) || !echoOK(p) {
			t.Fatalf("instance %d after the broken config: %+v", i, st)
		}
		if !strings.Contains(p.out.String(), "config refused; the previous config keeps serving") {
			t.Fatalf("instance %d did not log the refusal", i)
		}
	}

	agent.Stop()
	for i, p := range fleet {
		if !echoOK(p) {
			t.Fatalf("instance %d stopped serving while Consul is down", i)
		}
	}
	agent.Restart()
	index3 := put(v3)
	if index3 >= index2 {
		t.Fatalf("the restarted agent did not start its indexes over (%d after %d): the test proves nothing", index3, index2)
	}
	each("switches to v3 after Consul came back", func(p *process) bool {
		code, body := call(http.DefaultClient, "GET", "http://"+p.listen+"/v1/echo/hello", "")
		st := configStatus(t, p)
		return code == 200 && strings.Contains(body, `"message":"hello"`) && st.Version == version(v3) && st.ReloadsOK == 2
	})

	for _, p := range fleet {
		p.signal(t, syscall.SIGTERM)
	}
	for i, p := range fleet {
		if code := p.wait(t); code != 0 {
			t.Fatalf("instance %d exit %d", i, code)
		}
	}
}

// SIGTERM during a load of 200 requests loses none: 100 are in flight in
// the backend when the signal arrives and 100 more arrive during the
// drain period; all get a complete 200, /readyz answers 503 during the
// drain, and the process exits 0. A second SIGTERM ends the drain period
// (so the test needs no timing); the requests held in the backend are
// released only once the listeners are closed, so they also prove that
// the graceful shutdown waits for them.
func TestSIGTERMDuringLoadLosesNoRequest(t *testing.T) {
	h := testkit.NewHold(200)
	defer h.Release()
	lib, err := examples.StartLibrary("127.0.0.1:0", grpc.UnaryInterceptor(h.Interceptor))
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Stop()
	cfg := writeConfig(t, fmt.Sprintf("drain_period: 10m\nshutdown_timeout: 1m\nlog: {level: warn}\nupstreams:\n  - name: library\n    static: [%q]\n", lib.Addr))
	p := startRefract(t, buildRefract(t), "-config", cfg)
	testkit.Eventually(t, 30*time.Second, "ready", func() bool {
		code, _ := call(http.DefaultClient, "GET", "http://"+p.admin+"/readyz", "")
		return code == 200
	})

	// A transport of its own per batch: many connections, as from many
	// clients.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	type result struct {
		code int
		body string
	}
	const n = 100
	results := make(chan result, 2*n)
	send := func(hdr ...string) {
		go func() {
			code, body := call(client, "GET", "http://"+p.listen+"/v1/shelves/1", "", hdr...)
			results <- result{code, body}
		}()
	}
	for range n {
		send("Grpc-Metadata-X-Hold", "1")
	}
	for range n {
		<-h.Arrived
	}

	p.signal(t, syscall.SIGTERM)
	testkit.Eventually(t, 10*time.Second, "/readyz 503 while draining", func() bool {
		code, body := call(http.DefaultClient, "GET", "http://"+p.admin+"/readyz", "")
		return code == 503 && strings.Contains(body, "draining")
	})
	for range n {
		send()
	}
	// The 100 sent during the drain finish while the first 100 are held.
	for i := range n {
		r := <-results
		if r.code != 200 || !strings.Contains(r.body, `"name":"shelves/1"`) {
			t.Fatalf("request %d during the drain: %d %s", i, r.code, r.body)
		}
	}
	if code, _ := call(http.DefaultClient, "GET", "http://"+p.admin+"/readyz", ""); code != 503 {
		t.Fatalf("/readyz after the drain requests: %d", code)
	}

	p.signal(t, syscall.SIGTERM) // ends the drain period: graceful shutdown
	testkit.Eventually(t, 10*time.Second, "listeners closed", func() bool {
		c, err := net.Dial("tcp", p.listen)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case <-p.exited:
		t.Fatal("refract exited with requests in flight")
	default:
	}
	h.Release()
	for i := range n {
		r := <-results
		if r.code != 200 || !strings.Contains(r.body, `"name":"shelves/1"`) {
			t.Fatalf("request %d in flight at SIGTERM: %d %s", i, r.code, r.body)
		}
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// SIGHUP re-reads the config even when its bytes did not change.
func TestSIGHUPReloads(t *testing.T) {
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Stop()
	yaml := fmt.Sprintf("drain_period: 0s\nupstreams:\n  - name: library\n    static: [%q]\n", lib.Addr)
	p := startRefract(t, buildRefract(t), "-config", writeConfig(t, yaml))
	testkit.Eventually(t, 30*time.Second, "ready", func() bool {
		code, _ := call(http.DefaultClient, "GET", "http://"+p.admin+"/readyz", "")
		return code == 200
	})
	p.signal(t, syscall.SIGHUP)
	testkit.Eventually(t, 30*time.Second, "a reload", func() bool { return configStatus(t, p).ReloadsOK == 1 })
	if st := configStatus(t, p); st.Version != version(yaml) || st.ReloadsFailed != 0 {
		t.Fatalf("status: %+v", st)
	}
	if code, _ := call(http.DefaultClient, "GET", "http://"+p.listen+"/v1/shelves", ""); code != 200 {
		t.Fatalf("after SIGHUP: %d", code)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
