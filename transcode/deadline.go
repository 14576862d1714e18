package transcode

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// ParseTimeout reads a Grpc-Timeout header value: at most 8 digits and a
// unit, H (hours), M (minutes), S, m (milliseconds), u (microseconds) or n
// (nanoseconds), as in the gRPC over HTTP/2 spec. A value longer than
// MaxTimeout is an error, never a wrapped negative duration.
func ParseTimeout(s string) (time.Duration, error) {
	if len(s) < 2 || len(s) > 9 {
		return 0, fmt.Errorf("Grpc-Timeout %q: want 1-8 digits and a unit (H, M, S, m, u, n)", s)
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("Grpc-Timeout %q: want 1-8 digits and a unit (H, M, S, m, u, n)", s)
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, fmt.Errorf("Grpc-Timeout %q: unknown unit %q (want H, M, S, m, u or n)", s, s[len(s)-1:])
	}
	// 8 digits of hours do not fit in a Duration (99,999,999h is over
	// 11,000 years): refuse what would overflow rather than wrap to a
	// negative timeout that expires at once.
	if n > uint64(MaxTimeout/unit) {
		return 0, fmt.Errorf("Grpc-Timeout %q: longer than the largest timeout, %dH (about 292 years)", s, int64(MaxTimeout/time.Hour))
	}
	return time.Duration(n) * unit, nil
}

// MaxTimeout is the largest Grpc-Timeout ParseTimeout accepts, the
// largest time.Duration (about 292 years); longer values are an error.
// The gateway never waits longer than a route's own deadline anyway.
const MaxTimeout = time.Duration(math.MaxInt64)

// CallTimeout is a call's timeout when the gateway's own is own (0: none)
// and the client sent Grpc-Timeout value v ("" for none): the shorter of
// the two, and whether it is the client's. A client's value must lie in
// [min, max] (the limits.min_client_timeout and max_client_timeout keys;
// a zero bound does not apply): outside, or unreadable (ParseTimeout), it
// is an error that names the limit, for a 400.
func CallTimeout(v string, own, min, max time.Duration) (time.Duration, bool, error) {
	if v == "" {
		return own, false, nil
	}
	d, err := ParseTimeout(v)
	switch {
	case err != nil:
		return 0, false, err
	case min > 0 && d < min:
		return 0, false, fmt.Errorf("Grpc-Timeout %q (%s) is shorter than the minimum of %s (limits.min_client_timeout): ask for at least that", v, d, min)
	case max > 0 && d > max:
		return 0, false, fmt.Errorf("Grpc-Timeout %q (%s) is longer than the maximum of %s (limits.max_client_timeout): ask for at most that", v, d, max)
	}
	if own > 0 && own <= d {
		return own, false, nil
	}
	return d, true, nil
}
