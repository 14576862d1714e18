package gateway

import (
	"context"
	"sync"

	"github.com/refract-gateway/refract/policy"
)

// openStreams tracks the streams in flight: how many each client holds
// open per upstream, for streams.max_per_client, and how to end them all
// when the gateway shuts down (a stream never finishes on its own, so
// waiting for it would only run out the shutdown grace). The zero value is
// ready; safe for concurrent use. A mutex is fine here: it is taken a few
// times per stream, never per message.
type openStreams struct {
	policy.Slots[string] // "upstream client-ip" → open streams (Acquire, Release)

	mu       sync.Mutex
	cancels  map[*context.CancelCauseFunc]struct{}
	ended    bool
	endCause error
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

// StreamsOpen is the number of streams in flight (HTTP and WebSocket).
// Safe for concurrent use.
func (g *Gateway) StreamsOpen() int { return g.streams.count() }

// EndStreams ends every stream in flight, and any opened from now on,
// with cause (a gRPC status error the clients read): a stream has no
// natural end a shutdown or a reload could wait for. Safe for concurrent
// use.
func (g *Gateway) EndStreams(cause error) { g.streams.endAll(cause) }

// count is the number of streams in flight.
func (o *openStreams) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.cancels)
}
