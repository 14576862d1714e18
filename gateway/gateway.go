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
	"github.com/rs/zerolog"
)

// Gateway is a configured refract: upstream connections, the descriptor
// cache, the current route table and the handlers that serve them. Create
// it with New, serve with Run (or mount Handler and AdminHandler yourself),
// and Close it when done. Safe for concurrent use.
type Gateway struct {
	cfg       *Config
	log       zerolog.Logger
	cache     *reflection.Cache
	upstreams []*upstream // in config order; fixed for the gateway's life

	routes   router.Holder[*route]
	buildMu  sync.Mutex
	built    map[string]*upstreamRoutes // guarded by buildMu
	buildErr atomic.Pointer[buildError]
	routed   atomic.Pointer[map[string]bool] // upstreams whose routes the current table serves

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	draining atomic.Bool
	serving  atomic.Bool

	streams openStreams // streams in flight: per-client limits, ended on shutdown
}

// New validates cfg, dials every upstream (without waiting: connections and
// descriptors arrive in the background) and starts watching endpoints and
// descriptors. It serves nothing until Run or until its handlers are mounted.
func New(cfg *Config, log zerolog.Logger) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cache, err := reflection.NewCache(reflection.Options{
		Logger:          log.With().Str("component", "reflection").Logger(),
		RefreshInterval: time.Duration(cfg.Reflection.RefreshInterval),
		FetchTimeout:    time.Duration(cfg.Reflection.FetchTimeout),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{cfg: cfg, log: log, cache: cache, built: map[string]*upstreamRoutes{}, cancel: cancel}
	for _, uc := range cfg.Upstreams {
		u, err := newUpstream(uc)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.upstreams = append(g.upstreams, u)
	}
	// Subscribe before adding upstreams so no first fetch is missed.
	cache.Subscribe(func(string, *reflection.Snapshot) { g.rebuildRoutes() })
	for _, u := range g.upstreams {
		if err := cache.Add(u.name, u.conn); err != nil {
			g.Close()
			return nil, err
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			first := true
			u.watch(ctx, func() {
				// The first set is what the cache is already fetching with;
				// later changes may bring instances with a new schema.
				if !first {
					g.cache.EndpointsChanged(u.name)
				}
				first = false
			})
		}()
	}
	return g, nil
}

// Handler is the public HTTP handler: every route, nothing of the admin API.
func (g *Gateway) Handler() http.Handler { return g }

// Ready reports whether the routes of every non-optional upstream are being
// served, and which are not.
func (g *Gateway) Ready() (bool, []string) {
	var routed map[string]bool
	if p := g.routed.Load(); p != nil {
		routed = *p
	}
	var missing []string
	for _, u := range g.upstreams {
		if !u.cfg.Optional && !routed[u.name] {
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

// Run serves the public and admin listeners until ctx is done, then shuts
// down gracefully: listeners close, /readyz turns 503, and in-flight
// requests get up to ShutdownTimeout to finish.
func (g *Gateway) Run(ctx context.Context) error {
	pub, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	var adm net.Listener
	if g.cfg.Admin != "off" {
		if adm, err = net.Listen("tcp", g.cfg.Admin); err != nil {
			pub.Close()
			return fmt.Errorf("gateway: admin listen: %w", err)
		}
	}
	return g.Serve(ctx, pub, adm)
}

// Serve is Run on listeners the caller opened (adm may be nil).
func (g *Gateway) Serve(ctx context.Context, pub, adm net.Listener) error {
	servers := []*http.Server{g.newServer(g)}
	listeners := []net.Listener{pub}
	if adm != nil {
		servers = append(servers, g.newServer(g.AdminHandler()))
		listeners = append(listeners, adm)
	}
	errc := make(chan error, len(servers))
	// The listeners are open, so connections queue from here on.
	g.serving.Store(true)
	for i, s := range servers {
		go func() {
			var err error
			if i == 0 && g.cfg.TLS != nil {
				err = s.ServeTLS(listeners[i], g.cfg.TLS.Cert, g.cfg.TLS.Key)
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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Duration(g.cfg.ShutdownTimeout))
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
	return &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(g.log),
	}
}

// Close stops background work and closes upstream connections. In-flight
// calls on those connections fail; call it after Run has returned.
func (g *Gateway) Close() error {
	g.cancel()
	g.wg.Wait()
	err := g.cache.Close()
	for _, u := range g.upstreams {
		if cerr := u.conn.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}
