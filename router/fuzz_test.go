package router

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/. Run a target with e.g.
//
//	go test -run '^$' -fuzz '^FuzzParseTemplate$' -fuzztime 30s ./router/

// FuzzParseTemplate checks that the parser never panics, that its errors are
// well-formed, and that a parsed template prints back to an equivalent
// template that matches its own expansion.
func FuzzParseTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTemplate(%q): error %T is not a *TemplateError", s, err)
			}
			if te.Template != s || te.Offset < 0 || te.Offset > len(s) || te.Msg == "" {
				t.Fatalf("ParseTemplate(%q): malformed error %#v", s, te)
			}
			if !strings.HasPrefix(err.Error(), "router: template ") {
				t.Fatalf("ParseTemplate(%q): error without prefix: %s", s, err)
			}
			return
		}
		str := tmpl.String()
		again, err := ParseTemplate(str)
		if err != nil {
			t.Fatalf("ParseTemplate(%q) = %q, which does not re-parse: %v", s, str, err)
		}
		if again.String() != str {
			t.Fatalf("String is not stable: %q -> %q -> %q", s, str, again)
		}
		if again.shape() != tmpl.shape() || again.Verb() != tmpl.Verb() {
			t.Fatalf("re-parse of %q changed the shape: %s -> %s", s, tmpl.shape(), again.shape())
		}
		if !sameVariables(tmpl.Variables(), again.Variables()) {
			t.Fatalf("re-parse of %q changed the variables: %+v -> %+v", s, tmpl.Variables(), again.Variables())
		}

		tb, err := NewTable([]Entry[string]{{Method: "GET", Template: tmpl, Value: str}})
		if err != nil {
			t.Fatalf("NewTable(%q): %v", str, err)
		}
		path := expand(tmpl)
		m, st := tb.Match("GET", path)
		if st != Found || m.Template != tmpl || len(m.Vars) != len(tmpl.Variables()) {
			t.Fatalf("template %q does not match its expansion %q: %v %+v", str, path, st, m)
		}
		if _, st := tb.Match("PUT", path); st != MethodNotAllowed {
			t.Fatalf("template %q: PUT %q = %v, want MethodNotAllowed", str, path, st)
		}
		checkAgainstReference(t, tb, "GET", path)
	})
}

func sameVariables(a, b []Variable) bool {
	return slices.EqualFunc(a, b, func(x, y Variable) bool {
		return slices.Equal(x.FieldPath, y.FieldPath) && x.Multi == y.Multi && x.Path() == y.Path() &&
			x.start == y.start && x.end == y.end
	})
}

// fuzzRoutes mixes every feature: literals, "*", "**", verbs, escapes,
// custom methods, overlapping shapes.
var fuzzRoutes = []string{
	"GET /v1/shelves",
	"POST /v1/shelves",
	"GET /v1/{name=shelves/*}",
	"DELETE /v1/{name=shelves/*}",
	"LOCK /v1/{name=shelves/*}",
	"POST /v1/{name=shelves/*}:merge",
	"GET /v1/{parent=shelves/*}/books",
	"GET /v1/{name=shelves/*/books/*}",
	"PATCH /v1/{book.name=shelves/*/books/*}",
	"POST /v1/{name=shelves/*/books/*}:move",
	"GET /v1/{path=**}",
	"GET /v1/{path=**}:get",
	"POST /v1/shelves:batchGet",
	"POST /v1/*:count",
	"GET /v1/a%2Fb",
	"GET /v1/%7Ex",
	"GET /v1/items/{id}",
	"GET /a/b/c",
	"GET /a/*/c",
	"GET /a/b/*",
	"GET /a/**",
	"GET /*/b/d",
	"GET /*/*/*",
	"PUT /{x}:v",
	"PUT /{x}/{y=**}",
}

// FuzzMatch checks that Match and Allowed never panic and agree with a
// brute-force reference implementation of the documented rules.
func FuzzMatch(f *testing.F) {
	tb := mustTable(f, fuzzRoutes...)
	f.Fuzz(func(t *testing.T, method, path string) {
		checkAgainstReference(t, tb, method, path)
	})
}

