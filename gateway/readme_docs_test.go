package gateway_test

import (
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// The YAML of the README's "OpenAPI" and "Tracing" sections loads: the
// yaml blocks (given an upstream) and the config file the tracing example
// writes.
func TestReadmeOpenAPIAndTracingExamplesParse(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## OpenAPI\n")
	end := strings.Index(text, "\n## How it works\n")
	if start < 0 || end < start || !strings.Contains(text[start:end], "\n## Tracing\n") {
		t.Fatal("README has no OpenAPI and Tracing sections before How it works")
	}
	section := text[start:end]
	var configs []string
	for _, block := range strings.Split(section, "```yaml\n")[1:] {
		configs = append(configs, block[:strings.Index(block, "```")]+"upstreams: [{name: library, static: [\"127.0.0.1:50051\"]}]\n")
	}
	for _, block := range strings.Split(section, "<<'YAML'\n")[1:] {
		configs = append(configs, block[:strings.Index(block, "YAML\n")])
	}
	if len(configs) != 3 {
		t.Fatalf("found %d configs, want 3", len(configs))
	}
	for i, c := range configs {
		cfg, err := config.Parse([]byte(c))
		if err != nil {
			t.Errorf("README config %d does not load: %v\n%s", i+1, err, c)
			continue
		}
		if i > 0 && !cfg.Tracing.On() {
			t.Errorf("README config %d does not turn tracing on", i+1)
		}
	}
}
