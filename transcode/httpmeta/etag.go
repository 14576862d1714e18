package httpmeta

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Cacheable tells whether responses of a route may carry a validator: a
// GET route, or a method declared side-effect free
// (idempotency_level = NO_SIDE_EFFECTS).
func Cacheable(httpMethod string, md protoreflect.MethodDescriptor) bool {
	if httpMethod == http.MethodGet {
		return true
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	return ok && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
}

// ETag is the strong entity tag of a response body: a quoted, truncated
// SHA-256. Equal bodies have equal tags, whichever instance served them.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// NotModified reports whether r's If-None-Match matches tag, by the weak
// comparison RFC 9110 §13.1.2 asks for (a W/ prefix on either side is
// ignored; "*" matches any tag).
func NotModified(r *http.Request, tag string) bool {
	inm := r.Header.Values("If-None-Match")
	if len(inm) == 0 || tag == "" {
		return false
	}
	tag = strings.TrimPrefix(tag, "W/")
	for _, line := range inm {
		for _, t := range strings.Split(line, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == tag {
				return true
			}
		}
	}
	return false
}
