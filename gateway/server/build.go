package server

import (
	"crypto/tls"
	"errors"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/setup"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/refract-gateway/refract/policy"
	"github.com/rs/zerolog"
)

// built is what one config read becomes: the config, its logger and TLS
// certificate, and its Gateway with the metrics and tracing it reports to.
type built struct {
	cfg     *config.Config
	log     zerolog.Logger
	tls     *tls.Config // the public listener's; nil: plain
	admin   adminListener
	gw      *gateway.Gateway
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing // nil when off
	// access takes the access log off the request path; nil when the
	// access log is off or the logger was given (tests read it at once).
	access *policy.LogQueue
}

// build is what every config read goes through, at start and on reload:
// validated whole (with the override), its TLS certificate loaded, and its
// Gateway built with a registry and a tracer provider of its own.
func (o *Options) build(data configsource.Data) (*built, error) {
	cfg, err := parseConfigData(data, o.Override)
	if err != nil {
		return nil, err
	}
	b := &built{cfg: cfg}
	if b.tls, err = serverTLS(cfg); err != nil {
		return nil, err
	}
	if b.admin, err = newAdminListener(cfg); err != nil {
		return nil, err
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
	mo := telemetry.MetricsOptions{MaxRouteSeries: cfg.Limits.MaxRouteSeries, Build: o.Build}
	if d := o.accessDropped; d != nil {
		mo.AccessLogDropped = func() float64 { return float64(d.Load()) }
	}
	if b.metrics, err = telemetry.NewMetrics(mo); err != nil {
		return nil, errors.Join(err, b.closeAccess())
	}
	if b.tracing, err = telemetry.NewTracing(tracingOptions(cfg, o)); err != nil {
		return nil, errors.Join(err, b.closeAccess())
	}
	opts := []gateway.Option{gateway.WithObserver(b.metrics)}
	if b.tracing != nil {
		opts = append(opts, gateway.WithMiddleware(b.tracing.Middleware), gateway.WithDialOptions(b.tracing.DialOptions()...))
	}
	gopts, err := setup.New(cfg, extra)
	if err != nil {
		return nil, errors.Join(err, b.tracing.Shutdown(), b.closeAccess())
	}
	if b.gw, err = gateway.New(gopts, append(opts, o.GatewayOptions...)...); err != nil {
		return nil, errors.Join(err, b.tracing.Shutdown(), b.closeAccess())
	}
	if err := b.metrics.Watch(b.gw); err != nil {
		return nil, errors.Join(err, b.close())
	}
	return b, nil
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
