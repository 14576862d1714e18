package stream

import (
	"context"
	"sync"

	"github.com/refract-gateway/refract/policy"
)

// Tracker tracks the streams in flight: how many each client holds
// open per upstream, for streams.max_per_client, and how to end them all
// when the gateway shuts down (a stream never finishes on its own, so
// waiting for it would only run out the shutdown grace). The zero value is
// ready; safe for concurrent use. A mutex is fine here: it is taken a few
// times per stream, never per message.
type Tracker struct {
	policy.Slots[string] // "upstream client-ip" → open streams (Acquire, Release)

	mu       sync.Mutex
	cancels  map[*context.CancelCauseFunc]struct{}
	ended    bool
	endCause error
}

// Track registers a stream's cancel function until the returned untrack is
// called. After EndAll, it cancels the stream at once.
func (o *Tracker) Track(cancel context.CancelCauseFunc) (untrack func()) {
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

// EndAll cancels every stream, now and from now on, with cause.
func (o *Tracker) EndAll(cause error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended, o.endCause = true, cause
	for c := range o.cancels {
		(*c)(cause)
	}
}

// Count is the number of streams in flight (HTTP and WebSocket).
func (o *Tracker) Count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.cancels)
}
