package reflection

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/reflection/schemadiff"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// upstream is one entry of a Cache: its connection, its last good snapshot,
// its state, and the goroutine (run) that refreshes it.
type upstream struct {
	c       *Cache
	name    string
	o       UpstreamOptions
	conn    grpc.ClientConnInterface
	fetcher *fetcher
	ctx     context.Context // canceled by Remove and Close
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns

	snap    atomic.Pointer[Snapshot]
	group   singleflight.Group
	waiters atomic.Int32 // goroutines inside fetchShared; observed by tests

	endpointsC chan struct{} // EndpointsChanged; capacity 1
	demandC    chan struct{} // RequestRefresh; capacity 1
	fetchedC   chan struct{} // a fetch finished; capacity 1

	mu          sync.Mutex // guards the fields below; taken before Cache.subsMu
	removed     bool
	state       State
	consecutive int // consecutive failed fetches
	lastErr     string
	lastCause   string // lastErr without the component and upstream prefix
	lastErrAt   time.Time
	fetchedAt   time.Time
	endpoint    string
	duration    time.Duration
	refreshes   uint64
	failures    uint64
	history     []*Version // oldest first, at most Options.History
	held        *Snapshot  // a breaking schema awaiting Approve
	heldSince   time.Time
	heldChanges []schemadiff.Change
	changes     [2]uint64 // new schema versions seen: [non-breaking, breaking]

	persistMu     sync.Mutex // serializes persist; guards persistedHash
	persistedHash string
}

func newUpstream(c *Cache, name string, conn grpc.ClientConnInterface, o UpstreamOptions) *upstream {
	ctx, cancel := context.WithCancel(c.ctx)
	var md metadata.MD
	if len(o.Metadata) > 0 {
		md = metadata.New(o.Metadata)
	}
	return &upstream{
		c:      c,
		name:   name,
		o:      o,
		conn:   conn,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		fetcher: &fetcher{
			upstream:      name,
			linked:        c.linked,
			now:           c.opts.Now,
			lookupCtx:     ctx,
			lookupTimeout: c.opts.TypeLookupTimeout,
			negativeTTL:   c.opts.TypeLookupNegativeTTL,
			maxFiles:      c.opts.MaxFiles,
			maxMethods:    c.opts.MaxMethods,
			maxBytes:      c.opts.MaxBytes,
			md:            md,
		},
		endpointsC: make(chan struct{}, 1),
		demandC:    make(chan struct{}, 1),
		fetchedC:   make(chan struct{}, 1),
	}
}

// fetchShared fetches the upstream's descriptors, joining a fetch already in
// flight (singleflight) instead of starting another.
func (u *upstream) fetchShared() (*Snapshot, error) {
	u.waiters.Add(1)
	defer u.waiters.Add(-1)
	v, err, _ := u.group.Do("fetch", u.fetchOnce)
	if err != nil {
		return nil, err
	}
	return v.(*Snapshot), nil
}

