package gateway

import (
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The guard runs after the edge policies (so the access log records its
// rejections and the client's address is known through trusted proxies)
// and before the route is matched, so no route policy (authentication,
// authorization, rate limits) ever sees a request it refuses. It checks
// what any request must satisfy whatever its route: URL and header sizes,
// header names, the path's spelling, and the client's concurrency.

// methodOverrideHeaders are honoured by some frameworks to turn a POST into
// another method after policies ran on the POST. refract routes on the
// request line only; they are removed so nothing further down can act on
// them either.
var methodOverrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// guard wraps next (the route match) in the gateway-wide request checks.
func (g *Gateway) guard(next http.Handler) http.Handler {
	l := &g.limits
	maxURL, maxHeader, perClient, underscores := l.URLBytes, l.HeaderBytes, l.PerClient, l.Underscores
	var inFlight slots[netip.Addr]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := len(r.RequestURI); n > maxURL {
			writeStatus(w, http.StatusRequestURITooLong, codes.InvalidArgument, fmt.Sprintf(
				"the request URL is %d bytes; the limit is %d (limits.max_url_bytes): send large inputs in the body", n, maxURL), nil)
			return
		}
		if n := headerBytes(r); n > maxHeader {
			writeStatus(w, http.StatusRequestHeaderFieldsTooLarge, codes.InvalidArgument, fmt.Sprintf(
				"the request headers are %d bytes; the limit is %d (limits.max_header_bytes)", n, maxHeader), nil)
			return
		}
		if underscores != UnderscoreAllow {
			for name := range r.Header {
				if strings.IndexByte(name, '_') < 0 {
					continue
				}
				if underscores == UnderscoreReject {
					writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf(
						"header %q: names with '_' are refused (limits.headers_with_underscores: reject); spell it with '-'", name), nil)
					return
				}
				delete(r.Header, name)
			}
		}
		for _, h := range methodOverrideHeaders {
			delete(r.Header, h)
		}
		if msg := checkPathSpelling(r); msg != "" {
			writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, msg, nil)
			return
		}
		ip := clientAddr(r, policy.InfoFrom(r.Context()))
		if !inFlight.acquire(ip, perClient) {
			writeStatus(w, http.StatusTooManyRequests, codes.ResourceExhausted, fmt.Sprintf(
				"too many concurrent requests from %s: the limit is %d (limits.max_concurrent_per_client); wait for earlier requests to finish", ip, perClient), nil)
			return
		}
		defer inFlight.release(ip)
		next.ServeHTTP(w, r)
	})
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

// rejectEscapes answers 400 when the matched (escaped) path carries an
// encoded separator outside the route's "**" (router.Template.CheckEscapes);
// it runs before the route's policies.
func rejectEscapes(w http.ResponseWriter, path string, tmpl *router.Template) bool {
	if err := tmpl.CheckEscapes(path); err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), nil)
		return true
	}
	return false
}

// notAcceptable answers 406 when the client's Accept allows no JSON for a
// unary call whose answer is JSON (google.api.HttpBody answers carry their
// own type and are not checked). Errors are JSON whatever Accept says.
func notAcceptable(w http.ResponseWriter, r *http.Request, b *transcode.Binding) bool {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 || b.RawResponse() || acceptsJSON(accept) {
		return false
	}
	writeStatus(w, http.StatusNotAcceptable, codes.InvalidArgument, fmt.Sprintf(
		"Accept %q allows no JSON; this method answers application/json", strings.Join(accept, ", ")), b)
	return true
}

// acceptsJSON reports whether some media range of the Accept values
// matches application/json with a non-zero quality.
func acceptsJSON(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if q := strings.TrimSpace(params["q"]); q == "0" || q == "0.0" || q == "0.00" || q == "0.000" {
				continue
			}
			switch {
			case mt == "*/*", mt == "application/*", mt == "application/json",
				strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
				return true
			}
		}
	}
	return false
}

// responseTooLarge answers 502 when the upstream's answer was larger than
// limits.max_response_bytes: grpc-go refuses to receive it with
// RESOURCE_EXHAUSTED, which must not read as the caller's quota (429).
func (g *Gateway) responseTooLarge(w http.ResponseWriter, rt *route, err error) bool {
	st, ok := status.FromError(err)
	limit := g.limits.ResponseBytes
	if !ok || !transcode.RecvTooLarge(st, int64(limit)) {
		return false
	}
	writeStatus(w, http.StatusBadGateway, codes.Internal, fmt.Sprintf(
		"upstream %q answered with a message over the limit of %d bytes (limits.max_response_bytes): %s", rt.up.name, limit, st.Message()), rt.binding)
	return true
}
