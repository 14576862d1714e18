package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/gateway/compress"
	"github.com/refract-gateway/refract/gateway/grpcproxy"
	"github.com/refract-gateway/refract/gateway/observe"
	"github.com/refract-gateway/refract/gateway/products"
	"github.com/refract-gateway/refract/gateway/stream"
	"github.com/refract-gateway/refract/gateway/transform"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/openapi"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
)

// Gateway is a configured refract: upstream connections, the descriptor
// cache, the current route table and the handler that serves them. Create
// it with New, serve it by mounting Handler (a server of listeners,
// reloads and drains does), read its state through the exported read
// model (Routes, Upstreams, Breakers, Cache …), and Close it when done.
// Safe for concurrent use.
type Gateway struct {
	log     zerolog.Logger
	now     func() time.Time
	cache   *reflection.Cache
	limits  Limits // defaults applied
	release func() // Options.Release; nil: none

	auto       *AutoExposeOptions // nil: no auto-exposure
	configured map[string]bool    // names of Options.Upstreams

	upMu sync.Mutex
	ups  []*upstream // configured in order, then auto-exposed

	pol        livePolicies
	validation transcode.Validation         // buf.validate rules of requests
	edge       atomic.Pointer[http.Handler] // the policies before the route match, then serveMatch
	compress   *compress.Responses          // HTTP+JSON responses' compression; nil: none
	middleware []func(http.Handler) http.Handler
	refl       reflection.Options // the cache's, for Update's first fetches
	updMu      sync.Mutex         // one Update at a time
	releases   []func()           // Release of each Update's options; guarded by updMu

	routes   router.Holder[*route]
	buildMu  sync.Mutex
	built    map[string]*upstreamRoutes // guarded by buildMu
	refused  []RefusedRoute             // by the last build; guarded by buildMu
	buildErr atomic.Pointer[error]
	routed   atomic.Pointer[map[string]bool] // upstreams whose routes the current table serves
	// autoSynced: the auto-exposure catalog watch has answered once (a
	// reload waits for it).
	autoSynced atomic.Bool

	ctx    context.Context // ends with Close; parent of every background task
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closeMu orders closeLater's wg.Add before Close's cancel and wait.
	closeMu sync.Mutex

	streams stream.Tracker   // streams in flight: per-client limits, ended on shutdown
	codec   *transcode.Codec // upstream calls: pre-encoded wire bytes, fast-path counters
	xfStats transform.Stats  // the edits routes' transforms made, across rebuilds
	// unaryOpts are the call options of every unary call, built once: the
	// codec and the response size limit (per call, so reflection on the
	// same connection keeps grpc-go's own bound).
	unaryOpts []grpc.CallOption
	bodies    policy.BodyBuffers     // unary request bodies, recycled once decoded to wire bytes
	mds       policy.MetadataMaps    // unary calls' outgoing metadata, recycled after the call
	prod      products.State[*route] // products' tables and listener addresses
	docs      *openapi.Server        // the live OpenAPI documents; nil when off
	composer  Composer               // Options.Composer; nil: none

	// The RPC protocols: the gRPC proxy, the gRPC-Web and Connect
	// converter of the current routes, each product's gRPC paths → routes,
	// and the reflection service (nil when not served) and its chain.
	rpc     *grpcproxy.Proxy
	web     atomic.Pointer[http.Handler]
	grpcIdx atomic.Pointer[map[string]map[string]*route]
	reflect atomic.Pointer[http.Handler] // the reflection service's chain, over the current policies
	served  *grpcproxy.Reflection

	// What New's options injected.
	obs      Observer          // never nil: observe.Nop without one
	dialOpts []grpc.DialOption // added to every upstream connection
}

// New builds a Gateway from o, dials every upstream (without waiting:
// connections and descriptors arrive in the background) and starts
// watching endpoints and descriptors. It serves nothing until its Handler
// is mounted. On error, everything o carries that needs closing (its
// Policies, its Release) has been closed.
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
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{log: o.Logger, now: o.Now, cache: cache, limits: o.Limits.withDefaults(),
		release: o.Release, auto: o.AutoExpose, built: map[string]*upstreamRoutes{},
		configured: map[string]bool{}, ctx: ctx, cancel: cancel, codec: codec, refl: ro, middleware: oo.middleware, composer: o.Composer}
	g.docs = g.newOpenAPIServer(o.OpenAPI)
	g.applyOptions(oo)
	g.prod.Init(o.Products)
	vlog := o.Logger.With().Str("component", "validate").Logger()
	g.validation.OnStartError = func(err error) {
		vlog.Error().Err(err).Msg("edge validation is off: protovalidate could not start")
	}
	g.unaryOpts = []grpc.CallOption{grpc.ForceCodecV2(codec), grpc.MaxCallRecvMsgSize(g.limits.ResponseBytes)}
	g.newRPC(o.ServeReflection)
	g.compress = o.Compression
	g.pol.start(g, o.Policies)
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
			var why []string // the dial or reflection error, not just the deadline
			for _, name := range missing {
				if p := g.cache.Problem(name); p != "" {
					why = append(why, p)
				}
			}
			return fmt.Errorf("gateway: upstreams without descriptors: %v (%s): %w", missing, strings.Join(why, "; "), ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// Cache exposes the descriptor cache (stats, forced refreshes).
func (g *Gateway) Cache() *reflection.Cache { return g.cache }

// Close stops background work and closes upstream connections. In-flight
// calls on those connections fail; call it once nothing serves Handler.
func (g *Gateway) Close() error {
	g.closeMu.Lock()
	g.cancel()
	g.closeMu.Unlock()
	g.wg.Wait()
	g.rpc.Stop()
	err := g.cache.Close()
	g.buildMu.Lock()
	for _, u := range g.upstreamList() {
		u.conns.ForgetSchemas(g.cache)
		if cerr := u.conns.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if u.pred != nil { // replaced by u, which had no descriptors yet
			_ = u.pred.conns.Close()
		}
	}
	g.buildMu.Unlock()
	_ = g.pol.stop(nil)
	if g.release != nil {
		g.release()
	}
	g.updMu.Lock()
	for _, f := range g.releases {
		f()
	}
	g.updMu.Unlock()
	return err
}

// FastPathStats returns the counters of requests and responses transcoded
// directly between JSON and wire bytes and of those that fell back to
// protojson. Safe for concurrent use.
func (g *Gateway) FastPathStats() transcode.FastPathSnapshot {
	return g.codec.Stats().Snapshot()
}

// TransformStats counts routes' transform edits (wire, dynamic); safe for concurrent use.
func (g *Gateway) TransformStats() transform.Snapshot { return g.xfStats.Snapshot() }

// applyOptions keeps what New's options inject, with their defaults.
func (g *Gateway) applyOptions(o options) {
	g.obs, g.dialOpts = o.observer, o.dialOpts
	if g.obs == nil {
		g.obs = observe.Nop{}
	}
}
