package resilience

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestPlanClientDeadlineCountsAgainstNothing: a try that
// runs out of the client's shortened deadline is neither a breaker
// failure nor retried (no retry-budget token spent), whoever reports the
// DEADLINE_EXCEEDED; the gateway's own deadline, or a per-try timeout
// inside the client's, still is.
func TestPlanClientDeadlineCountsAgainstNothing(t *testing.T) {
	newPlan := func(perTry time.Duration) (*Plan, *RetryBudget) {
		br, err := NewBreaker(BreakerOptions{Name: "up", Failures: 2, OpenFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		budget, _ := NewRetryBudget(0, 5)
		re, err := NewRetry(RetryOptions{Attempts: 3, Backoff: time.Microsecond, Idempotent: true, PerTry: perTry, Budget: budget})
		if err != nil {
			t.Fatal(err)
		}
		return &Plan{Timeout: time.Minute, Breaker: br, Retry: re}, budget
	}
	expired := func(context.Context) (bool, error) {
		return true, status.Error(codes.DeadlineExceeded, "not enough time left")
	}
	call := func(p *Plan, client bool, once Attempt) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n := 0
		err := p.Invoke(ctx, nil, client, func(ctx context.Context) (bool, error) { n++; return once(ctx) })
		return n, err
	}

	p, budget := newPlan(time.Hour) // a per-try timeout longer than the call's: the call's holds
	for i := range 4 {
		n, err := call(p, true, expired)
		if n != 1 || status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("client deadline, call %d: %d tries, %v; want 1, DEADLINE_EXCEEDED", i, n, err)
		}
	}
	if p.Breaker.State() != "closed" || budget.balance != 5 {
		t.Fatalf("after client deadlines: breaker %s, budget %v; want closed, 5", p.Breaker.State(), budget.balance)
	}
	// The gateway's own deadline: retried (spending the budget) and
	// counted, so the second try opens the breaker, which refuses the third.
	n, err := call(p, false, expired)
	if n != 2 || status.Code(err) != codes.Unavailable || budget.balance != 3 || p.Breaker.State() != "open" {
		t.Fatalf("own deadline: %d tries, %v, budget %v, breaker %s; want 2, UNAVAILABLE, 3, open", n, err, budget.balance, p.Breaker.State())
	}

	// A per-try timeout shorter than the client's deadline is the
	// gateway's: it counts even when the client shortened the call.
	p, _ = newPlan(10 * time.Millisecond)
	hang := func(ctx context.Context) (bool, error) {
		<-ctx.Done()
		return true, status.FromContextError(ctx.Err()).Err()
	}
	if n, err := call(p, true, hang); n != 2 || status.Code(err) != codes.Unavailable {
		t.Fatalf("per-try timeouts: %d tries, %v; want 2 and the breaker open after them", n, err)
	}
}
