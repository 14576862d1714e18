package router

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheckPath checks the path normalizer against its contract with an
// independent reading of the path (net/url's decoding): whatever
// CheckPath and CheckEscapes accept has no dot segment in any spelling, no
// control character, no backslash, only UTF-8, and no decoded '/', '\' or
// ';' inside a value a single-segment variable or "*" received. Neither
// may panic.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{
		"/v1/shelves/1", "/v1/../x", "/v1/%2e%2E/x", "/v1/.%2E", "/v1/..;x/y", "/v1/shelves/a%2F..%2Fb",
		"/v1/shelves/a%5C", "/v1/shelves/a%3B", "/v1/a%00", "/v1/%FF", "/v1/caf%C3", "/v1/a\\b", "/v1/%zz",
		"/v1/a%2Fb", "/v1/x/y/z%2F:get", "/v1/shelves/s1:merge", "/v1/%7Ex", "//", "/v1/shelves/%2e",
	} {
		f.Add(s)
	}
	tb := mustTable(f, fuzzRoutes...)
	f.Fuzz(func(t *testing.T, path string) {
		if err := CheckPath(path); err != nil {
			if err.GRPCStatus().Code() != 3 || err.Error() == "" {
				t.Fatalf("CheckPath(%q): %v", path, err)
			}
			return
		}
		segs := strings.Split(path[1:], "/")
		for i, s := range segs {
			d, err := url.PathUnescape(s)
			if err != nil {
				t.Fatalf("CheckPath accepted %q: segment %d %q has a bad escape", path, i+1, s)
			}
			if i := strings.IndexByte(d, ';'); i >= 0 {
				d = d[:i]
			}
			if d == "." || d == ".." {
				t.Fatalf("CheckPath accepted the dot segment %q in %q", s, path)
			}
			full, _ := url.PathUnescape(s)
			if !utf8.ValidString(full) || strings.ContainsFunc(full, func(r rune) bool { return r < 0x20 || r == 0x7f }) || strings.Contains(s, "\\") {
				t.Fatalf("CheckPath accepted segment %q of %q", s, path)
			}
		}
		m, st := tb.Match("GET", path)
		if st != Found {
			return
		}
		if err := m.Template.CheckEscapes(path); err != nil {
			return
		}
		for i, v := range m.Template.Variables() {
			if v.Multi {
				continue
			}
			if strings.ContainsAny(m.Vars[i], "/\\;") && !strings.ContainsAny(rawVar(path, v), "/\\;") {
				t.Fatalf("%q: variable %s received %q, decoded from an escaped separator", path, v.Path(), m.Vars[i])
			}
		}
	})
}

// rawVar is the segment of path a single-segment variable matched, as sent.
func rawVar(path string, v Variable) string {
	segs := strings.Split(path[1:], "/")
	if v.start >= len(segs) {
		return ""
	}
	return segs[v.start]
}
