package checks

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Policy is the stage that asks cs about each request of one route, all
// at once: route is its name as the admin API shows it, method its gRPC
// method, upstream its upstream. The combination rule:
//   - every check must allow; the first refusal to arrive (a denial, or
//     a failure of a check that fails closed) answers the request and
//     cancels the checks still running;
//   - a denial is 403 PERMISSION_DENIED naming the check; a fail-closed
//     check that errs is 503 UNAVAILABLE, one that times out 504
//     DEADLINE_EXCEEDED; none carries what the check answered;
//   - a failing check that fails open is counted, logged and ignored.
//
// The stage returns only once every check has ended, so a request costs
// as long as its slowest check (or its first refusal) and no check
// outlives it. On allow, the metadata the checks vouch for is merged in
// their declared order (see merge). Nil when cs is empty.
func Policy(cs []*Check, route, method, upstream string) policy.Policy {
	if len(cs) == 0 {
		return nil
	}
	cs = slices.Clone(cs)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			verdicts, ref := ask(r, cs, route, method, upstream)
			if ref.check != nil {
				ref.write(w)
				return
			}
			if ref.gone {
				rpcstatus.WriteStatus(w, rpcstatus.StatusClientClosed, codes.Canceled, "the client went away before the checks decided")
				return
			}
			merge(r, cs, verdicts)
			next.ServeHTTP(w, r)
		})
	}
}

// answer is one check's answer to one request.
type answer struct {
	i       int
	v       policy.Verdict
	err     error
	elapsed time.Duration
}

// refusal is what answers a refused request: the check that refused it
// (nil: none) and whether it timed out; gone says the client left while
// checks were still running.
type refusal struct {
	check    *Check
	denied   bool
	timedOut bool
	gone     bool
}

func (f refusal) write(w http.ResponseWriter) {
	switch {
	case f.denied:
		rpcstatus.Write(w, http.StatusForbidden, codes.PermissionDenied, f.check.denied)
	case f.timedOut:
		w.Header().Set("Retry-After", "1")
		rpcstatus.Write(w, http.StatusGatewayTimeout, codes.DeadlineExceeded, f.check.late)
	default:
		w.Header().Set("Retry-After", "1")
		rpcstatus.Write(w, http.StatusServiceUnavailable, codes.Unavailable, f.check.down)
	}
}

// ask asks every check in a goroutine of its own and waits for all of
// them: the verdicts come back in declared order, or the refusal that
// answers the request.
func ask(r *http.Request, cs []*Check, route, method, upstream string) ([]policy.Verdict, refusal) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	answers := make(chan answer, len(cs))
	for i, c := range cs {
		run := func() {
			start := time.Now()
			v, err := c.az.Ask(ctx, r, route, method, upstream)
			answers <- answer{i: i, v: v, err: err, elapsed: time.Since(start)}
		}
		if len(cs) == 1 {
			run() // nothing to ask beside it: no goroutine
		} else {
			go run()
		}
	}
	verdicts := make([]policy.Verdict, len(cs))
	var ref refusal
	for range cs {
		a := <-answers
		c := cs[a.i]
		switch {
		case a.err == nil && a.v.Allow:
			verdicts[a.i] = a.v
			c.obs.Decided(Allowed, a.elapsed)
		case a.err == nil:
			c.obs.Decided(Denied, a.elapsed)
			if ref.check == nil {
				ref = refusal{check: c, denied: true}
				cancel()
			}
		case ctx.Err() != nil:
			// Cancelled: by an earlier refusal, or the client left.
			c.obs.Decided(Cancelled, a.elapsed)
			ref.gone = r.Context().Err() != nil
		case c.failOpen:
			c.obs.Decided(FailedOpen, a.elapsed)
			c.log.Warn().Err(a.err).Str("route", route).Msg("check failed; admitting (failure_mode open)")
		default:
			c.obs.Decided(FailedClosed, a.elapsed)
			c.log.Error().Err(a.err).Str("route", route).Msg("check failed; refusing (failure_mode closed)")
			if ref.check == nil {
				ref = refusal{check: c, timedOut: timedOut(a.err)}
				cancel()
			}
		}
	}
	return verdicts, ref
}

// timedOut reports an error of a check that ran out of time (its own
// timeout): an HTTP client's deadline or a gRPC DEADLINE_EXCEEDED.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}

// merge applies what the checks said on allow, in their declared order:
// first a client's own values of every header a check vouches for are
// dropped (whether or not this answer carries them), then each check's
// headers to remove are removed and its metadata added. A metadata key
// already set before a check's turn (by authentication, the external
// authorizer or an earlier check) keeps its earlier values: the later
// check's are dropped, so a check cannot override an identity
// established before it.
func merge(r *http.Request, cs []*Check, verdicts []policy.Verdict) {
	for _, c := range cs {
		for _, h := range c.vouches {
			r.Header.Del(h)
			r.Header.Del("Grpc-Metadata-" + h)
		}
	}
	info := policy.InfoFrom(r.Context())
	for i, v := range verdicts {
		for _, h := range v.Remove {
			r.Header.Del(h)
		}
		before := 0
		if info != nil {
			before = len(info.Metadata)
		}
		for j := 0; j+1 < len(v.Metadata); j += 2 {
			k := v.Metadata[j]
			// A client must not be able to send what a check vouches for.
			r.Header.Del(k)
			r.Header.Del("Grpc-Metadata-" + k)
			if info == nil {
				continue
			}
			if setBefore(info.Metadata[:before], k) {
				cs[i].log.Debug().Str("key", k).Msg("metadata key set before this check; keeping the earlier value")
				continue
			}
			info.Metadata = append(info.Metadata, k, v.Metadata[j+1])
		}
	}
}

// setBefore reports whether the key, value pairs md hold key.
func setBefore(md []string, key string) bool {
	for i := 0; i+1 < len(md); i += 2 {
		if md[i] == key {
			return true
		}
	}
	return false
}
