package router

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// varSpec describes a Variable in tests: "book.name" or "+book.name" for Multi.
func varSpecs(t *Template) []string {
	var out []string
	for _, v := range t.Variables() {
		s := v.Path()
		if v.Multi {
			s = "+" + s
		}
		out = append(out, s)
	}
	return out
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in   string
		str  string   // canonical String(); "" means same as in
		verb string   //
		vars []string // varSpecs
	}{
		// Examples of google/api/http.proto.
		{in: "/v1/{name=messages/*}", vars: []string{"+name"}},
		{in: "/v1/messages/{message_id}", vars: []string{"message_id"}},
		{in: "/v1/users/{user_id}/messages/{message_id}", vars: []string{"user_id", "message_id"}},
		{in: "/v1/messages/{message_id}/{sub.subfield}", vars: []string{"message_id", "sub.subfield"}},
		{in: "/v1/{var}", vars: []string{"var"}},
		{in: "/v1/{var=*}", str: "/v1/{var}", vars: []string{"var"}},
		{in: "/v1/{var=foo/*}", vars: []string{"+var"}},
		{in: "/v1/{var=**}", vars: []string{"+var"}},

		// Google's Library API.
		{in: "/v1/shelves"},
		{in: "/v1/{name=shelves/*}", vars: []string{"+name"}},
		{in: "/v1/{parent=shelves/*}/books", vars: []string{"+parent"}},
		{in: "/v1/{book.name=shelves/*/books/*}", vars: []string{"+book.name"}},
		{in: "/v1/{name=shelves/*/books/*}:move", verb: "move", vars: []string{"+name"}},
		{in: "/v1/{name=shelves/*}:merge", verb: "merge", vars: []string{"+name"}},
		{in: "/v1/shelves/{shelf}/books/{book}", vars: []string{"shelf", "book"}},

		// Wildcards outside variables, "**" before a verb, literal-only variables.
		{in: "/v1/*/books/**"},
		{in: "/**"},
		{in: "/*"},
		{in: "/v1/{path=**}:get", verb: "get", vars: []string{"+path"}},
		{in: "/v1/{name=files/**}", vars: []string{"+name"}},
		{in: "/v1/{kind=books}", vars: []string{"kind"}},
		{in: "/v1/{a}/{b}/{c.d.e}", vars: []string{"a", "b", "c.d.e"}},
		{in: "/v1/{_x9.Y_}", vars: []string{"_x9.Y_"}},
		{in: "/v1/shelves:batchGet", verb: "batchGet"},
		// A verb holding a colon, as grpc-gateway's a_bit_of_everything has.
		{in: "/v1/{uuid}:custom:custom", verb: "custom:custom", vars: []string{"uuid"}},

		// Literal characters and escapes: unreserved escapes decoded, hex upper-cased.
		{in: "/v1/a-b.c_d~e"},
		{in: "/v1/!$&'()+,;=@"},
		{in: "/v1/%7e%41%2f%3a", str: "/v1/~A%2F%3A"},
		{in: "/v1/x:%6Dove", str: "/v1/x:move", verb: "move"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.in)
			if err != nil {
				t.Fatalf("ParseTemplate(%q): %v", tt.in, err)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if got := tmpl.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			if got := tmpl.Verb(); got != tt.verb {
				t.Errorf("Verb() = %q, want %q", got, tt.verb)
			}
			if got := varSpecs(tmpl); !slices.Equal(got, tt.vars) {
				t.Errorf("Variables() = %q, want %q", got, tt.vars)
			}
			again, err := ParseTemplate(tmpl.String())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", tmpl.String(), err)
			}
			if again.String() != tmpl.String() || again.shape() != tmpl.shape() {
				t.Errorf("re-parse gives %q (%s), want %q (%s)", again, again.shape(), tmpl, tmpl.shape())
			}
		})
	}
}

func TestVariableFieldPath(t *testing.T) {
	tmpl, err := ParseTemplate("/v1/{book.name=shelves/*/books/*}/{x}")
	if err != nil {
		t.Fatal(err)
	}
	vs := tmpl.Variables()
	if len(vs) != 2 {
		t.Fatalf("got %d variables", len(vs))
	}
	if !slices.Equal(vs[0].FieldPath, []string{"book", "name"}) || vs[0].Path() != "book.name" || !vs[0].Multi {
		t.Errorf("vars[0] = %+v", vs[0])
	}
	if !slices.Equal(vs[1].FieldPath, []string{"x"}) || vs[1].Path() != "x" || vs[1].Multi {
		t.Errorf("vars[1] = %+v", vs[1])
	}
	if got := (Variable{FieldPath: []string{"a", "b"}}).Path(); got != "a.b" {
		t.Errorf("Path of a literal Variable = %q", got)
	}
}