// TestMatchReference runs the reference comparison on random paths built
// from the routes' own vocabulary, so that it exercises deep matches
// without the fuzzer.
func TestMatchReference(t *testing.T) {
	tb := mustTable(t, fuzzRoutes...)
	words := []string{"v1", "shelves", "books", "a", "b", "c", "d", "x", "", "s1", "%7Ex", "a%2Fb", "a%2fb",
		"items", "%zz", "caf%C3%A9", "shelves:batchGet", "s:merge", "b:move", "q:get", "x:count", "x:v", ":v", "%3A"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "LOCK", "OPTIONS"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(6) {
			b.WriteByte('/')
			b.WriteString(words[r.IntN(len(words))])
		}
		checkAgainstReference(t, tb, methods[r.IntN(len(methods))], b.String())
	}
}

func checkAgainstReference(t *testing.T, tb *Table[string], method, path string) {
	t.Helper()
	m, st := tb.Match(method, path)
	allowed := tb.Allowed(path)
	want, wantVars, wantSt, wantAllowed := referenceMatch(tb.routes, method, path)
	if st != wantSt {
		t.Fatalf("Match(%q, %q) status = %v, want %v", method, path, st, wantSt)
	}
	if !slices.Equal(allowed, wantAllowed) {
		t.Fatalf("Allowed(%q) = %q, want %q", path, allowed, wantAllowed)
	}
	if st != Found {
		if m.Template != nil || m.Vars != nil {
			t.Fatalf("Match(%q, %q) = %+v with status %v", method, path, m, st)
		}
		if st == MethodNotAllowed && slices.Contains(allowed, method) {
			t.Fatalf("Match(%q, %q) = MethodNotAllowed but Allowed = %q", method, path, allowed)
		}
		return
	}
	if m.Template != want.Template || m.Value != want.Value {
		t.Fatalf("Match(%q, %q) = %s %s, want %s %s", method, path, m.Value, m.Template, want.Value, want.Template)
	}
	if !slices.Equal(m.Vars, wantVars) {
		t.Fatalf("Match(%q, %q) vars = %q, want %q", method, path, m.Vars, wantVars)
	}
}

// referenceMatch is the matching specification written the slow, obvious
// way: try every route, keep the best by comparing kind sequences.
func referenceMatch[T any](routes []Entry[T], method, path string) (best Entry[T], vars []string, st Status, allowed []string) {
	if !strings.HasPrefix(path, "/") || !validEscapes(path) || len(routes) == 0 {
		return best, nil, NotFound, nil
	}
	p := path[1:]
	verb := ""
	// The verb starts at the rightmost colon of the last segment for which
	// some route with that verb matches the rest.
	seg := strings.LastIndexByte(p, '/') + 1
verbs:
	for c := len(p) - 1; c >= seg; c-- {
		if p[c] != ':' {
			continue
		}
		v := canonical(p[c+1:])
		for _, e := range routes {
			if e.Template.verb == v && v != "" && refMatches(e.Template, strings.Split(p[:c], "/")) {
				verb, p = v, p[:c]
				break verbs
			}
		}
	}
	segs := strings.Split(p, "/")
	found := false
	for _, e := range routes {
		if e.Template.verb != verb || !refMatches(e.Template, segs) {
			continue
		}
		if !slices.Contains(allowed, e.Method) {
			allowed = append(allowed, e.Method)
		}
		if e.Method == method && (!found || refBetter(e.Template, best.Template)) {
			best, found = e, true
		}
	}
	slices.Sort(allowed)
	switch {
	case found:
		for _, v := range best.Template.vars {
			end := v.end
			if best.Template.segs[v.end-1].kind == segDoubleStar {
				end = len(segs)
			}
			start := min(v.start, len(segs))
			vars = append(vars, unescape(strings.Join(segs[start:max(end, start)], "/"), v.Multi))
		}
		return best, vars, Found, allowed
	case len(allowed) > 0:
		return Entry[T]{}, nil, MethodNotAllowed, allowed
	}
	return Entry[T]{}, nil, NotFound, nil
}

func refMatches(t *Template, segs []string) bool {
	for i, s := range t.segs {
		if s.kind == segDoubleStar {
			return true
		}
		if i >= len(segs) {
			return false
		}
		switch s.kind {
		case segLiteral:
			if canonical(segs[i]) != s.lit {
				return false
			}
		case segStar:
			if segs[i] == "" {
				return false
			}
		}
	}
	return len(t.segs) == len(segs)
}

// refBetter reports whether a beats b: literal before "*" before "**",
// segment by segment from the left, and a template that ends before "**".
func refBetter(a, b *Template) bool {
	for i := range min(len(a.segs), len(b.segs)) {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	return len(a.segs) < len(b.segs)
}
