package gateway_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// seriesRE finds the refract series a query names.
var seriesRE = regexp.MustCompile(`\brefract_[a-z0-9_]+`)

// documentedSeries are the series of the metrics table of
// docs/operating.md, with a histogram's _bucket, _sum and _count.
func documentedSeries(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, line := range strings.Split(docSection(t, "operating.md", "## Metrics", "## Reload"), "\n") {
		m := regexp.MustCompile("^\\| `(refract_[a-z0-9_]+)` \\| ([a-z]+) \\|").FindStringSubmatch(line)
		if m == nil {
			continue
		}
		out[m[1]] = true
		if m[2] == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[m[1]+s] = true
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("docs/operating.md's metrics table lists %d series", len(out))
	}
	return out
}

// The alert rules and the Grafana dashboard query only series the
// metrics table documents (a renamed series fails here, not in a
// dashboard that goes blank), and the dashboard is valid JSON whose every
// panel has a query.
func TestMonitoringKitUsesDocumentedSeries(t *testing.T) {
	documented := documentedSeries(t)
	rules, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "refract-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "refract-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type, Title string
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	var exprs []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	used := map[string]bool{}
	for _, text := range append(exprs, string(rules)) {
		for _, s := range seriesRE.FindAllString(text, -1) {
			used[s] = true
			if !documented[s] {
				t.Errorf("the monitoring kit queries %s, which docs/operating.md does not list", s)
			}
		}
	}
	// The alerts the kit promises.
	for _, alert := range []string{"RefractUpstreamWithoutDescriptors", "RefractDescriptorFetchFailing", "RefractBreakerOpen",
		"RefractHighErrorRate", "RefractConfigReloadFailed", "RefractSchemaMethodsRemoved"} {
		if !strings.Contains(string(rules), "alert: "+alert+"\n") {
			t.Errorf("the alert rules lack %s", alert)
		}
	}
	if len(used) < 15 {
		t.Fatalf("the kit queries %d series", len(used))
	}
}
