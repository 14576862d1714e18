package router

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// mustTable builds a table from "METHOD template" lines; each entry's Value
// is its own line, so a test can assert which route matched.
func mustTable(t testing.TB, routes ...string) *Table[string] {
	t.Helper()
	tb, err := NewTable(entries(t, routes...))
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tb
}

func entries(t testing.TB, routes ...string) []Entry[string] {
	t.Helper()
	var es []Entry[string]
	for _, r := range routes {
		method, path, ok := strings.Cut(r, " ")
		if !ok {
			t.Fatalf("bad route %q", r)
		}
		tmpl, err := ParseTemplate(path)
		if err != nil {
			t.Fatalf("ParseTemplate: %v", err)
		}
		es = append(es, Entry[string]{Method: method, Template: tmpl, Name: r, Value: r})
	}
	return es
}

type matchCase struct {
	method, path string
	status       Status
	route        string   // Value of the matched route, when Found
	vars         []string // when Found
	allowed      []string // Allowed(path); checked for every case
}

func runMatches(t *testing.T, tb *Table[string], cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		m, st := tb.Match(c.method, c.path)
		if st != c.status {
			t.Errorf("Match(%s %s) status = %v, want %v", c.method, c.path, st, c.status)
			continue
		}
		if st == Found {
			if m.Value != c.route {
				t.Errorf("Match(%s %s) = %q, want %q", c.method, c.path, m.Value, c.route)
			}
			if !slices.Equal(m.Vars, c.vars) {
				t.Errorf("Match(%s %s) vars = %q, want %q", c.method, c.path, m.Vars, c.vars)
			}
			if m.Template == nil || len(m.Vars) != len(m.Template.Variables()) {
				t.Errorf("Match(%s %s): Vars not aligned with the template %v", c.method, c.path, m.Template)
			}
		} else if m.Value != "" || m.Template != nil || m.Vars != nil {
			t.Errorf("Match(%s %s) = %+v with status %v, want the zero Match", c.method, c.path, m, st)
		}
		if got := tb.Allowed(c.path); !slices.Equal(got, c.allowed) {
			t.Errorf("Allowed(%s) = %q, want %q", c.path, got, c.allowed)
		}
	}
}

// The examples of google/api/http.proto. Several share a shape (GET
// /v1/{name=messages/*} and GET /v1/messages/{message_id}), so each gets its
// own table, as each is its own service in the documentation.
func TestMatchHTTPProtoExamples(t *testing.T) {
	tests := []struct {
		route        string
		method, path string
		vars         []string
	}{
		{"GET /v1/{name=messages/*}", "GET", "/v1/messages/123456", []string{"messages/123456"}},
		{"GET /v1/messages/{message_id}", "GET", "/v1/messages/123456", []string{"123456"}},
		{"PATCH /v1/messages/{message_id}", "PATCH", "/v1/messages/123456", []string{"123456"}},
		{"GET /v1/users/{user_id}/messages/{message_id}", "GET", "/v1/users/me/messages/123456", []string{"me", "123456"}},
		{"GET /v1/messages/{message_id}/{sub.subfield}", "GET", "/v1/messages/123456/foo", []string{"123456", "foo"}},
		{"GET /v1/{var}", "GET", "/v1/a%2Fb%20c", []string{"a/b c"}},
		{"GET /v1/{var=*}", "GET", "/v1/a%2Fb", []string{"a/b"}},
		{"GET /v1/{var=foo/*}", "GET", "/v1/foo/a%2Fb%20c", []string{"foo/a%2Fb c"}},
		{"GET /v1/{var=**}", "GET", "/v1/x/y%2fz/%41", []string{"x/y%2fz/A"}},
	}
	for _, tt := range tests {
		t.Run(tt.route, func(t *testing.T) {
			tb := mustTable(t, tt.route)
			runMatches(t, tb, []matchCase{
				{tt.method, tt.path, Found, tt.route, tt.vars, []string{tt.method}},
			})
		})
	}
	// The additional_bindings example: one RPC, two routes, one table.
	tb := mustTable(t, "GET /v1/messages/{message_id}", "GET /v1/users/{user_id}/messages/{message_id}")
	runMatches(t, tb, []matchCase{
		{"GET", "/v1/messages/123456", Found, "GET /v1/messages/{message_id}", []string{"123456"}, []string{"GET"}},
		{"GET", "/v1/users/me/messages/123456", Found, "GET /v1/users/{user_id}/messages/{message_id}", []string{"me", "123456"}, []string{"GET"}},
		{"GET", "/v1/users/me/messages", NotFound, "", nil, nil},
	})
}

