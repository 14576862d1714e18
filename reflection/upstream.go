package reflection

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// upstream is one entry of a Cache: its connection, its last good snapshot,
// its state, and the goroutine (run) that refreshes it.
type upstream struct {
	c       *Cache
	name    string
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
	lastErrAt   time.Time
	fetchedAt   time.Time
	endpoint    string
	duration    time.Duration
	refreshes   uint64
	failures    uint64
}

func newUpstream(c *Cache, name string, conn grpc.ClientConnInterface) *upstream {
	ctx, cancel := context.WithCancel(c.ctx)
	return &upstream{
		c:      c,
		name:   name,
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

// fetchOnce does one fetch and records its outcome: state, stats, the new
// snapshot when the hash changed, and the notification of subscribers.
func (u *upstream) fetchOnce() (any, error) {
	ctx, cancel := context.WithTimeout(u.ctx, u.c.opts.FetchTimeout)
	defer cancel()
	snap, err := u.fetcher.fetch(ctx, u.conn)
	defer u.signalFetched()

	var logOutcome func() // logged after unlocking: a slow log writer never holds mu
	defer func() {
		if logOutcome != nil {
			logOutcome()
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
	if err != nil {
		u.failures++
		u.consecutive++
		u.lastErr = err.Error()
		u.lastErrAt = u.c.opts.Now()
		prev := u.state
		u.state = StateFailed
		if u.snap.Load() != nil {
			u.state = StateStale
		}
		ev := log.Debug()
		if prev != u.state {
			ev = log.Warn()
		}
		ev = ev.Str("upstream", u.name).Str("state", u.state.String()).Int("consecutive_failures", u.consecutive).Err(err)
		logOutcome = func() { ev.Msg("reflection fetch failed") }
		return nil, err
	}

	prev := u.state
	u.consecutive = 0
	u.state = StateReady
	u.fetchedAt = snap.FetchedAt
	u.endpoint = snap.Endpoint
	u.duration = snap.FetchDuration
	cur := u.snap.Load()
	if cur != nil && cur.Hash == snap.Hash {
		if prev != StateReady {
			ev := log.Info().Str("upstream", u.name).Str("hash", cur.Hash)
			logOutcome = func() { ev.Msg("reflection recovered, descriptors unchanged") }
		}
		return cur, nil
	}
	u.snap.Store(snap)
	ev := log.Info().Str("upstream", u.name).Str("hash", snap.Hash).Strs("services", snap.ServiceNames()).
		Int("methods", snap.MethodCount()).Str("endpoint", snap.Endpoint).Str("fetch_duration", snap.FetchDuration.Round(time.Microsecond).String())
	if cur != nil {
		ev = ev.Str("previous_hash", cur.Hash)
	}
	logOutcome = func() { ev.Msg("descriptors changed") }
	u.c.publish(u.name, snap)
	return snap, nil
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
