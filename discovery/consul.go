package discovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/rs/zerolog"
)

// ConsulOptions configures a Consul source for one service.
type ConsulOptions struct {
	// Client talks to the Consul agent; required. One client may serve
	// many sources.
	Client *api.Client
	// Service is the Consul service name; required.
	Service string
	// Tags keep only instances carrying every one of them.
	Tags []string
	// Datacenter, Namespace and Partition scope the query when set (the
	// agent's own otherwise; the last two are Consul Enterprise features).
	Datacenter string
	Namespace  string
	Partition  string
	// PassingOnly keeps only instances whose checks all pass. Callers
	// normally want true.
	PassingOnly bool
	// PortMetaKey, when set, names a service-meta key holding the gRPC port
	// (for services whose registered port is another protocol's); instances
	// without the key use the service port.
	PortMetaKey string
	// WaitTime bounds one blocking query; default 1m. Consul adds up to
	// WaitTime/16 of jitter.
	WaitTime time.Duration
	// RetryMin and RetryMax bound the jittered exponential backoff after a
	// failed query; defaults 250ms and 15s.
	RetryMin, RetryMax time.Duration
	// Logger receives one line per change of state (errors, recoveries).
	Logger zerolog.Logger
}

// Consul watches the healthy instances of one Consul service with blocking
// queries. Immutable after NewConsul; safe for concurrent use, though one
// Watch at a time is what a gateway runs.
type Consul struct {
	opts  ConsulOptions
	index atomic.Uint64 // X-Consul-Index of the last answer
}

// LastIndex is the Consul index of the last answer (0 before the first):
// it moves on every change Consul saw, pushed or not. Safe for concurrent
// use.
func (c *Consul) LastIndex() uint64 { return c.index.Load() }

// NewConsul validates opts and fills defaults.
func NewConsul(opts ConsulOptions) (*Consul, error) {
	if opts.Client == nil {
		return nil, errors.New("discovery: consul source needs a client")
	}
	if opts.Service == "" {
		return nil, errors.New("discovery: consul source needs a service name")
	}
	if opts.WaitTime <= 0 {
		opts.WaitTime = time.Minute
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 250 * time.Millisecond
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(15*time.Second, opts.RetryMin)
	}
	opts.Tags = slices.Clone(opts.Tags)
	return &Consul{opts: opts}, nil
}

func (c *Consul) String() string {
	s := "consul(" + c.opts.Service
	for _, t := range c.opts.Tags {
		s += ",tag=" + t
	}
	if c.opts.Datacenter != "" {
		s += ",dc=" + c.opts.Datacenter
	}
	if c.opts.Namespace != "" {
		s += ",ns=" + c.opts.Namespace
	}
	if c.opts.Partition != "" {
		s += ",partition=" + c.opts.Partition
	}
	return s + ")"
}

// Watch runs blocking queries until ctx is done. It pushes the first set
// as soon as Consul answers and then only sets that differ; on errors it
// pushes the last known set once with Err (so callers keep serving it and
// can say it is stale) and retries with backoff; the next good answer is
// pushed even when unchanged, so callers learn the set is fresh again.
func (c *Consul) Watch(ctx context.Context, push func(Update)) {
	blockingWatch(ctx, c.opts.blocking(c.String()), c.query, sameEndpoints, func(eps []Endpoint, err error) {
		push(Update{Endpoints: slices.Clone(eps), Err: err})
	})
}

// blockingOptions are what a blocking-query loop needs to know.
type blockingOptions struct {
	name               string
	retryMin, retryMax time.Duration
	log                zerolog.Logger
}

func (o ConsulOptions) blocking(name string) blockingOptions {
	return blockingOptions{name: name, retryMin: o.RetryMin, retryMax: o.RetryMax, log: o.Logger}
}

// blockingWatch is the loop shared by Consul watches, as Consul's own
// api/watch carries it: the index moves by NextIndex, a failure keeps the
// last result and backs off, and push sees each new result, the first
// failure of a streak (with the last result), and the first success after
// one.
func blockingWatch[T any](ctx context.Context, o blockingOptions, query func(context.Context, uint64) (T, uint64, error), equal func(a, b T) bool, push func(T, error)) {
	var (
		index    uint64
		last     T
		known    bool // last holds an answer from Consul
		failures int
	)
	for ctx.Err() == nil {
		got, next, err := query(ctx, index)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			if failures == 1 {
				o.log.Warn().Err(err).Str("source", o.name).Msg("consul query failed; keeping the last known result")
				push(last, err)
			}
			// Start over with a non-blocking read: the index may belong to
			// a Consul that has since been replaced.
			index = 0
			if !sleep(ctx, backoff(o.retryMin, o.retryMax, failures)) {
				return
			}
			continue
		}
		index = NextIndex(index, next)
		if failures > 0 {
			o.log.Info().Str("source", o.name).Msg("consul answers again")
		}
		if !known || failures > 0 || !equal(last, got) {
			push(got, nil)
		}
		last, known, failures = got, true, 0
	}
}

// NextIndex is the WaitIndex for the next blocking query after one that
// was sent with prev and answered with got, as Consul asks clients to
// carry it: an index that went backwards (a restored or replaced Consul)
// resets the wait so the next query answers at once, and the index is
// never below 1, because 0 would make every query non-blocking.
func NextIndex(prev, got uint64) uint64 {
	if got < prev {
		return 1
	}
	return max(got, 1)
}

