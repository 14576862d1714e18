package policy

import "net/http"

// Policy wraps the rest of the chain. It may answer the request itself (a
// rejection) or call next. A Policy is built once per route and must be safe
// for concurrent use.
type Policy func(next http.Handler) http.Handler

// Stage is a position in the one declared order of policies. Cheap checks
// that reject come first, so a request refused early costs nothing later:
// an IP-denied request never reaches authentication, and a request that
// fails authentication never spends a rate-limit token.
type Stage int

// The order, outermost first. Stages before StageSizeLimit run before the
// route is matched (a CORS preflight must never be answered 405, and an
// IP-denied client must not learn which paths exist); the last of them,
// the guard, holds every request to the limits that do not depend on its
// route. The rest run per route. The external authorizer and then the
// named pre-call checks (asked in parallel) come last, so floods and
// requests refused locally never reach them. Resilience (timeouts, breakers, retries,
// fallbacks, splits) wraps the upstream call itself.
const (
	StageRecover Stage = iota
	StageRequestID
	StageAccessLog
	StageClientIP
	StageIPFilter
	StageCORS
	StageGuard
	StageSizeLimit
	StageAuthenticate
	StageAuthorize
	StageRateLimit
	StageExtAuthz
	StageChecks
	numStages
)

// NoStage is no stage: what Info.Stage holds outside the policies.
const NoStage Stage = -1

// String names the stage as the docs and logs do.
func (s Stage) String() string {
	switch s {
	case StageRecover:
		return "recover"
	case StageRequestID:
		return "request_id"
	case StageAccessLog:
		return "access_log"
	case StageClientIP:
		return "client_ip"
	case StageIPFilter:
		return "ip_filter"
	case StageCORS:
		return "cors"
	case StageGuard:
		return "guard"
	case StageSizeLimit:
		return "size_limit"
	case StageAuthenticate:
		return "authenticate"
	case StageAuthorize:
		return "authorize"
	case StageRateLimit:
		return "rate_limit"
	case StageExtAuthz:
		return "ext_authz"
	case StageChecks:
		return "checks"
	case NoStage:
		return "none"
	}
	return "unknown"
}

// Order lists every stage, outermost first.
func Order() []Stage {
	out := make([]Stage, numStages)
	for i := range out {
		out[i] = Stage(i)
	}
	return out
}

// Set holds at most one policy per stage; the zero value is empty. Several
// policies for one stage (global and route IP rules, say) are combined with
// Then before they go into a Set.
type Set struct {
	p [numStages]Policy
}

// Put attaches p at stage s, replacing what was there; nil removes it.
func (s *Set) Put(stage Stage, p Policy) {
	if stage >= 0 && stage < numStages {
		s.p[stage] = p
	}
}

// Get returns the policy at stage s, or nil.
func (s *Set) Get(stage Stage) Policy {
	if stage < 0 || stage >= numStages {
		return nil
	}
	return s.p[stage]
}

// Stages lists the stages that hold a policy, in chain order.
func (s *Set) Stages() []Stage {
	var out []Stage
	for i, p := range s.p {
		if p != nil {
			out = append(out, Stage(i))
		}
	}
	return out
}

// Refuses reports whether the policy at stage s may answer a request
// itself with an error. Recover, request id, access log and client IP
// never refuse (a recovered panic is the gateway's fault, not a
// rejection).
func (s Stage) Refuses() bool { return s >= StageIPFilter }

// Marked is s with each policy that can refuse a request recording, in
// the request's Info, that the request entered it: a request answered
// with an error while the mark still names a stage was refused there
// (whoever serves the request past the chain clears it). Meant for the
// control path: chains are compiled once per route.
func (s Set) Marked() Set {
	for _, st := range s.Stages() {
		if !st.Refuses() {
			continue
		}
		p := s.Get(st)
		s.Put(st, func(next http.Handler) http.Handler {
			inner := p(next)
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if info := InfoFrom(r.Context()); info != nil {
					info.Stage = st
				}
				inner.ServeHTTP(w, r)
			})
		})
	}
	return s
}

// Compile wraps final in the set's policies in the declared order and
// returns the resulting handler, which is immutable: change the set and
// compile again to change it.
func Compile(s Set, final http.Handler) http.Handler {
	h := final
	for i := numStages - 1; i >= 0; i-- {
		if p := s.p[i]; p != nil {
			h = p(h)
		}
	}
	return h
}

// Then combines policies meant for one stage: the first runs outermost.
// Nil entries are skipped; nil when none is left.
func Then(ps ...Policy) Policy {
	var keep []Policy
	for _, p := range ps {
		if p != nil {
			keep = append(keep, p)
		}
	}
	switch len(keep) {
	case 0:
		return nil
	case 1:
		return keep[0]
	}
	return func(next http.Handler) http.Handler {
		for i := len(keep) - 1; i >= 0; i-- {
			next = keep[i](next)
		}
		return next
	}
}
