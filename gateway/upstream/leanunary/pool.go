package leanunary

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Pool.
type Options struct {
	// Dial opens a connection to an endpoint's address; required (the
	// upstream's dialer, which records each endpoint's state).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// TLS secures the connections; nil: cleartext HTTP/2 (h2c). "h2" is
	// offered by ALPN whatever NextProtos says.
	TLS *tls.Config
	// Authority is the :authority of every call, as grpc-go sends it for
	// the upstream's other calls; default the endpoint's address.
	Authority string
	// Balancer is how a call's endpoint is chosen: "round_robin" (the
	// default), "least_request" (the fewer calls in flight of two picked
	// at random) or "pick_first" (the first endpoint that can be reached,
	// in discovery's order).
	Balancer string
}

// Pool balances unary calls over the connections to a set of endpoints,
// one connection each, dialled on first use and again after it ends. An
// endpoint that cannot be dialled is skipped for a second; when no
// endpoint can take a call the pool declines it (ErrDeclined) and the
// caller's other transport, with its own view of the endpoints, answers.
// Safe for concurrent use.
type Pool struct {
	o      Options
	scheme string
	next   atomic.Uint32

	redial atomic.Pointer[func()]

	mu        sync.Mutex
	endpoints []*endpoint
}

type endpoint struct {
	addr    string
	mu      sync.Mutex // serializes dials
	conn    atomic.Pointer[conn]
	downTil atomic.Int64 // unix nanos: skipped until then after a failed dial
}

// New returns a pool with no endpoints.
func New(o Options) *Pool {
	p := &Pool{o: o, scheme: "http"}
	if o.TLS != nil {
		p.o.TLS = o.TLS.Clone()
		p.o.TLS.NextProtos = []string{"h2"}
		p.scheme = "https"
	}
	return p
}

// SetEndpoints replaces the endpoints calls go to; connections to those
// that remain are kept, the others closed once their calls end.
func (p *Pool) SetEndpoints(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := make(map[string]*endpoint, len(p.endpoints))
	for _, e := range p.endpoints {
		old[e.addr] = e
	}
	eps := make([]*endpoint, 0, len(addrs))
	for _, a := range addrs {
		if e := old[a]; e != nil {
			eps = append(eps, e)
			delete(old, a)
			continue
		}
		eps = append(eps, &endpoint{addr: a})
	}
	p.endpoints = eps
	for _, e := range old {
		if c := e.conn.Load(); c != nil {
			c.drain()
		}
	}
}

// Close closes every connection now; calls in flight fail.
func (p *Pool) Close() { p.end((*conn).close) }

// Drain lets the calls in flight finish and then closes their
// connections; no new call is taken.
func (p *Pool) Drain() { p.end((*conn).drain) }

func (p *Pool) end(how func(*conn)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.endpoints {
		if c := e.conn.Load(); c != nil {
			how(c)
		}
	}
	p.endpoints = nil
}

// OnRedial has f called whenever a connection to an endpoint is made
// again after the last one ended: the instance may have been restarted.
func (p *Pool) OnRedial(f func()) { p.redial.Store(&f) }

// pick returns a connection that can take a call, or nil when none can.
func (p *Pool) pick(ctx context.Context) *conn {
	p.mu.Lock()
	eps := p.endpoints
	p.mu.Unlock()
	n := len(eps)
	if n == 0 {
		return nil
	}
	start := 0
	switch p.o.Balancer {
	case "pick_first":
	case "least_request":
		if n > 1 {
			i, j := rand.IntN(n), rand.IntN(n-1)
			if j >= i {
				j++
			}
			a, b := eps[i].conn.Load(), eps[j].conn.Load()
			if a != nil && b != nil && a.ready() && b.ready() {
				if b.inFlight() < a.inFlight() {
					return b
				}
				return a
			}
			start = i
		}
	default:
		start = int(p.next.Add(1))
	}
	now := time.Now().UnixNano()
	for i := range n {
		e := eps[(start+i)%n]
		if c := e.conn.Load(); c != nil && c.ready() {
			return c
		}
		if e.downTil.Load() > now {
			continue
		}
		if c := e.dial(ctx, p); c != nil {
			return c
		}
	}
	return nil
}

// dial connects the endpoint unless another call just did; nil when it
// cannot, and then the endpoint is skipped for a second.
func (e *endpoint) dial(ctx context.Context, p *Pool) *conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.conn.Load(); c != nil && c.ready() {
		return c
	}
	if e.downTil.Load() > time.Now().UnixNano() {
		return nil // the dial just before this one failed
	}
	old := e.conn.Load()
	if old != nil {
		old.drain()
	}
	// A call's own deadline bounds its dial, and a dial never outlasts
	// what a connection handshake should take.
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	authority := p.o.Authority
	if authority == "" {
		authority = e.addr
	}
	c, err := dial(dctx, e.addr, authority, p.o)
	if err != nil {
		e.downTil.Store(time.Now().Add(time.Second).UnixNano())
		return nil
	}
	e.conn.Store(c)
	if f := p.redial.Load(); f != nil && old != nil {
		(*f)()
	}
	return c
}
