package gateway

import (
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkHandlerGetBookTracing is BenchmarkHandlerGetBook with tracing
// on and every request sampled: a server span, a client span and the
// traceparent for the backend; spans go to an exporter that drops them,
// so the figure is the instrumentation's own cost.
func BenchmarkHandlerGetBookTracing(b *testing.B) {
	lib := startLibrary(b)
	gw := benchGatewayConfig(b, libraryConfig(lib.Addr, ""), withSpanExporter(tracetest.NewNoopExporter()))
	req := httptest.NewRequest("GET", "/v1/shelves/1/books/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkOpenAPIDocument is the cost of building the library's document,
// paid once per route table on the first request for it.
func BenchmarkOpenAPIDocument(b *testing.B) {
	lib := startLibrary(b)
	gw := benchGateway(b, lib.Addr)
	tbl := gw.productTable("")
	b.ReportAllocs()
	for b.Loop() {
		gw.docs.docs = map[string]*openapiDoc{}
		if doc := gw.openAPIDoc(""); doc.err != nil || doc.table != tbl {
			b.Fatal(doc.err)
		}
	}
}
