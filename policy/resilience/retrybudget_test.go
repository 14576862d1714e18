package resilience

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestRetryBudgetCapsRetries(t *testing.T) {
	budget, err := NewRetryBudget(0.5, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewRetry(RetryOptions{Attempts: 3, Backoff: time.Microsecond, Idempotent: true, Budget: budget})
	down := fail(true, codes.Unavailable)
	// The reserve (1) allows one retry; deposits of 0.5 per call are
	// capped at the reserve, so afterwards every second call may retry once.
	var got []int
	for range 5 {
		n, _ := tries(t, r, context.Background(), down)
		got = append(got, n)
	}
	want := []int{2, 1, 2, 1, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tries per call %v, want %v", got, want)
		}
	}
}

func TestNewRetryBudgetValidates(t *testing.T) {
	if _, err := NewRetryBudget(1.5, 1); err == nil {
		t.Error("ratio 1.5 accepted")
	}
	if _, err := NewRetryBudget(0.1, -1); err == nil {
		t.Error("negative reserve accepted")
	}
}
