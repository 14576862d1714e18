package checks

import "time"

// Outcome is how one check ended for one request.
type Outcome int

// The outcomes, as metrics label them (Outcome.String).
const (
	// Allowed: the check allowed the request.
	Allowed Outcome = iota
	// Denied: the check denied it (whether or not its denial answered).
	Denied
	// FailedOpen: the check failed or timed out and, failing open, let
	// the request through.
	FailedOpen
	// FailedClosed: the check failed or timed out and refused the request.
	FailedClosed
	// Cancelled: another check refused first (or the client went away)
	// before this one decided.
	Cancelled
	numOutcomes
)

// Outcomes lists every outcome, so an observer can make its series up
// front.
func Outcomes() []Outcome {
	out := make([]Outcome, numOutcomes)
	for i := range out {
		out[i] = Outcome(i)
	}
	return out
}

// String is the outcome's metric label value.
func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Denied:
		return "denied"
	case FailedOpen:
		return "failed_open"
	case FailedClosed:
		return "failed_closed"
	case Cancelled:
		return "cancelled"
	}
	return "unknown"
}

// Observer gives each check its metrics hooks, bound once when the check
// is built (control path), so the request path looks nothing up.
// Implementations must be safe for concurrent use.
type Observer interface {
	Check(name string) CheckObserver
}

// CheckObserver are one check's hooks: Decided is called once per request
// the check was asked about, from the check's own goroutine, with how it
// ended and how long it took. Safe for concurrent use.
type CheckObserver interface {
	Decided(o Outcome, elapsed time.Duration)
}

type nopCheck struct{}

func (nopCheck) Decided(Outcome, time.Duration) {}
