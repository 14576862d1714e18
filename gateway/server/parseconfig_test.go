package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/server"
)

// ReadConfig validates as a reload does and names the bytes it read.
func TestReadConfig(t *testing.T) {
	cfg, data, err := server.ReadConfig(t.Context(), "../../examples/refract.yaml")
	raw, _ := os.ReadFile("../../examples/refract.yaml")
	sum := sha256.Sum256(raw)
	if err != nil || len(cfg.Upstreams) != 2 || data.Version() != hex.EncodeToString(sum[:])[:12] || data.Source != "../../examples/refract.yaml" {
		t.Fatalf("examples/refract.yaml: %v, version %s, source %s", err, data.Version(), data.Source)
	}
	if _, _, err := server.ReadConfig(t.Context(), "../../examples/none.yaml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}
