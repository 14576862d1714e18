package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
)

// Gateway is a configured refract: upstream connections, the descriptor
// cache, the current route table and the handlers that serve them. Create
// it with New, serve it with Serve, through a Server (which reloads it) or
// by mounting Handler and AdminHandler yourself, and Close it when done.
// Safe for concurrent use.
type Gateway struct {
	log       zerolog.Logger
	now       func() time.Time
	cache     *reflection.Cache
	limits    Limits // defaults applied
	described any    // Options.Described
	shutdown  time.Duration
	tlsCert   string
	tlsKey    string
	release   func() // Options.Release; nil: none

	auto       *AutoExposeOptions // nil: no auto-exposure
	configured map[string]bool    // names of Options.Upstreams

	upMu sync.Mutex
	ups  []*upstream // configured in order, then auto-exposed

	pol        Policies
	validation edgeValidation // buf.validate rules of requests
	edge       http.Handler   // the policies before the route match, then serveMatch

	routes   router.Holder[*route]
	buildMu  sync.Mutex
	built    map[string]*upstreamRoutes // guarded by buildMu
	buildErr atomic.Pointer[buildError]
	routed   atomic.Pointer[map[string]bool] // upstreams whose routes the current table serves
	// autoSynced: the auto-exposure catalog watch has answered once (a
	// reload waits for it).
	autoSynced atomic.Bool

	ctx      context.Context // ends with Close; parent of every background task
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	draining atomic.Bool
	serving  atomic.Bool

	streams openStreams      // streams in flight: per-client limits, ended on shutdown
	codec   *transcode.Codec // upstream calls: pre-encoded wire bytes, fast-path counters
	// unaryOpts are the call options of every unary call, built once: the
	// codec and the response size limit (per call, so reflection on the
	// same connection keeps grpc-go's own bound).
	unaryOpts []grpc.CallOption
	prod      productState // products' tables and listeners
	metrics   *Metrics     // this gateway's registry and series
	docs      *openapiDocs // the live OpenAPI document; nil when off
	tracing   *tracing     // nil when off
}

