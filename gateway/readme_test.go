package gateway_test

import (
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/config"
)

// Every YAML example of docs/resilience.md is a valid config (keys are
// strict, so a renamed key would fail here), completed as completeExample
// says; nothing connects: only config.Parse runs.
func TestReadmeResilienceExamplesParse(t *testing.T) {
	fences, _ := yamlBlocks(docPage(t, "resilience.md"))
	for n, yaml := range fences {
		if _, err := config.Parse([]byte(completeExample(yaml, ""))); err != nil {
			t.Errorf("docs/resilience.md example %d does not load: %v\n%s", n+1, err, yaml)
		}
	}
	// Timeouts, breaker, retries, fallback, splits.
	if len(fences) < 5 {
		t.Fatalf("found %d YAML examples, want at least 5", len(fences))
	}
}

// The config the Edge validation walkthrough of docs/policies.md writes
// with a heredoc (cat > file <<'YAML') loads, and served (on a real
// accounts backend) answers the walkthrough's curl with the JSON the page
// shows after it.
func TestReadmeResilienceHeredocConfigsParse(t *testing.T) {
	n := 0
	for _, block := range strings.Split(docSection(t, "policies.md", "## Edge validation", ""), "<<'YAML'\n")[1:] {
		stop := strings.Index(block, "\nYAML\n")
		if stop < 0 {
			t.Fatalf("heredoc %d has no closing YAML line", n+1)
		}
		cfg, err := config.Parse([]byte(block[:stop+1]))
		if err != nil {
			t.Fatalf("docs heredoc %d does not load: %v\n%s", n+1, err, block[:stop])
		}
		if len(cfg.Upstreams) == 0 || (cfg.Upstreams[0].Validate != nil && !*cfg.Upstreams[0].Validate) {
			t.Fatalf("docs heredoc %d: validation should be on by default", n+1)
		}
		// The walkthrough's curl gives the JSON shown after it.
		rest := block[stop:]
		body := rest[strings.Index(rest, "-d '")+len("-d '"):]
		body = body[:strings.Index(body, "'")]
		want := rest[strings.Index(rest, "```json\n")+len("```json\n"):]
		want = want[:strings.Index(want, "```")]
		acc := startCounted(t, examples.StartAccounts)
		h := startGateway(t, strings.ReplaceAll(block[:stop+1], "127.0.0.1:50054", acc.Addr))
		r := h.do(t, "POST", "/v1/accounts", body).expect(t, 400)
		jsonEq(t, r.body, want)
		if n := acc.n("/accounts.v1.AccountsService/CreateAccount"); n != 0 {
			t.Fatalf("the invalid request reached the backend %d times", n)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("found %d heredoc configs, want 1 (Edge validation)", n)
	}
}
