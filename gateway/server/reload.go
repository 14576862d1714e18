package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/refract-gateway/refract/gateway/admin"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// ConfigStatus is what a Server says of its config: the version it runs
// and how reloads went. The JSON of GET /admin/reload.
type ConfigStatus struct {
	// Version is the first 12 hex digits of the SHA-256 of the config's
	// bytes: instances running the same config show the same version.
	Version string `json:"version"`
	// Source is where the config was read; ModifyIndex is the Consul KV
	// index of the key's write (0 for a file).
	Source      string `json:"source"`
	ModifyIndex uint64 `json:"modify_index,omitempty"`
	// LoadedAt is when the running config was swapped in.
	LoadedAt time.Time `json:"loaded_at"`
	// ReloadsOK and ReloadsFailed count reload attempts since the start.
	ReloadsOK     uint64 `json:"reloads_ok"`
	ReloadsFailed uint64 `json:"reloads_failed"`
	// LastError is why the last refused config was refused, with its
	// version and time; empty when no reload has failed.
	LastError        string     `json:"last_error,omitempty"`
	LastErrorAt      *time.Time `json:"last_error_at,omitempty"`
	LastErrorVersion string     `json:"last_error_version,omitempty"`
}

// ConfigStatus returns the version running and the reload counts. Safe
// for concurrent use.
func (s *Server) ConfigStatus() ConfigStatus {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	return s.status
}

// errStopping refuses a reload once the drain has begun.
var errStopping = errors.New("server: reload refused: the gateway is stopping")

// Reload reads the config from the source again and applies it, even when
// its bytes are unchanged (a SIGHUP also re-reads TLS certificates and
// re-dials the upstreams). It returns why it was refused; the previous
// config then keeps serving. Safe for concurrent use; reloads run one at a
// time.
func (s *Server) Reload(ctx context.Context) error {
	data, err := s.opts.Source.Read(ctx)
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.refuse(configsource.Data{Source: s.opts.Source.String()}, err)
	}
	return s.apply(ctx, data, true)
}

// Apply swaps the gateway to data, as a reload of those bytes would: the
// admin API's entry point once it has validated a change and written it
// to the source; who names the change in the log. It returns why the
// config was refused; the previous one then keeps serving. Safe for
// concurrent use; applies run one at a time.
func (s *Server) Apply(ctx context.Context, data configsource.Data, who string) error {
	s.log().Info().Str("who", who).Str("version", data.Version()).Msg("applying a config changed through the admin API")
	return s.apply(ctx, data, true)
}

// runningConfig is the config data and config being served.
func (s *Server) runningConfig() (configsource.Data, *config.Config) {
	gen := s.cur.Load()
	return gen.data, gen.cfg
}

// traffic is the requests answered and those answered 5xx by the
// current config, for the gray release's automatic abort.
func (s *Server) traffic() (requests, errors uint64) {
	st := s.Metrics().Stats()
	for _, r := range st.Routes {
		errors += r.ServerErrors
	}
	return st.Requests.Total, errors
}

// parse validates config bytes sent to the admin API as a reload would.
func (s *Server) parse(b []byte) (*config.Config, error) {
	return parseConfigData(configsource.Data{Bytes: b, Source: "config"}, s.opts.Override)
}

