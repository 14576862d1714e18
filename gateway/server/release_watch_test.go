package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/internal/testkit"
)

// The automatic abort: the candidate, on instance a, calls a backend
// that then dies (503s), the stable config on b keeps answering 200; once
// both sides have enough requests in the window, a aborts the release by
// itself, returns to the stable config, and says so in its audit log.
func TestGrayReleaseAutoAbort(t *testing.T) {
	agent := consultest.Start(t)
	doomed, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer doomed.Stop()
	const key = "refract/auto/config"
	const tmpl = "drain_period: 0s\nadmin_security: {release: {abort_margin: 0.2, window: 3s, min_requests: 5}}\n" +
		"upstreams:\n  - name: library\n    static: [%q]\n"
	stable, candidate := fmt.Sprintf(tmpl, libraryBackend(t)), fmt.Sprintf(tmpl, doomed.Addr)
	kv := agent.Client().KV()
	if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte(stable)}, nil); err != nil {
		t.Fatal(err)
	}
	open := func(id string) (*running, configsource.Releaser) {
		src, err := configsource.OpenInstance("consul://"+agent.Addr+"/"+key, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return serve(t, src), src.(configsource.Releaser)
	}
	a, rel := open("a")
	b, _ := open("b")
	if err := rel.StartRelease(t.Context(), []byte(candidate), configsource.Release{Instances: []string{"a"}, StartedAt: time.Now(), Who: "test"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "a runs the candidate", func() bool { return a.srv.ConfigStatus().Version == version([]byte(candidate)) })
	doomed.Stop()
	testkit.Eventually(t, 30*time.Second, "the release is aborted", func() bool {
		for _, g := range []*running{a, b} {
			resp, err := http.Get(g.public + "/v1/shelves")
			if err == nil {
				resp.Body.Close()
			}
		}
		p, _, _ := kv.Get(key+".release", nil)
		return p == nil
	})
	testkit.Eventually(t, 20*time.Second, "a runs the stable config again", func() bool { return a.srv.ConfigStatus().Version == version([]byte(stable)) })
	au := req(t, "GET", a.admin+"/admin/audit", "").expect(t, 200)
	entries := au.js["entries"].([]any)
	last := entries[0].(map[string]any)
	if last["who"] != "auto-abort" || !strings.HasPrefix(last["action"].(string), "automatic abort of gray release: candidate 5xx 100.0%") || last["outcome"] != "ok" {
		t.Fatalf("audit entry of the abort: %v", last)
	}
	if keys, _, _ := kv.Keys("refract-admin/release-stats/"+key+"/", "", nil); len(keys) != 0 {
		t.Fatalf("release stats left after the abort: %v", keys)
	}
}
