package gateway_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/internal/testkit"
)

// TestConsoleGrayRelease runs a gray release from the console of a
// gateway whose config is shared in a real Consul's KV: the admin releases
// the edited config to a share that includes this instance (which then
// runs it), aborts it (back to the stable config), releases it again and
// promotes it (the stable config in Consul is the candidate now); a viewer
// sees the release but none of its controls.
func TestConsoleGrayRelease(t *testing.T) {
	agent := consultest.Start(t)
	lib := startLibrary(t)
	const key = "refract/console/config"
	stable := fmt.Sprintf(`admin_security:
  tokens:
    - {name: adam, role: admin, value: release-admin-token}
    - {name: vera, role: viewer, value: release-viewer-token}
upstreams:
  - name: library
    static: [%q]
    timeout: 10s
`, lib.Addr)
	candidate := strings.Replace(stable, "timeout: 10s", "timeout: 3s", 1)
	kv := agent.Client().KV()
	if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte(stable)}, nil); err != nil {
		t.Fatal(err)
	}
	const instance = "gw-console"
	src, err := configsource.OpenInstance("consul://"+agent.Addr+"/"+key, instance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	h := startGateway(t, stable, withSource(src))
	timeout := func() time.Duration { return time.Duration(h.srv.Config().Upstreams[0].Timeout) }
	runs := func(want time.Duration) {
		t.Helper()
		testkit.Eventually(t, 20*time.Second, "the gateway runs timeout "+want.String(), func() bool { return timeout() == want })
	}
	// The smallest share that includes this instance: a release by share
	// picks the instances whose bucket is below it.
	share := strconv.Itoa(configsource.InstanceBucket(instance) + 1)

	b := newBrowser(t)
	signIn := func(token string) {
		b.run(t, "sign in", chromedp.Navigate(h.admin+"/#config"), visible(`#login`),
			chromedp.SendKeys(chromedp.CSS(`#token`), token), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
			visible(`body[data-ready="true"]`), visible(`#release`), visible(`body[data-release="none"]`))
	}
	setShare := chromedp.Evaluate[chromedp.Void](`document.getElementById('release-share').value = ` + share)
	signIn("release-admin-token")
	b.run(t, "edit the timeout", setEditor("timeout: 10s", "timeout: 3s"), visible(`body[data-validated="valid"]`))

	b.run(t, "release it to a share", setShare, chromedp.Click(chromedp.CSS(`#release-start`)),
		visible(`#release-result.ok`), visible(`body[data-release="running"]`), visible(`body[data-instance-runs="candidate"]`))
	runs(3 * time.Second)
	status := b.text(t, `#release-status`)
	for _, want := range []string{configsource.Data{Bytes: []byte(candidate)}.Version(), share + " %", instance + " runs candidate", "adam"} {
		if !strings.Contains(status, want) {
			t.Errorf("the release's status %q has no %q", status, want)
		}
	}
	candVersion := configsource.Data{Bytes: []byte(candidate)}.Version()
	b.run(t, "the running config follows", chromedp.Poll[chromedp.Void](`document.getElementById('config-status').textContent.includes('`+candVersion+`')`))
	b.screenshot(t, "console-gray-release")
	b.run(t, "the overview says this instance runs the candidate", chromedp.Navigate(h.admin+"/#overview"),
		visible(`li.problem.warning[data-kind="gray_release"]`))
	if p := b.text(t, `li.problem.warning[data-kind="gray_release"]`); !strings.Contains(p, "candidate config "+configsource.Data{Bytes: []byte(candidate)}.Version()) {
		t.Errorf("the overview's release line: %q", p)
	}
	b.run(t, "back to the config", chromedp.Navigate(h.admin+"/#config"), visible(`body[data-release="running"]`))

	b.run(t, "abort", chromedp.Click(chromedp.CSS(`#release-abort`)),
		visible(`#release-result.ok`), visible(`body[data-release="none"]`), visible(`body[data-instance-runs="stable"]`))
	runs(10 * time.Second)
	if p, _, _ := kv.Get(key, nil); p == nil || string(p.Value) != stable {
		t.Fatalf("after the abort Consul holds %v", p)
	}

	b.run(t, "release again", setShare, chromedp.Click(chromedp.CSS(`#release-start`)), visible(`body[data-instance-runs="candidate"]`))
	runs(3 * time.Second)
	b.run(t, "promote", chromedp.Click(chromedp.CSS(`#release-promote`)),
		visible(`#release-result.ok`), visible(`body[data-release="none"]`))
	if p, _, _ := kv.Get(key, nil); p == nil || string(p.Value) != candidate {
		t.Fatalf("after the promotion Consul holds %v", p)
	}
	runs(3 * time.Second)
	if got := b.text(t, `#release-status`); !strings.Contains(got, configsource.Data{Bytes: []byte(candidate)}.Version()) {
		t.Errorf("the stable version after the promotion: %q", got)
	}

	b.run(t, "sign out", chromedp.Click(chromedp.CSS(`#signout`)), visible(`#login`))
	signIn("release-viewer-token")
	for _, id := range []string{"release-start", "release-promote", "release-abort", "release-share"} {
		if shown := value(t, b, "viewer: "+id, chromedp.Evaluate[bool](`document.getElementById('`+id+`').offsetParent !== null`)); shown {
			t.Errorf("a viewer sees #%s", id)
		}
	}
	b.noErrors(t, "status of 401")
}
