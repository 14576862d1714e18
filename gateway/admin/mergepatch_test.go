package admin

import (
	"strings"
	"testing"
)

func TestMergePatch(t *testing.T) {
	src := `# top comment
log: {level: info}   # flow style stays
upstreams:
  - name: library  # the backend
    static: ["127.0.0.1:1"]
    timeout: 10s
  - name: echo
    static: ["127.0.0.1:2"]
`
	for _, tc := range []struct{ name, patch, want, err string }{
		{"scalar and named item", `{"upstreams":{"library":{"timeout":"5s"}},"max_body_bytes":1048576}`,
			"# top comment\nlog: {level: info} # flow style stays\nupstreams:\n  - name: library # the backend\n    static: [\"127.0.0.1:1\"]\n" +
				"    timeout: 5s\n  - name: echo\n    static: [\"127.0.0.1:2\"]\nmax_body_bytes: 1048576\n", ""},
		{"null removes a key and an item", `{"log":null,"upstreams":{"echo":null}}`,
			"# top comment\nupstreams:\n  - name: library # the backend\n    static: [\"127.0.0.1:1\"]\n    timeout: 10s\n", ""},
		{"new item by name", `{"upstreams":{"accounts":{"static":["127.0.0.1:3"]}}}`, "  - name: accounts\n    static:\n      - 127.0.0.1:3\n", ""},
		{"a list replaces a list (RFC 7396)", `{"upstreams":[{"name":"only","static":["127.0.0.1:4"]}]}`, "upstreams:\n  - name: only\n", ""},
		{"strings that look like other types stay strings", `{"log":{"level":"true"}}`, `log: {level: "true"}`, ""},
		{"not an object", `[1]`, "", "must be a JSON object"},
		{"not JSON", `{`, "", "not valid JSON"},
		{"too deep", strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), "", "nested deeper than 32"},
	} {
		got, err := MergePatch([]byte(src), []byte(tc.patch))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.name == "scalar and named item" || tc.name == "null removes a key and an item":
			if string(got) != tc.want {
				t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, tc.want)
			}
		case !strings.Contains(string(got), tc.want):
			t.Errorf("%s: lacks %q:\n%s", tc.name, tc.want, got)
		}
	}
}

func TestDiff(t *testing.T) {
	a := map[string]any{"listen": "a", "upstreams": []any{map[string]any{"name": "x", "timeout": "1s"}, map[string]any{"name": "y"}},
		"hosts": []any{"h1"}, "gone": 1}
	b := map[string]any{"listen": "b", "upstreams": []any{map[string]any{"name": "y"}, map[string]any{"name": "x", "timeout": "2s"}},
		"hosts": []any{"h1", "h2"}, "new": true}
	got := Diff(a, b)
	want := []string{"gone removed", "hosts changed", "listen changed", "new added", "upstreams[x].timeout changed"}
	var paths []string
	for _, c := range got {
		paths = append(paths, c.Path+" "+c.Op)
	}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Fatalf("Diff: %v, want %v", paths, want)
	}
	if s := summarize(got); s != "gone removed, hosts changed, listen changed, and 2 more" {
		t.Fatalf("summary %q", s)
	}
}