// New builds a Gateway from o, dials every upstream (without waiting:
// connections and descriptors arrive in the background) and starts
// watching endpoints and descriptors. It serves nothing until Serve or
// until its handlers are mounted. On error, everything o carries that
// needs closing (its Policies, its Release) has been closed.
func New(o Options, opts ...Option) (*Gateway, error) {
	var oo options
	for _, opt := range opts {
		opt.apply(&oo)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policies == nil {
		o.Policies = noPolicies{log: o.Logger}
	}
	fail := func(err error) (*Gateway, error) {
		_ = o.Policies.Close()
		if o.Release != nil {
			o.Release()
		}
		return nil, err
	}
	if o.AutoExpose != nil && (o.AutoExpose.Services == nil || o.AutoExpose.Upstream == nil) {
		return fail(errors.New("gateway: auto-exposure needs Services and Upstream"))
	}
	ro := o.Reflection
	ro.Logger = o.Logger
	cache, err := reflection.NewCache(ro)
	if err != nil {
		return fail(err)
	}
	codec, err := transcode.NewCodec(nil)
	if err != nil {
		cache.Close()
		return fail(err)
	}
	tr, err := newTracing(o.Tracing, oo.spanExporter)
	if err != nil {
		cache.Close()
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{log: o.Logger, now: o.Now, cache: cache, limits: o.Limits.withDefaults(o.Upstreams),
		described: o.Described, shutdown: o.ShutdownTimeout, tlsCert: o.TLSCertFile, tlsKey: o.TLSKeyFile,
		release: o.Release, auto: o.AutoExpose, built: map[string]*upstreamRoutes{},
		configured: map[string]bool{}, ctx: ctx, cancel: cancel, pol: o.Policies, codec: codec,
		docs: newOpenAPIDocs(o.OpenAPI), tracing: tr}
	g.prod.init(o.Products)
	g.validation.log = o.Logger.With().Str("component", "validate").Logger()
	if g.metrics, err = newMetrics(g, o.Now); err != nil {
		tr.shutdown()
		cache.Close()
		cancel()
		return fail(err)
	}
	g.unaryOpts = []grpc.CallOption{grpc.ForceCodecV2(codec), grpc.MaxCallRecvMsgSize(g.limits.ResponseBytes)}
	g.edge = edgeHandler(g.pol, g.guard(http.HandlerFunc(g.serveMatch)), g.metrics.observe)
	if tr != nil {
		g.edge = tr.serverHandler(g.edge)
	}
	g.wg.Add(1)
	go func() { defer g.wg.Done(); g.pol.Run(ctx) }()
	// Subscribe before adding upstreams so no first fetch is missed.
	cache.Subscribe(func(string, *reflection.Snapshot) { g.rebuildRoutes() })
	for _, uo := range o.Upstreams {
		g.configured[uo.Conn.Name] = true
		if err := g.addUpstream(uo, false); err != nil {
			g.Close()
			return nil, err
		}
	}
	if g.auto != nil {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.autoExpose(ctx)
		}()
	}
	return g, nil
}

// Handler is the public HTTP handler: every route, nothing of the admin API.
func (g *Gateway) Handler() http.Handler { return g }

// Ready reports whether the routes of every configured, non-optional
// upstream are being served, and which are not. (Auto-exposed upstreams
// come and go, so they never hold readiness.)
func (g *Gateway) Ready() (bool, []string) {
	var routed map[string]bool
	if p := g.routed.Load(); p != nil {
		routed = *p
	}
	var missing []string
	for _, u := range g.upstreamList() {
		if !u.o.Optional && !u.auto && !routed[u.name] {
			missing = append(missing, u.name)
		}
	}
	return len(missing) == 0, missing
}

// WaitReady blocks until Ready or ctx ends.
func (g *Gateway) WaitReady(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if ok, missing := g.Ready(); ok {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("gateway: upstreams without descriptors: %v: %w", missing, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// Cache exposes the descriptor cache (stats, forced refreshes).
func (g *Gateway) Cache() *reflection.Cache { return g.cache }

// Serve serves the public listener pub and the admin listener adm (nil:
// none), and opens the products' own listeners, until ctx is done; then it
// shuts down gracefully: listeners close, /readyz turns 503, and in-flight
// requests get up to ShutdownTimeout to finish. It serves this config
// only, with no reload and no drain period; the refract command runs a
// Server, which has both.
func (g *Gateway) Serve(ctx context.Context, pub, adm net.Listener) error {
	servers := []*http.Server{g.newServer(g)}
	listeners := []net.Listener{pub}
	if adm != nil {
		servers = append(servers, g.newServer(g.AdminHandler()))
		listeners = append(listeners, adm)
	}
	extra, handlers, err := g.openProductListeners()
	if err != nil {
		for _, l := range listeners {
			_ = l.Close()
		}
		return err
	}
	for i, l := range extra {
		servers = append(servers, g.newServer(handlers[i]))
		listeners = append(listeners, l)
	}
	errc := make(chan error, len(servers))
	// The listeners are open, so connections queue from here on.
	g.serving.Store(true)
	for i, s := range servers {
		go func() {
			var err error
			if i == 0 && g.tlsCert != "" && g.tlsKey != "" {
				err = s.ServeTLS(listeners[i], g.tlsCert, g.tlsKey)
			} else {
				err = s.Serve(listeners[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	g.log.Info().Str("listen", pub.Addr().String()).Str("admin", addrOf(adm)).Msg("refract serving")
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	g.draining.Store(true)
	g.streams.endAll(errShuttingDown())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), g.shutdown)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil && runErr == nil {
			runErr = fmt.Errorf("gateway: shutdown: %w", err)
		}
	}
	return runErr
}

func addrOf(l net.Listener) string {
	if l == nil {
		return "off"
	}
	return l.Addr().String()
}

func (g *Gateway) newServer(h http.Handler) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true) // h2c, for gRPC-style clients and load balancers
	s := &http.Server{
		Handler:   h,
		Protocols: &protocols,
		ErrorLog:  newStdLogger(g.log),
	}
	g.applyLimits(s) // timeouts, header bytes, HTTP/2 streams
	return s
}

// Close stops background work and closes upstream connections. In-flight
// calls on those connections fail; call it after Serve has returned.
func (g *Gateway) Close() error {
	g.cancel()
	g.wg.Wait()
	err := g.cache.Close()
	g.buildMu.Lock()
	for _, u := range g.upstreamList() {
		u.conns.ForgetSchemas(g.cache)
		if cerr := u.conns.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	g.buildMu.Unlock()
	_ = g.pol.Close()
	if g.release != nil {
		g.release()
	}
	if terr := g.tracing.shutdown(); terr != nil && err == nil {
		err = terr
	}
	return err
}

// FastPathStats returns the counters of requests and responses transcoded
// directly between JSON and wire bytes and of those that fell back to
// protojson. Safe for concurrent use.
func (g *Gateway) FastPathStats() transcode.FastPathSnapshot {
	return g.codec.Stats().Snapshot()
}