// queryOptions is one blocking query at index, bounded by more than the
// wait Consul may take (WaitTime plus its jitter) so that a silent network
// cannot hang the watch.
func (o ConsulOptions) queryOptions(ctx context.Context, index uint64) (*api.QueryOptions, context.CancelFunc) {
	qctx, cancel := context.WithTimeout(ctx, o.WaitTime+o.WaitTime/16+5*time.Second)
	q := &api.QueryOptions{
		WaitIndex:  index,
		WaitTime:   o.WaitTime,
		Datacenter: o.Datacenter,
		Namespace:  o.Namespace,
		Partition:  o.Partition,
	}
	return q.WithContext(qctx), cancel
}

func (c *Consul) query(ctx context.Context, index uint64) ([]Endpoint, uint64, error) {
	q, cancel := c.opts.queryOptions(ctx, index)
	defer cancel()
	entries, meta, err := c.opts.Client.Health().ServiceMultipleTags(c.opts.Service, c.opts.Tags, c.opts.PassingOnly, q)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: consul health of %q: %w", c.opts.Service, err)
	}
	if len(entries) == 0 && meta.ResultsFilteredByACLs {
		// Consul answers a token that may not read the service with an
		// empty list, not an error: that is not "no instance passes", and
		// the operator must learn what to fix.
		return nil, 0, fmt.Errorf("discovery: consul health of %q: every instance is hidden by ACLs: the token needs service:read on it and node:read on its nodes", c.opts.Service)
	}
	c.index.Store(meta.LastIndex)
	eps := make([]Endpoint, 0, len(entries))
	for _, e := range entries {
		ep, err := c.endpoint(e)
		if err != nil {
			c.opts.Logger.Warn().Err(err).Str("source", c.String()).Msg("instance skipped")
			continue
		}
		eps = append(eps, ep)
	}
	slices.SortFunc(eps, func(a, b Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	eps = slices.CompactFunc(eps, func(a, b Endpoint) bool { return a.Addr == b.Addr })
	return eps, meta.LastIndex, nil
}

func (c *Consul) endpoint(e *api.ServiceEntry) (Endpoint, error) {
	host := e.Service.Address
	if host == "" && e.Node != nil {
		host = e.Node.Address
	}
	port := e.Service.Port
	if c.opts.PortMetaKey != "" {
		if v, ok := e.Service.Meta[c.opts.PortMetaKey]; ok {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return Endpoint{}, fmt.Errorf("discovery: instance %s: meta %s=%q is not a port", e.Service.ID, c.opts.PortMetaKey, v)
			}
			port = p
		}
	}
	if host == "" || port < 1 || port > 65535 {
		return Endpoint{}, fmt.Errorf("discovery: instance %s has no usable address (%q port %d)", e.Service.ID, host, port)
	}
	return Endpoint{
		Addr: net.JoinHostPort(host, strconv.Itoa(port)),
		ID:   e.Service.ID,
		Tags: slices.Clone(e.Service.Tags),
		Meta: e.Service.Meta,
	}, nil
}

func sameEndpoints(a, b []Endpoint) bool {
	return slices.EqualFunc(a, b, func(x, y Endpoint) bool {
		return x.Addr == y.Addr && x.ID == y.ID && slices.Equal(x.Tags, y.Tags) && maps.Equal(x.Meta, y.Meta)
	})
}

// backoff is the full-jitter exponential delay before retry n (1-based).
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo << min(n-1, 20)
	if d > hi || d <= 0 {
		d = hi
	}
	return lo/2 + rand.N(d-lo/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ConsulServices watches the Consul catalog for the services that carry a
// tag: the services a gateway exposes without being configured for them.
type ConsulServices struct {
	opts ConsulOptions // Service unused; Tags[0] is the tag
}

// NewConsulServices returns a catalog watch for services tagged tag. Only
// Client, Datacenter, Namespace, Partition, WaitTime, Retry* and Logger of
// opts are used.
func NewConsulServices(opts ConsulOptions, tag string) (*ConsulServices, error) {
	if tag == "" {
		return nil, errors.New("discovery: consul service watch needs a tag")
	}
	opts.Service = "catalog"
	c, err := NewConsul(opts)
	if err != nil {
		return nil, err
	}
	c.opts.Tags = []string{tag}
	return &ConsulServices{opts: c.opts}, nil
}

func (s *ConsulServices) String() string { return "consul(services tagged " + s.opts.Tags[0] + ")" }

// Watch pushes the sorted names of the tagged services whenever they
// change, until ctx is done. On errors it pushes the last known names once
// with the error, and callers should keep what they have.
func (s *ConsulServices) Watch(ctx context.Context, push func(names []string, err error)) {
	blockingWatch(ctx, s.opts.blocking(s.String()), s.query, slices.Equal[[]string], func(names []string, err error) {
		push(slices.Clone(names), err)
	})
}

func (s *ConsulServices) query(ctx context.Context, index uint64) ([]string, uint64, error) {
	q, cancel := s.opts.queryOptions(ctx, index)
	defer cancel()
	services, meta, err := s.opts.Client.Catalog().Services(q)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: consul catalog: %w", err)
	}
	var names []string
	for name, tags := range services {
		if slices.Contains(tags, s.opts.Tags[0]) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, meta.LastIndex, nil
}
