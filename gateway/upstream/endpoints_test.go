package upstream

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestConnTrackerStates walks one endpoint through what a backend does:
// accepts (READY), is killed (TRANSIENT_FAILURE with the break and its
// time), refuses new dials (the dial error replaces it), comes back
// (READY again, the last error kept with its time), and is closed by the
// gateway (IDLE).
func TestConnTrackerStates(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tick := func() time.Time { clock = clock.Add(time.Second); return clock }
	tr := newConnTracker(tick)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if got := tr.get(addr); got.State != StateIdle || !got.Since.IsZero() {
		t.Fatalf("never dialed: %+v", got)
	}
	ctx := t.Context()

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := tr.dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	up := tr.get(addr)
	if up.State != StateReady || up.LastError != "" {
		t.Fatalf("after a dial: %+v", up)
	}

	// The backend dies: its side closes, our read sees EOF.
	(<-accepted).Close()
	_ = ln.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a closed peer succeeded")
	}
	down := tr.get(addr)
	if down.State != StateFailure || !strings.Contains(down.LastError, "connection lost: EOF") ||
		!down.Since.After(up.Since) || !down.LastErrorAt.Equal(down.Since) {
		t.Fatalf("after the backend died: %+v", down)
	}
	_ = c.Close() // grpc-go closes the broken transport: still failed
	if got := tr.get(addr); got.State != StateFailure || !got.Since.Equal(down.Since) {
		t.Fatalf("after closing the broken connection: %+v", got)
	}

	// Redials are refused: the reason becomes the dial error, the state
	// keeps its start time.
	if _, err := tr.dial(ctx, addr); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	refused := tr.get(addr)
	if refused.State != StateFailure || !strings.Contains(refused.LastError, "connection refused") || !refused.Since.Equal(down.Since) ||
		!refused.LastErrorAt.After(down.LastErrorAt) {
		t.Fatalf("after a refused dial: %+v", refused)
	}

	// The backend comes back on the same address.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	defer ln2.Close()
	c2, err := tr.dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	back := tr.get(addr)
	if back.State != StateReady || !back.Since.After(refused.LastErrorAt) || back.LastError != refused.LastError {
		t.Fatalf("after recovery: %+v (the last error stays, with its time)", back)
	}
	_ = c2.Close()
	if got := tr.get(addr); got.State != StateIdle {
		t.Fatalf("after the gateway closed its only connection: %+v", got)
	}

	tr.retain(map[string]bool{})
	if _, ok := tr.eps[addr]; ok {
		t.Fatal("retain kept an endpoint no longer listed")
	}
}

// TestConnTrackerDialCancelled: a dial grpc-go gives up on is a failure
// with the context's error, not a hang.
func TestConnTrackerDialCancelled(t *testing.T) {
	tr := newConnTracker(nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := tr.dial(ctx, "127.0.0.1:1"); err == nil {
		t.Fatal("a cancelled dial succeeded")
	}
	if got := tr.get("127.0.0.1:1"); got.State != StateFailure || got.LastError == "" {
		t.Fatalf("%+v", got)
	}
}

// TestConnTrackerProbe: a connection the backend closed while it stays
// up (a max connection age) is not "down" for long: with nothing
// redialing, the tracker's probe finds it reachable and says IDLE, the
// break kept as the last error; a backend that is gone stays
// TRANSIENT_FAILURE with the probe's dial error.
func TestConnTrackerProbe(t *testing.T) {
	tr := newConnTracker(nil)
	tr.probeEvery = 20 * time.Millisecond
	defer tr.stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // every connection closed at once, the listener stays
		}
	}()
	addr := ln.Addr().String()
	c, err := tr.dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Read(make([]byte, 1)) // EOF: the backend closed it
	if got := tr.get(addr); got.State != StateFailure {
		t.Fatalf("after the close: %+v", got)
	}
	waitState(t, tr, addr, StateIdle)
	if got := tr.get(addr); !strings.Contains(got.LastError, "connection lost") {
		t.Errorf("the break was forgotten: %+v", got)
	}

	// A backend that is gone: the probe keeps the state, with its error.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr2 := ln2.Addr().String()
	go func() {
		if c, err := ln2.Accept(); err == nil {
			c.Close()
		}
	}()
	c2, err := tr.dial(t.Context(), addr2)
	if err != nil {
		t.Fatal(err)
	}
	ln2.Close()
	_, _ = c2.Read(make([]byte, 1))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(tr.get(addr2).LastError, "refused") {
		if time.Now().After(deadline) {
			t.Fatalf("no probe: %+v", tr.get(addr2))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := tr.get(addr2); got.State != StateFailure {
		t.Errorf("a gone backend after a probe: %+v", got)
	}
}

func waitState(t *testing.T, tr *connTracker, addr, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tr.get(addr).State != state {
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s: %+v", addr, state, tr.get(addr))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
