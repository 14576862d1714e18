package gateway_test

import (
	"os"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/config"
)

// Every YAML example of the README's "Resilience and traffic" section is a
// valid config (keys are strict, so a renamed key would fail here). Pieces
// without upstreams get one, and Consul ones an agent address; nothing
// connects: only ParseConfig runs.
func TestReadmeResilienceExamplesParse(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Resilience and traffic\n")
	end := strings.Index(text, "\n## Admin API\n")
	if start < 0 || end < start {
		t.Fatal("README has no Resilience and traffic section before Admin API")
	}
	section := text[start:end]
	n := 0
	for _, block := range strings.Split(section, "```yaml\n")[1:] {
		yaml := block[:strings.Index(block, "```")]
		if !strings.Contains(yaml, "upstreams:") {
			yaml += "upstreams: [{name: library, static: [\"127.0.0.1:50051\"]}]\n"
		}
		if strings.Contains(yaml, "consul: {service") {
			yaml += "consul: {address: \"127.0.0.1:8500\"}\n"
		}
		if strings.Contains(yaml, "ext_authz: true") && !strings.HasPrefix(yaml, "ext_authz:") && !strings.Contains(yaml, "\next_authz:") {
			yaml += "ext_authz: {http: {url: \"http://127.0.0.1:9000/check\"}}\n"
		}
		if _, err := config.Parse([]byte(yaml)); err != nil {
			t.Errorf("README example %d does not load: %v\n%s", n+1, err, yaml)
		}
		n++
	}
	if n < 7 {
		t.Fatalf("found %d YAML examples, want at least 7", n)
	}
}

// The configs the section's shell walkthroughs write with a heredoc
// (cat > file <<'YAML') load too, and served (on a real accounts backend)
// answer the walkthrough's curl with the JSON the README shows after it.
func TestReadmeResilienceHeredocConfigsParse(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Resilience and traffic\n")
	end := strings.Index(text, "\n## Security and limits\n")
	if start < 0 || end < start {
		t.Fatal("README has no Resilience and traffic section before Security and limits")
	}
	n := 0
	for _, block := range strings.Split(text[start:end], "<<'YAML'\n")[1:] {
		stop := strings.Index(block, "\nYAML\n")
		if stop < 0 {
			t.Fatalf("heredoc %d has no closing YAML line", n+1)
		}
		cfg, err := config.Parse([]byte(block[:stop+1]))
		if err != nil {
			t.Fatalf("README heredoc %d does not load: %v\n%s", n+1, err, block[:stop])
		}
		if len(cfg.Upstreams) == 0 || (cfg.Upstreams[0].Validate != nil && !*cfg.Upstreams[0].Validate) {
			t.Fatalf("README heredoc %d: validation should be on by default", n+1)
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
