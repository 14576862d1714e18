package gateway

import (
	"net/http"
	"time"

	"google.golang.org/grpc"
)

// Option changes how New builds a Gateway: what it reports to, what wraps
// its public handler, how it dials, which clock it reads. Without any, a
// Gateway observes nothing and wraps nothing.
type Option interface{ apply(*options) }

type options struct {
	observer   Observer
	middleware []func(http.Handler) http.Handler
	dialOpts   []grpc.DialOption
	now        func() time.Time
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithObserver reports the request path to obs (metrics). Default none:
// nothing is observed and the request path pays nothing for it.
func WithObserver(obs Observer) Option {
	return optionFunc(func(o *options) { o.observer = obs })
}

// WithMiddleware wraps the whole public handler in mw, outermost: it sees
// every request before any policy (a tracing server span, say). Several
// are applied in order, the last outermost. Default none.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return optionFunc(func(o *options) { o.middleware = append(o.middleware, mw) })
}

// WithDialOptions adds dial options to every upstream connection (a
// tracing stats handler, say). Default none.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(o *options) { o.dialOpts = append(o.dialOpts, opts...) })
}

// WithClock sets the clock request durations are measured with. Default
// time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}
