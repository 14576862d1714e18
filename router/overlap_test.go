package router

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func mustTemplate(t testing.TB, s string) *Template {
	t.Helper()
	tmpl, err := ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestOverlaps(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		// The cases: a more specific template, a catch-all, an identical one.
		{"/v1/shelves/1/books/{id}", "/v1/{name=shelves/*/books/*}", true},
		{"/{name=**}", "/v1/{name=shelves/*/books/*}", true},
		{"/{name=**}", "/v1/shelves", true},
		{"/v1/shelves", "/v1/shelves", true},
		{"/v1/{name=shelves/*}", "/v1/shelves/{id}", true},
		{"/v1/**", "/v1", true}, // "**" matches zero segments
		{"/v1/*", "/v1", false}, // "*" does not
		{"/v1/shelves", "/v1/authors", false},
		{"/v1/{name=shelves/*}", "/v1/{name=shelves/*}/books", false},
		{"/v1/{name=shelves/*/books/*}", "/v1/{name=authors/*/books/*}", false},
		{"/orders/v1/{id}", "/v1/{name=shelves/*}", false},
		{"/*/b/c", "/a/*/c", true},
		{"/*/b/c", "/a/*/d", false},
		{"/v2/{x=**}", "/v1/shelves", false},
		// Verbs: same verb compares segments; a verb route takes "x:verb"
		// from a verbless one only through a wildcard.
		{"/v1/{name=shelves/*}:merge", "/v1/shelves/{id}:merge", true},
		{"/v1/{name=shelves/*}:merge", "/v1/{name=shelves/*}:move", false},
		{"/v1/{name=shelves/*}:merge", "/v1/{name=shelves/*}", true},
		{"/v1/{name=shelves/*}:merge", "/v1/shelves/1", false},
		{"/v1/shelves:batchGet", "/v1/*", true},
		{"/v1/shelves:batchGet", "/v1/shelves", false},
		{"/v1/shelves:batchGet", "/{p=**}", true},
		{"/v1/{p=**}:get", "/v1/shelves", true},
		{"/v1/{p=**}:get", "/v2/shelves", false},
	}
	for _, c := range cases {
		a, b := mustTemplate(t, c.a), mustTemplate(t, c.b)
		if got := Overlaps(a, b); got != c.want {
			t.Errorf("Overlaps(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := Overlaps(b, a); got != c.want {
			t.Errorf("Overlaps(%s, %s) = %v, want %v (not symmetric)", c.b, c.a, got, c.want)
		}
	}
	if Overlaps(nil, mustTemplate(t, "/a")) || Overlaps(&Template{}, &Template{}) {
		t.Error("nil or zero templates overlap")
	}
}

func TestInterferes(t *testing.T) {
	merge, shelf := mustTemplate(t, "/v1/{name=shelves/*}:merge"), mustTemplate(t, "/v1/{name=shelves/*}")
	other := mustTemplate(t, "/v1/shelves/{id}")
	switch {
	case !Interferes("GET", shelf, "GET", other):
		t.Error("same method, overlapping: must interfere")
	case Interferes("GET", shelf, "POST", other):
		t.Error("different methods without verbs: must not interfere")
	case !Interferes("POST", merge, "GET", shelf) || !Interferes("GET", shelf, "POST", merge):
		t.Error("a verb route answers 405 for a verbless route of another method: must interfere")
	case Interferes("POST", merge, "GET", mustTemplate(t, "/v1/shelves/{id}:merge")):
		t.Error("same verb, different methods: a method split, not interference")
	}
}

// TestOverlapsReference checks Overlaps against its definition on random
// template pairs: when a path is matched by both (each alone in a table),
// they overlap; when they overlap with the same verb, one of a few
// witnesses is matched by both.
func TestOverlapsReference(t *testing.T) {
	parts := []string{"a", "b", "*", "{x%d}", "{y=**}"}
	verbs := []string{"", "", ":v", ":w"}
	r := rand.New(rand.NewPCG(5, 6))
	gen := func() string {
		var b strings.Builder
		n := 1 + r.IntN(4)
		for i := range n {
			p := parts[r.IntN(len(parts))]
			if p == "{y=**}" && i != n-1 {
				p = "*"
			}
			b.WriteString("/" + strings.ReplaceAll(p, "%d", strconv.Itoa(i)))
		}
		return b.String() + verbs[r.IntN(len(verbs))]
	}
	words := []string{"a", "b", "c", "a:v", "b:w", "c:v"}
	for range 3000 {
		a, b := mustTemplate(t, gen()), mustTemplate(t, gen())
		ov := Overlaps(a, b)
		ta, tb := mustTable(t, "GET "+a.String()), mustTable(t, "GET "+b.String())
		both := func(p string) bool {
			_, sa := ta.Match("GET", p)
			_, sb := tb.Match("GET", p)
			return sa == Found && sb == Found
		}
		for range 40 {
			var p strings.Builder
			for range 1 + r.IntN(5) {
				p.WriteString("/" + words[r.IntN(len(words))])
			}
			if both(p.String()) && !ov {
				t.Fatalf("%s and %s both match %s but Overlaps = false", a, b, p.String())
			}
		}
		if ov && !both(expand(a)) && !both(expand(b)) && a.verb == b.verb && !strings.Contains(a.String()+b.String(), "*") {
			t.Fatalf("Overlaps(%s, %s) = true with no witness", a, b)
		}
	}
}

// FuzzOverlaps checks that Overlaps is symmetric, that a path one template
// expands to and the other matches means overlap, and that templates of
// one shape overlap.
func FuzzOverlaps(f *testing.F) {
	f.Add("/v1/shelves/1/books/{id}", "/v1/{name=shelves/*/books/*}")
	f.Add("/{name=**}", "/v1/shelves")
	f.Add("/v1/{name=shelves/*}:merge", "/v1/{name=**}")
	f.Add("/v1/a%2Fb", "/v1/*")
	f.Fuzz(func(t *testing.T, as, bs string) {
		a, err1 := ParseTemplate(as)
		b, err2 := ParseTemplate(bs)
		if err1 != nil || err2 != nil {
			return
		}
		ov := Overlaps(a, b)
		if ov != Overlaps(b, a) {
			t.Fatalf("Overlaps(%s, %s) is not symmetric", a, b)
		}
		if a.shape() == b.shape() && a.verb == b.verb && !ov {
			t.Fatalf("%s and %s have one shape but do not overlap", a, b)
		}
		tb := mustTable(t, "GET "+b.String())
		for _, p := range []string{expand(a), strings.ReplaceAll(expand(a), "x-1", "a")} {
			if _, st := tb.Match("GET", p); st == Found && !ov {
				t.Fatalf("%s matches %s (expanded from %s) but Overlaps = false", b, p, a)
			}
		}
	})
}

func TestArbitrate(t *testing.T) {
	es := entries(t,
		"GET /v1/{name=shelves/*/books/*}", // 0 library
		"GET /v1/shelves",                  // 1 library
		"GET /v1/shelves/1/books/{id}",     // 2 evil: shadows 0
		"GET /{name=**}",                   // 3 evil: catches all
		"GET /v1/shelves",                  // 4 evil: identical to 1
		"GET /v2/things",                   // 5 evil: its own
		"POST /v1/shelves",                 // 6 evil: another method
		"GET /v1/{name=shelves/*}",         // 7 library: kept (one owner)
		"GET /v1/shelves/{id}",             // 8 library: same shape as 7
		"POST /v1/{name=shelves/*}:merge",  // 9 friend: granted by library
		"GET /v1/{name=shelves/*/books/*}", // 10 friend: granted, but same shape as 0
	)
	owners := []string{"library", "library", "evil", "evil", "evil", "evil", "evil", "library", "library", "friend", "friend"}
	for i := range es {
		es[i].Value = owners[i] + " " + es[i].Value
	}
	owner := func(v string) string { o, _, _ := strings.Cut(v, " "); return o }
	allow := func(kept, o string) bool { return kept == "library" && o == "friend" }
	kept, refused := Arbitrate(es, owner, allow)
	var got []string
	for _, e := range kept {
		got = append(got, e.Value)
	}
	want := []string{
		"library GET /v1/{name=shelves/*/books/*}", "library GET /v1/shelves", "evil GET /v2/things",
		"evil POST /v1/shelves", "library GET /v1/{name=shelves/*}", "friend POST /v1/{name=shelves/*}:merge",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kept\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantRefused := []Refusal{{Index: 2, By: 0}, {Index: 3, By: 0}, {Index: 4, By: 1, Same: true}, {Index: 8, By: 7, Same: true}, {Index: 10, By: 0, Same: true}}
	if len(refused) != len(wantRefused) {
		t.Fatalf("refused %+v, want %+v", refused, wantRefused)
	}
	for i := range refused {
		if refused[i] != wantRefused[i] {
			t.Fatalf("refused %+v, want %+v", refused, wantRefused)
		}
	}
	if _, err := NewTable(kept); err != nil {
		t.Fatalf("the kept entries do not build: %v", err)
	}
	// Without the grant, the friend's verb route is refused too: it would
	// take GET /v1/shelves/x:merge from library's GET /v1/{name=shelves/*}.
	_, refused = Arbitrate(es, owner, nil)
	if last := refused[len(refused)-2]; last != (Refusal{Index: 9, By: 7}) {
		t.Fatalf("refused %+v, want the merge route refused by entry 7", refused)
	}
}
