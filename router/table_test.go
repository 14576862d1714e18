package router

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestNewTableConflicts(t *testing.T) {
	tests := []struct {
		name   string
		routes []string
		want   string
	}{
		{
			"duplicate",
			[]string{"GET /v1/shelves", "POST /v1/shelves", "GET /v1/shelves"},
			`router: duplicate routes GET /v1/shelves (entry 0 "GET /v1/shelves") and GET /v1/shelves (entry 2 "GET /v1/shelves")`,
		},
		{
			"same shape, other variable names",
			[]string{"GET /v1/{name=shelves/*}", "GET /v1/shelves/{shelf}"},
			`router: conflicting routes GET /v1/{name=shelves/*} (entry 0 "GET /v1/{name=shelves/*}") and GET /v1/shelves/{shelf} (entry 1 "GET /v1/shelves/{shelf}"): same method and path shape /v1/shelves/*`,
		},
		{
			"same shape, variables spanning differently",
			[]string{"GET /v1/{a}/{b}", "GET /v1/{ab=*/*}"},
			`router: conflicting routes GET /v1/{a}/{b} (entry 0 "GET /v1/{a}/{b}") and GET /v1/{ab=*/*} (entry 1 "GET /v1/{ab=*/*}"): same method and path shape /v1/*/*`,
		},
		{
			"same verb",
			[]string{"POST /v1/{name=shelves/*}:merge", "POST /v1/shelves/{id}:merge"},
			`router: conflicting routes POST /v1/{name=shelves/*}:merge (entry 0 "POST /v1/{name=shelves/*}:merge") and POST /v1/shelves/{id}:merge (entry 1 "POST /v1/shelves/{id}:merge"): same method and path shape /v1/shelves/*:merge`,
		},
		{
			"double star",
			[]string{"GET /v1/{path=**}", "GET /v1/**"},
			`router: conflicting routes GET /v1/{path=**} (entry 0 "GET /v1/{path=**}") and GET /v1/** (entry 1 "GET /v1/**"): same method and path shape /v1/**`,
		},
		{
			"literals spelled differently",
			[]string{"GET /v1/%7Ex", "GET /v1/~x"},
			`router: duplicate routes GET /v1/~x (entry 0 "GET /v1/%7Ex") and GET /v1/~x (entry 1 "GET /v1/~x")`,
		},
		{
			"several",
			[]string{"GET /a", "GET /b", "GET /a", "GET /b", "GET /a"},
			`router: duplicate routes GET /a (entry 0 "GET /a") and GET /a (entry 2 "GET /a") (and 2 more conflicts)`,
		},
		{
			"two",
			[]string{"GET /a", "GET /a", "GET /a"},
			`router: duplicate routes GET /a (entry 0 "GET /a") and GET /a (entry 1 "GET /a") (and 1 more conflict)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, err := NewTable(entries(t, tt.routes...))
			if err == nil {
				t.Fatalf("NewTable = %d routes, want error", tb.Len())
			}
			if tb != nil {
				t.Error("NewTable returned a table with its error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.First.Index >= ce.Second.Index {
				t.Errorf("error %#v is not a *ConflictError with First before Second", err)
			}
			if got := status.Code(err); got != codes.AlreadyExists {
				t.Errorf("status.Code = %v, want AlreadyExists", got)
			}
		})
	}
}

// Shapes that overlap but differ are not conflicts: precedence settles them.
func TestNewTableNoConflict(t *testing.T) {
	mustTable(t,
		"GET /v1/shelves/*",
		"POST /v1/shelves/*",
		"GET /v1/shelves/*:merge",
		"GET /v1/*/*",
		"GET /v1/**",
		"GET /v1/shelves/**",
		"GET /v1/shelves",
		"GET /v1/shelves/special",
		"GET /v1/{name=shelves/*/books/*}",
	)
}

func TestNewTableEntryErrors(t *testing.T) {
	tmpl, err := ParseTemplate("/v1/shelves")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		entry Entry[int]
		want  string
	}{
		{Entry[int]{Method: "GET", Name: "svc.M"}, `router: entry 1 "svc.M": nil template`},
		{Entry[int]{Method: "GET", Template: &Template{}}, `router: entry 1: empty template (not made by ParseTemplate)`},
		{Entry[int]{Method: "", Template: tmpl}, `router: entry 1: invalid method ""`},
		{Entry[int]{Method: "G ET", Template: tmpl}, `router: entry 1: invalid method "G ET"`},
		{Entry[int]{Method: "GET\n", Template: tmpl, Name: "x"}, `router: entry 1 "x": invalid method "GET\n"`},
		{Entry[int]{Method: "GÉT", Template: tmpl}, `router: entry 1: invalid method "GÉT"`},
	}
	for _, tt := range tests {
		good := Entry[int]{Method: "GET", Template: tmpl}
		_, err := NewTable([]Entry[int]{good, tt.entry})
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewTable error:\n got %v\nwant %s", err, tt.want)
		}
		var ee *EntryError
		if !errors.As(err, &ee) || ee.Entry.Index != 1 {
			t.Errorf("error %#v is not an *EntryError for entry 1", err)
		}
		if got := status.Code(err); got != codes.InvalidArgument {
			t.Errorf("status.Code = %v, want InvalidArgument", got)
		}
	}
	// Custom methods that are HTTP tokens are fine.
	mustTable(t, "LOCK /v1/a", "M-SEARCH /v1/a", "get /v1/a", "GET /v1/a")
}

func TestTableEntries(t *testing.T) {
	routes := []string{
		"POST /v1/{name=shelves/*}:merge",
		"GET /v1/shelves",
		"DELETE /v1/{name=shelves/*}",
		"POST /v1/shelves",
		"GET /v1/{name=shelves/*}",
	}
	tb := mustTable(t, routes...)
	if tb.Len() != len(routes) {
		t.Errorf("Len = %d, want %d", tb.Len(), len(routes))
	}
	var got []string
	for _, e := range tb.Entries() {
		got = append(got, e.Value)
	}
	want := []string{
		"GET /v1/shelves",
		"POST /v1/shelves",
		"DELETE /v1/{name=shelves/*}",
		"GET /v1/{name=shelves/*}",
		"POST /v1/{name=shelves/*}:merge",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Entries:\n got %q\nwant %q", got, want)
	}
	// Entries is a copy.
	tb.Entries()[0].Value = "changed"
	if tb.Entries()[0].Value != want[0] {
		t.Error("Entries shares its slice with the table")
	}
	if got := tb.Methods(); !slices.Equal(got, []string{"DELETE", "GET", "POST"}) {
		t.Errorf("Methods = %q", got)
	}
	// The input slice can be reused after NewTable.
	es := entries(t, "GET /a", "GET /b")
	tb2, err := NewTable(es)
	if err != nil {
		t.Fatal(err)
	}
	es[0].Value = "mutated"
	if m, _ := tb2.Match("GET", "/a"); m.Value != "GET /a" {
		t.Errorf("table sees the caller's later writes: %q", m.Value)
	}
}

func TestNewTableLarge(t *testing.T) {
	es := realisticEntries(10000)
	tb, err := NewTable(es)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 10000 {
		t.Fatalf("Len = %d", tb.Len())
	}
	// Every route is reachable through its own expansion.
	for i, e := range es {
		path := expand(e.Template)
		m, st := tb.Match(e.Method, path)
		if st != Found || m.Value != e.Value {
			t.Fatalf("entry %d %s %s: Match(%s) = %v, %v", i, e.Method, e.Template, path, m.Value, st)
		}
	}
}

// realisticEntries returns n routes shaped like Google APIs: collections of
// resources with standard and custom methods, 10 per collection.
func realisticEntries(n int) []Entry[int] {
	var es []Entry[int]
	add := func(method, tmpl string) {
		t, err := ParseTemplate(tmpl)
		if err != nil {
			panic(err) // test data
		}
		es = append(es, Entry[int]{Method: method, Template: t, Name: method + " " + tmpl, Value: len(es)})
	}
	for i := 0; len(es) < n; i++ {
		c := fmt.Sprintf("widgets%d", i)
		add("GET", "/v1/"+c)
		add("POST", "/v1/"+c)
		add("GET", "/v1/{name="+c+"/*}")
		add("PATCH", "/v1/{widget.name="+c+"/*}")
		add("DELETE", "/v1/{name="+c+"/*}")
		add("GET", "/v1/{parent="+c+"/*}/parts")
		add("GET", "/v1/{parent="+c+"/*}/parts/{part_id}")
		add("POST", "/v1/{name="+c+"/*/parts/*}:move")
		add("GET", "/v1/{name=projects/*/locations/*/"+c+"/*}")
		add("GET", "/v1/"+c+"/{id}/files/{path=**}")
	}
	return es[:n]
}

// expand returns a path that the template matches, with every "*" and
// variable segment replaced by a value that is not a literal of any route.
func expand(t *Template) string {
	s := ""
	for _, seg := range t.segs {
		switch seg.kind {
		case segLiteral:
			s += "/" + seg.lit
		case segStar:
			s += "/x-1"
		case segDoubleStar:
			s += "/y/z"
		}
	}
	if t.verb != "" {
		s += ":" + t.verb
	}
	return s
}