// apply validates data whole, builds its Gateway, waits until the
// required upstreams have descriptors (bounded by reload.ready_timeout),
// opens the listeners whose address changed, swaps, and retires the old
// generation. Any failure before the swap keeps the old config serving
// and is logged and counted. Without force, bytes already tried are
// skipped: a file watch sees a save several times.
func (s *Server) apply(ctx context.Context, data configsource.Data, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return errStopping
	}
	version := data.Version()
	if !force && version == s.cur.Load().data.Version() {
		// Back to the bytes running (or the same bytes written again): a
		// later retry of a refused config is tried anew.
		s.tried = version
		if data.ModifyIndex != 0 {
			s.stMu.Lock()
			s.status.ModifyIndex = data.ModifyIndex
			s.stMu.Unlock()
		}
		return nil
	}
	if !force && version == s.tried {
		return nil
	}
	s.tried = version
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.reloadCtx, cancel)() // the drain ends a reload's wait

	b, err := s.opts.build(data)
	if err != nil {
		return s.refuse(data, err)
	}
	cfg := b.cfg
	wctx, wcancel := context.WithTimeout(ctx, time.Duration(cfg.Reload.ReadyTimeout))
	err = b.gw.WaitReady(wctx)
	if err == nil {
		waitAutoExposed(wctx, s.cur.Load().built, b)
	}
	wcancel()
	if err != nil {
		b.close()
		if s.reloadCtx.Err() != nil {
			return errStopping
		}
		return s.refuse(data, fmt.Errorf("reload.ready_timeout (%s) passed: %w", time.Duration(cfg.Reload.ReadyTimeout), err))
	}
	var plan *listenPlan
	if s.running {
		if plan, err = s.openListeners(cfg); err != nil {
			b.close()
			return s.refuse(data, err)
		}
	}
	gen := s.newGeneration(b, data)
	old := s.cur.Load()
	st := s.ConfigStatus() // s.status changes only under s.mu, held here
	st.Version, st.Source, st.ModifyIndex = version, data.Source, data.ModifyIndex
	st.ReloadsOK++
	b.metrics.SeedConfig(st.Version, st.ReloadsOK, st.ReloadsFailed)
	s.tlsConf.Store(b.tls)
	s.adminConf.Store(b.admin.tls)
	s.cur.Store(gen)
	if plan != nil {
		s.commitListeners(plan, gen)
	}
	s.retiring[old] = true
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		old.drainAndClose(time.Duration(old.cfg.ShutdownTimeout), errReloaded())
		s.mu.Lock()
		delete(s.retiring, old)
		s.mu.Unlock()
	}()

	st.LoadedAt = s.opts.Now()
	s.stMu.Lock()
	s.status = st
	s.stMu.Unlock()
	b.log.Info().Str("config", data.Source).Str("version", version).Uint64("modify_index", data.ModifyIndex).
		Str("previous", old.data.Version()).Msg("config reloaded")
	warnOpenAdmin(gen)
	if s.opts.OnReload != nil {
		s.opts.OnReload(true, st)
	}
	return nil
}

// refuse records a failed reload: logged, counted, and the old config
// keeps serving. Call with s.mu held.
func (s *Server) refuse(data configsource.Data, err error) error {
	err = fmt.Errorf("reload refused: %w", err)
	version := ""
	if data.Bytes != nil {
		version = data.Version()
	}
	now := s.opts.Now()
	s.stMu.Lock()
	s.status.ReloadsFailed++
	s.status.LastError, s.status.LastErrorAt, s.status.LastErrorVersion = err.Error(), &now, version
	st := s.status
	s.stMu.Unlock()
	s.cur.Load().metrics.ConfigReloaded(false)
	s.log().Error().Err(err).Str("config", data.Source).Str("refused_version", version).
		Str("running_version", st.Version).Msg("config refused; the previous config keeps serving")
	if s.opts.OnReload != nil {
		s.opts.OnReload(false, st)
	}
	return err
}

// serveReload answers GET /admin/reload with the ConfigStatus, and POST
// /admin/reload by reading the config again and applying it: 200 with the
// new status, or a google.rpc.Status saying why it was refused
// (FAILED_PRECONDITION, 400; UNAVAILABLE, 503, while stopping).
func (s *Server) serveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		admin.WriteJSON(w, http.StatusOK, s.ConfigStatus())
		return
	}
	// A reload, once asked for, runs to its end even if the client leaves.
	switch err := s.Reload(context.WithoutCancel(r.Context())); {
	case errors.Is(err, errStopping):
		rpcstatus.WriteStatus(w, http.StatusServiceUnavailable, codes.Unavailable, err.Error())
	case err != nil:
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.FailedPrecondition, err.Error())
	default:
		admin.WriteJSON(w, http.StatusOK, s.ConfigStatus())
	}
}

// waitAutoExposed waits, until ctx ends, for the new config b to serve
// again the auto-exposed upstreams that old serves and Consul still
// lists, so that a reload does not hide them for the time of a discovery
// and a reflection. Unlike a configured upstream, one that does not come
// back does not refuse the reload (its service may be leaving); it is
// logged.
func waitAutoExposed(ctx context.Context, old, b *built) {
	if b.cfg.Consul == nil || b.cfg.Consul.AutoExpose == nil {
		return
	}
	var names []string
	_, served := old.gw.AutoExposed()
	for name, routed := range served {
		if routed {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		pending := names
		if synced, routed := b.gw.AutoExposed(); synced {
			pending = nil
			for _, n := range names {
				if r, listed := routed[n]; listed && !r {
					pending = append(pending, n)
				}
			}
		}
		if len(pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			b.log.Warn().Strs("upstreams", pending).Msg("reload: auto-exposed upstreams not routed yet by the new config; swapping anyway")
			return
		case <-t.C:
		}
	}
}
