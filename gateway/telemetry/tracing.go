package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/refract-gateway/refract/policy"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// TracingOptions configure NewTracing: the tracing keys of the config, as
// plain values. What they leave unset comes from the standard OTEL_*
// environment variables.
type TracingOptions struct {
	// On turns tracing on (the config's enabled, or an otlp_endpoint).
	On bool
	// OTLPEndpoint is the collector: host:port, or a URL (https://
	// implies TLS); with protocol http a URL without a path gets
	// /v1/traces. Default: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT.
	OTLPEndpoint string
	// Protocol is grpc (the default) or http (OTLP/HTTP protobuf).
	Protocol string
	// Insecure sends spans without TLS.
	Insecure bool
	// SampleRatio is the share of new traces recorded, 0 to 1; nil:
	// OTEL_TRACES_SAMPLER, else every one.
	SampleRatio *float64
	// ServiceName is service.name; default OTEL_SERVICE_NAME, else
	// "refract".
	ServiceName string
	// Headers are sent with every export.
	Headers map[string]string
	// Exporter, when set, replaces the OTLP exporter, receives each span
	// as it ends, and turns tracing on (tests, benchmarks).
	Exporter sdktrace.SpanExporter
}

// Tracing is one gateway's OpenTelemetry setup: a tracer provider and
// propagator handed to the instrumentation explicitly, never installed as
// process globals, so two gateways in one process trace independently.
// Give Middleware to gateway.WithMiddleware and DialOptions to
// gateway.WithDialOptions. A nil *Tracing is tracing off: it wraps
// nothing and adds no option, so requests pay nothing. Safe for
// concurrent use.
type Tracing struct {
	tp   *sdktrace.TracerProvider
	prop propagation.TextMapPropagator
}

// NewTracing builds the exporter and provider from o (and the OTEL_*
// environment for what o leaves unset). It returns nil, and no error,
// when tracing is off: not asked for, or OTEL_SDK_DISABLED=true.
func NewTracing(o TracingOptions) (*Tracing, error) {
	exp, cfg := o.Exporter, o
	if exp == nil && (!cfg.On || strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true")) {
		// OTEL_SDK_DISABLED is the standard switch for turning tracing
		// off without touching the config file.
		return nil, nil
	}
	ctx := context.Background()
	var opts []sdktrace.TracerProviderOption
	if exp != nil {
		opts = append(opts, sdktrace.WithSyncer(exp))
	} else {
		e, err := newOTLPExporter(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("telemetry: tracing: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(e))
	}
	res, err := tracingResource(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("telemetry: tracing: %w", err)
	}
	opts = append(opts, sdktrace.WithResource(res))
	if r := cfg.SampleRatio; r != nil {
		// A request that arrives sampled (or not) keeps that decision, so
		// one trace is whole across services.
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*r))))
	}
	// Without a ratio the SDK reads OTEL_TRACES_SAMPLER(_ARG), else samples
	// every new trace and follows the parent's decision.
	return &Tracing{
		tp:   sdktrace.NewTracerProvider(opts...),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// newOTLPExporter is the OTLP trace exporter cfg asks for. Endpoint, TLS
// and headers it leaves unset come from OTEL_EXPORTER_OTLP_*, read by the
// exporter itself.
func newOTLPExporter(ctx context.Context, cfg TracingOptions) (sdktrace.SpanExporter, error) {
	protocol := cfg.Protocol
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if protocol == "" {
			protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
	}
	switch protocol {
	case "", "grpc":
		var opts []otlptracegrpc.Option
		if e := cfg.OTLPEndpoint; strings.Contains(e, "://") {
			opts = append(opts, otlptracegrpc.WithEndpointURL(e))
		} else if e != "" {
			opts = append(opts, otlptracegrpc.WithEndpoint(e))
		}
		if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(cfg.Headers))
		}
		return otlptracegrpc.New(ctx, opts...)
	case "http", "http/protobuf":
		var opts []otlptracehttp.Option
		if e := cfg.OTLPEndpoint; strings.Contains(e, "://") {
			if u, err := url.Parse(e); err == nil && (u.Path == "" || u.Path == "/") {
				// A collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT
				// is: traces go to its /v1/traces.
				e = strings.TrimSuffix(e, "/") + "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(e))
		} else if e != "" {
			opts = append(opts, otlptracehttp.WithEndpoint(e))
		}
		if cfg.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("OTLP protocol %q is not grpc or http/protobuf", protocol)
}

// tracingResource names the service: service_name, else OTEL_SERVICE_NAME
// (with OTEL_RESOURCE_ATTRIBUTES), else "refract".
func tracingResource(ctx context.Context, cfg TracingOptions) (*resource.Resource, error) {
	opts := []resource.Option{
		resource.WithAttributes(attribute.String("service.name", "refract")),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	}
	if cfg.ServiceName != "" {
		opts = append(opts, resource.WithAttributes(attribute.String("service.name", cfg.ServiceName)))
	}
	return resource.New(ctx, opts...)
}

// Middleware wraps the public handler in a server span per request.
// The span is named after the route the request matched, "GET
// /v1/{name=shelves/*}", with its template as http.route; a request that
// matched none keeps the method alone. The raw path never names a span,
// so names stay few whatever clients send. On a nil Tracing it returns
// next itself.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	named := policy.State()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		info := policy.InfoFrom(r.Context())
		if info == nil || info.Route == "" {
			return
		}
		span := trace.SpanFromContext(r.Context())
		span.SetName(info.Route)
		_, tmpl, _ := strings.Cut(info.Route, " ")
		span.SetAttributes(attribute.String("http.route", tmpl))
		if info.Upstream != "" {
			span.SetAttributes(attribute.String("refract.upstream", info.Upstream), attribute.String("rpc.method", info.Method))
		}
	}))
	return otelhttp.NewHandler(named, "refract",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

// DialOptions make upstream connections trace their calls and pass the
// W3C trace context to the backends as metadata (traceparent, tracestate).
// Reflection and health checks are the gateway's own business and are not
// traced. None on a nil Tracing.
func (t *Tracing) DialOptions() []grpc.DialOption {
	if t == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.tp),
		otelgrpc.WithPropagators(t.prop),
		otelgrpc.WithMeterProvider(noop.NewMeterProvider()),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
			return !strings.HasPrefix(info.FullMethodName, "/grpc.reflection.") && !strings.HasPrefix(info.FullMethodName, "/grpc.health.")
		}),
	))}
}

// Shutdown flushes the spans still buffered, within a few seconds, and
// stops the provider; call it once the gateway is closed. Nil-safe.
func (t *Tracing) Shutdown() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.tp.Shutdown(ctx)
}