var libraryRoutes = []string{
	"GET /v1/shelves",
	"POST /v1/shelves",
	"GET /v1/{name=shelves/*}",
	"DELETE /v1/{name=shelves/*}",
	"POST /v1/{name=shelves/*}:merge",
	"GET /v1/{parent=shelves/*}/books",
	"POST /v1/{parent=shelves/*}/books",
	"GET /v1/{name=shelves/*/books/*}",
	"DELETE /v1/{name=shelves/*/books/*}",
	"PATCH /v1/{book.name=shelves/*/books/*}",
	"POST /v1/{name=shelves/*/books/*}:move",
	"LOCK /v1/{name=shelves/*}",
}

// Google's Library API (google/example/library/v1).
func TestMatchLibrary(t *testing.T) {
	tb := mustTable(t, libraryRoutes...)
	shelf := []string{"DELETE", "GET", "LOCK"}
	book := []string{"DELETE", "GET", "PATCH"}
	runMatches(t, tb, []matchCase{
		{"GET", "/v1/shelves", Found, "GET /v1/shelves", nil, []string{"GET", "POST"}},
		{"POST", "/v1/shelves", Found, "POST /v1/shelves", nil, []string{"GET", "POST"}},
		{"PUT", "/v1/shelves", MethodNotAllowed, "", nil, []string{"GET", "POST"}},
		{"get", "/v1/shelves", MethodNotAllowed, "", nil, []string{"GET", "POST"}},
		{"GET", "/v1/shelves/s1", Found, "GET /v1/{name=shelves/*}", []string{"shelves/s1"}, shelf},
		{"DELETE", "/v1/shelves/s1", Found, "DELETE /v1/{name=shelves/*}", []string{"shelves/s1"}, shelf},
		{"LOCK", "/v1/shelves/s1", Found, "LOCK /v1/{name=shelves/*}", []string{"shelves/s1"}, shelf},
		{"POST", "/v1/shelves/s1", MethodNotAllowed, "", nil, shelf},
		{"POST", "/v1/shelves/s1:merge", Found, "POST /v1/{name=shelves/*}:merge", []string{"shelves/s1"}, []string{"POST"}},
		{"GET", "/v1/shelves/s1:merge", MethodNotAllowed, "", nil, []string{"POST"}},
		{"GET", "/v1/shelves/s1/books", Found, "GET /v1/{parent=shelves/*}/books", []string{"shelves/s1"}, []string{"GET", "POST"}},
		{"POST", "/v1/shelves/s1/books", Found, "POST /v1/{parent=shelves/*}/books", []string{"shelves/s1"}, []string{"GET", "POST"}},
		{"GET", "/v1/shelves/s1/books/b1", Found, "GET /v1/{name=shelves/*/books/*}", []string{"shelves/s1/books/b1"}, book},
		{"PATCH", "/v1/shelves/s1/books/b1", Found, "PATCH /v1/{book.name=shelves/*/books/*}", []string{"shelves/s1/books/b1"}, book},
		{"POST", "/v1/shelves/s1/books/b1", MethodNotAllowed, "", nil, book},
		{"POST", "/v1/shelves/s1/books/b1:move", Found, "POST /v1/{name=shelves/*/books/*}:move", []string{"shelves/s1/books/b1"}, []string{"POST"}},
		{"DELETE", "/v1/shelves/s1/books/b1:move", MethodNotAllowed, "", nil, []string{"POST"}},
		// An unknown verb is part of the segment.
		{"GET", "/v1/shelves/s1/books/b1:unknown", Found, "GET /v1/{name=shelves/*/books/*}", []string{"shelves/s1/books/b1:unknown"}, book},
		// A known verb is part of the segment when no route with that verb
		// matches the path: "books:move" is then not the literal "books".
		{"GET", "/v1/shelves/s1/books:move", NotFound, "", nil, nil},
		{"GET", "/v1/shelves/", NotFound, "", nil, nil},
		{"GET", "/v1/shelves//books", NotFound, "", nil, nil},
		{"GET", "/v1/shelves/s1/books/b1/extra", NotFound, "", nil, nil},
		{"GET", "/v1/shelves/s1/books/", NotFound, "", nil, nil},
		{"GET", "/v2/shelves", NotFound, "", nil, nil},
		{"GET", "/v1", NotFound, "", nil, nil},
		{"GET", "/", NotFound, "", nil, nil},
		{"GET", "", NotFound, "", nil, nil},
		{"GET", "v1/shelves", NotFound, "", nil, nil},
		{"GET", "/v1/shelves?x=1", NotFound, "", nil, nil},
	})
}

