package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway"
)

func TestOpenConfigSource(t *testing.T) {
	for _, tc := range []struct{ location, err string }{
		{"consul://127.0.0.1:8500/refract/config?dc=dc2", ""},
		{"refract.yaml", ""},
		{"", "no location"},
		{"consul://127.0.0.1/refract/config", "want consul://HOST:PORT/KEY"},
		{"consul://127.0.0.1:8500/", "want consul://HOST:PORT/KEY"},
		{"consul://127.0.0.1:8500/k?token=secret", `unknown parameter "token"`},
	} {
		src, err := gateway.OpenConfigSource(tc.location)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.location, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.location, err, tc.err)
		case err == nil:
			if src.String() != tc.location {
				t.Errorf("%q: named %q", tc.location, src.String())
			}
			src.Close()
		}
	}
}

// ReadConfig validates as a reload does and names the bytes it read.
func TestReadConfig(t *testing.T) {
	cfg, data, err := gateway.ReadConfig(t.Context(), "../examples/refract.yaml")
	raw, _ := os.ReadFile("../examples/refract.yaml")
	sum := sha256.Sum256(raw)
	if err != nil || len(cfg.Upstreams) != 2 || data.Version() != hex.EncodeToString(sum[:])[:12] || data.Source != "../examples/refract.yaml" {
		t.Fatalf("examples/refract.yaml: %v, version %s, source %s", err, data.Version(), data.Source)
	}
	if _, _, err := gateway.ReadConfig(t.Context(), "../examples/none.yaml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}
