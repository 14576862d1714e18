package checks

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

// Options configure one named check.
type Options struct {
	// Name names the check in rejections, logs and metrics; required:
	// letters, digits, '-' and '_', at most 64.
	Name string
	// Authorizer is the service asked, with its timeout, decision cache
	// and the headers it vouches for (its UpstreamHeaders); required.
	Authorizer *policy.ExtAuthz
	// FailOpen admits a request when the check fails or times out
	// (counted as failed_open and logged); otherwise such a request gets
	// 503, or 504 on a timeout.
	FailOpen bool
	// Vouches are the header names whose client-sent values are dropped
	// on the routes asking the check (the authorizer's UpstreamHeaders).
	Vouches []string
	// Observer receives the check's outcomes; nil: none.
	Observer Observer
	Logger   zerolog.Logger
}

// Check is one named check, ready to run. Immutable; safe for concurrent
// use.
type Check struct {
	name     string
	az       *policy.ExtAuthz
	failOpen bool
	vouches  []string // canonical header names
	obs      CheckObserver
	log      zerolog.Logger
	// The rejections' bodies, encoded once: they name the check and
	// nothing of what it answered.
	denied, down, late []byte
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckName reports a name New would refuse.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("checks: name %q: use 1 to 64 letters, digits, '-' and '_'", name)
	}
	return nil
}

// New validates o and builds the check.
func New(o Options) (*Check, error) {
	if err := CheckName(o.Name); err != nil {
		return nil, err
	}
	if o.Authorizer == nil {
		return nil, errors.New("checks: " + o.Name + ": no authorizer")
	}
	c := &Check{name: o.Name, az: o.Authorizer, failOpen: o.FailOpen, obs: nopCheck{},
		log: o.Logger.With().Str("check", o.Name).Logger()}
	if o.Observer != nil {
		c.obs = o.Observer.Check(o.Name)
	}
	for _, h := range o.Vouches {
		c.vouches = append(c.vouches, http.CanonicalHeaderKey(h))
	}
	c.denied = body(codes.PermissionDenied, "CHECK_DENIED", o.Name, "the request was denied by the "+o.Name+" check")
	c.down = body(codes.Unavailable, "CHECK_UNAVAILABLE", o.Name, "the "+o.Name+" check could not decide on this request; retry later")
	c.late = body(codes.DeadlineExceeded, "CHECK_TIMEOUT", o.Name, "the "+o.Name+" check did not answer in time; retry later")
	return c, nil
}

// Name is the check's name.
func (c *Check) Name() string { return c.name }

// body is a google.rpc.Status whose ErrorInfo names the check, so a
// client can tell which check refused it without reading the message.
func body(code codes.Code, reason, check, msg string) []byte {
	info, err := anypb.New(&errdetails.ErrorInfo{Reason: reason, Domain: "refract", Metadata: map[string]string{"check": check}})
	st := &spb.Status{Code: int32(code), Message: msg}
	if err == nil {
		st.Details = []*anypb.Any{info}
	}
	return rpcstatus.Encode(st, nil)
}
