package policy

import (
	"net/http/httptest"
	"testing"

	"github.com/refract-gateway/refract/policy/resilience"
)

// A split reads an HTTP request's header and cookie through SplitRequest:
// the header wins over the cookie, and a cookie that names no subset falls
// back to the weights.
func TestSplitRequest(t *testing.T) {
	s, err := resilience.NewSplit(resilience.SplitOptions{Subsets: []resilience.WeightedSubset{{Name: "stable", Weight: 1}, {Name: "canary", Weight: 0}},
		Header: "X-Canary", Cookie: "track"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Canary", "canary")
	r.Header.Set("Cookie", "other=1; track=stable")
	if got := s.Pick(SplitRequest(r), ""); got != 1 {
		t.Fatalf("header: subset %d, want 1", got)
	}
	r.Header.Del("X-Canary")
	r.Header.Set("Cookie", "other=1; track=canary")
	if got := s.Pick(SplitRequest(r), ""); got != 1 {
		t.Fatalf("cookie: subset %d, want 1", got)
	}
	r.Header.Set("Cookie", "track=nope")
	if got := s.Pick(SplitRequest(r), ""); got != 0 {
		t.Fatalf("unknown cookie value: subset %d, want 0 (the only weight)", got)
	}
	sr := SplitRequest(httptest.NewRequest("GET", "/", nil))
	if v, ok := sr.Cookie("track"); ok || v != "" {
		t.Fatalf("missing cookie: %q, %v", v, ok)
	}
	if v := sr.Header("X-Canary"); v != "" {
		t.Fatalf("missing header: %q", v)
	}
}
