package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway"
	upconn "github.com/refract-gateway/refract/gateway/upstream"
)

func TestProblems(t *testing.T) {
	m, err := NewMetrics(MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	ep := func(addr, state string, since time.Time, lastErr string) gateway.EndpointInfo {
		return gateway.EndpointInfo{Addr: addr, EndpointConn: upconn.EndpointConn{State: state, Since: since, LastError: lastErr, LastErrorAt: since}}
	}
	st := Stats{
		Upstreams: []UpstreamStats{
			{Name: "library", Source: "static(2)", Discovery: "ok", Connectivity: "READY", Endpoints: []gateway.EndpointInfo{
				ep("10.0.0.1:1", "READY", t0, ""), ep("10.0.0.2:1", "TRANSIENT_FAILURE", t0.Add(time.Minute), "dial tcp: connection refused")},
				Descriptors: DescriptorStats{State: "stale", FetchedAt: t0, LastError: "reflection: UNAVAILABLE", LastErrorAt: t0.Add(2 * time.Minute)}},
			{Name: "echo", Source: "static(1)", Discovery: "ok", Connectivity: "TRANSIENT_FAILURE", Endpoints: []gateway.EndpointInfo{
				ep("10.0.0.3:1", "TRANSIENT_FAILURE", t0.Add(3*time.Minute), "connection lost: EOF")}},
			{Name: "accounts", Source: "consul(accounts)", Discovery: "stale", Error: "consul: 500", Since: t0.Add(4 * time.Minute),
				Connectivity: "READY", Endpoints: []gateway.EndpointInfo{ep("10.0.0.4:1", "READY", t0, "")}},
			{Name: "quiet", Source: "consul(quiet)", Discovery: "ok", Since: t0, Connectivity: "IDLE", Endpoints: []gateway.EndpointInfo{}},
		},
		Breakers:   []gateway.BreakerInfo{{Name: `upstream "echo"`, State: "open"}, {Name: `upstream "library"`, State: "closed"}},
		BuildError: "router: conflicting routes",
	}
	now := t0.Add(10 * time.Minute)
	got := m.problems(now, &st)
	var lines []string
	for _, p := range got {
		at := "unknown"
		if !p.Since.IsZero() {
			at = p.Since.Sub(t0).String()
		}
		lines = append(lines, p.Severity+" "+p.Kind+" "+p.Subject+" @"+at)
	}
	want := []string{
		"critical no_endpoints quiet @0s",
		"critical upstream_down echo @3m0s",
		"critical breaker_open upstream \"echo\" @10m0s",
		"warning route_build routes @unknown", // no time known: first among warnings
		"warning endpoint_down library @1m0s",
		"warning descriptors library @2m0s",
		"warning discovery accounts @4m0s",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if msg := got[4].Message; msg != "1 of 2 endpoints down: 10.0.0.2:1 (dial tcp: connection refused)" {
		t.Errorf("endpoint_down reads %q", msg)
	}
	// A breaker still open keeps its first-seen time; once closed it is
	// forgotten, and opening again starts a new one.
	if p := m.problems(now.Add(time.Minute), &st); p[2].Since != now {
		t.Errorf("breaker since moved: %v", p[2].Since)
	}
	st.Breakers[0].State = "closed"
	m.problems(now, &st)
	st.Breakers[0].State = "open"
	if p := m.problems(now.Add(5*time.Minute), &st); p[2].Since != now.Add(5*time.Minute) {
		t.Errorf("a reopened breaker's since: %v", p[2].Since)
	}
}