func TestMatchPrecedence(t *testing.T) {
	routes := []string{
		"GET /a/b/c",
		"GET /a/*/c",
		"GET /a/b/*",
		"GET /a/**",
		"GET /*/b/d",
		"GET /*/*/*",
		"GET /x/b/c",
		"GET /x/*/d",
		"POST /v1/shelves/special",
		"GET /v1/{name=shelves/*}",
	}
	cases := []matchCase{
		{"GET", "/a/b/c", Found, "GET /a/b/c", nil, []string{"GET"}},
		{"GET", "/a/z/c", Found, "GET /a/*/c", nil, []string{"GET"}},
		{"GET", "/a/b/z", Found, "GET /a/b/*", nil, []string{"GET"}},
		// The literal "a" beats "*" at the first segment, so /a/b/* wins over /*/b/d.
		{"GET", "/a/b/d", Found, "GET /a/b/*", nil, []string{"GET"}},
		// Both literal branches under "a" fail at the third segment: back to "**".
		{"GET", "/a/z/y", Found, "GET /a/**", nil, []string{"GET"}},
		{"GET", "/a", Found, "GET /a/**", nil, []string{"GET"}},
		{"GET", "/a/b/c/d", Found, "GET /a/**", nil, []string{"GET"}},
		{"GET", "/z/b/d", Found, "GET /*/b/d", nil, []string{"GET"}},
		{"GET", "/z/y/x", Found, "GET /*/*/*", nil, []string{"GET"}},
		// Backtracking: the literal "b" leads to /x/b/c only; "d" falls back to "*".
		{"GET", "/x/b/d", Found, "GET /x/*/d", nil, []string{"GET"}},
		{"GET", "/x/b/e", Found, "GET /*/*/*", nil, []string{"GET"}},
		{"GET", "/z/y", NotFound, "", nil, nil},
		// Precedence is per method: GET has no literal route here.
		{"GET", "/v1/shelves/special", Found, "GET /v1/{name=shelves/*}", []string{"shelves/special"}, []string{"GET", "POST"}},
		{"POST", "/v1/shelves/special", Found, "POST /v1/shelves/special", nil, []string{"GET", "POST"}},
		{"PUT", "/v1/shelves/special", MethodNotAllowed, "", nil, []string{"GET", "POST"}},
		{"POST", "/v1/shelves/other", MethodNotAllowed, "", nil, []string{"GET"}},
	}
	runMatches(t, mustTable(t, routes...), cases)
	// The outcome does not depend on the order of the entries.
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		shuffled := slices.Clone(routes)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		runMatches(t, mustTable(t, shuffled...), cases)
	}
}

