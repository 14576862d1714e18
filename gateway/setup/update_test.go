package setup_test

import (
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/setup"
)

func parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const updateBase = `
listen: 127.0.0.1:8080
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    policies:
      breaker: {failures: 2}
  - name: echo
    static: ["127.0.0.1:2"]
`

// What the running gateway can take, and what needs a new one.
func TestUpdatable(t *testing.T) {
	base := parse(t, updateBase)
	for _, c := range []struct {
		name, yaml string
		want       bool
	}{
		{"the same", updateBase, true},
		{"an upstream's address", `
upstreams:
  - name: library
    static: ["127.0.0.1:9"]
`, true},
		{"policies and listeners", `listen: 127.0.0.1:9090
drain_period: 1s
policies: {rate_limits: [{key: ip, rate: 1, per: 1s}]}
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
`, true},
		{"the log level", updateBase + "log: {level: debug}\n", false},
		{"reflection", updateBase + "reflection: {refresh_interval: 1m}\n", false},
		{"limits", updateBase + "limits: {max_url_bytes: 1000}\n", false},
		{"products", updateBase + "products: [{name: p, hosts: [p.example], upstreams: [echo]}]\n", false},
	} {
		if got := setup.Updatable(base, parse(t, c.yaml)); got != c.want {
			t.Errorf("%s: Updatable = %v, want %v", c.name, got, c.want)
		}
	}
}

// An upstream's Key changes with what defines its connections and routes,
// not with its policies.
func TestUpstreamKey(t *testing.T) {
	key := func(yaml string) string {
		t.Helper()
		o, err := setup.New(parse(t, yaml), setup.Extra{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Policies.Close()
		return o.Upstreams[0].Key
	}
	base := key(updateBase)
	if base == "" || base != key(updateBase) {
		t.Fatalf("keys %q and %q of one config", base, key(updateBase))
	}
	up := func(extra string) string {
		return "upstreams:\n  - name: library\n    static: [\"127.0.0.1:1\"]\n" + extra
	}
	for _, c := range []struct {
		name, yaml string
		same       bool
	}{
		{"policies", up("    policies: {timeout: 3s}\n    routes: [{match: \"*.Get*\", policies: {timeout: 1s}}]\n"), true},
		{"no policies", up(""), true},
		{"the address", "upstreams:\n  - name: library\n    static: [\"127.0.0.1:2\"]\n", false},
		{"the timeout", up("    timeout: 3s\n"), false},
		{"hide", up("    hide: [\"*.Delete*\"]\n"), false},
		{"a rule", up("    rules: [{selector: a.B.C, get: /c}]\n"), false},
	} {
		if got := key(c.yaml) == base; got != c.same {
			t.Errorf("%s: same key = %v, want %v", c.name, got, c.same)
		}
	}
}

// Every config example of the What a reload keeps section of
// docs/operating.md loads, and its two versions
// of one config are taken in place, every upstream kept.
func TestOperatingDocExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	// The section's own examples: the page has others before it.
	text := string(data)
	start := strings.Index(text, "\n## What a reload keeps\n")
	if start < 0 {
		t.Fatal("docs/operating.md has no What a reload keeps section")
	}
	text = text[start+1:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	var cfgs []*config.Config
	for rest := text; ; {
		i := strings.Index(rest, "```yaml\n")
		if i < 0 {
			break
		}
		rest = rest[i+len("```yaml\n"):]
		end := strings.Index(rest, "```")
		cfg, err := config.Parse([]byte(rest[:end]))
		if err != nil {
			t.Fatalf("example %d: %v", len(cfgs)+1, err)
		}
		cfgs = append(cfgs, cfg)
		rest = rest[end:]
	}
	if len(cfgs) < 2 {
		t.Fatalf("%d examples", len(cfgs))
	}
	before, after := cfgs[0], cfgs[1]
	if !setup.Updatable(before, after) {
		t.Fatal("the timeout change is not taken in place")
	}
	keys := func(cfg *config.Config) []string {
		o, err := setup.New(cfg, setup.Extra{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Policies.Close()
		var out []string
		for _, u := range o.Upstreams {
			out = append(out, u.Key)
		}
		return out
	}
	if a, b := keys(before), keys(after); strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("upstream keys %v → %v", a, b)
	}
}
