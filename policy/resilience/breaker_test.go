package resilience

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestBreakerCountsOnlySickAnswers(t *testing.T) {
	b, err := NewBreaker(BreakerOptions{Name: `upstream "u"`, Failures: 2, OpenFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	do := func(c codes.Code) error {
		return b.Do(func() error {
			calls++
			if c == codes.OK {
				return nil
			}
			return status.Error(c, "x")
		})
	}
	// Answers that mean the backend works, and cancellations, never trip it.
	for _, c := range []codes.Code{codes.NotFound, codes.InvalidArgument, codes.PermissionDenied, codes.Canceled, codes.Canceled, codes.Canceled} {
		_ = do(c)
	}
	if b.State() != "closed" {
		t.Fatalf("state %s after client errors", b.State())
	}
	// A success between failures resets the run.
	_ = do(codes.Unavailable)
	_ = do(codes.OK)
	_ = do(codes.Internal)
	if b.State() != "closed" {
		t.Fatalf("state %s after non-consecutive failures", b.State())
	}
	_ = do(codes.DeadlineExceeded)
	if b.State() != "open" {
		t.Fatalf("state %s after 2 failures in a row", b.State())
	}
	before := calls
	err = do(codes.OK)
	var open *BreakerOpenError
	if !errors.As(err, &open) || calls != before {
		t.Fatalf("open breaker: %v, %d calls made", err, calls-before)
	}
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), `upstream "u" is open`) {
		t.Fatalf("open error %v", err)
	}
}

func TestBreakerHalfOpenProbes(t *testing.T) {
	var changes []string
	b, _ := NewBreaker(BreakerOptions{Name: "u", Failures: 1, OpenFor: time.Millisecond,
		OnChange: func(_, from, to string) { changes = append(changes, from+">"+to) }})
	sick := func() error { return status.Error(codes.Unavailable, "x") }
	_ = b.Do(sick)
	// Once open_for has passed a probe goes through; a failed probe opens
	// it again, a good one closes it.
	for b.State() == "open" {
		time.Sleep(time.Millisecond)
	}
	_ = b.Do(sick)
	for b.State() == "open" {
		time.Sleep(time.Millisecond)
	}
	if err := b.Do(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := "closed>open open>half-open half-open>open open>half-open half-open>closed"
	if got := strings.Join(changes, " "); got != want {
		t.Fatalf("changes %q, want %q", got, want)
	}
}