func TestMatchEscaping(t *testing.T) {
	tb := mustTable(t,
		"GET /v1/items/{id}",
		"GET /v1/{name=files/**}",
		"GET /v1/{name=docs/*}",
		"GET /v1/a%2Fb",
		"GET /v1/%7Ex",
		"GET /v1/caf%C3%A9",
		"GET /v1/colon%3Aed",
	)
	g := []string{"GET"}
	runMatches(t, tb, []matchCase{
		// Single-segment variables are fully decoded, "%2F" included.
		{"GET", "/v1/items/a%2Fb", Found, "GET /v1/items/{id}", []string{"a/b"}, g},
		{"GET", "/v1/items/a%2fb", Found, "GET /v1/items/{id}", []string{"a/b"}, g},
		{"GET", "/v1/items/%E2%82%AC%20x", Found, "GET /v1/items/{id}", []string{"€ x"}, g},
		{"GET", "/v1/items/a+b", Found, "GET /v1/items/{id}", []string{"a+b"}, g},
		{"GET", "/v1/items/%3A%40", Found, "GET /v1/items/{id}", []string{":@"}, g},
		{"GET", "/v1/items/a:b", Found, "GET /v1/items/{id}", []string{"a:b"}, g},
		{"GET", "/v1/items/%25", Found, "GET /v1/items/{id}", []string{"%"}, g},
		{"GET", "/v1/items/%00", Found, "GET /v1/items/{id}", []string{"\x00"}, g},
		// Multi-segment variables keep "%2F" and "%2f" as sent and decode the rest.
		{"GET", "/v1/docs/a%2Fb", Found, "GET /v1/{name=docs/*}", []string{"docs/a%2Fb"}, g},
		{"GET", "/v1/files/x%2fy/z%20w", Found, "GET /v1/{name=files/**}", []string{"files/x%2fy/z w"}, g},
		{"GET", "/v1/files/%2F%252F", Found, "GET /v1/{name=files/**}", []string{"files/%2F%2F"}, g},
		// "**" matches zero segments, and empty ones.
		{"GET", "/v1/files", Found, "GET /v1/{name=files/**}", []string{"files"}, g},
		{"GET", "/v1/files/", Found, "GET /v1/{name=files/**}", []string{"files/"}, g},
		{"GET", "/v1/files/a//b", Found, "GET /v1/{name=files/**}", []string{"files/a//b"}, g},
		// Literals compare escaped, with escapes normalized.
		{"GET", "/v1/a%2Fb", Found, "GET /v1/a%2Fb", nil, g},
		{"GET", "/v1/a%2fb", Found, "GET /v1/a%2Fb", nil, g},
		{"GET", "/v1/a/b", NotFound, "", nil, nil},
		{"GET", "/v1/~x", Found, "GET /v1/%7Ex", nil, g},
		{"GET", "/v1/%7ex", Found, "GET /v1/%7Ex", nil, g},
		{"GET", "/v1/%66iles/x", Found, "GET /v1/{name=files/**}", []string{"files/x"}, g},
		{"GET", "/v1/caf%c3%a9", Found, "GET /v1/caf%C3%A9", nil, g},
		{"GET", "/v1/café", NotFound, "", nil, nil},
		{"GET", "/v1/colon%3aed", Found, "GET /v1/colon%3Aed", nil, g},
		{"GET", "/v1/colon:ed", NotFound, "", nil, nil},
		// Invalid escapes anywhere in the path: no match.
		{"GET", "/v1/items/a%zz", NotFound, "", nil, nil},
		{"GET", "/v1/items/%", NotFound, "", nil, nil},
		{"GET", "/v1/items/%4", NotFound, "", nil, nil},
		{"GET", "/v1/files/%G0/x", NotFound, "", nil, nil},
	})
}

