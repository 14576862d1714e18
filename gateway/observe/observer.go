package observe

import (
	"time"

	"github.com/refract-gateway/refract/policy"
	"google.golang.org/grpc/codes"
)

// Observer is told what the request path does, for metrics: the engine
// imports no metrics library, and whoever builds it (the server, with
// Prometheus) passes one with gateway.WithObserver. Route is called when a route
// is compiled, so that the request path only calls the hooks it was
// handed: no lookup, no label hashing. Without an observer the engine
// calls none of these and pays nothing. Implementations must be safe for
// concurrent use.
type Observer interface {
	// Route returns the hooks of one compiled route: its HTTP method and
	// path template, and the upstream and gRPC method (full name) it
	// calls. Control path; routes recompiled with the same values may get
	// the same hooks.
	Route(method, template, upstream, grpcMethod string) RouteObserver
	// Unmatched returns the hooks of a request answered without a route
	// (no match, or refused at the edge before the match), by the client's
	// HTTP method token, which may be anything.
	Unmatched(method string) RouteObserver
	// InFlight adds delta (+1 as a request enters the public handler, -1
	// once it is answered) to the requests in flight.
	InFlight(delta int)
	// Rejected counts a request refused by reason: a policy stage's name
	// (policy.Stage.String()), or one of the rejecters beside the upstream
	// call ("breaker", "validate", "stream_limit"). RejectReasons lists
	// them all.
	Rejected(reason string)
	// Consumed records one answered request by who made it: the API-key
	// consumer's name, else the JWT subject ("" and "" for an anonymous
	// or unauthenticated caller), with its HTTP status and, when a policy
	// refused it, that policy's name (as Rejected), else "". Names come
	// from credentials: an observer bounds what it keeps of them.
	Consumed(consumer, subject string, status int, rejectedBy string)
}

// RouteObserver are one route's hooks, bound when it is compiled. Safe
// for concurrent use.
type RouteObserver interface {
	// Answered records one request answered with an HTTP status, elapsed
	// from its arrival, with the request and response body bytes.
	Answered(status int, elapsed time.Duration, bytesIn, bytesOut int64)
	// Called records one upstream call attempt (each retry counts) that
	// ended with code.
	Called(code codes.Code)
	// StreamOpened records a stream opened to the upstream; StreamEnded
	// one that ended with code (CANCELLED when the client went away).
	StreamOpened()
	StreamEnded(code codes.Code)
	// Transcoded records how one unary request was transcoded: fast when
	// its JSON became wire bytes directly, not through the dynamic
	// message (an input or a route the fast path leaves to protojson).
	Transcoded(fast bool)
}

// UnmatchedRoute is the route template reported for requests answered
// without a route. One value, so that clients probing random paths cannot
// grow what an observer keeps.
const UnmatchedRoute = "unmatched"

// Rejecters that are not policy stages: they decide next to the upstream
// call, so they are counted where they answer.
const (
	RejectBreaker     = "breaker"
	RejectValidate    = "validate"
	RejectStreamLimit = "stream_limit"
)

// RejectReasons lists every reason Observer.Rejected may be given: the
// policy stages that can refuse a request, in their order, then the
// rejecters beside the upstream call. An observer can create their series
// up front, so that the first rejection is seen as an increment.
func RejectReasons() []string {
	var out []string
	for _, s := range policy.Order() {
		if s.Refuses() {
			out = append(out, s.String())
		}
	}
	return append(out, RejectBreaker, RejectValidate, RejectStreamLimit)
}

// Nop observes nothing: the observer of a gateway built without one.
type Nop struct{}

func (Nop) Route(string, string, string, string) RouteObserver { return nopRoute{} }
func (Nop) Unmatched(string) RouteObserver                     { return nopRoute{} }
func (Nop) InFlight(int)                                       {}
func (Nop) Rejected(string)                                    {}
func (Nop) Consumed(string, string, int, string)               {}

type nopRoute struct{}

func (nopRoute) Answered(int, time.Duration, int64, int64) {}
func (nopRoute) Called(codes.Code)                         {}
func (nopRoute) StreamOpened()                             {}
func (nopRoute) StreamEnded(codes.Code)                    {}
func (nopRoute) Transcoded(bool)                           {}
