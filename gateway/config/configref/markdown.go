package configref

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown renders the reference page: an index of the top-level keys,
// then one heading per key (so that every key has an anchor), with its
// type, default, example and description.
func Markdown(keys []Key) []byte {
	var b bytes.Buffer
	b.WriteString(`# Configuration reference

<!-- Generated from the config types by "go generate ./gateway/config/configref"; do not edit. -->

Every key of refract's YAML config file, generated from the Go types that read it (package
` + "`gateway/config`" + `) and their doc comments, so that this page and the program cannot disagree: a
test fails when they do. ` + "`[]`" + ` in a key's path is an item of a list; durations are written
` + "`500ms`, `10s`, `1m`, `1h30m`" + `; sizes are in bytes. Keys are strict: an unknown key is an error
naming its line (` + "`refract validate -config FILE`" + ` lists every problem at once). The examples
come from the config examples of the other pages, which tests load. For a guided tour, see
[Configuration](configuration.md).

`)
	var top []string
	for _, k := range keys {
		if !strings.Contains(k.Path, ".") && !strings.Contains(k.Path, "[]") {
			top = append(top, fmt.Sprintf("[`%s`](#%s)", k.Path, anchor(k.Path)))
		}
	}
	b.WriteString("Top-level keys: " + strings.Join(top, " · ") + ".\n")
	for _, k := range keys {
		level := "###"
		if !strings.Contains(k.Path, ".") && !strings.Contains(k.Path, "[]") {
			level = "\n##"
		}
		fmt.Fprintf(&b, "\n%s `%s`\n\n", level, k.Path)
		facts := []string{"*" + k.Type + "*"}
		if k.Default != "" {
			facts = append(facts, "default "+k.Default)
		}
		if k.Example != "" {
			facts = append(facts, fmt.Sprintf("example %s ([%s](%s))", code(k.Example), strings.TrimSuffix(k.ExamplePage, ".md"), pageLink(k.ExamplePage)))
		}
		b.WriteString(strings.Join(facts, " · ") + "\n\n")
		b.WriteString(k.Doc + "\n")
	}
	return b.Bytes()
}

// pageLink is the link from docs/config.md to a page named by its base
// name (README.md is one directory up).
func pageLink(page string) string {
	if page == "README.md" {
		return "../README.md"
	}
	return page
}

// code wraps a value in backticks, doubling them when it holds one.
func code(s string) string {
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// anchor is the fragment GitHub gives the heading of a key.
func anchor(path string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(path) {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
