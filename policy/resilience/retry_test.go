package resilience

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tries counts the attempts a Retry makes against a scripted upstream.
func tries(t *testing.T, r *Retry, ctx context.Context, results ...func() (bool, error)) (int, error) {
	t.Helper()
	n := 0
	err := r.Do(ctx, func(context.Context) (bool, error) {
		i := min(n, len(results)-1)
		n++
		return results[i]()
	})
	return n, err
}

func fail(reached bool, c codes.Code) func() (bool, error) {
	return func() (bool, error) { return reached, status.Error(c, "x") }
}

func succeed() (bool, error) { return true, nil }

func TestRetrySafety(t *testing.T) {
	plain, err := NewRetry(RetryOptions{Attempts: 4, Backoff: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	idem, _ := NewRetry(RetryOptions{Attempts: 4, Backoff: time.Microsecond, Idempotent: true})
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		r       *Retry
		results []func() (bool, error)
		want    int
		wantErr codes.Code
	}{
		{"never sent: retried even when not idempotent", plain, []func() (bool, error){fail(false, codes.Unavailable), fail(false, codes.Unavailable), succeed}, 3, codes.OK},
		{"sent and UNAVAILABLE: not idempotent, not retried", plain, []func() (bool, error){fail(true, codes.Unavailable), succeed}, 1, codes.Unavailable},
		{"sent and UNAVAILABLE: idempotent, retried", idem, []func() (bool, error){fail(true, codes.Unavailable), succeed}, 2, codes.OK},
		{"attempts bound the tries", idem, []func() (bool, error){fail(true, codes.Aborted)}, 4, codes.Aborted},
		{"INVALID_ARGUMENT is never retried", idem, []func() (bool, error){fail(true, codes.InvalidArgument), succeed}, 1, codes.InvalidArgument},
		{"never sent but not UNAVAILABLE: not retried", plain, []func() (bool, error){fail(false, codes.Internal), succeed}, 1, codes.Internal},
		{"deadline without per-try timeout: the call's own, not retried", idem, []func() (bool, error){fail(true, codes.DeadlineExceeded), succeed}, 1, codes.DeadlineExceeded},
		{"open breaker: not retried", idem, []func() (bool, error){func() (bool, error) { return false, &BreakerOpenError{Name: "u"} }, succeed}, 1, codes.Unavailable},
	} {
		n, err := tries(t, tc.r, ctx, tc.results...)
		if n != tc.want || status.Code(err) != tc.wantErr {
			t.Errorf("%s: %d tries, %v; want %d, %v", tc.name, n, err, tc.want, tc.wantErr)
		}
	}
}

func TestRetryStopsWhenTheCallEnds(t *testing.T) {
	r, _ := NewRetry(RetryOptions{Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := r.Do(ctx, func(context.Context) (bool, error) {
		n++
		cancel() // the client went away during the first try
		return false, status.Error(codes.Unavailable, "x")
	})
	if n != 1 || status.Code(err) != codes.Unavailable {
		t.Fatalf("%d tries, %v", n, err)
	}
}

func TestRetryPerTryTimeout(t *testing.T) {
	r, _ := NewRetry(RetryOptions{Attempts: 3, PerTry: time.Millisecond, Backoff: time.Microsecond, Idempotent: true})
	n := 0
	err := r.Do(context.Background(), func(ctx context.Context) (bool, error) {
		n++
		if n < 3 {
			<-ctx.Done() // each try's own deadline ends it
			return true, status.FromContextError(ctx.Err()).Err()
		}
		return true, nil
	})
	if err != nil || n != 3 {
		t.Fatalf("%d tries, %v", n, err)
	}
}

func TestNewRetryValidates(t *testing.T) {
	if _, err := NewRetry(RetryOptions{Attempts: 1}); err == nil {
		t.Error("attempts 1 accepted")
	}
	if _, err := NewRetry(RetryOptions{Attempts: 2, PerTry: -1}); err == nil {
		t.Error("negative per-try accepted")
	}
}

// Backoff is full jitter: each delay is drawn from [0, backoff·2ⁿ⁻¹],
// capped at max_backoff, and spread over that range (not a fixed step).
func TestRetryBackoffIsJitteredAndCapped(t *testing.T) {
	r, err := NewRetry(RetryOptions{Attempts: 10, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for n, ceil := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond,
		3: 40 * time.Millisecond, 4: 50 * time.Millisecond, 9: 50 * time.Millisecond, 41: 50 * time.Millisecond, 70: 50 * time.Millisecond} {
		var low, high int
		for range 1000 {
			d := r.delay(n)
			if d < 0 || d > ceil {
				t.Fatalf("delay after try %d: %v, want within [0, %v]", n, d, ceil)
			}
			if d < ceil/4 {
				low++
			}
			if d > ceil*3/4 {
				high++
			}
		}
		// Uniform: about 250 of 1000 in each outer quarter.
		if low < 150 || high < 150 {
			t.Fatalf("delays after try %d are not spread over [0, %v]: %d in the low quarter, %d in the high", n, ceil, low, high)
		}
	}
}
