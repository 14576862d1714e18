package consultest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/internal/testkit"
)

// Version is the Consul release .ci/consul.sh builds.
const Version = "1.14.11"

// Agent is a running dev-mode Consul agent. Its methods are safe for
// concurrent use.
type Agent struct {
	// Addr is the HTTP API address, host:port; it survives Restart.
	Addr string

	t     testing.TB
	bin   string
	token string // management token when ACLs are enforced
	dc    string // datacenter; empty: the agent's default (dc1)
	ports [4]int // serf lan, serf wan, server, spare
	dir   string

	mu     sync.Mutex
	shared *api.Client // for the helpers' own calls; see ops
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// Binary finds the consul binary, or returns "" when there is none.
func Binary() string {
	if p := os.Getenv("REFRACT_CONSUL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p
	}
	cache := os.Getenv("REFRACT_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "refract")
	}
	p := filepath.Join(cache, "consul-"+Version, "consul")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Start starts an agent and stops it when the test ends.
func Start(t testing.TB) *Agent {
	t.Helper()
	return start(t, "", "")
}

// StartDC starts an agent that is the server of datacenter dc, and stops
// it when the test ends. Join agents of several datacenters with JoinWAN.
func StartDC(t testing.TB, dc string) *Agent {
	t.Helper()
	return start(t, "", dc)
}

// JoinWAN joins a to b's datacenter over the WAN gossip pool, as Consul
// datacenters are federated, and waits until a can query b's datacenter.
func (a *Agent) JoinWAN(b *Agent) {
	a.t.Helper()
	if err := a.Client().Agent().Join("127.0.0.1:"+strconv.Itoa(b.ports[1]), true); err != nil {
		a.t.Fatalf("consultest: wan join: %v", err)
	}
	c := a.Client()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, _, err := c.Catalog().Nodes(&api.QueryOptions{Datacenter: b.dc}); err == nil {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("consultest: datacenter %s not reachable from %s after 60s", b.dc, a.dc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartWithACL starts an agent that enforces ACLs, denying by default,
// with token as its management token (which Client uses), and stops it
// when the test ends.
func StartWithACL(t testing.TB, token string) *Agent {
	t.Helper()
	return start(t, token, "")
}

func start(t testing.TB, token, dc string) *Agent {
	t.Helper()
	bin := Binary()
	if bin == "" {
		testkit.SkipIntegration(t, "the Consul suites (discovery, auto-exposure, config in Consul KV)",
			"no consul binary: run .ci/consul.sh (builds Consul "+Version+" from the module proxy) or set REFRACT_CONSUL")
	}
	a := &Agent{t: t, bin: bin, dir: t.TempDir(), token: token, dc: dc}
	// A free port can be taken by another test process before the agent
	// binds it: then the agent starts again on other free ports.
	for attempt := 1; ; attempt++ {
		a.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(testkit.FreePort(t)))
		for i := range a.ports {
			a.ports[i] = testkit.FreePort(t)
		}
		err := a.start()
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") && !strings.Contains(err.Error(), "already configured") {
			t.Fatal(err)
		}
	}
	t.Cleanup(a.Stop)
	return a
}

func (a *Agent) start() error {
	_, httpPort, _ := net.SplitHostPort(a.Addr)
	cmd := exec.Command(a.bin, "agent", "-dev",
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", httpPort,
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-serf-lan-port", strconv.Itoa(a.ports[0]),
		"-serf-wan-port", strconv.Itoa(a.ports[1]),
		"-server-port", strconv.Itoa(a.ports[2]),
		"-node", "refract-test",
		"-log-level", "warn",
	)
	if a.dc != "" {
		cmd.Args = append(cmd.Args, "-datacenter", a.dc)
	}
	if a.token != "" {
		cmd.Args = append(cmd.Args, "-hcl", fmt.Sprintf(
			`acl { enabled = true, default_policy = "deny", tokens { initial_management = %q } }`, a.token))
	}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("consultest: start %s: %w", a.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	a.mu.Lock()
	a.cmd, a.exited = cmd, exited
	a.mu.Unlock()

	// Ready when the agent has a leader and its own node is in the catalog.
	c := a.Client()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("consultest: agent exited at start:\n%s", out.String())
		default:
		}
		if leader, err := c.Status().Leader(); err == nil && leader != "" {
			if nodes, _, err := c.Catalog().Nodes(nil); err == nil && len(nodes) > 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("consultest: agent not ready after 60s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns an API client for the agent whose idle connections are
// closed when the test ends (so goroutine leak checks stay meaningful).
func (a *Agent) Client() *api.Client {
	cfg := api.DefaultConfig()
	cfg.Address = a.Addr
	cfg.Token = a.token
	tr := &http.Transport{}
	cfg.Transport = tr
	a.t.Cleanup(tr.CloseIdleConnections)
	c, err := api.NewClient(cfg)
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

// ops is the client the helpers use: one for the agent's life, so that
// many calls do not pile up connections (an agent refuses more than 200
// from one address).
func (a *Agent) ops() *api.Client {
	a.mu.Lock()
	c := a.shared
	a.mu.Unlock()
	if c == nil {
		c = a.Client()
		a.mu.Lock()
		a.shared = c
		a.mu.Unlock()
	}
	return c
}

// Stop kills the agent (as a crash would) and waits for it to exit. A dev
// agent keeps nothing: after Restart the catalog is empty.
func (a *Agent) Stop() {
	a.mu.Lock()
	cmd, exited := a.cmd, a.exited
	a.cmd = nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the agent again on the same address after Stop.
func (a *Agent) Restart() {
	a.t.Helper()
	if err := a.start(); err != nil {
		a.t.Fatal(err)
	}
}

// Instance describes one service instance to register.
type Instance struct {
	ID, Service, Addr string // Addr is host:port
	Tags              []string
	Meta              map[string]string
	// GRPCCheck adds a gRPC health check of Addr every second; otherwise
	// the instance gets a TTL check that Pass and Fail drive, passing at
	// registration.
	GRPCCheck bool
}

// Register registers inst with the agent.
func (a *Agent) Register(inst Instance) {
	a.t.Helper()
	host, portStr, err := net.SplitHostPort(inst.Addr)
	if err != nil {
		a.t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	check := &api.AgentServiceCheck{CheckID: checkID(inst.ID), TTL: "1h", Status: api.HealthPassing}
	if inst.GRPCCheck {
		check = &api.AgentServiceCheck{CheckID: checkID(inst.ID), GRPC: inst.Addr, Interval: "1s", Timeout: "1s"}
	}
	err = a.ops().Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: inst.ID, Name: inst.Service, Address: host, Port: port,
		Tags: inst.Tags, Meta: inst.Meta, Check: check,
	})
	if err != nil {
		a.t.Fatalf("consultest: register %s: %v", inst.ID, err)
	}
}

// Deregister removes an instance.
func (a *Agent) Deregister(id string) {
	a.t.Helper()
	if err := a.ops().Agent().ServiceDeregister(id); err != nil {
		a.t.Fatalf("consultest: deregister %s: %v", id, err)
	}
}

// Fail turns an instance's TTL check critical; Pass turns it passing.
func (a *Agent) Fail(id string) { a.ttl(id, api.HealthCritical) }

// Pass turns an instance's TTL check passing.
func (a *Agent) Pass(id string) { a.ttl(id, api.HealthPassing) }

func (a *Agent) ttl(id, status string) {
	a.t.Helper()
	if err := a.ops().Agent().UpdateTTL(checkID(id), "set by test", status); err != nil {
		a.t.Fatalf("consultest: check of %s: %v", id, err)
	}
}

func checkID(id string) string { return "check:" + id }
