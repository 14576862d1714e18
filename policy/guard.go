package policy

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// GuardOptions are the limits every request is held to whatever its route.
// Each field's zero value means no limit (Underscores: UnderscoreAllow);
// the gateway passes its own defaults.
type GuardOptions struct {
	// URLBytes bounds the request target (RequestURI); longer gets 414.
	URLBytes int
	// HeaderBytes bounds the request headers as HTTP/1.1 would send them;
	// more gets 431.
	HeaderBytes int
	// PerClient bounds the requests one client address has in flight;
	// more get 429.
	PerClient int
	// Underscores is what happens to a header whose name holds '_':
	// UnderscoreDrop, UnderscoreReject or UnderscoreAllow.
	Underscores string
}

// The values of GuardOptions.Underscores.
const (
	UnderscoreDrop   = "drop"
	UnderscoreReject = "reject"
	UnderscoreAllow  = "allow"
)

// methodOverrideHeaders are honoured by some frameworks to turn a POST into
// another method after policies ran on the POST. refract routes on the
// request line only; they are removed so nothing further down can act on
// them either.
var methodOverrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// Guard checks what any request must satisfy whatever its route: URL and
// header sizes, header names (underscores; method-override headers are
// removed), the path's spelling (router.CheckPath, and an escaped form
// that is the one that travelled), and the client's concurrency; the
// path it passes on is in canonical spelling (router.CanonicalPath). It runs
// at StageGuard: after the edge stages, so the access log records its
// rejections and the client's address is known through trusted proxies,
// and before the route is matched, so no route policy ever sees a request
// it refuses. The returned policy is safe for concurrent use; each handler
// it wraps counts its own clients' requests in flight.
func Guard(o GuardOptions) Policy {
	maxURL, maxHeader, perClient, underscores := o.URLBytes, o.HeaderBytes, o.PerClient, o.Underscores
	if underscores == "" {
		underscores = UnderscoreAllow
	}
	return func(next http.Handler) http.Handler {
		var inFlight Slots[netip.Addr]
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := len(r.RequestURI); maxURL > 0 && n > maxURL {
				rpcstatus.WriteStatus(w, http.StatusRequestURITooLong, codes.InvalidArgument, fmt.Sprintf(
					"the request URL is %d bytes; the limit is %d (limits.max_url_bytes): send large inputs in the body", n, maxURL))
				return
			}
			if n := headerBytes(r); maxHeader > 0 && n > maxHeader {
				rpcstatus.WriteStatus(w, http.StatusRequestHeaderFieldsTooLarge, codes.InvalidArgument, fmt.Sprintf(
					"the request headers are %d bytes; the limit is %d (limits.max_header_bytes)", n, maxHeader))
				return
			}
			if underscores != UnderscoreAllow {
				for name := range r.Header {
					if strings.IndexByte(name, '_') < 0 {
						continue
					}
					if underscores == UnderscoreReject {
						rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf(
							"header %q: names with '_' are refused (limits.headers_with_underscores: reject); spell it with '-'", name))
						return
					}
					delete(r.Header, name)
				}
			}
			for _, h := range methodOverrideHeaders {
				delete(r.Header, h)
			}
			if msg := checkPathSpelling(r); msg != "" {
				rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, msg)
				return
			}
			canonicalPath(r)
			ip := ClientAddr(r, InfoFrom(r.Context()))
			if !inFlight.Acquire(ip, perClient) {
				rpcstatus.WriteStatus(w, http.StatusTooManyRequests, codes.ResourceExhausted, fmt.Sprintf(
					"too many concurrent requests from %s: the limit is %d (limits.max_concurrent_per_client); wait for earlier requests to finish", ip, perClient))
				return
			}
			defer inFlight.Release(ip)
			next.ServeHTTP(w, r)
		})
	}
}

// checkPathSpelling refuses a path that means different things to
// different parsers (router.CheckPath), and one whose escaped form is not
// the one that travelled: net/http re-encodes the path from its decoded
// form when the raw path has characters that should have been escaped,
// and that re-encoding would turn a "%2F" into a real '/'.
func checkPathSpelling(r *http.Request) string {
	ep := r.URL.EscapedPath()
	if r.URL.RawPath != "" && ep != r.URL.RawPath {
		for i := 0; i < len(r.URL.RawPath); i++ {
			if c := r.URL.RawPath[i]; c == '"' || c == '<' || c == '>' || c == '`' || c == '^' || c == '{' || c == '}' || c == '|' || c == '\\' || c == ' ' || c >= 0x80 {
				return fmt.Sprintf("request path: character %q at byte %d must be percent-encoded (%%%02X)", c, i, c)
			}
		}
		return "request path: it must be sent percent-encoded (RFC 3986)"
	}
	if err := router.CheckPath(ep); err != nil {
		return err.Error()
	}
	return ""
}

// canonicalPath respells r's path as the router matches it
// (router.CanonicalPath: escapes of unreserved characters decoded), in
// r.URL and r.RequestURI, so that every later stage and an external
// authorizer see "/v1/shelves/2" for "/v1/%73helves/%32" and no rule
// written for one spelling can be passed with another. It allocates only
// when the path has such escapes; checkPathSpelling has accepted it.
func canonicalPath(r *http.Request) {
	ep := r.URL.EscapedPath()
	cp, err := router.CanonicalPath(ep)
	if err != nil || cp == ep {
		return
	}
	r.URL.RawPath = cp // decodes to r.URL.Path still: only unreserved escapes went
	r.RequestURI = r.URL.RequestURI()
}

// headerBytes is the size of r's headers as HTTP/1.1 would send them.
func headerBytes(r *http.Request) int {
	n := len(r.Host) + 8
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
