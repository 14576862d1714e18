package resilience

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCallPlanSuccess is the bookkeeping around one successful try:
// a budget deposit, the retry loop and the breaker's accounting.
func BenchmarkCallPlanSuccess(b *testing.B) {
	br, _ := NewBreaker(BreakerOptions{Name: "u"})
	budget, _ := NewRetryBudget(0.2, 10)
	r, _ := NewRetry(RetryOptions{Attempts: 3, PerTry: time.Second, Idempotent: true, Budget: budget})
	ctx := context.Background()
	try := func(ctx context.Context) (bool, error) {
		return true, br.Do(func() error { return nil })
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Do(ctx, try); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplitPick is one weighted, sticky pick.
func BenchmarkSplitPick(b *testing.B) {
	s, _ := NewSplit(SplitOptions{Subsets: []WeightedSubset{{"stable", 90}, {"canary", 10}}, Header: "X-Canary", Sticky: "header:X-User"})
	req := newRequest()
	req.header["X-User"] = "user-42"
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Pick(req, "")
	}
}
