package policy

import (
	"net/http"
	"strconv"

	"github.com/refract-gateway/refract/policy/resilience"
)

// FallbackHeader marks a response served by a fallback instead of the
// upstream; its value says why ("breaker_open" or "unavailable").
const FallbackHeader = "X-Refract-Fallback"

// ServeFallback writes f's response, marked with FallbackHeader: reason,
// as application/json with its Content-Length.
func ServeFallback(w http.ResponseWriter, f *resilience.Fallback, reason string) {
	h := w.Header()
	for k, v := range f.Headers() {
		h.Set(k, v)
	}
	body := f.Body()
	h.Set(FallbackHeader, reason)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.Status())
	_, _ = w.Write(body)
}
