package resilience

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RetryOptions configures retries of an upstream call.
type RetryOptions struct {
	// Attempts is the number of tries, the first included; at least 2.
	Attempts int
	// PerTry bounds each try (within the call's own deadline); 0: only the
	// call's deadline.
	PerTry time.Duration
	// Backoff is the base delay before the second try, doubled for each
	// later one up to MaxBackoff; each delay is drawn uniformly from
	// [0, that] ("full jitter"), so retrying clients do not move in step.
	// Defaults 25ms and 250ms.
	Backoff, MaxBackoff time.Duration
	// Idempotent says the method may run twice: a try that reached a
	// server is then retried on UNAVAILABLE, ABORTED and a per-try
	// timeout. Without it only tries that never reached a server are.
	Idempotent bool
	// Budget caps retries over all calls sharing it; nil: no cap.
	Budget *RetryBudget
}

// Attempt makes one try. reached says whether the request may have reached
// a server (a transport stream was opened); when it did not, the try is
// always safe to repeat.
type Attempt func(ctx context.Context) (reached bool, err error)

// Retry repeats failed tries when that is safe. Immutable; safe for
// concurrent use.
type Retry struct {
	o RetryOptions
}

// Validate reports what NewRetry would refuse in o: fewer than 2
// attempts, a negative duration.
func (o RetryOptions) Validate() error {
	if o.Attempts < 2 {
		return errors.New("policy: retry attempts must be at least 2 (the first try included)")
	}
	if o.PerTry < 0 || o.Backoff < 0 || o.MaxBackoff < 0 {
		return errors.New("policy: retry durations must be positive")
	}
	return nil
}

// NewRetry validates o (see Validate).
func NewRetry(o RetryOptions) (*Retry, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Backoff == 0 {
		o.Backoff = 25 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	return &Retry{o: o}, nil
}

// Idempotent reports the option.
func (r *Retry) Idempotent() bool { return r.o.Idempotent }

// Do runs try until it succeeds, fails in a way that is not safe or not
// worth retrying, the attempts or the budget are spent, or ctx ends. It
// returns the last try's error.
func (r *Retry) Do(ctx context.Context, try Attempt) error {
	if r.o.Budget != nil {
		r.o.Budget.deposit()
	}
	for n := 1; ; n++ {
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if r.o.PerTry > 0 {
			tctx, cancel = context.WithTimeout(ctx, r.o.PerTry)
		}
		reached, err := try(tctx)
		cancel()
		if err == nil || n >= r.o.Attempts || ctx.Err() != nil || !r.retryable(reached, err) {
			return err
		}
		if r.o.Budget != nil && !r.o.Budget.withdraw() {
			return err
		}
		t := time.NewTimer(r.delay(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// delay is the wait after failed try n (1-based): full jitter, uniform in
// [0, Backoff·2ⁿ⁻¹] capped at MaxBackoff, so that clients retrying the
// same failure spread out instead of arriving together.
func (r *Retry) delay(n int) time.Duration {
	// Doubling step by step stops at the cap: a shift by n-1 overflows
	// (to 0, or to a small positive value) once attempts are large.
	ceil := r.o.Backoff
	for i := 1; i < n && ceil < r.o.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, r.o.MaxBackoff)
	return rand.N(ceil + 1)
}

// retryable: a try that never reached a server may always be repeated (it
// had no effect); one that did only for an idempotent method, and only
// when the failure says "try again" rather than "this request is wrong".
// An open breaker is never retried: it would refuse again; nor is a try
// that ran out of the client's own deadline (nothing is left for another).
func (r *Retry) retryable(reached bool, err error) bool {
	var open *BreakerOpenError
	if errors.As(err, &open) {
		return false
	}
	if _, client := err.(*clientExpired); client {
		return false
	}
	code := status.Code(err)
	if !reached {
		return code == codes.Unavailable
	}
	if !r.o.Idempotent {
		return false
	}
	switch code {
	case codes.Unavailable, codes.Aborted:
		return true
	case codes.DeadlineExceeded:
		return r.o.PerTry > 0 // the per-try timeout fired, not the call's (checked by the caller's ctx)
	}
	return false
}