func TestNilTemplate(t *testing.T) {
	var tmpl *Template
	if tmpl.String() != "" || tmpl.Verb() != "" || tmpl.Variables() != nil {
		t.Error("nil Template methods must return zero values")
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `router: template "": offset 0: expected "/", found end of template`},
		{"v1/shelves", `router: template "v1/shelves": offset 0: expected "/", found "v"`},
		{"/", `router: template "/": offset 1: expected literal, "*", "**" or "{", found end of template`},
		{"/v1/", `router: template "/v1/": offset 4: expected literal, "*", "**" or "{", found end of template`},
		{"/v1//shelves", `router: template "/v1//shelves": offset 4: expected literal, "*", "**" or "{", found "/"`},
		{"/v1/{name=shelves/*", `router: template "/v1/{name=shelves/*": offset 19: expected "/" or "}", found end of template`},
		{"/v1/{name", `router: template "/v1/{name": offset 9: expected ".", "=" or "}", found end of template`},
		{"/v1/{}", `router: template "/v1/{}": offset 5: expected field name, found "}"`},
		{"/v1/{1a}", `router: template "/v1/{1a}": offset 5: expected field name, found "1"`},
		{"/v1/{a.}", `router: template "/v1/{a.}": offset 7: expected field name, found "}"`},
		{"/v1/{a b}", `router: template "/v1/{a b}": offset 6: expected ".", "=" or "}", found " "`},
		{"/v1/{a=}", `router: template "/v1/{a=}": offset 7: expected literal, "*" or "**", found "}"`},
		{"/v1/{a=b/{c}}", `router: template "/v1/{a=b/{c}}": offset 9: expected literal, "*" or "**", found "{"`},
		{"/v1/{a=b}}", `router: template "/v1/{a=b}}": offset 9: expected "/", ":" or end of template, found "}"`},
		{"/v1/}", `router: template "/v1/}": offset 4: expected literal, "*", "**" or "{", found "}"`},
		{"/v1/**/a", `router: template "/v1/**/a": offset 6: expected ":" or end of template after "**", found "/"`},
		{"/v1/***", `router: template "/v1/***": offset 6: expected ":" or end of template after "**", found "*"`},
		{"/v1/{a=**}/b", `router: template "/v1/{a=**}/b": offset 10: expected ":" or end of template after "**", found "/"`},
		{"/v1/{a=**/b}", `router: template "/v1/{a=**/b}": offset 9: expected "}" after "**", found "/"`},
		{"/v1/{a=**x}", `router: template "/v1/{a=**x}": offset 9: expected "}" after "**", found "x"`},
		{"/v1/*a", `router: template "/v1/*a": offset 5: expected "/", ":" or end of template, found "a"`},
		{"/v1/a*", `router: template "/v1/a*": offset 5: expected "/", ":" or end of template, found "*"`},
		{"/v1/{a}/{a}", `router: template "/v1/{a}/{a}": offset 9: field path "a" bound twice`},
		{"/v1/{a.b}/{a}", `router: template "/v1/{a.b}/{a}": offset 11: field path "a" overlaps "a.b"`},
		{"/v1/{a}/{a.b=x/*}", `router: template "/v1/{a}/{a.b=x/*}": offset 9: field path "a.b" overlaps "a"`},
		{"/v1/a:", `router: template "/v1/a:": offset 6: expected verb, found end of template`},
		{"/v1/a:b/c", `router: template "/v1/a:b/c": offset 7: expected end of template, found "/"`},
		{"/v1/a:b::c", `router: template "/v1/a:b::c": offset 8: expected verb, found ":"`},
		{"/v1/a:*", `router: template "/v1/a:*": offset 6: expected verb, found "*"`},
		{"/v1/{a:b}", `router: template "/v1/{a:b}": offset 6: expected ".", "=" or "}", found ":"`},
		{"/v1/a b", `router: template "/v1/a b": offset 5: expected "/", ":" or end of template, found " "`},
		{"/v1/a?b", `router: template "/v1/a?b": offset 5: expected "/", ":" or end of template, found "?"`},
		{"/v1/%zz", `router: template "/v1/%zz": offset 5: expected two hex digits after "%", found "zz"`},
		{"/v1/%4", `router: template "/v1/%4": offset 5: expected two hex digits after "%", found "4"`},
		{"/v1/%", `router: template "/v1/%": offset 5: expected two hex digits after "%", found end of template`},
		{"/v1/é", `router: template "/v1/é": offset 4: expected literal, "*", "**" or "{", found "é"`},
		{"/v1/\xff", `router: template "/v1/\xff": offset 4: expected literal, "*", "**" or "{", found "\xff"`},
		{"/v1/a\x00", `router: template "/v1/a\x00": offset 5: expected "/", ":" or end of template, found "\x00"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.in)
			if err == nil {
				t.Fatalf("ParseTemplate(%q) = %q, want error", tt.in, tmpl)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			var te *TemplateError
			if !errors.As(err, &te) || te.Template != tt.in || te.Offset < 0 || te.Offset > len(tt.in) {
				t.Errorf("error %#v is not a *TemplateError for %q with an offset in range", err, tt.in)
			}
			if got := status.Code(err); got != codes.InvalidArgument {
				t.Errorf("status.Code = %v, want InvalidArgument", got)
			}
			if !strings.HasPrefix(err.Error(), "router: ") {
				t.Errorf("error lacks the component prefix: %s", err)
			}
		})
	}
}
