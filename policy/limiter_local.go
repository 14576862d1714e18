package policy

import (
	"container/list"
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LocalLimiter keeps token buckets in this process (golang.org/x/time/rate).
// A bucket untouched for longer than it takes to refill (and at least
// Idle) is evicted: a full bucket and no bucket admit the same, so eviction
// changes no answer. The number of buckets is capped (DefaultMaxBuckets):
// a flood of distinct keys (client addresses through a trusted proxy, an
// IPv6 prefix) would otherwise grow memory without bound until the sweep.
// At the cap, the bucket seen longest ago is dropped for the new one, as
// nginx's limit_req zones do: that client, if it comes back, starts again
// from a full bucket. Safe for concurrent use.
type LocalLimiter struct {
	idle      time.Duration
	max       int
	now       func() time.Time
	mu        sync.Mutex
	buckets   map[string]*bucket
	recent    list.List // of *bucket, the most recently seen first
	lastSweep time.Time
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
	full time.Duration // time to refill from empty
	elem *list.Element // in LocalLimiter.recent
}

// DefaultMaxBuckets caps a LocalLimiter's buckets unless
// NewLocalLimiterSize says otherwise: 200–300 bytes each, so 20–30 MB.
const DefaultMaxBuckets = 100_000

// NewLocalLimiter makes a limiter that sweeps idle buckets every idle
// (default 1m) and keeps at most DefaultMaxBuckets. now is the clock
// (time.Now when nil).
func NewLocalLimiter(idle time.Duration, now func() time.Time) *LocalLimiter {
	return NewLocalLimiterSize(idle, DefaultMaxBuckets, now)
}

// NewLocalLimiterSize is NewLocalLimiter keeping at most maxBuckets
// buckets (DefaultMaxBuckets when not positive).
func NewLocalLimiterSize(idle time.Duration, maxBuckets int, now func() time.Time) *LocalLimiter {
	if idle <= 0 {
		idle = time.Minute
	}
	if maxBuckets <= 0 {
		maxBuckets = DefaultMaxBuckets
	}
	if now == nil {
		now = time.Now
	}
	return &LocalLimiter{idle: idle, max: maxBuckets, now: now, buckets: map[string]*bucket{}, lastSweep: now()}
}

// Allow takes one token from key's bucket.
func (l *LocalLimiter) Allow(_ context.Context, key string, lim Limit) (Decision, error) {
	now := l.now()
	every := lim.Period / time.Duration(lim.Rate)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.idle {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b != nil && !b.counts(every, lim.Burst) {
		// The rule's limit changed (a reload): its clients start again
		// from a full bucket of the new size.
		l.remove(b)
		b = nil
	}
	if b == nil {
		if len(l.buckets) >= l.max {
			l.remove(l.recent.Back().Value.(*bucket))
		}
		b = &bucket{key: key, lim: rate.NewLimiter(rate.Every(every), lim.Burst), full: every * time.Duration(lim.Burst)}
		b.elem = l.recent.PushFront(b)
		l.buckets[key] = b
	} else {
		l.recent.MoveToFront(b.elem)
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); !res.OK() || d > 0 {
		res.CancelAt(now)
		return Decision{Allowed: false, RetryAfter: d, ResetAfter: b.full}, nil
	}
	tokens := b.lim.TokensAt(now)
	return Decision{
		Allowed:    true,
		Remaining:  int(tokens),
		ResetAfter: time.Duration((float64(lim.Burst) - tokens) * float64(every)),
	}, nil
}

// Peek reports whether key's bucket holds a token, taking none (and
// making no bucket: an unknown key is a full bucket).
func (l *LocalLimiter) Peek(_ context.Context, key string, lim Limit) (Decision, error) {
	now := l.now()
	every := lim.Period / time.Duration(lim.Rate)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil || !b.counts(every, lim.Burst) {
		return Decision{Allowed: true, Remaining: lim.Burst}, nil
	}
	tokens := b.lim.TokensAt(now)
	reset := time.Duration((float64(lim.Burst) - tokens) * float64(every))
	if tokens < 1 {
		return Decision{RetryAfter: time.Duration((1 - tokens) * float64(every)), ResetAfter: reset}, nil
	}
	return Decision{Allowed: true, Remaining: int(tokens), ResetAfter: reset}, nil
}

// counts reports whether the bucket counts the limit of one token every
// every with burst: a bucket made under another limit does not.
func (b *bucket) counts(every time.Duration, burst int) bool {
	return b.lim.Limit() == rate.Every(every) && b.lim.Burst() == burst
}

func (l *LocalLimiter) sweep(now time.Time) {
	for _, b := range l.buckets {
		if idle := now.Sub(b.seen); idle > l.idle && idle > b.full {
			l.remove(b)
		}
	}
	l.lastSweep = now
}

func (l *LocalLimiter) remove(b *bucket) {
	delete(l.buckets, b.key)
	l.recent.Remove(b.elem)
}

// Len is the number of live buckets (for tests and the admin API).
func (l *LocalLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
