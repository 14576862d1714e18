package discovery

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/rs/zerolog"
)

func TestNextIndex(t *testing.T) {
	for _, c := range []struct{ prev, got, want uint64 }{
		{0, 0, 1},   // never below 1: 0 would make every query non-blocking
		{0, 7, 7},   // first answer
		{7, 7, 7},   // wait timed out, nothing changed
		{7, 9, 9},   // moved on
		{9, 3, 1},   // went backwards (a new Consul): reset
		{9, 0, 1},   // reset, and still not 0
		{1, 12, 12}, // the read after a reset
	} {
		if got := NextIndex(c.prev, c.got); got != c.want {
			t.Errorf("NextIndex(%d, %d) = %d, want %d", c.prev, c.got, got, c.want)
		}
	}
}

func TestBackoffStaysInBounds(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n := 1; n < 70; n++ {
		for i := 0; i < 50; i++ {
			d := backoff(lo, hi, n)
			if d < lo/2 || d > hi {
				t.Fatalf("backoff(%d) = %s, outside [%s, %s]", n, d, lo/2, hi)
			}
		}
	}
}

func TestNewConsulValidates(t *testing.T) {
	if _, err := NewConsul(ConsulOptions{Service: "x"}); err == nil || !strings.Contains(err.Error(), "needs a client") {
		t.Errorf("no client: %v", err)
	}
	c, _ := api.NewClient(api.DefaultConfig())
	if _, err := NewConsul(ConsulOptions{Client: c}); err == nil || !strings.Contains(err.Error(), "needs a service name") {
		t.Errorf("no service: %v", err)
	}
	if _, err := NewConsulServices(ConsulOptions{Client: c}, ""); err == nil {
		t.Error("no tag accepted")
	}
}

// updates runs src.Watch and hands each push to the test.
func updates(t testing.TB, src Source) <-chan Update {
	ch := make(chan Update, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Watch(ctx, func(u Update) { ch <- u }) }()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func next(t *testing.T, ch <-chan Update, what string) Update {
	t.Helper()
	select {
	case u := <-ch:
		return u
	case <-time.After(20 * time.Second):
		t.Fatalf("no update: %s", what)
		return Update{}
	}
}

// waitFor reads pushes until one without error has exactly want (each
// change in Consul is its own push, so a test making two may see both).
func waitFor(t *testing.T, ch <-chan Update, want string) {
	t.Helper()
	for {
		u := next(t, ch, "set "+want)
		if u.Err == nil && addrs(u) == want {
			return
		}
	}
}

func addrs(u Update) string {
	var s []string
	for _, e := range u.Endpoints {
		s = append(s, e.Addr)
	}
	return strings.Join(s, " ")
}

func TestConsulFollowsTheAgent(t *testing.T) {
	agent := consultest.Start(t)
	reg := func(id, addr string, tags []string, meta map[string]string) {
		agent.Register(consultest.Instance{ID: id, Service: "books", Addr: addr, Tags: tags, Meta: meta})
	}
	reg("b1", "127.0.0.1:7001", []string{"refract", "v1"}, nil)
	reg("b2", "127.0.0.1:7002", []string{"refract", "v2"}, map[string]string{"grpc_port": "7102"})
	reg("other", "127.0.0.1:7003", []string{"v1"}, nil) // lacks the tag

	src, err := NewConsul(ConsulOptions{
		Client: agent.Client(), Service: "books", Tags: []string{"refract"}, PassingOnly: true,
		PortMetaKey: "grpc_port", WaitTime: 2 * time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Logger: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := updates(t, src)
	u := next(t, ch, "first set")
	if got := addrs(u); got != "127.0.0.1:7001 127.0.0.1:7102" || u.Err != nil {
		t.Fatalf("first set = %q (err %v)", got, u.Err)
	}
	if e := u.Endpoints[1]; e.ID != "b2" || fmt.Sprint(e.Tags) != "[refract v2]" || e.Meta["grpc_port"] != "7102" {
		t.Errorf("endpoint carries %+v", e)
	}

	agent.Fail("b1")
	if got := addrs(next(t, ch, "after b1 fails")); got != "127.0.0.1:7102" {
		t.Fatalf("after b1 fails: %q", got)
	}
	agent.Pass("b1")
	if got := addrs(next(t, ch, "after b1 passes")); got != "127.0.0.1:7001 127.0.0.1:7102" {
		t.Fatalf("after b1 passes: %q", got)
	}
	agent.Deregister("b1")
	agent.Deregister("b2")
	waitFor(t, ch, "")
	reg("b3", "127.0.0.1:7004", []string{"refract"}, nil)
	if got := addrs(next(t, ch, "after b3")); got != "127.0.0.1:7004" {
		t.Fatalf("after b3: %q", got)
	}

	// The agent goes away: one push with the error and the last set.
	agent.Stop()
	u = next(t, ch, "the agent is down")
	if u.Err == nil || addrs(u) != "127.0.0.1:7004" {
		t.Fatalf("agent down: %q, err %v", addrs(u), u.Err)
	}
	// Back, empty (a dev agent keeps nothing), with an index that went
	// backwards: the source answers at once rather than blocking on the
	// old index.
	agent.Restart()
	u = next(t, ch, "the agent is back")
	if u.Err != nil || len(u.Endpoints) != 0 {
		t.Fatalf("agent back: %q, err %v", addrs(u), u.Err)
	}
	reg("b5", "127.0.0.1:7005", []string{"refract"}, nil)
	if got := addrs(next(t, ch, "after b5")); got != "127.0.0.1:7005" {
		t.Fatalf("after b5: %q", got)
	}
}

func TestConsulServicesByTag(t *testing.T) {
	agent := consultest.Start(t)
	agent.Register(consultest.Instance{ID: "a1", Service: "alpha", Addr: "127.0.0.1:7001", Tags: []string{"refract"}})
	agent.Register(consultest.Instance{ID: "b1", Service: "beta", Addr: "127.0.0.1:7002"})
	src, err := NewConsulServices(ConsulOptions{Client: agent.Client(), WaitTime: 2 * time.Second, Logger: zerolog.Nop()}, "refract")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []string, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		src.Watch(ctx, func(names []string, err error) {
			if err != nil {
				t.Errorf("catalog watch: %v", err)
			}
			ch <- names
		})
	}()
	defer func() { cancel(); <-done }()
	wait := func(want string) {
		t.Helper()
		select {
		case got := <-ch:
			if strings.Join(got, ",") != want {
				t.Fatalf("tagged services = %v, want %s", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no update, want %s", want)
		}
	}
	wait("alpha")
	agent.Register(consultest.Instance{ID: "g1", Service: "gamma", Addr: "127.0.0.1:7003", Tags: []string{"refract"}})
	wait("alpha,gamma")
	agent.Deregister("a1")
	wait("gamma")
}
