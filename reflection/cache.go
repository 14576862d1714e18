package reflection

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Cache keeps the descriptor set of every upstream it was given, fetched in
// the background and refreshed on a jittered interval, when the upstream's
// endpoints change, and on demand. A failed refresh keeps the last good set.
// Reads (Snapshot) never block and never do I/O.
//
// All methods are safe for concurrent use. Construct with NewCache; release
// with Close.
type Cache struct {
	opts   Options
	log    zerolog.Logger
	linked *linked
	ctx    context.Context // canceled by Close: parent of every upstream
	cancel context.CancelFunc

	// ups is the upstream set, copied on write under mu and read lock-free.
	ups atomic.Pointer[map[string]*upstream]

	mu      sync.Mutex // guards closed, writes of ups, and wg.Add
	closed  bool
	wg      sync.WaitGroup // upstream loops, Refresh helpers, subscribers
	subsMu  sync.Mutex     // guards subs and nextSub; taken after mu or an upstream's mu
	subs    map[uint64]*subscriber
	nextSub uint64
}

// NewCache returns an empty Cache configured by opts (zero fields take the
// documented defaults). It fails on invalid options.
func NewCache(opts Options) (*Cache, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l, err := newLinked()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		opts:   o,
		log:    o.Logger.With().Str("component", "reflection").Logger(),
		linked: l,
		ctx:    ctx,
		cancel: cancel,
		subs:   make(map[uint64]*subscriber),
	}
	empty := make(map[string]*upstream)
	c.ups.Store(&empty)
	return c, nil
}

// Add registers an upstream under name and starts fetching its descriptors in
// the background; it never blocks on I/O. conn is the upstream's connection
// (in production a *grpc.ClientConn balanced over its endpoints); the Cache
// does not close it. The upstream is pending until the first fetch finishes.
// Adding a name twice fails with ErrUpstreamExists, adding after Close with
// ErrClosed.
func (c *Cache) Add(name string, conn grpc.ClientConnInterface) error {
	return c.AddWith(name, conn, UpstreamOptions{})
}

// AddWith is Add with the upstream's descriptor sources, guard and
// persistence. With o.SnapshotDir, a snapshot persisted there is loaded
// first: the upstream starts stale with it (subscribers hear of it at
// once) instead of pending; a snapshot that does not load is logged and
// ignored. Invalid options fail with InvalidArgument.
func (c *Cache) AddWith(name string, conn grpc.ClientConnInterface, o UpstreamOptions) error {
	if name == "" {
		return newError(name, codes.InvalidArgument, "empty upstream name")
	}
	if conn == nil {
		return newError(name, codes.InvalidArgument, "nil connection")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return newError(name, codes.FailedPrecondition, "add: %w", ErrClosed)
	}
	cur := *c.ups.Load()
	if _, ok := cur[name]; ok {
		return newError(name, codes.AlreadyExists, "add: %w", ErrUpstreamExists)
	}
	if err := o.validate(name); err != nil {
		return err
	}
	u := newUpstream(c, name, conn, o)
	if snap, err := u.loadPersisted(); err != nil {
		c.log.Warn().Err(err).Str("upstream", name).Msg("the persisted descriptor snapshot does not load; starting without it")
	} else if snap != nil {
		u.snap.Store(snap)
		u.state = StateStale
		u.observe(snap)
		c.publish(name, snap)
		c.log.Info().Str("upstream", name).Str("hash", snap.Hash).Time("fetched_at", snap.FetchedAt).
			Msg("serving the persisted descriptor snapshot (stale) until a fetch succeeds")
	}
	next := maps.Clone(cur)
	next[name] = u
	c.ups.Store(&next)
	c.wg.Add(1)
	go u.run()
	return nil
}

