package gateway

import sdktrace "go.opentelemetry.io/otel/sdk/trace"

// Option changes how New builds a Gateway. The options tests need are
// unexported; there are none to set from outside yet.
type Option interface{ apply(*options) }

type options struct {
	spanExporter sdktrace.SpanExporter // replaces the OTLP exporter; turns tracing on
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// withSpanExporter sends spans to exp (synchronously, as each ends)
// instead of OTLP, and turns tracing on.
func withSpanExporter(exp sdktrace.SpanExporter) Option {
	return optionFunc(func(o *options) { o.spanExporter = exp })
}
