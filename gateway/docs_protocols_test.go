package gateway_test

import (
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// Every yaml block of docs/protocols.md loads as a config (keys are
// strict: a renamed key fails here).
func TestDocsProtocolsExamplesParse(t *testing.T) {
	data, err := os.ReadFile("../docs/protocols.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) != 6 {
		t.Fatalf("found %d yaml blocks, want 6", len(blocks))
	}
	for i, b := range blocks {
		b = b[:strings.Index(b, "```")]
		if _, err := config.Parse([]byte(b)); err != nil {
			t.Errorf("block %d does not load: %v\n%s", i+1, err, b)
		}
	}
}
