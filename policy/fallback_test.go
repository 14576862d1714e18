package policy

import (
	"net/http/httptest"
	"testing"

	"github.com/refract-gateway/refract/policy/resilience"
)

func TestServeFallback(t *testing.T) {
	f, err := resilience.NewFallback(resilience.FallbackOptions{Status: 202, Body: []byte(`{"a":1}`), Headers: map[string]string{"X-A": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	ServeFallback(w, f, "unavailable")
	if w.Code != 202 || w.Body.String() != `{"a":1}` || w.Header().Get("X-A") != "b" || w.Header().Get(FallbackHeader) != "unavailable" ||
		w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Content-Length") != "7" {
		t.Fatalf("%d %q %v", w.Code, w.Body, w.Header())
	}
}
