package gateway_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// Every YAML example of docs/policies.md's access-control sections (up to
// External authorization) is a valid config (keys are strict, so a renamed
// key would fail here), completed as completeExample says, with the secrets
// they read from the environment and from files provided. Nothing
// connects: only config.Parse runs.
func TestReadmePolicyExamplesParse(t *testing.T) {
	text := docSection(t, "policies.md", "# Policies", "## External authorization")
	t.Setenv("MOBILE_API_KEY", "mobile-key-from-env")
	t.Setenv("REDIS_PASSWORD", "redis-password")
	keyFile := filepath.Join(t.TempDir(), "mobile-key")
	if err := os.WriteFile(keyFile, []byte("mobile-key-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fences, _ := yamlBlocks(text)
	for n, yaml := range fences {
		if _, err := config.Parse([]byte(completeExample(yaml, keyFile))); err != nil {
			t.Errorf("docs/policies.md example %d does not load: %v\n%s", n+1, err, yaml)
		}
	}
	// Publishing, access log, client IP, CORS, API consumers, JWT, rate limits,
	// failed authentications.
	if len(fences) != 8 {
		t.Fatalf("found %d YAML examples, want 8", len(fences))
	}
}
