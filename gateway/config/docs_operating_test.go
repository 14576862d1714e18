package config

import (
	"bytes"
	"os"
	"regexp"
	"testing"
)

// Every whole config of docs/operating.md (a yaml example with its
// upstreams) loads as written. The page's pieces of a config (a block
// showing admin_security or tracing alone) are loaded, completed with an
// upstream, by the test of every docs page in package gateway.
func TestOperatingDocsExamplesLoad(t *testing.T) {
	page, err := os.ReadFile("../../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][][]byte
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(page, -1) {
		if bytes.Contains(b[1], []byte("upstreams:")) {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) < 3 {
		t.Fatalf("docs/operating.md has %d whole yaml configs, want at least 3", len(blocks))
	}
	for _, b := range blocks {
		if _, err := Parse(b[1]); err != nil {
			t.Errorf("example does not load: %v\n%s", err, b[1])
		}
	}
}
