package resilience

import (
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// BreakerOptions configures a circuit breaker over upstream calls.
type BreakerOptions struct {
	// Name is what an open breaker's error names, e.g. `upstream "library"`.
	Name string
	// Failures is how many consecutive failed calls open the breaker;
	// default 5.
	Failures uint32
	// OpenFor is how long the breaker stays open before it lets probes
	// through (half-open); default 30s.
	OpenFor time.Duration
	// Probes is how many calls a half-open breaker lets through; it closes
	// when they all succeed and opens again at the first failure. Default 1.
	Probes uint32
	// OnChange, when set, is told every state change ("closed", "open",
	// "half-open"), for logs.
	OnChange func(name, from, to string)
}

// Breaker is a circuit breaker (sony/gobreaker) that counts a call as
// failed only when the upstream looks sick: UNAVAILABLE, DEADLINE_EXCEEDED,
// INTERNAL, UNKNOWN or DATA_LOSS. Any other answer (NOT_FOUND,
// INVALID_ARGUMENT …) is the backend working, so it counts as a success; a
// call the client cancelled, or that ran out of a deadline the client
// shortened (Plan.Invoke), counts as nothing. Safe for concurrent use.
type Breaker struct {
	cb      *gobreaker.CircuitBreaker[struct{}]
	name    string
	openFor time.Duration
}

// NewBreaker validates o and returns a closed breaker.
func NewBreaker(o BreakerOptions) (*Breaker, error) {
	if o.Name == "" {
		return nil, errors.New("policy: breaker needs a name")
	}
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenFor < 0 {
		return nil, fmt.Errorf("policy: breaker %s: open_for must be positive", o.Name)
	}
	if o.OpenFor == 0 {
		o.OpenFor = 30 * time.Second
	}
	if o.Probes == 0 {
		o.Probes = 1
	}
	st := gobreaker.Settings{
		Name:        o.Name,
		MaxRequests: o.Probes,
		Timeout:     o.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Failures },
		IsSuccessful: func(err error) bool {
			return !BreakerFailure(err)
		},
		IsExcluded: func(err error) bool {
			_, client := err.(*clientExpired)
			return client || status.Code(err) == codes.Canceled
		},
	}
	if o.OnChange != nil {
		st.OnStateChange = func(name string, from, to gobreaker.State) { o.OnChange(name, from.String(), to.String()) }
	}
	return &Breaker{cb: gobreaker.NewCircuitBreaker[struct{}](st), name: o.Name, openFor: o.OpenFor}, nil
}

// BreakerFailure says whether err counts against a breaker.
func BreakerFailure(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.DataLoss:
		return true
	}
	return false
}

// Do runs call unless the breaker is open (or half-open with all its
// probes out), in which case it returns a *BreakerOpenError at once.
func (b *Breaker) Do(call func() error) error {
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, call() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return &BreakerOpenError{Name: b.name, RetryAfter: b.openFor}
	}
	return err
}

// Name is what the breaker's errors name.
func (b *Breaker) Name() string { return b.name }

// State is "closed", "open" or "half-open".
func (b *Breaker) State() string { return b.cb.State().String() }

// BreakerOpenError is the answer of an open breaker: the call was not
// made. Its gRPC status is UNAVAILABLE.
type BreakerOpenError struct {
	Name       string
	RetryAfter time.Duration // the breaker's open period: when to try again at the latest
}

func (e *BreakerOpenError) Error() string {
	return fmt.Sprintf("circuit breaker for %s is open after repeated failures; calls are refused for up to %s", e.Name, e.RetryAfter)
}

// GRPCStatus makes the error an UNAVAILABLE status for status.Convert.
func (e *BreakerOpenError) GRPCStatus() *status.Status {
	return status.New(codes.Unavailable, e.Error())
}
