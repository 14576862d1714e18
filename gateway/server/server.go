package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/admin"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/setup"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/codes"
)

// Options configure a Server.
type Options struct {
	// Source is where the config is read and watched; required.
	Source configsource.Source
	// Override, when set, adjusts every config read (at start and on each
	// reload) before it is validated: the command line's -listen and
	// -admin, which let instances that share one config differ.
	Override func(*config.Config)
	// LogOutput receives the logs, in the format each config asks for;
	// default os.Stderr.
	LogOutput io.Writer
	// OnReload, when set, is called after each reload attempt with its
	// outcome and the status that follows (not for the first config: read
	// ConfigStatus after New). It runs on the reloading goroutine,
	// one call at a time; it must not call Reload.
	OnReload func(ok bool, st ConfigStatus)
	// Now is the clock of the status timestamps; default time.Now.
	Now func() time.Time

	// Logger, when set, is every config's logger instead of one built
	// from its log keys and LogOutput (tests).
	Logger *zerolog.Logger

	// accessDropped counts the access log lines dropped by the queues of
	// every config, for the lifetime of the process.
	accessDropped *atomic.Uint64
	// SpanExporter, when set, receives every config's spans as each ends
	// instead of OTLP, and turns tracing on (tests, benchmarks).
	SpanExporter sdktrace.SpanExporter
	// GatewayOptions are added to those of every Gateway built.
	GatewayOptions []gateway.Option
	// History configures the console's short history of rates and
	// latencies; the zero value is 15 minutes at 10 s.
	History telemetry.HistoryOptions
	// Build is the running binary's version, shown in the start log, on
	// /admin and as refract_build_info; default telemetry.ReadBuild's
	// reading of the binary.
	Build telemetry.Build
}

// Server is the refract process: it owns the listeners (public, admin,
// products' own) and serves them with the Gateway built from the current
// config (with its tracing and admin API), and changes on reload without
// dropping a request: the running Gateway takes what it can (Update: only
// what changed is rebuilt); otherwise a new Gateway is built and waits
// for its upstreams' descriptors before it takes over, and the old one
// finishes the requests it started before it closes. A listener whose
// address changed is opened before the old one is shut down gracefully.
// The metrics and the policy state live as long as the Server.
// On stop it drains: /readyz answers 503 for drain_period while requests
// are still served, then the listeners shut down gracefully. Create it
// with New, then Run it once. Safe for concurrent use.
type Server struct {
	opts Options
	cur  atomic.Pointer[generation] // the request path's only shared read

	// What outlives configs: the metrics (one registry, every series
	// carried on) and the policy state (buckets, breakers, key sets).
	metrics *telemetry.Metrics
	state   *setup.State

	tlsConf   atomic.Pointer[tls.Config] // the public listener's; nil: plain
	adminConf atomic.Pointer[tls.Config] // the admin listener's; nil: plain

	mu       sync.Mutex // reloads and listener changes, one at a time
	slots    map[string]*slot
	retiring map[*generation]bool // replaced, still finishing their requests
	running  bool                 // Run has opened the listeners
	tried    string

	listening    atomic.Bool     // Run has opened the listeners (for /readyz)
	draining     atomic.Bool     // the drain has begun: no more reloads
	reloadCtx    context.Context // ends when the drain begins
	stopReloads  context.CancelFunc
	endDrain     chan struct{}
	endDrainOnce sync.Once
	errc         chan error     // a listener that failed while serving
	bg           sync.WaitGroup // retiring generations and servers

	stMu   sync.Mutex // status for readers; it is written with mu held too
	status ConfigStatus

	// history is the console's short history of rates and latencies; it
	// outlives reloads.
	history *telemetry.History

	control        *admin.Control  // the admin API's write side, across configs
	runtimeAtStart runtimeSettings // what unset runtime keys return to
}

// slot is one listener and the http.Server on it. The handler dispatches
// through the Server, so a slot survives reloads when its address does.
type slot struct {
	key  string // "public", "admin", "product NAME"
	addr string // as configured
	ln   net.Listener
	srv  *http.Server
}

