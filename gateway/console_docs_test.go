package gateway_test

import (
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// Every yaml block of docs/console.md loads, and the images it shows
// exist.
func TestConsoleDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/console.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	blocks := strings.Split(text, "```yaml\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("docs/console.md has no yaml example")
	}
	for i, b := range blocks {
		b = b[:strings.Index(b, "```")]
		cfg, err := config.Parse([]byte(b))
		if err != nil {
			t.Errorf("example %d does not load: %v\n%s", i+1, err, b)
			continue
		}
		if cfg.OpenAPI.DocsPath != "/docs" {
			t.Errorf("example %d: docs_path %q", i+1, cfg.OpenAPI.DocsPath)
		}
	}
	for _, part := range strings.Split(text, "](images/")[1:] {
		name := part[:strings.Index(part, ")")]
		if _, err := os.Stat("../docs/images/" + name); err != nil {
			t.Errorf("docs/console.md shows images/%s: %v (regenerate: REFRACT_UPDATE_DOCS_IMAGES=1 go test -run TestConsole ./gateway/)", name, err)
		}
	}
}
