package router

import (
	"slices"
	"testing"
)

// TestCanonicalPath: escapes of unreserved characters are decoded, other
// escapes stay as sent, and a malformed escape is an error; a canonical
// path comes back as it was, without allocating.
func TestCanonicalPath(t *testing.T) {
	good := map[string]string{
		"/v1/shelves/2":              "/v1/shelves/2",
		"/v1/%73helves/2":            "/v1/shelves/2",
		"/v1/shelves/%32":            "/v1/shelves/2",
		"/v1/%53HELVES/%7e%2D%2e%5F": "/v1/SHELVES/~-._",
		"/files/a%2fb":               "/files/a%2fb",
		"/files/a%2Fb%3a%20c":        "/files/a%2Fb%3a%20c",
		"/v1/shelves/1:%6Derge":      "/v1/shelves/1:merge",
		"/v1/%E2%82%AC":              "/v1/%E2%82%AC",
		"/v1/%e2%82%ac":              "/v1/%e2%82%ac",
		"/v1/shelves/%25":            "/v1/shelves/%25",
		"/v1/shelves/%2532":          "/v1/shelves/%2532", // one decoding only
	}
	for in, want := range good {
		got, err := CanonicalPath(in)
		if err != nil || got != want {
			t.Errorf("CanonicalPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/v1/%", "/v1/%2", "/v1/%zz/x", "/v1/a%g1"} {
		if got, err := CanonicalPath(in); err == nil {
			t.Errorf("CanonicalPath(%q) = %q, want an error", in, got)
		} else if _, ok := err.(*PathError); !ok {
			t.Errorf("CanonicalPath(%q): %T, want a *PathError", in, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = CanonicalPath("/v1/shelves/2/books/%2F") }); n != 0 {
		t.Errorf("a canonical path allocates %v times", n)
	}
}

// TestMatchCanonicalSpellings: every spelling of a path with the same
// canonical form reaches the same route with the same variables, the
// variables of the canonical spelling (issue: an authorizer that saw
// "/v1/shelves/%32" let it through to shelves/2).
func TestMatchCanonicalSpellings(t *testing.T) {
	tb := mustTable(t,
		"GET /v1/{name=shelves/*}",
		"GET /v1/{name=shelves/*}/books",
		"GET /files/{path=**}",
	)
	groups := [][]string{
		{"/v1/shelves/2", "/v1/%73helves/2", "/v1/shelves/%32", "/v1/%73%68%65%6c%76%65%73/%32"},
		{"/v1/shelves/2/books", "/v1/shelves/2/%62ooks", "/v1/%73helves/%32/books"},
		{"/files/a%2Fb", "/files/%61%2F%62"},
	}
	for _, g := range groups {
		want, st := tb.Match("GET", g[0])
		if st != Found {
			t.Fatalf("%s: %v", g[0], st)
		}
		for _, p := range g[1:] {
			got, st := tb.Match("GET", p)
			if st != Found || got.Value != want.Value || !slices.Equal(got.Vars, want.Vars) {
				t.Errorf("%s: %v %q %q; want %q %q as for %s", p, st, got.Value, got.Vars, want.Value, want.Vars, g[0])
			}
			c, _ := CanonicalPath(p)
			if cm, _ := tb.Match("GET", c); cm.Value != want.Value || !slices.Equal(cm.Vars, want.Vars) {
				t.Errorf("CanonicalPath(%s) = %s matches %q %q", p, c, cm.Value, cm.Vars)
			}
		}
	}
}