// New reads the config from opts.Source, validates it and builds its
// Gateway (upstreams are dialled and reflected in the background). It
// opens no listener: Run does.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Source == nil {
		return nil, errors.New("server: needs a config source")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Build == (telemetry.Build{}) {
		opts.Build = telemetry.ReadBuild("", "", "")
	}
	opts.accessDropped = new(atomic.Uint64)
	data, err := opts.Source.Read(ctx)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, slots: map[string]*slot{}, retiring: map[*generation]bool{},
		endDrain: make(chan struct{}), errc: make(chan error, 1), runtimeAtStart: currentRuntime(),
		history: telemetry.NewHistory(opts.History)}
	dropped := opts.accessDropped
	if s.metrics, err = telemetry.NewMetrics(telemetry.MetricsOptions{Build: opts.Build,
		AccessLogDropped: func() float64 { return float64(dropped.Load()) }}); err != nil {
		return nil, err
	}
	b, err := s.build(data, nil)
	if err != nil {
		return nil, err
	}
	if err := s.metrics.Watch(b.gw); err != nil {
		return nil, errors.Join(err, b.close())
	}
	s.reloadCtx, s.stopReloads = context.WithCancel(context.Background())
	if s.control, err = admin.NewControl(admin.ControlOptions{Source: opts.Source, Running: s.runningConfig, Parse: s.parse,
		Apply: s.Apply, Logger: s.Logger, Now: opts.Now}); err != nil {
		return nil, errors.Join(err, b.close())
	}
	s.tlsConf.Store(b.tls)
	s.adminConf.Store(b.admin.tls)
	s.cur.Store(s.newGeneration(b, data))
	s.tried = data.Version()
	s.status = ConfigStatus{Version: data.Version(), Source: data.Source, ModifyIndex: data.ModifyIndex, LoadedAt: opts.Now()}
	s.metrics.SetConfigVersion(s.status.Version)
	return s, nil
}

// Gateway is the Gateway serving the current config. It changes on a
// reload that needs a new one (see setup.Updatable); others update it.
func (s *Server) Gateway() *gateway.Gateway { return s.cur.Load().gw }

// Config is the config being served (after the override). It changes on
// reload; callers must not modify it.
func (s *Server) Config() *config.Config { return s.cur.Load().cfg }

// Metrics are the Server's metrics: one registry for its lifetime, whose
// series carry on across reloads.
func (s *Server) Metrics() *telemetry.Metrics { return s.metrics }

// WaitReady blocks until Run has opened the listeners and the current
// Gateway is ready (see Gateway.Ready), or ctx ends.
func (s *Server) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.Addr("public") == "" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: listeners not open: %w", ctx.Err())
		case <-t.C:
		}
	}
	return s.Gateway().WaitReady(ctx)
}

// Addr is the address a listener serves on once Run has opened it:
// "public", "admin" or "product NAME"; "" when there is no such listener.
func (s *Server) Addr(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slots[key]; sl != nil {
		return sl.ln.Addr().String()
	}
	return ""
}

// Logger is the logger of the current config (its level and format
// follow reloads).
func (s *Server) Logger() zerolog.Logger { return s.cur.Load().log }

func (s *Server) log() *zerolog.Logger { return &s.cur.Load().log }

// Run opens the listeners, serves, and follows the config source for
// changes until ctx is done; then it drains (see Server) and returns nil
// after a clean shutdown. It returns early with the error when a listener
// cannot be opened or fails.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running || s.draining.Load() {
		s.mu.Unlock()
		return errors.New("server: Run called twice")
	}
	gen := s.cur.Load()
	plan, err := s.openListeners(gen.cfg)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.running = true
	s.listening.Store(true) // the listeners are open: connections queue from here on
	s.commitListeners(plan, gen)
	s.mu.Unlock()
	build := s.opts.Build
	s.log().Info().Str("listen", s.Addr("public")).Str("admin", s.Addr("admin")).
		Str("config", gen.data.Source).Str("version", gen.data.Version()).
		Str("refract_version", build.Version).Str("commit", build.Commit).Str("go_version", build.GoVersion).Msg("refract serving")
	warnOpenAdmin(gen)

	s.bg.Add(2)
	go func() {
		defer s.bg.Done()
		s.control.WatchRelease(s.reloadCtx, s.traffic)
	}()
	go func() {
		defer s.bg.Done()
		s.opts.Source.Watch(s.reloadCtx, *s.log(), func(d configsource.Data) { _ = s.apply(s.reloadCtx, d, false) })
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.history.Run(s.reloadCtx, func() *telemetry.Metrics { return s.cur.Load().metrics })
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-s.errc:
	}
	if err := s.stop(runErr == nil); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// EndDrain cuts the drain period short (a second SIGTERM): the graceful