// Remove forgets an upstream: it stops the upstream's goroutine (waiting for
// it to return, which cancels any fetch in flight), drops its descriptor set,
// and tells subscribers (name, nil). Unknown names are ignored.
func (c *Cache) Remove(name string) {
	c.mu.Lock()
	cur := *c.ups.Load()
	u, ok := cur[name]
	if ok {
		next := maps.Clone(cur)
		delete(next, name)
		c.ups.Store(&next)
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	u.mu.Lock()
	u.removed = true
	u.cancel()
	c.publish(name, nil)
	u.mu.Unlock()
	<-u.done
	c.log.Debug().Str("upstream", name).Msg("upstream removed")
}

// Snapshot returns the upstream's last good descriptor set, or nil if it has
// none yet (pending or failed) or is unknown. It never blocks: one atomic
// load and a map read.
func (c *Cache) Snapshot(name string) *Snapshot {
	u := c.lookup(name)
	if u == nil {
		return nil
	}
	return u.snap.Load()
}

// Refresh fetches the upstream's descriptors now and returns the resulting
// snapshot (the cached one when the hash did not change). Concurrent calls,
// and a background refresh in flight, collapse into one fetch whose result
// they all get. The fetch is bounded by Options.FetchTimeout, not by ctx: ctx
// only bounds the wait, and canceling it leaves the fetch running for the
// others. On failure it returns nil and the error; the cache keeps the last
// good set (state stale). Errors are *Error (ErrUnknownUpstream, ErrClosed,
// or the fetch's).
func (c *Cache) Refresh(ctx context.Context, name string) (*Snapshot, error) {
	u := c.lookup(name)
	if u == nil {
		return nil, newError(name, codes.NotFound, "refresh: %w", ErrUnknownUpstream)
	}
	type result struct {
		snap *Snapshot
		err  error
	}
	done := make(chan result, 1)
	started := c.goTracked(func() {
		snap, err := u.fetchShared()
		done <- result{snap, err}
	})
	if !started {
		return nil, newError(name, codes.FailedPrecondition, "refresh: %w", ErrClosed)
	}
	select {
	case r := <-done:
		return r.snap, r.err
	case <-ctx.Done():
		return nil, newError(name, codes.Canceled, "refresh: %w", ctx.Err())
	}
}

// RequestRefresh asks for a refresh of the upstream soon, e.g. because the
// gateway saw UNIMPLEMENTED for a routed method. It never blocks. Fetches it
// triggers are at least Options.OnDemandInterval apart per upstream; requests
// arriving sooner collapse into one fetch at the end of the interval. reason
// is logged at debug level. Unknown names are ignored.
func (c *Cache) RequestRefresh(name, reason string) {
	u := c.lookup(name)
	if u == nil {
		return
	}
	c.log.Debug().Str("upstream", name).Str("reason", reason).Msg("refresh requested")
	select {
	case u.demandC <- struct{}{}:
	default: // one is already pending
	}
}

// EndpointsChanged tells the cache that the upstream's endpoint set changed:
// a new instance may serve a new schema. It never blocks. The refresh follows
// after Options.EndpointSettle; it is not rate-limited like RequestRefresh,
// but changes during the settle time, and a fetch in flight, collapse.
// Unknown names are ignored.
func (c *Cache) EndpointsChanged(name string) {
	u := c.lookup(name)
	if u == nil {
		return
	}
	select {
	case u.endpointsC <- struct{}{}:
	default: // one is already pending
	}
}

// Stats returns one Stats per upstream, sorted by name. It takes each
// upstream's lock briefly and never waits for a fetch.
func (c *Cache) Stats() []Stats {
	cur := *c.ups.Load()
	out := make([]Stats, 0, len(cur))
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		out = append(out, cur[name].stats())
	}
	return out
}

// Close stops every goroutine of the cache (upstream loops, fetches in
// flight, subscriber deliveries, lazy type lookups) and waits for them to
// return. Afterwards Snapshot returns nil, Add and Refresh fail with
// ErrClosed, and subscribers are not called again. It does not close the
// upstreams' connections. Close is idempotent and always returns nil; it must
// not be called from a subscriber's callback.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	empty := make(map[string]*upstream)
	c.ups.Store(&empty)
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

func (c *Cache) lookup(name string) *upstream {
	return (*c.ups.Load())[name]
}

// goTracked runs fn in a goroutine that Close waits for; it reports false,
// without running fn, once the cache is closed.
func (c *Cache) goTracked(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}
