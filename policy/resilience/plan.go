package resilience

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Plan is how one route's upstream call is made: its deadline, the
// breaker it passes, its retries, the fallback served when the upstream
// cannot answer, and the split between the upstream's subsets. Its maker
// builds a new one whenever routes are rebuilt; it is immutable once a
// route holds it, and safe for concurrent use. A nil *Plan makes one
// plain call with the upstream's timeout.
type Plan struct {
	// Timeout is the call's deadline (a shorter one the client asks for
	// wins).
	Timeout time.Duration
	// Breaker, when set, every try passes.
	Breaker *Breaker
	// Retry, when set, retries failed tries when safe.
	Retry *Retry
	// Fallback, when set, answers while the upstream cannot.
	Fallback *Fallback
	// Split, when set, sends each call to one of the upstream's subsets,
	// by the names it picks among; the caller resolves the pick to a
	// connection before Invoke.
	Split *Split
}

// Names lists the plan's parts as the admin API shows them after a
// route's stages (they wrap the upstream call): split, fallback, breaker,
// retry, those that are set; nil for a nil plan.
func (p *Plan) Names() []string {
	if p == nil {
		return nil
	}
	var out []string
	if p.Split != nil {
		out = append(out, "split")
	}
	if p.Fallback != nil {
		out = append(out, "fallback")
	}
	if p.Breaker != nil {
		out = append(out, "breaker")
	}
	if p.Retry != nil {
		out = append(out, "retry")
	}
	return out
}

// Deadline is the call's timeout: the plan's, or def (the upstream's)
// when p is nil.
func (p *Plan) Deadline(def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return p.Timeout
}

// Invoke makes the call: once makes one try (into resp), which passes the
// breaker and is retried when safe. resp is reset between tries when it
// can be (a proto.Message, or anything with Reset()). A nil plan tries
// once.
//
// clientDeadline says that ctx's deadline is one the client asked for,
// shorter than the plan's own: a try that ends DEADLINE_EXCEEDED within it
// (a per-try timeout did not come first) failed by the client's choice,
// not the upstream's, so it counts against neither the breaker nor the
// retry budget and is not retried. Otherwise any caller could open a
// breaker for everyone with a tiny Grpc-Timeout.
func (p *Plan) Invoke(ctx context.Context, resp any, clientDeadline bool, once Attempt) error {
	if p == nil {
		_, err := once(ctx)
		return err
	}
	tries := 0
	try := func(tctx context.Context) (bool, error) {
		if tries > 0 {
			switch m := resp.(type) {
			case proto.Message:
				proto.Reset(m)
			case interface{ Reset() }:
				m.Reset()
			}
		}
		tries++
		if p.Breaker == nil {
			reached, err := once(tctx)
			return reached, clientExpiry(ctx, tctx, clientDeadline, err)
		}
		var reached bool
		err := p.Breaker.Do(func() error {
			var err error
			reached, err = once(tctx)
			return clientExpiry(ctx, tctx, clientDeadline, err)
		})
		return reached, err
	}
	var err error
	if p.Retry == nil {
		_, err = try(ctx)
	} else {
		err = p.Retry.Do(ctx, try)
	}
	if ce, ok := err.(*clientExpired); ok {
		return ce.err
	}
	return err
}

// clientExpired wraps a try's DEADLINE_EXCEEDED when the client's own,
// shorter deadline bounded the try: the breaker excludes it, retries stop
// at it, and Invoke unwraps it.
type clientExpired struct{ err error }

func (e *clientExpired) Error() string { return e.err.Error() }
func (e *clientExpired) Unwrap() error { return e.err }

// clientExpiry is err, marked as a client-chosen expiry when the call's
// deadline is the client's (clientDeadline), the try's context tctx has
// no sooner one of its own (a per-try timeout), and err is
// DEADLINE_EXCEEDED, whoever reported it first (the backend sees the same
// propagated deadline).
func clientExpiry(ctx, tctx context.Context, clientDeadline bool, err error) error {
	if !clientDeadline || err == nil || status.Code(err) != codes.DeadlineExceeded {
		return err
	}
	call, _ := ctx.Deadline()
	if try, _ := tctx.Deadline(); !try.Equal(call) {
		return err
	}
	return &clientExpired{err: err}
}