// fetchOnce does one fetch and records its outcome: state, stats,
// history, and, when the hash changed and the guard lets it, the new
// snapshot and the notification of subscribers.
func (u *upstream) fetchOnce() (any, error) {
	snap, rank, earlier, err := u.fetchSources()
	defer u.signalFetched()

	var after func() // logs and persists after unlocking: slow I/O never holds mu
	defer func() {
		if after != nil {
			after()
		}
	}()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.removed || u.ctx.Err() != nil {
		if u.c.ctx.Err() != nil {
			return nil, newError(u.name, codes.FailedPrecondition, "fetch abandoned: %w", ErrClosed)
		}
		return nil, newError(u.name, codes.NotFound, "fetch abandoned: removed: %w", ErrUnknownUpstream)
	}
	u.refreshes++
	log := u.c.log
	cur := u.snap.Load()
	if err == nil && rank > 0 && cur != nil && u.rank(cur) < rank {
		// A fallback never replaces a set from an earlier source.
		err = newError(u.name, codes.Unavailable, "%w; keeping the set from %s rather than the fallback's", earlier, cur.Source)
	}
	if err != nil {
		u.failures++
		u.consecutive++
		u.recordError(err)
		prev := u.state
		u.state = StateFailed
		if cur != nil {
			u.state = StateStale
		}
		ev := log.Debug()
		if prev != u.state {
			ev = log.Warn()
		}
		ev = ev.Str("upstream", u.name).Str("state", u.state.String()).Int("consecutive_failures", u.consecutive).Err(err)
		after = func() { ev.Msg("reflection fetch failed") }
		return nil, err
	}

	if earlier != nil { // served by a fallback: say why, without counting a failure
		u.recordError(newError(u.name, codes.Unavailable, "%w; served from %s", earlier, snap.Source))
	}
	prev := u.state
	u.consecutive = 0
	u.state = StateReady
	u.fetchedAt = snap.FetchedAt
	u.endpoint = snap.Endpoint
	u.duration = snap.FetchDuration
	v := u.observe(snap)
	if v != nil && v.Previous != "" {
		u.changes[b2i(v.Breaking)]++
		ev := log.Info()
		if v.Breaking {
			ev = log.Warn()
		}
		var lines []string
		for _, c := range v.changes[:min(len(v.changes), 50)] {
			lines = append(lines, c.String())
		}
		ev = ev.Str("upstream", u.name).Str("from", v.Previous).Str("to", v.Hash).Bool("breaking", v.Breaking).
			Int("changes", len(v.changes)).Strs("change_list", lines)
		after = func() { ev.Msg("schema changed: " + v.Summary) }
	}
	switch {
	case cur != nil && cur.Hash == snap.Hash:
		if u.held != nil {
			ev := log.Info().Str("upstream", u.name).Str("held", u.held.Hash).Str("hash", cur.Hash)
			after = then(after, func() { ev.Msg("the upstream serves the adopted schema again; the held one is dropped") })
			u.held = nil
		} else if prev != StateReady {
			ev := log.Info().Str("upstream", u.name).Str("hash", cur.Hash)
			after = then(after, func() { ev.Msg("reflection recovered, descriptors unchanged") })
		}
		return cur, nil
	case u.held != nil && u.held.Hash == snap.Hash:
		return cur, nil // still held
	case cur != nil && u.o.HoldBreaking:
		if changes := u.changesFrom(cur, snap, v); schemadiff.Breaking(changes) {
			u.held, u.heldSince, u.heldChanges = snap, u.c.opts.Now(), changes
			ev := log.Warn().Str("upstream", u.name).Str("hash", snap.Hash).Str("serving", cur.Hash)
			after = then(after, func() {
				ev.Msg("breaking schema held: routes keep the serving schema until it is approved (POST /admin/descriptors/" + u.name + "/approve) or reverted")
			})
			return cur, nil
		}
	}
	after = u.adopt(snap, after)
	return snap, nil
}

// adopt makes snap the upstream's snapshot and tells subscribers; it
// returns what to run once mu is released: then, the log line and the
// persisting. u.mu held.
func (u *upstream) adopt(snap *Snapshot, then func()) func() {
	cur := u.snap.Load()
	u.snap.Store(snap)
	u.held, u.heldChanges = nil, nil
	ev := u.c.log.Info().Str("upstream", u.name).Str("hash", snap.Hash).Str("source", string(snap.Source)).Strs("services", snap.ServiceNames()).
		Int("methods", snap.MethodCount()).Str("endpoint", snap.Endpoint).Str("fetch_duration", snap.FetchDuration.Round(time.Microsecond).String())
	if cur != nil {
		ev = ev.Str("previous_hash", cur.Hash)
	}
	u.c.publish(u.name, snap)
	return func() {
		if then != nil {
			then()
		}
		ev.Msg("descriptors changed")
		u.persist()
	}
}

// recordError keeps a failed fetch's error for Stats and Problem. u.mu
// held.
func (u *upstream) recordError(err error) {
	u.lastErr = err.Error()
	u.lastCause = u.lastErr
	if e, ok := err.(*Error); ok {
		u.lastCause = oneLine(e.Err.Error())
	}
	u.lastErrAt = u.c.opts.Now()
}

