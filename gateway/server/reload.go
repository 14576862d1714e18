package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/refract-gateway/refract/gateway/telemetry"
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
// its bytes are unchanged (a SIGHUP also re-reads the listeners' TLS
// certificates, and dials again the upstreams whose TLS files changed).
// It returns why it was refused; the previous config then keeps serving. Safe for concurrent use; reloads run one at a
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

// apply validates data whole and applies it differentially when it can:
// the running Gateway takes the new upstreams and policies (Gateway.Update:
// unchanged upstreams keep their connections, descriptors and streams;
// policy state and metrics carry over). A config that changes what Update
// cannot (see setup.Updatable) gets a Gateway of its own, which waits
// until its required upstreams have descriptors; the old generation then
// drains. Either way, listeners whose address changed are opened, the
// generation is swapped, and any failure before the swap keeps the old
// config serving and is logged and counted. Without force, bytes already tried are
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

	old := s.cur.Load()
	b, err := s.build(data, old.built)
	if err != nil {
		return s.refuse(data, err)
	}
	var plan *listenPlan
	if b.update != nil {
		plan, err = s.update(ctx, b)
	} else {
		plan, err = s.rebuild(ctx, b, old.built)
	}
	if err != nil {
		if s.reloadCtx.Err() != nil {
			return errStopping
		}
		return s.refuse(data, err)
	}
	gen := s.newGeneration(b, data)
	st := s.ConfigStatus() // s.status changes only under s.mu, held here
	st.Version, st.Source, st.ModifyIndex = version, data.Source, data.ModifyIndex
	st.ReloadsOK++
	s.metrics.SetMaxRouteSeries(b.cfg.Limits.MaxRouteSeries)
	s.metrics.SetConfigVersion(st.Version)
	s.metrics.ConfigReloaded(true)
	s.tlsConf.Store(b.tls)
	s.adminConf.Store(b.admin.tls)
	s.cur.Store(gen)
	if plan != nil {
		s.commitListeners(plan, gen)
	}
	if b.update != nil {
		// Its requests run on, on the same Gateway; its access log is
		// written out once they are done.
		old.retire()
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			<-old.idle
			_ = old.closeAccess()
		}()
	} else {
		s.retiring[old] = true
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			old.drainAndClose(time.Duration(old.cfg.ShutdownTimeout), errReloaded())
			s.mu.Lock()
			delete(s.retiring, old)
			s.mu.Unlock()
		}()
	}

	st.LoadedAt = s.opts.Now()
	s.stMu.Lock()
	s.status = st
	s.stMu.Unlock()
	how := "rebuilt" // a new Gateway: every upstream dialled and reflected anew
	if b.update != nil {
		how = "updated" // the running Gateway: only what changed was rebuilt
	}
	b.log.Info().Str("config", data.Source).Str("version", version).Uint64("modify_index", data.ModifyIndex).
		Str("previous", old.data.Version()).Str("gateway", how).Msg("config reloaded")
	warnOpenAdmin(gen)
	if s.opts.OnReload != nil {
		s.opts.OnReload(true, st)
	}
	return nil
}

// update applies b to the running Gateway: the listeners b needs are
// opened first (so that nothing fails after the Gateway took the change),
// then Gateway.Update, which waits, up to reload.ready_timeout, for the
// descriptors of the upstreams it builds anew, and changes nothing when
// they do not come. Call with s.mu held.
func (s *Server) update(ctx context.Context, b *built) (*listenPlan, error) {
	var plan *listenPlan
	if s.running {
		var err error
		if plan, err = s.openListeners(b.cfg); err != nil {
			discard(*b.update)
			_ = b.closeAccess()
			return nil, err
		}
	}
	wait := time.Duration(b.cfg.Reload.ReadyTimeout)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := b.gw.Update(wctx, *b.update); err != nil {
		_ = b.closeAccess()
		if plan != nil {
			plan.abort()
		}
		if wctx.Err() != nil {
			err = fmt.Errorf("reload.ready_timeout (%s) passed: %w", wait, err)
		}
		return nil, err
	}
	// The new upstreams answered; their routes are built from the
	// descriptors the Gateway fetches now, in a moment.
	_ = b.gw.WaitReady(wctx)
	return plan, nil
}

// rebuild readies b's own Gateway, which replaces old's: it waits, up to
// reload.ready_timeout, for its upstreams' descriptors, then opens the
// listeners b needs. On failure b is closed. Call with s.mu held.
func (s *Server) rebuild(ctx context.Context, b *built, old *built) (*listenPlan, error) {
	wait := time.Duration(b.cfg.Reload.ReadyTimeout)
	wctx, cancel := context.WithTimeout(ctx, wait)
	err := b.gw.WaitReady(wctx)
	if err == nil {
		waitAutoExposed(wctx, old, b)
	}
	cancel()
	if err != nil {
		b.close()
		return nil, fmt.Errorf("reload.ready_timeout (%s) passed: %w", wait, err)
	}
	var plan *listenPlan
	if s.running {
		if plan, err = s.openListeners(b.cfg); err != nil {
			b.close()
			return nil, err
		}
	}
	if err := s.metrics.Watch(b.gw); err != nil {
		if plan != nil {
			plan.abort()
		}
		b.close()
		return nil, err
	}
	return plan, nil
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
	s.metrics.ConfigReloaded(false)
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

// stats is the admin stats view of b: its metrics' view with the recent
// history, and a refused reload among the problems (the running config
// is older than what the source holds).
func (s *Server) stats(b *built) telemetry.Stats {
	st := b.metrics.Stats()
	s.history.Annotate(&st)
	cs := s.ConfigStatus()
	if cs.LastErrorAt != nil && cs.LastErrorAt.After(cs.LoadedAt) {
		st.Problems = append(st.Problems, telemetry.Problem{Severity: "warning", Kind: "config_reload", Subject: cs.Source,
			Message: "config " + cs.LastErrorVersion + " was refused; version " + cs.Version + " is still served: " + cs.LastError,
			Since:   *cs.LastErrorAt})
		telemetry.SortProblems(st.Problems)
	}
	// An instance running a gray release's candidate says so: its errors
	// may be the candidate's, and promote or abort decide what runs next.
	if gen := s.cur.Load(); gen != nil && gen.data.Track == "candidate" {
		st.Problems = append(st.Problems, telemetry.Problem{Severity: "warning", Kind: "gray_release", Subject: cs.Source,
			Message: "this instance runs the gray release's candidate config " + cs.Version + " (promote or abort it in the config view)",
			Since:   cs.LoadedAt})
		telemetry.SortProblems(st.Problems)
	}
	return st
}
