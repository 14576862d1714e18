package transform

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
)

// Spec is what a route's transform asks for, as plain data: the gateway's
// maker builds it from config (Merge folds the levels that apply).
// Field paths are .proto names from the request or response message
// (book.author). The zero Spec changes nothing.
type Spec struct {
	// Set writes fields of the request, replacing what the client sent.
	Set []FieldSet
	// Remove drops request fields the client may not set.
	Remove []string
	// Metadata edits the request metadata the upstream sees.
	Metadata MetadataEdits
	// Omit drops response fields; Rename renames top-level response
	// fields in the JSON body (old key → new key).
	Omit   []string
	Rename []Pair
	// Envelope wraps the JSON response body as {"<Envelope>": body}; ""
	// leaves it as it is.
	Envelope string
	// Headers edits the response headers (successes and mapped errors).
	Headers HeaderEdits
	// Status maps an upstream error's gRPC code to another HTTP status.
	Status map[codes.Code]int
	// ErrorBody is a JSON template for upstream errors' bodies with
	// ${code}, ${status}, ${message} and ${http_status}; "" keeps the
	// google.rpc.Status body.
	ErrorBody string
}

// FieldSet sets one request field from a source.
type FieldSet struct {
	Field string
	From  Source
}

// SourceKind is where a set value comes from.
type SourceKind string

// The sources of a set value.
const (
	FromHeader   SourceKind = "header"   // a request header's first value
	FromClaim    SourceKind = "claim"    // a claim of the verified JWT
	FromConsumer SourceKind = "consumer" // the authenticated consumer's name
	FromConst    SourceKind = "const"    // the text after "const:"
	FromField    SourceKind = "field"    // another request field (same type)
)

// Source is a value's origin: Kind and its argument (a header or claim
// name, a constant, a field path; none for consumer).
type Source struct {
	Kind SourceKind
	Arg  string
}

// String is the source as config writes it: "claim:sub", "consumer".
func (s Source) String() string {
	if s.Kind == FromConsumer {
		return string(s.Kind)
	}
	return string(s.Kind) + ":" + s.Arg
}

// Pair is a rename (From → To) or a header value (From: name, To: value).
type Pair struct{ From, To string }

// MetadataEdits change the request metadata: renames first, then
// removals, then sets. Keys are lower case.
type MetadataEdits struct {
	Set    []MetadataSet
	Remove []string
	Rename []Pair
}

// MetadataSet sets one metadata key from a source (FromField excepted).
type MetadataSet struct {
	Key  string
	From Source
}

// HeaderEdits change response headers: removals, then sets (From is the
// name, To the value).
type HeaderEdits struct {
	Set    []Pair
	Remove []string
}

// Empty reports whether s changes nothing.
func (s *Spec) Empty() bool {
	return s == nil || (len(s.Set) == 0 && len(s.Remove) == 0 && len(s.Metadata.Set) == 0 && len(s.Metadata.Remove) == 0 &&
		len(s.Metadata.Rename) == 0 && len(s.Omit) == 0 && len(s.Rename) == 0 && s.Envelope == "" &&
		len(s.Headers.Set) == 0 && len(s.Headers.Remove) == 0 && len(s.Status) == 0 && s.ErrorBody == "")
}

// Merge folds the transforms of a route's levels, least specific first:
// lists add up (a more specific set of the same field wins), a more
// specific envelope or error body replaces, status maps merge code by
// code. Nil entries are skipped; nil when nothing is left.
func Merge(levels ...*Spec) *Spec {
	out := &Spec{}
	for _, l := range levels {
		if l == nil {
			continue
		}
		for _, fs := range l.Set {
			out.Set = slices.DeleteFunc(out.Set, func(o FieldSet) bool { return o.Field == fs.Field })
			out.Set = append(out.Set, fs)
		}
		out.Remove = append(out.Remove, l.Remove...)
		out.Metadata.Set = append(out.Metadata.Set, l.Metadata.Set...)
		out.Metadata.Remove = append(out.Metadata.Remove, l.Metadata.Remove...)
		out.Metadata.Rename = append(out.Metadata.Rename, l.Metadata.Rename...)
		out.Omit = append(out.Omit, l.Omit...)
		out.Rename = append(out.Rename, l.Rename...)
		out.Headers.Set = append(out.Headers.Set, l.Headers.Set...)
		out.Headers.Remove = append(out.Headers.Remove, l.Headers.Remove...)
		if l.Envelope != "" {
			out.Envelope = l.Envelope
		}
		if l.ErrorBody != "" {
			out.ErrorBody = l.ErrorBody
		}
		for c, st := range l.Status {
			if out.Status == nil {
				out.Status = map[codes.Code]int{}
			}
			out.Status[c] = st
		}
	}
	if out.Empty() {
		return nil
	}
	for i, p := range out.Headers.Set {
		out.Headers.Set[i].From = http.CanonicalHeaderKey(p.From)
	}
	return out
}

// ParseSource reads a source as config writes it: header:NAME,
// claim:NAME, consumer, const:VALUE or field:PATH.
func ParseSource(s string) (Source, error) {
	kind, arg, hasArg := strings.Cut(s, ":")
	switch k := SourceKind(kind); k {
	case FromConsumer:
		if hasArg {
			return Source{}, fmt.Errorf("%q: consumer takes no argument", s)
		}
		return Source{Kind: k}, nil
	case FromHeader, FromClaim, FromField:
		if arg == "" {
			return Source{}, fmt.Errorf("%q: %s needs a name after the colon (%s:NAME)", s, k, k)
		}
		if k == FromHeader {
			arg = http.CanonicalHeaderKey(arg)
		}
		return Source{Kind: k, Arg: arg}, nil
	case FromConst:
		if !hasArg {
			return Source{}, fmt.Errorf("%q: write the constant after the colon (const:VALUE)", s)
		}
		return Source{Kind: k, Arg: arg}, nil
	}
	return Source{}, fmt.Errorf("%q is not a source: write header:NAME, claim:NAME, consumer, const:VALUE or field:PATH", s)
}

// CheckErrorBody reports whether s is a usable error body template: only
// known placeholders, and JSON once they are filled.
func CheckErrorBody(s string) error {
	t, err := parseTemplate(s)
	if err != nil {
		return err
	}
	if out := t.render(codes.NotFound, `a "quoted" \ message`, 404); !json.Valid(out) {
		return fmt.Errorf("not JSON once filled (${status} and ${message} go between quotes): %s", out)
	}
	return nil
}
