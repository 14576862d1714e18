package leanunary

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net"
	"slices"
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
	// at random) or "pick_first" (the first endpoint with a connection,
	// in discovery's order).
	Balancer string
}

// How long a dial may take, and how long an endpoint whose dial failed is
// left alone.
const (
	dialTimeout = 5 * time.Second
	dialBackoff = time.Second
)

// Pool balances unary calls over the connections to a set of endpoints,
// one connection each. Connections are dialled in the background, never
// on a call's path: a call goes to an endpoint whose connection is ready,
// and when none is (none known yet, all still dialling, none reachable)
// the pool declines it (ErrDeclined) and the caller's other transport,
// with its own view of the endpoints, answers. An endpoint whose dial
// failed is dialled again a second later, when a call wants it. Safe for
// concurrent use.
type Pool struct {
	o      Options
	scheme string
	next   atomic.Uint32
	ctx    context.Context // ends the dials when the pool is closed
	stop   context.CancelFunc

	redial atomic.Pointer[func()]

	mu        sync.Mutex                  // serializes SetEndpoints, Close, Drain and dials' ends
	endpoints atomic.Pointer[[]*endpoint] // read by every call; replaced under mu
}

type endpoint struct {
	addr    string
	conn    atomic.Pointer[conn]
	dialing atomic.Bool
	dialled atomic.Bool  // a connection was made before: the next is a redial
	downTil atomic.Int64 // unix nanos: not dialled before then after a failure
}

// New returns a pool with no endpoints.
func New(o Options) *Pool {
	p := &Pool{o: o, scheme: "http"}
	p.ctx, p.stop = context.WithCancel(context.Background())
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
	cur := p.list()
	old := make(map[string]*endpoint, len(cur))
	for _, e := range cur {
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
	p.endpoints.Store(&eps)
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
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.list() {
		if c := e.conn.Load(); c != nil {
			how(c)
		}
	}
	p.endpoints.Store(nil)
}

// list is the current endpoints.
func (p *Pool) list() []*endpoint {
	if eps := p.endpoints.Load(); eps != nil {
		return *eps
	}
	return nil
}

// OnRedial has f called whenever a connection to an endpoint is made
// again after the last one ended: the instance may have been restarted.
func (p *Pool) OnRedial(f func()) { p.redial.Store(&f) }

// pick returns a connection that can take a call now, or nil; it starts
// the dials of the endpoints it finds without one.
func (p *Pool) pick() *conn {
	eps := p.list()
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
			a, b := eps[i].ready(p), eps[j].ready(p)
			switch {
			case a != nil && b != nil && b.inFlight() < a.inFlight():
				return b
			case a != nil:
				return a
			case b != nil:
				return b
			}
			start = i
		}
	default:
		start = int(p.next.Add(1))
	}
	for i := range n {
		if c := eps[(start+i)%n].ready(p); c != nil {
			return c
		}
	}
	return nil
}

// ready is the endpoint's connection if it can take a call; else nil, and
// a dial is started unless one runs or the last failed under a second ago.
func (e *endpoint) ready(p *Pool) *conn {
	c := e.conn.Load()
	if c != nil {
		take, replace := c.ready()
		if take {
			return c
		}
		if !replace {
			return nil // at its limit of calls: this one goes elsewhere
		}
	}
	if e.downTil.Load() > time.Now().UnixNano() || !e.dialing.CompareAndSwap(false, true) {
		return nil
	}
	go e.dial(p, c)
	return nil
}

// dial connects the endpoint in place of old (nil, or a connection that
// can take no more calls).
func (e *endpoint) dial(p *Pool, old *conn) {
	defer e.dialing.Store(false)
	if old != nil {
		old.drain()
	}
	authority := p.o.Authority
	if authority == "" {
		authority = e.addr
	}
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	defer cancel()
	c, err := dial(ctx, e.addr, authority, p.o)
	if err != nil {
		e.downTil.Store(time.Now().Add(dialBackoff).UnixNano())
		return
	}
	p.mu.Lock()
	current := p.ctx.Err() == nil && slices.Contains(p.list(), e)
	if current {
		e.conn.Store(c)
	}
	p.mu.Unlock()
	if !current { // the pool was closed, or discovery dropped the endpoint
		c.close()
		return
	}
	if f := p.redial.Load(); f != nil && e.dialled.Swap(true) {
		(*f)()
	}
}