// shutdown starts at once. Safe to call at any time, more than once.
func (s *Server) EndDrain() { s.endDrainOnce.Do(func() { close(s.endDrain) }) }

// Close closes the current Gateway (and flushes its spans); call it after
// Run has returned.
func (s *Server) Close() error {
	s.stopReloads()
	s.bg.Wait()
	return s.cur.Load().close()
}

// stop drains and shuts down. With drain false (a listener failed) the
// drain period is skipped.
func (s *Server) stop(drain bool) error {
	s.draining.Store(true) // /readyz: 503 from now on
	s.stopReloads()
	s.mu.Lock() // a reload in progress gives up (its context ended) before this returns
	gen := s.cur.Load()
	slots := make([]*slot, 0, len(s.slots))
	for _, sl := range s.slots {
		slots = append(slots, sl)
	}
	s.mu.Unlock()

	if period := gen.cfg.DrainFor(); drain && period > 0 {
		s.log().Info().Str("drain_period", period.String()).Msg("draining: /readyz answers 503; still serving")
		t := time.NewTimer(period)
		select {
		case <-t.C:
		case <-s.endDrain:
		}
		t.Stop()
	}
	s.log().Info().Msg("shutting down: listeners closed, in-flight requests finishing")
	gen.gw.EndStreams(errShuttingDown())
	s.mu.Lock()
	for old := range s.retiring { // their streams would hold the exit for their grace
		old.gw.EndStreams(errShuttingDown())
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(gen.cfg.ShutdownTimeout))
	defer cancel()
	errs := make(chan error, len(slots))
	for _, sl := range slots {
		go func() { errs <- shutdownSlot(ctx, sl) }()
	}
	var err error
	for range slots {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	s.bg.Wait()
	return err
}

// shutdownSlot closes the listener and waits for its requests, up to ctx;
// past it, connections are closed under them.
func shutdownSlot(ctx context.Context, sl *slot) error {
	err := sl.srv.Shutdown(ctx)
	if err != nil {
		_ = sl.srv.Close()
		return fmt.Errorf("server: shutdown of the %s listener: %w", sl.key, err)
	}
	return nil
}

// listenPlan is the listeners a config needs: kept ones, and new ones
// already open (so that a reload fails before the swap, not after).
type listenPlan struct {
	want   map[string]string // key → address
	opened map[string]*slot
}

// openListeners opens the listeners cfg needs and does not have yet. A
// listener whose configured address is unchanged is kept (it is not
// reopened: the port is in use by it). Call with s.mu held.
func (s *Server) openListeners(cfg *config.Config) (*listenPlan, error) {
	p := &listenPlan{want: map[string]string{"public": cfg.Listen}, opened: map[string]*slot{}}
	if cfg.Admin != "off" {
		p.want["admin"] = cfg.Admin
	}
	for _, pc := range cfg.Products {
		if pc.Listen != "" {
			p.want["product "+pc.Name] = pc.Listen
		}
	}
	for key, addr := range p.want {
		if old := s.slots[key]; old != nil && old.addr == addr {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			p.abort()
			return nil, fmt.Errorf("server: %s listener %s: %w", key, addr, err)
		}
		switch key {
		case "public":
			ln = &tlsSwitch{Listener: ln, conf: &s.tlsConf}
		case "admin":
			ln = &tlsSwitch{Listener: ln, conf: &s.adminConf}
		}
		p.opened[key] = &slot{key: key, addr: addr, ln: ln}
	}
	return p, nil
}

func (p *listenPlan) abort() {
	for _, sl := range p.opened {
		_ = sl.ln.Close()
	}
}

// commitListeners serves the plan's new listeners with gen's server
// settings and shuts down, gracefully and in the background, those the
// config no longer has. Call with s.mu held, after gen is current.
func (s *Server) commitListeners(p *listenPlan, gen *generation) {
	for key, sl := range p.opened {
		sl.srv = HTTPServer(gen.cfg, gen.log, s.handler(key))
		if old := s.slots[key]; old != nil {
			s.retireSlot(old, gen)
		}
		s.slots[key] = sl
		go func() {
			if err := sl.srv.Serve(sl.ln); !errors.Is(err, http.ErrServerClosed) {
				select {
				case s.errc <- fmt.Errorf("server: %s listener: %w", key, err):
				default:
				}
			}
		}()
		if key != "public" {
			gen.log.Info().Str("listener", key).Str("addr", sl.ln.Addr().String()).Msg("listener open")
		}
	}
	for key, old := range s.slots {
		if _, ok := p.want[key]; !ok {
			delete(s.slots, key)
			s.retireSlot(old, gen)
		}
	}
	addrs := map[string]string{}
	for _, pc := range gen.cfg.Products {
		if sl := s.slots["product "+pc.Name]; sl != nil {
			addrs[pc.Name] = sl.ln.Addr().String()
		}
	}
	gen.gw.SetProductAddrs(addrs)
}

// retireSlot shuts a listener down gracefully in the background: it stops
// accepting at once (its replacement is already open), and its requests
// finish within shutdown_timeout.
func (s *Server) retireSlot(old *slot, gen *generation) {
	grace := time.Duration(gen.cfg.ShutdownTimeout)
	gen.log.Info().Str("listener", old.key).Str("addr", old.ln.Addr().String()).Msg("listener closing (address changed)")
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := shutdownSlot(ctx, old); err != nil {
			gen.log.Warn().Err(err).Msg("old listener closed with requests still running")
		}
	}()
}

