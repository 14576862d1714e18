package transformcfg

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/refract-gateway/refract/gateway/transform"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// Transform reshapes the requests, responses and errors of the routes of
// its level; levels add up, least specific first (docs/transform.md).
type Transform struct {
	// Request edits the request's fields and metadata.
	Request *RequestTransform `yaml:"request"`
	// Response edits the response's fields, body and headers.
	Response *ResponseTransform `yaml:"response"`
	// Errors maps upstream errors to another HTTP status or body.
	Errors *ErrorTransform `yaml:"errors"`
}

// RequestTransform edits requests before the call.
type RequestTransform struct {
	// Set writes request fields from a source, replacing what the client
	// sent; a missing source (no such header, claim or consumer) clears
	// the field.
	Set []FieldSet `yaml:"set"`
	// Remove drops request fields the client may not set (.proto field
	// paths: book.locked).
	Remove []string `yaml:"remove"`
	// Metadata edits the metadata the upstream sees.
	Metadata *MetadataTransform `yaml:"metadata"`
}

// FieldSet sets one request field.
type FieldSet struct {
	// Field is the .proto path of a singular scalar or enum field of the
	// request message (book.author); required.
	Field string `yaml:"field"`
	// From is the value's source: header:NAME, claim:NAME, consumer,
	// const:VALUE or field:PATH (another field of the same type);
	// required.
	From string `yaml:"from"`
}

// MetadataTransform edits request metadata: renames, then removals, then
// sets. Authentication's keys (consumer, forwarded claims) are written
// after it and cannot be set here.
type MetadataTransform struct {
	// Set writes metadata keys from a source (as FieldSet.From, but not
	// field:); a missing source removes the key.
	Set map[string]string `yaml:"set"`
	// Remove drops metadata keys.
	Remove []string `yaml:"remove"`
	// Rename moves a key's values to another key (old: new).
	Rename map[string]string `yaml:"rename"`
}

// ResponseTransform edits successful responses.
type ResponseTransform struct {
	// Omit drops response fields (.proto paths), at any depth, also
	// inside repeated messages.
	Omit []string `yaml:"omit"`
	// Rename renames top-level fields of the JSON body (.proto name: new
	// key).
	Rename map[string]string `yaml:"rename"`
	// Envelope wraps the JSON body as {"<envelope>": body}; off when
	// unset.
	Envelope string `yaml:"envelope"`
	// Headers edits the response headers (successes and upstream errors).
	Headers *HeaderTransform `yaml:"headers"`
}

// HeaderTransform edits response headers: removals, then sets.
type HeaderTransform struct {
	// Set sets headers (name: value), replacing the upstream's.
	Set map[string]string `yaml:"set"`
	// Remove drops headers.
	Remove []string `yaml:"remove"`
}

// ErrorTransform reshapes errors the upstream call ends with.
type ErrorTransform struct {
	// Status maps gRPC code names to another HTTP status (NOT_FOUND: 410).
	Status map[string]int `yaml:"status"`
	// Body is a JSON template replacing the google.rpc.Status body:
	// ${code} and ${http_status} are numbers, ${status} (NOT_FOUND) and
	// ${message} are escaped string contents; off when unset.
	Body string `yaml:"body"`
}

