package gateway_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// docPage returns the text of README.md ("README.md") or of a page under
// docs/ ("policies.md").
func docPage(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "docs", name)
	if name == "README.md" {
		path = filepath.Join("..", name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// docSection returns the part of a page from the heading line from to the
// heading line to (exclusive; "" for the end of the page).
func docSection(t *testing.T, page, from, to string) string {
	t.Helper()
	text := "\n" + docPage(t, page)
	start := strings.Index(text, "\n"+from+"\n")
	if start < 0 {
		t.Fatalf("%s has no heading %q", page, from)
	}
	if to == "" {
		return text[start:]
	}
	end := strings.Index(text[start:], "\n"+to+"\n")
	if end < 0 {
		t.Fatalf("%s has no heading %q after %q", page, to, from)
	}
	return text[start : start+end]
}

// envSecretRE finds a secret an example reads from the environment.
var envSecretRE = regexp.MustCompile(`\{env: ([A-Z_][A-Z0-9_]*)\}`)

// heredocRE matches a shell walkthrough's config file written (>) or
// extended (>>) with a heredoc: cat > /tmp/refract.yaml <<'YAML' … YAML.
var heredocRE = regexp.MustCompile(`cat (>>?) ?(\S+) <<'YAML'\n((?s:.*?)\n)YAML\n`)

// yamlBlocks returns the ```yaml fences of a text and the config files its
// shell walkthroughs write with heredocs, each as it stands after every
// heredoc (an appended one gives the whole file after the append).
func yamlBlocks(text string) (fences, heredocs []string) {
	for _, block := range strings.Split(text, "```yaml\n")[1:] {
		if end := strings.Index(block, "```"); end >= 0 {
			fences = append(fences, block[:end])
		}
	}
	files := map[string]string{}
	matches := heredocRE.FindAllStringSubmatch(text, -1)
	if n := strings.Count(text, "<<'YAML'\n"); n != len(matches) {
		// Left out rather than misread: the caller's count check fails.
		return fences, nil
	}
	for _, m := range matches {
		if m[1] == ">" {
			files[m[2]] = ""
		}
		files[m[2]] += m[3]
		heredocs = append(heredocs, files[m[2]])
	}
	return fences, heredocs
}

// completeExample makes a config example that shows one part of the file
// loadable on its own: it adds an upstream when the example has none, and
// the top-level Consul agent, external authorizer or Redis server that a
// piece refers to without declaring; the secrets examples read from the
// environment or a file are provided by the caller. Nothing it adds changes
// what the example sets.
func completeExample(yaml, secretFile string) string {
	yaml = strings.ReplaceAll(yaml, "/run/secrets/mobile-key", secretFile)
	top := func(key string) bool { return strings.HasPrefix(yaml, key+":") || strings.Contains(yaml, "\n"+key+":") }
	if !top("upstreams") {
		yaml += "upstreams: [{name: library, static: [\"127.0.0.1:50051\"]}]\n"
	}
	if strings.Contains(yaml, "consul: {service") && !top("consul") {
		yaml += "consul: {address: \"127.0.0.1:8500\"}\n"
	}
	if strings.Contains(yaml, "ext_authz: true") && !top("ext_authz") {
		yaml += "ext_authz: {http: {url: \"http://127.0.0.1:9000/check\"}}\n"
	}
	if strings.Contains(yaml, "shared: true") && !top("redis") {
		yaml += "redis: {addr: \"127.0.0.1:6379\"}\n"
	}
	return yaml
}

// Every config example of the README and of every page under docs/ loads:
// each ```yaml block and each heredoc config, completed as completeExample
// says. Keys are strict, so a renamed or removed key fails here, on
// whichever page shows it; a page added to docs/ is covered without a
// change to this test. Nothing connects: only config.Parse runs.
func TestDocsConfigExamplesLoad(t *testing.T) {
	t.Setenv("MOBILE_API_KEY", "mobile-key-from-env")
	t.Setenv("REDIS_PASSWORD", "redis-password")
	t.Setenv("REFRACT_ADMIN_TOKEN", "admin-token-from-env")
	secret := filepath.Join(t.TempDir(), "mobile-key")
	if err := os.WriteFile(secret, []byte("mobile-key-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(pages)
	names := []string{"README.md"}
	for _, p := range pages {
		names = append(names, filepath.Base(p))
	}
	// The secrets examples read from the environment ({env: NAME}) are set.
	for _, name := range names {
		for _, m := range envSecretRE.FindAllStringSubmatch(docPage(t, name), -1) {
			if _, set := os.LookupEnv(m[1]); !set {
				t.Setenv(m[1], "value-from-env-"+m[1])
			}
		}
	}
	total := 0
	for _, name := range names {
		text := docPage(t, name)
		fences, heredocs := yamlBlocks(text)
		if n := strings.Count(text, "<<'YAML'\n"); n != len(heredocs) {
			t.Errorf("%s: %d heredoc configs, of which %d are written as cat > FILE <<'YAML' … YAML", name, n, len(heredocs))
		}
		for i, y := range fences {
			if _, err := config.Parse([]byte(completeExample(y, secret))); err != nil {
				t.Errorf("%s: yaml block %d does not load: %v\n%s", name, i+1, err, y)
			}
		}
		for i, y := range heredocs {
			// A heredoc is a whole file a walkthrough serves: as written.
			if _, err := config.Parse([]byte(y)); err != nil {
				t.Errorf("%s: heredoc config %d does not load: %v\n%s", name, i+1, err, y)
			}
		}
		total += len(fences) + len(heredocs)
	}
	if len(names) < 10 || total < 25 {
		t.Fatalf("found %d config examples on %d pages; the docs have more", total, len(names))
	}
}
