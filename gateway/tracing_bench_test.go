package gateway_test

import (
	"testing"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkHandlerGetBookTracing is BenchmarkHandlerGetBook with tracing
// on and every request sampled: a server span, a client span and the
// traceparent for the backend; spans go to an exporter that drops them,
// so the figure is the instrumentation's own cost.
func BenchmarkHandlerGetBookTracing(b *testing.B) {
	lib := startLibrary(b)
	tr, err := telemetry.NewTracing(telemetry.TracingOptions{Exporter: tracetest.NewNoopExporter()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown() })
	gw := benchGatewayConfig(b, libraryConfig(lib.Addr, ""),
		gateway.WithMiddleware(tr.Middleware), gateway.WithDialOptions(tr.DialOptions()...))
	benchHandlerGetBook(b, gw)
}

// BenchmarkOpenAPIDocument is the cost of building the library's document,
// paid once per route table on the first request for it.
func BenchmarkOpenAPIDocument(b *testing.B) {
	lib := startLibrary(b)
	gw := benchGateway(b, lib.Addr)
	b.ReportAllocs()
	for b.Loop() {
		if err := gw.BuildOpenAPIDoc(); err != nil {
			b.Fatal(err)
		}
	}
}