var (
	fieldPath  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Validate reports every config-only error of t under key (the path of
// its transform key).
func (t *Transform) Validate(key string, bad func(key string, err error)) {
	if t == nil {
		return
	}
	if r := t.Request; r != nil {
		for i, fs := range r.Set {
			k := fmt.Sprintf("%s.request.set[%d]", key, i)
			if !fieldPath.MatchString(fs.Field) {
				bad(k+".field", fmt.Errorf("%q is not a field path (.proto names joined by dots: book.author)", fs.Field))
			}
			if src, err := transform.ParseSource(fs.From); err != nil {
				bad(k+".from", err)
			} else if src.Kind == transform.FromField && !fieldPath.MatchString(src.Arg) {
				bad(k+".from", fmt.Errorf("%q is not a field path", src.Arg))
			}
		}
		paths(key+".request.remove", r.Remove, bad)
		if m := r.Metadata; m != nil {
			for _, k := range sortedKeys(m.Set) {
				metaKey(key+".request.metadata.set", k, bad)
				if src, err := transform.ParseSource(m.Set[k]); err != nil {
					bad(key+".request.metadata.set", fmt.Errorf("%s: %w", k, err))
				} else if src.Kind == transform.FromField {
					bad(key+".request.metadata.set", fmt.Errorf("%s: metadata is set from a header, claim, consumer or constant, not a field", k))
				}
			}
			for i, k := range m.Remove {
				if strings.ToLower(k) != k || !rpcstatus.ValidMetadataKey(k) {
					bad(fmt.Sprintf("%s.request.metadata.remove[%d]", key, i), fmt.Errorf("%q is not a metadata key (lower case)", k))
				}
			}
			for _, k := range sortedKeys(m.Rename) {
				metaKey(key+".request.metadata.rename", m.Rename[k], bad)
				if strings.ToLower(k) != k || !rpcstatus.ValidMetadataKey(k) {
					bad(key+".request.metadata.rename", fmt.Errorf("%q is not a metadata key (lower case)", k))
				}
			}
		}
	}
	if r := t.Response; r != nil {
		paths(key+".response.omit", r.Omit, bad)
		for _, k := range sortedKeys(r.Rename) {
			if !fieldPath.MatchString(k) || strings.Contains(k, ".") {
				bad(key+".response.rename", fmt.Errorf("%q: only top-level fields are renamed (a .proto name)", k))
			}
			if r.Rename[k] == "" {
				bad(key+".response.rename", fmt.Errorf("%s: the new key is empty", k))
			}
		}
		if h := r.Headers; h != nil {
			for _, n := range append(sortedKeys(h.Set), h.Remove...) {
				if !headerName.MatchString(n) {
					bad(key+".response.headers", fmt.Errorf("%q is not a header name", n))
				}
			}
			for _, n := range sortedKeys(h.Set) {
				if strings.ContainsAny(h.Set[n], "\r\n\x00") {
					bad(key+".response.headers.set", fmt.Errorf("%s: a header value cannot hold CR, LF or NUL", n))
				}
			}
		}
	}
	if e := t.Errors; e != nil {
		for _, name := range sortedKeys(e.Status) {
			c, ok := transform.ParseCode(name)
			switch st := e.Status[name]; {
			case !ok || c == codes.OK:
				bad(key+".errors.status", fmt.Errorf("%q is not an error code name (NOT_FOUND, PERMISSION_DENIED …)", name))
			case st < 400 || st > 599:
				bad(key+".errors.status", fmt.Errorf("%s: %d is not an HTTP error status (400-599)", name, st))
			}
		}
		if e.Body != "" {
			if err := transform.CheckErrorBody(e.Body); err != nil {
				bad(key+".errors.body", err)
			}
		}
	}
}

func paths(key string, ps []string, bad func(string, error)) {
	for i, p := range ps {
		if !fieldPath.MatchString(p) {
			bad(fmt.Sprintf("%s[%d]", key, i), fmt.Errorf("%q is not a field path (.proto names joined by dots: book.author)", p))
		}
	}
}

func metaKey(key, k string, bad func(string, error)) {
	if strings.ToLower(k) != k || !rpcstatus.SettableMetadataKey(k) {
		bad(key, fmt.Errorf("%q is not a metadata key a transform may set (lower case, not reserved, not grpc-*)", k))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Spec is t as the gateway's transform spec; nil for nil. Validate
// accepted t.
func (t *Transform) Spec() *transform.Spec {
	if t == nil {
		return nil
	}
	s := &transform.Spec{}
	if r := t.Request; r != nil {
		for _, fs := range r.Set {
			src, _ := transform.ParseSource(fs.From)
			s.Set = append(s.Set, transform.FieldSet{Field: fs.Field, From: src})
		}
		s.Remove = r.Remove
		if m := r.Metadata; m != nil {
			for _, k := range sortedKeys(m.Set) {
				src, _ := transform.ParseSource(m.Set[k])
				s.Metadata.Set = append(s.Metadata.Set, transform.MetadataSet{Key: k, From: src})
			}
			s.Metadata.Remove = m.Remove
			for _, k := range sortedKeys(m.Rename) {
				s.Metadata.Rename = append(s.Metadata.Rename, transform.Pair{From: k, To: m.Rename[k]})
			}
		}
	}
	if r := t.Response; r != nil {
		s.Omit, s.Envelope = r.Omit, r.Envelope
		for _, k := range sortedKeys(r.Rename) {
			s.Rename = append(s.Rename, transform.Pair{From: k, To: r.Rename[k]})
		}
		if h := r.Headers; h != nil {
			for _, k := range sortedKeys(h.Set) {
				s.Headers.Set = append(s.Headers.Set, transform.Pair{From: http.CanonicalHeaderKey(k), To: h.Set[k]})
			}
			s.Headers.Remove = h.Remove
		}
	}
	if e := t.Errors; e != nil {
		s.ErrorBody = e.Body
		for name, st := range e.Status {
			if c, ok := transform.ParseCode(name); ok {
				if s.Status == nil {
					s.Status = map[codes.Code]int{}
				}
				s.Status[c] = st
			}
		}
	}
	return s
}
