package config

import (
	"strings"
	"testing"
)

func TestResilienceConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    policies: {split: {weights: {blue: 1}}}
`, `upstreams[0].policies.split.weights: "blue" is not one of the upstream's subsets`},
		{`
policies: {split: {weights: {a: 1}}}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, "policies.split: splits belong to an upstream"},
		{`
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    subsets: [{name: v2, tags: [v2]}]
`, "upstreams[0].subsets[0].tags: tags select Consul instances"},
		{`
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    policies: {retry: {attempts: 1}}
`, "upstreams[0].policies.retry: policy: retry attempts must be at least 2"},
		{`
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    policies: {retry: {budget: {ratio: 2}}}
`, "upstreams[0].policies.retry.budget: policy: retry budget ratio must be between 0 and 1"},
		{`
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    policies: {fallback: {status: 999}}
`, "upstreams[0].policies.fallback: policy: fallback status 999 is not an HTTP status"},
		{`
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    policies: {split: {weights: {a: 1}, sticky: "body"}}
    subsets: [{name: a, static: ["127.0.0.1:2"]}]
`, `split sticky "body" is not ip`},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v\nwant an error containing %q", err, tc.want)
		}
	}
}
