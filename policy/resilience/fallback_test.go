package resilience

import (
	"maps"
	"testing"
)

func TestFallbackValidates(t *testing.T) {
	if _, err := NewFallback(FallbackOptions{Body: []byte("{")}); err == nil {
		t.Error("bad JSON accepted")
	}
	if _, err := NewFallback(FallbackOptions{Headers: map[string]string{"Bad Name": "x"}}); err == nil {
		t.Error("bad header name accepted")
	}
	if _, err := NewFallback(FallbackOptions{Status: 999}); err == nil || err.Error() != "policy: fallback status 999 is not an HTTP status" {
		t.Errorf("status 999: %v", err)
	}
	f, err := NewFallback(FallbackOptions{Status: 202, Body: []byte(`{"a":1}`), Headers: map[string]string{"X-A": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if h := maps.Collect(f.Headers()); f.Status() != 202 || string(f.Body()) != `{"a":1}` || len(h) != 1 || h["X-A"] != "b" {
		t.Fatalf("%d %q %v", f.Status(), f.Body(), h)
	}
}

func TestFallbackDefaults(t *testing.T) {
	f, err := NewFallback(FallbackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := maps.Collect(f.Headers()); f.Status() != 200 || string(f.Body()) != "{}" || len(h) != 0 {
		t.Fatalf("%d %q %v", f.Status(), f.Body(), h)
	}
}
