package aggregates

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Part
		err  string
	}{
		{"plain", []Part{{Lit: "plain"}}, ""},
		{"shelves/{path.shelf}", []Part{{Lit: "shelves/"}, {Source: "path", Name: "shelf"}}, ""},
		{"{calls.shelf.owner.name}", []Part{{Source: "calls", Name: "shelf", Path: []string{"owner", "name"}}}, ""},
		{"{body.a.b}-{consumer}", []Part{{Source: "body", Path: []string{"a", "b"}}, {Lit: "-"}, {Source: "consumer"}}, ""},
		{"{claims.sub}", []Part{{Source: "claims", Name: "sub"}}, ""},
		{"{path.x", nil, "a { without }"},
		{"x}", nil, "a } without {"},
		{"{cookie.x}", nil, "the source is one of"},
		{"{calls.shelf}", nil, "write {calls.CALL.FIELD}"},
		{"{consumer.name}", nil, "consumer takes no name"},
	} {
		got, err := ParseValue(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestOrder(t *testing.T) {
	e := Endpoint{Calls: []Call{
		{Name: "c", Request: map[string]string{"x": "{calls.b.y}"}},
		{Name: "b", Request: map[string]string{"x": "{calls.a.y}"}},
		{Name: "a"},
	}}
	order, err := e.Order()
	if err != nil || !reflect.DeepEqual(order, []int{2, 1, 0}) {
		t.Fatalf("order %v, %v", order, err)
	}
	e.Calls[2].Request = map[string]string{"x": "{calls.c.y}"}
	if _, err := e.Order(); err == nil || !strings.Contains(err.Error(), "cycle: c → b → a → c") {
		t.Fatalf("cycle: %v", err)
	}
}

func TestValidate(t *testing.T) {
	e := Endpoint{Name: "dash", Route: "GET /v1/dash/{shelf}", OnError: "sometimes", Pick: map[string]string{"errors": "a.x", "y": "zz.q"},
		Calls: []Call{
			{Name: "a", Method: "lib.v1.S.Get", Request: map[string]string{"name": "{path.nope}"}},
			{Name: "a", Method: "nodots"},
		}}
	var got []string
	e.Validate("aggregates[0]", func(key, format string, args ...any) { got = append(got, key+": "+fmt.Sprintf(format, args...)) })
	want := []string{
		`aggregates[0].on_error: "sometimes" is not fail or partial`,
		`aggregates[0].calls[1].name: "a" is used twice`,
		`aggregates[0].calls[1].method: required: the method's full name, package.Service.Method ("nodots")`,
		`aggregates[0].calls[0].request.name: {path.nope}: the route GET /v1/dash/{shelf} has no variable nope`,
		`aggregates[0].pick.errors: "errors" cannot name an answer's key (errors holds failed calls)`,
		`aggregates[0].pick.y: no call is named zz`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