func TestMatchVerbs(t *testing.T) {
	tb := mustTable(t,
		"GET /v1/{name=shelves/*}",
		"POST /v1/{name=shelves/*}:merge",
		"GET /v1/{path=**}",
		"GET /v1/{path=**}:get",
		"POST /v1/shelves:batchGet",
		"GET /v1/shelves",
		"POST /v1/*:count",
	)
	runMatches(t, tb, []matchCase{
		{"POST", "/v1/shelves/1:merge", Found, "POST /v1/{name=shelves/*}:merge", []string{"shelves/1"}, []string{"POST"}},
		// A route with verb "merge" matches this path: the colon is a verb, and
		// GET has no route with it. Not a shelf named "1:merge".
		{"GET", "/v1/shelves/1:merge", MethodNotAllowed, "", nil, []string{"POST"}},
		// The verb is what follows the last colon.
		{"POST", "/v1/shelves/a:b:merge", Found, "POST /v1/{name=shelves/*}:merge", []string{"shelves/a:b"}, []string{"POST"}},
		// No route with verb "merge" matches /v1/docs/readme: the colon is data.
		{"GET", "/v1/docs/readme:merge", Found, "GET /v1/{path=**}", []string{"docs/readme:merge"}, []string{"GET"}},
		// An unknown verb is data.
		{"GET", "/v1/shelves/1:other", Found, "GET /v1/{name=shelves/*}", []string{"shelves/1:other"}, []string{"GET"}},
		// A verb after "**".
		{"GET", "/v1/a/b/c:get", Found, "GET /v1/{path=**}:get", []string{"a/b/c"}, []string{"GET"}},
		{"GET", "/v1:get", Found, "GET /v1/{path=**}:get", []string{""}, []string{"GET"}},
		{"GET", "/v1/a/b/c", Found, "GET /v1/{path=**}", []string{"a/b/c"}, []string{"GET"}},
		// A verb on a literal route; the same path without it is another route.
		{"POST", "/v1/shelves:batchGet", Found, "POST /v1/shelves:batchGet", nil, []string{"POST"}},
		{"GET", "/v1/shelves:batchGet", MethodNotAllowed, "", nil, []string{"POST"}},
		{"GET", "/v1/shelves", Found, "GET /v1/shelves", nil, []string{"GET"}},
		{"POST", "/v1/things:count", Found, "POST /v1/*:count", nil, []string{"POST"}},
		// Verbs are compared with escapes normalized; "%3A" never starts one.
		{"POST", "/v1/shelves/1:%6Derge", Found, "POST /v1/{name=shelves/*}:merge", []string{"shelves/1"}, []string{"POST"}},
		{"GET", "/v1/shelves/1%3Amerge", Found, "GET /v1/{name=shelves/*}", []string{"shelves/1:merge"}, []string{"GET"}},
		// A colon in an earlier segment is data.
		{"GET", "/v1/a:merge/b", Found, "GET /v1/{path=**}", []string{"a:merge/b"}, []string{"GET"}},
		// An empty verb or a verb-only path.
		{"GET", "/v1/shelves/1:", Found, "GET /v1/{name=shelves/*}", []string{"shelves/1:"}, []string{"GET"}},
		{"POST", "/:merge", NotFound, "", nil, nil},
	})
}

// TestMatchColonVerbs: a verb may hold a colon ("{uuid}:custom:custom");
// the path's verb then starts at an earlier colon when the text after the
// last one is no verb.
func TestMatchColonVerbs(t *testing.T) {
	tb := mustTable(t,
		"POST /v1/{uuid}:custom:custom",
		"POST /v1/{uuid}:custom",
		"GET /v1/{uuid}",
	)
	runMatches(t, tb, []matchCase{
		{"POST", "/v1/abc:custom:custom", Found, "POST /v1/{uuid}:custom", []string{"abc:custom"}, []string{"POST"}},
		{"POST", "/v1/abc:custom", Found, "POST /v1/{uuid}:custom", []string{"abc"}, []string{"POST"}},
		{"GET", "/v1/a:b", Found, "GET /v1/{uuid}", []string{"a:b"}, []string{"GET"}},
	})
	only := mustTable(t, "POST /v1/{uuid}:custom:custom", "GET /v1/{uuid}")
	runMatches(t, only, []matchCase{
		{"POST", "/v1/abc:custom:custom", Found, "POST /v1/{uuid}:custom:custom", []string{"abc"}, []string{"POST"}},
		{"POST", "/v1/a:b:custom:custom", Found, "POST /v1/{uuid}:custom:custom", []string{"a:b"}, []string{"POST"}},
		{"GET", "/v1/abc:custom:custom", MethodNotAllowed, "", nil, []string{"POST"}},
		{"GET", "/v1/abc:custom", Found, "GET /v1/{uuid}", []string{"abc:custom"}, []string{"GET"}},
	})
}

