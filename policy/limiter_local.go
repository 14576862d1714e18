package policy

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LocalLimiter keeps token buckets in this process (golang.org/x/time/rate).
// A bucket untouched for longer than it takes to refill (and at least
// Idle) is evicted: a full bucket and no bucket admit the same, so eviction
// changes no answer. Safe for concurrent use.
type LocalLimiter struct {
	idle      time.Duration
	now       func() time.Time
	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
	full time.Duration // time to refill from empty
}

// NewLocalLimiter makes a limiter that sweeps idle buckets every idle
// (default 1m). now is the clock (time.Now when nil).
func NewLocalLimiter(idle time.Duration, now func() time.Time) *LocalLimiter {
	if idle <= 0 {
		idle = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &LocalLimiter{idle: idle, now: now, buckets: map[string]*bucket{}, lastSweep: now()}
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
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Every(every), lim.Burst), full: every * time.Duration(lim.Burst)}
		l.buckets[key] = b
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

func (l *LocalLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if idle := now.Sub(b.seen); idle > l.idle && idle > b.full {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// Len is the number of live buckets (for tests and the admin API).
func (l *LocalLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