// handler is what a listener serves: it enters the current generation
// and hands the request to its Gateway.
func (s *Server) handler(key string) http.Handler {
	switch {
	case key == "public":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gen := s.enter(w)
			defer gen.leave()
			if gen.docs != nil && underDocs(r.URL.Path, gen.cfg.OpenAPI.DocsPath) {
				gen.docs.ServeHTTP(w, r)
				return
			}
			gen.gw.ServeHTTP(w, r)
		})
	case key == "admin":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gen := s.enter(nil)
			defer gen.leave()
			gen.admin.ServeHTTP(w, r)
		})
	default:
		name := key[len("product "):]
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gen := s.enter(w)
			defer gen.leave()
			h := gen.products[name]
			if h == nil { // the product left the config; its listener is closing
				rpcstatus.WriteStatus(w, http.StatusNotFound, codes.NotFound, "no product "+name+" on this listener")
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// enter counts a request into the current generation. A generation
// retires only after it stopped being current, so the loop ends at the
// next load. While draining, responses ask the client to close the
// connection (HTTP/2: GOAWAY), so it reconnects to an instance that is
// ready rather than reusing this one.
func (s *Server) enter(w http.ResponseWriter) *generation {
	if w != nil && s.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	for {
		if gen := s.cur.Load(); gen.enter() {
			return gen
		}
	}
}

// serverTLS loads the public listener's certificate; nil without tls.
func serverTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.TLS == nil {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("config: tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12}, nil
}

// tlsSwitch serves TLS or plain connections as the current config says,
// so that a reload can switch TLS on or rotate the certificate without
// reopening the port (the handshake runs later, in the connection's own
// goroutine).
type tlsSwitch struct {
	net.Listener
	conf *atomic.Pointer[tls.Config]
}

func (l *tlsSwitch) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc := l.conf.Load(); tc != nil {
		return tls.Server(c, tc), nil
	}
	return c, nil
}

// underDocs reports whether path is the documentation page's or one of
// its files'.
func underDocs(path, docs string) bool {
	return path == docs || strings.HasPrefix(path, docs+"/")
}
