package gateway_test

import (
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// TestMigratingGuideExamples: every yaml block of
// docs/migrating-from-grpc-gateway.md loads, sets compat: grpc-gateway, and
// serves the library example in grpc-gateway's dialect once its endpoint
// is pointed at a real backend.
func TestMigratingGuideExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/migrating-from-grpc-gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("the guide has %d yaml blocks", len(blocks))
	}
	lib := startLibrary(t)
	for i, b := range blocks {
		b = b[:strings.Index(b, "```")]
		cfg, err := config.Parse([]byte(b))
		if err != nil {
			t.Fatalf("block %d does not load: %v\n%s", i, err, b)
		}
		if len(cfg.Upstreams) != 1 || cfg.Upstreams[0].Compat != "grpc-gateway" {
			t.Fatalf("block %d: upstreams %+v", i, cfg.Upstreams)
		}
		u := cfg.Upstreams[0]
		served := strings.Replace(b, `static: ["`+u.Static[0]+`"]`, `static: ["`+lib.Addr+`"]`, 1)
		h := startGateway(t, served)
		r := h.do(t, "PUT", "/v1/shelves", "").expect(t, 501)
		jsonEq(t, r.body, `{"code":12,"message":"Method Not Allowed","details":[]}`)
	}
	// A misspelt dialect is a config error naming the key.
	_, err = config.Parse([]byte("upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    compat: grpc_gateway\n"))
	if err == nil || !strings.Contains(err.Error(), `upstreams[0].compat: "grpc_gateway" is not refract or grpc-gateway`) {
		t.Fatalf("error = %v", err)
	}
}
