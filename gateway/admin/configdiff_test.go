package admin

import (
	"fmt"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// BenchmarkPatchValidateDiff is the admin API's work for a PATCH of one
// upstream's timeout in a config of 200 upstreams: the merge patch on
// the YAML tree, the whole validation, and the diff of the effective
// configs (redaction included; the running one's is computed once). The
// apply itself is the server's.
func BenchmarkPatchValidateDiff(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("# a large config\nupstreams:\n")
	for i := range 200 {
		fmt.Fprintf(&sb, "  - name: svc%d   # service %d\n    static: [\"127.0.0.1:%d\"]\n    timeout: 10s\n", i, i, 10000+i)
	}
	src := []byte(sb.String())
	running, err := config.Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	patch := []byte(`{"upstreams":{"svc100":{"timeout":"5s"}}}`)
	c := &Control{}
	b.ReportAllocs()
	for b.Loop() {
		next, err := MergePatch(src, patch)
		if err != nil {
			b.Fatal(err)
		}
		cfg, err := config.Parse(next)
		if err != nil {
			b.Fatal(err)
		}
		d, err := c.configDiff(running, cfg)
		if err != nil || len(d) != 1 || d[0].Path != "upstreams[svc100].timeout" {
			b.Fatalf("diff %v %v", d, err)
		}
	}
}
