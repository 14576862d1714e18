package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/internal/testkit"
)

// cli runs `refract config ARGS…` as the command line would, and returns
// its exit code and what it printed (stdout, then stderr).
func cli(args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"config"}, args...), &out, &errb)
	return code, out.String() + errb.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The config commands against a running refract that reads a file and
// wants a token: get, diff (every problem with its line; then the
// change), apply, history, rollback to the very bytes of the start; a
// wrong token fails with the API's reason.
func TestConfigCLI(t *testing.T) {
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Stop()
	orig := fmt.Sprintf(`# served by the CLI test
drain_period: 0s
admin_security:
  tokens: [{name: ci, value: ci-token-0c1e}]
upstreams:
  - name: library
    static: [%q]
`, lib.Addr)
	path := writeFile(t, "refract.yaml", orig)
	p := startRefract(t, buildRefract(t), "-config", path)
	testkit.Eventually(t, 30*time.Second, "refract serves", func() bool {
		code, _ := call(http.DefaultClient, "GET", "http://"+p.listen+"/v1/shelves", "")
		return code == 200
	})
	admin := "http://" + p.admin
	auth := []string{"-admin", admin, "-token", "ci-token-0c1e"}

	if code, out := cli("get", "-admin", admin, "-token", "wrong"); code != 1 || !strings.Contains(out, "HTTP 401: admin API: the bearer token is not one of admin_security.tokens") {
		t.Fatalf("get with a wrong token: exit %d\n%s", code, out)
	}
	code, out := cli(append([]string{"get"}, auth...)...)
	if code != 0 || !strings.Contains(out, "# served by the CLI test") || !strings.Contains(out, `value: "[redacted]"`) ||
		!strings.Contains(out, "version "+version(orig)) {
		t.Fatalf("get: exit %d\n%s", code, out)
	}

	bad := writeFile(t, "bad.yaml", "upstreams:\n  - name: library\n    static: [nohostport]\n    timeout: soon\n")
	code, out = cli(append([]string{"diff", "-f", bad}, auth...)...)
	if want := "line 3: upstreams[0].static: discovery: address \"nohostport\": want host:port: address nohostport: missing port in address\n" +
		"line 4: upstreams[0].timeout: \"soon\" is not a duration (e.g. 500ms, 10s, 1m)\n"; code != 2 || out != want {
		t.Fatalf("diff of an invalid config: exit %d\n%s\nwant\n%s", code, out, want)
	}
	next := strings.Replace(orig, "    static:", "    timeout: 3s\n    static:", 1)
	good := writeFile(t, "good.yaml", next)
	if code, out = cli(append([]string{"diff", "-f", good}, auth...)...); code != 0 || out != "~ upstreams[library].timeout: \"30s\" → \"3s\"\n" {
		t.Fatalf("diff: exit %d\n%s", code, out)
	}
	if code, out = cli(append([]string{"apply", "-f", good}, auth...)...); code != 0 ||
		out != fmt.Sprintf("applied %s (was %s), 1 change\n~ upstreams[library].timeout: \"30s\" → \"3s\"\n", version(next), version(orig)) {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(path); string(b) != next {
		t.Fatalf("the file after apply:\n%s", b)
	}
	if code, out = cli(append([]string{"apply", "-f", good, "-if-match", version(orig)}, auth...)...); code != 1 || !strings.Contains(out, "HTTP 412") {
		t.Fatalf("a stale apply: exit %d\n%s", code, out)
	}
	code, out = cli(append([]string{"history"}, auth...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], version(next)+"  ") || !strings.Contains(lines[1], " ci ") ||
		!strings.HasPrefix(lines[2], version(orig)+"  ") {
		t.Fatalf("history: exit %d\n%s", code, out)
	}
	if code, out = cli(append([]string{"rollback", version(orig)}, auth...)...); code != 0 || !strings.HasPrefix(out, "applied "+version(orig)) {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(path); string(b) != orig {
		t.Fatalf("the file after rollback:\n%s", b)
	}
	if code, body := call(http.DefaultClient, "GET", admin+"/admin/reload", "", "Authorization", "Bearer ci-token-0c1e"); code != 200 ||
		!strings.Contains(body, `"version": "`+version(orig)+`"`) {
		t.Fatalf("after rollback: %d %s, want version %s", code, body, version(orig))
	}
}

// A gray release across three processes sharing a config in Consul KV:
// the candidate (which adds the echo upstream) goes to the one instance
// named; the others keep the stable config; a config change meanwhile is
// refused; abort returns it to stable; a release by share runs on the
// instance the hash puts in it; promote moves all three; a rollback
// brings all three back. Requests to all three keep succeeding throughout.
func TestGrayReleaseAcrossAFleet(t *testing.T) {
	agent := consultest.Start(t)
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Stop()
	echo, err := examples.StartEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Stop()
	const key = "refract/gray/config"
	stable := fmt.Sprintf("drain_period: 0s\nlog: {level: warn}\nupstreams:\n  - name: library\n    static: [%q]\n", lib.Addr)
	candidate := stable + fmt.Sprintf("  - name: echo\n    static: [%q]\n", echo.Addr)
	kv := agent.Client().KV()
	if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte(stable)}, nil); err != nil {
		t.Fatal(err)
	}
	candFile := writeFile(t, "candidate.yaml", candidate)
	bin := buildRefract(t)
	location := "consul://" + agent.Addr + "/" + key
	ids := []string{"gw-0", "gw-1", "gw-2"}
	var fleet []*process
	for _, id := range ids {
		fleet = append(fleet, startRefract(t, bin, "-config", location, "-instance-id", id))
	}
	runs := func(want ...string) {
		t.Helper()
		for i, p := range fleet {
			testkit.Eventually(t, 30*time.Second, fmt.Sprintf("%s runs %s", ids[i], want[i]), func() bool {
				v := version(stable)
				if want[i] == "candidate" {
					v = version(candidate)
				}
				code, _ := call(http.DefaultClient, "POST", "http://"+p.listen+"/echo.v1.EchoService/Echo", `{"message":"hi"}`)
				ready, _ := call(http.DefaultClient, "GET", "http://"+p.admin+"/readyz", "")
				return ready == 200 && configStatus(t, p).Version == v && (code == 200) == (want[i] == "candidate")
			})
		}
	}
	runs("stable", "stable", "stable")

	// Load on all three for the whole test: nothing may be lost.
	var total, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body := call(http.DefaultClient, "GET", "http://"+p.listen+"/v1/shelves", "")
				total.Add(1)
				if code != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s at %s: %d %s", ids[i], time.Now().Format("15:04:05.000"), code, body))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	admin := "http://" + fleet[0].admin

	if code, out := cli("release", "-f", candFile, "-instances", "gw-1", "-admin", admin); code != 0 {
		t.Fatalf("release: exit %d\n%s", code, out)
	}
	runs("stable", "candidate", "stable")
	var rel struct {
		Stable, Candidate string
		Instances         []string
		ThisInstance      struct{ ID, Runs string } `json:"this_instance"`
	}
	for i, want := range []string{"stable", "candidate", "stable"} {
		_, body := call(http.DefaultClient, "GET", "http://"+fleet[i].admin+"/admin/config/release", "")
		if err := json.Unmarshal([]byte(body), &rel); err != nil || rel.Stable != version(stable) || rel.Candidate != version(candidate) ||
			rel.ThisInstance.ID != ids[i] || rel.ThisInstance.Runs != want || strings.Join(rel.Instances, ",") != "gw-1" {
			t.Fatalf("%s: GET /admin/config/release: %v %s", ids[i], err, body)
		}
	}
	_, metrics := call(http.DefaultClient, "GET", "http://"+fleet[1].admin+"/metrics", "")
	if !strings.Contains(metrics, `config_version="`+version(candidate)+`"`) || strings.Contains(metrics, `config_version="`+version(stable)+`"`) {
		t.Fatalf("the candidate's metrics do not all carry its version %s", version(candidate))
	}
	code, body := call(http.DefaultClient, "PATCH", admin+"/admin/config", `{"log":{"level":"info"}}`,
		"X-Refract-Admin", "1", "Content-Type", "application/merge-patch+json")
	if code != 409 || !strings.Contains(body, "a gray release of "+version(candidate)+" is in progress") {
		t.Fatalf("a change during the release: %d %s", code, body)
	}

	if code, out := cli("abort", "-admin", "http://"+fleet[2].admin); code != 0 {
		t.Fatalf("abort: exit %d\n%s", code, out)
	}
	runs("stable", "stable", "stable")

	// By share: the instance with the lowest bucket, alone.
	sorted := append([]string(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool {
		return configsource.InstanceBucket(sorted[i]) < configsource.InstanceBucket(sorted[j])
	})
	if configsource.InstanceBucket(sorted[0]) == configsource.InstanceBucket(sorted[1]) {
		t.Fatalf("instance names %v share a bucket; rename them", sorted)
	}
	share := configsource.InstanceBucket(sorted[0]) + 1
	if code, out := cli("release", "-f", candFile, "-share", fmt.Sprint(share), "-admin", admin); code != 0 {
		t.Fatalf("release by share: exit %d\n%s", code, out)
	}
	want := make([]string, 3)
	for i, id := range ids {
		want[i] = "stable"
		if id == sorted[0] {
			want[i] = "candidate"
		}
	}
	runs(want...)

	if code, out := cli("promote", "-admin", admin); code != 0 || !strings.Contains(out, "promoted "+version(candidate)) {
		t.Fatalf("promote: exit %d\n%s", code, out)
	}
	runs("candidate", "candidate", "candidate")
	pair, _, err := kv.Get(key, nil)
	if err != nil || pair == nil || string(pair.Value) != candidate {
		t.Fatalf("the key after promote: %v %+v", err, pair)
	}
	for _, k := range []string{key + ".release", key + ".candidate"} {
		if p, _, _ := kv.Get(k, nil); p != nil {
			t.Fatalf("%s still there after promote", k)
		}
	}
	if code, out := cli("promote", "-admin", admin); code != 1 || !strings.Contains(out, "no gray release is in progress") {
		t.Fatalf("a second promote: exit %d\n%s", code, out)
	}

	// The history in Consul holds the stable config the release replaced:
	// a rollback to it reaches every instance.
	if code, out := cli("rollback", version(stable), "-admin", "http://"+fleet[1].admin); code != 0 {
		t.Fatalf("rollback after promote: exit %d\n%s", code, out)
	}
	runs("stable", "stable", "stable")

	close(stop)
	wg.Wait()
	if failed.Load() != 0 || total.Load() < 30 {
		t.Fatalf("%d of %d requests failed during the release (first: %v)", failed.Load(), total.Load(), firstFailure.Load())
	}
	t.Logf("%d requests, none failed", total.Load())
}