func TestMatchEmptyTables(t *testing.T) {
	empty, err := NewTable[int](nil)
	if err != nil {
		t.Fatal(err)
	}
	var zero Table[int]
	var nilTable *Table[int]
	for name, tb := range map[string]*Table[int]{"NewTable(nil)": empty, "zero": &zero, "nil": nilTable} {
		if m, st := tb.Match("GET", "/v1/shelves"); st != NotFound || m.Template != nil {
			t.Errorf("%s: Match = %+v, %v", name, m, st)
		}
		if got := tb.Allowed("/v1/shelves"); got != nil {
			t.Errorf("%s: Allowed = %q", name, got)
		}
		if tb.Len() != 0 || tb.Entries() != nil && len(tb.Entries()) != 0 || len(tb.Methods()) != 0 {
			t.Errorf("%s: not empty", name)
		}
	}
}

func TestStatusString(t *testing.T) {
	for st, want := range map[Status]string{NotFound: "NotFound", Found: "Found", MethodNotAllowed: "MethodNotAllowed", 7: "Status(7)"} {
		if got := st.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", st, got, want)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	tb := mustTable(t, libraryRoutes...)
	tests := []struct {
		method, path string
		max          float64
	}{
		{"GET", "/v1/shelves", 0},
		{"GET", "/v1/shelves/s1/books/b1", 1},
		{"POST", "/v1/shelves/s1/books/b1:move", 1},
		{"GET", "/v2/nothing", 0},
		{"PUT", "/v1/shelves", 0},
	}
	for _, tt := range tests {
		got := testing.AllocsPerRun(100, func() { tb.Match(tt.method, tt.path) })
		if got > tt.max {
			t.Errorf("Match(%s %s): %v allocations, want at most %v", tt.method, tt.path, got, tt.max)
		}
	}
	two := mustTable(t, "GET /v1/users/{user_id}/messages/{message_id}")
	if got := testing.AllocsPerRun(100, func() { two.Match("GET", "/v1/users/me/messages/1") }); got > 1 {
		t.Errorf("two-variable hit: %v allocations, want at most 1", got)
	}
}

// TestMatchAppend checks that MatchAppend finds what Match finds, stores
// the variables in the buffer it is given, grows past a small one, and
// allocates nothing when the buffer is large enough.
func TestMatchAppend(t *testing.T) {
	tb, err := NewTable(realisticEntries(1000))
	if err != nil {
		t.Fatal(err)
	}
	const path = "/v1/widgets57/w-123/parts/p-9"
	want, st := tb.Match("GET", path)
	if st != Found || len(want.Vars) != 2 {
		t.Fatalf("Match = %v, %v", want, st)
	}
	var buf [4]string
	got, st := tb.MatchAppend("GET", path, buf[:0])
	if st != Found || !slices.Equal(got.Vars, want.Vars) || &got.Vars[0] != &buf[0] {
		t.Fatalf("MatchAppend = %q, %v; want %q in the buffer", got.Vars, st, want.Vars)
	}
	small := make([]string, 0, 1)
	if got, _ := tb.MatchAppend("GET", path, small); !slices.Equal(got.Vars, want.Vars) {
		t.Fatalf("MatchAppend with a small buffer = %q, want %q", got.Vars, want.Vars)
	}
	if n := testing.AllocsPerRun(100, func() { tb.MatchAppend("GET", path, buf[:0]) }); n != 0 {
		t.Fatalf("MatchAppend with a buffer allocates %v times", n)
	}
}
