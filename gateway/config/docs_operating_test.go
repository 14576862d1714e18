package config

import (
	"os"
	"regexp"
	"testing"
)

// Every YAML example of docs/operating.md loads.
func TestOperatingDocsExamplesLoad(t *testing.T) {
	page, err := os.ReadFile("../../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(page, -1)
	if len(blocks) < 3 {
		t.Fatalf("docs/operating.md has %d yaml examples, want at least 3", len(blocks))
	}
	for _, b := range blocks {
		if _, err := Parse(b[1]); err != nil {
			t.Errorf("example does not load: %v\n%s", err, b[1])
		}
	}
}
