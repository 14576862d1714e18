package gateway

import (
	"os"
	"strings"
	"testing"
)

// Every YAML example of the README's "Resilience and traffic" section is a
// valid config (keys are strict, so a renamed key would fail here). Pieces
// without upstreams get one, and Consul ones an agent address; nothing
// connects: only ParseConfig runs.
func TestReadmeResilienceExamplesParse(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Resilience and traffic\n")
	end := strings.Index(text, "\n## Admin API\n")
	if start < 0 || end < start {
		t.Fatal("README has no Resilience and traffic section before Admin API")
	}
	section := text[start:end]
	n := 0
	for _, block := range strings.Split(section, "```yaml\n")[1:] {
		yaml := block[:strings.Index(block, "```")]
		if !strings.Contains(yaml, "upstreams:") {
			yaml += "upstreams: [{name: library, static: [\"127.0.0.1:50051\"]}]\n"
		}
		if strings.Contains(yaml, "consul: {service") {
			yaml += "consul: {address: \"127.0.0.1:8500\"}\n"
		}
		if strings.Contains(yaml, "ext_authz: true") && !strings.HasPrefix(yaml, "ext_authz:") && !strings.Contains(yaml, "\next_authz:") {
			yaml += "ext_authz: {http: {url: \"http://127.0.0.1:9000/check\"}}\n"
		}
		if _, err := ParseConfig([]byte(yaml)); err != nil {
			t.Errorf("README example %d does not load: %v\n%s", n+1, err, yaml)
		}
		n++
	}
	if n < 7 {
		t.Fatalf("found %d YAML examples, want at least 7", n)
	}
}
