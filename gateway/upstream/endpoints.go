package upstream

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EndpointConn is one endpoint's transport state as the upstream's
// dialer saw it: the per-endpoint view grpc-go keeps to itself (its
// channel state is one value for all endpoints). It is what says "this
// backend is down, since 14:02:11, connection refused" while the
// descriptor cache still holds the last good schema.
type EndpointConn struct {
	// State is READY (a connection is open), CONNECTING (a first dial
	// is in flight and none is open), TRANSIENT_FAILURE (the last dial failed,
	// or the last open connection broke) or IDLE (never dialed, or every
	// connection was closed by the gateway itself).
	State string `json:"state"`
	// Since is when the endpoint entered State; zero before any dial.
	Since time.Time `json:"since,omitzero"`
	// LastError is the last dial failure or connection break, with its
	// time; kept after recovery so that an operator sees what happened.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Transport states of EndpointConn, named as grpc-go names its own.
const (
	StateIdle       = "IDLE"
	StateConnecting = "CONNECTING"
	StateReady      = "READY"
	StateFailure    = "TRANSIENT_FAILURE"
)

// connTracker dials an upstream's endpoints for grpc-go and remembers,
// per address, what happened. It sits off the request path: grpc-go
// dials on its own goroutines, and reads are counted only when they fail.
// Safe for concurrent use.
type connTracker struct {
	now    func() time.Time
	dialer net.Dialer
	// ctx ends the probes (stop: the upstream is closed or retired);
	// probeEvery is how long a broken endpoint may go without a dial
	// before the tracker probes it itself.
	ctx        context.Context
	stop       context.CancelFunc
	probeEvery time.Duration
	mu         sync.Mutex
	eps        map[string]*trackedEndpoint
}

type trackedEndpoint struct {
	EndpointConn
	open     int       // connections open now
	dialing  int       // dials in flight
	lastDial time.Time // when the last dial started
	probing  bool      // a probe loop runs for it
}

func newConnTracker(now func() time.Time) *connTracker {
	if now == nil {
		now = time.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	return &connTracker{now: now, ctx: ctx, stop: stop, probeEvery: 5 * time.Second, eps: map[string]*trackedEndpoint{}}
}

// dial is the upstream's grpc.WithContextDialer: a plain TCP (or
// unix:path) dial, recorded.
func (t *connTracker) dial(ctx context.Context, addr string) (net.Conn, error) {
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", strings.TrimPrefix(p, "//")
	}
	t.update(addr, func(e *trackedEndpoint, now time.Time) {
		e.dialing++
		e.lastDial = now
		// A redial after a failure stays TRANSIENT_FAILURE, as grpc-go's
		// channel does: "down since" must not restart at every attempt.
		if e.open == 0 && e.State == StateIdle {
			e.State, e.Since = StateConnecting, now
		}
	})
	c, err := t.dialer.DialContext(ctx, network, address)
	if err != nil {
		t.update(addr, func(e *trackedEndpoint, now time.Time) {
			e.dialing--
			e.LastError, e.LastErrorAt = err.Error(), now
			if e.open == 0 && e.State != StateFailure {
				e.State, e.Since = StateFailure, now
			}
		})
		return nil, err
	}
	t.update(addr, func(e *trackedEndpoint, now time.Time) {
		e.dialing--
		e.open++
		if e.State != StateReady {
			e.State, e.Since = StateReady, now
		}
	})
	return &trackedConn{Conn: c, t: t, addr: addr}, nil
}

// update runs f on addr's entry under the lock.
func (t *connTracker) update(addr string, f func(e *trackedEndpoint, now time.Time)) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.eps[addr]
	if e == nil {
		e = &trackedEndpoint{EndpointConn: EndpointConn{State: StateIdle}}
		t.eps[addr] = e
	}
	f(e, now)
}

// closed counts one connection of addr gone: broken by the peer or the
// network (err set) or closed by the gateway (err nil).
func (t *connTracker) closed(addr string, err error) {
	t.update(addr, func(e *trackedEndpoint, now time.Time) {
		e.open--
		if err != nil {
			e.LastError, e.LastErrorAt = "connection lost: "+err.Error(), now
		}
		if e.open > 0 {
			return
		}
		switch {
		case err != nil && e.State != StateFailure:
			e.State, e.Since = StateFailure, now
		case err == nil && e.dialing == 0 && e.State == StateReady:
			e.State, e.Since = StateIdle, now
		}
		if err != nil && !e.probing {
			e.probing = true
			go t.probe(addr, e)
		}
	})
}

// probe follows a broken endpoint that nothing redials (grpc-go's
// pick_first reconnects only for the next call, and a backend closing a
// connection on purpose, e.g. at its max connection age, looks like a
// break): every probeEvery without a dial it tries a TCP connection of
// its own and closes it. Reachable: IDLE, the break kept as the last
// error; refused: still TRANSIENT_FAILURE, with the probe's error. It
// ends when the endpoint recovers, is forgotten, or the tracker stops.
func (t *connTracker) probe(addr string, e *trackedEndpoint) {
	tick := time.NewTicker(t.probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		now := t.now()
		switch {
		case t.eps[addr] != e || e.State != StateFailure || e.open > 0:
			e.probing = false
			t.mu.Unlock()
			return
		case e.dialing > 0 || now.Sub(e.lastDial) < t.probeEvery:
			t.mu.Unlock()
			continue // grpc-go is redialing: its dials say how it goes
		}
		t.mu.Unlock()
		ctx, cancel := context.WithTimeout(t.ctx, t.probeEvery)
		c, err := t.dial(ctx, addr)
		cancel()
		if err == nil {
			_ = c.Close() // READY, then IDLE: reachable, not connected
			t.mu.Lock()
			e.probing = false
			t.mu.Unlock()
			return
		}
	}
}

// get is addr's state; IDLE with no time when it was never dialed.
func (t *connTracker) get(addr string) EndpointConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.eps[addr]; e != nil {
		return e.EndpointConn
	}
	return EndpointConn{State: StateIdle}
}

// retain forgets the addresses not in keep and not connected, so that
// endpoint churn (Consul, autoscaling) cannot grow the map without bound.
func (t *connTracker) retain(keep map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for addr, e := range t.eps {
		if !keep[addr] && e.open == 0 && e.dialing == 0 {
			delete(t.eps, addr)
		}
	}
}

// trackedConn reports its end to its tracker once: the first read error
// while the gateway has not closed it is a break (EOF from a killed
// backend, a reset), a Close is the gateway's own doing.
type trackedConn struct {
	net.Conn
	t    *connTracker
	addr string
	done atomic.Bool
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.done.CompareAndSwap(false, true) {
		c.t.closed(c.addr, err)
	}
	return n, err
}

func (c *trackedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && c.done.CompareAndSwap(false, true) {
		c.t.closed(c.addr, err)
	}
	return n, err
}

func (c *trackedConn) Close() error {
	if c.done.CompareAndSwap(false, true) {
		c.t.closed(c.addr, nil)
	}
	return c.Conn.Close()
}

// EndpointConn is addr's transport state (see EndpointConn). Safe for
// concurrent use.
func (u *Upstream) EndpointConn(addr string) EndpointConn { return u.conns.get(addr) }
