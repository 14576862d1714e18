package transformcfg

import (
	"fmt"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/transform"
	"google.golang.org/grpc/codes"
)

func TestValidate(t *testing.T) {
	bad := &Transform{
		Request: &RequestTransform{
			Set:    []FieldSet{{Field: "book..author", From: "claim:sub"}, {Field: "a", From: "claim:"}, {Field: "b", From: "consumer:x"}},
			Remove: []string{"9x"},
			Metadata: &MetadataTransform{Set: map[string]string{"grpc-timeout": "const:1", "x-a": "field:b"},
				Remove: []string{"X-Up"}, Rename: map[string]string{"x-old": "x-new-bin"}},
		},
		Response: &ResponseTransform{Rename: map[string]string{"a.b": "c"}, Headers: &HeaderTransform{Set: map[string]string{"Bad Name": "v", "X-Ok": "a\nb"}}},
		Errors:   &ErrorTransform{Status: map[string]int{"OK": 410, "NOT_FOUND": 200}, Body: `{"m":"${nope}"}`},
	}
	var got []string
	bad.Validate("t", func(key string, err error) { got = append(got, fmt.Sprintf("%s: %v", key, err)) })
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`t.request.set[0].field: "book..author" is not a field path`,
		`t.request.set[1].from: "claim:": claim needs a name`,
		`t.request.set[2].from: "consumer:x": consumer takes no argument`,
		`t.request.remove[0]: "9x" is not a field path`,
		`t.request.metadata.set: "grpc-timeout" is not a metadata key a transform may set`,
		`t.request.metadata.set: x-a: metadata is set from a header, claim, consumer or constant, not a field`,
		`t.request.metadata.remove[0]: "X-Up" is not a metadata key`,
		`t.request.metadata.rename: "x-new-bin" is not a metadata key a transform may set`,
		`t.response.rename: "a.b": only top-level fields are renamed`,
		`t.response.headers: "Bad Name" is not a header name`,
		`t.response.headers.set: X-Ok: a header value cannot hold CR, LF or NUL`,
		`t.errors.status: "OK" is not an error code name`,
		`t.errors.status: NOT_FOUND: 200 is not an HTTP error status`,
		`t.errors.body: unknown placeholder`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
}

func TestSpec(t *testing.T) {
	tr := &Transform{
		Request:  &RequestTransform{Set: []FieldSet{{Field: "user_id", From: "claim:sub"}}, Metadata: &MetadataTransform{Set: map[string]string{"x-b": "consumer", "x-a": "header:x-tenant"}}},
		Response: &ResponseTransform{Envelope: "data", Headers: &HeaderTransform{Set: map[string]string{"cache-control": "no-store"}}},
		Errors:   &ErrorTransform{Status: map[string]int{"NOT_FOUND": 410}},
	}
	var errs []error
	tr.Validate("t", func(_ string, err error) { errs = append(errs, err) })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := tr.Spec()
	if s.Set[0].From != (transform.Source{Kind: transform.FromClaim, Arg: "sub"}) || s.Envelope != "data" || s.Status[codes.NotFound] != 410 {
		t.Fatalf("%+v", s)
	}
	if s.Metadata.Set[0].Key != "x-a" || s.Metadata.Set[0].From.Arg != "X-Tenant" || s.Headers.Set[0].From != "Cache-Control" {
		t.Fatalf("%+v", s)
	}
	if (*Transform)(nil).Spec() != nil {
		t.Fatal("nil")
	}
}
