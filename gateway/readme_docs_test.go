package gateway_test

import (
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// The YAML of docs/openapi.md and of the Tracing section of
// docs/operating.md loads: the yaml blocks (given an upstream) and the
// config file the tracing example writes.
func TestReadmeOpenAPIAndTracingExamplesParse(t *testing.T) {
	openapi, _ := yamlBlocks(docPage(t, "openapi.md"))
	tracing, files := yamlBlocks(docSection(t, "operating.md", "## Tracing", "## Fault behaviour"))
	var configs []string
	for _, y := range append(openapi, tracing...) {
		configs = append(configs, completeExample(y, ""))
	}
	configs = append(configs, files...)
	if len(openapi) != 1 || len(configs) != 3 {
		t.Fatalf("found %d configs (%d in openapi.md), want 3 (1)", len(configs), len(openapi))
	}
	for i, c := range configs {
		cfg, err := config.Parse([]byte(c))
		if err != nil {
			t.Errorf("docs config %d does not load: %v\n%s", i+1, err, c)
			continue
		}
		if i > 0 && !cfg.Tracing.On() {
			t.Errorf("docs config %d does not turn tracing on", i+1)
		}
	}
}
