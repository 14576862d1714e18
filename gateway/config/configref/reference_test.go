package configref

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md from the config types")

// referencePath is docs/config.md, from this package's directory.
var referencePath = filepath.Join("..", "..", "..", "docs", "config.md")

// examplePages are the pages examples are taken from: the annotated
// configuration first, then the other docs in name order (their examples
// show a key in its topic's context), then the README's compact ones.
func examplePages(t *testing.T) []string {
	t.Helper()
	docs := filepath.Join("..", "..", "..", "docs")
	all, err := filepath.Glob(filepath.Join(docs, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(all)
	pages := []string{filepath.Join(docs, "configuration.md")}
	for _, p := range all {
		if b := filepath.Base(p); b != "configuration.md" && b != "config.md" {
			pages = append(pages, p)
		}
	}
	return append(pages, filepath.Join("..", "..", "..", "README.md"))
}

// The committed docs/config.md is what the config types and the docs'
// examples give today. When it fails, run go generate ./gateway/config/configref
// and commit docs/config.md.
func TestReferenceIsCurrent(t *testing.T) {
	keys, err := Keys("..", examplePages(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Markdown(keys)
	if *update {
		if err := os.WriteFile(referencePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("docs/config.md is out of date (first difference at line %d:\n  page:  %s\n  types: %s)\nrun: go generate ./gateway/config/configref", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("docs/config.md is out of date (%d lines, the types give %d)\nrun: go generate ./gateway/config/configref", len(gl), len(wl))
	}
}

// The reference holds the keys a reader looks for, with the defaults
// ApplyDefaults gives and the ones the comments name.
func TestReferenceKeys(t *testing.T) {
	keys, err := Keys("..", examplePages(t))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Key{}
	for _, k := range keys {
		if _, dup := by[k.Path]; dup {
			t.Errorf("key %s listed twice", k.Path)
		}
		by[k.Path] = k
	}
	for path, want := range map[string][2]string{
		"listen":                                  {"string", "127.0.0.1:8080"},
		"shutdown_timeout":                        {"duration", "15s"},
		"upstreams":                               {"list of objects", ""},
		"upstreams[].timeout":                     {"duration", "30s"},
		"upstreams[].default_routes":              {"bool", "true"},
		"upstreams[].strict":                      {"bool", "false"},
		"upstreams[].forward_headers":             {"list of strings", "Authorization, X-Request-Id, Traceparent, Tracestate"},
		"upstreams[].streams.idle_timeout":        {"duration", "5m"},
		"upstreams[].streams.framing":             {"map of string to string", "ndjson"},
		"limits.max_url_bytes":                    {"integer", "8 KiB"},
		"limits.headers_with_underscores":         {"string", "drop"},
		"upstreams[].balancer":                    {"string", "round_robin"},
		"upstreams[].name":                        {"string", ""},
		"reflection.max_routes":                   {"integer", "10000"},
		"upstreams[].rules[].additional_bindings": {"list of objects", ""},
	} {
		k, ok := by[path]
		if !ok {
			t.Errorf("no key %s", path)
			continue
		}
		if k.Type != want[0] || k.Default != want[1] && k.Default != "`"+want[1]+"`" {
			t.Errorf("%s: type %q default %q, want %q %q", path, k.Type, k.Default, want[0], want[1])
		}
		if k.Doc == "" {
			t.Errorf("%s has no description", path)
		}
	}
	if k := by["jwt.algorithms"]; k.Example == "" || k.ExamplePage != "policies.md" {
		t.Errorf("jwt.algorithms has no example from policies.md: %+v", k)
	}
}

// fixture is a schema with one documented and one undocumented key, read
// from this file's own source.
type fixture struct {
	// Documented says what it does. Default 3.
	Documented int `yaml:"documented"`

	Bare   string        `yaml:"bare"`
	Nested fixtureNested `yaml:"nested"`
}

type fixtureNested struct {
	// Inner is documented.
	Inner bool `yaml:"inner"`

	Hidden bool `yaml:"hidden"`
}

// A key added without a doc comment fails the reference, naming it: the
// page cannot fall behind the types.
func TestUndocumentedKeyFails(t *testing.T) {
	docs, err := readComments([]string{"reference_test.go"})
	if err != nil {
		t.Fatal(err)
	}
	// Only Nested's own comment is missing among the documented-looking
	// ones: add it for the test's sake so that bare and hidden are the two.
	docs["fixture"]["Nested"] = "Nested holds more."
	_, err = collect(reflect.TypeFor[fixture](), nil, docs, nil, nil)
	if err == nil {
		t.Fatal("an undocumented key passed")
	}
	if !strings.Contains(err.Error(), "fixture.Bare (bare), fixtureNested.Hidden (nested.hidden)") {
		t.Fatalf("error %q does not name bare and nested.hidden", err)
	}
	docs["fixture"]["Bare"] = "Bare is documented now."
	docs["fixtureNested"]["Hidden"] = "Hidden is documented now."
	keys, err := collect(reflect.TypeFor[fixture](), nil, docs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 || keys[0].Path != "documented" || keys[0].Default != "`3`" || keys[4].Path != "nested.hidden" {
		t.Fatalf("keys %+v", keys)
	}
}
