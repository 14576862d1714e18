package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
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

// TracingOptions is the tracing section of the configuration, read as it
// is until tracing is injected ready-made.
type TracingOptions = config.TracingConfig

// tracing is the gateway's own OpenTelemetry setup: a tracer provider and
// propagator handed to the instrumentation explicitly, never installed as
// process globals, so two gateways in one process trace independently.
// Nil when tracing is off: then nothing is wrapped and requests pay nothing.
type tracing struct {
	tp   *sdktrace.TracerProvider
	prop propagation.TextMapPropagator
}

// newTracing builds the exporter and provider from cfg (and the OTEL_*
// environment for what cfg leaves unset); exp, when not nil, replaces the
// OTLP exporter and spans reach it as each ends (tests).
func newTracing(cfg config.TracingConfig, exp sdktrace.SpanExporter) (*tracing, error) {
	if exp == nil && (!cfg.On() || strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true")) {
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
			return nil, fmt.Errorf("gateway: tracing: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(e))
	}
	res, err := tracingResource(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: tracing: %w", err)
	}
	opts = append(opts, sdktrace.WithResource(res))
	if r := cfg.SampleRatio; r != nil {
		// A request that arrives sampled (or not) keeps that decision, so
		// one trace is whole across services.
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*r))))
	}
	// Without a ratio the SDK reads OTEL_TRACES_SAMPLER(_ARG), else samples
	// every new trace and follows the parent's decision.
	return &tracing{
		tp:   sdktrace.NewTracerProvider(opts...),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// newOTLPExporter is the OTLP trace exporter cfg asks for. Endpoint, TLS
// and headers it leaves unset come from OTEL_EXPORTER_OTLP_*, read by the
// exporter itself.
func newOTLPExporter(ctx context.Context, cfg config.TracingConfig) (sdktrace.SpanExporter, error) {
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
func tracingResource(ctx context.Context, cfg config.TracingConfig) (*resource.Resource, error) {
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

// serverHandler wraps the public handler in a server span per request.
// The span is named after the route the request matched, "GET
// /v1/{name=shelves/*}", with its template as http.route; a request that
// matched none keeps the method alone. The raw path never names a span,
// so names stay few whatever clients send.
func (t *tracing) serverHandler(next http.Handler) http.Handler {
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

// dialOptions make upstream connections trace their calls and pass the
// W3C trace context to the backends as metadata (traceparent, tracestate).
// Reflection and health checks are the gateway's own business and are not
// traced.
func (t *tracing) dialOptions() []grpc.DialOption {
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

// shutdown flushes the spans still buffered, within a few seconds.
func (t *tracing) shutdown() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.tp.Shutdown(ctx)
}
