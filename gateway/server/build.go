package server

import (
	"net/http"

	"crypto/tls"
	"errors"
	"github.com/refract-gateway/refract/gateway/admin"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/setup"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/policy"
	"github.com/rs/zerolog"
)

// built is what one config read becomes: the config, its logger and TLS
// certificate, and the Gateway that serves it with the tracing it reports
// to. Configs that differ only in what Gateway.Update applies share one
// Gateway (and its tracing): update then holds the options the running
// Gateway is to take.
type built struct {
	cfg     *config.Config
	log     zerolog.Logger
	tls     *tls.Config // the public listener's; nil: plain
	admin   adminListener
	gw      *gateway.Gateway
	metrics *telemetry.Metrics // the Server's, for its lifetime
	tracing *telemetry.Tracing // nil when off
	docs    http.Handler       // the public API documentation page; nil when off
	update  *gateway.Options   // non-nil: gw is prev's, to be updated with these
	// consumers are the config's API-key consumers, for their quotas in
	// the admin API; nil without.
	consumers *policy.Consumers
	// access takes the access log off the request path; nil when the
	// access log is off or the logger was given (tests read it at once).
	// Each config has its own (an update's too).
	access *policy.LogQueue
}

// build is what every config read goes through, at start and on reload:
// validated whole (with the override), its TLS certificate loaded, and
// its gateway options translated with the policy state of the process.
// When prev (the running config) can take it through Gateway.Update, the
// result shares prev's Gateway and holds the update; otherwise it holds a
// Gateway of its own, with a tracer provider of its own, reporting to the
// Server's metrics.
func (s *Server) build(data configsource.Data, prev *built) (*built, error) {
	o := &s.opts
	cfg, err := parseConfigData(data, o.Override)
	if err != nil {
		return nil, err
	}
	b := &built{cfg: cfg, metrics: s.metrics}
	if s.cur.Load() == nil {
		// The first config's cap holds before its first routes compile
		// (they may, as soon as the gateway is built); a reload's is set
		// when it is taken.
		s.metrics.SetMaxRouteSeries(cfg.Limits.MaxRouteSeries)
	}
	if b.tls, err = serverTLS(cfg); err != nil {
		return nil, err
	}
	if b.admin, err = newAdminListener(cfg); err != nil {
		return nil, err
	}
	if p := cfg.OpenAPI.DocsPath; p != "" {
		if b.docs, err = admin.Docs(p, cfg.OpenAPI.ServedPath()); err != nil {
			return nil, err
		}
	}
	extra := setup.Extra{}
	if o.Logger != nil {
		b.log = *o.Logger
	} else {
		out := logOutput(cfg.Log, o.LogOutput)
		b.log = newLogger(cfg.Log, out)
		if on := cfg.AccessLog.Enabled; on == nil || *on {
			b.access = policy.NewLogQueue(out, policy.LogQueueOptions{
				Lines: cfg.AccessLog.QueueLines, PerLine: cfg.Log.Format == "console", Dropped: o.accessDropped})
			access := b.log.Output(b.access)
			extra.AccessLog = &access
		}
	}
	extra.Logger = b.log
	if s.state == nil {
		s.state = setup.NewState(b.log)
	}
	extra.State = s.state
	extra.Checks = s.metrics
	gopts, err := setup.New(cfg, extra)
	if err != nil {
		return nil, errors.Join(err, b.closeAccess())
	}
	b.consumers = setup.ConsumersOf(gopts.Policies)
	if prev != nil && setup.Updatable(prev.cfg, cfg) {
		b.gw, b.tracing, b.update = prev.gw, prev.tracing, &gopts
		return b, nil
	}
	if b.tracing, err = telemetry.NewTracing(tracingOptions(cfg, o)); err != nil {
		discard(gopts)
		return nil, errors.Join(err, b.closeAccess())
	}
	opts := []gateway.Option{gateway.WithObserver(b.metrics)}
	if b.tracing != nil {
		opts = append(opts, gateway.WithMiddleware(b.tracing.Middleware), gateway.WithDialOptions(b.tracing.DialOptions()...))
	}
	if b.gw, err = gateway.New(gopts, append(opts, o.GatewayOptions...)...); err != nil {
		return nil, errors.Join(err, b.tracing.Shutdown(), b.closeAccess())
	}
	return b, nil
}

// discard releases gateway options no Gateway took.
func discard(o gateway.Options) {
	if o.Policies != nil {
		_ = o.Policies.Close()
	}
	if o.Release != nil {
		o.Release()
	}
}

// tracingOptions are the config's tracing options, with the exporter a
// test or benchmark asked for.
func tracingOptions(cfg *config.Config, o *Options) telemetry.TracingOptions {
	t := setup.Tracing(cfg.Tracing)
	t.Exporter = o.SpanExporter
	return t
}

// close closes the Gateway, then flushes its spans and access log.
func (b *built) close() error {
	err := b.gw.Close()
	if terr := b.tracing.Shutdown(); terr != nil && err == nil {
		err = terr
	}
	return errors.Join(err, b.closeAccess())
}

// closeAccess writes out the access log's queued lines.
func (b *built) closeAccess() error {
	if b.access == nil {
		return nil
	}
	return b.access.Close()
}
