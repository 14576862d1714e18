package gateway

import (
	"context"
	"sync"
)

// openStreams tracks the streams in flight: how many each client holds
// open per upstream, for streams.max_per_client, and how to end them all
// when the gateway shuts down (a stream never finishes on its own, so
// waiting for it would only run out the shutdown grace). The zero value is
// ready; safe for concurrent use. A mutex is fine here: it is taken a few
// times per stream, never per message.
type openStreams struct {
	mu       sync.Mutex
	open     map[string]int // "upstream client-ip" → open streams
	cancels  map[*context.CancelCauseFunc]struct{}
	ended    bool
	endCause error
}

// acquire takes a slot for key unless limit (> 0) slots are taken already.
func (o *openStreams) acquire(key string, limit int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if limit > 0 && o.open[key] >= limit {
		return false
	}
	if o.open == nil {
		o.open = map[string]int{}
	}
	o.open[key]++
	return true
}

// release gives back a slot acquire took; the entry goes when it reaches
// zero, so the map holds only clients with open streams.
func (o *openStreams) release(key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.open[key]--; o.open[key] <= 0 {
		delete(o.open, key)
	}
}

// track registers a stream's cancel function until the returned untrack is
// called. After endAll, it cancels the stream at once.
func (o *openStreams) track(cancel context.CancelCauseFunc) (untrack func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		cancel(o.endCause)
		return func() {}
	}
	if o.cancels == nil {
		o.cancels = map[*context.CancelCauseFunc]struct{}{}
	}
	key := &cancel
	o.cancels[key] = struct{}{}
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.cancels, key)
	}
}

// endAll cancels every stream, now and from now on, with cause.
func (o *openStreams) endAll(cause error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended, o.endCause = true, cause
	for c := range o.cancels {
		(*c)(cause)
	}
}
