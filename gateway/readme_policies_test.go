package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// Every YAML example of the README's "Policies" section is a valid config
// (keys are strict, so a renamed key would fail here) and builds its
// policies. Pieces without upstreams get one; the secrets they read from
// the environment and from files are provided; shared limits get a Redis
// address. Nothing connects: only ParseConfig runs.
func TestReadmePolicyExamplesParse(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Policies\n")
	end := strings.Index(text, "\n## Resilience and traffic\n")
	if start < 0 || end < start {
		t.Fatal("README has no Policies section before Resilience and traffic")
	}
	t.Setenv("MOBILE_API_KEY", "mobile-key-from-env")
	t.Setenv("REDIS_PASSWORD", "redis-password")
	keyFile := filepath.Join(t.TempDir(), "mobile-key")
	if err := os.WriteFile(keyFile, []byte("mobile-key-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(text[start:end], "```yaml\n")[1:] {
		yaml := strings.ReplaceAll(block[:strings.Index(block, "```")], "/run/secrets/mobile-key", keyFile)
		if !strings.Contains(yaml, "upstreams:") {
			yaml += "upstreams: [{name: library, static: [\"127.0.0.1:50051\"]}]\n"
		}
		if strings.Contains(yaml, "shared: true") && !strings.Contains(yaml, "\nredis:") && !strings.HasPrefix(yaml, "redis:") {
			yaml += "redis: {addr: \"127.0.0.1:6379\"}\n"
		}
		if _, err := config.Parse([]byte(yaml)); err != nil {
			t.Errorf("README example %d does not load: %v\n%s", n+1, err, yaml)
		}
		n++
	}
	// Publishing, access log, client IP, CORS, API consumers, JWT, rate limits,
	// failed authentications.
	if n != 8 {
		t.Fatalf("found %d YAML examples, want 8", n)
	}
}
