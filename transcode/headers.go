package transcode

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/metadata"
)

// MetadataHeaderPrefix marks HTTP headers that carry gRPC metadata both ways:
// a request header Grpc-Metadata-Foo becomes metadata "foo", and response
// metadata "foo" comes back as the header Grpc-Metadata-Foo (grpc-gateway's
// convention, so its clients keep working).
const MetadataHeaderPrefix = "Grpc-Metadata-"

// TrailerHeaderPrefix marks response headers that carry the upstream's
// trailing metadata (Grpc-Trailer-Foo).
const TrailerHeaderPrefix = "Grpc-Trailer-"

// DefaultAllowedHeaders returns the request headers forwarded as metadata
// when a configuration names none; Grpc-Metadata-* headers are always
// forwarded. A function, so no caller can change the defaults of another.
func DefaultAllowedHeaders() []string {
	return []string{"Authorization", "X-Request-Id", "Traceparent", "Tracestate"}
}

// HeaderRules decide which request headers reach the upstream as gRPC
// metadata. Built once per upstream; immutable and safe for concurrent use.
type HeaderRules struct {
	allowed map[string]string   // canonical header name → metadata key
	owned   map[string]struct{} // the metadata keys of allowed
}

// NewHeaderRules builds rules that forward the named headers (matched without
// regard to case) plus every Grpc-Metadata-* header with its prefix removed.
// Nil allow means DefaultAllowedHeaders(); an empty, non-nil slice forwards only
// Grpc-Metadata-* headers. Headers that must never be forwarded (hop-by-hop,
// Content-Length, Grpc-*, and X-Forwarded-*, X-Real-IP and Forwarded, which
// the gateway writes itself) are refused with an error. Cookie is forwarded
// only when named here (never as Grpc-Metadata-Cookie). A key a named
// header owns is never set by a Grpc-Metadata-* header (Grpc-Metadata-
// Authorization does not add an unchecked credential beside Authorization).
func NewHeaderRules(allow []string) (*HeaderRules, error) {
	if allow == nil {
		allow = DefaultAllowedHeaders()
	}
	h := &HeaderRules{allowed: make(map[string]string, len(allow)), owned: make(map[string]struct{}, len(allow))}
	for _, name := range allow {
		key := strings.ToLower(name)
		if !rpcstatus.ValidMetadataKey(key) {
			return nil, fmt.Errorf("transcode: header %q cannot be forwarded: not a valid metadata key", name)
		}
		if rpcstatus.ReservedMetadataKey(key) || gatewayOwnedKey(key) {
			return nil, fmt.Errorf("transcode: header %q cannot be forwarded: it is reserved or set by the gateway", name)
		}
		h.allowed[textproto.CanonicalMIMEHeaderKey(name)] = key
		h.owned[key] = struct{}{}
	}
	return h, nil
}

// Allowed lists the forwarded header names (canonical form), for the admin API.
func (h *HeaderRules) Allowed() []string {
	out := make([]string, 0, len(h.allowed))
	for k := range h.allowed {
		out = append(out, k)
	}
	return out
}

// Metadata returns the outgoing metadata for an HTTP request: the allowed
// headers, Grpc-Metadata-* headers without their prefix (but for the keys
// of allowed headers), and x-forwarded-for/-host/-proto and x-real-ip
// written by the gateway from the connection and clientIP (the client
// address the trusted-proxy policy decided; client-sent X-Forwarded-*,
// X-Real-IP and Forwarded never pass). Headers named in Connection are
// dropped as hop-by-hop. Values of "-bin" keys must be base64; others must
// hold no control bytes (no CR, LF or NUL reaches the upstream), and reach
// it percent-encoded when they hold bytes above 0x7E (gRPC metadata
// carries printable ASCII only). An invalid value is an error naming it.
func (h *HeaderRules) Metadata(r *http.Request, clientIP string) (metadata.MD, error) {
	return h.MetadataInto(make(metadata.MD, len(h.allowed)+3), r, clientIP)
}

// MetadataInto is Metadata filling md, an empty map (a recycled one).
func (h *HeaderRules) MetadataInto(md metadata.MD, r *http.Request, clientIP string) (metadata.MD, error) {
	connListed := connectionTokens(r.Header)
	for name, vals := range r.Header {
		if connListed != nil && connListed[strings.ToLower(name)] {
			continue
		}
		var key string
		if k, ok := h.allowed[name]; ok {
			key = k
		} else if len(name) > len(MetadataHeaderPrefix) && strings.EqualFold(name[:len(MetadataHeaderPrefix)], MetadataHeaderPrefix) {
			key = strings.ToLower(name[len(MetadataHeaderPrefix):])
			if !rpcstatus.ValidMetadataKey(key) || rpcstatus.ReservedMetadataKey(key) || gatewayOwnedKey(key) || key == "cookie" {
				continue
			}
			if _, named := h.owned[key]; named {
				continue
			}
		} else {
			continue
		}
		for _, v := range vals {
			if strings.HasSuffix(key, "-bin") {
				raw, err := rpcstatus.DecodeBinaryMetadata(v)
				if err != nil {
					return nil, fmt.Errorf("header %s: binary metadata must be base64: %v", name, err)
				}
				v = string(raw)
			} else if t, err := metadataText(v); err != nil {
				return nil, fmt.Errorf("header %s: %v", name, err)
			} else {
				v = t
			}
			md[key] = append(md[key], v)
		}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	// One array for the forwarding keys, each a full slice: no append writes into another.
	fwd := [...]string{clientIP, clientIP, r.Host, proto}
	vals := fwd[:]
	if clientIP != "" {
		md["x-forwarded-for"], md["x-real-ip"] = vals[0:1:1], vals[1:2:2]
	}
	if r.Host != "" {
		md["x-forwarded-host"] = vals[2:3:3]
	}
	md["x-forwarded-proto"] = vals[3:4:4]
	return md, nil
}

// WriteResponseMetadata copies upstream header metadata to w as
// Grpc-Metadata-* headers and trailing metadata as Grpc-Trailer-* headers
// (unary responses are buffered, so trailers can travel as headers, which
// every HTTP client can read). Reserved keys are skipped; binary values are
// base64-encoded.
func WriteResponseMetadata(w http.Header, header, trailer metadata.MD) {
	copyMD(w, MetadataHeaderPrefix, header)
	copyMD(w, TrailerHeaderPrefix, trailer)
}

func copyMD(w http.Header, prefix string, md metadata.MD) {
	for k, vals := range md {
		if rpcstatus.ReservedMetadataKey(k) || !rpcstatus.ValidMetadataKey(k) {
			continue
		}
		name := textproto.CanonicalMIMEHeaderKey(prefix + k)
		for _, v := range vals {
			if strings.HasSuffix(k, "-bin") {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			} else if strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			w[name] = append(w[name], v)
		}
	}
}

// connectionTokens returns the lower-cased header names listed in Connection
// (RFC 9110 §7.6.1), or nil when there are none.
func connectionTokens(h http.Header) map[string]bool {
	vals := h["Connection"]
	if len(vals) == 0 {
		return nil
	}
	m := make(map[string]bool)
	for _, v := range vals {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				m[strings.ToLower(tok)] = true
			}
		}
	}
	return m
}
