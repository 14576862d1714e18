package discovery

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/rs/zerolog"
)

func TestNewConsulFailoverValidates(t *testing.T) {
	c, _ := api.NewClient(api.DefaultConfig())
	o := ConsulOptions{Client: c, Service: "books"}
	for _, dcs := range [][]string{nil, {"dc1"}, {"dc1", "dc1"}, {"dc1", ""}} {
		if _, err := NewConsulFailover(o, dcs); err == nil {
			t.Errorf("datacenters %q accepted", dcs)
		}
	}
	f, err := NewConsulFailover(ConsulOptions{Client: c, Service: "books", Tags: []string{"grpc"}}, []string{"dc1", "dc2"})
	if err != nil || f.String() != "consul(books,tag=grpc,dc=dc1>dc2)" || f.Datacenter() != "" {
		t.Errorf("NewConsulFailover = %v, %v", f, err)
	}
}

func TestChooseDatacenter(t *testing.T) {
	eps := []Endpoint{{Addr: "127.0.0.1:1"}}
	unreachable := api.StatusError{Code: 500, Body: "No path to datacenter"}
	errAgentDown := errors.New("dial tcp 127.0.0.1:8500: connect: connection refused") // not the agent's answer
	for _, c := range []struct {
		name    string
		states  []dcState
		chosen  int
		decided bool
		err     bool
	}{
		{"first passes", []dcState{{answered: true, eps: eps}, {}}, 0, true, false},
		{"first not answered yet", []dcState{{}, {answered: true, eps: eps}}, -1, false, false},
		{"first empty", []dcState{{answered: true}, {answered: true, eps: eps}}, 1, true, false},
		{"first unreachable", []dcState{{answered: true, err: unreachable}, {answered: true, eps: eps}}, 1, true, false},
		{"all empty", []dcState{{answered: true}, {answered: true}}, -1, true, false},
		{"agent down", []dcState{{answered: true, eps: eps, err: errAgentDown}, {answered: true, eps: eps}}, -1, true, true},
		{"none passes, one unreachable", []dcState{{answered: true}, {answered: true, err: unreachable}}, -1, true, true},
	} {
		chosen, decided, err := choose(c.states)
		if chosen != c.chosen || decided != c.decided || (err != nil) != c.err {
			t.Errorf("%s: choose = %d, %v, %v", c.name, chosen, decided, err)
		}
	}
}

// TestConsulFailoverAcrossDatacenters runs two Consul datacenters, each a
// dev agent, federated over WAN on loopback, and follows one service
// through failover to the second datacenter and back.
func TestConsulFailoverAcrossDatacenters(t *testing.T) {
	dc1 := consultest.StartDC(t, "dc1")
	dc2 := consultest.StartDC(t, "dc2")
	dc1.JoinWAN(dc2)
	reg := func(a *consultest.Agent, id, addr string) {
		a.Register(consultest.Instance{ID: id, Service: "books", Addr: addr, Meta: map[string]string{"schema_hash": "v1"}})
	}
	reg(dc1, "a1", "127.0.0.1:7001")
	reg(dc2, "b1", "127.0.0.2:7001")
	reg(dc2, "b2", "127.0.0.2:7002")

	src, err := NewConsulFailover(ConsulOptions{Client: dc1.Client(), Service: "books", PassingOnly: true,
		WaitTime: 5 * time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 300 * time.Millisecond, Logger: zerolog.Nop()},
		[]string{"dc1", "dc2"})
	if err != nil {
		t.Fatal(err)
	}
	ch := updates(t, src)
	if u := next(t, ch, "first set"); addrs(u) != "127.0.0.1:7001" || u.Err != nil || src.Datacenter() != "dc1" {
		t.Fatalf("first set = %q (err %v) from %q, want dc1's", addrs(u), u.Err, src.Datacenter())
	}
	if src.LastIndex() == 0 {
		t.Error("no Consul index for the served datacenter")
	}

	// dc1's only instance fails: dc2 serves; it passes again: dc1 does.
	start := time.Now()
	dc1.Fail("a1")
	waitFor(t, ch, "127.0.0.2:7001 127.0.0.2:7002")
	t.Logf("consul: failover to dc2 followed in %s", time.Since(start))
	if src.Datacenter() != "dc2" {
		t.Errorf("serving %q, want dc2", src.Datacenter())
	}
	dc2.Deregister("b2") // changes in the serving datacenter are followed
	waitFor(t, ch, "127.0.0.2:7001")
	start = time.Now()
	dc1.Pass("a1")
	waitFor(t, ch, "127.0.0.1:7001")
	t.Logf("consul: failback to dc1 followed in %s", time.Since(start))
	if src.Datacenter() != "dc1" {
		t.Errorf("serving %q, want dc1", src.Datacenter())
	}

	// dc2 goes away: dc1 still serves, nothing is pushed.
	dc2.Stop()
	select {
	case u := <-ch:
		t.Fatalf("a push while the preferred datacenter serves: %q (err %v)", addrs(u), u.Err)
	case <-time.After(time.Second):
	}
	// Now dc1 fails too: no datacenter can say it passes; the last set
	// stays, stale.
	dc1.Fail("a1")
	if u := next(t, ch, "no datacenter"); u.Err == nil || addrs(u) != "127.0.0.1:7001" {
		t.Fatalf("with dc1 failing and dc2 gone: %q (err %v), want the last set with an error", addrs(u), u.Err)
	} else {
		t.Logf("consul failover outage reported as: %v", u.Err)
	}
	dc1.Pass("a1")
	waitFor(t, ch, "127.0.0.1:7001")

	// The local agent goes away: every datacenter is unknown, none is
	// failed over to; the last set stays, stale.
	dc2.Restart()
	reg(dc2, "b1", "127.0.0.2:7001")
	dc1.Stop()
	if u := next(t, ch, "agent outage"); u.Err == nil || addrs(u) != "127.0.0.1:7001" {
		t.Fatalf("with the agent down: %q (err %v)", addrs(u), u.Err)
	}
	select {
	case u := <-ch:
		t.Fatalf("a second push during the agent's outage: %q (err %v)", addrs(u), u.Err)
	case <-time.After(time.Second):
	}
	if src.Datacenter() != "dc1" {
		t.Errorf("serving %q during the agent's outage, want dc1 (stale)", src.Datacenter())
	}
}
