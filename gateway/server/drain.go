package server

import (
	"context"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/gateway/admin"
	"github.com/refract-gateway/refract/gateway/configsource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// generation is one config being served: the Gateway built from it (with
// its telemetry and admin API) and the requests running on it. A Server
// swaps generations on reload; the old one serves what it has started,
// then closes. The request path counts itself in and out with two atomic
// adds, no lock.
type generation struct {
	*built
	data     configsource.Data
	admin    http.Handler            // the admin API over gw, built once
	products map[string]http.Handler // product → handler of its own listener

	active  atomic.Int64 // requests in flight on gw
	retired atomic.Bool  // no new request may enter
	idle    chan struct{}
	once    sync.Once
}

func (s *Server) newGeneration(b *built, data configsource.Data) *generation {
	applyRuntime(b.cfg.Runtime, s.runtimeAtStart, b.log)
	gen := &generation{built: b, data: data, products: map[string]http.Handler{}, idle: make(chan struct{})}
	gen.admin = admin.Handler(admin.Options{Gateway: b.gw, Config: b.cfg, Metrics: b.metrics.Handler(),
		Stats: func() telemetry.Stats { return s.stats(b) }, History: s.history.View, Reload: http.HandlerFunc(s.serveReload),
		Listening: s.listening.Load, Draining: s.draining.Load, Access: b.admin.access, Build: s.opts.Build,
		Control: s.control, Consumers: func(ctx context.Context) telemetry.ConsumersView { return b.metrics.Consumers(ctx, b.consumers) }})
	for _, p := range b.cfg.Products {
		if p.Listen != "" {
			gen.products[p.Name] = b.gw.ProductHandler(p.Name)
		}
	}
	return gen
}

// enter counts a request in, unless the generation is retired. The add
// comes before the check and retire stores before it counts (both
// sequentially consistent), so either retire sees this request or this
// request sees retire: none slips past a drain.
func (gen *generation) enter() bool {
	gen.active.Add(1)
	if gen.retired.Load() {
		gen.leave()
		return false
	}
	return true
}

func (gen *generation) leave() {
	if gen.active.Add(-1) == 0 && gen.retired.Load() {
		gen.once.Do(func() { close(gen.idle) })
	}
}

// retire stops new requests from entering; idle closes once the last
// running one leaves.
func (gen *generation) retire() {
	gen.retired.Store(true)
	if gen.active.Load() == 0 {
		gen.once.Do(func() { close(gen.idle) })
	}
}

// errShuttingDown ends the streams in flight when the server shuts down,
// so that clients reconnect (to another instance) at once.
func errShuttingDown() error {
	return status.Error(codes.Unavailable, "the gateway is shutting down; open the stream again")
}

// errReloaded ends the streams still open on a retired generation once the
// grace has passed, so that clients open them again on the new config.
func errReloaded() error {
	return status.Error(codes.Unavailable, "the gateway reloaded its config; open the stream again")
}

// drainAndClose retires gen, lets its requests finish for up to grace,
// then ends its streams with a clean error (a stream has no natural end
// to wait for), waits for them to unwind, and closes the gateway.
func (gen *generation) drainAndClose(grace time.Duration, cause error) {
	gen.retire()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-gen.idle:
	case <-t.C:
		gen.gw.EndStreams(cause)
		// Unary calls still running have outlived the grace: closing the
		// upstream connections below fails them with UNAVAILABLE.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		select {
		case <-gen.idle:
		case <-ctx.Done():
		}
		cancel()
	}
	if err := gen.close(); err != nil {
		gen.log.Debug().Err(err).Msg("closing the previous config's gateway")
	}
}