// then runs a, then b; either may be nil.
func then(a, b func()) func() {
	if a == nil {
		return b
	}
	return func() { a(); b() }
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (u *upstream) signalFetched() {
	select {
	case u.fetchedC <- struct{}{}:
	default:
	}
}

// run is the upstream's goroutine: the first fetch at once, then periodic
// refreshes (jittered RefreshInterval) while healthy, backoff (RetryMin
// doubling to RetryMax, jittered) while failing, and the fetches asked for by
// EndpointsChanged (after EndpointSettle) and RequestRefresh (at most one per
// OnDemandInterval). Any finished fetch, including one started by Refresh,
// reschedules the next periodic one.
func (u *upstream) run() {
	defer u.c.wg.Done()
	defer close(u.done)
	o := &u.c.opts

	periodic := time.NewTimer(0)
	defer periodic.Stop()
	var settle, deferred *time.Timer // armed while non-nil
	defer func() {
		if settle != nil {
			settle.Stop()
		}
		if deferred != nil {
			deferred.Stop()
		}
	}()
	timerC := func(t *time.Timer) <-chan time.Time {
		if t == nil {
			return nil
		}
		return t.C
	}
	var lastDemand time.Time

	for {
		fetched := false
		select {
		case <-u.ctx.Done():
			return
		case <-periodic.C:
			fetched = u.fetchFromLoop()
		case <-u.endpointsC:
			if settle == nil {
				settle = time.NewTimer(o.EndpointSettle)
			}
		case <-timerC(settle):
			settle = nil
			fetched = u.fetchFromLoop()
		case <-u.demandC:
			if deferred != nil {
				break // a deferred on-demand fetch is already scheduled
			}
			now := o.Now()
			if wait := lastDemand.Add(o.OnDemandInterval).Sub(now); !lastDemand.IsZero() && wait > 0 {
				deferred = time.NewTimer(wait)
				break
			}
			lastDemand = now
			fetched = u.fetchFromLoop()
		case <-timerC(deferred):
			deferred = nil
			lastDemand = o.Now()
			fetched = u.fetchFromLoop()
		case <-u.fetchedC:
			fetched = true
		}
		if fetched && u.ctx.Err() == nil {
			periodic.Reset(u.nextDelay())
		}
	}
}

// fetchFromLoop runs a fetch from the loop and swallows the signal it raises
// itself; it always reports true.
func (u *upstream) fetchFromLoop() bool {
	_, _ = u.fetchShared() // the outcome is recorded (and logged) by fetchOnce
	select {
	case <-u.fetchedC:
	default:
	}
	return true
}

// nextDelay is the wait before the next periodic fetch.
func (u *upstream) nextDelay() time.Duration {
	u.mu.Lock()
	n := u.consecutive
	u.mu.Unlock()
	o := &u.c.opts
	if n == 0 {
		return jitter(o.RefreshInterval)
	}
	return backoff(o.RetryMin, o.RetryMax, n)
}

func (u *upstream) stats() Stats {
	u.mu.Lock()
	snap := u.snap.Load() // stored under mu: consistent with the state
	s := Stats{
		Upstream:      u.name,
		State:         u.state,
		FetchedAt:     u.fetchedAt,
		Endpoint:      u.endpoint,
		LastError:     u.lastErr,
		LastErrorAt:   u.lastErrAt,
		FetchDuration: u.duration,
		Refreshes:     u.refreshes,
		Failures:      u.failures,
		SchemaChanges: u.changes,
	}
	if snap != nil {
		s.Source = snap.Source
	}
	if u.held != nil {
		s.Held = &Held{Hash: u.held.Hash, Since: u.heldSince, Changes: u.heldChanges}
	}
	u.mu.Unlock()
	if snap != nil {
		s.Hash = snap.Hash
		s.Services = snap.ServiceNames()
		s.Methods = snap.MethodCount()
		s.MethodNames = snap.MethodNames()
	}
	return s
}
