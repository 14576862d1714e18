package telemetry

import (
	"testing"
	"time"
)

func TestRateWindow(t *testing.T) {
	var w rateWindow
	t0 := time.Unix(1000, 0)
	if r := w.sample(t0, map[string]float64{"a": 10}); len(r) != 0 {
		t.Fatalf("first sample rates %v", r)
	}
	// Polls 2 s apart: rates since the first sample.
	if r := w.sample(t0.Add(2*time.Second), map[string]float64{"a": 14, "b": 3}); r["a"] != 2 || r["b"] != 1.5 {
		t.Fatalf("rates %v", r)
	}
	// A poll within a second of the last is answered but not kept.
	if r := w.sample(t0.Add(2500*time.Millisecond), map[string]float64{"a": 15}); r["a"] != 2 {
		t.Fatalf("rates %v", r)
	}
	w.sample(t0.Add(8*time.Second), map[string]float64{"a": 20})
	// Past the span, the base moves on to the newest sample at or beyond it.
	if r := w.sample(t0.Add(18*time.Second), map[string]float64{"a": 40}); r["a"] != 2 {
		t.Fatalf("rates over the span %v (samples %d)", r, len(w.samples))
	}
	// A counter that did not move has no rate.
	if r := w.sample(t0.Add(40*time.Second), map[string]float64{"a": 40}); r["a"] != 0 {
		t.Fatalf("rates %v", r)
	}
}
