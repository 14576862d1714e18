package httpmeta

import (
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/metadata"
)

// StatusKey is the metadata key (header or trailer) whose value a backend
// sets to choose the HTTP status of a successful response: 200 to 399
// (201 Created, 202 Accepted, 204 No Content, 302 Found with a Location
// …). Any other value is ignored: a failed call's status always comes from
// its gRPC code.
const StatusKey = "x-http-code"

// Rules map response metadata keys to plain HTTP response headers for one
// upstream. A nil *Rules maps no header but still honours StatusKey.
// Immutable; safe for concurrent use.
type Rules struct {
	headers map[string]string // metadata key → canonical header name
}

// forbidden are headers a backend may not set: the transport's, and those
// whose value the gateway computes (the body's type, length and encoding).
var forbidden = map[string]bool{
	"content-type": true, "content-length": true, "content-encoding": true, "transfer-encoding": true,
	"connection": true, "keep-alive": true, "upgrade": true, "trailer": true, "te": true,
	"proxy-authenticate": true, "proxy-connection": true, "x-content-type-options": true,
}

// NewRules returns the rules that copy the metadata keys named by headers
// (HTTP header names, matched without regard to case) into response
// headers of the same name. A name that is not a valid metadata key, is
// binary (-bin), reserved for gRPC, or a header the gateway computes itself
// is refused with an error naming it.
func NewRules(headers []string) (*Rules, error) {
	if len(headers) == 0 {
		return nil, nil
	}
	r := &Rules{headers: make(map[string]string, len(headers))}
	for _, name := range headers {
		key := strings.ToLower(name)
		switch {
		case !rpcstatus.ValidMetadataKey(key) || strings.HasSuffix(key, "-bin"):
			return nil, fmt.Errorf("httpmeta: response header %q: not a text metadata key", name)
		case rpcstatus.ReservedMetadataKey(key) || forbidden[key]:
			return nil, fmt.Errorf("httpmeta: response header %q is the gateway's to set, not a backend's", name)
		case key == StatusKey:
			return nil, fmt.Errorf("httpmeta: response header %q: %s sets the status, it is not a header", name, StatusKey)
		}
		r.headers[key] = textproto.CanonicalMIMEHeaderKey(name)
	}
	return r, nil
}

// Headers lists the mapped header names, sorted, for the admin API.
func (r *Rules) Headers() []string {
	if r == nil {
		return nil
	}
	out := make([]string, 0, len(r.headers))
	for _, h := range r.headers {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Apply sets h's mapped headers from the response's header and trailer
// metadata (values with control characters are dropped) and returns the
// HTTP status of the successful response: StatusKey's when valid, else
// 200.
func (r *Rules) Apply(h http.Header, header, trailer metadata.MD) int {
	if r != nil {
		for key, name := range r.headers {
			for _, md := range []metadata.MD{header, trailer} {
				for _, v := range md[key] {
					if !strings.ContainsAny(v, "\r\n\x00") {
						h[name] = append(h[name], v)
					}
				}
			}
		}
	}
	return Status(header, trailer)
}

// Status is the status StatusKey asks for in header (else trailer)
// metadata, when it is an integer from 200 to 399; else 200.
func Status(header, trailer metadata.MD) int {
	for _, md := range []metadata.MD{header, trailer} {
		if v := md[StatusKey]; len(v) > 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(v[0])); err == nil && n >= 200 && n <= 399 {
				return n
			}
			return http.StatusOK
		}
	}
	return http.StatusOK
}

// BodyAllowed reports whether a response of status may carry a body (RFC
// 9110: not 204 or 304).
func BodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}
