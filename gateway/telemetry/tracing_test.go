package telemetry_test

import (
	"net/http"
	"testing"

	"github.com/refract-gateway/refract/gateway/telemetry"
)

// Tracing is off unless asked for, and the standard switch wins over the
// file; off, it wraps nothing and adds no dial option.
func TestTracingOff(t *testing.T) {
	tr, err := telemetry.NewTracing(telemetry.TracingOptions{})
	if tr != nil || err != nil {
		t.Fatalf("tracing on by default: %v, %v", tr, err)
	}
	next := &marker{}
	if h := tr.Middleware(next); h != http.Handler(next) {
		t.Errorf("a nil Tracing wraps the handler")
	}
	if opts := tr.DialOptions(); opts != nil {
		t.Errorf("a nil Tracing adds dial options: %v", opts)
	}
	if err := tr.Shutdown(); err != nil {
		t.Errorf("Shutdown of a nil Tracing: %v", err)
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if tr, err := telemetry.NewTracing(telemetry.TracingOptions{On: true}); tr != nil || err != nil {
		t.Errorf("OTEL_SDK_DISABLED=true: tracing on %v, %v", tr != nil, err)
	}
}

// marker is a handler that can be told apart from any other.
type marker struct{}

func (*marker) ServeHTTP(http.ResponseWriter, *http.Request) {}
