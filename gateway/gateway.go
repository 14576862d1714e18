package gateway

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
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
	cfg   *config.Config
	log   zerolog.Logger
	cache *reflection.Cache

	consul     *api.Client     // nil without a consul: key
	consulTr   *http.Transport // the client's, closed on Close
	configured map[string]bool // upstream names from the config file

	upMu sync.Mutex
	ups  []*upstream // configured in config order, then auto-exposed

	pol  *policies    // built once from cfg
	edge http.Handler // the policies before the route match, then serveMatch

	routes   router.Holder[*route]
	buildMu  sync.Mutex
	built    map[string]*upstreamRoutes // guarded by buildMu
	buildErr atomic.Pointer[buildError]
	routed   atomic.Pointer[map[string]bool] // upstreams whose routes the current table serves
	// autoSynced: the auto-exposure catalog watch has answered once (a
	// reload waits for it).
	autoSynced atomic.Bool

	ctx    context.Context // ends with Close; parent of every background task
	cancel context.CancelFunc
	wg     sync.WaitGroup

	streams openStreams      // streams in flight: per-client limits, ended on shutdown
	codec   *transcode.Codec // upstream calls: pre-encoded wire bytes, fast-path counters
	// unaryOpts are the call options of every unary call, built once: the
	// codec and limits.max_response_bytes (per call, so reflection on the
	// same connection keeps grpc-go's own bound).
	unaryOpts []grpc.CallOption
	prod      productState // products' tables and listener addresses
	docs      *openapiDocs // the live OpenAPI document; nil when off

	// What New's options injected.
	obs      Observer          // never nil: nopObserver without one
	now      func() time.Time  // request durations
	dialOpts []grpc.DialOption // added to every upstream connection
}

// New validates cfg, dials every upstream (without waiting: connections and
// descriptors arrive in the background) and starts watching endpoints and
// descriptors. It serves nothing until its Handler is mounted.
func New(cfg *config.Config, log zerolog.Logger, opts ...Option) (*Gateway, error) {
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cache, err := reflection.NewCache(reflection.Options{
		Logger:          log,
		RefreshInterval: time.Duration(cfg.Reflection.RefreshInterval),
		FetchTimeout:    time.Duration(cfg.Reflection.FetchTimeout),
	})
	if err != nil {
		return nil, err
	}
	pol, err := buildPolicies(cfg, log)
	if err != nil {
		cache.Close()
		return nil, err
	}
	codec, err := transcode.NewCodec(nil)
	if err != nil {
		pol.close()
		cache.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{cfg: cfg, log: log, cache: cache, built: map[string]*upstreamRoutes{},
		configured: map[string]bool{}, ctx: ctx, cancel: cancel, pol: pol, codec: codec,
		docs: newOpenAPIDocs(cfg.OpenAPI)}
	g.applyOptions(o)
	g.unaryOpts = []grpc.CallOption{grpc.ForceCodecV2(codec), grpc.MaxCallRecvMsgSize(cfg.Limits.ResponseBytes())}
	g.edge = pol.edgeHandler(g.guard(http.HandlerFunc(g.serveMatch)), g.observe)
	for _, mw := range o.middleware {
		g.edge = mw(g.edge)
	}
	g.wg.Add(1)
	go func() { defer g.wg.Done(); pol.run(ctx) }()
	if cfg.Consul != nil {
		c := cfg.Consul
		if g.consul, g.consulTr, err = discovery.NewConsulClient(discovery.ConsulClientOptions{Address: c.Address,
			Token: c.Token, Datacenter: c.Datacenter, Namespace: c.Namespace, Partition: c.Partition}); err != nil {
			g.Close()
			return nil, err
		}
	}
	// Subscribe before adding upstreams so no first fetch is missed.
	cache.Subscribe(func(string, *reflection.Snapshot) { g.rebuildRoutes() })
	for _, uc := range cfg.Upstreams {
		g.configured[uc.Name] = true
		if err := g.addUpstream(uc, false); err != nil {
			g.Close()
			return nil, err
		}
	}
	if cfg.Consul != nil && cfg.Consul.AutoExpose != nil {
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
		if !u.cfg.Optional && !u.auto && !routed[u.name] {
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

// Close stops background work and closes upstream connections. In-flight
// calls on those connections fail; call it once nothing serves Handler.
func (g *Gateway) Close() error {
	g.cancel()
	g.wg.Wait()
	g.pol.close()
	err := g.cache.Close()
	g.buildMu.Lock()
	for _, u := range g.upstreamList() {
		u.conns.ForgetSchemas(g.cache)
		if cerr := u.conns.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	g.buildMu.Unlock()
	if g.consulTr != nil {
		g.consulTr.CloseIdleConnections()
	}
	return err
}

// FastPathStats returns the counters of requests and responses transcoded
// directly between JSON and wire bytes and of those that fell back to
// protojson. Safe for concurrent use.
func (g *Gateway) FastPathStats() transcode.FastPathSnapshot {
	return g.codec.Stats().Snapshot()
}

// applyOptions keeps what New's options inject, with their defaults.
func (g *Gateway) applyOptions(o options) {
	g.obs, g.now, g.dialOpts = o.observer, o.now, o.dialOpts
	if g.obs == nil {
		g.obs = nopObserver{}
	}
	if g.now == nil {
		g.now = time.Now
	}
}
