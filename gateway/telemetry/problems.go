package telemetry

import (
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway"
)

// Problem is one thing wrong right now, for the first screen an operator
// sees: what, about which part, why, and since when.
type Problem struct {
	// Severity is "critical" (traffic fails: an upstream with no
	// endpoint up, a breaker open) or "warning" (degraded: some
	// endpoints down, stale discovery or descriptors, a refused reload).
	Severity string `json:"severity"`
	// Kind is upstream_down, endpoint_down, no_endpoints, discovery,
	// descriptors, breaker_open, route_build or config_reload.
	Kind string `json:"kind"`
	// Subject names the part: an upstream, an endpoint, a breaker.
	Subject string `json:"subject"`
	Message string `json:"message"`
	// Since is when it started, as far as the gateway knows (for a
	// breaker: when this process first saw it open); zero when unknown.
	Since time.Time `json:"since,omitzero"`
}

// problems lists what is wrong in st, worst and oldest first.
func (m *Metrics) problems(now time.Time, st *Stats) []Problem {
	out := []Problem{}
	add := func(sev, kind, subject, msg string, since time.Time) {
		out = append(out, Problem{Severity: sev, Kind: kind, Subject: subject, Message: msg, Since: since})
	}
	for _, u := range st.Upstreams {
		var down []gateway.EndpointInfo
		for _, e := range u.Endpoints {
			if e.State == "TRANSIENT_FAILURE" {
				down = append(down, e)
			}
		}
		switch {
		case u.Discovery == "ok" && len(u.Endpoints) == 0:
			add("critical", "no_endpoints", u.Name, u.Source+" reports no healthy endpoint", u.Since)
		case len(down) > 0 && len(down) == len(u.Endpoints):
			add("critical", "upstream_down", u.Name, fmt.Sprintf("every endpoint is down (%d of %d): %s", len(down), len(u.Endpoints), endpointReasons(down)),
				earliest(down))
		case len(down) > 0:
			add("warning", "endpoint_down", u.Name, fmt.Sprintf("%d of %d endpoints down: %s", len(down), len(u.Endpoints), endpointReasons(down)),
				earliest(down))
		case u.Connectivity == "TRANSIENT_FAILURE":
			add("critical", "upstream_down", u.Name, "the connection is in TRANSIENT_FAILURE (e.g. a TLS handshake or health check failing)", time.Time{})
		}
		if u.Error != "" {
			sev := "warning"
			if u.Discovery == "waiting" {
				sev = "critical"
			}
			add(sev, "discovery", u.Name, u.Source+" is failing ("+u.Discovery+"): "+u.Error, u.Since)
		}
		d := u.Descriptors
		if d.LastError != "" && d.LastErrorAt.After(d.FetchedAt) {
			sev, msg := "warning", "descriptor fetch failing (serving the schema fetched "+d.FetchedAt.UTC().Format(time.RFC3339)+"): "+d.LastError
			if d.FetchedAt.IsZero() {
				sev, msg = "critical", "descriptor fetch failing, no schema yet, no routes: "+d.LastError
			}
			add(sev, "descriptors", u.Name, msg, d.LastErrorAt)
		}
	}
	m.openMu.Lock()
	seen := map[string]bool{}
	for _, b := range st.Breakers {
		if b.State == "closed" {
			continue
		}
		seen[b.Name] = true
		since, ok := m.openSince[b.Name]
		if !ok {
			since = now
			m.openSince[b.Name] = now
		}
		sev := "critical"
		if b.State == "half-open" {
			sev = "warning"
		}
		add(sev, "breaker_open", b.Name, "circuit breaker "+b.State+": calls fail fast with UNAVAILABLE", since)
	}
	for name := range m.openSince {
		if !seen[name] {
			delete(m.openSince, name)
		}
	}
	m.openMu.Unlock()
	if st.BuildError != "" {
		add("warning", "route_build", "routes", "the last route build failed; the previous routes are served: "+st.BuildError, time.Time{})
	}
	SortProblems(out)
	return out
}

// SortProblems orders problems critical first, then oldest first.
func SortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Severity != ps[j].Severity {
			return ps[i].Severity == "critical"
		}
		return ps[i].Since.Before(ps[j].Since)
	})
}

// endpointReasons is "addr (last error)" for each endpoint, comma-joined.
func endpointReasons(eps []gateway.EndpointInfo) string {
	parts := make([]string, len(eps))
	for i, e := range eps {
		parts[i] = e.Addr
		if e.LastError != "" {
			parts[i] += " (" + e.LastError + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// earliest is the oldest Since among eps.
func earliest(eps []gateway.EndpointInfo) time.Time {
	var t time.Time
	for _, e := range eps {
		if t.IsZero() || e.Since.Before(t) {
			t = e.Since
		}
	}
	return t
}

// breakerRank orders breaker states from best to worst.
func breakerRank(state string) int {
	switch state {
	case "open":
		return 3
	case "half-open":
		return 2
	case "closed":
		return 1
	}
	return 0
}

// buildVersion is the main module's version as the Go toolchain
// recorded it, else its VCS revision, else "devel".
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
